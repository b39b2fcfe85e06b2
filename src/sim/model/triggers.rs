//! When the Rollout controller reconciles a Rollout (rollout/controller.go's informers,
//! service/service.go, rollout/templateref.go): Argo reconciles a Rollout when it is
//! enqueued, not on a clock. It is enqueued by
//!
//! - any change of the Rollout itself (including the controller's own status writes);
//! - a change of a ReplicaSet it owns (a new resourceVersion), or one created or deleted;
//! - an AnalysisRun it owns created, deleted, or changing phase (not each measurement);
//! - a change of its workloadRef Deployment;
//! - a change of a Service it names that carries `rollouts-pod-template-hash`: syncService
//!   returns early for a Service without it, so a CI job that strips the hash from a Service
//!   does not enqueue anything, and the controller does not put the hash back until something
//!   else enqueues the Rollout;
//! - the timers it sets itself (the end of a timed pause, autoPromotionSeconds, the progress
//!   deadline, scale-down deadlines), modelled as: every tick while the Rollout is not at rest;
//! - the informer's resync, every 15 minutes ([`RESYNC`], DefaultRolloutResyncPeriod).
//!
//! A Rollout is at rest when it waits for a person or is done: paused without a timer (spec
//! paused, a `pause: {}` step, InconclusiveAnalysisRun, a blue-green pause without
//! auto-promotion), or Healthy or Degraded with no scale-down deadline pending.
//!
//! Owns: the decision to reconcile, from what it saw at the last reconcile. It must not write
//! anything.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::rollouts::{HASH_LABEL, SCALE_DOWN_DEADLINE};
use super::world::{Kind, World};

/// DefaultRolloutResyncPeriod.
pub const RESYNC: chrono::Duration = chrono::Duration::minutes(15);

/// What one Rollout's reconcile saw, to tell a later change from none.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Watched {
    /// (kind, name) -> the version that enqueues when it changes.
    versions: BTreeMap<(&'static str, String), String>,
    /// Services the Rollout names -> their resourceVersion, and whether they select a hash.
    services: BTreeMap<String, (String, bool)>,
}

/// Per Rollout, what it saw and when it was last reconciled.
#[derive(Debug, Default)]
pub struct Triggers {
    last: BTreeMap<(String, String), (Watched, DateTime<Utc>)>,
}

impl Triggers {
    /// Whether the Rollout is enqueued at `world.now`, its watched objects being `now`.
    pub fn due(&self, world: &World, ro: &Value, key: &(String, String), now: &Watched) -> bool {
        let Some((seen, at)) = self.last.get(key) else {
            return true;
        };
        world.now - *at >= RESYNC || enqueued(seen, now) || !at_rest(world, ro)
    }

    /// Records what the Rollout's watched objects looked like at this reconcile (read before
    /// it, so that its own writes enqueue it once more, as in Argo).
    pub fn reconciled(&mut self, key: (String, String), seen: Watched, now: DateTime<Utc>) {
        self.last.insert(key, (seen, now));
    }
}

/// The objects whose changes enqueue the Rollout, as they are now.
pub fn watched(world: &World, ro: &Value) -> Watched {
    let namespace = ro["metadata"]["namespace"].as_str().unwrap_or("default");
    let rv = |o: &Value| {
        o["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let name = |o: &Value| {
        o["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let mut versions = BTreeMap::new();
    versions.insert(("Rollout", name(ro)), rv(ro));
    for rs in world.owned(Kind::ReplicaSet, namespace, ro) {
        versions.insert(("ReplicaSet", name(&rs)), rv(&rs));
    }
    for run in world.owned(Kind::AnalysisRun, namespace, ro) {
        let phase = run["status"]["phase"].as_str().unwrap_or_default();
        versions.insert(("AnalysisRun", name(&run)), phase.to_string());
    }
    if let Some(d) = ro["spec"]["workloadRef"]["name"].as_str()
        && let Some(deployment) = world.get(Kind::Deployment, namespace, d)
    {
        versions.insert(("Deployment", d.to_string()), rv(&deployment));
    }
    let mut services = BTreeMap::new();
    for svc in service_names(ro) {
        if let Some(s) = world.get(Kind::Service, namespace, &svc) {
            let hashed = s["spec"]["selector"][HASH_LABEL].is_string();
            services.insert(svc, (rv(&s), hashed));
        }
    }
    Watched { versions, services }
}

/// The Services a Rollout names (GetRolloutServiceKeys).
fn service_names(ro: &Value) -> Vec<String> {
    let s = &ro["spec"]["strategy"];
    [
        &s["canary"]["stableService"],
        &s["canary"]["canaryService"],
        &s["canary"]["pingPong"]["pingService"],
        &s["canary"]["pingPong"]["pongService"],
        &s["blueGreen"]["activeService"],
        &s["blueGreen"]["previewService"],
    ]
    .into_iter()
    .filter_map(Value::as_str)
    .filter(|n| !n.is_empty())
    .map(str::to_string)
    .collect()
}

/// Whether anything between `seen` and `now` enqueues the Rollout.
pub fn enqueued(seen: &Watched, now: &Watched) -> bool {
    if seen.versions != now.versions {
        return true;
    }
    now.services.iter().any(|(name, (rv, hashed))| {
        *hashed && seen.services.get(name).is_none_or(|(old, _)| old != rv)
    })
}

/// Whether the Rollout waits for a person or is done, with no timer of its own pending.
pub fn at_rest(world: &World, ro: &Value) -> bool {
    let namespace = ro["metadata"]["namespace"].as_str().unwrap_or("default");
    let deadline_pending = world
        .owned(Kind::ReplicaSet, namespace, ro)
        .iter()
        .any(|rs| rs["metadata"]["annotations"][SCALE_DOWN_DEADLINE].is_string());
    if deadline_pending {
        return false;
    }
    let status = &ro["status"];
    let generation = ro["metadata"]["generation"]
        .as_i64()
        .unwrap_or(0)
        .to_string();
    if status["observedGeneration"].as_str() != Some(generation.as_str()) {
        return false;
    }
    if ro["spec"]["paused"] == true {
        return true;
    }
    if let Some(pauses) = status["pauseConditions"]
        .as_array()
        .filter(|p| !p.is_empty())
    {
        return pauses.iter().all(|p| untimed_pause(ro, p));
    }
    matches!(status["phase"].as_str(), Some("Healthy" | "Degraded"))
}

/// A pause condition no timer of the controller ends.
fn untimed_pause(ro: &Value, pause: &Value) -> bool {
    match pause["reason"].as_str().unwrap_or_default() {
        "InconclusiveAnalysisRun" => true,
        "CanaryPauseStep" => {
            let index = ro["status"]["currentStepIndex"].as_u64().unwrap_or(0) as usize;
            ro["spec"]["strategy"]["canary"]["steps"]
                .as_array()
                .and_then(|steps| steps.get(index))
                .is_some_and(|step| step["pause"]["duration"].is_null())
        }
        "BlueGreenPause" => ro["spec"]["strategy"]["blueGreen"]["autoPromotionEnabled"] == false,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(services: &[(&str, &str, bool)]) -> Watched {
        let mut w = Watched::default();
        w.versions.insert(("Rollout", "web".into()), "7".into());
        for (name, rv, hashed) in services {
            w.services
                .insert((*name).to_string(), ((*rv).to_string(), *hashed));
        }
        w
    }

    #[test]
    fn a_service_enqueues_only_while_it_selects_a_hash() {
        let before = watched(&[("web-canary", "10", true)]);
        // The CI job strips the hash: syncService returns early, nothing is enqueued.
        let stripped = watched(&[("web-canary", "11", false)]);
        assert!(!enqueued(&before, &stripped));
        // Stripped again (a new version, still without the hash): still nothing.
        assert!(!enqueued(
            &stripped,
            &watched(&[("web-canary", "12", false)])
        ));
        // The hash put back: the Rollout is enqueued.
        assert!(enqueued(&stripped, &watched(&[("web-canary", "13", true)])));
        assert!(!enqueued(&before, &before.clone()));
    }

    #[test]
    fn the_rollout_or_its_replicasets_changing_enqueues() {
        let before = watched(&[]);
        let mut after = before.clone();
        after.versions.insert(("Rollout", "web".into()), "8".into());
        assert!(enqueued(&before, &after));
        let mut rs = before.clone();
        rs.versions
            .insert(("ReplicaSet", "web-abc".into()), "3".into());
        assert!(enqueued(&before, &rs));
    }
}
