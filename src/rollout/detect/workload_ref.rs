//! Detector 2: the Deployment named by `spec.workloadRef` still runs pods beside the Rollout's
//! where Argo will not (or did not) scale it down, so both versions serve traffic.
//!
//! Argo's rules (docs/migrating.md; rollout/sync.go and rollout/replicaset.go):
//! - `scaleDown: never` (the default when absent): the controller never touches the
//!   Deployment. Once the Rollout runs pods of its own, Deployment pods beside them are a leak.
//! - `onsuccess`: the controller scales the Deployment to 0 when revision 1 of the Rollout is
//!   Healthy. Before that both running is the migration, not a leak; a Healthy revision 1 with
//!   the Deployment still scaled up, or any later revision (the controller only acts on
//!   revision 1), is a leak.
//! - `progressively`: the Deployment shrinks as the Rollout's pods become ready and goes to 0
//!   when revision 1 is Healthy; the same two cases are leaks.
//!
//! Holds until the Deployment runs no pods (or is scaled to 0 and its pods are terminating).

use super::{Detector, Finding, evidence, labels_match, object};
use crate::rollout::model::{Deployment, POD_TEMPLATE_HASH_LABEL, Pod, Rollout};

/// Pods of the Deployment that run: ReplicaSet-owned (or unowned, as in hand-written fixtures)
/// pods matching its selector, without the rollouts hash (the Rollout's copies of the
/// template carry it) and not terminating. A Job's pods that share the labels are not its.
fn deployment_pods(deploy: &Deployment, pods: &[Pod]) -> usize {
    pods.iter()
        .filter(|p| {
            p.metadata.namespace == deploy.metadata.namespace
                && p.metadata.deletion_timestamp.is_none()
                && !p.metadata.labels.contains_key(POD_TEMPLATE_HASH_LABEL)
                && (p.metadata.owner_references.is_empty()
                    || p.metadata
                        .owner_references
                        .iter()
                        .any(|o| o.kind == "ReplicaSet"))
                && labels_match(&deploy.spec.selector.match_labels, &p.metadata.labels)
        })
        .count()
}

/// The finding when the workloadRef Deployment runs pods that Argo will not remove.
pub fn workload_ref_leak(
    ro: &Rollout,
    deployments: &[Deployment],
    pods: &[Pod],
) -> Option<Finding> {
    let wref = ro.spec.workload_ref.as_ref()?;
    if wref.kind != "Deployment" {
        return None;
    }
    let deploy = deployments
        .iter()
        .find(|d| d.metadata.name == wref.name && d.metadata.namespace == ro.metadata.namespace)?;
    let running = if pods.is_empty() {
        usize::try_from(deploy.status.replicas).unwrap_or(0)
    } else {
        deployment_pods(deploy, pods)
    };
    let scaled_up = deploy.spec.replicas.unwrap_or(deploy.status.replicas) > 0;
    let rollout_runs = ro.status.replicas.max(ro.status.available_replicas) > 0;
    if running == 0 || !rollout_runs {
        return None;
    }
    let scale_down = wref
        .scale_down
        .as_deref()
        .unwrap_or("never")
        .to_ascii_lowercase();
    let revision = ro.metadata.revision();
    let healthy = ro.status.phase == "Healthy";
    let why = match scale_down.as_str() {
        "onsuccess" | "progressively" => {
            if !scaled_up {
                // Scaled to 0: the controller did its part, the pods are on their way out.
                return None;
            }
            if revision > 1 {
                format!(
                    "workloadRef.scaleDown `{scale_down}` only acts on revision 1 and this Rollout \
                     is at revision {revision}: the Deployment will not be scaled down"
                )
            } else if healthy {
                format!(
                    "the Rollout is Healthy, so with workloadRef.scaleDown `{scale_down}` the \
                     controller should have scaled the Deployment to 0"
                )
            } else {
                // Revision 1 on its way to Healthy: the migration itself.
                return None;
            }
        }
        _ => "workloadRef.scaleDown is `never` (the default), so the controller never scales the \
              Deployment down"
            .to_string(),
    };
    let subject = object("Rollout", &ro.metadata);
    let deploy_obj = object("Deployment", &deploy.metadata);
    Some(Finding {
        detector: Detector::WorkloadRefLeak,
        subject: subject.clone(),
        aspect: String::new(),
        headline: format!(
            "workloadRef Deployment {} still runs {running} pod(s) beside the Rollout's {}",
            deploy.metadata.name, ro.status.replicas
        ),
        detail: format!(
            "{why}: both versions serve traffic behind the same labels. Set workloadRef.scaleDown \
             to onsuccess or progressively, or scale the Deployment to 0."
        ),
        evidence: vec![
            evidence(
                &subject,
                "spec.workloadRef.scaleDown",
                wref.scale_down.as_deref().unwrap_or("(absent: never)"),
                None,
            ),
            evidence(
                &deploy_obj,
                "spec.replicas",
                deploy.spec.replicas.unwrap_or(deploy.status.replicas),
                None,
            ),
            evidence(&deploy_obj, "pods running", running, None),
            evidence(&subject, "status.replicas", ro.status.replicas, None),
            evidence(&subject, "status.phase", &ro.status.phase, None),
            evidence(&subject, "revision", revision, None),
        ],
        level: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    /// docs/migrating.md's example: Rollout `rollout-ref-deployment` (5 replicas) referencing
    /// the Deployment of the same name.
    fn rollout(scale_down: Option<&str>, phase: &str, revision: i64) -> Rollout {
        let mut ro: Rollout = yaml(&format!(
            "metadata: {{name: rollout-ref-deployment, namespace: prod, annotations: {{rollout.argoproj.io/revision: '{revision}'}}}}
spec: {{replicas: 5}}
status: {{replicas: 5, availableReplicas: 5, phase: {phase}}}
"
        ));
        let mut wref: crate::rollout::model::WorkloadRef =
            yaml("{apiVersion: apps/v1, kind: Deployment, name: rollout-ref-deployment}");
        wref.scale_down = scale_down.map(str::to_string);
        ro.spec.workload_ref = Some(wref);
        ro
    }

    fn deployment(replicas: i32) -> Vec<Deployment> {
        vec![yaml(&format!(
            "metadata: {{name: rollout-ref-deployment, namespace: prod}}\nspec: {{replicas: {replicas}, selector: {{matchLabels: {{app: rollout-ref-deployment}}}}}}\nstatus: {{replicas: {replicas}}}\n"
        ))]
    }

    fn pods() -> Vec<Pod> {
        vec![
            yaml(
                "metadata: {name: d1, namespace: prod, labels: {app: rollout-ref-deployment, pod-template-hash: abc}, ownerReferences: [{kind: ReplicaSet, name: d}]}\n",
            ),
            yaml(
                "metadata: {name: r1, namespace: prod, labels: {app: rollout-ref-deployment, rollouts-pod-template-hash: new}}\n",
            ),
            // A migration Job's pod shares the app label but is not the Deployment's.
            yaml(
                "metadata: {name: migrate-1, namespace: prod, labels: {app: rollout-ref-deployment, job-name: migrate}, ownerReferences: [{kind: Job, name: migrate}]}\n",
            ),
        ]
    }

    // Positive cases.

    #[test]
    fn scale_down_absent_means_never_and_leaks() {
        let f = workload_ref_leak(&rollout(None, "Progressing", 1), &deployment(5), &pods())
            .expect("leak");
        assert!(f.headline.contains("still runs 1 pod(s)"), "{}", f.headline);
        assert!(f.detail.contains("`never` (the default)"));
    }

    #[test]
    fn onsuccess_that_left_the_deployment_up_after_healthy_leaks() {
        let f = workload_ref_leak(
            &rollout(Some("onsuccess"), "Healthy", 1),
            &deployment(5),
            &pods(),
        )
        .expect("leak");
        assert!(f.detail.contains("should have scaled"), "{}", f.detail);
    }

    #[test]
    fn onsuccess_past_revision_1_never_scales_down() {
        // rollout/replicaset.go: progressive and on-success scale-down only act on revision 1.
        let f = workload_ref_leak(
            &rollout(Some("progressively"), "Progressing", 2),
            &deployment(3),
            &pods(),
        )
        .expect("leak");
        assert!(f.detail.contains("only acts on revision 1"), "{}", f.detail);
    }

    // Negative cases.

    #[test]
    fn onsuccess_during_the_first_rollout_is_the_migration() {
        assert_eq!(
            workload_ref_leak(
                &rollout(Some("onsuccess"), "Progressing", 1),
                &deployment(5),
                &pods()
            ),
            None
        );
    }

    #[test]
    fn a_deployment_scaled_to_zero_with_terminating_pods_is_done() {
        assert_eq!(
            workload_ref_leak(
                &rollout(Some("onsuccess"), "Healthy", 1),
                &deployment(0),
                &pods()
            ),
            None
        );
        // The docs' own manifest: the Deployment at replicas 0, no pods of its own.
        assert_eq!(
            workload_ref_leak(&rollout(None, "Healthy", 1), &deployment(0), &pods()[1..]),
            None
        );
    }

    #[test]
    fn a_rollout_with_no_pods_yet_is_not_leaking() {
        let mut ro = rollout(None, "Progressing", 1);
        ro.status.replicas = 0;
        ro.status.available_replicas = 0;
        assert_eq!(workload_ref_leak(&ro, &deployment(5), &pods()), None);
    }
}
