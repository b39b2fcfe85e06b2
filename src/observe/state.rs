//! The observers' side of state beside history: building each role's current view from what it
//! watches, and a publisher task that writes it ([`crate::state`]) — locally as the channel's
//! state file, or through the relay (`PUT /api/channels/{ch}/state/{role}`) with the
//! observer's token.
//!
//! An observer calls [`StatePublisher::update`] whenever its view may have changed; that never
//! blocks and never fails (the latest view wins, unchanged views are not rewritten). The task
//! writes each new view at once, rewrites the last one every heartbeat so readers can tell a
//! live observer from a silent one, and when the last handle is dropped (the observer stopped)
//! writes it one final time marked `stopped`. A failed write is reported on stderr once per
//! cause and the observer carries on: its entries matter more than its state.
//!
//! The view builders ([`rollouts`], [`replica_sets`], [`routes`]) are pure functions over what
//! the observers already hold. This module must not post entries or judge anything.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::data_plane::{PodState, ReplicaSetState};
use super::traffic::{Route, Tally};
use crate::channel::{Author, Channel, Timestamp};
use crate::rollout::model::Snapshot;
use crate::rollout::view;
use crate::state::{
    AnalysisState, MeasurementState, ReplicaSetPods, Replicas, RolloutState, RouteState, StateDoc,
};

/// Where a publisher writes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The channel's state file, on this machine.
    Local(Channel),
    /// A relay: `PUT {relay}/api/channels/{ch}/state/{role}` with a bearer token.
    Remote {
        http: reqwest::Client,
        url: String,
        token: String,
    },
}

impl Target {
    /// The relay at `relay` (`http://127.0.0.1:7700`) for `role` in `channel`.
    pub fn remote(relay: &str, channel: &str, role: &Author, token: &str) -> Self {
        Target::Remote {
            http: reqwest::Client::new(),
            url: format!(
                "{}/api/channels/{channel}/state/{role}",
                relay.trim_end_matches('/')
            ),
            token: token.to_owned(),
        }
    }
}

/// A cheap handle an observer updates its view through. [`StatePublisher::none`] publishes
/// nothing (tests, library users without a channel).
#[derive(Debug, Clone, Default)]
pub struct StatePublisher {
    tx: Option<Arc<watch::Sender<StateDoc>>>,
}

impl StatePublisher {
    pub fn none() -> Self {
        Self { tx: None }
    }

    /// Starts the task that writes `role`'s state to `target`, rewriting it every `heartbeat`.
    /// The task ends, after writing the final `stopped` state, when every handle is dropped.
    pub fn spawn(target: Target, role: Author, heartbeat: Duration) -> (Self, JoinHandle<()>) {
        let heartbeat_ms = u64::try_from(heartbeat.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let (tx, rx) = watch::channel(StateDoc::new(role, heartbeat_ms));
        let task = tokio::spawn(write_loop(rx, target, heartbeat));
        (
            Self {
                tx: Some(Arc::new(tx)),
            },
            task,
        )
    }

    /// True when it publishes somewhere.
    pub fn is_active(&self) -> bool {
        self.tx.is_some()
    }

    /// The pipeline's view: every Rollout of the snapshot (built only when publishing), at
    /// cluster time `now`, which becomes the view's time when the Rollouts changed.
    pub fn rollouts(&self, snapshot: impl FnOnce() -> Snapshot, now: Option<DateTime<Utc>>) {
        if !self.is_active() {
            return;
        }
        let list = rollouts(&snapshot(), now.unwrap_or_else(Utc::now));
        self.update(|d| {
            if d.rollouts != list {
                d.rollouts = list;
                d.observed_at = ts(now);
            }
        });
    }

    /// Changes the view; written soon if it differs from the last one.
    pub fn update(&self, change: impl FnOnce(&mut StateDoc)) {
        if let Some(tx) = &self.tx {
            tx.send_if_modified(|doc| {
                let before = doc.clone();
                change(doc);
                *doc != before
            });
        }
    }
}

async fn write_loop(mut rx: watch::Receiver<StateDoc>, target: Target, heartbeat: Duration) {
    let mut writer = Writer {
        target,
        seq: 0,
        last_error: None,
        sealed: false,
    };
    // Nothing is written before the observer has a view.
    let mut started = false;
    let beat = tokio::time::sleep(heartbeat);
    tokio::pin!(beat);
    loop {
        tokio::select! {
            changed = rx.changed() => {
                if changed.is_err() {
                    break;
                }
                started = true;
            }
            () = &mut beat, if started => {}
        }
        let doc = rx.borrow_and_update().clone();
        writer.write(doc).await;
        beat.as_mut().reset(tokio::time::Instant::now() + heartbeat);
    }
    if started {
        let mut doc = rx.borrow().clone();
        doc.stopped = true;
        writer.write(doc).await;
    }
}

struct Writer {
    target: Target,
    seq: u64,
    /// The last failure reported, so a lasting one is said once.
    last_error: Option<String>,
    /// The channel was sealed: its state is part of the record now.
    sealed: bool,
}

impl Writer {
    async fn write(&mut self, mut doc: StateDoc) {
        if self.sealed {
            return;
        }
        self.seq += 1;
        doc.seq = self.seq;
        doc.written_at = Timestamp::now();
        let result = match &self.target {
            Target::Local(channel) => {
                let channel = channel.clone();
                tokio::task::spawn_blocking(move || crate::state::file::write(&channel, &doc))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| {
                        r.map_err(|e| {
                            if matches!(
                                &e,
                                crate::state::file::WriteError::Channel(
                                    crate::channel::Error::Sealed { .. }
                                )
                            ) {
                                self.sealed = true;
                            }
                            format!("{e:#}")
                        })
                    })
            }
            Target::Remote { http, url, token } => {
                match http.put(url).bearer_auth(token).json(&doc).send().await {
                    Ok(r) if r.status().is_success() => Ok(()),
                    Ok(r) => {
                        let status = r.status().as_u16();
                        if status == 403 {
                            self.sealed = r
                                .text()
                                .await
                                .map(|t| t.contains("sealed"))
                                .unwrap_or(false);
                            Err(format!("the relay at {url} refused the state (403)"))
                        } else {
                            let body: String = r
                                .text()
                                .await
                                .unwrap_or_default()
                                .chars()
                                .take(300)
                                .collect();
                            Err(format!(
                                "the relay at {url} refused the state ({status}): {body}"
                            ))
                        }
                    }
                    Err(e) => Err(format!("cannot reach the relay at {url}: {e}")),
                }
            }
        };
        match result {
            Ok(()) => {
                if self.last_error.take().is_some() {
                    eprintln!("state: publishing works again");
                }
            }
            Err(e) => {
                if self.last_error.as_deref() != Some(e.as_str()) {
                    eprintln!("warning: state not published: {e}");
                    self.last_error = Some(e);
                }
            }
        }
    }
}

fn ts(t: Option<DateTime<Utc>>) -> Option<Timestamp> {
    t.map(Timestamp::from_datetime)
}

/// Each Rollout of `snap` as the pipeline observer sees it at cluster time `now`.
pub fn rollouts(snap: &Snapshot, now: DateTime<Utc>) -> Vec<RolloutState> {
    let mut out: Vec<RolloutState> = snap
        .rollouts
        .iter()
        .map(|ro| {
            let v = view::rollout_view(snap, ro, now);
            let with = |tag: &str| -> Vec<String> {
                v.images
                    .iter()
                    .filter(|i| i.tags.iter().any(|t| t == tag))
                    .map(|i| i.image.clone())
                    .collect()
            };
            let (stable, canary) = if ro.spec.strategy.blue_green.is_some() {
                (with("active"), with("preview"))
            } else {
                (with("stable"), with("canary"))
            };
            RolloutState {
                namespace: v.namespace.clone(),
                name: v.name.clone(),
                status: v.status.clone(),
                message: v.message.clone(),
                strategy: v.strategy.to_string(),
                step: v.step.clone(),
                set_weight: v.set_weight,
                actual_weight: v.actual_weight,
                aborted: ro.status.abort,
                stable_images: stable,
                canary_images: canary,
                replicas: Replicas {
                    desired: v.replicas.desired,
                    current: v.replicas.current,
                    updated: v.replicas.updated,
                    ready: v.replicas.ready,
                    available: v.replicas.available,
                },
                analysis: analysis(snap, &ro.metadata.uid),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    out
}

/// The newest AnalysisRun owned by `uid`, with its latest measurement.
fn analysis(snap: &Snapshot, uid: &str) -> Option<AnalysisState> {
    let run = snap
        .analysis_runs
        .iter()
        .filter(|r| r.metadata.is_owned_by(uid))
        .max_by(|a, b| {
            (a.metadata.creation_timestamp, &a.metadata.name)
                .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
        })?;
    let last = run
        .status
        .metric_results
        .iter()
        .flat_map(|mr| mr.measurements.iter().map(move |m| (mr, m)))
        .max_by_key(|(_, m)| m.finished_at.or(m.started_at))
        .map(|(mr, m)| MeasurementState {
            metric: mr.name.clone(),
            phase: if m.phase.is_empty() {
                "Pending".into()
            } else {
                m.phase.clone()
            },
            value: m.value.clone(),
            message: m.message.clone(),
            at: ts(m.finished_at.or(m.started_at)),
        });
    Some(AnalysisState {
        name: run.metadata.name.clone(),
        phase: if run.status.phase.is_empty() {
            "Pending".into()
        } else {
            run.status.phase.clone()
        },
        message: run.status.message.clone(),
        last,
    })
}

/// Pods ready and not ready per ReplicaSet (ReplicaSets scaled to zero with no pods left out).
pub fn replica_sets<'a>(
    sets: impl IntoIterator<Item = (&'a String, &'a ReplicaSetState)>,
    pods: impl IntoIterator<Item = &'a PodState>,
) -> Vec<ReplicaSetPods> {
    let mut counts: BTreeMap<&str, (i32, i32)> = BTreeMap::new();
    for p in pods {
        let c = counts.entry(p.owner.as_str()).or_default();
        if p.ready {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    sets.into_iter()
        .filter_map(|(name, rs)| {
            let (ready, not_ready) = counts
                .get(format!("ReplicaSet {name}").as_str())
                .or_else(|| counts.get(name.as_str()))
                .copied()
                .unwrap_or_default();
            (rs.desired > 0 || ready + not_ready > 0).then(|| ReplicaSetPods {
                name: name.clone(),
                owner: rs.owner.clone(),
                desired: rs.desired,
                ready,
                not_ready,
            })
        })
        .collect()
}

/// Each route's tally over the last window.
pub fn routes(routes: &[Route], tallies: &[Tally], window: Duration) -> Vec<RouteState> {
    routes
        .iter()
        .zip(tallies)
        .map(|(r, t)| RouteState {
            route: r.label(),
            requests: t.total(),
            failures: t.failures(),
            window_ms: u64::try_from(window.as_millis()).unwrap_or(u64::MAX),
            p50_ms: t.percentile(50.0).map(|ms| (ms * 10.0).round() / 10.0),
        })
        .collect()
}

/// `now` as a state timestamp.
pub fn observed_at(now: Option<DateTime<Utc>>) -> Option<Timestamp> {
    ts(now)
}
