//! The API's health as an observer reports it: [`ApiHealth`] (pure: says once that the API is
//! lost and once that it is back) and [`health`], the task that feeds it the watchers'
//! [`Signal`]s and probes `/version` while the API is lost.
//!
//! It must not watch objects nor post: it sends observations into the observer's queue.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use kube::Client;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Observation, Ref, Signal};
use crate::channel::Kind;

/// Says once that the API is lost and once that it is back. Pure: the caller feeds errors,
/// probe successes and the current instant.
#[derive(Debug, Clone, Default)]
pub struct ApiHealth {
    /// Since when the API is lost, and the first error.
    lost: Option<(DateTime<Utc>, String)>,
    /// When it came back: errors shortly after are the watchers' retries catching up.
    back_at: Option<Instant>,
}

/// How long after "back" a stray error is taken for a retry in flight, not a new outage.
pub const BACK_GRACE: Duration = Duration::from_secs(2);

impl ApiHealth {
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// An error from a watcher at `now` (wall instant) and `at` (for the message). Returns
    /// the alert when this starts an outage.
    pub fn error(
        &mut self,
        what: &str,
        detail: &str,
        now: Instant,
        at: DateTime<Utc>,
    ) -> Option<Observation> {
        if self.lost.is_some() || self.back_at.is_some_and(|b| now - b < BACK_GRACE) {
            return None;
        }
        self.lost = Some((at, format!("{what}: {detail}")));
        Some(Observation::alert(format!(
            "**lost the Kubernetes API** at {}: {what} failed ({detail}). Nothing this observer \
             does not see can be reported until it is back; it keeps retrying.",
            at.format("%H:%M:%SZ")
        )))
    }

    /// The API answered again. Returns the observation when this ends an outage.
    pub fn back(&mut self, now: Instant, at: DateTime<Utc>) -> Option<Observation> {
        let (since, _) = self.lost.take()?;
        self.back_at = Some(now);
        let gap = (at - since).max(TimeDelta::zero());
        Some(Observation::report(format!(
            "**Kubernetes API is back** at {} after {}; watches resume (objects are resynced, \
             only real changes are reported).",
            at.format("%H:%M:%SZ"),
            crate::rollout::view::human_duration(gap)
        )))
    }
}

/// Runs the health side of an observer: turns watcher [`Signal`]s into at most one lost/back
/// pair per outage (probing `/version` every `probe` while lost) and one access alert per
/// forbidden kind.
pub async fn health(
    client: Client,
    role: &'static str,
    mut signals: mpsc::Receiver<Signal>,
    out: mpsc::Sender<Observation>,
    probe: Duration,
    cancel: CancellationToken,
) {
    let mut state = ApiHealth::default();
    let mut forbidden: Vec<String> = Vec::new();
    // The outage alert's key: its resolution ("back") refs it.
    let mut lost_key: Option<String> = None;
    let mut ticker = tokio::time::interval(probe);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            signal = signals.recv() => {
                let Some(signal) = signal else { return };
                let obs = match signal {
                    Signal::Lost { what, detail } => {
                        let at = Utc::now();
                        state.error(&what, &detail, Instant::now(), at).map(|mut obs| {
                            let key = format!("api/{role}/lost@{}", at.timestamp_millis());
                            obs.key = Some(key.clone());
                            lost_key = Some(key);
                            obs
                        })
                    }
                    Signal::Forbidden { what, detail } => {
                        if forbidden.contains(&what) {
                            None
                        } else {
                            forbidden.push(what.clone());
                            Some(Observation::alert(format!(
                                "**forbidden**: {what} is denied ({detail}). Apply \
                                 `agents/rbac/{role}.yaml` (get/list/watch only)."
                            )))
                        }
                    }
                };
                if let Some(obs) = obs {
                    let _ = out.send(obs).await;
                }
            }
            _ = ticker.tick(), if state.is_lost() => {
                if client.apiserver_version().await.is_ok()
                    && let Some(mut obs) = state.back(Instant::now(), Utc::now())
                {
                    // "Back" is the outage alert's resolution.
                    if let Some(key) = lost_key.take() {
                        obs.kind = Kind::Resolved;
                        obs.key = Some(format!("{key}/back"));
                        obs.refs = vec![Ref::Key(key)];
                    }
                    let _ = out.send(obs).await;
                }
            }
        }
    }
}
