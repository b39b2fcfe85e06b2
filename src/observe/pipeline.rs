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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use kube::Client;
use kube::api::DynamicObject;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::lifecycle::{Condition, Lifecycle, Said};

use super::report::{self, RolloutState};
use super::{
    ClusterClock, ClusterTime, Mirror, Observation, ObserveError, Signal, Update, access_alert,
    access_check, watch, watch_config,
};
use crate::rollout::cluster::{self, Kind as ClusterKind};
use crate::rollout::detect::spec_observed::WARNING_QUIET;
use crate::rollout::detect::{self, Detector, Finding, SpecObservationTracker};
use crate::rollout::model::{
    AnalysisRun, AnalysisTemplate, Deployment, Event, ObjectMeta, Pod, ReplicaSet, Rollout,
    Service, Snapshot,
};
use crate::rollout::view::{self, Colour};

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

    fn judge_rollout(
        &mut self,
        snap: &Snapshot,
        ro: &Rollout,
        now: Option<ClusterTime>,
        wall: Instant,
    ) -> Vec<Observation> {
        let mut out = Vec::new();
        let name = ro.metadata.name.clone();
        let subject = format!("Rollout `{}/{}`", ro.metadata.namespace, name);
        let key = self.key(ro);
        let view_now = now.map_or_else(Utc::now, |t| t.earliest);
        let owned = view::owned_replica_sets(snap, ro);
        let state = RolloutState::of(ro, &owned);
        let r = self.reported.entry(key).or_default();
        let first_look = r.state.is_none();
        // Phase, step and weight transitions, with the view as a snapshot.
        if r.state.as_ref() != Some(&state) || !r.via.is_empty() {
            // The statuses in between: not the one it ends in, nor the one it started from.
            let mut via = r.via.clone();
            while via.last() == Some(&state.status) {
                via.pop();
            }
            if let Some(before) = &r.state {
                while via.first() == Some(&before.status) {
                    via.remove(0);
                }
            }
            let changed = r.state.as_ref() != Some(&state) || !via.is_empty();
            r.via.clear();
            if changed {
                let rendered =
                    view::render_rollout(&view::rollout_view(snap, ro, view_now), Colour::Never);
                let head = match &r.state {
                    None if self.resumed => {
                        format!("**resumed watching {subject}**: {}", state.summary())
                    }
                    None => format!("**watching {subject}**: {}", state.summary()),
                    Some(before) => report::transition(&subject, before, &via, &state),
                };
                out.push(Observation::report(format!(
                    "{head}\n\n```text\n{rendered}```\n"
                )));
            }
            r.state = Some(state);
        }

        // Measurements as they land, and AnalysisRun phases. Resumed after a restart, the ones
        // already there are summed up once (the earlier run said them).
        let summing_up = first_look && self.resumed;
        let mut lines = Vec::new();
        let mut earlier = 0;
        for run in detect::runs::rollout_runs(snap, ro) {
            let run_name = &run.metadata.name;
            for mr in &run.status.metric_results {
                for (i, m) in mr.measurements.iter().enumerate() {
                    if !report::landed(m) {
                        continue;
                    }
                    if r.measurements.insert(report::measurement_id(run, mr, m, i)) {
                        if summing_up {
                            earlier += 1;
                        } else {
                            lines.push(report::measurement_line(run, mr, i));
                        }
                    }
                }
            }
            let phase = if run.status.phase.is_empty() {
                "Pending"
            } else {
                &run.status.phase
            };
            if r.run_phases.get(run_name).map(String::as_str) != Some(phase) {
                r.run_phases.insert(run_name.clone(), phase.to_string());
                if summing_up {
                    lines.push(format!(
                        "- AnalysisRun `{run_name}` is **{phase}** ({} measurement(s) taken)",
                        run.status
                            .metric_results
                            .iter()
                            .map(|m| m.measurements.len())
                            .sum::<usize>()
                    ));
                    continue;
                }
                let message = if run.status.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.status.message)
                };
                lines.push(format!(
                    "- AnalysisRun `{run_name}` is **{phase}**{message}"
                ));
            }
        }
        if !lines.is_empty() {
            let resumed = if summing_up && earlier > 0 {
                format!(
                    " (as found on resuming: {earlier} measurement(s) taken while away or said before)"
                )
            } else {
                String::new()
            };
            out.push(Observation::report(format!(
                "**analysis of {subject}**{resumed}\n\n{}\n",
                lines.join("\n")
            )));
        }

        // Detectors: each condition through the lifecycle.
        let mut findings = detect::rollout_findings(snap, ro, now.map(|t| t.earliest));
        if let Some(t) = now {
            findings.extend(self.tracker.observe(ro, t.earliest, t.latest));
            findings.extend(self.tracker.observe_workload(
                ro,
                &snap.deployments,
                t.earliest,
                t.latest,
            ));
        }
        let confirm = self.config.confirm;
        let conditions: Vec<Condition> = findings.iter().map(|f| condition(f, confirm)).collect();
        out.extend(
            self.lifecycle
                .judge(&scope(&ro.metadata.namespace, &name), &conditions, wall),
        );
        out
    }
}

/// Findings about the rollout's shape, which a half-applied step can fake for a moment.
fn needs_confirmation(d: Detector) -> bool {
    matches!(
        d,
        Detector::CanaryReplicaMath
            | Detector::CanaryServiceSelectsStable
            | Detector::WorkloadRefLeak
    )
}

/// A finding as a lifecycle condition.
pub fn condition(f: &Finding, confirm: Duration) -> Condition {
    Condition {
        key: f.key(),
        alert: f.detector.is_alert(),
        body: f.to_string(),
        headline: f.headline_line(),
        level: f.level,
        confirm: if needs_confirmation(f.detector) {
            confirm
        } else {
            Duration::ZERO
        },
        clear: confirm,
    }
}

/// The condition of a named Rollout that is not there.
fn missing(namespace: &str, name: &str) -> Condition {
    let headline = format!(
        "**Rollout `{namespace}/{name}` is not there** (deleted, or never created): nothing to watch until it exists."
    );
    Condition {
        key: format!("rollout-missing|Rollout {namespace}/{name}"),
        alert: true,
        body: headline.clone(),
        headline,
        level: 0,
        confirm: Duration::ZERO,
        clear: Duration::ZERO,
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

/// Fails with [`ObserveError::NoRollout`] unless every named Rollout exists.
async fn check_named(client: &Client, config: &PipelineConfig) -> Result<(), ObserveError> {
    let Target::Named(names) = &config.target else {
        return Ok(());
    };
    for name in names {
        match cluster::ROLLOUTS
            .api(client, &config.namespace)
            .get_opt(name)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(ObserveError::NoRollout {
                    name: name.clone(),
                    namespace: config.namespace.clone(),
                });
            }
            Err(e) => {
                return Err(ObserveError::Api {
                    what: format!("getting rollout \"{name}\""),
                    detail: e.to_string(),
                });
            }
        }
    }
    Ok(())
}

/// Runs the pipeline observer until `cancel`: checks access, watches, and sends what it has to
/// say into `out`. Fails only at start (no namespace, a named Rollout missing, no API).
pub async fn run(
    client: Client,
    config: PipelineConfig,
    out: mpsc::Sender<Observation>,
    cancel: CancellationToken,
) -> Result<(), ObserveError> {
    let ns = config.namespace.clone();
    super::check_namespace(&client, &ns).await?;
    let kinds: Vec<ClusterKind> = Watched::ALL.iter().map(|w| w.kind()).collect();
    let denied = access_check(&client, &ns, &kinds).await?;
    let mut state = PipelineState::new(config.clone());
    if let Some(alert) = access_alert("pipeline", &ns, &denied) {
        let _ = out.send(alert).await;
    }
    if !denied.iter().any(|a| a.kind == cluster::ROLLOUTS) {
        check_named(&client, &config).await?;
    }

    let tasks = TaskTracker::new();
    let clock = ClusterClock::new();
    tasks.spawn(clock.clone().run(client.clone(), cancel.clone()));
    let (updates_tx, mut updates) = mpsc::channel::<Update<Watched>>(1024);
    let (signals_tx, signals) = mpsc::channel::<Signal>(64);
    for w in Watched::ALL {
        if denied.iter().any(|a| a.kind == w.kind()) {
            state.skip(w);
            continue;
        }
        let (labels, fields) = match (&config.target, w) {
            (Target::Named(names), Watched::Rollouts) if names.len() == 1 => {
                (None, Some(format!("metadata.name={}", names[0])))
            }
            (Target::Selector(sel), Watched::Rollouts) => (Some(sel.clone()), None),
            _ => (None, None),
        };
        tasks.spawn(watch(
            super::WatchTarget {
                client: client.clone(),
                namespace: if w.cluster_scoped() {
                    String::new()
                } else {
                    ns.clone()
                },
                kind: w.kind(),
                config: watch_config(labels.as_deref(), fields.as_deref()),
            },
            w,
            updates_tx.clone(),
            signals_tx.clone(),
            cancel.clone(),
        ));
    }
    drop(updates_tx);
    drop(signals_tx);
    tasks.spawn(super::health(
        client.clone(),
        "pipeline",
        signals,
        out.clone(),
        Duration::from_millis(500),
        cancel.clone(),
    ));
    tasks.close();

    let mut dirty = false;
    // When the first change not yet judged arrived: a steady stream of changes (a busy
    // namespace, or a fast simulator) must delay the judgement, never starve it.
    let mut dirty_since = Instant::now();
    let max_wait = config.settle * 4;
    let settle = tokio::time::sleep(config.settle);
    tokio::pin!(settle);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // The moment the cluster's clock reaches the next threshold, in wall time.
        let due = clock
            .now()
            .and_then(|now| state.next_deadline(&now).map(|d| now.wall_until(d)))
            .map(|wait| Instant::now() + wait + Duration::from_millis(5));
        let said = tokio::select! {
            () = cancel.cancelled() => break,
            update = updates.recv() => {
                let Some(update) = update else { break };
                state.apply(update);
                let now = Instant::now();
                if !dirty {
                    dirty = true;
                    dirty_since = now;
                }
                settle.as_mut().reset((now + config.settle).min(dirty_since + max_wait));
                Vec::new()
            }
            () = &mut settle, if dirty => {
                dirty = false;
                let said = state.evaluate(clock.now(), Instant::now());
                if state.synced() {
                    let now = clock.now().map(|t| t.earliest);
                    config.state.rollouts(|| {
                        let mut snap = state.snapshot();
                        snap.rollouts.retain(|r| state.targeted(&r.metadata.name));
                        snap
                    }, now);
                }
                said
            }
            // Time passes in the cluster even when nothing changes.
            _ = tick.tick(), if !dirty => state.evaluate(clock.now(), Instant::now()),
            () = sleep_until_some(due), if !dirty && due.is_some() => {
                state.evaluate(clock.now(), Instant::now())
            }
        };
        for obs in said {
            if out.send(obs).await.is_err() {
                break;
            }
        }
    }
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(())
}

async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
#[path = "pipeline_tests.rs"]
mod tests;
