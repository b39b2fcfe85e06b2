//! workloadRef (rollout/sync.go, replicaset.go, the templateRef resolver): a Rollout that
//! runs a Deployment's pod template, and the Deployment's scale-down as
//! `workloadRef.scaleDown` says — `never`, `onsuccess` (to zero once the Rollout is Healthy
//! on its first revision), `progressively` (the Deployment loses a replica for each ready
//! one the Rollout gains).
//!
//! Resolving the reference (rollout/templateref.go, informerBasedTemplateResolver): each
//! reconcile reads the Deployment's pod template (and its selector when the Rollout has
//! none) into the Rollout it works on, and the Deployment's `metadata.generation` into the
//! `rollout.argoproj.io/workload-generation` annotation. The resolver's informer also patches
//! that annotation onto the stored Rollout whenever the Deployment changes
//! (updateRolloutsReferenceAnnotation), which enqueues the Rollout; persistRolloutStatus
//! then copies it to `status.workloadObservedGeneration` (rollout/sync.go). A release made
//! by editing the Deployment thus moves the Deployment's generation, not the Rollout's: while
//! the controller is stopped the annotation and workloadObservedGeneration stay behind.
//!
//! Owns: writing the referenced Deployment's `spec.replicas` and the Rollout's
//! workload-generation annotation. It must not touch the Deployment's ReplicaSets (the
//! Deployment controller does).

use std::sync::Arc;

use serde_json::{Value, json};

use super::rollouts::{Ctx, revision_of};
use super::world::{Kind, World};

/// WorkloadGenerationAnnotation (utils/annotations/annotations.go).
pub const WORKLOAD_GENERATION: &str = "rollout.argoproj.io/workload-generation";

/// The Deployment a Rollout's workloadRef names, if it exists.
pub fn deployment_of(world: &World, ro: &Value) -> Option<Arc<Value>> {
    let reference = &ro["spec"]["workloadRef"];
    if reference["kind"]
        .as_str()
        .is_some_and(|k| k != "Deployment")
    {
        return None;
    }
    let ns = ro["metadata"]["namespace"].as_str().unwrap_or("default");
    world.get(Kind::Deployment, ns, reference["name"].as_str()?)
}

/// The resolver's informer: the Deployment's generation patched onto the stored Rollout
/// when it differs (a merge patch of the annotation alone). Returns the Rollout as stored
/// after it.
pub fn note_generation(world: &World, ro: Arc<Value>) -> Arc<Value> {
    if !ro["spec"]["workloadRef"].is_object() {
        return ro;
    }
    let Some(d) = deployment_of(world, &ro) else {
        return ro;
    };
    let generation = d["metadata"]["generation"]
        .as_i64()
        .unwrap_or(0)
        .to_string();
    if ro["metadata"]["annotations"][WORKLOAD_GENERATION].as_str() == Some(generation.as_str()) {
        return ro;
    }
    let ns = ro["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = ro["metadata"]["name"].as_str().unwrap_or_default();
    let patch = json!({"metadata": {"annotations": {WORKLOAD_GENERATION: generation}}});
    match world.merge_patch(Kind::Rollout, ns, name, &patch) {
        Ok(change) => change.object.clone(),
        Err(err) => {
            tracing::debug!("workload-generation annotation: {err}");
            ro
        }
    }
}

/// Resolve: the Deployment's template (and selector, when the Rollout has none) and
/// generation into the Rollout being reconciled. False when the Deployment is missing (Argo
/// fails the sync and retries).
pub fn resolve(world: &World, ro: &mut Value) -> bool {
    let Some(d) = deployment_of(world, ro) else {
        return false;
    };
    ro["spec"]["template"] = d["spec"]["template"].clone();
    if ro["spec"]["selector"].is_null() && d["spec"]["selector"].is_object() {
        ro["spec"]["selector"] = d["spec"]["selector"].clone();
    }
    let generation = d["metadata"]["generation"]
        .as_i64()
        .unwrap_or(0)
        .to_string();
    ro["metadata"]["annotations"][WORKLOAD_GENERATION] = json!(generation);
    true
}

fn scale_down(ctx: &Ctx) -> Option<(String, String)> {
    let reference = &ctx.spec()["workloadRef"];
    let name = reference["name"].as_str()?.to_string();
    let mode = reference["scaleDown"]
        .as_str()
        .unwrap_or("never")
        .to_string();
    Some((name, mode))
}

fn scale_deployment(ctx: &Ctx, name: &str, replicas: i64) {
    let Some(d) = ctx.world.get(Kind::Deployment, &ctx.namespace, name) else {
        return;
    };
    if d["spec"]["replicas"].as_i64() == Some(replicas) {
        return;
    }
    if let Err(err) = ctx.world.merge_patch(
        Kind::Deployment,
        &ctx.namespace,
        name,
        &json!({"spec": {"replicas": replicas}}),
    ) {
        tracing::debug!("workloadRef scale: {err}");
    }
}

/// promoteStable's scale-down for `onsuccess`.
pub fn on_promoted(ctx: &Ctx) {
    if let Some((name, mode)) = scale_down(ctx)
        && mode == "onsuccess"
        && revision_of(&ctx.ro) == 1
        && ctx.status()["phase"] == "Healthy"
    {
        scale_deployment(ctx, &name, 0);
    }
}

/// reconcileNewReplicaSet's scale-down for `progressively`.
pub fn progressively(ctx: &Ctx, new_replicas: i64) {
    let Some((name, mode)) = scale_down(ctx) else {
        return;
    };
    if mode != "progressively" || ctx.new_rs.as_ref().is_none_or(|r| revision_of(r) != 1) {
        return;
    }
    if ctx.status()["phase"] == "Healthy" {
        scale_deployment(ctx, &name, 0);
        return;
    }
    let ready = ctx.status()["readyReplicas"].as_i64().unwrap_or(0);
    let old = ctx
        .new_rs
        .as_ref()
        .and_then(|r| r["spec"]["replicas"].as_i64())
        .unwrap_or(0);
    if ready > 0 || old > new_replicas {
        scale_deployment(ctx, &name, (ctx.replicas - ready).max(0));
    }
}
