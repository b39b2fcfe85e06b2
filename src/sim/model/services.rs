//! The Services a Rollout manages (rollout/service.go): the stable, canary, active and
//! preview Services' `rollouts-pod-template-hash` selector, switched only to a ReplicaSet
//! with available pods, with the managed-by annotation and the SwitchService Event.
//!
//! Owns: those Services' selectors. It must not create Services (the user applies them) nor
//! touch any other field of them.

use serde_json::{Value, json};

use super::rollouts::{Ctx, HASH_LABEL, MANAGED_BY, hash_of};
use super::world::Kind;
use crate::sim::StoreError;

/// IsReplicaSetAvailable: every desired pod available.
pub fn rs_available(rs: &Value) -> bool {
    let replicas = rs["spec"]["replicas"].as_i64().unwrap_or(1);
    let available = rs["status"]["availableReplicas"].as_i64().unwrap_or(0);
    replicas != 0 && available != 0 && replicas <= available
}

/// ensureSVCTargets: points Service `name` at `rs`, once `rs` has available pods (all of
/// them when the Service is not yet managed).
pub fn ensure_targets(
    ctx: &mut Ctx,
    name: Option<&str>,
    rs: Option<&Value>,
    check_availability: bool,
) -> Result<(), StoreError> {
    let (Some(name), Some(rs)) = (name.filter(|n| !n.is_empty()), rs) else {
        return Ok(());
    };
    let Some(svc) = ctx.world.get(Kind::Service, &ctx.namespace, name) else {
        return Ok(());
    };
    let current = svc["spec"]["selector"][HASH_LABEL]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let desired = hash_of(rs).to_string();
    if current == desired {
        return Ok(());
    }
    let managed = svc["metadata"]["annotations"][MANAGED_BY].is_string();
    if !managed && check_availability && !rs_available(rs) {
        return Ok(());
    }
    if check_availability && rs["status"]["availableReplicas"].as_i64().unwrap_or(0) == 0 {
        return Ok(());
    }
    switch(ctx, &svc, &desired)
}

/// switchServiceSelector.
pub fn switch(ctx: &mut Ctx, svc: &Value, hash: &str) -> Result<(), StoreError> {
    let name = svc["metadata"]["name"].as_str().unwrap_or_default();
    let old = svc["spec"]["selector"][HASH_LABEL]
        .as_str()
        .unwrap_or_default();
    let managed = svc["metadata"]["annotations"][MANAGED_BY].is_string();
    if old == hash && managed {
        return Ok(());
    }
    let mut patch = json!({"spec": {"selector": {HASH_LABEL: hash}}});
    if !managed {
        patch["metadata"] = json!({"annotations": {MANAGED_BY: ctx.name}});
    }
    ctx.world
        .merge_patch(Kind::Service, &ctx.namespace, name, &patch)?;
    ctx.event(
        false,
        "SwitchService",
        &format!("Switched selector for service '{name}' from '{old}' to '{hash}'"),
    );
    Ok(())
}

/// The hash a Service selects, if it exists.
pub fn selected(ctx: &Ctx, name: Option<&str>) -> Option<String> {
    let svc = ctx.world.get(Kind::Service, &ctx.namespace, name?)?;
    svc["spec"]["selector"][HASH_LABEL]
        .as_str()
        .map(str::to_string)
}
