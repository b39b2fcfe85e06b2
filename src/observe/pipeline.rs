//! The pipeline observer: one Argo Rollout, its ReplicaSets and pods, its AnalysisRuns and the
//! namespace's AnalysisTemplates, the Services it names, the Deployment its `workloadRef`
//! points at, and the Events about them.
//!
//! It posts (as [`Observation`]s) every phase, step and weight transition with the `rollout
//! get` view as a snapshot, every AnalysisRun measurement as it lands, and each detector
//! finding of [`crate::rollout::detect`] once, as an `alert` with its evidence. The state
//! ([`PipelineState`]) is plain data fed by watcher events and evaluated after a short settle
//! time, so a burst of related changes (a step: rollout, ReplicaSets, pods) is judged once and
//! whole; it remembers what it reported, so a relist, a 410 or an API restart re-posts nothing.
//!
//! It must not post itself (it yields observations) nor derive rollout status (the view does).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use kube::Client;
use kube::api::DynamicObject;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{
    ClusterClock, Mirror, Observation, ObserveError, Signal, Update, access_alert, access_check,
    watch, watch_config,
};
use crate::rollout::cluster::{self, Kind as ClusterKind};
use crate::rollout::detect::{self, Detector, Finding, SpecObservationTracker};
use crate::rollout::model::{
    AnalysisRun, AnalysisTemplate, Deployment, Event, ObjectMeta, Pod, ReplicaSet, Rollout,
    Service, Snapshot,
};
use crate::rollout::view::{self, Colour};

/// What the pipeline observer watches and how it judges time.
#[derive(Debug, Clone)]
pub struct PipelineConfig {
    pub rollout: String,
    pub namespace: String,
    /// How long `observedGeneration < generation` may last (cluster time) before the alert.
    pub spec_threshold: TimeDelta,
    /// Quiet time (wall) after a change before the state is judged: a step arrives as a burst.
    /// Under a steady stream of changes the state is judged at least every 4 × settle.
    pub settle: Duration,
    /// How long (wall) a finding about the rollout's shape (replica math, canary Service,
    /// workloadRef leak) must persist before it is alerted: the watches of different kinds
    /// arrive in no common order, so a step can look wrong for a moment.
    pub confirm: Duration,
}

impl PipelineConfig {
    pub fn new(rollout: &str, namespace: &str) -> Self {
        Self {
            rollout: rollout.to_string(),
            namespace: namespace.to_string(),
            spec_threshold: TimeDelta::seconds(60),
            settle: Duration::from_millis(300),
            confirm: Duration::from_secs(1),
        }
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
    Services,
    Events,
}

impl Watched {
    pub const ALL: [Watched; 8] = [
        Watched::Rollouts,
        Watched::ReplicaSets,
        Watched::Pods,
        Watched::Deployments,
        Watched::AnalysisRuns,
        Watched::AnalysisTemplates,
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
            Watched::Services => cluster::SERVICES,
            Watched::Events => cluster::EVENTS,
        }
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

fn project<T: DeserializeOwned>(
    kind: &'static str,
    obj: DynamicObject,
) -> Option<(String, Versioned<T>)> {
    let name = obj.metadata.name.clone()?;
    let version = obj.metadata.resource_version.clone().unwrap_or_default();
    match cluster::decode::<T>(kind, obj) {
        Ok(value) => Some((name, Versioned { version, value })),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    }
}

/// Everything the observer knows and has said. Pure: fed watcher events, evaluated at a
/// cluster time; tests drive it with fixtures.
#[derive(Debug)]
pub struct PipelineState {
    config: PipelineConfig,
    rollouts: Mirror<Versioned<Rollout>>,
    replica_sets: Mirror<Versioned<ReplicaSet>>,
    pods: Mirror<Versioned<Pod>>,
    deployments: Mirror<Versioned<Deployment>>,
    analysis_runs: Mirror<Versioned<AnalysisRun>>,
    analysis_templates: Mirror<Versioned<AnalysisTemplate>>,
    services: Mirror<Versioned<Service>>,
    events: Mirror<Versioned<Event>>,
    /// Kinds that are not watched (access denied): not waited for.
    skipped: BTreeSet<Watched>,
    pub clock: ClusterClock,
    tracker: SpecObservationTracker,
    /// The last (status, message, step, setWeight, actualWeight) posted.
    reported_state: Option<RolloutState>,
    /// `run/metric/index` of every measurement posted.
    reported_measurements: BTreeSet<String>,
    /// AnalysisRun phases posted.
    reported_run_phases: BTreeMap<String, String>,
    /// Keys of findings posted.
    reported_findings: BTreeSet<String>,
    /// Shape findings seen but not yet confirmed, with when they were first seen.
    unconfirmed: BTreeMap<String, tokio::time::Instant>,
    /// Whether "not found" was said since the rollout was last seen.
    said_missing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RolloutState {
    status: String,
    message: String,
    step: String,
    set_weight: i32,
    actual_weight: i32,
}

impl PipelineState {
    pub fn new(config: PipelineConfig) -> Self {
        let tracker = SpecObservationTracker::new(config.spec_threshold);
        Self {
            config,
            rollouts: Mirror::default(),
            replica_sets: Mirror::default(),
            pods: Mirror::default(),
            deployments: Mirror::default(),
            analysis_runs: Mirror::default(),
            analysis_templates: Mirror::default(),
            services: Mirror::default(),
            events: Mirror::default(),
            skipped: BTreeSet::new(),
            clock: ClusterClock::default(),
            tracker,
            reported_state: None,
            reported_measurements: BTreeSet::new(),
            reported_run_phases: BTreeMap::new(),
            reported_findings: BTreeSet::new(),
            unconfirmed: BTreeMap::new(),
            said_missing: false,
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
                    Watched::Services => self.services.is_synced(),
                    Watched::Events => self.events.is_synced(),
                }
        })
    }

    /// Applies one watcher event. Fresh timestamps (a live Event, a measurement, a newly
    /// created object) advance the cluster clock; initial lists do not.
    /// Whether an object of this kind and name is already known.
    fn knows(&self, kind: Watched, name: &str) -> bool {
        fn has<T: Clone + PartialEq>(m: &Mirror<T>, name: &str) -> bool {
            m.iter().any(|(k, _)| k == name)
        }
        match kind {
            Watched::Rollouts => has(&self.rollouts, name),
            Watched::ReplicaSets => has(&self.replica_sets, name),
            Watched::Pods => has(&self.pods, name),
            Watched::Deployments => has(&self.deployments, name),
            Watched::AnalysisRuns => has(&self.analysis_runs, name),
            Watched::AnalysisTemplates => has(&self.analysis_templates, name),
            Watched::Services => has(&self.services, name),
            Watched::Events => has(&self.events, name),
        }
    }

    pub fn apply(&mut self, update: Update<Watched>) {
        let live = matches!(update.event, kube::runtime::watcher::Event::Apply(_));
        // A creation time says "now" only for an object created just now: a patch to a
        // 39-day-old Rollout carries its old creationTimestamp, and taking that as the
        // cluster's clock dated the spec-not-observed stall 39 days back.
        if let kube::runtime::watcher::Event::Apply(obj) = &update.event
            && !self.knows(update.tag, obj.metadata.name.as_deref().unwrap_or(""))
            && let Some(t) = obj.metadata.creation_timestamp.as_ref()
            && let Some(t) = DateTime::from_timestamp(
                t.0.as_second(),
                u32::try_from(t.0.subsec_nanosecond()).unwrap_or(0),
            )
        {
            self.clock.saw(t);
        }
        let ev = update.event;
        match update.tag {
            Watched::Rollouts => {
                for d in self.rollouts.apply(ev, |o| project("Rollout", o)) {
                    if let (true, Some(ro)) = (live, d.after.as_ref()) {
                        // Only condition times this change wrote are "now".
                        let before: Vec<_> = d
                            .before
                            .iter()
                            .flat_map(|b| &b.value.status.conditions)
                            .filter_map(|c| c.last_update_time)
                            .collect();
                        for c in &ro.value.status.conditions {
                            if let Some(t) = c.last_update_time
                                && !before.contains(&t)
                            {
                                self.clock.saw(t);
                            }
                        }
                    }
                }
            }
            Watched::ReplicaSets => {
                self.replica_sets.apply(ev, |o| project("ReplicaSet", o));
            }
            Watched::Pods => {
                self.pods.apply(ev, |o| project("Pod", o));
            }
            Watched::Deployments => {
                self.deployments.apply(ev, |o| project("Deployment", o));
            }
            Watched::AnalysisRuns => {
                for d in self.analysis_runs.apply(ev, |o| project("AnalysisRun", o)) {
                    if let (true, Some(run)) = (live, d.after.as_ref()) {
                        let latest = run
                            .value
                            .status
                            .metric_results
                            .iter()
                            .flat_map(|m| &m.measurements)
                            .filter_map(|m| m.finished_at.or(m.started_at))
                            .max();
                        if let Some(t) = latest {
                            self.clock.saw(t);
                        }
                    }
                }
            }
            Watched::AnalysisTemplates => {
                self.analysis_templates
                    .apply(ev, |o| project("AnalysisTemplate", o));
            }
            Watched::Services => {
                self.services.apply(ev, |o| project("Service", o));
            }
            Watched::Events => {
                let about = ["Rollout", "AnalysisRun", "Experiment", "Deployment"];
                for d in self.events.apply(ev, |o| {
                    let (k, e): (String, Versioned<Event>) = project("Event", o)?;
                    about
                        .contains(&e.value.involved_object.kind.as_str())
                        .then_some((k, e))
                }) {
                    if let (true, Some(e)) = (live, d.after.as_ref())
                        && let Some(t) = e.value.last_seen()
                    {
                        self.clock.saw(t);
                    }
                }
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
                .map(|v| v.value.clone())
                .collect(),
            services: self.services.values().map(|v| v.value.clone()).collect(),
            events: self.events.values().map(|v| v.value.clone()).collect(),
        };
        resolve_owner_uids(&mut snap);
        snap
    }

    /// Judges the current state at cluster time `now` (None: not known yet) and returns what
    /// is new to say. Says nothing until every watched kind has been listed once.
    pub fn evaluate(&mut self, now: Option<DateTime<Utc>>) -> Vec<Observation> {
        let mut out = Vec::new();
        if !self.synced() {
            return out;
        }
        let snap = self.snapshot();
        let Some(ro) = snap
            .rollouts
            .iter()
            .find(|r| r.metadata.name == self.config.rollout)
        else {
            if !self.said_missing {
                self.said_missing = true;
                out.push(Observation::alert(format!(
                    "**Rollout `{}/{}` is not there** (deleted, or never created): nothing to watch until it exists.",
                    self.config.namespace, self.config.rollout
                )));
            }
            return out;
        };
        self.said_missing = false;
        let view_now = now.unwrap_or_else(Utc::now);
        let subject = format!("Rollout `{}/{}`", ro.metadata.namespace, ro.metadata.name);

        // Phase, step and weight transitions, with the view as a snapshot.
        let owned = view::owned_replica_sets(&snap, ro);
        let (status, message) = view::status_and_message(ro);
        let state = RolloutState {
            status,
            message,
            step: view::step(ro),
            set_weight: view::set_weight(ro),
            actual_weight: view::actual_weight(ro, &owned),
        };
        if self.reported_state.as_ref() != Some(&state) {
            let rendered =
                view::render_rollout(&view::rollout_view(&snap, ro, view_now), Colour::Never);
            let head = match &self.reported_state {
                None => format!(
                    "**watching {subject}**: {}{} · step {} · setWeight {} · actualWeight {}",
                    state.status,
                    if state.message.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", state.message)
                    },
                    if state.step.is_empty() {
                        "-"
                    } else {
                        &state.step
                    },
                    state.set_weight,
                    state.actual_weight
                ),
                Some(before) => transition(&subject, before, &state),
            };
            out.push(Observation::report(format!(
                "{head}\n\n```text\n{}```\n",
                rendered
            )));
            self.reported_state = Some(state);
        }

        // Measurements as they land, and AnalysisRun phases.
        let mut lines = Vec::new();
        for run in snap
            .analysis_runs
            .iter()
            .filter(|r| r.metadata.is_owned_by(&ro.metadata.uid))
        {
            let name = &run.metadata.name;
            for mr in &run.status.metric_results {
                for (i, m) in mr.measurements.iter().enumerate() {
                    let at = m.finished_at.or(m.started_at);
                    let key = format!(
                        "{name}/{}/{}",
                        mr.name,
                        at.map_or_else(|| i.to_string(), |t| t.to_rfc3339())
                    );
                    if self.reported_measurements.insert(key) {
                        let mut line = format!(
                            "- AnalysisRun `{name}` metric `{}` measurement {}: **{}**",
                            mr.name,
                            i + 1,
                            if m.phase.is_empty() {
                                "Pending"
                            } else {
                                &m.phase
                            }
                        );
                        if !m.value.is_empty() {
                            line.push_str(&format!(" value `{}`", m.value));
                        }
                        if !m.message.is_empty() {
                            line.push_str(&format!(" — `{}`", m.message));
                        }
                        if let Some(t) = at {
                            line.push_str(&format!(" (at {})", t.format("%H:%M:%SZ")));
                        }
                        if m.phase == "Error" {
                            line.push_str(&format!(
                                " · consecutive errors {} · errors {} of {} measurements",
                                mr.consecutive_error, mr.error, mr.count
                            ));
                        }
                        lines.push(line);
                    }
                }
            }
            let phase = if run.status.phase.is_empty() {
                "Pending"
            } else {
                &run.status.phase
            };
            if self.reported_run_phases.get(name).map(String::as_str) != Some(phase) {
                self.reported_run_phases
                    .insert(name.clone(), phase.to_string());
                let message = if run.status.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.status.message)
                };
                lines.push(format!("- AnalysisRun `{name}` is **{phase}**{message}"));
            }
        }
        if !lines.is_empty() {
            out.push(Observation::report(format!(
                "**analysis of {subject}**\n\n{}\n",
                lines.join("\n")
            )));
        }

        // Detectors: each finding once (an error streak again when it grows).
        let mut findings = detect::rollout_findings(&snap, ro, now);
        if let Some(t) = now
            && let Some(f) = self.tracker.observe(ro, t, t)
        {
            findings.push(f);
        }
        if view::is_generation_observed(ro) {
            self.reported_findings
                .retain(|k| !k.starts_with(&format!("{}|", Detector::SpecNotObserved.slug())));
        }
        let now_wall = tokio::time::Instant::now();
        let mut seen = BTreeMap::new();
        for f in findings {
            let key = finding_key(&f);
            if self.reported_findings.contains(&key) {
                continue;
            }
            if needs_confirmation(f.detector) {
                let first = *self.unconfirmed.get(&key).unwrap_or(&now_wall);
                seen.insert(key.clone(), first);
                if now_wall - first < self.config.confirm {
                    continue;
                }
            }
            if self.reported_findings.insert(key) {
                out.push(if f.detector.is_alert() {
                    Observation::alert(f.to_string())
                } else {
                    Observation::report(f.to_string())
                });
            }
        }
        // Unconfirmed findings that are gone were transient.
        self.unconfirmed = seen;
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

/// What identifies a finding: its condition key, and for an error streak its level (the
/// streak about to abort the rollout is said again).
fn finding_key(f: &Finding) -> String {
    format!("{}|{}", f.key(), f.level)
}

fn transition(subject: &str, before: &RolloutState, after: &RolloutState) -> String {
    let mut parts = Vec::new();
    if before.status != after.status || before.message != after.message {
        let message = if after.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", after.message)
        };
        parts.push(format!("{} → **{}**{message}", before.status, after.status));
    }
    if before.step != after.step {
        parts.push(format!(
            "step {} → {}",
            dash(&before.step),
            dash(&after.step)
        ));
    }
    if before.set_weight != after.set_weight {
        parts.push(format!(
            "setWeight {} → {}",
            before.set_weight, after.set_weight
        ));
    }
    if before.actual_weight != after.actual_weight {
        parts.push(format!(
            "actualWeight {} → {}",
            before.actual_weight, after.actual_weight
        ));
    }
    format!("**{subject}**: {}", parts.join(" · "))
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// Fills owner references that lack a uid from the objects of the snapshot, by kind and name.
fn resolve_owner_uids(snap: &mut Snapshot) {
    let mut uids: BTreeMap<(&'static str, String), String> = BTreeMap::new();
    for r in &snap.rollouts {
        uids.insert(("Rollout", r.metadata.name.clone()), r.metadata.uid.clone());
    }
    for r in &snap.replica_sets {
        uids.insert(
            ("ReplicaSet", r.metadata.name.clone()),
            r.metadata.uid.clone(),
        );
    }
    for d in &snap.deployments {
        uids.insert(
            ("Deployment", d.metadata.name.clone()),
            d.metadata.uid.clone(),
        );
    }
    let fill = |meta: &mut ObjectMeta| {
        for o in &mut meta.owner_references {
            if o.uid.is_empty() {
                let kind: &'static str = match o.kind.as_str() {
                    "Rollout" => "Rollout",
                    "ReplicaSet" => "ReplicaSet",
                    "Deployment" => "Deployment",
                    _ => continue,
                };
                if let Some(uid) = uids.get(&(kind, o.name.clone())) {
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

/// Runs the pipeline observer until `cancel`: checks access, watches, and sends what it has to
/// say into `out`. Fails only at start (no namespace, no rollout, no API).
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
        match cluster::ROLLOUTS
            .api(&client, &ns)
            .get_opt(&config.rollout)
            .await
        {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(ObserveError::NoRollout {
                    name: config.rollout.clone(),
                    namespace: ns,
                });
            }
            Err(e) => {
                return Err(ObserveError::Api {
                    what: format!("getting rollout \"{}\"", config.rollout),
                    detail: e.to_string(),
                });
            }
        }
    }

    let tasks = TaskTracker::new();
    let (updates_tx, mut updates) = mpsc::channel::<Update<Watched>>(1024);
    let (signals_tx, signals) = mpsc::channel::<Signal>(64);
    for w in Watched::ALL {
        if denied.iter().any(|a| a.kind == w.kind()) {
            state.skip(w);
            continue;
        }
        let fields = (w == Watched::Rollouts).then(|| format!("metadata.name={}", config.rollout));
        tasks.spawn(watch(
            super::WatchTarget {
                client: client.clone(),
                namespace: ns.clone(),
                kind: w.kind(),
                config: watch_config(None, fields.as_deref()),
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
    let mut dirty_since = tokio::time::Instant::now();
    let max_wait = config.settle * 4;
    let settle = tokio::time::sleep(config.settle);
    tokio::pin!(settle);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            update = updates.recv() => {
                let Some(update) = update else { break };
                state.apply(update);
                let now = tokio::time::Instant::now();
                if !dirty {
                    dirty = true;
                    dirty_since = now;
                }
                settle.as_mut().reset((now + config.settle).min(dirty_since + max_wait));
            }
            () = &mut settle, if dirty => {
                dirty = false;
                for obs in state.evaluate(state.clock.now()) {
                    if out.send(obs).await.is_err() {
                        break;
                    }
                }
            }
            // Time passes in the cluster even when nothing changes (detector 1's threshold).
            _ = tick.tick(), if !dirty => {
                for obs in state.evaluate(state.clock.now()) {
                    let _ = out.send(obs).await;
                }
            }
        }
    }
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher::Event as WatchEvent;
    use serde_json::json;

    fn object(v: serde_json::Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    fn init(state: &mut PipelineState, tag: Watched, objects: Vec<serde_json::Value>) {
        state.apply(Update {
            tag,
            event: WatchEvent::Init,
        });
        for o in objects {
            state.apply(Update {
                tag,
                event: WatchEvent::InitApply(object(o)),
            });
        }
        state.apply(Update {
            tag,
            event: WatchEvent::InitDone,
        });
    }

    fn rollout(rv: &str, step: i64) -> serde_json::Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1", "generation": 2, "resourceVersion": rv},
            "spec": {"replicas": 5, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]}}},
            "status": {"observedGeneration": "2", "currentStepIndex": step, "replicas": 5, "availableReplicas": 5,
                       "currentPodHash": "a", "stableRS": "a", "phase": "Healthy"}
        })
    }

    fn synced_state() -> PipelineState {
        let mut s = PipelineState::new(PipelineConfig::new("web", "shop"));
        init(&mut s, Watched::Rollouts, vec![rollout("1", 3)]);
        for w in &Watched::ALL[1..] {
            init(&mut s, *w, vec![]);
        }
        s
    }

    #[test]
    fn a_patch_to_an_old_object_does_not_set_the_cluster_clock() {
        // A Rollout created 39 days ago, listed, then patched (a spec update): its
        // creationTimestamp and untouched condition times say nothing about now.
        let old = |rv: &str| {
            let mut r = rollout(rv, 3);
            r["metadata"]["creationTimestamp"] = json!("2026-10-14T00:00:00Z");
            r["status"]["conditions"] = json!([{"type": "Available", "status": "True",
                "lastUpdateTime": "2026-10-14T00:00:00Z", "lastTransitionTime": "2026-10-14T00:00:00Z"}]);
            r
        };
        let mut s = PipelineState::new(PipelineConfig::new("web", "shop"));
        init(&mut s, Watched::Rollouts, vec![old("1")]);
        for w in &Watched::ALL[1..] {
            init(&mut s, *w, vec![]);
        }
        let mut patched = old("2");
        patched["metadata"]["generation"] = json!(3);
        s.apply(Update {
            tag: Watched::Rollouts,
            event: WatchEvent::Apply(object(patched)),
        });
        assert!(s.clock.now().is_none(), "{:?}", s.clock.now());
        // A new object's creation time is now.
        s.apply(Update {
            tag: Watched::Pods,
            event: WatchEvent::Apply(object(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-a-1", "namespace": "shop", "resourceVersion": "3",
                             "creationTimestamp": "2026-11-22T00:00:00Z"}}))),
        });
        let now = s.clock.now().unwrap();
        assert!(now >= "2026-11-22T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
    }

    #[test]
    fn says_nothing_before_every_kind_is_listed() {
        let mut s = PipelineState::new(PipelineConfig::new("web", "shop"));
        init(&mut s, Watched::Rollouts, vec![rollout("1", 3)]);
        assert!(s.evaluate(None).is_empty());
    }

    #[test]
    fn a_relist_of_the_same_objects_says_nothing_new() {
        let mut s = synced_state();
        let first = s.evaluate(None);
        assert_eq!(first.len(), 1, "{first:?}");
        assert!(first[0].body.contains("watching Rollout `shop/web`"));
        assert!(first[0].body.contains("```text\nName:"));
        // A 410 relist delivers the same objects again.
        init(&mut s, Watched::Rollouts, vec![rollout("1", 3)]);
        assert!(s.evaluate(None).is_empty());
        // A step change is one transition.
        s.apply(Update {
            tag: Watched::Rollouts,
            event: WatchEvent::Apply(object(rollout("2", 0))),
        });
        let next = s.evaluate(None);
        assert_eq!(next.len(), 1, "{next:?}");
        assert!(next[0].body.contains("step 3/3 → 0/3"), "{}", next[0].body);
    }

    #[test]
    fn measurements_are_posted_once_each_and_error_streaks_alert() {
        let mut s = synced_state();
        s.evaluate(None);
        let run = |n: usize, rv: &str| {
            let ms: Vec<_> = (0..n)
                .map(|i| {
                    json!({"phase": "Error", "message": "reflect: slice index out of range",
                                 "finishedAt": format!("2026-05-04T17:0{i}:00Z")})
                })
                .collect();
            object(json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
                "metadata": {"name": "web-run", "namespace": "shop", "resourceVersion": rv,
                             "ownerReferences": [{"kind": "Rollout", "name": "web"}]},
                "spec": {"metrics": [{"name": "err", "interval": "30s"}]},
                "status": {"phase": "Running", "metricResults": [{"name": "err", "count": n, "error": n,
                           "consecutiveError": n, "measurements": ms}]}
            }))
        };
        s.apply(Update {
            tag: Watched::AnalysisRuns,
            event: WatchEvent::Apply(run(1, "5")),
        });
        let out = s.evaluate(None);
        let kinds: Vec<_> = out.iter().map(|o| o.kind).collect();
        assert!(out[0].body.contains("measurement 1: **Error**"), "{out:?}");
        assert_eq!(
            kinds
                .iter()
                .filter(|k| **k == crate::channel::Kind::Alert)
                .count(),
            2,
            "errors and no-data: {out:?}"
        );
        s.apply(Update {
            tag: Watched::AnalysisRuns,
            event: WatchEvent::Apply(run(2, "6")),
        });
        let out = s.evaluate(None);
        assert!(out[0].body.contains("measurement 2"), "{out:?}");
        assert!(!out[0].body.contains("measurement 1"), "{out:?}");
        // The streak grew but the condition is the same: neither alert is repeated.
        assert_eq!(
            out.iter()
                .filter(|o| o.kind == crate::channel::Kind::Alert)
                .count(),
            0,
            "{out:?}"
        );
        assert!(s.evaluate(None).is_empty());
    }
}
