//! The Rollout controller's frame (rollout/controller.go, context.go, sync.go): for each
//! Rollout, claim its ReplicaSets, create the new one for the current pod template
//! (`NAME-HASH`, `rollouts-pod-template-hash`, revision annotations, NewReplicaSetCreated /
//! RolloutUpdated Events), scale ReplicaSets with ScalingReplicaSet Events, check the pause
//! conditions, hand over to the strategy ([`super::canary`], [`super::bluegreen`]), and
//! persist the status — observedGeneration, progressDeadlineAbort, pause status, conditions,
//! phase and message — with the RolloutPaused / RolloutResumed / RolloutNotCompleted /
//! RolloutAborted Events. The story's `controller:` (lag, stop, start) and `plugin: {fail}`
//! act here.
//!
//! Owns: Rollout status and metadata annotations, and the ReplicaSets a Rollout owns. It
//! must not write pods (the ReplicaSet controller does) nor AnalysisRun status (the
//! AnalysisRun controller does).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::conditions::{self as cond, Pause};
use super::replica_math::Rs;
use super::world::{Kind, World, owned_by, owner_reference, selector_of, template_hash};
use crate::sim::StoreError;

pub const HASH_LABEL: &str = "rollouts-pod-template-hash";
pub const REVISION: &str = "rollout.argoproj.io/revision";
pub const DESIRED_REPLICAS: &str = "rollout.argoproj.io/desired-replicas";
pub const SCALE_DOWN_DEADLINE: &str = "scale-down-deadline";
pub const MANAGED_BY: &str = "argo-rollouts.argoproj.io/managed-by-rollouts";

/// How the controller observes, from the story's `controller:` and `plugin:` actions.
#[derive(Debug, Default)]
pub struct Controller {
    /// Changes by others are reconciled this long after they are first seen.
    pub lag: Duration,
    pub stopped: bool,
    /// The traffic-router plugin failed to load with this message.
    pub plugin_failure: Option<String>,
    /// Per Rollout: the resourceVersion the controller last wrote or saw, and when it first
    /// saw a newer one.
    seen: HashMap<(String, String), Seen>,
    /// What enqueues each Rollout (a controller that starts again lists everything anew).
    pub triggers: super::triggers::Triggers,
}

impl Controller {
    pub fn tick(&mut self, world: &World) {
        if self.stopped {
            return;
        }
        for ro in world.list(Kind::Rollout, None) {
            let ro = super::workload::note_generation(world, ro);
            let key = (
                ro["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                ro["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            let rv = ro["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if !self.lag.is_zero() {
                let entry = self.seen.entry(key.clone()).or_insert((rv.clone(), None));
                if entry.0 != rv {
                    let first = *entry.1.get_or_insert(world.now);
                    if world.now - first < chrono::Duration::from_std(self.lag).unwrap_or_default()
                    {
                        continue;
                    }
                }
            }
            if self.plugin_failure.is_some()
                && !ro["spec"]["strategy"]["canary"]["trafficRouting"]["plugins"].is_null()
            {
                // Argo cannot build the traffic-routing reconciler: the sync fails before
                // any status is written (the controller only logs the error).
                continue;
            }
            let watched = super::triggers::watched(world, &ro);
            if !self.triggers.due(world, &ro, &key, &watched) {
                continue;
            }
            if let Err(err) = reconcile(world, &ro) {
                tracing::debug!("rollout controller {}/{}: {err}", key.0, key.1);
            }
            self.triggers.reconciled(key.clone(), watched, world.now);
            let now_rv = world
                .get(Kind::Rollout, &key.0, &key.1)
                .and_then(|r| {
                    r["metadata"]["resourceVersion"]
                        .as_str()
                        .map(str::to_string)
                })
                .unwrap_or_default();
            self.seen.insert(key, (now_rv, None));
        }
    }
}

/// The resourceVersion last written or seen, and when a newer one was first seen.
type Seen = (String, Option<chrono::DateTime<chrono::Utc>>);

/// One reconcile's view of a Rollout and its ReplicaSets (rolloutContext).
pub struct Ctx<'w> {
    pub world: &'w World<'w>,
    pub ro: Value,
    pub namespace: String,
    pub name: String,
    pub replicas: i64,
    pub new_rs: Option<Value>,
    pub stable_rs: Option<Value>,
    /// Owned ReplicaSets other than the new and the stable one.
    pub others: Vec<Value>,
    pub all: Vec<Value>,
    pub pause: Pause,
    /// The strategy's part of the status (weights, selectors, analysis run statuses).
    pub new_status: Value,
}

pub fn hash_of(rs: &Value) -> &str {
    rs["metadata"]["labels"][HASH_LABEL]
        .as_str()
        .unwrap_or_default()
}

pub fn revision_of(object: &Value) -> i64 {
    object["metadata"]["annotations"][REVISION]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// A ReplicaSet as the replica arithmetic sees it.
pub fn rs(object: &Value) -> Rs {
    Rs {
        name: object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        replicas: object["spec"]["replicas"].as_i64().unwrap_or(1) as i32,
        available: object["status"]["availableReplicas"].as_i64().unwrap_or(0) as i32,
        status_replicas: object["status"]["replicas"].as_i64().unwrap_or(0) as i32,
    }
}

impl Ctx<'_> {
    pub fn now(&self) -> String {
        self.world.stamp()
    }

    pub fn event(&self, warning: bool, reason: &str, message: &str) {
        let kind = if warning { "Warning" } else { "Normal" };
        if let Err(err) = self
            .world
            .event(&self.ro, kind, reason, message, "rollouts-controller")
        {
            tracing::debug!("rollout event: {err}");
        }
    }

    pub fn spec(&self) -> &Value {
        &self.ro["spec"]
    }

    pub fn status(&self) -> &Value {
        &self.ro["status"]
    }

    pub fn is_aborted(&self) -> bool {
        self.pause.is_aborted(&self.ro)
    }

    /// Scales a ReplicaSet (and its desired-replicas annotation), with Argo's Event. True
    /// when its size changed.
    pub fn scale(&mut self, target: &Value, replicas: i64) -> Result<bool, StoreError> {
        let name = target["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let Some(current) = self.world.get(Kind::ReplicaSet, &self.namespace, &name) else {
            return Ok(false);
        };
        let old = current["spec"]["replicas"].as_i64().unwrap_or(1);
        let desired = self.replicas.to_string();
        let annotation_ok =
            current["metadata"]["annotations"][DESIRED_REPLICAS] == desired.as_str();
        if old == replicas && annotation_ok {
            return Ok(false);
        }
        let mut patch = json!({"metadata": {"annotations": {DESIRED_REPLICAS: desired}}, "spec": {"replicas": replicas}});
        if replicas == 0 && !self.delay_scale_down_on_abort() {
            patch["metadata"]["annotations"][SCALE_DOWN_DEADLINE] = Value::Null;
        }
        let change = self
            .world
            .merge_patch(Kind::ReplicaSet, &self.namespace, &name, &patch)?;
        let updated = (*change.object).clone();
        self.replace_rs(updated);
        if old != replicas {
            let verb = if replicas > old { "up" } else { "down" };
            self.event(
                false,
                "ScalingReplicaSet",
                &format!(
                    "Scaled {verb} ReplicaSet {name} (revision {}) from {old} to {replicas}",
                    revision_of(target)
                ),
            );
            return Ok(true);
        }
        Ok(false)
    }

    /// Refreshes one ReplicaSet in the context after a write.
    pub fn replace_rs(&mut self, updated: Value) {
        let name = updated["metadata"]["name"].clone();
        for slot in self
            .new_rs
            .iter_mut()
            .chain(self.stable_rs.iter_mut())
            .chain(self.others.iter_mut())
            .chain(self.all.iter_mut())
        {
            if slot["metadata"]["name"] == name {
                *slot = updated.clone();
            }
        }
    }

    /// Sets or removes a ReplicaSet's scale-down-deadline annotation.
    pub fn set_deadline(
        &mut self,
        target: &Value,
        deadline: Option<String>,
    ) -> Result<(), StoreError> {
        let name = target["metadata"]["name"].as_str().unwrap_or_default();
        if target["metadata"]["annotations"][SCALE_DOWN_DEADLINE].as_str() == deadline.as_deref() {
            return Ok(());
        }
        let patch = json!({"metadata": {"annotations": {SCALE_DOWN_DEADLINE: deadline}}});
        let change = self
            .world
            .merge_patch(Kind::ReplicaSet, &self.namespace, name, &patch)?;
        self.replace_rs((*change.object).clone());
        Ok(())
    }

    /// abortScaleDownDelaySeconds: None for 0 ("never"), else the delay (default 30 s, only
    /// for blue-green and traffic-routed canaries), and whether it was written.
    pub fn abort_delay(&self) -> (Option<i64>, bool) {
        let s = &self.spec()["strategy"];
        let (set, applies) = if s["blueGreen"].is_object() {
            (&s["blueGreen"]["abortScaleDownDelaySeconds"], true)
        } else {
            (
                &s["canary"]["abortScaleDownDelaySeconds"],
                !s["canary"]["trafficRouting"].is_null(),
            )
        };
        if !applies {
            return (Some(0), false);
        }
        match set.as_i64() {
            Some(0) => (None, true),
            Some(n) => (Some(n), true),
            None => (Some(30), false),
        }
    }

    /// shouldDelayScaleDownOnAbort.
    pub fn delay_scale_down_on_abort(&self) -> bool {
        if !self.is_aborted() || self.stable_rs.is_none() {
            return false;
        }
        let s = &self.spec()["strategy"];
        if s["canary"].is_object() && s["canary"]["trafficRouting"].is_null() {
            return false;
        }
        let (delay, explicit) = self.abort_delay();
        if delay.is_none() {
            return false;
        }
        s["canary"]["dynamicStableScale"] != true || explicit
    }
}

fn reconcile(world: &World, stored: &Value) -> Result<(), StoreError> {
    let namespace = stored["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default")
        .to_string();
    let name = stored["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut ro = stored.clone();
    if ro["spec"]["workloadRef"].is_object() && !super::workload::resolve(world, &mut ro) {
        return Ok(());
    }
    let template = ro["spec"]["template"].clone();
    let hash = template_hash(&template, ro["status"]["collisionCount"].as_i64());
    let uid = &ro["metadata"]["uid"];
    let all: Vec<Value> = world
        .list(Kind::ReplicaSet, Some(&namespace))
        .into_iter()
        .filter(|rs| owned_by(rs, uid))
        .map(|rs| (*rs).clone())
        .collect();
    let replicas = ro["spec"]["replicas"].as_i64().unwrap_or(1);
    let mut ctx = Ctx {
        world,
        ro,
        namespace,
        name,
        replicas,
        new_rs: all.iter().find(|rs| hash_of(rs) == hash).cloned(),
        stable_rs: None,
        others: Vec::new(),
        all,
        pause: Pause::default(),
        new_status: json!({}),
    };
    let stable = ctx.status()["stableRS"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ctx.stable_rs = ctx
        .all
        .iter()
        .find(|rs| !stable.is_empty() && hash_of(rs) == stable)
        .cloned();
    check_paused_conditions(&mut ctx)?;
    if ctx.new_rs.is_none() {
        ctx.new_rs = Some(create_replica_set(&mut ctx, &template, &hash)?);
    } else {
        sync_revision(&mut ctx)?;
    }
    let (new_name, stable_name) = (
        ctx.new_rs.as_ref().map(|r| r["metadata"]["name"].clone()),
        ctx.stable_rs
            .as_ref()
            .map(|r| r["metadata"]["name"].clone()),
    );
    ctx.others = ctx
        .all
        .iter()
        .filter(|r| {
            Some(&r["metadata"]["name"]) != new_name.as_ref()
                && Some(&r["metadata"]["name"]) != stable_name.as_ref()
        })
        .cloned()
        .collect();
    if ctx.spec()["strategy"]["blueGreen"].is_object() {
        super::bluegreen::reconcile(&mut ctx)
    } else {
        super::canary::reconcile(&mut ctx)
    }
}

/// checkPausedConditions: the Progressing (paused, resumed, retry) and Paused conditions,
/// written before the strategy runs.
fn check_paused_conditions(ctx: &mut Ctx) -> Result<(), StoreError> {
    let generation = ctx.ro["metadata"]["generation"]
        .as_i64()
        .unwrap_or(0)
        .to_string();
    if ctx.status()["observedGeneration"].as_str() != Some(generation.as_str()) {
        return Ok(());
    }
    let status = ctx.status().clone();
    let progressing = cond::get(&status, cond::PROGRESSING);
    let prog_paused = progressing.is_some_and(|c| c["reason"] == cond::PAUSED_REASON);
    let paused = status["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
        || ctx.spec()["paused"] == true;
    let abort_cond = progressing.is_some_and(|c| c["reason"] == cond::ABORTED);
    let now = ctx.now();
    let mut updates = Vec::new();
    if paused != prog_paused && !abort_cond && !cond::completed(&status) {
        let (reason, message) = if paused {
            (cond::PAUSED_REASON, "Rollout is paused")
        } else {
            (cond::RESUMED, "Rollout is resumed")
        };
        updates.push(cond::condition(
            cond::PROGRESSING,
            "Unknown",
            reason,
            message,
            &now,
        ));
    }
    if status["abort"] != true && abort_cond {
        updates.push(cond::condition(
            cond::PROGRESSING,
            "Unknown",
            cond::RETRY,
            "Retrying Rollout after abort",
            &now,
        ));
    }
    let paused_true = cond::get(&status, cond::PAUSED).is_some_and(|c| c["status"] == "True");
    if paused != paused_true && !abort_cond {
        let s = if paused { "True" } else { "False" };
        updates.push(cond::condition(
            cond::PAUSED,
            s,
            cond::PAUSED_REASON,
            "Rollout is paused",
            &now,
        ));
    }
    if updates.is_empty() {
        return Ok(());
    }
    let mut new = status;
    for c in updates {
        cond::set(&mut new, c);
    }
    write_status(ctx, new)
}

/// Writes the Rollout's whole status (skipped when unchanged) and keeps the context's copy.
pub fn write_status(ctx: &mut Ctx, status: Value) -> Result<(), StoreError> {
    let Some(current) = ctx.world.get(Kind::Rollout, &ctx.namespace, &ctx.name) else {
        return Ok(());
    };
    let mut updated = (*current).clone();
    updated["status"] = status.clone();
    updated["metadata"]["resourceVersion"] = ctx.ro["metadata"]["resourceVersion"].clone();
    ctx.world.replace(Kind::Rollout, updated)?;
    ctx.ro["status"] = status;
    if let Some(fresh) = ctx.world.get(Kind::Rollout, &ctx.namespace, &ctx.name) {
        ctx.ro["metadata"] = fresh["metadata"].clone();
    }
    Ok(())
}

/// Sets the Rollout's revision annotation, with the RolloutUpdated Event.
fn set_rollout_revision(ctx: &mut Ctx, revision: i64) -> Result<(), StoreError> {
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
fn create_replica_set(ctx: &mut Ctx, template: &Value, hash: &str) -> Result<Value, StoreError> {
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
fn sync_revision(ctx: &mut Ctx) -> Result<(), StoreError> {
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

/// calculateBaseStatus: the counts and hashes every strategy starts from.
pub fn base_status(ctx: &Ctx) -> Value {
    let mut s = ctx.new_status.clone();
    let sum = |f: &str| -> i64 {
        ctx.all
            .iter()
            .map(|r| r["status"][f].as_i64().unwrap_or(0))
            .sum()
    };
    let current = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    s["currentPodHash"] = json!(current);
    s["replicas"] = json!(sum("replicas"));
    s["updatedReplicas"] = json!(
        ctx.new_rs
            .as_ref()
            .map_or(0, |r| r["status"]["replicas"].as_i64().unwrap_or(0))
    );
    s["readyReplicas"] = json!(sum("readyReplicas"));
    s["availableReplicas"] = json!(sum("availableReplicas"));
    s["HPAReplicas"] = json!(sum("replicas"));
    s["selector"] = json!(format_selector(&ctx.spec()["selector"]));
    if !ctx.status()["collisionCount"].is_null() {
        s["collisionCount"] = ctx.status()["collisionCount"].clone();
    }
    s["conditions"] = ctx.status()["conditions"].clone();
    let promote_full = ctx.status()["promoteFull"] == true
        && current != ctx.status()["stableRS"].as_str().unwrap_or_default();
    if promote_full {
        s["promoteFull"] = json!(true);
    }
    if !ctx.status()["restartedAt"].is_null() {
        s["restartedAt"] = ctx.status()["restartedAt"].clone();
    }
    s
}

fn format_selector(selector: &Value) -> String {
    let _ = selector_of(selector);
    selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// True when the step at the current index is a pause, analysis or experiment, or the
/// Rollout is paused (isIndefiniteStep).
pub fn indefinite_step(ro: &Value) -> bool {
    let steps = ro["spec"]["strategy"]["canary"]["steps"].as_array();
    let index = ro["status"]["currentStepIndex"].as_u64().unwrap_or(0) as usize;
    if let Some(step) = steps.and_then(|s| s.get(index))
        && (step.get("pause").is_some()
            || step.get("analysis").is_some()
            || step.get("experiment").is_some())
    {
        return true;
    }
    cond::get(&ro["status"], cond::PAUSED).is_some_and(|c| c["status"] == "True")
}

/// persistRolloutStatus: observedGeneration, progressDeadlineAbort, pause and abort status,
/// conditions, phase and message, then the write and its state-change Events.
pub fn persist(ctx: &mut Ctx, mut new: Value) -> Result<(), StoreError> {
    let generation = ctx.ro["metadata"]["generation"].as_i64().unwrap_or(0);
    new["observedGeneration"] = json!(generation.to_string());
    if ctx.ro["spec"]["workloadRef"].is_object()
        && let Some(g) =
            ctx.ro["metadata"]["annotations"][super::workload::WORKLOAD_GENERATION].as_str()
    {
        new["workloadObservedGeneration"] = json!(g);
    }
    let now = ctx.now();
    evaluate_progress_deadline_abort(ctx, &new);
    ctx.pause.apply(&ctx.ro, &mut new, &now);
    calculate_conditions(ctx, &mut new);
    let (phase, message) = cond::phase(&ctx.ro["spec"], &new);
    new["phase"] = json!(phase);
    new["message"] = json!(message);
    // Fields Argo leaves unset are omitted rather than written empty.
    if let Some(m) = new.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    let prev = ctx.status().clone();
    if prev == new {
        return Ok(());
    }
    write_status(ctx, new.clone())?;
    let was_paused = prev["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty());
    let paused = new["pauseConditions"].as_array().filter(|p| !p.is_empty());
    match (was_paused, paused) {
        (false, Some(p)) => {
            let reason = p[0]["reason"].as_str().unwrap_or_default();
            ctx.event(
                false,
                cond::PAUSED_REASON,
                &format!("Rollout is paused ({reason})"),
            );
        }
        (true, None) if new["abortedAt"].is_null() => {
            ctx.event(false, cond::RESUMED, "Rollout is resumed")
        }
        _ => {}
    }
    Ok(())
}

fn evaluate_progress_deadline_abort(ctx: &mut Ctx, new: &Value) {
    if ctx.spec()["progressDeadlineAbort"] != true || ctx.is_aborted() || cond::completed(new) {
        return;
    }
    if cond::progressing(ctx.spec(), ctx.status(), new)
        || indefinite_step(&ctx.ro)
        || waiting_for_scale_down(ctx)
    {
        return;
    }
    if !cond::timed_out(&ctx.ro, ctx.status(), ctx.world.now) {
        return;
    }
    let message = timeout_message(ctx);
    ctx.pause.abort(message.clone());
    ctx.event(true, cond::ABORTED, &message);
}

fn timeout_message(ctx: &Ctx) -> String {
    match &ctx.new_rs {
        Some(rs) => format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            rs["metadata"]["name"].as_str().unwrap_or_default()
        ),
        None => format!("Rollout \"{}\" has timed out progressing.", ctx.name),
    }
}

/// isWaitingForReplicaSetScaleDown.
fn waiting_for_scale_down(ctx: &Ctx) -> bool {
    ctx.others
        .iter()
        .any(|r| r["metadata"]["annotations"][SCALE_DOWN_DEADLINE].is_string())
}

/// calculateRolloutConditions.
fn calculate_conditions(ctx: &mut Ctx, new: &mut Value) {
    let now = ctx.now();
    let old = ctx.status().clone();
    let paused = new["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
        || ctx.spec()["paused"] == true;
    let aborted = ctx.is_aborted();
    let mut became_unhealthy = false;
    if !paused && cond::healthy(&ctx.ro, new) {
        cond::set(
            new,
            cond::condition(
                cond::HEALTHY,
                "True",
                cond::HEALTHY_REASON,
                "Rollout is healthy",
                &now,
            ),
        );
    } else if cond::get(&old, cond::HEALTHY).is_some() {
        became_unhealthy = cond::set(
            new,
            cond::condition(
                cond::HEALTHY,
                "False",
                cond::HEALTHY_REASON,
                "Rollout is not healthy",
                &now,
            ),
        );
    }
    if aborted {
        let mut message = format!(
            "Rollout aborted update to revision {}",
            revision_of(&ctx.ro)
        );
        if !ctx.pause.abort_message.is_empty() {
            message = format!("{message}: {}", ctx.pause.abort_message);
        }
        if cond::set(
            new,
            cond::condition(cond::PROGRESSING, "False", cond::ABORTED, &message, &now),
        ) {
            ctx.event(true, cond::ABORTED, &message);
        }
    }
    let current = cond::get(&old, cond::PROGRESSING).cloned();
    let new_rs_name = ctx
        .new_rs
        .as_ref()
        .and_then(|r| r["metadata"]["name"].as_str())
        .map(str::to_string);
    if !aborted {
        if cond::healthy(&ctx.ro, new) {
            let message = format!(
                "ReplicaSet \"{}\" has successfully progressed.",
                new_rs_name.clone().unwrap_or_default()
            );
            cond::set(
                new,
                cond::condition(
                    cond::PROGRESSING,
                    "True",
                    cond::NEW_RS_AVAILABLE,
                    &message,
                    &now,
                ),
            );
        } else if cond::progressing(ctx.spec(), &old, new) || became_unhealthy {
            let (reason, message) = if new["stableRS"] == new["currentPodHash"] && became_unhealthy
            {
                (
                    cond::RS_NOT_AVAILABLE,
                    "Rollout does not have minimum availability".to_string(),
                )
            } else {
                let message = match &new_rs_name {
                    Some(n) => format!("ReplicaSet \"{n}\" is progressing."),
                    None => format!("Rollout \"{}\" is progressing.", ctx.name),
                };
                (cond::REPLICA_SET_UPDATED, message)
            };
            let mut c = cond::condition(cond::PROGRESSING, "True", reason, &message, &now);
            if let Some(cur) = &current {
                if cur["status"] == "True" {
                    c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
                }
                cond::remove(new, cond::PROGRESSING);
            }
            cond::set(new, c);
        } else if !indefinite_step(&ctx.ro)
            && !waiting_for_scale_down(ctx)
            && cond::timed_out(&ctx.ro, new, ctx.world.now)
        {
            let message = timeout_message(ctx);
            cond::set(
                new,
                cond::condition(cond::PROGRESSING, "False", cond::TIMED_OUT, &message, &now),
            );
        }
    }
    let available = if ctx.spec()["strategy"]["blueGreen"].is_object() {
        let active = new["blueGreen"]["activeSelector"]
            .as_str()
            .unwrap_or_default();
        ctx.all
            .iter()
            .find(|r| !active.is_empty() && hash_of(r) == active)
            .is_some_and(|r| is_saturated(r, ctx.replicas))
    } else {
        ctx.all
            .iter()
            .map(|r| r["status"]["availableReplicas"].as_i64().unwrap_or(0))
            .sum::<i64>()
            >= ctx.replicas
    };
    let c = if available {
        cond::condition(
            cond::AVAILABLE,
            "True",
            cond::AVAILABLE_REASON,
            "Rollout has minimum availability",
            &now,
        )
    } else {
        cond::condition(
            cond::AVAILABLE,
            "False",
            cond::AVAILABLE_REASON,
            "Rollout does not have minimum availability",
            &now,
        )
    };
    cond::set(new, c);
    if cond::completed(new) {
        cond::set(
            new,
            cond::condition(
                cond::COMPLETED,
                "True",
                cond::COMPLETED_REASON,
                cond::COMPLETED_REASON,
                &now,
            ),
        );
    } else if cond::set(
        new,
        cond::condition(
            cond::COMPLETED,
            "False",
            cond::COMPLETED_REASON,
            cond::COMPLETED_REASON,
            &now,
        ),
    ) {
        let message = format!(
            "Rollout not completed, started update to revision {} ({})",
            revision_of(&ctx.ro),
            new["currentPodHash"].as_str().unwrap_or_default()
        );
        ctx.event(false, "RolloutNotCompleted", &message);
    }
}

/// IsSaturated: the ReplicaSet runs all the Rollout's replicas, all available.
pub fn is_saturated(rs: &Value, replicas: i64) -> bool {
    rs["spec"]["replicas"].as_i64() == Some(replicas)
        && rs["metadata"]["annotations"][DESIRED_REPLICAS].as_str()
            == Some(replicas.to_string().as_str())
        && rs["status"]["availableReplicas"].as_i64() == Some(replicas)
}

/// promoteStable: the new ReplicaSet becomes the stable one, with RolloutCompleted.
pub fn promote_stable(ctx: &mut Ctx, new: &mut Value, reason: &str) {
    ctx.pause.clear = true;
    ctx.pause.remove_abort = true;
    if let Some(m) = new.as_object_mut() {
        m.remove("promoteFull");
    }
    if new["blueGreen"].is_object() {
        new["blueGreen"]["scaleUpPreviewCheckPoint"] = Value::Null;
    }
    if let Some(steps) = ctx.spec()["strategy"]["canary"]["steps"].as_array() {
        new["currentStepIndex"] = if steps.is_empty() {
            Value::Null
        } else {
            json!(steps.len())
        };
    }
    if new["stableRS"] != new["currentPodHash"] {
        new["stableRS"] = new["currentPodHash"].clone();
        let message = format!(
            "Rollout completed update to revision {} ({}): {reason}",
            revision_of(&ctx.ro),
            new["currentPodHash"].as_str().unwrap_or_default()
        );
        ctx.event(false, cond::COMPLETED_REASON, &message);
    }
    super::workload::on_promoted(ctx);
}
