//! The Rollout controller's status (rollout/sync.go calculateBaseStatus,
//! persistRolloutStatus, calculateRolloutConditions; utils/conditions): the counts and hashes
//! every strategy starts from, observedGeneration and workloadObservedGeneration,
//! progressDeadlineAbort, pause and abort status, the Progressing / Available / Healthy /
//! Completed conditions, phase and message, promoteStable, and the Events a state change
//! emits (RolloutPaused, RolloutResumed, RolloutAborted, RolloutNotCompleted,
//! RolloutCompleted).
//!
//! Owns: computing and persisting the Rollout's status. It must not create or scale
//! ReplicaSets.

use serde_json::{Value, json};

use super::conditions as cond;
use super::rollouts::{
    Ctx, DESIRED_REPLICAS, SCALE_DOWN_DEADLINE, hash_of, revision_of, write_status,
};
use super::world::selector_of;
use crate::sim::StoreError;

/// calculateBaseStatus: the counts and hashes every strategy starts from.
pub fn base_status(ctx: &Ctx) -> Value {
    let mut s = ctx.new_status.clone();
    let sum = |f: &str| -> i64 {
        ctx.all
            .iter()
            .map(|r| r["status"][f].as_i64().unwrap_or(0))
            .sum()
    };
    let current = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    s["currentPodHash"] = json!(current);
    s["replicas"] = json!(sum("replicas"));
    s["updatedReplicas"] = json!(
        ctx.new_rs
            .as_ref()
            .map_or(0, |r| r["status"]["replicas"].as_i64().unwrap_or(0))
    );
    s["readyReplicas"] = json!(sum("readyReplicas"));
    s["availableReplicas"] = json!(sum("availableReplicas"));
    s["HPAReplicas"] = json!(sum("replicas"));
    s["selector"] = json!(format_selector(&ctx.spec()["selector"]));
    if !ctx.status()["collisionCount"].is_null() {
        s["collisionCount"] = ctx.status()["collisionCount"].clone();
    }
    s["conditions"] = ctx.status()["conditions"].clone();
    let promote_full = ctx.status()["promoteFull"] == true
        && current != ctx.status()["stableRS"].as_str().unwrap_or_default();
    if promote_full {
        s["promoteFull"] = json!(true);
    }
    if !ctx.status()["restartedAt"].is_null() {
        s["restartedAt"] = ctx.status()["restartedAt"].clone();
    }
    s
}

pub(super) fn format_selector(selector: &Value) -> String {
    let _ = selector_of(selector);
    selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default()
}

/// True when the step at the current index is a pause, analysis or experiment, or the
/// Rollout is paused (isIndefiniteStep).
pub fn indefinite_step(ro: &Value) -> bool {
    let steps = ro["spec"]["strategy"]["canary"]["steps"].as_array();
    let index = ro["status"]["currentStepIndex"].as_u64().unwrap_or(0) as usize;
    if let Some(step) = steps.and_then(|s| s.get(index))
        && (step.get("pause").is_some()
            || step.get("analysis").is_some()
            || step.get("experiment").is_some())
    {
        return true;
    }
    cond::get(&ro["status"], cond::PAUSED).is_some_and(|c| c["status"] == "True")
}

/// persistRolloutStatus: observedGeneration, progressDeadlineAbort, pause and abort status,
/// conditions, phase and message, then the write and its state-change Events.
pub fn persist(ctx: &mut Ctx, mut new: Value) -> Result<(), StoreError> {
    let generation = ctx.ro["metadata"]["generation"].as_i64().unwrap_or(0);
    new["observedGeneration"] = json!(generation.to_string());
    if ctx.ro["spec"]["workloadRef"].is_object()
        && let Some(g) =
            ctx.ro["metadata"]["annotations"][super::workload::WORKLOAD_GENERATION].as_str()
    {
        new["workloadObservedGeneration"] = json!(g);
    }
    let now = ctx.now();
    evaluate_progress_deadline_abort(ctx, &new);
    ctx.pause.apply(&ctx.ro, &mut new, &now);
    calculate_conditions(ctx, &mut new);
    let (phase, message) = cond::phase(&ctx.ro["spec"], &new);
    new["phase"] = json!(phase);
    new["message"] = json!(message);
    // Fields Argo leaves unset are omitted rather than written empty.
    if let Some(m) = new.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    let prev = ctx.status().clone();
    if prev == new {
        return Ok(());
    }
    write_status(ctx, new.clone())?;
    let was_paused = prev["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty());
    let paused = new["pauseConditions"].as_array().filter(|p| !p.is_empty());
    match (was_paused, paused) {
        (false, Some(p)) => {
            let reason = p[0]["reason"].as_str().unwrap_or_default();
            ctx.event(
                false,
                cond::PAUSED_REASON,
                &format!("Rollout is paused ({reason})"),
            );
        }
        (true, None) if new["abortedAt"].is_null() => {
            ctx.event(false, cond::RESUMED, "Rollout is resumed")
        }
        _ => {}
    }
    Ok(())
}

pub(super) fn evaluate_progress_deadline_abort(ctx: &mut Ctx, new: &Value) {
    if ctx.spec()["progressDeadlineAbort"] != true || ctx.is_aborted() || cond::completed(new) {
        return;
    }
    if cond::progressing(ctx.spec(), ctx.status(), new)
        || indefinite_step(&ctx.ro)
        || waiting_for_scale_down(ctx)
    {
        return;
    }
    if !cond::timed_out(&ctx.ro, ctx.status(), ctx.world.now) {
        return;
    }
    let message = timeout_message(ctx);
    ctx.pause.abort(message.clone());
    ctx.event(true, cond::ABORTED, &message);
}

pub(super) fn timeout_message(ctx: &Ctx) -> String {
    match &ctx.new_rs {
        Some(rs) => format!(
            "ReplicaSet \"{}\" has timed out progressing.",
            rs["metadata"]["name"].as_str().unwrap_or_default()
        ),
        None => format!("Rollout \"{}\" has timed out progressing.", ctx.name),
    }
}

/// isWaitingForReplicaSetScaleDown.
pub(super) fn waiting_for_scale_down(ctx: &Ctx) -> bool {
    ctx.others
        .iter()
        .any(|r| r["metadata"]["annotations"][SCALE_DOWN_DEADLINE].is_string())
}

/// calculateRolloutConditions.
pub(super) fn calculate_conditions(ctx: &mut Ctx, new: &mut Value) {
    let now = ctx.now();
    let old = ctx.status().clone();
    let paused = new["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
        || ctx.spec()["paused"] == true;
    let aborted = ctx.is_aborted();
    let mut became_unhealthy = false;
    if !paused && cond::healthy(&ctx.ro, new) {
        cond::set(
            new,
            cond::condition(
                cond::HEALTHY,
                "True",
                cond::HEALTHY_REASON,
                "Rollout is healthy",
                &now,
            ),
        );
    } else if cond::get(&old, cond::HEALTHY).is_some() {
        became_unhealthy = cond::set(
            new,
            cond::condition(
                cond::HEALTHY,
                "False",
                cond::HEALTHY_REASON,
                "Rollout is not healthy",
                &now,
            ),
        );
    }
    if aborted {
        let mut message = format!(
            "Rollout aborted update to revision {}",
            revision_of(&ctx.ro)
        );
        if !ctx.pause.abort_message.is_empty() {
            message = format!("{message}: {}", ctx.pause.abort_message);
        }
        if cond::set(
            new,
            cond::condition(cond::PROGRESSING, "False", cond::ABORTED, &message, &now),
        ) {
            ctx.event(true, cond::ABORTED, &message);
        }
    }
    let current = cond::get(&old, cond::PROGRESSING).cloned();
    let new_rs_name = ctx
        .new_rs
        .as_ref()
        .and_then(|r| r["metadata"]["name"].as_str())
        .map(str::to_string);
    if !aborted {
        if cond::healthy(&ctx.ro, new) {
            let message = format!(
                "ReplicaSet \"{}\" has successfully progressed.",
                new_rs_name.clone().unwrap_or_default()
            );
            cond::set(
                new,
                cond::condition(
                    cond::PROGRESSING,
                    "True",
                    cond::NEW_RS_AVAILABLE,
                    &message,
                    &now,
                ),
            );
        } else if cond::progressing(ctx.spec(), &old, new) || became_unhealthy {
            let (reason, message) = if new["stableRS"] == new["currentPodHash"] && became_unhealthy
            {
                (
                    cond::RS_NOT_AVAILABLE,
                    "Rollout does not have minimum availability".to_string(),
                )
            } else {
                let message = match &new_rs_name {
                    Some(n) => format!("ReplicaSet \"{n}\" is progressing."),
                    None => format!("Rollout \"{}\" is progressing.", ctx.name),
                };
                (cond::REPLICA_SET_UPDATED, message)
            };
            let mut c = cond::condition(cond::PROGRESSING, "True", reason, &message, &now);
            if let Some(cur) = &current {
                if cur["status"] == "True" {
                    c["lastTransitionTime"] = cur["lastTransitionTime"].clone();
                }
                cond::remove(new, cond::PROGRESSING);
            }
            cond::set(new, c);
        } else if !indefinite_step(&ctx.ro)
            && !waiting_for_scale_down(ctx)
            && cond::timed_out(&ctx.ro, new, ctx.world.now)
        {
            let message = timeout_message(ctx);
            cond::set(
                new,
                cond::condition(cond::PROGRESSING, "False", cond::TIMED_OUT, &message, &now),
            );
        }
    }
    let available = if ctx.spec()["strategy"]["blueGreen"].is_object() {
        let active = new["blueGreen"]["activeSelector"]
            .as_str()
            .unwrap_or_default();
        ctx.all
            .iter()
            .find(|r| !active.is_empty() && hash_of(r) == active)
            .is_some_and(|r| is_saturated(r, ctx.replicas))
    } else {
        ctx.all
            .iter()
            .map(|r| r["status"]["availableReplicas"].as_i64().unwrap_or(0))
            .sum::<i64>()
            >= ctx.replicas
    };
    let c = if available {
        cond::condition(
            cond::AVAILABLE,
            "True",
            cond::AVAILABLE_REASON,
            "Rollout has minimum availability",
            &now,
        )
    } else {
        cond::condition(
            cond::AVAILABLE,
            "False",
            cond::AVAILABLE_REASON,
            "Rollout does not have minimum availability",
            &now,
        )
    };
    cond::set(new, c);
    if cond::completed(new) {
        cond::set(
            new,
            cond::condition(
                cond::COMPLETED,
                "True",
                cond::COMPLETED_REASON,
                cond::COMPLETED_REASON,
                &now,
            ),
        );
    } else if cond::set(
        new,
        cond::condition(
            cond::COMPLETED,
            "False",
            cond::COMPLETED_REASON,
            cond::COMPLETED_REASON,
            &now,
        ),
    ) {
        let message = format!(
            "Rollout not completed, started update to revision {} ({})",
            revision_of(&ctx.ro),
            new["currentPodHash"].as_str().unwrap_or_default()
        );
        ctx.event(false, "RolloutNotCompleted", &message);
    }
}

/// IsSaturated: the ReplicaSet runs all the Rollout's replicas, all available.
pub fn is_saturated(rs: &Value, replicas: i64) -> bool {
    rs["spec"]["replicas"].as_i64() == Some(replicas)
        && rs["metadata"]["annotations"][DESIRED_REPLICAS].as_str()
            == Some(replicas.to_string().as_str())
        && rs["status"]["availableReplicas"].as_i64() == Some(replicas)
}

/// promoteStable: the new ReplicaSet becomes the stable one, with RolloutCompleted.
pub fn promote_stable(ctx: &mut Ctx, new: &mut Value, reason: &str) {
    ctx.pause.clear = true;
    ctx.pause.remove_abort = true;
    if let Some(m) = new.as_object_mut() {
        m.remove("promoteFull");
    }
    if new["blueGreen"].is_object() {
        new["blueGreen"]["scaleUpPreviewCheckPoint"] = Value::Null;
    }
    if let Some(steps) = ctx.spec()["strategy"]["canary"]["steps"].as_array() {
        new["currentStepIndex"] = if steps.is_empty() {
            Value::Null
        } else {
            json!(steps.len())
        };
    }
    if new["stableRS"] != new["currentPodHash"] {
        new["stableRS"] = new["currentPodHash"].clone();
        let message = format!(
            "Rollout completed update to revision {} ({}): {reason}",
            revision_of(&ctx.ro),
            new["currentPodHash"].as_str().unwrap_or_default()
        );
        ctx.event(false, cond::COMPLETED_REASON, &message);
    }
    super::workload::on_promoted(ctx);
}
