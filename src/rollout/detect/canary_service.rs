//! Detector 5: mid-canary, the canary Service's selector has no `rollouts-pod-template-hash`, so
//! it selects the stable pods too and whatever measures "the canary" through it (analysis, a
//! traffic router's canary weight) measures a mix.
//!
//! Argo's rule (rollout/service.go, `reconcileStableAndCanaryService`): the controller points
//! the canary Service at the new ReplicaSet's hash (at the stable's after an abort without
//! traffic routing) on every reconcile, with or without traffic routing. A canary Service
//! without the hash mid-canary means something stripped it (a CI job re-applying the manifest)
//! or the controller is not reconciling this Rollout. Holds until the hash is back.

use super::{Detector, Finding, evidence, labels_match, object};
use crate::rollout::model::{POD_TEMPLATE_HASH_LABEL, Pod, Rollout, Service};

/// A Service of a Rollout mid-update whose selector lost `rollouts-pod-template-hash`: how
/// many of the stable and of the new ReplicaSet's pods its labels reach, and the evidence
/// both Service detectors show. Shared by this detector and its blue-green form
/// ([`super::active_service`]).
pub(super) struct HashlessService<'a> {
    pub svc: &'a Service,
    pub stable_pods: usize,
    pub new_pods: usize,
    pub subject: String,
    pub svc_obj: String,
    pub evidence: Vec<super::Evidence>,
}

/// The Service named `name` of `ro`, when the Rollout is mid-update (a current hash beside a
/// different stable one) and the Service selects by labels alone.
pub(super) fn hashless_service<'a>(
    ro: &Rollout,
    name: &str,
    services: &'a [Service],
    pods: &[Pod],
) -> Option<HashlessService<'a>> {
    let st = &ro.status;
    let in_progress = !st.stable_rs.is_empty()
        && !st.current_pod_hash.is_empty()
        && st.current_pod_hash != st.stable_rs;
    if name.is_empty() || !in_progress {
        return None;
    }
    let svc = services
        .iter()
        .find(|s| s.metadata.name == name && s.metadata.namespace == ro.metadata.namespace)?;
    if svc.spec.selector.contains_key(POD_TEMPLATE_HASH_LABEL) || svc.spec.selector.is_empty() {
        return None;
    }
    let selected = |hash: &str| {
        pods.iter()
            .filter(|p| {
                p.metadata.namespace == svc.metadata.namespace
                    && p.metadata.deletion_timestamp.is_none()
                    && p.metadata.pod_template_hash() == hash
                    && labels_match(&svc.spec.selector, &p.metadata.labels)
            })
            .count()
    };
    let subject = object("Rollout", &ro.metadata);
    let svc_obj = object("Service", &svc.metadata);
    let selector: Vec<String> = svc
        .spec
        .selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let evidence = vec![
        evidence(&svc_obj, "spec.selector", selector.join(","), None),
        evidence(&subject, "status.stableRS", &st.stable_rs, None),
        evidence(
            &subject,
            "status.currentPodHash",
            &st.current_pod_hash,
            None,
        ),
    ];
    Some(HashlessService {
        svc,
        stable_pods: selected(&st.stable_rs),
        new_pods: selected(&st.current_pod_hash),
        subject,
        svc_obj,
        evidence,
    })
}

/// The finding when the canary Service of a canary in progress selects by labels alone.
pub fn canary_service_selects_stable(
    ro: &Rollout,
    services: &[Service],
    pods: &[Pod],
) -> Option<Finding> {
    let canary = ro.spec.strategy.canary.as_ref()?;
    let HashlessService {
        svc,
        stable_pods,
        new_pods: canary_pods,
        subject,
        svc_obj,
        evidence: mut ev,
    } = hashless_service(ro, &canary.canary_service, services, pods)?;
    if !pods.is_empty() && stable_pods == 0 {
        // Its labels match no stable pod: it selects nothing it should not.
        return None;
    }
    let headline = if pods.is_empty() {
        format!(
            "canary Service {} has no {POD_TEMPLATE_HASH_LABEL} in its selector: it selects the stable pods too",
            svc.metadata.name
        )
    } else {
        ev.push(evidence(
            &svc_obj,
            "pods selected (stable, canary)",
            format!("{stable_pods}, {canary_pods}"),
            None,
        ));
        format!(
            "canary Service {} selects {stable_pods} stable pod(s) beside {canary_pods} canary pod(s)",
            svc.metadata.name
        )
    };
    let routed = if canary.traffic_routing.is_some() {
        "the traffic router's canary weight"
    } else {
        "requests through it"
    };
    Some(Finding {
        detector: Detector::CanaryServiceSelectsStable,
        subject,
        aspect: format!("Service {}", svc.metadata.name),
        headline,
        detail: format!(
            "Its selector lacks {POD_TEMPLATE_HASH_LABEL}, which the controller sets on every \
             reconcile; {routed} and any analysis that measures the canary Service see a mix of \
             both versions. Something stripped it (a CI job re-applying the Service?) or the \
             controller is not reconciling this Rollout."
        ),
        evidence: ev,
        level: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    fn service(selector: &str) -> Vec<Service> {
        vec![yaml(&format!(
            "metadata: {{name: web-canary, namespace: prod}}\nspec: {{selector: {{{selector}}}}}\n"
        ))]
    }

    fn pods() -> Vec<Pod> {
        vec![
            yaml(
                "metadata: {name: s1, namespace: prod, labels: {app: web, rollouts-pod-template-hash: old}}\n",
            ),
            yaml(
                "metadata: {name: c1, namespace: prod, labels: {app: web, rollouts-pod-template-hash: new}}\n",
            ),
        ]
    }

    // Positive cases.

    #[test]
    fn a_selector_without_the_hash_selects_stable_pods() {
        // A canaryService as in Argo's examples/traffic-management/rollout-linkerd.yaml
        // (selector `app: rollout-linkerd`) after a CI job re-applied it without the hash.
        let ro: Rollout = yaml(HEALTHY);
        let f = canary_service_selects_stable(&ro, &service("app: web"), &pods()).expect("fires");
        assert!(
            f.headline
                .contains("selects 1 stable pod(s) beside 1 canary pod(s)"),
            "{}",
            f.headline
        );
        assert_eq!(
            f.key(),
            "canary-service-selects-stable|Rollout prod/web|Service web-canary"
        );
    }

    #[test]
    fn it_fires_without_pods_to_count() {
        let ro: Rollout = yaml(HEALTHY);
        let f = canary_service_selects_stable(&ro, &service("app: web"), &[]).expect("fires");
        assert!(f.headline.contains("selects the stable pods too"));
    }

    #[test]
    fn it_fires_with_traffic_routing_too() {
        // Argo sets the hash on the canary Service whether or not traffic routing is used
        // (rollout/service.go); a router's canary weight then lands on stable pods too.
        let mut ro: Rollout = yaml(HEALTHY);
        ro.spec.strategy.canary.as_mut().unwrap().traffic_routing = Some(Default::default());
        let f = canary_service_selects_stable(&ro, &service("app: web"), &pods()).expect("fires");
        assert!(f.detail.contains("canary weight"));
    }

    // Negative cases.

    #[test]
    fn the_controller_added_hash_is_fine() {
        let ro: Rollout = yaml(HEALTHY);
        assert_eq!(
            canary_service_selects_stable(
                &ro,
                &service("app: web, rollouts-pod-template-hash: new"),
                &pods()
            ),
            None
        );
    }

    #[test]
    fn a_healthy_rollout_is_not_mid_canary() {
        let mut ro: Rollout = yaml(HEALTHY);
        ro.status.current_pod_hash = "old".into();
        assert_eq!(
            canary_service_selects_stable(&ro, &service("app: web"), &pods()),
            None
        );
    }

    #[test]
    fn labels_that_match_no_stable_pod_select_nothing_wrong() {
        let ro: Rollout = yaml(HEALTHY);
        assert_eq!(
            canary_service_selects_stable(&ro, &service("app: other"), &pods()),
            None
        );
        // No canaryService named: nothing to judge.
        let mut none: Rollout = yaml(HEALTHY);
        none.spec.strategy.canary.as_mut().unwrap().canary_service = String::new();
        assert_eq!(
            canary_service_selects_stable(&none, &service("app: web"), &pods()),
            None
        );
    }
}
