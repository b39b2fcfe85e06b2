//! The scenario player: plays the steps and the load churn at their scenario times, ticks
//! the controller model, and marks the scenario finished at its end.
//!
//! Owns the timing of a scenario's changes. It must not decide what a step does (that is
//! [`SimHandle::perform`]) nor what the model does ([`super::model`]).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{SimHandle, Target, load, model, resource};

/// Applies the scenario's load churn at its rate (scenario time), in 10 ms wall-time batches.
async fn churn(sim: SimHandle, load: load::LoadSpec, cancel: CancellationToken) {
    let total = load.total_changes();
    let Some(pods) = resource::by_kind("v1", "Pod") else {
        return;
    };
    if total == 0 {
        return;
    }
    let clock = sim.clock();
    let from = load.from.unwrap_or_default();
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep_until(clock.instant_at(from)) => {}
    }
    let mut done = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while done < total {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let due = load.due(clock.elapsed().saturating_sub(from));
        while done < due {
            let at = from + Duration::from_secs_f64(done as f64 / load.changes_per_second);
            let (name, patch) = load.change(done, clock.at(at));
            let target = Target {
                resource: pods,
                namespace: load.namespace.clone(),
                name,
            };
            if let Err(err) = sim.merge_patch(&target, &patch) {
                tracing::warn!("load change {done}: {err}");
            }
            done += 1;
        }
    }
    tracing::info!("load: {total} changes applied");
}

/// Ticks the controller model every [`model::TICK`] of scenario time until cancelled (it
/// keeps running after the scenario's end, as a cluster's controllers would).
async fn run_model(sim: SimHandle, cancel: CancellationToken) {
    let clock = sim.clock();
    let mut n: u32 = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(clock.instant_at(model::TICK * n)) => {}
        }
        sim.tick_model(clock.at(model::TICK * n));
        // A slow tick skips the ticks it overran rather than running them back to back.
        n = n.max((clock.elapsed().as_secs_f64() / model::TICK.as_secs_f64()) as u32) + 1;
    }
}

/// Plays the steps and the load at their scenario times, then marks the scenario finished at
/// its end (never before the last step and the last load change).
pub(super) async fn play(sim: SimHandle, cancel: CancellationToken) {
    let clock = sim.clock();
    let scenario = sim.inner.scenario.clone();
    let steps = async {
        for step in &scenario.steps {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(clock.instant_at(step.at)) => {}
            }
            match sim.perform(step, clock.at(step.at)) {
                Ok(()) => tracing::info!("{}", step.describe()),
                Err(err) => tracing::warn!("{}: {}: {err}", scenario.source, step.describe()),
            }
        }
    };
    let load = async {
        if let Some(load) = &scenario.load {
            churn(sim.clone(), load.clone(), cancel.clone()).await;
        }
    };
    if sim.has_model() {
        sim.inner
            .tasks
            .spawn(run_model(sim.clone(), cancel.clone()));
    }
    tokio::join!(steps, load);
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep_until(clock.instant_at(scenario.end)) => {}
    }
    tracing::info!(
        "{} scenario {} finished; still serving",
        humantime::format_duration(scenario.end),
        scenario.name
    );
    sim.inner.finished.send_replace(true);
}
