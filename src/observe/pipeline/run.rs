//! The pipeline observer's task: the access check, one watch per kind, the cluster's clock,
//! and the loop that judges the [`PipelineState`] after a settle time, every second, and the
//! moment the cluster's clock reaches a threshold; the state beside history is published
//! from here.
//!
//! It must not judge (the state does) and must not post (it sends into `out`).

use std::time::Duration;

use kube::Client;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{PipelineConfig, PipelineState, Target, Watched};
use crate::observe::{
    ClusterClock, Observation, ObserveError, Signal, Update, WatchTarget, access_alert,
    access_check, check_namespace, health, watch, watch_config,
};
use crate::rollout::cluster::{self, Kind as ClusterKind};

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
    check_namespace(&client, &ns).await?;
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
            WatchTarget {
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
    tasks.spawn(health(
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
        // The moment the cluster's clock reaches the next threshold, or a finding seen holding
        // is confirmed, in wall time.
        let threshold = clock
            .now()
            .and_then(|now| state.next_deadline(&now).map(|d| now.wall_until(d)))
            .map(|wait| Instant::now() + wait);
        let due = threshold
            .into_iter()
            // One already due and still pending waits for the next tick: no busy loop.
            .chain(state.next_confirm().filter(|at| *at > Instant::now()))
            .min()
            .map(|at| at + Duration::from_millis(5));
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
