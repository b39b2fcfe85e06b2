//! The Rollout controller's new ReplicaSet (rollout/sync.go getAllReplicaSetsAndSyncRevision,
//! createDesiredReplicaSet, syncReplicaSetRevision): the ReplicaSet for the current pod
//! template (`NAME-HASH`, `rollouts-pod-template-hash`, the revision and desired-replicas
//! annotations, NewReplicaSetCreated / RolloutUpdated Events), a hash collision's
//! `status.collisionCount`, and the revision an undo brings back.
//!
//! Owns: creating the Rollout's ReplicaSets and their revision annotation, and the Rollout's
//! revision annotation. It must not scale ReplicaSets (the strategies do, through
//! [`Ctx::scale`]) nor write pods.

use serde_json::{Value, json};

use super::conditions as cond;
use super::rollouts::{Ctx, DESIRED_REPLICAS, HASH_LABEL, REVISION, revision_of, write_status};
use super::world::{Kind, owned_by, owner_reference};
use crate::sim::StoreError;

/// Sets the Rollout's revision annotation, with the RolloutUpdated Event.
pub(super) fn set_rollout_revision(ctx: &mut Ctx, revision: i64) -> Result<(), StoreError> {
    if revision_of(&ctx.ro) == revision {
        return Ok(());
    }
    let patch = json!({"metadata": {"annotations": {REVISION: revision.to_string()}}});
    let change = ctx
        .world
        .merge_patch(Kind::Rollout, &ctx.namespace, &ctx.name, &patch)?;
    ctx.ro["metadata"] = change.object["metadata"].clone();
    ctx.event(
        false,
        "RolloutUpdated",
        &format!("Rollout updated to revision {revision}"),
    );
    Ok(())
}

fn max_other_revision(ctx: &Ctx, except: &str) -> i64 {
    ctx.all
        .iter()
        .filter(|r| r["metadata"]["name"] != except)
        .map(revision_of)
        .max()
        .unwrap_or(0)
}

/// createDesiredReplicaSet.
pub(super) fn create_replica_set(
    ctx: &mut Ctx,
    template: &Value,
    hash: &str,
) -> Result<Value, StoreError> {
    let name = format!("{}-{hash}", ctx.name);
    let revision = max_other_revision(ctx, &name) + 1;
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"][HASH_LABEL] = json!(hash);
    let mut selector = ctx.spec()["selector"].clone();
    selector["matchLabels"][HASH_LABEL] = json!(hash);
    let mut annotations =
        json!({REVISION: revision.to_string(), DESIRED_REPLICAS: ctx.replicas.to_string()});
    for (k, v) in ctx.ro["metadata"]["annotations"]
        .as_object()
        .into_iter()
        .flatten()
    {
        if k != REVISION && k != "kubectl.kubernetes.io/last-applied-configuration" {
            annotations[k] = v.clone();
        }
    }
    let object = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": name, "namespace": ctx.namespace,
            "labels": rs_template["metadata"]["labels"],
            "annotations": annotations,
            "ownerReferences": [owner_reference(&ctx.ro)],
        },
        "spec": {
            "replicas": 0,
            "minReadySeconds": ctx.spec()["minReadySeconds"].as_i64().unwrap_or(0),
            "selector": selector,
            "template": rs_template,
        },
    });
    let change = match ctx.world.create(Kind::ReplicaSet, object) {
        Err(StoreError::AlreadyExists { .. }) => return Err(collision(ctx, &name, template)),
        other => other?,
    };
    let created = (*change.object).clone();
    ctx.all.push(created.clone());
    set_rollout_revision(ctx, revision)?;
    ctx.event(
        false,
        cond::NEW_REPLICA_SET_CREATED,
        &format!("Created ReplicaSet {name} (revision {revision})"),
    );
    let mut status = ctx.status().clone();
    let now = ctx.now();
    cond::set(
        &mut status,
        cond::condition(
            cond::PROGRESSING,
            "True",
            cond::NEW_REPLICA_SET_CREATED,
            &format!("Created new replica set \"{name}\""),
            &now,
        ),
    );
    write_status(ctx, status)?;
    Ok(created)
}

/// createDesiredReplicaSet when the name is taken: the Rollout's own ReplicaSet of the same
/// template (a stale cache) is not, anything else is a hash collision — `status.collisionCount`
/// goes up, and the next reconcile hashes the template with it (rollout/sync.go). A
/// workloadRef Deployment of the same name does not collide: Kubernetes hashes the template
/// differently (see [`super::world::deployment_template_hash`]).
fn collision(ctx: &mut Ctx, name: &str, template: &Value) -> StoreError {
    let taken = StoreError::AlreadyExists {
        kind: "ReplicaSet",
        namespace: ctx.namespace.clone(),
        name: name.to_string(),
    };
    let Some(existing) = ctx.world.get(Kind::ReplicaSet, &ctx.namespace, name) else {
        return taken;
    };
    if owned_by(&existing, &ctx.ro["metadata"]["uid"])
        && template_equal_ignoring_hash(&existing["spec"]["template"], template)
    {
        // Ours already: the next reconcile finds it.
        return taken;
    }
    let mut status = ctx.status().clone();
    let before = status["collisionCount"].as_i64().unwrap_or(0);
    status["collisionCount"] = json!(before + 1);
    if let Err(err) = write_status(ctx, status) {
        return err;
    }
    tracing::debug!(
        "Found a hash collision - bumped collisionCount ({before}->{}) to resolve it",
        before + 1
    );
    taken
}

/// PodTemplateEqualIgnoreHash.
fn template_equal_ignoring_hash(rs_template: &Value, template: &Value) -> bool {
    let mut a = rs_template.clone();
    if let Some(labels) = a["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            a["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
    }
    let mut b = template.clone();
    if b["metadata"]["labels"]
        .as_object()
        .is_some_and(|l| l.is_empty())
    {
        b["metadata"].as_object_mut().map(|m| m.remove("labels"));
    }
    a == b
}

/// syncReplicaSetRevision: the new ReplicaSet's revision is the highest (an undo brings an
/// old ReplicaSet back as the newest revision).
pub(super) fn sync_revision(ctx: &mut Ctx) -> Result<(), StoreError> {
    let Some(new_rs) = ctx.new_rs.clone() else {
        return Ok(());
    };
    let name = new_rs["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let max_old = max_other_revision(ctx, &name);
    let mut revision = revision_of(&new_rs);
    if revision <= max_old {
        revision = max_old + 1;
        let patch = json!({"metadata": {"annotations": {REVISION: revision.to_string()}}});
        let change = ctx
            .world
            .merge_patch(Kind::ReplicaSet, &ctx.namespace, &name, &patch)?;
        ctx.replace_rs((*change.object).clone());
    }
    set_rollout_revision(ctx, revision)?;
    if cond::get(ctx.status(), cond::PROGRESSING).is_none() {
        let mut status = ctx.status().clone();
        let now = ctx.now();
        cond::set(
            &mut status,
            cond::condition(
                cond::PROGRESSING,
                "True",
                cond::FOUND_NEW_RS,
                &format!("Found new replica set \"{name}\""),
                &now,
            ),
        );
        write_status(ctx, status)?;
    }
    Ok(())
}
