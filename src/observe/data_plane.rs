//! The data-plane observer: what actually runs in a namespace. ReplicaSets, Deployments,
//! Pods, Jobs and Warning events (plus `Pulled` events, for image-pull durations).
//!
//! It posts a baseline first (ReplicaSets with replicas, Deployments, pods per node, Jobs),
//! then coalesced transitions, one compact markdown table per window: ReplicaSet created or
//! scaled (5 → 4), Deployment replica changes, pods scheduled / Ready / NotReady / restarted /
//! CrashLoopBackOff / ImagePullBackOff, image pulls with their duration, Jobs started and
//! finished, Warning events (a repeating one is said once, again only when its message
//! changes). Crash loops, image-pull failures, container config errors and failed Jobs are
//! alert conditions with a lifecycle ([`super::lifecycle`]): one per owner and failure, said
//! once however often the pod restarts, resolved when no pod of the owner fails that way.
//!
//! Only slim per-object state is kept ([`PodState`] and friends: a few strings and numbers),
//! so a 5,000-pod namespace stays small. The pure part is [`DataPlaneState`] (watcher events in,
//! [`Row`]s out) and [`render_window`] (rows in, one readable entry out).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kube::Client;
use kube::api::DynamicObject;
use kube::runtime::watcher::Event as WatchEvent;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use tokio::time::Instant;

use super::lifecycle::{Condition, Lifecycle, Said};
use super::{Diff, Mirror, Observation, ObserveError, Signal, Update, cell, watch, watch_config};
use crate::rollout::cluster::{self, Kind as ClusterKind};
use crate::rollout::model::{Deployment, Event, Pod, ReplicaSet};

/// batch/v1 Jobs (not in [`cluster`]: only this observer reads them).
pub const JOBS: ClusterKind = ClusterKind {
    group: "batch",
    version: "v1",
    kind: "Job",
    plural: "jobs",
};

/// What the data-plane observer watches.
#[derive(Debug, Clone)]
pub struct DataPlaneConfig {
    /// The namespace watched; empty: every namespace (`-A`).
    pub namespace: String,
    /// Label selector for pods, ReplicaSets, Deployments and Jobs.
    pub selector: Option<String>,
    /// Coalescing window (wall time).
    pub window: Duration,
    /// What this observer said before (its own entries), so a restart knows what is open.
    pub history: Vec<Said>,
    /// Where pods per ReplicaSet go (state beside history).
    pub state: super::state::StatePublisher,
}

impl DataPlaneConfig {
    pub fn new(namespace: &str, selector: Option<String>, window: Duration) -> Self {
        Self {
            namespace: namespace.to_string(),
            selector,
            window,
            history: Vec::new(),
            state: super::state::StatePublisher::none(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Watched {
    ReplicaSets,
    Deployments,
    Pods,
    Jobs,
    Events,
}

impl Watched {
    pub const ALL: [Watched; 5] = [
        Watched::ReplicaSets,
        Watched::Deployments,
        Watched::Pods,
        Watched::Jobs,
        Watched::Events,
    ];

    pub fn kind(self) -> ClusterKind {
        match self {
            Watched::ReplicaSets => cluster::REPLICA_SETS,
            Watched::Deployments => cluster::DEPLOYMENTS,
            Watched::Pods => cluster::PODS,
            Watched::Jobs => JOBS,
            Watched::Events => cluster::EVENTS,
        }
    }
}

/// The part of a ReplicaSet this observer reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetState {
    pub desired: i32,
    pub ready: i32,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentState {
    pub desired: i32,
    pub replicas: i32,
    pub ready: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub owner: String,
    pub node: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    /// A container's waiting reason (ContainerCreating, CrashLoopBackOff, ImagePullBackOff…).
    pub waiting: String,
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub start: Option<DateTime<Utc>>,
    pub completion: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventState {
    pub type_: String,
    pub reason: String,
    pub object: String,
    pub message: String,
    pub count: i32,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Job {
    metadata: crate::rollout::model::ObjectMeta,
    status: JobStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct JobStatus {
    active: i32,
    succeeded: i32,
    failed: i32,
    start_time: Option<DateTime<Utc>>,
    completion_time: Option<DateTime<Utc>>,
}

fn decode<T: serde::de::DeserializeOwned>(kind: &'static str, obj: DynamicObject) -> Option<T> {
    match cluster::decode::<T>(kind, obj) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    }
}

/// An object of a watch across namespaces, with its name, its owners' names and (for an Event)
/// the name of the object it is about as `namespace/name`: two namespaces may hold the same
/// names, and every row and key then says which one it means.
fn qualify(mut obj: DynamicObject) -> DynamicObject {
    let Some(ns) = obj.metadata.namespace.clone() else {
        return obj; // cluster-scoped
    };
    if let Some(name) = &mut obj.metadata.name {
        *name = format!("{ns}/{name}");
    }
    for o in obj.metadata.owner_references.iter_mut().flatten() {
        o.name = format!("{ns}/{}", o.name);
    }
    if let Some(name) = obj
        .data
        .get_mut("involvedObject")
        .and_then(|i| i.get_mut("name"))
        && let Some(n) = name.as_str()
    {
        *name = serde_json::Value::String(format!("{ns}/{n}"));
    }
    obj
}

fn owner(meta: &crate::rollout::model::ObjectMeta) -> String {
    meta.owner_references
        .first()
        .map(|o| format!("{} {}", o.kind, o.name))
        .unwrap_or_default()
}

fn project_rs(obj: DynamicObject) -> Option<(String, ReplicaSetState)> {
    let rs: ReplicaSet = decode("ReplicaSet", obj)?;
    Some((
        rs.metadata.name.clone(),
        ReplicaSetState {
            desired: rs.spec.replicas.unwrap_or(rs.status.replicas),
            ready: rs.status.ready_replicas,
            owner: owner(&rs.metadata),
        },
    ))
}

fn project_deployment(obj: DynamicObject) -> Option<(String, DeploymentState)> {
    let d: Deployment = decode("Deployment", obj)?;
    Some((
        d.metadata.name.clone(),
        DeploymentState {
            desired: d.spec.replicas.unwrap_or(d.status.replicas),
            replicas: d.status.replicas,
            ready: d.status.ready_replicas,
        },
    ))
}

fn project_pod(obj: DynamicObject) -> Option<(String, PodState)> {
    let p: Pod = decode("Pod", obj)?;
    let statuses = p
        .status
        .init_container_statuses
        .iter()
        .chain(&p.status.container_statuses);
    let mut waiting = String::new();
    let mut restarts = 0;
    for c in statuses {
        restarts += c.restart_count;
        if let Some(w) = &c.state.waiting
            && waiting.is_empty()
        {
            waiting = w.reason.clone();
        }
    }
    let ready = !p.status.container_statuses.is_empty()
        && p.status.container_statuses.iter().all(|c| c.ready);
    Some((
        p.metadata.name.clone(),
        PodState {
            owner: owner(&p.metadata),
            node: p.spec.node_name.clone(),
            phase: p.status.phase.clone(),
            ready,
            restarts,
            waiting,
            created: p.metadata.creation_timestamp,
        },
    ))
}

fn project_job(obj: DynamicObject) -> Option<(String, JobState)> {
    let j: Job = decode("Job", obj)?;
    Some((
        j.metadata.name.clone(),
        JobState {
            active: j.status.active,
            succeeded: j.status.succeeded,
            failed: j.status.failed,
            start: j.status.start_time,
            completion: j.status.completion_time,
        },
    ))
}

fn project_event(obj: DynamicObject) -> Option<(String, EventState)> {
    let e: Event = decode("Event", obj)?;
    if e.type_ != "Warning" && e.reason != "Pulled" {
        return None;
    }
    Some((
        e.metadata.name.clone(),
        EventState {
            type_: e.type_.clone(),
            reason: e.reason.clone(),
            object: format!("{} `{}`", e.involved_object.kind, e.involved_object.name),
            message: e.message.clone(),
            count: e.count.max(1),
            at: e.last_seen(),
        },
    ))
}

/// One line of a window's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `ReplicaSet web-7f6b8d9c5e`, `Pod web-…`.
    pub object: String,
    pub change: String,
    /// Crash loops, image-pull failures, failed Jobs: also alerted.
    pub bad: bool,
    /// Rows of one burst that can be counted together: (owner, what happened).
    pub group: Option<(String, String)>,
    /// A later row with the same key in the same window supersedes this one (a Warning
    /// event's count going up: only the latest is worth a line).
    pub supersede: Option<String>,
}

fn row(object: String, change: String) -> Row {
    Row {
        object,
        change,
        bad: false,
        group: None,
        supersede: None,
    }
}

const BAD_WAITING: [&str; 4] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
];

/// How long a failure must be gone before its alert is resolved: a crash-looping container
/// may pass its readiness check for a moment between crashes.
pub const FAILURE_CLEAR: Duration = Duration::from_secs(10);

/// A failure a pod or Job is in, sticky until it is really over.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failing {
    /// `ReplicaSet web-abc` (the owner), or the object itself when it has none.
    owner: String,
    /// The waiting reason or `Failed`.
    reason: String,
}

/// The objects seen so far; watcher events in, rows out. Nothing is reported before the
/// baseline (every kind listed once), and a resync reports only real differences.
#[derive(Debug, Default)]
pub struct DataPlaneState {
    replica_sets: Mirror<ReplicaSetState>,
    deployments: Mirror<DeploymentState>,
    pods: Mirror<PodState>,
    jobs: Mirror<JobState>,
    events: Mirror<EventState>,
    baseline_done: bool,
    /// Pods and Jobs in a failure, by object (`Pod x`, `Job y`).
    failing: BTreeMap<String, Failing>,
    /// The message last said per repeating Warning (`object|reason`).
    warned: BTreeMap<String, String>,
    lifecycle: Lifecycle,
    /// Watching every namespace (`-A`): objects are named `namespace/name` (see [`qualify`]).
    all_namespaces: bool,
}

impl DataPlaneState {
    /// Pods ready and not ready per ReplicaSet, for the observer's state.
    pub fn replica_set_pods(&self) -> Vec<crate::state::ReplicaSetPods> {
        super::state::replica_sets(self.replica_sets.iter(), self.pods.values())
    }

    /// A state that knows what this observer said before.
    pub fn restored(history: &[Said]) -> DataPlaneState {
        DataPlaneState {
            lifecycle: Lifecycle::restore(history),
            ..DataPlaneState::default()
        }
    }

    /// Names every object `namespace/name`: what it watches spans namespaces (`-A`).
    pub fn across_namespaces(mut self) -> Self {
        self.all_namespaces = true;
        self
    }

    /// Keeps the sticky failures in step with a pod's or Job's change.
    fn track(&mut self, object: String, failing: Option<Failing>, over: bool) {
        match failing {
            Some(f) => {
                self.failing.insert(object, f);
            }
            None if over => {
                self.failing.remove(&object);
            }
            None => {}
        }
    }

    /// The failure conditions now, one per (failure, owner), for the lifecycle.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut groups: BTreeMap<(&'static str, &str), Vec<(&str, &str)>> = BTreeMap::new();
        for (object, f) in &self.failing {
            let detector = match f.reason.as_str() {
                "CrashLoopBackOff" => "pod crash-looping",
                "ImagePullBackOff" | "ErrImagePull" => "image pull failing",
                "CreateContainerConfigError" => "container config error",
                _ => "Job failed",
            };
            groups
                .entry((detector, f.owner.as_str()))
                .or_default()
                .push((object.as_str(), f.reason.as_str()));
        }
        groups
            .into_iter()
            .map(|((detector, owner), members)| {
                let names: Vec<String> = members
                    .iter()
                    .take(5)
                    .map(|(o, r)| format!("{o} ({r})"))
                    .collect();
                let more = if members.len() > 5 {
                    format!(", … {} more", members.len() - 5)
                } else {
                    String::new()
                };
                let headline = format!(
                    "**{detector}** — **{owner}**: {} failing: {}{more}",
                    members.len(),
                    names.join(", ")
                );
                Condition {
                    key: format!("{detector}|{owner}"),
                    alert: true,
                    body: format!(
                        "{headline}\n\nSaid once for as long as it lasts, however often the pods restart; resolved when none of them fails this way for {}s.\n",
                        FAILURE_CLEAR.as_secs()
                    ),
                    headline,
                    level: 0,
                    confirm: Duration::ZERO,
                    clear: FAILURE_CLEAR,
                }
            })
            .collect()
    }

    /// Judges the failure conditions at wall instant `now` (once the baseline is out).
    pub fn judge(&mut self, namespace: &str, now: Instant) -> Vec<Observation> {
        if !self.baseline_done {
            return Vec::new();
        }
        let conditions = self.conditions();
        self.lifecycle.judge(namespace, &conditions, now)
    }

    pub fn synced(&self) -> bool {
        self.replica_sets.is_synced()
            && self.deployments.is_synced()
            && self.pods.is_synced()
            && self.jobs.is_synced()
            && self.events.is_synced()
    }

    /// Applies one watcher event; returns the rows it makes (none before the baseline).
    pub fn apply(&mut self, update: Update<Watched>) -> Vec<Row> {
        let ev = if self.all_namespaces {
            match update.event {
                WatchEvent::Apply(o) => WatchEvent::Apply(qualify(o)),
                WatchEvent::InitApply(o) => WatchEvent::InitApply(qualify(o)),
                WatchEvent::Delete(o) => WatchEvent::Delete(qualify(o)),
                other => other,
            }
        } else {
            update.event
        };
        let mut rows = Vec::new();
        match update.tag {
            Watched::ReplicaSets => {
                for d in self.replica_sets.apply(ev, project_rs) {
                    rs_rows(&d, &mut rows);
                }
            }
            Watched::Deployments => {
                for d in self.deployments.apply(ev, project_deployment) {
                    deployment_rows(&d, &mut rows);
                }
            }
            Watched::Pods => {
                for d in self.pods.apply(ev, project_pod) {
                    let object = format!("Pod {}", d.key);
                    let looping = self
                        .failing
                        .get(&object)
                        .is_some_and(|f| f.reason == "CrashLoopBackOff");
                    let (failing, over) = match &d.after {
                        Some(p) if BAD_WAITING.contains(&p.waiting.as_str()) => (
                            Some(Failing {
                                owner: if p.owner.is_empty() {
                                    object.clone()
                                } else {
                                    p.owner.clone()
                                },
                                reason: p.waiting.clone(),
                            }),
                            false,
                        ),
                        Some(p) => (None, p.ready || p.phase == "Succeeded"),
                        None => (None, true),
                    };
                    self.track(object, failing, over);
                    let mut pod = Vec::new();
                    pod_rows(&d, &mut pod);
                    // A crash loop's restarts are one condition, not a row each time.
                    rows.extend(pod.into_iter().filter(|r| {
                        !(looping
                            && (r.change.starts_with("restarted")
                                || r.change.starts_with("NotReady")))
                    }));
                }
            }
            Watched::Jobs => {
                for d in self.jobs.apply(ev, project_job) {
                    let object = format!("Job {}", d.key);
                    let (failing, over) = match &d.after {
                        Some(j) if j.failed > 0 && j.succeeded == 0 && j.active == 0 => (
                            Some(Failing {
                                owner: object.clone(),
                                reason: "Failed".into(),
                            }),
                            false,
                        ),
                        Some(j) => (None, j.succeeded > 0),
                        None => (None, true),
                    };
                    self.track(object, failing, over);
                    job_rows(&d, &mut rows);
                }
            }
            Watched::Events => {
                for d in self.events.apply(ev, project_event) {
                    let mut event = Vec::new();
                    event_rows(&d, &mut event);
                    // A repeating Warning is said once, again only when its message changes.
                    for r in event {
                        if let (Some(key), Some(after)) = (&r.supersede, &d.after) {
                            if self.warned.get(key) == Some(&after.message) {
                                continue;
                            }
                            self.warned.insert(key.clone(), after.message.clone());
                        }
                        rows.push(r);
                    }
                }
            }
        }
        if self.baseline_done { rows } else { Vec::new() }
    }

    /// The baseline entry, once, when every kind has been listed.
    pub fn baseline(&mut self, namespace: &str, selector: Option<&str>) -> Option<Observation> {
        if self.baseline_done || !self.synced() {
            return None;
        }
        self.baseline_done = true;
        let what = if namespace.is_empty() {
            "every namespace".to_owned()
        } else {
            format!("namespace `{namespace}`")
        };
        let mut out = format!(
            "**baseline of {what}**{}\n\n",
            selector
                .map(|s| format!(" (selector `{s}`)"))
                .unwrap_or_default()
        );
        let (active, idle): (Vec<_>, Vec<_>) =
            self.replica_sets.iter().partition(|(_, rs)| rs.desired > 0);
        out.push_str("| ReplicaSet | replicas | ready | owner |\n|---|---|---|---|\n");
        for (name, rs) in &active {
            out.push_str(&format!(
                "| `{name}` | {} | {} | {} |\n",
                rs.desired,
                rs.ready,
                cell(&rs.owner)
            ));
        }
        if !idle.is_empty() {
            out.push_str(&format!(
                "| ({} more at 0 replicas) | 0 | 0 | |\n",
                idle.len()
            ));
        }
        if !self.deployments.is_empty() {
            out.push_str("\n| Deployment | replicas | ready |\n|---|---|---|\n");
            for (name, d) in self.deployments.iter() {
                out.push_str(&format!("| `{name}` | {} | {} |\n", d.desired, d.ready));
            }
        }
        let mut nodes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for p in self.pods.values() {
            let n = nodes
                .entry(if p.node.is_empty() {
                    "(unscheduled)"
                } else {
                    &p.node
                })
                .or_default();
            n.0 += 1;
            if p.ready {
                n.1 += 1;
            }
        }
        out.push_str(&format!(
            "\n{} pods.\n\n| node | pods | ready |\n|---|---|---|\n",
            self.pods.len()
        ));
        for (node, (pods, ready)) in nodes {
            out.push_str(&format!("| {node} | {pods} | {ready} |\n"));
        }
        if !self.jobs.is_empty() {
            out.push_str("\n| Job | active | succeeded | failed |\n|---|---|---|---|\n");
            for (name, j) in self.jobs.iter() {
                out.push_str(&format!(
                    "| `{name}` | {} | {} | {} |\n",
                    j.active, j.succeeded, j.failed
                ));
            }
        }
        let warnings: Vec<_> = self
            .events
            .values()
            .filter(|e| e.type_ == "Warning")
            .collect();
        if !warnings.is_empty() {
            out.push_str("\nWarning events so far:\n");
            for e in warnings {
                out.push_str(&format!(
                    "- {} ×{} on {}: {}\n",
                    e.reason, e.count, e.object, e.message
                ));
            }
        }
        Some(Observation::report(out))
    }
}

fn rs_rows(d: &Diff<ReplicaSetState>, rows: &mut Vec<Row>) {
    let object = format!("ReplicaSet `{}`", d.key);
    match (&d.before, &d.after) {
        (None, Some(a)) => rows.push(row(
            object,
            format!("created at replicas {} ({})", a.desired, a.owner),
        )),
        (Some(b), Some(a)) if b.desired != a.desired => {
            rows.push(row(object, format!("scaled {} → {}", b.desired, a.desired)));
        }
        (Some(b), None) => rows.push(row(object, format!("deleted (was at {})", b.desired))),
        _ => {}
    }
}

fn deployment_rows(d: &Diff<DeploymentState>, rows: &mut Vec<Row>) {
    let object = format!("Deployment `{}`", d.key);
    match (&d.before, &d.after) {
        (None, Some(a)) => rows.push(row(object, format!("created at replicas {}", a.desired))),
        (Some(b), Some(a)) => {
            if b.desired != a.desired {
                rows.push(row(
                    object.clone(),
                    format!("scaled {} → {}", b.desired, a.desired),
                ));
            }
            if b.replicas != a.replicas {
                rows.push(row(
                    object,
                    format!("running replicas {} → {}", b.replicas, a.replicas),
                ));
            }
        }
        (Some(_), None) => rows.push(row(object, "deleted".into())),
        _ => {}
    }
}

fn pod_rows(d: &Diff<PodState>, rows: &mut Vec<Row>) {
    let object = format!("Pod `{}`", d.key);
    let mut push = |owner: &str, change: String, label: &str, bad: bool| {
        rows.push(Row {
            object: object.clone(),
            change,
            bad,
            group: Some((owner.to_string(), label.to_string())),
            supersede: None,
        });
    };
    match (&d.before, &d.after) {
        (None, Some(a)) => {
            let on = if a.node.is_empty() {
                "not scheduled yet".to_string()
            } else {
                format!("scheduled on {}", a.node)
            };
            push(
                &a.owner,
                format!("created ({}), {on}", a.owner),
                "created",
                false,
            );
            if a.ready {
                push(&a.owner, format!("Ready on {}", a.node), "Ready", false);
            }
            if BAD_WAITING.contains(&a.waiting.as_str()) {
                push(&a.owner, a.waiting.clone(), &a.waiting, true);
            }
        }
        (Some(b), Some(a)) => {
            if b.node.is_empty() && !a.node.is_empty() {
                push(
                    &a.owner,
                    format!("scheduled on {}", a.node),
                    "scheduled",
                    false,
                );
            }
            if !b.ready && a.ready {
                let on = if a.node.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", a.node)
                };
                push(&a.owner, format!("Ready{on}"), "Ready", false);
            }
            if b.ready && !a.ready && a.phase != "Succeeded" {
                let why = if a.waiting.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.waiting)
                };
                push(&a.owner, format!("NotReady{why}"), "NotReady", false);
            }
            if a.restarts > b.restarts {
                push(
                    &a.owner,
                    format!("restarted (restarts {} → {})", b.restarts, a.restarts),
                    "restarted",
                    false,
                );
            }
            if a.waiting != b.waiting && BAD_WAITING.contains(&a.waiting.as_str()) {
                let since = a
                    .created
                    .map(|c| format!(" (pod created {})", c.format("%H:%M:%SZ")))
                    .unwrap_or_default();
                push(&a.owner, format!("{}{since}", a.waiting), &a.waiting, true);
            }
            if a.phase != b.phase && (a.phase == "Succeeded" || a.phase == "Failed") {
                push(
                    &a.owner,
                    format!("phase {}", a.phase),
                    &a.phase,
                    a.phase == "Failed",
                );
            }
        }
        (Some(b), None) => push(&b.owner, "deleted".into(), "deleted", false),
        _ => {}
    }
}

fn job_rows(d: &Diff<JobState>, rows: &mut Vec<Row>) {
    let object = format!("Job `{}`", d.key);
    let took = |j: &JobState| match (j.start, j.completion) {
        (Some(s), Some(c)) => format!(" in {}", crate::rollout::view::human_duration(c - s)),
        _ => String::new(),
    };
    match (&d.before, &d.after) {
        (None, Some(a)) => {
            rows.push(row(object.clone(), "started".into()));
            if a.succeeded > 0 {
                rows.push(row(object, format!("finished: succeeded{}", took(a))));
            }
        }
        (Some(b), Some(a)) => {
            if a.succeeded > b.succeeded {
                rows.push(row(
                    object.clone(),
                    format!("finished: succeeded{}", took(a)),
                ));
            }
            if a.failed > b.failed {
                rows.push(Row {
                    object,
                    change: format!("pod failed (failures {} → {})", b.failed, a.failed),
                    bad: true,
                    group: None,
                    supersede: None,
                });
            }
        }
        (Some(_), None) => rows.push(row(object, "deleted".into())),
        _ => {}
    }
}

/// "Successfully pulled image "x" in 13.2s (…)" -> "13.2s".
fn pull_duration(message: &str) -> Option<&str> {
    let rest = &message[message.find("\" in ")? + 5..];
    rest.split([' ', '(']).next().filter(|s| !s.is_empty())
}

fn event_rows(d: &Diff<EventState>, rows: &mut Vec<Row>) {
    let Some(a) = &d.after else { return };
    let before = d.before.as_ref().map_or(0, |b| b.count);
    if a.count <= before {
        return;
    }
    if a.reason == "Pulled" {
        if let Some(took) = pull_duration(&a.message) {
            rows.push(row(a.object.clone(), format!("image pulled in {took}")));
        }
        return;
    }
    rows.push(Row {
        supersede: Some(format!("{}|{}", a.object, a.reason)),
        ..row(
            a.object.clone(),
            format!("Warning {} ×{}: {}", a.reason, a.count, cell(&a.message)),
        )
    });
}

/// How many rows a window shows one by one before it counts pod rows together.
pub const ROWS_SHOWN: usize = 30;

/// One entry for a window's rows: a table, with pod rows of one owner and change counted
/// together when the window is busy.
pub fn render_window(rows: &[Row]) -> String {
    // Superseded rows go; the survivor says how many it stands for.
    let mut last: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(k) = &r.supersede {
            let e = last.entry(k.as_str()).or_insert((i, 0));
            *e = (i, e.1 + 1);
        }
    }
    let kept: Vec<Row> = rows
        .iter()
        .enumerate()
        .filter_map(
            |(i, r)| match r.supersede.as_deref().and_then(|k| last.get(k)) {
                Some((at, _)) if *at != i => None,
                Some((_, n)) if *n > 1 => Some(Row {
                    change: format!("{} ({n} this window)", r.change),
                    ..r.clone()
                }),
                _ => Some(r.clone()),
            },
        )
        .collect();
    let rows = &kept[..];
    let mut lines: Vec<(String, String)> = Vec::new();
    if rows.len() <= ROWS_SHOWN {
        lines.extend(rows.iter().map(|r| (r.object.clone(), r.change.clone())));
    } else {
        let mut groups: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
        for r in rows {
            match &r.group {
                Some(g) => groups.entry(g.clone()).or_default().push(r),
                None => lines.push((r.object.clone(), r.change.clone())),
            }
        }
        for ((owner, label), members) in groups {
            let examples: Vec<&str> = members.iter().take(3).map(|r| r.object.as_str()).collect();
            let more = if members.len() > 3 { ", …" } else { "" };
            lines.push((
                format!(
                    "{} pod(s) of {}",
                    members.len(),
                    if owner.is_empty() {
                        "(no owner)"
                    } else {
                        &owner
                    }
                ),
                format!("{label} (e.g. {}{more})", examples.join(", ")),
            ));
        }
    }
    let mut out = format!(
        "**{} change(s)**\n\n| object | change |\n|---|---|\n",
        rows.len()
    );
    for (object, change) in lines {
        out.push_str(&format!("| {object} | {change} |\n"));
    }
    out
}

/// Runs the data-plane observer until `cancel`.
pub async fn run(
    client: Client,
    config: DataPlaneConfig,
    out: mpsc::Sender<Observation>,
    cancel: CancellationToken,
) -> Result<(), ObserveError> {
    let ns = config.namespace.clone();
    super::check_namespace(&client, &ns).await?;
    let kinds: Vec<ClusterKind> = Watched::ALL.iter().map(|w| w.kind()).collect();
    let denied = super::access_check(&client, &ns, &kinds).await?;
    if let Some(alert) = super::access_alert("data-plane", &ns, &denied) {
        let _ = out.send(alert).await;
    }
    let mut state = DataPlaneState::restored(&config.history);
    if ns.is_empty() {
        state = state.across_namespaces();
    }
    let tasks = TaskTracker::new();
    let (updates_tx, mut updates) = mpsc::channel::<Update<Watched>>(4096);
    let (signals_tx, signals) = mpsc::channel::<Signal>(64);
    for w in Watched::ALL {
        if denied.iter().any(|a| a.kind == w.kind()) {
            // Not watchable: treat it as an empty, listed kind so the baseline comes.
            state.apply(Update {
                tag: w,
                event: WatchEvent::Init,
            });
            state.apply(Update {
                tag: w,
                event: WatchEvent::InitDone,
            });
            continue;
        }
        let labels = (w != Watched::Events)
            .then_some(config.selector.as_deref())
            .flatten();
        tasks.spawn(watch(
            super::WatchTarget {
                client: client.clone(),
                namespace: ns.clone(),
                kind: w.kind(),
                config: watch_config(labels, None),
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
        "data-plane",
        signals,
        out.clone(),
        Duration::from_millis(500),
        cancel.clone(),
    ));
    tasks.close();

    let mut pending: Vec<Row> = Vec::new();
    let mut window = tokio::time::interval(config.window);
    window.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    window.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            update = updates.recv() => {
                let Some(update) = update else { break };
                pending.extend(state.apply(update));
                if let Some(baseline) = state.baseline(&ns, config.selector.as_deref()) {
                    let _ = out.send(baseline).await;
                }
            }
            _ = window.tick() => {
                flush(&mut pending, &out).await;
                for obs in state.judge(&ns, Instant::now()) {
                    let _ = out.send(obs).await;
                }
                if state.synced() {
                    let sets = state.replica_set_pods();
                    config.state.update(|d| d.replica_sets = sets);
                }
            }
        }
    }
    flush(&mut pending, &out).await;
    cancel.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), tasks.wait()).await;
    Ok(())
}

async fn flush(pending: &mut Vec<Row>, out: &mpsc::Sender<Observation>) {
    if pending.is_empty() {
        return;
    }
    let rows = std::mem::take(pending);
    let _ = out.send(Observation::report(render_window(&rows))).await;
}

#[cfg(test)]
#[path = "data_plane_tests.rs"]
mod tests;
