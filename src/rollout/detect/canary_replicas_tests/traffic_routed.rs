//! The traffic-routed counts: TestCalculateReplicaCountsForCanary's cases with traffic routing
//! (setCanaryScale, abortScaleDownDelaySeconds, minPodsPerReplicaSet),
//! …ForCanaryTrafficRouting, …TrafficRoutingDynamicScale, and
//! TestGetDesiredCanaryWeightOnAbortWithScaleDownDelay.

use super::*;
use crate::rollout::model::CanaryStep;

#[test]
fn calculate_replica_counts_for_canary_with_traffic_routing() {
    check([
        Case {
            name: "For canary replicas, use setCanaryScale.replicas when specified along with trafficRouting (and ignore setWeight)",
            replicas: 1,
            weight: 100,
            surge: I(0),
            unavailable: I(0),
            stable: (1, 1),
            canary: (0, 0),
            expected: (9, 1),
            scs: Some((Some(9), None, false)),
            routed: true,
            ..ZERO
        },
        Case {
            name: "Use setCanaryScale.weight for canary replicas when specified with trafficRouting (and ignore setWeight)",
            replicas: 4,
            weight: 100,
            surge: I(0),
            unavailable: I(0),
            stable: (4, 4),
            canary: (0, 0),
            expected: (8, 4),
            scs: Some((None, Some(200), false)),
            routed: true,
            ..ZERO
        },
        Case {
            name: "Ignore setCanaryScale replicas/weight when matchTrafficWeight is true",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            scs: Some((Some(9), Some(100), true)),
            routed: true,
            ..ZERO
        },
        Case {
            name: "aborted with abortScaleDownDelaySeconds:0 and setCanaryScale",
            replicas: 1,
            weight: 0,
            surge: I(0),
            unavailable: I(0),
            stable: (1, 1),
            canary: (1, 1),
            expected: (1, 1),
            scs: Some((Some(1), None, false)),
            routed: true,
            abort_delay: Some(0),
            abort: true,
            ..ZERO
        },
        Case {
            name: "aborted with abortScaleDownDelaySeconds>0 and setCanaryScale",
            replicas: 1,
            weight: 0,
            surge: I(0),
            unavailable: I(0),
            stable: (1, 1),
            canary: (1, 1),
            expected: (0, 1),
            scs: Some((Some(1), None, false)),
            routed: true,
            abort_delay: Some(30),
            abort: true,
            ..ZERO
        },
        Case {
            name: "Honor MinPodsPerReplicaSet when using trafficRouting and starting canary",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            routed: true,
            min_pods: Some(2),
            ..ZERO
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
            routed: true,
            min_pods: Some(2),
            ..ZERO
        },
    ]);
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
