//! Every case of Argo Rollouts' utils/replicaset/canary_test.go that exercises the replica
//! arithmetic (TestCalculateReplicaCountsForCanary, TestApproximateWeightedNewStableReplicaCounts,
//! TestCalculateReplicaCountsForNewDeployment, …ForCanaryTrafficRouting, …DynamicScale,
//! …StableRSdEdgeCases, TestTrafficWeightToReplicas, TestGetCurrentSetWeight,
//! TestGetReplicasForScaleDown, TestGetCanaryReplicasOrWeight,
//! TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay), transcribed as data: the inputs and the
//! expected counts are facts of Argo's behaviour. Origin: github.com/argoproj/argo-rollouts,
//! utils/replicaset/canary_test.go (master), Apache License 2.0.

use super::*;
use crate::rollout::model::{CanaryStep, CanaryStrategy, SetCanaryScale, TrafficRouting};

#[derive(Clone, Copy)]
enum Fence {
    I(i32),
    P(&'static str),
}
use Fence::{I, P};

impl Fence {
    fn spec(self) -> IntOrPercent {
        match self {
            I(n) => IntOrPercent::Int(n),
            P(p) => IntOrPercent::Text(p.to_string()),
        }
    }
}

/// Argo's `newRollout`: one step (setWeight, setCanaryScale), current pod hash "canary",
/// stable "stable".
fn rollout(
    replicas: i32,
    weight: i32,
    surge: Fence,
    unavailable: Fence,
    hashes: (&str, &str),
    scs: Option<SetCanaryScale>,
    routed: bool,
) -> Rollout {
    let mut ro = Rollout::default();
    ro.spec.replicas = Some(replicas);
    ro.spec.strategy.canary = Some(CanaryStrategy {
        max_surge: Some(surge.spec()),
        max_unavailable: Some(unavailable.spec()),
        steps: vec![CanaryStep {
            set_weight: Some(weight),
            set_canary_scale: scs,
            ..Default::default()
        }],
        traffic_routing: routed.then(TrafficRouting::default),
        ..Default::default()
    });
    ro.status.current_pod_hash = hashes.0.into();
    ro.status.stable_rs = hashes.1.into();
    ro
}

fn pods(name: &str, desired: i32, available: i32) -> Pods {
    Pods {
        name: name.into(),
        desired,
        available,
    }
}

fn scs(s: Option<(Option<i32>, Option<i32>, bool)>) -> Option<SetCanaryScale> {
    s.map(|(replicas, weight, match_traffic_weight)| SetCanaryScale {
        replicas,
        weight,
        match_traffic_weight,
    })
}

struct Case {
    name: &'static str,
    replicas: i32,
    weight: i32,
    surge: Fence,
    unavailable: Fence,
    promote_full: bool,
    /// (spec, available)
    stable: (i32, i32),
    canary: (i32, i32),
    /// (canary, stable)
    expected: (i32, i32),
    older: Option<(i32, i32)>,
    scs: Option<(Option<i32>, Option<i32>, bool)>,
    routed: bool,
    abort_delay: Option<i32>,
    abort: bool,
    min_pods: Option<i32>,
}

#[test]
fn calculate_replica_counts_for_canary() {
    let cases = [
        Case {
            name: "Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas",
            replicas: 10,
            weight: 100,
            surge: I(3),
            unavailable: I(0),
            promote_full: false,
            stable: (7, 8),
            canary: (6, 3),
            expected: (6, 7),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use max surge int to scale up canary",
            replicas: 10,
            weight: 20,
            surge: I(2),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use max surge percentage to scale up canary",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale down extra stable replicas",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (2, 2),
            expected: (2, 8),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not go past max surge",
            replicas: 10,
            weight: 30,
            surge: I(2),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use max unavailable int to scale down stableRS",
            replicas: 10,
            weight: 20,
            surge: I(0),
            unavailable: I(2),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use max surge percentage to scale down stableRS",
            replicas: 10,
            weight: 20,
            surge: I(0),
            unavailable: P("20%"),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not go past max unavailable",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(2),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use Max Surge and Max Unavailable",
            replicas: 10,
            weight: 50,
            surge: I(2),
            unavailable: I(1),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 9),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale canaryRS to zero on setWeight of 0%",
            replicas: 10,
            weight: 0,
            surge: I(1),
            unavailable: I(1),
            promote_full: false,
            stable: (10, 10),
            canary: (1, 1),
            expected: (0, 10),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale stable to zero on setWeight of 100%",
            replicas: 10,
            weight: 100,
            surge: I(1),
            unavailable: I(1),
            promote_full: false,
            stable: (1, 1),
            canary: (10, 10),
            expected: (10, 0),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not scale canaryRS down to zero on non-zero weight",
            replicas: 1,
            weight: 20,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not scale canaryRS down to zero on non-100 weight",
            replicas: 1,
            weight: 90,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale canaryRS to zero on <50 weight without surge",
            replicas: 1,
            weight: 49,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (0, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale stableRS down to zero on >=50 weight without surge",
            replicas: 1,
            weight: 51,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (0, 0),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale canaryRS to one on >=50 weight without surge and stable replicas",
            replicas: 1,
            weight: 51,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (0, 0),
            canary: (0, 0),
            expected: (1, 0),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale up Stable before canaryRS",
            replicas: 10,
            weight: 30,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 7),
            older: Some((3, 3)),
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale down canaryRS and stable",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(3),
            promote_full: false,
            stable: (8, 5),
            canary: (4, 4),
            expected: (3, 7),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Scale down stable and canary available",
            replicas: 10,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 2),
            canary: (10, 8),
            expected: (9, 2),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not scale down canaryRS or stable when older RS count >= scaleDownCount",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (8, 6),
            canary: (4, 2),
            expected: (4, 8),
            older: Some((3, 3)),
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not round past maxSurge with uneven setWeight divisor",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 9),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Do not round past maxSurge with uneven setWeight divisor (part 2)",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(1),
            promote_full: false,
            stable: (9, 9),
            canary: (0, 0),
            expected: (1, 9),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas",
            replicas: 10,
            weight: 10,
            surge: P("0%"),
            unavailable: P("0%"),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 9),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)",
            replicas: 1,
            weight: 100,
            surge: I(0),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (9, 1),
            older: None,
            scs: Some((Some(9), None, false)),
            routed: true,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
            replicas: 4,
            weight: 100,
            surge: I(0),
            unavailable: I(0),
            promote_full: false,
            stable: (4, 4),
            canary: (0, 0),
            expected: (8, 4),
            older: None,
            scs: Some((None, Some(200), false)),
            routed: true,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: Some((Some(9), Some(100), true)),
            routed: true,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: Some((Some(9), Some(100), false)),
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "honor maxSurge during scale up when stableRS unavailable",
            replicas: 4,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (4, 1),
            canary: (0, 0),
            expected: (1, 4),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "scale down to maxunavailable without exceeding maxSurge",
            replicas: 3,
            weight: 99,
            surge: I(0),
            unavailable: I(2),
            promote_full: false,
            stable: (3, 3),
            canary: (0, 0),
            expected: (0, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "scale down to maxunavailable without exceeding maxSurge (part 2)",
            replicas: 3,
            weight: 99,
            surge: I(0),
            unavailable: I(2),
            promote_full: false,
            stable: (1, 1),
            canary: (0, 0),
            expected: (2, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "honor maxUnavailable during scale down stableRS unavailable",
            replicas: 4,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (4, 1),
            canary: (1, 1),
            expected: (1, 3),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 1",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (0, 0),
            canary: (4, 4),
            expected: (4, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 2",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 0),
            canary: (4, 4),
            expected: (4, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 3",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (4, 4),
            expected: (3, 1),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "promote full does not consider weight",
            replicas: 4,
            weight: 1,
            surge: I(4),
            unavailable: I(4),
            promote_full: true,
            stable: (4, 4),
            canary: (0, 0),
            expected: (4, 0),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "promote full still honors maxSurge/maxUnavailable",
            replicas: 4,
            weight: 1,
            surge: I(3),
            unavailable: I(0),
            promote_full: true,
            stable: (4, 4),
            canary: (0, 0),
            expected: (3, 4),
            older: None,
            scs: None,
            routed: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        },
        Case {
            name: "aborted with abortScaleDownDelaySeconds:0 and setCanaryScale",
            replicas: 1,
            weight: 0,
            surge: I(0),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (1, 1),
            expected: (1, 1),
            older: None,
            scs: Some((Some(1), None, false)),
            routed: true,
            abort_delay: Some(0),
            abort: true,
            min_pods: None,
        },
        Case {
            name: "aborted with abortScaleDownDelaySeconds>0 and setCanaryScale",
            replicas: 1,
            weight: 0,
            surge: I(0),
            unavailable: I(0),
            promote_full: false,
            stable: (1, 1),
            canary: (1, 1),
            expected: (0, 1),
            older: None,
            scs: Some((Some(1), None, false)),
            routed: true,
            abort_delay: Some(30),
            abort: true,
            min_pods: None,
        },
        Case {
            name: "Honor MinPodsPerReplicaSet when using trafficRouting and starting canary",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(0),
            promote_full: false,
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            older: None,
            scs: None,
            routed: true,
            abort_delay: None,
            abort: false,
            min_pods: Some(2),
        },
        Case {
            name: "Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting",
            replicas: 1,
            weight: 100,
            surge: I(0),
            unavailable: I(0),
            promote_full: true,
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 1),
            older: None,
            scs: None,
            routed: true,
            abort_delay: None,
            abort: false,
            min_pods: Some(2),
        },
    ];
    for c in cases {
        let mut ro = rollout(
            c.replicas,
            c.weight,
            c.surge,
            c.unavailable,
            ("canary", "stable"),
            scs(c.scs),
            c.routed,
        );
        ro.status.promote_full = c.promote_full;
        ro.status.abort = c.abort;
        let canary = ro.spec.strategy.canary.as_mut().unwrap();
        canary.abort_scale_down_delay_seconds = c.abort_delay;
        canary.min_pods_per_replica_set = c.min_pods;
        let stable = pods("stable", c.stable.0, c.stable.1);
        let new = pods("canary", c.canary.0, c.canary.1);
        let older: Vec<Pods> = c
            .older
            .map(|(d, a)| pods("older", d, a))
            .into_iter()
            .collect();
        let got = if c.routed {
            traffic_routed_counts(&ro, None, None, None)
        } else {
            basic_canary_step(&ro, Some(&new), Some(&stable), &older)
        };
        assert_eq!(got, c.expected, "{}", c.name);
    }
}

#[test]
fn approximate_weighted_new_stable_replica_counts() {
    // (replicas, weight, maxWeight, maxSurge, expected canary, expected stable)
    let cases = [
        (0, 0, 100, 0, 0, 0),
        (0, 50, 100, 0, 0, 0),
        (0, 100, 100, 0, 0, 0),
        (0, 0, 100, 1, 0, 0),
        (0, 50, 100, 1, 0, 0),
        (0, 100, 100, 1, 0, 0),
        (1, 0, 100, 0, 0, 1),
        (1, 1, 100, 0, 0, 1),
        (1, 49, 100, 0, 0, 1),
        (1, 50, 100, 0, 1, 0),
        (1, 99, 100, 0, 1, 0),
        (1, 100, 100, 0, 1, 0),
        (1, 0, 100, 1, 0, 1),
        (1, 1, 100, 1, 1, 1),
        (1, 49, 100, 1, 1, 1),
        (1, 50, 100, 1, 1, 1),
        (1, 99, 100, 1, 1, 1),
        (1, 100, 100, 1, 1, 0),
        (2, 0, 100, 0, 0, 2),
        (2, 1, 100, 0, 1, 1),
        (2, 50, 100, 0, 1, 1),
        (2, 99, 100, 0, 1, 1),
        (2, 100, 100, 0, 2, 0),
        (2, 0, 100, 1, 0, 2),
        (2, 1, 100, 1, 1, 2),
        (2, 50, 100, 1, 1, 1),
        (2, 99, 100, 1, 2, 1),
        (2, 100, 100, 1, 2, 0),
        (3, 10, 100, 0, 1, 2),
        (3, 25, 100, 0, 1, 2),
        (3, 33, 100, 0, 1, 2),
        (3, 34, 100, 0, 1, 2),
        (3, 49, 100, 0, 1, 2),
        (3, 50, 100, 0, 2, 1),
        (3, 10, 100, 1, 1, 3),
        (3, 25, 100, 1, 1, 3),
        (3, 33, 100, 1, 1, 2),
        (3, 34, 100, 1, 1, 2),
        (3, 49, 100, 1, 2, 2),
        (3, 50, 100, 1, 2, 2),
        (10, 0, 100, 1, 0, 10),
        (10, 1, 100, 0, 1, 9),
        (10, 14, 100, 0, 1, 9),
        (10, 15, 100, 0, 2, 8),
        (10, 16, 100, 0, 2, 8),
        (10, 99, 100, 0, 9, 1),
        (10, 100, 100, 1, 10, 0),
        (10, 0, 100, 1, 0, 10),
        (10, 1, 100, 1, 1, 10),
        (10, 18, 100, 1, 2, 9),
        (10, 19, 100, 1, 2, 9),
        (10, 20, 100, 1, 2, 8),
        (10, 23, 100, 1, 2, 8),
        (10, 24, 100, 1, 3, 8),
        (10, 25, 100, 1, 3, 8),
        (10, 99, 100, 1, 10, 1),
        (10, 100, 100, 1, 10, 0),
    ];
    for (replicas, weight, max, surge, canary, stable) in cases {
        assert_eq!(
            weighted_split(replicas, weight, max, surge),
            (canary, stable),
            "replicas {replicas} weight {weight} surge {surge}"
        );
    }
}

#[test]
fn new_deployment_and_stable_edge_cases() {
    // TestCalculateReplicaCountsForNewDeployment: new and stable are the same ReplicaSet.
    let ro = rollout(10, 10, I(0), I(1), ("canary", "stable"), None, false);
    let same = pods("stable", 10, 0);
    assert_eq!(
        basic_canary_step(&ro, Some(&same), Some(&same), &[]),
        (10, 0)
    );
    // TestCalculateReplicaCountsForCanaryStableRSdEdgeCases: no stable hash at all.
    let ro = rollout(10, 10, I(0), I(1), ("", ""), None, false);
    let new = pods("stable", 9, 9);
    assert_eq!(basic_canary_step(&ro, Some(&new), None, &[]), (10, 0));
    assert_eq!(basic_canary_step(&ro, Some(&new), Some(&new), &[]), (10, 0));
}

#[test]
fn traffic_routing_keeps_the_stable_at_full_scale() {
    // TestCalculateReplicaCountsForCanaryTrafficRouting
    let ro = rollout(10, 10, I(0), I(1), ("canary", "stable"), None, true);
    assert_eq!(traffic_routed_counts(&ro, None, None, None), (1, 10));
}

#[test]
fn traffic_routing_with_dynamic_stable_scale() {
    // TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale: (name, replicas, weight of
    // the rollout's own step, abort, extra step weight, (canary, stable) traffic weights,
    // canary RS (spec = available), stable RS (spec, available), expected (canary, stable)).
    #[allow(clippy::type_complexity)]
    let cases: [(
        &str,
        i32,
        i32,
        bool,
        Option<i32>,
        (i32, i32),
        i32,
        (i32, i32),
        (i32, i32),
    ); 8] = [
        (
            "scale stable up to the next step on abort",
            10,
            20,
            true,
            Some(60),
            (60, 40),
            6,
            (4, 4),
            (6, 8),
        ),
        (
            "fewer canaries than expected on abort",
            10,
            20,
            true,
            Some(60),
            (60, 40),
            1,
            (4, 4),
            (6, 8),
        ),
        (
            "stable not yet available on abort",
            10,
            20,
            true,
            Some(60),
            (60, 40),
            2,
            (8, 4),
            (6, 8),
        ),
        (
            "no ReplicaSets given on abort",
            10,
            20,
            true,
            Some(60),
            (60, 40),
            0,
            (0, 0),
            (6, 10),
        ),
        (
            "scale down stable",
            10,
            10,
            false,
            None,
            (10, 90),
            0,
            (0, 0),
            (1, 9),
        ),
        (
            "desired canary above actual",
            10,
            20,
            false,
            None,
            (10, 90),
            0,
            (0, 0),
            (2, 9),
        ),
        (
            "canary kept while it has traffic on abort",
            10,
            20,
            true,
            None,
            (20, 80),
            0,
            (0, 0),
            (2, 10),
        ),
        (
            "canary reduced with its traffic on abort",
            10,
            20,
            true,
            None,
            (10, 90),
            0,
            (0, 0),
            (1, 10),
        ),
    ];
    for (name, replicas, weight, abort, step, weights, canary, stable, expected) in cases {
        let mut ro = rollout(
            replicas,
            weight,
            I(0),
            I(1),
            ("canary", "stable"),
            None,
            true,
        );
        let c = ro.spec.strategy.canary.as_mut().unwrap();
        c.dynamic_stable_scale = true;
        if let Some(w) = step {
            c.steps.push(CanaryStep {
                set_weight: Some(w),
                ..Default::default()
            });
        }
        ro.status.abort = abort;
        let stable = (stable.0 > 0).then(|| pods("stable", stable.0, stable.1));
        let canary = (canary > 0).then(|| pods("canary", canary, canary));
        assert_eq!(
            traffic_routed_counts(&ro, canary.as_ref(), stable.as_ref(), Some(weights)),
            expected,
            "{name}"
        );
    }
}

#[test]
fn traffic_weight_to_replicas() {
    assert_eq!(pods_for_weight(10, 0, 100), 0);
    assert_eq!(pods_for_weight(10, 20, 100), 2);
    assert_eq!(pods_for_weight(10, 25, 100), 3);
    assert_eq!(pods_for_weight(10, 33, 100), 4);
    assert_eq!(pods_for_weight(10, 99, 100), 10);
    assert_eq!(pods_for_weight(10, 100, 100), 10);
    assert_eq!(pods_for_weight(23, 100_000_000, 100_000_000), 23);
}

#[test]
fn current_set_weight_follows_the_step_and_the_abort() {
    let mut ro = rollout(10, 10, I(0), I(1), ("", ""), None, false);
    ro.status.current_step_index = Some(1);
    assert_eq!(current_set_weight(&ro), 100);
    ro.status.current_step_index = Some(0);
    assert_eq!(current_set_weight(&ro), 10);
    ro.status.abort = true;
    assert_eq!(current_set_weight(&ro), 0);
}

#[test]
fn replicas_counted_for_scale_down() {
    assert_eq!(counted_for_scale_down(None, false), 0);
    assert_eq!(counted_for_scale_down(Some(&pods("x", 3, 5)), false), 3);
    assert_eq!(counted_for_scale_down(Some(&pods("x", 3, 2)), true), 3);
    assert_eq!(counted_for_scale_down(Some(&pods("x", 3, 2)), false), 2);
}

#[test]
fn canary_replicas_or_weight() {
    let mut full = Rollout::default();
    full.status.promote_full = true;
    assert_eq!(desired_replicas_or_weight(&full, None, None), (None, 100));

    let routed = |scale: SetCanaryScale| {
        let mut ro = Rollout::default();
        ro.spec.strategy.canary = Some(CanaryStrategy {
            steps: vec![
                CanaryStep {
                    set_weight: Some(10),
                    ..Default::default()
                },
                CanaryStep {
                    set_canary_scale: Some(scale),
                    ..Default::default()
                },
            ],
            traffic_routing: Some(TrafficRouting::default()),
            ..Default::default()
        });
        ro.status.current_step_index = Some(1);
        ro.status.stable_rs = "stable-rs".into();
        ro
    };
    let by_weight = routed(SetCanaryScale {
        weight: Some(20),
        ..Default::default()
    });
    assert_eq!(
        desired_replicas_or_weight(&by_weight, None, None),
        (None, 20)
    );
    let by_count = routed(SetCanaryScale {
        replicas: Some(5),
        ..Default::default()
    });
    assert_eq!(
        desired_replicas_or_weight(&by_count, None, None),
        (Some(5), 0)
    );

    let mut blue_green = Rollout::default();
    blue_green.spec.strategy.blue_green = Some(Default::default());
    blue_green.status.abort = true;
    assert_eq!(
        desired_replicas_or_weight(&blue_green, None, None),
        (None, 100)
    );
}

#[test]
fn abort_weight_with_and_without_a_scale_down_delay() {
    let aborted = |delay: Option<i32>| {
        let mut ro = rollout(10, 50, I(1), I(0), ("canary", "stable"), None, true);
        let c = ro.spec.strategy.canary.as_mut().unwrap();
        c.steps = vec![
            CanaryStep {
                set_weight: Some(10),
                ..Default::default()
            },
            CanaryStep {
                set_weight: Some(50),
                ..Default::default()
            },
        ];
        c.dynamic_stable_scale = true;
        c.abort_scale_down_delay_seconds = delay;
        ro.status.abort = true;
        ro
    };
    for (delay, stable_available, expected) in [
        (None, 9, 10),
        (Some(30), 5, 10),
        (Some(30), 9, 0),
        (Some(0), 9, 10),
    ] {
        let ro = aborted(delay);
        let canary = pods("canary", 5, 5);
        let stable = pods("stable", stable_available, stable_available);
        assert_eq!(
            desired_canary_weight(&ro, Some(&canary), Some(&stable)),
            expected,
            "delay {delay:?}, stable available {stable_available}"
        );
    }
    let ro = aborted(Some(30));
    let canary = pods("canary", 5, 5);
    let stable = pods("stable", 9, 9);
    assert_eq!(
        traffic_routed_counts(&ro, Some(&canary), Some(&stable), Some((10, 90))).1,
        10
    );
}

#[test]
fn fenceposts_default_to_25_percent_and_never_both_zero() {
    let mut ro = Rollout::default();
    ro.spec.replicas = Some(10);
    ro.spec.strategy.canary = Some(CanaryStrategy::default());
    assert_eq!(fenceposts(&ro), (3, 2));
    ro.spec.replicas = Some(1);
    assert_eq!(fenceposts(&ro), (1, 0));
    let c = ro.spec.strategy.canary.as_mut().unwrap();
    c.max_surge = Some(IntOrPercent::Text("0%".into()));
    assert_eq!(fenceposts(&ro), (0, 1));
}

#[test]
fn settled_counts_for_the_story_and_awkward_weights() {
    // 10 % of 12 replicas with the default 25 % surge: 1 canary, 11 stable (1 of 12 = 8.3 %;
    // 2 of 13 = 15.4 %; 1 of 13 = 7.7 %).
    let mut ro = rollout(
        12,
        10,
        P("25%"),
        P("25%"),
        ("canary", "stable"),
        None,
        false,
    );
    let new = pods("canary", 0, 0);
    let stable = pods("stable", 12, 12);
    assert_eq!(basic_canary_settled(&ro, &new, Some(&stable)), (1, 11));
    // 20 % of 5: 1 canary, 4 stable.
    ro.spec.replicas = Some(5);
    ro.spec.strategy.canary.as_mut().unwrap().steps[0].set_weight = Some(20);
    let stable = pods("stable", 5, 5);
    assert_eq!(basic_canary_settled(&ro, &new, Some(&stable)), (1, 4));
    // 20 % of 1: one canary beside the one stable pod (surge 1): half the pods.
    ro.spec.replicas = Some(1);
    let stable = pods("stable", 1, 1);
    assert_eq!(basic_canary_settled(&ro, &new, Some(&stable)), (1, 1));
}
