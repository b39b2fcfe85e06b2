//! The Rollout controller's frame (rollout/controller.go, context.go, sync.go): when each
//! Rollout is reconciled (the story's `controller:` lag, stop and start, and `plugin: {fail}`
//! act here), the reconcile's context ([`Ctx`]: the Rollout, its ReplicaSets, the pause
//! state) with the ReplicaSet scaling every strategy uses (ScalingReplicaSet Events,
//! scale-down deadlines), the pause conditions checked before the strategy, and the hand-over
//! to the strategy ([`super::canary`], [`super::bluegreen`]). The new ReplicaSet is
//! [`super::rollout_replicasets`]'s; the status, conditions, phase and their Events are
//! [`super::rollout_status`]'s.
//!
//! Owns: Rollout status and metadata annotations, and the ReplicaSets a Rollout owns. It
//! must not write pods (the ReplicaSet controller does) nor AnalysisRun status (the
//! AnalysisRun controller does).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::conditions::{self as cond, Pause};
use super::replica_math::Rs;
use super::world::{Kind, World, template_hash};
use crate::sim::StoreError;

use super::rollout_replicasets::{create_replica_set, sync_revision};
pub use super::rollout_status::{
    base_status, indefinite_step, is_saturated, persist, promote_stable,
};

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
    let all: Vec<Value> = world
        .owned(Kind::ReplicaSet, &namespace, &ro)
        .into_iter()
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
    // newRolloutContext starts the new status with the current traffic weights
    // (controller.go): a reconcile that leaves them alone (the stable cannot carry the next
    // weight yet) keeps them, it does not drop them.
    if let Some(weights) = ctx.ro["status"]["canary"].get("weights").cloned() {
        ctx.new_status["canary"]["weights"] = weights;
    }
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
