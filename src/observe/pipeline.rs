//! The pipeline observer: the Argo Rollouts it is asked to watch (one or more by name, a label
//! selector, or every Rollout of the namespace), their ReplicaSets and pods, AnalysisRuns,
//! AnalysisTemplates and ClusterAnalysisTemplates, the Services they name, the Deployments
//! their `workloadRef`s point at, and the Events about them.
//!
//! Per Rollout it posts (as [`Observation`]s) every status, step and weight transition in the
//! strategy's own terms with the `rollout get` view as a snapshot ([`super::report`]), every
//! AnalysisRun measurement as it lands, and the findings of [`crate::rollout::detect`] as
//! alerts with a lifecycle ([`super::lifecycle`]): said once while they hold, escalated once,
//! resolved when they clear, restored from the observer's own entries after a restart.
//!
//! The state ([`PipelineState`]) is plain data fed by watcher events and judged after a short
//! settle time, so a burst of related changes (a step: rollout, ReplicaSets, pods) is judged
//! once and whole; statuses shorter than the settle time are kept for the next transition line.
//! Time is the cluster's ([`super::clock`]); a threshold is judged the moment the cluster's
//! clock reaches it.
//!
//! It must not post itself (it yields observations) nor derive rollout status (the view does).
//!
//! Here: the config, the watched kinds and the state (mirrors, the detectors' snapshot, what
//! is due when); `judge` says what is new about one Rollout, `run` is the observer's task.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use kube::api::DynamicObject;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::lifecycle::{Lifecycle, Said};
use super::report::RolloutState;
use super::{ClusterTime, Mirror, Observation, Update};
use crate::rollout::cluster::{self, Kind as ClusterKind};
use crate::rollout::detect::SpecObservationTracker;
use crate::rollout::detect::spec_observed::WARNING_QUIET;
use crate::rollout::model::{
    AnalysisRun, AnalysisTemplate, Deployment, Event, ObjectMeta, Pod, ReplicaSet, Rollout,
    Service, Snapshot,
};
use crate::rollout::view;

mod judge;
mod run;

pub use judge::condition;
pub use run::run;

use judge::missing;

/// ClusterAnalysisTemplates (cluster-scoped: watched without a namespace).
pub const CLUSTER_ANALYSIS_TEMPLATES: ClusterKind = ClusterKind {
    group: "argoproj.io",
    version: "v1alpha1",
    kind: "ClusterAnalysisTemplate",
    plural: "clusteranalysistemplates",
};

/// Which Rollouts to watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// These, by name (each must exist when the observer starts).
    Named(Vec<String>),
    /// Those matching a label selector.
    Selector(String),
    /// Every Rollout of the namespace.
    All,
}

/// What the pipeline observer watches and how it judges time.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub target: Target,
    /// The namespace watched; empty: every namespace (`-A`, [`Target::Named`] excluded).
    pub namespace: String,
    /// How long `observedGeneration < generation` may last (cluster time) before the alert.
    pub spec_threshold: TimeDelta,
    /// Quiet time (wall) after a change before the state is judged: a step arrives as a burst.
    /// Under a steady stream of changes the state is judged at least every 4 × settle.
    pub settle: Duration,
    /// How long (wall) a finding about the rollout's shape (replica math, canary Service,
    /// workloadRef leak) must persist before it is alerted, and any finding must be gone
    /// before it is resolved: the watches of different kinds arrive in no common order.
    pub confirm: Duration,
    /// What this observer said before (its own entries), so a restart knows what is open.
    pub history: Vec<Said>,
    /// Where the current view of the Rollouts goes (state beside history).
    pub state: super::state::StatePublisher,
}

impl PipelineConfig {
    /// One Rollout by name.
    pub fn new(rollout: &str, namespace: &str) -> Self {
        Self::watching(Target::Named(vec![rollout.to_string()]), namespace)
    }

    pub fn watching(target: Target, namespace: &str) -> Self {
        Self {
            target,
            namespace: namespace.to_string(),
            spec_threshold: TimeDelta::seconds(60),
            settle: Duration::from_millis(300),
            confirm: Duration::from_secs(1),
            history: Vec::new(),
            state: super::state::StatePublisher::none(),
        }
    }

    /// Watching every namespace (`-A`).
    pub fn all_namespaces(&self) -> bool {
        self.namespace.is_empty()
    }
}

/// The kinds it watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Watched {
    Rollouts,
    ReplicaSets,
    Pods,
    Deployments,
    AnalysisRuns,
    AnalysisTemplates,
    ClusterAnalysisTemplates,
    Services,
    Events,
}

impl Watched {
    pub const ALL: [Watched; 9] = [
        Watched::Rollouts,
        Watched::ReplicaSets,
        Watched::Pods,
        Watched::Deployments,
        Watched::AnalysisRuns,
        Watched::AnalysisTemplates,
        Watched::ClusterAnalysisTemplates,
        Watched::Services,
        Watched::Events,
    ];

    pub fn kind(self) -> ClusterKind {
        match self {
            Watched::Rollouts => cluster::ROLLOUTS,
            Watched::ReplicaSets => cluster::REPLICA_SETS,
            Watched::Pods => cluster::PODS,
            Watched::Deployments => cluster::DEPLOYMENTS,
            Watched::AnalysisRuns => cluster::ANALYSIS_RUNS,
            Watched::AnalysisTemplates => cluster::ANALYSIS_TEMPLATES,
            Watched::ClusterAnalysisTemplates => CLUSTER_ANALYSIS_TEMPLATES,
            Watched::Services => cluster::SERVICES,
            Watched::Events => cluster::EVENTS,
        }
    }

    /// Cluster-scoped kinds are watched without a namespace.
    pub fn cluster_scoped(self) -> bool {
        self == Watched::ClusterAnalysisTemplates
    }
}

/// An object with the resourceVersion it was read at: equal versions are the same object, so
/// a relist of unchanged objects compares equal without deriving equality on every type.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    pub version: String,
    pub value: T,
}

impl<T> PartialEq for Versioned<T> {
    fn eq(&self, other: &Self) -> bool {
        !self.version.is_empty() && self.version == other.version
    }
}

/// An object's key in its mirror: its name, or `namespace/name` when watching every namespace
/// (`all`), where two namespaces may hold the same name.
fn project<T: DeserializeOwned>(
    kind: &'static str,
    obj: DynamicObject,
    all: bool,
) -> Option<(String, Versioned<T>)> {
    let name = obj.metadata.name.clone()?;
    let name = match (&obj.metadata.namespace, all) {
        (Some(ns), true) => format!("{ns}/{name}"),
        _ => name,
    };
    let version = obj.metadata.resource_version.clone().unwrap_or_default();
    match cluster::decode::<T>(kind, obj) {
        Ok(value) => Some((name, Versioned { version, value })),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    }
}

/// What the observer has said about one Rollout between alerts.
#[derive(Debug, Default)]
struct Reported {
    /// The last state posted.
    state: Option<RolloutState>,
    /// Statuses seen since (oldest first), so a short one is not lost to the settle time.
    via: Vec<String>,
    /// The status of the last Rollout object applied.
    last_status: Option<String>,
    /// Measurements posted, by [`report::measurement_id`].
    measurements: BTreeSet<String>,
    /// AnalysisRun phases posted.
    run_phases: BTreeMap<String, String>,
}

/// Everything the observer knows and has said. Pure: fed watcher events, judged at a cluster
/// time and a wall instant; tests drive it with fixtures.
#[derive(Debug)]
pub struct PipelineState {
    config: PipelineConfig,
    rollouts: Mirror<Versioned<Rollout>>,
    replica_sets: Mirror<Versioned<ReplicaSet>>,
    pods: Mirror<Versioned<Pod>>,
    deployments: Mirror<Versioned<Deployment>>,
    analysis_runs: Mirror<Versioned<AnalysisRun>>,
    analysis_templates: Mirror<Versioned<AnalysisTemplate>>,
    cluster_templates: Mirror<Versioned<AnalysisTemplate>>,
    services: Mirror<Versioned<Service>>,
    events: Mirror<Versioned<Event>>,
    /// Kinds that are not watched (access denied): not waited for.
    skipped: BTreeSet<Watched>,
    tracker: SpecObservationTracker,
    lifecycle: Lifecycle,
    /// Per Rollout name.
    reported: BTreeMap<String, Reported>,
    /// Started again after saying things before (its history is not empty): what happened
    /// while it was away is summed up, not replayed line by line.
    resumed: bool,
}

/// The lifecycle scope of a Rollout: its conditions are judged together.
fn scope(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

impl PipelineState {
    pub fn new(config: PipelineConfig) -> Self {
        let tracker = SpecObservationTracker::new(config.spec_threshold);
        let lifecycle = Lifecycle::restore(&config.history);
        let resumed = !config.history.is_empty();
        Self {
            resumed,
            config,
            rollouts: Mirror::default(),
            replica_sets: Mirror::default(),
            pods: Mirror::default(),
            deployments: Mirror::default(),
            analysis_runs: Mirror::default(),
            analysis_templates: Mirror::default(),
            cluster_templates: Mirror::default(),
            services: Mirror::default(),
            events: Mirror::default(),
            skipped: BTreeSet::new(),
            tracker,
            lifecycle,
            reported: BTreeMap::new(),
        }
    }

    /// Marks a kind as not watched (denied), so evaluation does not wait for it.
    pub fn skip(&mut self, kind: Watched) {
        self.skipped.insert(kind);
    }

    /// True once every watched kind has been listed once.
    pub fn synced(&self) -> bool {
        Watched::ALL.iter().all(|w| {
            self.skipped.contains(w)
                || match w {
                    Watched::Rollouts => self.rollouts.is_synced(),
                    Watched::ReplicaSets => self.replica_sets.is_synced(),
                    Watched::Pods => self.pods.is_synced(),
                    Watched::Deployments => self.deployments.is_synced(),
                    Watched::AnalysisRuns => self.analysis_runs.is_synced(),
                    Watched::AnalysisTemplates => self.analysis_templates.is_synced(),
                    Watched::ClusterAnalysisTemplates => self.cluster_templates.is_synced(),
                    Watched::Services => self.services.is_synced(),
                    Watched::Events => self.events.is_synced(),
                }
        })
    }

    /// Whether a Rollout is one this observer watches.
    /// A Rollout's key in the mirror and in what was reported (see [`project`]).
    fn key(&self, ro: &Rollout) -> String {
        if self.config.all_namespaces() {
            scope(&ro.metadata.namespace, &ro.metadata.name)
        } else {
            ro.metadata.name.clone()
        }
    }

    pub fn targeted(&self, name: &str) -> bool {
        match &self.config.target {
            Target::Named(names) => names.iter().any(|n| n == name),
            // The watch itself filters by the selector.
            Target::Selector(_) | Target::All => true,
        }
    }

    /// Applies one watcher event.
    pub fn apply(&mut self, update: Update<Watched>) {
        let ev = update.event;
        let all = self.config.all_namespaces();
        match update.tag {
            Watched::Rollouts => {
                for d in self.rollouts.apply(ev, |o| project("Rollout", o, all)) {
                    let Some(ro) = d.after else { continue };
                    let status = view::status_and_message(&ro.value).0;
                    let r = self.reported.entry(d.key).or_default();
                    if r.last_status.as_deref() != Some(status.as_str()) {
                        if r.state.is_some() {
                            r.via.push(status.clone());
                        }
                        r.last_status = Some(status);
                    }
                }
            }
            Watched::ReplicaSets => {
                self.replica_sets
                    .apply(ev, |o| project("ReplicaSet", o, all));
            }
            Watched::Pods => {
                self.pods.apply(ev, |o| project("Pod", o, all));
            }
            Watched::Deployments => {
                self.deployments
                    .apply(ev, |o| project("Deployment", o, all));
            }
            Watched::AnalysisRuns => {
                self.analysis_runs
                    .apply(ev, |o| project("AnalysisRun", o, all));
            }
            Watched::AnalysisTemplates => {
                self.analysis_templates
                    .apply(ev, |o| project("AnalysisTemplate", o, all));
            }
            Watched::ClusterAnalysisTemplates => {
                self.cluster_templates.apply(ev, |o| {
                    let (k, mut t): (String, Versioned<AnalysisTemplate>) =
                        project("ClusterAnalysisTemplate", o, all)?;
                    // No namespace: that is how the detectors tell a cluster template.
                    t.value.metadata.namespace.clear();
                    Some((k, t))
                });
            }
            Watched::Services => {
                self.services.apply(ev, |o| project("Service", o, all));
            }
            Watched::Events => {
                let about = ["Rollout", "AnalysisRun", "Experiment", "Deployment"];
                self.events.apply(ev, |o| {
                    let (k, e): (String, Versioned<Event>) = project("Event", o, all)?;
                    about
                        .contains(&e.value.involved_object.kind.as_str())
                        .then_some((k, e))
                });
            }
        }
    }

    /// The namespace's objects as a detector snapshot. Owner references without a uid (hand
    /// written manifests, the simulator's scenarios) are resolved by kind and name.
    pub fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            rollouts: self.rollouts.values().map(|v| v.value.clone()).collect(),
            replica_sets: self
                .replica_sets
                .values()
                .map(|v| v.value.clone())
                .collect(),
            pods: self.pods.values().map(|v| v.value.clone()).collect(),
            deployments: self.deployments.values().map(|v| v.value.clone()).collect(),
            experiments: Vec::new(),
            analysis_runs: self
                .analysis_runs
                .values()
                .map(|v| v.value.clone())
                .collect(),
            analysis_templates: self
                .analysis_templates
                .values()
                .chain(self.cluster_templates.values())
                .map(|v| v.value.clone())
                .collect(),
            services: self.services.values().map(|v| v.value.clone()).collect(),
            events: self.events.values().map(|v| v.value.clone()).collect(),
        };
        resolve_owner_uids(&mut snap);
        snap
    }

    /// The current state of every watched Rollout, as last judged (for state snapshots).
    pub fn rollout_states(&self) -> Vec<(String, RolloutState)> {
        self.reported
            .iter()
            .filter_map(|(name, r)| r.state.clone().map(|s| (name.clone(), s)))
            .collect()
    }

    /// The wall instant a shape finding seen holding will have held for its confirm time.
    pub fn next_confirm(&self) -> Option<Instant> {
        self.lifecycle.next_confirm()
    }

    /// The next cluster time after `now` at which something is due without any change: a spec
    /// stall reaching its threshold, a controller Warning going quiet.
    pub fn next_deadline(&self, now: &ClusterTime) -> Option<DateTime<Utc>> {
        let stall = self.tracker.next_deadline();
        let quiet = self
            .events
            .values()
            .filter(|e| e.value.type_ == "Warning" && e.value.involved_object.kind == "Rollout")
            .filter_map(|e| e.value.last_seen())
            .map(|t| t + WARNING_QUIET);
        stall
            .into_iter()
            .chain(quiet)
            .filter(|t| *t > now.earliest)
            .min()
    }

    /// Judges the current state at cluster time `now` (None: not known yet) and wall instant
    /// `wall`; returns what is new to say. Says nothing until every watched kind has been
    /// listed once.
    pub fn evaluate(&mut self, now: Option<ClusterTime>, wall: Instant) -> Vec<Observation> {
        let mut out = Vec::new();
        if !self.synced() {
            return out;
        }
        let snap = self.snapshot();
        let ns = self.config.namespace.clone();
        let mut names: Vec<String> = match &self.config.target {
            Target::Named(names) => names.clone(),
            _ => snap.rollouts.iter().map(|r| self.key(r)).collect(),
        };
        // Rollouts seen before and gone since (a selector's or a namespace's): judged once
        // more with nothing holding, so their alerts are resolved.
        for name in self.reported.keys() {
            if !names.contains(name) && self.targeted(name) {
                names.push(name.clone());
            }
        }
        for name in names {
            // Every namespace: the key is already `namespace/name`.
            let scope = if ns.is_empty() {
                name.clone()
            } else {
                scope(&ns, &name)
            };
            match snap.rollouts.iter().find(|r| self.key(r) == name) {
                Some(ro) => out.extend(self.judge_rollout(&snap, ro, now, wall)),
                None => {
                    let gone = if matches!(self.config.target, Target::Named(_)) {
                        vec![missing(&ns, &name)]
                    } else {
                        self.reported.remove(&name);
                        Vec::new()
                    };
                    out.extend(self.lifecycle.judge(&scope, &gone, wall));
                }
            }
        }
        out
    }
}

/// Fills owner references that lack a uid from the objects of the snapshot, by kind and name.
fn resolve_owner_uids(snap: &mut Snapshot) {
    // By namespace too: an owner is always in its object's namespace, and watching every
    // namespace (-A) may bring two of the same name.
    type Key = (&'static str, String, String);
    let mut uids: BTreeMap<Key, String> = BTreeMap::new();
    let key = |kind, m: &ObjectMeta| (kind, m.namespace.clone(), m.name.clone());
    for r in &snap.rollouts {
        uids.insert(key("Rollout", &r.metadata), r.metadata.uid.clone());
    }
    for r in &snap.replica_sets {
        uids.insert(key("ReplicaSet", &r.metadata), r.metadata.uid.clone());
    }
    for d in &snap.deployments {
        uids.insert(key("Deployment", &d.metadata), d.metadata.uid.clone());
    }
    let fill = |meta: &mut ObjectMeta| {
        let ns = meta.namespace.clone();
        for o in &mut meta.owner_references {
            if o.uid.is_empty() {
                let kind: &'static str = match o.kind.as_str() {
                    "Rollout" => "Rollout",
                    "ReplicaSet" => "ReplicaSet",
                    "Deployment" => "Deployment",
                    _ => continue,
                };
                if let Some(uid) = uids.get(&(kind, ns.clone(), o.name.clone())) {
                    o.uid = uid.clone();
                }
            }
        }
    };
    snap.replica_sets
        .iter_mut()
        .for_each(|o| fill(&mut o.metadata));
    snap.pods.iter_mut().for_each(|o| fill(&mut o.metadata));
    snap.analysis_runs
        .iter_mut()
        .for_each(|o| fill(&mut o.metadata));
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
