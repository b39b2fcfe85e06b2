//! Every case of Argo Rollouts' utils/replicaset/canary_test.go that exercises the replica
//! arithmetic (TestCalculateReplicaCountsForCanary, TestApproximateWeightedNewStableReplicaCounts,
//! TestCalculateReplicaCountsForNewDeployment, …ForCanaryTrafficRouting, …DynamicScale,
//! …StableRSdEdgeCases, TestTrafficWeightToReplicas, TestGetCurrentSetWeight,
//! TestGetReplicasForScaleDown, TestGetCanaryReplicasOrWeight,
//! TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay), transcribed as data: the inputs and the
//! expected counts are facts of Argo's behaviour. Origin: github.com/argoproj/argo-rollouts,
//! utils/replicaset/canary_test.go (master), Apache License 2.0.
//!
//! Split by Argo's case families: `basic_canary` (TestCalculateReplicaCountsForCanary without
//! traffic routing, …ForNewDeployment, …StableRSdEdgeCases), `traffic_routed` (the cases with
//! traffic routing, …TrafficRouting, …DynamicScale, the abort weight), and `weights` (the weight
//! and count helpers). Here: the fixtures they share, Argo's `newRollout` among them. The
//! fixtures must not assert anything themselves.

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

/// The fields a case of Argo's table leaves at Go's zero value.
const ZERO: Case = Case {
    name: "",
    replicas: 0,
    weight: 0,
    surge: I(0),
    unavailable: I(0),
    promote_full: false,
    stable: (0, 0),
    canary: (0, 0),
    expected: (0, 0),
    older: None,
    scs: None,
    routed: false,
    abort_delay: None,
    abort: false,
    min_pods: None,
};

/// Runs cases of TestCalculateReplicaCountsForCanary: the basic canary step without traffic
/// routing, the traffic-routed counts with it.
fn check(cases: impl IntoIterator<Item = Case>) {
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

mod basic_canary;
mod traffic_routed;
mod weights;
