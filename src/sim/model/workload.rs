//! workloadRef (rollout/sync.go, replicaset.go, the templateRef resolver): a Rollout that
//! runs a Deployment's pod template, and the Deployment's scale-down as
//! `workloadRef.scaleDown` says — `never`, `onsuccess` (to zero once the Rollout is Healthy
//! on its first revision), `progressively` (the Deployment loses a replica for each ready
//! one the Rollout gains).
//!
//! Owns: writing the referenced Deployment's `spec.replicas` and the Rollout's
//! workload-generation annotation. It must not touch the Deployment's ReplicaSets (the
//! Deployment controller does).

use serde_json::json;

use super::rollouts::{Ctx, revision_of};
use super::world::Kind;

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
