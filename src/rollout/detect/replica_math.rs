//! Detector 6: a canary paused at a step whose canary or stable ReplicaSet holds a different
//! number of pods than Argo's own arithmetic gives ([`super::canary_replicas`]): the closest
//! split with and without a surge replica for a basic canary, `ceil(weight × replicas)` beside a
//! full stable (or a dynamically scaled one) with traffic routing, `setCanaryScale`,
//! `minPodsPerReplicaSet`. Only judged while paused at a step: in between, the controller is
//! still moving towards the counts, one reconcile at a time.

use super::canary_replicas::{
    self, Pods, basic_canary_settled, fenceposts, max_weight, traffic_routed_counts,
};
use super::{Detector, Finding, evidence, object};
use crate::rollout::model::{ReplicaSet, Rollout};
use crate::rollout::view;

fn pods(rs: &ReplicaSet) -> Pods {
    Pods {
        name: rs.metadata.name.clone(),
        desired: rs.spec.replicas.unwrap_or(rs.status.replicas),
        available: rs.status.available_replicas,
    }
}

/// Whether the rollout rests at a step: paused by a pause step (or by the user), not aborted,
/// not promoting fully, its spec observed.
fn at_rest(ro: &Rollout) -> bool {
    let st = &ro.status;
    let paused = !st.pause_conditions.is_empty() || ro.spec.paused || st.controller_pause;
    paused
        && !st.abort
        && !st.promote_full
        && view::is_generation_observed(ro)
        && !st.current_pod_hash.is_empty()
        && !st.stable_rs.is_empty()
        && st.current_pod_hash != st.stable_rs
}

/// The finding when the canary's or the stable's pods differ from Argo's arithmetic.
pub fn canary_replica_math(ro: &Rollout, replica_sets: &[ReplicaSet]) -> Option<Finding> {
    let canary = ro.spec.strategy.canary.as_ref()?;
    if !at_rest(ro) {
        return None;
    }
    let owned: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| rs.metadata.is_owned_by(&ro.metadata.uid))
        .collect();
    let by_hash = |hash: &str| {
        owned
            .iter()
            .find(|rs| rs.metadata.pod_template_hash() == hash)
            .copied()
    };
    let new_rs = by_hash(&ro.status.current_pod_hash)?;
    let stable_rs = by_hash(&ro.status.stable_rs);
    let new = pods(new_rs);
    let stable = stable_rs.map(pods);
    let routed = canary.traffic_routing.is_some();
    let (want_canary, want_stable) = if routed {
        let weights = ro.status.canary.weights.as_ref().map(|w| {
            (
                w.canary.as_ref().map_or(0, |d| d.weight),
                w.stable.as_ref().map_or(0, |d| d.weight),
            )
        });
        traffic_routed_counts(ro, Some(&new), stable.as_ref(), weights)
    } else {
        basic_canary_settled(ro, &new, stable.as_ref())
    };
    let have_stable = stable.as_ref().map_or(0, |s| s.desired);
    if new.desired == want_canary && have_stable == want_stable {
        return None;
    }
    let (_, weight) = canary_replicas::desired_replicas_or_weight(ro, Some(&new), stable.as_ref());
    let replicas = ro.desired_replicas();
    let (surge, unavailable) = fenceposts(ro);
    let subject = object("Rollout", &ro.metadata);
    let new_obj = object("ReplicaSet", &new_rs.metadata);
    let mut ev = vec![
        evidence(&subject, "spec.replicas", replicas, None),
        evidence(&subject, "setWeight (desired canary weight)", weight, None),
        evidence(
            &subject,
            "maxSurge / maxUnavailable (pods)",
            format!("{surge} / {unavailable}"),
            None,
        ),
        evidence(
            &subject,
            "spec.strategy.canary.trafficRouting",
            if routed { "set" } else { "(absent)" },
            None,
        ),
        evidence(&new_obj, "spec.replicas (canary)", new.desired, None),
    ];
    if let Some(s) = stable_rs {
        ev.push(evidence(
            &object("ReplicaSet", &s.metadata),
            "spec.replicas (stable)",
            have_stable,
            None,
        ));
    }
    ev.push(evidence(
        &subject,
        "expected (canary, stable) by Argo's arithmetic",
        format!("{want_canary}, {want_stable}"),
        None,
    ));
    let max = max_weight(ro);
    let how = if routed {
        "with traffic routing the canary gets ceil(weight × replicas) pods and the stable keeps its own"
    } else {
        "a basic canary takes the split closest to the weight, with or without one surge replica"
    };
    Some(Finding {
        detector: Detector::CanaryReplicaMath,
        subject,
        aspect: String::new(),
        headline: format!(
            "{} canary and {have_stable} stable pod(s) at weight {weight}/{max} of {replicas}; Argo's arithmetic gives {want_canary} and {want_stable}",
            new.desired
        ),
        detail: format!(
            "Paused at a step, the controller has reached its counts: {how}. Something else scaled \
             a ReplicaSet (an HPA, a manual `kubectl scale`, another controller), or the controller \
             is not the one you think."
        ),
        evidence: ev,
        level: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    fn paused(replicas: i32, weight: i32, routing: &str) -> Rollout {
        yaml(&format!(
            "metadata: {{name: web, namespace: prod, uid: u1, generation: 3}}
spec:
  replicas: {replicas}
  strategy:
    canary:
      {routing}
      steps: [{{setWeight: {weight}}}, {{pause: {{}}}}, {{setWeight: 100}}]
status:
  observedGeneration: '3'
  currentStepIndex: 1
  currentPodHash: new
  stableRS: old
  pauseConditions: [{{reason: CanaryPauseStep}}]
"
        ))
    }

    fn sets(canary: i32, stable: i32) -> Vec<ReplicaSet> {
        replica_sets((canary, canary), (stable, stable))
            .into_iter()
            .map(|mut rs| {
                rs.spec.replicas = Some(rs.status.replicas);
                rs
            })
            .collect()
    }

    // Positive cases.

    #[test]
    fn two_canaries_at_20_percent_of_5_fire() {
        // 20 % of 5 replicas is 1 canary pod (canary_test.go approximate cases: 1 of 5 is exact).
        let f = canary_replica_math(&paused(5, 20, ""), &sets(2, 3)).expect("fires");
        assert!(
            f.headline.contains("Argo's arithmetic gives 1 and 4"),
            "{}",
            f.headline
        );
        assert_eq!(f.key(), "canary-replica-math|Rollout prod/web");
    }

    #[test]
    fn a_ceil_of_10_percent_of_12_fires() {
        // The old ceil(10% × 12) = 2 is not Argo's answer since v1.2: 1 is (the closest split).
        let f = canary_replica_math(&paused(12, 10, ""), &sets(2, 10)).expect("fires");
        assert!(f.headline.contains("gives 1 and 11"), "{}", f.headline);
    }

    #[test]
    fn a_scaled_down_stable_under_traffic_routing_fires() {
        // Without dynamicStableScale the stable stays at spec.replicas (canary_test.go
        // TestCalculateReplicaCountsForCanaryTrafficRouting).
        let ro = paused(10, 10, "trafficRouting: {nginx: {stableIngress: web}}");
        let f = canary_replica_math(&ro, &sets(1, 9)).expect("fires");
        assert!(f.headline.contains("gives 1 and 10"), "{}", f.headline);
    }

    // Negative cases.

    #[test]
    fn the_docs_example_41_percent_of_10_is_4_and_6() {
        // docs/features/canary/index.md: "41% of 10 is closer to 4/10 than 5/10".
        assert_eq!(canary_replica_math(&paused(10, 41, ""), &sets(4, 6)), None);
        assert!(canary_replica_math(&paused(10, 41, ""), &sets(5, 5)).is_some());
    }

    #[test]
    fn one_canary_of_12_at_10_percent_is_right() {
        assert_eq!(canary_replica_math(&paused(12, 10, ""), &sets(1, 11)), None);
    }

    #[test]
    fn one_canary_beside_one_stable_at_20_percent_of_1_is_right() {
        // The surge replica makes 1 of 2 the closest split (canary_test.go approximate cases).
        assert_eq!(canary_replica_math(&paused(1, 20, ""), &sets(1, 1)), None);
    }

    #[test]
    fn traffic_routing_pods_do_not_follow_the_weight() {
        let ro = paused(10, 10, "trafficRouting: {nginx: {stableIngress: web}}");
        assert_eq!(canary_replica_math(&ro, &sets(1, 10)), None);
    }

    #[test]
    fn nothing_is_judged_while_moving_or_aborted() {
        let mut moving = paused(5, 20, "");
        moving.status.pause_conditions.clear();
        assert_eq!(canary_replica_math(&moving, &sets(3, 5)), None);
        let mut aborted = paused(5, 20, "");
        aborted.status.abort = true;
        assert_eq!(canary_replica_math(&aborted, &sets(3, 5)), None);
    }
}
