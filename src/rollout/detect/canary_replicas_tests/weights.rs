//! The weight and count helpers: TestApproximateWeightedNewStableReplicaCounts,
//! TestTrafficWeightToReplicas, TestGetCurrentSetWeight, TestGetReplicasForScaleDown,
//! TestGetCanaryReplicasOrWeight, and the default fenceposts.

use super::*;
use crate::rollout::model::{CanaryStep, CanaryStrategy, SetCanaryScale, TrafficRouting};

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
