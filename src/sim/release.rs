//! A short-form story's release and the traffic split the backend reads, against the store.
//!
//! A release is the user's spec change: the new image in the Rollout's pod template (or in
//! the Deployment its `workloadRef` names), written through the store as `kubectl apply`
//! would, so `metadata.generation` moves and the model reacts to the stored object as Argo's
//! controller would. It must not decide what the controller does next.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::model::inputs::Release;
use super::split::{self, Share};
use super::{SimHandle, StoreError, resource, target_key};
use crate::sim::scenario::Target;

impl SimHandle {
    /// Sets the release's image in its container and stores the object.
    pub fn release(&self, release: &Release, t: DateTime<Utc>) -> Result<(), StoreError> {
        let rollouts = resource::by_kind("argoproj.io/v1alpha1", "Rollout")
            .expect("the simulator serves Rollouts");
        let ns = &release.rollout.namespace;
        let rollout_target = Target {
            resource: rollouts,
            namespace: ns.clone(),
            name: release.rollout.name.clone(),
        };
        let rollout = self.get(&target_key(&rollout_target));
        let deployment = rollout
            .as_ref()
            .and_then(|r| r.pointer("/spec/workloadRef/name"))
            .and_then(Value::as_str)
            .map(|name| Target {
                resource: resource::by_kind("apps/v1", "Deployment")
                    .expect("the simulator serves Deployments"),
                namespace: ns.clone(),
                name: name.to_string(),
            });
        let target = deployment.unwrap_or(rollout_target);
        let Some(current) = self.get(&target_key(&target)) else {
            tracing::warn!("release {}: {} is gone", release.image, target.describe());
            return Ok(());
        };
        let mut containers = current
            .pointer("/spec/template/spec/containers")
            .cloned()
            .unwrap_or(Value::Array(Vec::new()));
        for c in containers.as_array_mut().into_iter().flatten() {
            if c.get("name").and_then(Value::as_str) == Some(release.container.as_str()) {
                c["image"] = Value::String(release.image.clone());
            }
        }
        let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": containers}}}});
        self.commit(|s| s.merge_patch(&target_key(&target), &patch, t))?;
        Ok(())
    }

    /// The split of requests to Service `namespace/service` now (see [`split::split`]).
    pub fn traffic_split(&self, namespace: &str, service: &str) -> Vec<Share> {
        let services = self.list_objects("v1", "Service", Some(namespace));
        let Some(svc) = services
            .iter()
            .find(|s| s.pointer("/metadata/name").and_then(Value::as_str) == Some(service))
        else {
            return Vec::new();
        };
        let rollouts = self.list_objects("argoproj.io/v1alpha1", "Rollout", Some(namespace));
        let pods = self.list_objects("v1", "Pod", Some(namespace));
        split::split(svc, &rollouts, &services, &pods)
    }
}
