//! Blue-green's form of detector 5: mid-update, the active Service's selector has no
//! `rollouts-pod-template-hash`, so production traffic reaches the preview (new, unpromoted)
//! pods beside the active ones before anyone promoted them.
//!
//! Argo's rules (rollout/service.go `reconcileActiveService`, rollout/bluegreen.go
//! `isBlueGreenFastTracked`; service/service.go `syncService`): the controller keeps the
//! active Service on one ReplicaSet's hash and switches it at promotion. A selector without the
//! hash means something stripped it (a CI or GitOps job re-applying the manifest from git).
//! Stripping it enqueues nothing (syncService returns early for a Service without the hash),
//! so a Rollout waiting for a manual promotion stays that way until something else
//! reconciles it; that reconcile then sees no hash, takes the update as fast-tracked and
//! switches the active Service to the new ReplicaSet without the pause or the promotion.
//! Holds until the hash is back or the update is over.

use super::canary_service::{HashlessService, hashless_service};
use super::{Detector, Finding, evidence};
use crate::rollout::model::{POD_TEMPLATE_HASH_LABEL, Pod, Rollout, Service};

/// The finding when the active Service of a blue-green update selects by labels alone and
/// (when pods are known) reaches preview pods.
pub fn active_service_selects_preview(
    ro: &Rollout,
    services: &[Service],
    pods: &[Pod],
) -> Option<Finding> {
    let bg = ro.spec.strategy.blue_green.as_ref()?;
    let st = &ro.status;
    let HashlessService {
        svc,
        stable_pods,
        new_pods: preview_pods,
        subject,
        svc_obj,
        evidence: mut ev,
    } = hashless_service(ro, &bg.active_service, services, pods)?;
    if !pods.is_empty() && preview_pods == 0 {
        // Its labels reach no preview pod (none running yet, or other labels): nothing unpromoted
        // serves production traffic yet.
        return None;
    }
    let headline = if pods.is_empty() {
        format!(
            "active Service {} has no {POD_TEMPLATE_HASH_LABEL} in its selector: it selects the preview pods too",
            svc.metadata.name
        )
    } else {
        ev.push(evidence(
            &svc_obj,
            "pods selected (active, preview)",
            format!("{stable_pods}, {preview_pods}"),
            None,
        ));
        format!(
            "active Service {} selects {preview_pods} preview pod(s) beside {stable_pods} active pod(s)",
            svc.metadata.name
        )
    };
    Some(Finding {
        detector: Detector::ActiveServiceSelectsPreview,
        subject,
        aspect: format!("Service {}", svc.metadata.name),
        headline,
        detail: format!(
            "Its selector lacks {POD_TEMPLATE_HASH_LABEL}: production traffic reaches the new \
             version before it was promoted. Something stripped it (a CI or GitOps job \
             re-applying the Service from git?); the controller does not repair it until the \
             Rollout is reconciled again, and then takes the update as fast-tracked: it \
             switches the active Service to the new version without waiting for a promotion. \
             Put the hash back (`{POD_TEMPLATE_HASH_LABEL}: {}`) or exclude the selector from \
             the sync.",
            st.stable_rs
        ),
        evidence: ev,
        level: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    /// Argo's examples/rollout-bluegreen.yaml (`rollout-bluegreen-active`,
    /// `rollout-bluegreen-preview`), waiting for a manual promotion.
    const PAUSED: &str = "
metadata: {name: rollout-bluegreen, namespace: prod, generation: 2}
spec:
  replicas: 2
  strategy:
    blueGreen: {activeService: rollout-bluegreen-active, previewService: rollout-bluegreen-preview, autoPromotionEnabled: false}
status:
  observedGeneration: '2'
  currentPodHash: new
  stableRS: old
  pauseConditions: [{reason: BlueGreenPause}]
";

    fn active(selector: &str) -> Vec<Service> {
        vec![yaml(&format!(
            "metadata: {{name: rollout-bluegreen-active, namespace: prod}}\nspec: {{selector: {{{selector}}}}}\n"
        ))]
    }

    fn pods(preview: usize) -> Vec<Pod> {
        let mut v: Vec<Pod> = (0..2)
            .map(|i| {
                yaml(&format!(
                    "metadata: {{name: a{i}, namespace: prod, labels: {{app: rollout-bluegreen, rollouts-pod-template-hash: old}}}}\n"
                ))
            })
            .collect();
        v.extend((0..preview).map(|i| {
            yaml(&format!(
                "metadata: {{name: p{i}, namespace: prod, labels: {{app: rollout-bluegreen, rollouts-pod-template-hash: new}}}}\n"
            ))
        }));
        v
    }

    // Positive cases.

    #[test]
    fn a_stripped_hash_sends_production_traffic_to_the_preview() {
        let ro: Rollout = yaml(PAUSED);
        let f = active_service_selects_preview(&ro, &active("app: rollout-bluegreen"), &pods(2))
            .expect("fires");
        assert!(
            f.headline
                .contains("selects 2 preview pod(s) beside 2 active pod(s)"),
            "{}",
            f.headline
        );
        assert_eq!(
            f.key(),
            "active-service-selects-preview|Rollout prod/rollout-bluegreen|Service rollout-bluegreen-active"
        );
        assert!(f.detail.contains("fast-tracked"), "{}", f.detail);
    }

    #[test]
    fn it_fires_without_pods_to_count() {
        let ro: Rollout = yaml(PAUSED);
        let f = active_service_selects_preview(&ro, &active("app: rollout-bluegreen"), &[])
            .expect("fires");
        assert!(f.headline.contains("selects the preview pods too"));
    }

    #[test]
    fn a_preview_scaled_to_previewreplicacount_is_reached_too() {
        // previewReplicaCount 1: one preview pod is enough for users to hit it.
        let ro: Rollout = yaml(PAUSED);
        let f = active_service_selects_preview(&ro, &active("app: rollout-bluegreen"), &pods(1))
            .expect("fires");
        assert!(f.headline.contains("1 preview pod(s)"), "{}", f.headline);
    }

    // Negative cases.

    #[test]
    fn the_controllers_hash_is_fine() {
        let ro: Rollout = yaml(PAUSED);
        let svc = active("app: rollout-bluegreen, rollouts-pod-template-hash: old");
        assert_eq!(active_service_selects_preview(&ro, &svc, &pods(2)), None);
    }

    #[test]
    fn no_update_in_progress_or_no_preview_pod_is_fine() {
        // Healthy: the only pods are the active ones, whatever the selector.
        let mut done: Rollout = yaml(PAUSED);
        done.status.current_pod_hash = "old".into();
        let svc = active("app: rollout-bluegreen");
        assert_eq!(active_service_selects_preview(&done, &svc, &pods(2)), None);
        // The preview's pods are not created yet.
        let ro: Rollout = yaml(PAUSED);
        assert_eq!(active_service_selects_preview(&ro, &svc, &pods(0)), None);
    }

    #[test]
    fn a_canary_or_an_unnamed_service_is_not_judged_here() {
        let canary: Rollout = yaml(HEALTHY);
        let svc = active("app: web");
        assert_eq!(active_service_selects_preview(&canary, &svc, &[]), None);
        // Labels that reach other pods only.
        let ro: Rollout = yaml(PAUSED);
        assert_eq!(
            active_service_selects_preview(&ro, &active("app: other"), &pods(2)),
            None
        );
    }
}
