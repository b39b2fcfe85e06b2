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
//!
//! Here: the watched kinds, the state and its failure conditions, the baseline, and the run
//! loop; `objects` holds the slim values and projections, `rows` the rows and the window's
//! entry. It must not post itself: it yields observations.

use std::collections::BTreeMap;
use std::time::Duration;

use kube::Client;
use kube::runtime::watcher::Event as WatchEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use tokio::time::Instant;

use super::lifecycle::{Condition, Lifecycle, Said};
use super::{Mirror, Observation, ObserveError, Signal, Update, cell, watch, watch_config};
use crate::rollout::cluster::{self, Kind as ClusterKind};

mod objects;
mod rows;

pub use objects::{DeploymentState, EventState, JobState, PodState, ReplicaSetState};
pub use rows::{ROWS_SHOWN, Row, render_window};

use objects::{project_deployment, project_event, project_job, project_pod, project_rs, qualify};
use rows::{BAD_WAITING, deployment_rows, event_rows, job_rows, pod_rows, rs_rows};

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
