//! Cases of Argo Rollouts' utils/replicaset/canary_test.go, as data: each runs against the
//! model's own arithmetic in [`super`].

use super::*;
use IntOrPercent::{Int, Percent as Pct};

/// One row of TestCalculateReplicaCountsForCanary: a one-step canary (setWeight, with an
/// optional setCanaryScale) whose current pod hash is "canary" and stable "stable".
struct Case {
    name: &'static str,
    replicas: i32,
    weight: i32,
    surge: IntOrPercent,
    unavailable: IntOrPercent,
    promote_full: bool,
    /// (spec, available)
    stable: (i32, i32),
    canary: (i32, i32),
    /// (canary, stable)
    expect: (i32, i32),
    older: Option<(i32, i32)>,
    /// (replicas, weight, matchTrafficWeight)
    scs: Option<(Option<i32>, Option<i32>, bool)>,
    traffic_routing: bool,
    abort_delay: Option<i32>,
    abort: bool,
    min_pods: Option<i32>,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            name: "",
            replicas: 0,
            weight: 0,
            surge: Int(0),
            unavailable: Int(0),
            promote_full: false,
            stable: (0, 0),
            canary: (0, 0),
            expect: (0, 0),
            older: None,
            scs: None,
            traffic_routing: false,
            abort_delay: None,
            abort: false,
            min_pods: None,
        }
    }
}

/// newRollout in canary_test.go.
fn rollout(replicas: i32, weight: i32, surge: IntOrPercent, unavailable: IntOrPercent) -> Canary {
    Canary {
        replicas,
        max_surge: surge,
        max_unavailable: unavailable,
        steps: vec![Step {
            set_weight: Some(weight),
            set_canary_scale: None,
        }],
        stable_rs: "stable".into(),
        current_pod_hash: "canary".into(),
        ..Canary::default()
    }
}

/// newRS in canary_test.go.
fn rs(name: &str, replicas: i32, available: i32) -> Rs {
    Rs {
        name: name.into(),
        replicas,
        available,
        status_replicas: 0,
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    vec![
        Case { name: "Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas", replicas: 10, weight: 100, surge: Int(3), unavailable: Int(0), stable: (7, 8), canary: (6, 3), expect: (6, 7), ..Case::default() },
        Case { name: "Use max surge int to scale up canary", replicas: 10, weight: 20, surge: Int(2), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), ..Case::default() },
        Case { name: "Use max surge percentage to scale up canary", replicas: 10, weight: 20, surge: Pct(20), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), ..Case::default() },
        Case { name: "Scale down extra stable replicas", replicas: 10, weight: 20, surge: Pct(20), unavailable: Int(0), stable: (10, 10), canary: (2, 2), expect: (2, 8), ..Case::default() },
        Case { name: "Do not go past max surge", replicas: 10, weight: 30, surge: Int(2), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), ..Case::default() },
        Case { name: "Use max unavailable int to scale down stableRS", replicas: 10, weight: 20, surge: Int(0), unavailable: Int(2), stable: (10, 10), canary: (0, 0), expect: (0, 8), ..Case::default() },
        Case { name: "Use max surge percentage to scale down stableRS", replicas: 10, weight: 20, surge: Int(0), unavailable: Pct(20), stable: (10, 10), canary: (0, 0), expect: (0, 8), ..Case::default() },
        Case { name: "Do not go past max unavailable", replicas: 10, weight: 30, surge: Int(0), unavailable: Int(2), stable: (10, 10), canary: (0, 0), expect: (0, 8), ..Case::default() },
        Case { name: "Use Max Surge and Max Unavailable", replicas: 10, weight: 50, surge: Int(2), unavailable: Int(1), stable: (10, 10), canary: (0, 0), expect: (2, 9), ..Case::default() },
        Case { name: "Scale canaryRS to zero on setWeight of 0%", replicas: 10, weight: 0, surge: Int(1), unavailable: Int(1), stable: (10, 10), canary: (1, 1), expect: (0, 10), ..Case::default() },
        Case { name: "Scale stable to zero on setWeight of 100%", replicas: 10, weight: 100, surge: Int(1), unavailable: Int(1), stable: (1, 1), canary: (10, 10), expect: (10, 0), ..Case::default() },
        Case { name: "Do not scale canaryRS down to zero on non-zero weight", replicas: 1, weight: 20, surge: Int(1), unavailable: Int(0), stable: (1, 1), canary: (0, 0), expect: (1, 1), ..Case::default() },
        Case { name: "Do not scale canaryRS down to zero on non-100 weight", replicas: 1, weight: 90, surge: Int(1), unavailable: Int(0), stable: (1, 1), canary: (0, 0), expect: (1, 1), ..Case::default() },
        Case { name: "Scale canaryRS to zero on <50 weight without surge", replicas: 1, weight: 49, surge: Int(0), unavailable: Int(1), stable: (1, 1), canary: (0, 0), expect: (0, 1), ..Case::default() },
        Case { name: "Scale stableRS down to zero on >=50 weight without surge", replicas: 1, weight: 51, surge: Int(0), unavailable: Int(1), stable: (1, 1), canary: (0, 0), expect: (0, 0), ..Case::default() },
        Case { name: "Scale canaryRS to one on >=50 weight without surge and stable replicas", replicas: 1, weight: 51, surge: Int(0), unavailable: Int(1), stable: (0, 0), canary: (0, 0), expect: (1, 0), ..Case::default() },
        Case { name: "Scale up Stable before canaryRS", replicas: 10, weight: 30, surge: Int(1), unavailable: Int(0), stable: (1, 1), canary: (0, 0), expect: (1, 7), older: Some((3, 3)), ..Case::default() },
        Case { name: "Scale down canaryRS and stable", replicas: 10, weight: 30, surge: Int(0), unavailable: Int(3), stable: (8, 5), canary: (4, 4), expect: (3, 7), ..Case::default() },
        Case { name: "Scale down stable and canary available", replicas: 10, weight: 100, surge: Int(1), unavailable: Int(0), stable: (10, 2), canary: (10, 8), expect: (9, 2), ..Case::default() },
        Case { name: "Do not scale down canaryRS or stable when older RS count >= scaleDownCount", replicas: 10, weight: 30, surge: Int(0), unavailable: Int(1), stable: (8, 6), canary: (4, 2), expect: (4, 8), older: Some((3, 3)), ..Case::default() },
        Case { name: "Do not round past maxSurge with uneven setWeight divisor", replicas: 10, weight: 5, surge: Int(0), unavailable: Int(1), stable: (10, 10), canary: (0, 0), expect: (0, 9), ..Case::default() },
        Case { name: "Do not round past maxSurge with uneven setWeight divisor (part 2)", replicas: 10, weight: 5, surge: Int(0), unavailable: Int(1), stable: (9, 9), canary: (0, 0), expect: (1, 9), ..Case::default() },
        Case { name: "Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas", replicas: 10, weight: 10, surge: Pct(0), unavailable: Pct(0), stable: (10, 10), canary: (0, 0), expect: (0, 9), ..Case::default() },
        Case { name: "For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)", replicas: 1, weight: 100, surge: Int(0), unavailable: Int(0), stable: (1, 1), canary: (0, 0), expect: (9, 1), scs: Some((Some(9), None, false)), traffic_routing: true, ..Case::default() },
        Case { name: "Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)", replicas: 4, weight: 100, surge: Int(0), unavailable: Int(0), stable: (4, 4), canary: (0, 0), expect: (8, 4), scs: Some((None, Some(200), false)), traffic_routing: true, ..Case::default() },
        Case { name: "Ignore setCanaryScale replicas/weight when matchTrafficWeight is true", replicas: 10, weight: 20, surge: Pct(20), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), scs: Some((Some(9), Some(100), true)), traffic_routing: true, ..Case::default() },
        Case { name: "Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas", replicas: 10, weight: 20, surge: Pct(20), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), scs: Some((Some(9), Some(100), false)), ..Case::default() },
        Case { name: "honor maxSurge during scale up when stableRS unavailable", replicas: 4, weight: 100, surge: Int(1), unavailable: Int(0), stable: (4, 1), canary: (0, 0), expect: (1, 4), ..Case::default() },
        Case { name: "scale down to maxunavailable without exceeding maxSurge", replicas: 3, weight: 99, surge: Int(0), unavailable: Int(2), stable: (3, 3), canary: (0, 0), expect: (0, 1), ..Case::default() },
        Case { name: "scale down to maxunavailable without exceeding maxSurge (part 2)", replicas: 3, weight: 99, surge: Int(0), unavailable: Int(2), stable: (1, 1), canary: (0, 0), expect: (2, 1), ..Case::default() },
        Case { name: "honor maxUnavailable during scale down stableRS unavailable", replicas: 4, weight: 100, surge: Int(1), unavailable: Int(0), stable: (4, 1), canary: (1, 1), expect: (1, 3), ..Case::default() },
        Case { name: "honor maxUnavailable when aborting or reducing weight part 1", replicas: 4, weight: 0, surge: Int(1), unavailable: Int(0), stable: (0, 0), canary: (4, 4), expect: (4, 1), ..Case::default() },
        Case { name: "honor maxUnavailable when aborting or reducing weight part 2", replicas: 4, weight: 0, surge: Int(1), unavailable: Int(0), stable: (1, 0), canary: (4, 4), expect: (4, 1), ..Case::default() },
        Case { name: "honor maxUnavailable when aborting or reducing weight part 3", replicas: 4, weight: 0, surge: Int(1), unavailable: Int(0), stable: (1, 1), canary: (4, 4), expect: (3, 1), ..Case::default() },
        Case { name: "promote full does not consider weight", replicas: 4, weight: 1, surge: Int(4), unavailable: Int(4), promote_full: true, stable: (4, 4), canary: (0, 0), expect: (4, 0), ..Case::default() },
        Case { name: "promote full still honors maxSurge/maxUnavailable", replicas: 4, weight: 1, surge: Int(3), unavailable: Int(0), promote_full: true, stable: (4, 4), canary: (0, 0), expect: (3, 4), ..Case::default() },
        Case { name: "aborted with abortScaleDownDelaySeconds:0 and setCanaryScale", replicas: 1, weight: 0, surge: Int(0), unavailable: Int(0), stable: (1, 1), canary: (1, 1), expect: (1, 1), scs: Some((Some(1), None, false)), traffic_routing: true, abort_delay: Some(0), abort: true, ..Case::default() },
        Case { name: "aborted with abortScaleDownDelaySeconds>0 and setCanaryScale", replicas: 1, weight: 0, surge: Int(0), unavailable: Int(0), stable: (1, 1), canary: (1, 1), expect: (0, 1), scs: Some((Some(1), None, false)), traffic_routing: true, abort_delay: Some(30), abort: true, ..Case::default() },
        Case { name: "Honor MinPodsPerReplicaSet when using trafficRouting and starting canary", replicas: 10, weight: 5, surge: Int(0), unavailable: Int(0), stable: (10, 10), canary: (0, 0), expect: (2, 10), traffic_routing: true, min_pods: Some(2), ..Case::default() },
        Case { name: "Cap MinPodsPerReplicaSet when it exceeds rollout replicas with trafficRouting", replicas: 1, weight: 100, surge: Int(0), unavailable: Int(0), promote_full: true, stable: (1, 1), canary: (0, 0), expect: (1, 1), traffic_routing: true, min_pods: Some(2), ..Case::default() },
    ]
}

#[test]
fn calculate_replica_counts_for_canary() {
    for case in cases() {
        let mut ro = rollout(case.replicas, case.weight, case.surge, case.unavailable);
        ro.steps[0].set_canary_scale = case.scs.map(|(replicas, weight, m)| SetCanaryScale {
            replicas,
            weight,
            match_traffic_weight: m,
        });
        ro.traffic_routing = case.traffic_routing;
        ro.promote_full = case.promote_full;
        ro.abort = case.abort;
        ro.abort_scale_down_delay_seconds = case.abort_delay;
        ro.min_pods_per_replica_set = case.min_pods;
        let stable = rs("stable", case.stable.0, case.stable.1);
        let canary = rs("canary", case.canary.0, case.canary.1);
        let older: Vec<Rs> = case
            .older
            .map(|(s, a)| rs("older", s, a))
            .into_iter()
            .collect();
        let got = if case.traffic_routing {
            ro.traffic_routed_counts(None, None, None)
        } else {
            ro.basic_counts(Some(&canary), Some(&stable), &older)
        };
        assert_eq!(got, case.expect, "{} (canary, stable)", case.name);
    }
}

#[test]
fn approximate_weighted_new_stable_replica_counts() {
    #[rustfmt::skip]
    let table: &[(i32, i32, i32, i32, i32, i32)] = &[
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
    for &(replicas, weight, max_weight, surge, canary, stable) in table {
        assert_eq!(
            approximate_weighted_counts(replicas, weight, max_weight, surge),
            (canary, stable),
            "replicas {replicas} weight {weight} surge {surge}"
        );
    }
}

#[test]
fn new_deployment_and_stable_edge_cases() {
    // TestCalculateReplicaCountsForNewDeployment: new and stable are the same ReplicaSet.
    let ro = rollout(10, 10, Int(0), Int(1));
    let same = rs("stable", 10, 0);
    assert_eq!(ro.basic_counts(Some(&same), Some(&same), &[]), (10, 0));
    // TestCalculateReplicaCountsForCanaryStableRSdEdgeCases.
    let mut ro = rollout(10, 10, Int(0), Int(1));
    ro.stable_rs.clear();
    ro.current_pod_hash.clear();
    let new = rs("stable", 9, 9);
    assert_eq!(ro.basic_counts(Some(&new), None, &[]), (10, 0));
    assert_eq!(ro.basic_counts(Some(&new), Some(&new), &[]), (10, 0));
    // TestCalculateReplicaCountsForCanaryTrafficRouting.
    let mut ro = rollout(10, 10, Int(0), Int(1));
    ro.traffic_routing = true;
    assert_eq!(ro.traffic_routed_counts(None, None, None), (1, 10));
}

#[test]
#[allow(clippy::type_complexity)]
fn traffic_routing_dynamic_scale() {
    // TestCalculateReplicaCountsForCanaryTrafficRoutingDynamicScale:
    // (name, replicas, setWeight of the first step, abort, extra setWeight step,
    //  (canary weight, stable weight), canary (spec=available), stable (spec, available),
    //  expected (canary, stable)).
    #[rustfmt::skip]
    let table: &[(&str, i32, i32, bool, Option<i32>, (i32, i32), i32, (i32, i32), (i32, i32))] = &[
        ("scale stable up by the next canary step down on abort", 10, 20, true, Some(60), (60, 40), 6, (4, 4), (6, 8)),
        ("scale stable up by available canaries on abort", 10, 20, true, Some(60), (60, 40), 1, (4, 4), (6, 8)),
        ("scale stable up by available stable on abort", 10, 20, true, Some(60), (60, 40), 2, (8, 4), (6, 8)),
        ("no ReplicaSets given on abort", 10, 20, true, Some(60), (60, 40), 0, (0, 0), (6, 10)),
        ("scale down stable", 10, 10, false, None, (10, 90), 0, (0, 0), (1, 9)),
        ("max of desired canary and actual", 10, 20, false, None, (10, 90), 0, (0, 0), (2, 9)),
        ("canary kept while traffic still reaches it on abort", 10, 20, true, None, (20, 80), 0, (0, 0), (2, 10)),
        ("canary reduced with its traffic on abort", 10, 20, true, None, (10, 90), 0, (0, 0), (1, 10)),
    ];
    for &(name, replicas, max, abort, step, (cw, sw), canary, stable, expect) in table {
        let mut ro = rollout(replicas, max, Int(0), Int(1));
        ro.traffic_routing = true;
        ro.dynamic_stable_scale = true;
        ro.abort = abort;
        if let Some(w) = step {
            ro.steps.push(Step {
                set_weight: Some(w),
                set_canary_scale: None,
            });
        }
        let stable = (stable.0 > 0).then(|| rs("stable", stable.0, stable.1));
        let canary = (canary > 0).then(|| rs("canary", canary, canary));
        let weights = Weights {
            canary: cw,
            stable: sw,
        };
        assert_eq!(
            ro.traffic_routed_counts(canary.as_ref(), stable.as_ref(), Some(weights)),
            expect,
            "{name}"
        );
    }
}

#[test]
fn traffic_weight_to_replicas() {
    assert_eq!(weight_to_replicas(10, 0, 100), 0);
    assert_eq!(weight_to_replicas(10, 20, 100), 2);
    assert_eq!(weight_to_replicas(10, 25, 100), 3);
    assert_eq!(weight_to_replicas(10, 33, 100), 4);
    assert_eq!(weight_to_replicas(10, 99, 100), 10);
    assert_eq!(weight_to_replicas(10, 100, 100), 10);
    assert_eq!(weight_to_replicas(23, 100_000_000, 100_000_000), 23);
}

#[test]
fn current_set_weight() {
    let mut ro = rollout(10, 10, Int(0), Int(1));
    ro.stable_rs.clear();
    ro.current_pod_hash.clear();
    ro.current_step_index = Some(1);
    assert_eq!(ro.current_set_weight(), 100);
    ro.current_step_index = Some(0);
    assert_eq!(ro.current_set_weight(), 10);
    ro.abort = true;
    assert_eq!(ro.current_set_weight(), 0);
}

#[test]
fn at_desired_replica_counts_for_canary() {
    let weights = |c| {
        Some(Weights {
            canary: c,
            stable: 100 - c,
        })
    };
    let sized = |name: &str, spec, available, status| Rs {
        status_replicas: status,
        ..rs(name, spec, available)
    };
    let scs = Some(SetCanaryScale {
        replicas: Some(2),
        weight: Some(2),
        match_traffic_weight: false,
    });
    let mut ro = rollout(4, 50, Int(1), Int(1));
    ro.current_pod_hash = "current".into();
    ro.steps[0].set_canary_scale = scs.clone();
    let stable = sized("stableRS", 2, 2, 2);
    assert!(ro.at_desired_counts(
        Some(&sized("newRS", 2, 2, 2)),
        Some(&stable),
        &[],
        weights(50)
    ));
    assert!(!ro.at_desired_counts(
        Some(&sized("newRS", 2, 1, 2)),
        Some(&stable),
        &[],
        weights(50)
    ));
    // The stable's status lags behind its spec.
    let lagging = sized("stableRS", 2, 2, 3);
    assert!(!ro.at_desired_counts(
        Some(&sized("newRS", 2, 2, 2)),
        Some(&lagging),
        &[],
        weights(50)
    ));
    let mut ro = rollout(4, 75, Int(1), Int(1));
    ro.current_pod_hash = "current".into();
    ro.steps[0].set_canary_scale = Some(SetCanaryScale::default());
    let new = sized("newRS", 3, 3, 3);
    assert!(!ro.at_desired_counts(
        Some(&new),
        Some(&sized("stableRS", 2, 2, 2)),
        &[],
        weights(75)
    ));
    // Only the stable's count matters, not its availability.
    let new = sized("newRS", 3, 3, 1);
    assert!(ro.at_desired_counts(
        Some(&new),
        Some(&sized("stableRS", 1, 0, 1)),
        &[],
        weights(75)
    ));
}

#[test]
fn replicas_for_scale_down_cases() {
    assert_eq!(replicas_for_scale_down(None, false), 0);
    assert_eq!(replicas_for_scale_down(Some(&rs("a", 3, 5)), false), 3);
    assert_eq!(replicas_for_scale_down(Some(&rs("a", 3, 2)), true), 3);
    assert_eq!(replicas_for_scale_down(Some(&rs("a", 3, 2)), false), 2);
}

#[test]
fn desired_canary_weight_on_abort_with_scale_down_delay() {
    // TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay.
    let aborted = |delay: Option<i32>| {
        let mut ro = rollout(10, 50, Int(1), Int(0));
        ro.traffic_routing = true;
        ro.steps = vec![
            Step {
                set_weight: Some(10),
                set_canary_scale: None,
            },
            Step {
                set_weight: Some(50),
                set_canary_scale: None,
            },
        ];
        ro.dynamic_stable_scale = true;
        ro.abort_scale_down_delay_seconds = delay;
        ro.abort = true;
        ro
    };
    let canary = rs("canary", 5, 5);
    for (delay, stable_available, expected) in [
        (None, 9, 10),
        (Some(30), 5, 10),
        (Some(30), 9, 0),
        (Some(0), 9, 10),
    ] {
        let stable = rs("stable", stable_available, stable_available);
        assert_eq!(
            aborted(delay).desired_canary_weight(Some(&canary), Some(&stable)),
            expected,
            "abortScaleDownDelaySeconds {delay:?}, stable available {stable_available}"
        );
    }
    let stable = rs("stable", 9, 9);
    let weights = Weights {
        canary: 10,
        stable: 90,
    };
    let (_, stable_count) =
        aborted(Some(30)).traffic_routed_counts(Some(&canary), Some(&stable), Some(weights));
    assert_eq!(stable_count, 10);
}

#[test]
fn fenceposts() {
    assert_eq!(resolve_fenceposts(Int(0), Int(0), 10), (0, 1));
    assert_eq!(
        resolve_fenceposts(DEFAULT_MAX_SURGE, DEFAULT_MAX_UNAVAILABLE, 10),
        (3, 2)
    );
    assert_eq!(resolve_fenceposts(Pct(10), Pct(10), 5), (1, 0));
    assert_eq!(
        IntOrPercent::from_json(&serde_json::json!("25")),
        Some(Pct(25))
    );
    assert_eq!(
        IntOrPercent::from_json(&serde_json::json!("20%")),
        Some(Pct(20))
    );
    assert_eq!(IntOrPercent::from_json(&serde_json::json!(2)), Some(Int(2)));
}

/// TestAllReplicaProgressThresholdMet in canary_test.go, and the canary moving on at the
/// threshold (AtDesiredReplicaCountsForCanary).
#[test]
fn replica_progress_threshold_met_as_argo_meets_it() {
    let percent = |value| {
        Some(ProgressThreshold {
            percent: true,
            value,
        })
    };
    let pods = |value| {
        Some(ProgressThreshold {
            percent: false,
            value,
        })
    };
    let with = |replicas, available| Rs {
        name: "canary".into(),
        replicas,
        available,
        status_replicas: replicas,
    };
    assert!(progress_threshold_met(percent(90), Some(&with(0, 9)), 10));
    assert!(progress_threshold_met(pods(9), Some(&with(0, 9)), 10));
    assert!(!progress_threshold_met(percent(90), Some(&with(0, 8)), 10));
    assert!(!progress_threshold_met(pods(8), Some(&with(0, 7)), 10));
    assert!(progress_threshold_met(pods(-100), Some(&with(10, 10)), 10));
    assert!(!progress_threshold_met(None, Some(&with(5, 10)), 10));
    assert!(!progress_threshold_met(pods(5), None, 10));
    assert!(progress_threshold_met(
        percent(100),
        Some(&with(0, 100)),
        10
    ));
    assert!(progress_threshold_met(percent(90), Some(&with(0, 0)), 0));
    // 10 replicas at 50 %: 5 canary pods desired; with a 60 % threshold 3 available are enough.
    let mut c = rollout(10, 50, IntOrPercent::Int(1), IntOrPercent::Int(0));
    let (new, stable) = (rs("canary", 5, 3), rs("stable", 5, 5));
    let stable = Rs {
        status_replicas: 5,
        ..stable
    };
    assert!(!c.at_desired_counts(Some(&new), Some(&stable), &[], None));
    c.replica_progress_threshold = percent(60);
    assert!(c.at_desired_counts(Some(&new), Some(&stable), &[], None));
}
