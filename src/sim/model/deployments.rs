//! The Deployment controller, for the Deployment a Rollout's `workloadRef` names: one
//! ReplicaSet per pod template (`NAME-HASH`, labelled `pod-template-hash`, the hash being
//! Kubernetes' and not Argo's: see [`deployment_template_hash`]), the current one at
//! `spec.replicas` and older ones at zero (a template change replaces the pods at once: the
//! rolling update's surge steps are not modelled), with the `ScalingReplicaSet` Events,
//! status counts and the Available / Progressing conditions.
//!
//! `spec.paused` (pkg/controller/deployment/deployment_controller.go syncDeployment → sync,
//! sync.go checkPausedConditions): a paused Deployment creates no ReplicaSet for a new
//! template (getAllReplicaSetsAndSyncRevision with createIfNotExisted false; a Deployment
//! created paused gets none at all) but still scales: the active ReplicaSet, or the latest
//! when none is active (FindActiveOrLatest), follows `spec.replicas`. Its Progressing
//! condition is Unknown / DeploymentPaused, and DeploymentResumed once unpaused.
//! A name taken by a ReplicaSet the Deployment does not own is a hash collision:
//! `status.collisionCount` goes up and the next sync tries the next name (sync.go
//! getNewReplicaSet).
//!
//! Owns: Deployments' ReplicaSets and Deployment status. It must not touch pods (the
//! ReplicaSet controller does) nor Rollouts; Argo's scale-down of the Deployment is the
//! Rollout controller's write to `spec.replicas`.

use serde_json::{Value, json};

use super::world::{Kind, World, deployment_template_hash, owned_by, owner_reference};

const COMPONENT: &str = "deployment-controller";

pub fn tick(world: &World) {
    let replica_sets = world.list(Kind::ReplicaSet, None);
    for deployment in world.list(Kind::Deployment, None) {
        if let Err(err) = reconcile(world, &deployment, &replica_sets) {
            tracing::debug!("deployment controller: {err}");
        }
    }
}

fn reconcile(
    world: &World,
    deployment: &Value,
    all: &[std::sync::Arc<Value>],
) -> Result<(), crate::sim::StoreError> {
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
    let uid = &deployment["metadata"]["uid"];
    let replicas = deployment["spec"]["replicas"].as_i64().unwrap_or(1);
    let template = &deployment["spec"]["template"];
    let paused = deployment["spec"]["paused"] == true;
    let hash = deployment_template_hash(template, deployment["status"]["collisionCount"].as_i64());
    let new_name = format!("{name}-{hash}");
    let owned: Vec<&Value> = all
        .iter()
        .map(|r| &**r)
        .filter(|r| owned_by(r, uid))
        .collect();
    let scaled = |from: i64, to: i64, rs: &str| {
        let verb = if to > from { "up" } else { "down" };
        world.event(
            deployment,
            "Normal",
            "ScalingReplicaSet",
            &format!("Scaled {verb} replica set {rs} from {from} to {to}"),
            COMPONENT,
        )
    };
    let exists = owned
        .iter()
        .any(|rs| rs["metadata"]["name"] == new_name.as_str());
    if !exists && !paused {
        if all.iter().any(|rs| {
            rs["metadata"]["namespace"] == namespace && rs["metadata"]["name"] == new_name.as_str()
        }) {
            // Someone else's ReplicaSet holds the name: a collision.
            let count = deployment["status"]["collisionCount"].as_i64().unwrap_or(0) + 1;
            let mut d = deployment.clone();
            d["status"]["collisionCount"] = json!(count);
            world.replace(Kind::Deployment, d)?;
            return Ok(());
        }
        let mut rs_template = template.clone();
        rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
        let mut selector = deployment["spec"]["selector"].clone();
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut labels = template["metadata"]["labels"].clone();
        labels["pod-template-hash"] = json!(hash);
        let revision = owned
            .iter()
            .filter_map(|rs| {
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()?
                    .parse::<i64>()
                    .ok()
            })
            .max()
            .unwrap_or(0)
            + 1;
        let rs = json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": new_name, "namespace": namespace, "labels": labels,
                "annotations": {
                    "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/max-replicas": replicas.to_string(),
                    "deployment.kubernetes.io/revision": revision.to_string(),
                },
                "ownerReferences": [owner_reference(deployment)],
            },
            "spec": {"replicas": replicas, "selector": selector, "template": rs_template,
                     "minReadySeconds": deployment["spec"]["minReadySeconds"].as_i64().unwrap_or(0)},
        });
        world.create(Kind::ReplicaSet, rs)?;
        if replicas > 0 {
            scaled(0, replicas, &new_name)?;
        }
    }
    let revision = |rs: &Value| {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            .as_str()
            .and_then(|r| r.parse::<i64>().ok())
            .unwrap_or(0)
    };
    // Paused: only the active (or latest) ReplicaSet follows spec.replicas.
    let paused_target = if paused {
        let active: Vec<&&Value> = owned
            .iter()
            .filter(|rs| rs["spec"]["replicas"].as_i64().unwrap_or(0) > 0)
            .collect();
        match active.as_slice() {
            [one] => Some(one["metadata"]["name"].clone()),
            [] => owned
                .iter()
                .max_by_key(|rs| revision(rs))
                .map(|rs| rs["metadata"]["name"].clone()),
            // Proportional scaling of several active ReplicaSets: not modelled.
            _ => None,
        }
    } else {
        None
    };
    for rs in &owned {
        let rs_name = rs["metadata"]["name"].as_str().unwrap_or_default();
        let current = rs["spec"]["replicas"].as_i64().unwrap_or(0);
        let target = match (&paused_target, paused) {
            (Some(active), true) if rs["metadata"]["name"] == *active => replicas,
            (_, true) => current,
            _ if rs_name == new_name => replicas,
            _ => 0,
        };
        if current != target {
            world.merge_patch(
                Kind::ReplicaSet,
                namespace,
                rs_name,
                &json!({"spec": {"replicas": target}}),
            )?;
            scaled(current, target, rs_name)?;
        }
    }
    let sum = |field: &str| -> i64 {
        owned
            .iter()
            .map(|rs| rs["status"][field].as_i64().unwrap_or(0))
            .sum()
    };
    let new_rs = owned
        .iter()
        .find(|rs| rs["metadata"]["name"] == new_name.as_str());
    let updated_replicas = new_rs.map_or(0, |rs| rs["status"]["replicas"].as_i64().unwrap_or(0));
    let available = sum("availableReplicas");
    let max_unavailable = crate::sim::model::replica_math::bluegreen_max_unavailable(
        crate::sim::model::replica_math::IntOrPercent::from_json(
            &deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"],
        ),
        replicas as i32,
    );
    let stamp = world.stamp();
    let previous = |kind: &str| {
        deployment["status"]["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind).cloned())
    };
    let condition = |kind: &str, status: bool, reason: &str, message: String| {
        let status = if status { "True" } else { "False" };
        let since = previous(kind)
            .filter(|c| c["status"] == status)
            .map_or(json!(stamp), |c| c["lastTransitionTime"].clone());
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastUpdateTime": stamp, "lastTransitionTime": since})
    };
    let condition_unknown = |kind: &str, reason: &str, message: String| {
        let mut c = condition(kind, true, reason, message);
        c["status"] = json!("Unknown");
        if previous(kind).is_some_and(|p| p["status"] == "Unknown" && p["reason"] == reason) {
            c["lastTransitionTime"] =
                previous(kind).map_or(json!(stamp), |p| p["lastTransitionTime"].clone());
        } else {
            c["lastTransitionTime"] = json!(stamp);
        }
        c
    };
    let progressing_reason = previous("Progressing").map(|c| c["reason"].clone());
    // A reported lack of progress is not overwritten by the pause (checkPausedConditions).
    let timed_out = progressing_reason
        .as_ref()
        .is_some_and(|r| r == "ProgressDeadlineExceeded");
    // Resumed is said once, on the first sync after the pause; the rollout then progresses.
    let was_paused = !paused
        && progressing_reason
            .as_ref()
            .is_some_and(|r| r == "DeploymentPaused");
    let is_available = available >= replicas - i64::from(max_unavailable);
    let done = updated_replicas == replicas && available >= replicas;
    let mut d = deployment.clone();
    d["status"] = json!({
        "observedGeneration": deployment["metadata"]["generation"],
        "replicas": sum("replicas"),
        "updatedReplicas": updated_replicas,
        "readyReplicas": sum("readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": (sum("replicas") - available).max(0),
        "conditions": [
            if is_available {
                condition("Available", true, "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
            } else {
                condition("Available", false, "MinimumReplicasUnavailable", "Deployment does not have minimum availability.".into())
            },
            if paused && !timed_out {
                condition_unknown("Progressing", "DeploymentPaused", "Deployment is paused".into())
            } else if was_paused && !timed_out {
                condition_unknown("Progressing", "DeploymentResumed", "Deployment is resumed".into())
            } else if done {
                condition("Progressing", true, "NewReplicaSetAvailable", format!("ReplicaSet \"{new_name}\" has successfully progressed."))
            } else {
                condition("Progressing", true, "ReplicaSetUpdated", format!("ReplicaSet \"{new_name}\" is progressing."))
            },
        ],
    });
    if let Some(count) = deployment["status"]["collisionCount"].as_i64() {
        d["status"]["collisionCount"] = json!(count);
    }
    // lastUpdateTime moves only when something else changed.
    if let Some(old) = deployment["status"]["conditions"].as_array() {
        for c in d["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if let Some(o) = old.iter().find(|o| o["type"] == c["type"])
                && o["status"] == c["status"]
                && o["reason"] == c["reason"]
            {
                c["lastUpdateTime"] = o["lastUpdateTime"].clone();
            }
        }
    }
    world.replace(Kind::Deployment, d)?;
    Ok(())
}
