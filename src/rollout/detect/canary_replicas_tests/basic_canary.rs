//! TestCalculateReplicaCountsForCanary without traffic routing (maxSurge and maxUnavailable,
//! older ReplicaSets, promote full), TestCalculateReplicaCountsForNewDeployment and
//! …ForCanaryStableRSdEdgeCases, and the settled counts of the story's weights.

use super::*;

#[test]
fn calculate_replica_counts_for_canary() {
    check([
        Case {
            name: "Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas",
            replicas: 10,
            weight: 100,
            surge: I(3),
            unavailable: I(0),
            stable: (7, 8),
            canary: (6, 3),
            expected: (6, 7),
            ..ZERO
        },
        Case {
            name: "Use max surge int to scale up canary",
            replicas: 10,
            weight: 20,
            surge: I(2),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            ..ZERO
        },
        Case {
            name: "Use max surge percentage to scale up canary",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            ..ZERO
        },
        Case {
            name: "Scale down extra stable replicas",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            stable: (10, 10),
            canary: (2, 2),
            expected: (2, 8),
            ..ZERO
        },
        Case {
            name: "Do not go past max surge",
            replicas: 10,
            weight: 30,
            surge: I(2),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            ..ZERO
        },
        Case {
            name: "Use max unavailable int to scale down stableRS",
            replicas: 10,
            weight: 20,
            surge: I(0),
            unavailable: I(2),
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            ..ZERO
        },
        Case {
            name: "Use max surge percentage to scale down stableRS",
            replicas: 10,
            weight: 20,
            surge: I(0),
            unavailable: P("20%"),
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            ..ZERO
        },
        Case {
            name: "Do not go past max unavailable",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(2),
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 8),
            ..ZERO
        },
        Case {
            name: "Use Max Surge and Max Unavailable",
            replicas: 10,
            weight: 50,
            surge: I(2),
            unavailable: I(1),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 9),
            ..ZERO
        },
        Case {
            name: "Scale canaryRS to zero on setWeight of 0%",
            replicas: 10,
            weight: 0,
            surge: I(1),
            unavailable: I(1),
            stable: (10, 10),
            canary: (1, 1),
            expected: (0, 10),
            ..ZERO
        },
        Case {
            name: "Scale stable to zero on setWeight of 100%",
            replicas: 10,
            weight: 100,
            surge: I(1),
            unavailable: I(1),
            stable: (1, 1),
            canary: (10, 10),
            expected: (10, 0),
            ..ZERO
        },
        Case {
            name: "Do not scale canaryRS down to zero on non-zero weight",
            replicas: 1,
            weight: 20,
            surge: I(1),
            unavailable: I(0),
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 1),
            ..ZERO
        },
        Case {
            name: "Do not scale canaryRS down to zero on non-100 weight",
            replicas: 1,
            weight: 90,
            surge: I(1),
            unavailable: I(0),
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 1),
            ..ZERO
        },
        Case {
            name: "Scale canaryRS to zero on <50 weight without surge",
            replicas: 1,
            weight: 49,
            surge: I(0),
            unavailable: I(1),
            stable: (1, 1),
            canary: (0, 0),
            expected: (0, 1),
            ..ZERO
        },
        Case {
            name: "Scale stableRS down to zero on >=50 weight without surge",
            replicas: 1,
            weight: 51,
            surge: I(0),
            unavailable: I(1),
            stable: (1, 1),
            canary: (0, 0),
            expected: (0, 0),
            ..ZERO
        },
        Case {
            name: "Scale canaryRS to one on >=50 weight without surge and stable replicas",
            replicas: 1,
            weight: 51,
            surge: I(0),
            unavailable: I(1),
            stable: (0, 0),
            canary: (0, 0),
            expected: (1, 0),
            ..ZERO
        },
        Case {
            name: "Scale up Stable before canaryRS",
            replicas: 10,
            weight: 30,
            surge: I(1),
            unavailable: I(0),
            stable: (1, 1),
            canary: (0, 0),
            expected: (1, 7),
            older: Some((3, 3)),
            ..ZERO
        },
        Case {
            name: "Scale down canaryRS and stable",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(3),
            stable: (8, 5),
            canary: (4, 4),
            expected: (3, 7),
            ..ZERO
        },
        Case {
            name: "Scale down stable and canary available",
            replicas: 10,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            stable: (10, 2),
            canary: (10, 8),
            expected: (9, 2),
            ..ZERO
        },
        Case {
            name: "Do not scale down canaryRS or stable when older RS count >= scaleDownCount",
            replicas: 10,
            weight: 30,
            surge: I(0),
            unavailable: I(1),
            stable: (8, 6),
            canary: (4, 2),
            expected: (4, 8),
            older: Some((3, 3)),
            ..ZERO
        },
        Case {
            name: "Do not round past maxSurge with uneven setWeight divisor",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(1),
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 9),
            ..ZERO
        },
        Case {
            name: "Do not round past maxSurge with uneven setWeight divisor (part 2)",
            replicas: 10,
            weight: 5,
            surge: I(0),
            unavailable: I(1),
            stable: (9, 9),
            canary: (0, 0),
            expected: (1, 9),
            ..ZERO
        },
        Case {
            name: "Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas",
            replicas: 10,
            weight: 10,
            surge: P("0%"),
            unavailable: P("0%"),
            stable: (10, 10),
            canary: (0, 0),
            expected: (0, 9),
            ..ZERO
        },
        Case {
            name: "Ignore setCanaryScale when trafficRouting is missing and use setWeight for replicas",
            replicas: 10,
            weight: 20,
            surge: P("20%"),
            unavailable: I(0),
            stable: (10, 10),
            canary: (0, 0),
            expected: (2, 10),
            scs: Some((Some(9), Some(100), false)),
            ..ZERO
        },
        Case {
            name: "honor maxSurge during scale up when stableRS unavailable",
            replicas: 4,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            stable: (4, 1),
            canary: (0, 0),
            expected: (1, 4),
            ..ZERO
        },
        Case {
            name: "scale down to maxunavailable without exceeding maxSurge",
            replicas: 3,
            weight: 99,
            surge: I(0),
            unavailable: I(2),
            stable: (3, 3),
            canary: (0, 0),
            expected: (0, 1),
            ..ZERO
        },
        Case {
            name: "scale down to maxunavailable without exceeding maxSurge (part 2)",
            replicas: 3,
            weight: 99,
            surge: I(0),
            unavailable: I(2),
            stable: (1, 1),
            canary: (0, 0),
            expected: (2, 1),
            ..ZERO
        },
        Case {
            name: "honor maxUnavailable during scale down stableRS unavailable",
            replicas: 4,
            weight: 100,
            surge: I(1),
            unavailable: I(0),
            stable: (4, 1),
            canary: (1, 1),
            expected: (1, 3),
            ..ZERO
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 1",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            stable: (0, 0),
            canary: (4, 4),
            expected: (4, 1),
            ..ZERO
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 2",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            stable: (1, 0),
            canary: (4, 4),
            expected: (4, 1),
            ..ZERO
        },
        Case {
            name: "honor maxUnavailable when aborting or reducing weight part 3",
            replicas: 4,
            weight: 0,
            surge: I(1),
            unavailable: I(0),
            stable: (1, 1),
            canary: (4, 4),
            expected: (3, 1),
            ..ZERO
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
            ..ZERO
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
            ..ZERO
        },
    ]);
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
