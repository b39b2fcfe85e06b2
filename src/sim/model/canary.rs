//! The canary strategy (rollout/canary.go, trafficrouting.go): steps (setWeight, pause with
//! and without duration, analysis, setCanaryScale), stable and canary ReplicaSet sizes from
//! [`super::replica_math`], older ReplicaSets scaled down (with scale-down-deadline under
//! traffic routing), status.canary.weights with TrafficWeightUpdated, RolloutStepCompleted,
//! SkipSteps, promotion (full, or after the last step), abort and its step index.
//!
//! Owns: the canary's decisions for one reconcile. It must not write pods, nor decide
//! AnalysisRun phases (it reads them).

use serde_json::{Value, json};

use super::conditions::{self as cond};
use super::replica_math::{self as math, Canary, IntOrPercent, Weights};
use super::rollouts::{self, Ctx, SCALE_DOWN_DEADLINE, hash_of, rs};
use super::world::{stamp, template_hash};
use crate::sim::StoreError;

/// The arithmetic's view of the Rollout.
pub fn canary_of(ro: &Value) -> Canary {
    let c = &ro["spec"]["strategy"]["canary"];
    let s = &ro["status"];
    let steps = c["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .map(|st| math::Step {
                    set_weight: st["setWeight"].as_i64().map(|w| w as i32),
                    set_canary_scale: st["setCanaryScale"].as_object().map(|scs| {
                        math::SetCanaryScale {
                            replicas: scs
                                .get("replicas")
                                .and_then(Value::as_i64)
                                .map(|v| v as i32),
                            weight: scs.get("weight").and_then(Value::as_i64).map(|v| v as i32),
                            match_traffic_weight: scs.get("matchTrafficWeight")
                                == Some(&json!(true)),
                        }
                    }),
                })
                .collect()
        })
        .unwrap_or_default();
    Canary {
        replicas: ro["spec"]["replicas"].as_i64().unwrap_or(1) as i32,
        max_surge: IntOrPercent::from_json(&c["maxSurge"]).unwrap_or(math::DEFAULT_MAX_SURGE),
        max_unavailable: IntOrPercent::from_json(&c["maxUnavailable"])
            .unwrap_or(math::DEFAULT_MAX_UNAVAILABLE),
        steps,
        traffic_routing: c["trafficRouting"].is_object(),
        max_weight: c["trafficRouting"]["maxTrafficWeight"]
            .as_i64()
            .unwrap_or(100) as i32,
        dynamic_stable_scale: c["dynamicStableScale"] == true,
        min_pods_per_replica_set: c["minPodsPerReplicaSet"].as_i64().map(|v| v as i32),
        abort_scale_down_delay_seconds: c["abortScaleDownDelaySeconds"].as_i64().map(|v| v as i32),
        abort: s["abort"] == true,
        promote_full: s["promoteFull"] == true,
        stable_rs: s["stableRS"].as_str().unwrap_or_default().to_string(),
        current_pod_hash: s["currentPodHash"].as_str().unwrap_or_default().to_string(),
        current_step_index: s["currentStepIndex"].as_i64().map(|v| v as i32),
        replica_progress_threshold: c["replicaProgressThreshold"]["value"].as_i64().map(|v| {
            math::ProgressThreshold {
                percent: c["replicaProgressThreshold"]["type"] == "Percent",
                value: v as i32,
            }
        }),
    }
}

fn weights_of(ro: &Value) -> Option<Weights> {
    let w = &ro["status"]["canary"]["weights"];
    Some(Weights {
        canary: w["canary"]["weight"].as_i64()? as i32,
        stable: w["stable"]["weight"].as_i64()? as i32,
    })
}

/// pause.duration in seconds as Argo's `RolloutPause.DurationSeconds` reads it: a number, a
/// number as a string, or a Go duration (`time.ParseDuration`: `1.5m` is 90 s), truncated.
pub fn pause_seconds(duration: &Value) -> Option<i64> {
    match duration {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok().or_else(|| {
            super::analysis_metrics::go_duration(s)
                .ok()
                .map(|d| d.as_secs() as i64)
        }),
        _ => None,
    }
}

/// CanaryStepString.
pub fn step_string(step: &Value) -> String {
    if let Some(w) = step["setWeight"].as_i64() {
        return format!("setWeight: {w}");
    }
    if let Some(p) = step.get("pause") {
        return match &p["duration"] {
            Value::Null => "pause".into(),
            Value::String(s) => format!("pause: {s}"),
            d => format!("pause: {d}"),
        };
    }
    if step.get("experiment").is_some() {
        return "experiment".into();
    }
    if step.get("analysis").is_some() {
        return "analysis".into();
    }
    if let Some(scs) = step.get("setCanaryScale") {
        if let Some(w) = scs["weight"].as_i64() {
            return format!("setCanaryScale{{weight: {w}}}");
        }
        if scs["matchTrafficWeight"] == true {
            return "setCanaryScale{matchTrafficWeight: true}".into();
        }
        if let Some(r) = scs["replicas"].as_i64() {
            return format!("setCanaryScale{{replicas: {r}}}");
        }
    }
    "invalid".into()
}

fn steps(ctx: &Ctx) -> Vec<Value> {
    ctx.spec()["strategy"]["canary"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub fn step_hash(ro: &Value) -> String {
    template_hash(&ro["spec"]["strategy"]["canary"]["steps"], None)
}

pub fn reconcile(ctx: &mut Ctx) -> Result<(), StoreError> {
    let new_hash = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let current = ctx.status()["currentPodHash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let stored_step_hash = ctx.status()["currentStepHash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if stored_step_hash.is_empty()
        || stored_step_hash != step_hash(&ctx.ro)
        || (!current.is_empty() && current != new_hash)
    {
        return reset(ctx);
    }
    reconcile_services(ctx)?;
    reconcile_traffic(ctx)?;
    super::rollout_analysis::reconcile_canary(ctx)?;
    if !ctx.pause.add.is_empty() {
        return sync_status(ctx);
    }
    if reconcile_replica_sets(ctx)? {
        return sync_status(ctx);
    }
    reconcile_pause(ctx);
    sync_status(ctx)
}

/// PodTemplateOrStepsChanged: a new revision starts at step 0, its pause and abort cleared
/// (or at the end, when it is a rollback to the stable ReplicaSet).
fn reset(ctx: &mut Ctx) -> Result<(), StoreError> {
    let mut new = rollouts::base_status(ctx);
    new["stableRS"] = ctx.status()["stableRS"].clone();
    new["currentStepHash"] = json!(step_hash(&ctx.ro));
    ctx.pause.clear = true;
    ctx.pause.remove_abort = true;
    if let Some(m) = new.as_object_mut() {
        m.remove("promoteFull");
        if let Some(c) = m.get_mut("canary").and_then(Value::as_object_mut) {
            c.remove("currentStepAnalysisRunStatus");
            c.remove("currentBackgroundAnalysisRunStatus");
        }
    }
    let count = steps(ctx).len();
    new["currentStepIndex"] = if count > 0 { json!(0) } else { Value::Null };
    if let Some(new_rs) = &ctx.new_rs
        && count > 0
        && ctx.status()["stableRS"].as_str() == Some(hash_of(new_rs))
    {
        ctx.event(false, "SkipSteps", "Rollback to stable ReplicaSets");
        new["currentStepIndex"] = json!(count);
    }
    rollouts::persist(ctx, new)
}

/// reconcileStableAndCanaryService.
fn reconcile_services(ctx: &mut Ctx) -> Result<(), StoreError> {
    let c = ctx.spec()["strategy"]["canary"].clone();
    let stable_rs = ctx.stable_rs.clone();
    super::services::ensure_targets(ctx, c["stableService"].as_str(), stable_rs.as_ref(), true)?;
    if ctx.is_aborted() && c["trafficRouting"].is_null() {
        return super::services::ensure_targets(
            ctx,
            c["canaryService"].as_str(),
            stable_rs.as_ref(),
            true,
        );
    }
    if ctx.is_aborted() {
        // Aborted under traffic routing, Argo points the canary Service at the new
        // ReplicaSet here and, in reconcileTrafficRouting right after, back at the stable
        // one (unless dynamicStableScale still sends the canary traffic): the reconcile ends
        // on the stable, which reconcile_traffic does without the flap.
        return Ok(());
    }
    let new_rs = ctx.new_rs.clone();
    super::services::ensure_targets(ctx, c["canaryService"].as_str(), new_rs.as_ref(), true)
}

/// reconcileTrafficRouting, for a router that applies weights at once: the desired weight
/// and status.canary.weights; aborted, the canary Service back on the stable ReplicaSet once
/// no traffic goes to the canary (at once without dynamicStableScale).
fn reconcile_traffic(ctx: &mut Ctx) -> Result<(), StoreError> {
    let c = ctx.spec()["strategy"]["canary"].clone();
    if !c["trafficRouting"].is_object() {
        // No traffic reconciler: Argo sets the weights to nil.
        if let Some(canary) = ctx.new_status["canary"].as_object_mut() {
            canary.remove("weights");
        }
        return Ok(());
    }
    let canary = canary_of(&ctx.ro);
    let max = canary.max_weight;
    let promoted = canary.stable_rs == canary.current_pod_hash;
    let new = ctx.new_rs.as_ref().map(rs);
    let stable = ctx.stable_rs.as_ref().map(rs);
    let previous = weights_of(&ctx.ro);
    let desired = if promoted {
        0
    } else if ctx.is_aborted() {
        if canary.dynamic_stable_scale {
            canary.desired_canary_weight(new.as_ref(), stable.as_ref())
        } else {
            0
        }
    } else if new.as_ref().is_none_or(|n| n.available == 0) {
        0
    } else if canary.promote_full {
        previous.map_or(0, |w| w.canary)
    } else if let (_, Some(index)) = canary.current_step() {
        let others: Vec<_> = ctx.others.iter().map(rs).collect();
        if !canary.at_desired_counts(new.as_ref(), stable.as_ref(), &others, None) {
            (0..index as usize)
                .rev()
                .find_map(|i| canary.steps[i].set_weight)
                .unwrap_or(0)
        } else if index as usize != canary.steps.len() {
            canary.current_set_weight()
        } else {
            max
        }
    } else {
        0
    };
    if ctx.is_aborted() && (!canary.dynamic_stable_scale || desired == 0) {
        let stable_rs = ctx.stable_rs.clone();
        super::services::ensure_targets(
            ctx,
            c["canaryService"].as_str(),
            stable_rs.as_ref(),
            false,
        )?;
    }
    // checkReplicasAvailable: the stable's share of the replicas, rounded down, must be
    // available (or meet replicaProgressThreshold) before the weight moves.
    if let Some(s) = &stable {
        let needed = (max - desired) * canary.replicas / max;
        if s.available < needed
            && !math::progress_threshold_met(canary.replica_progress_threshold, Some(s), needed)
        {
            return Ok(());
        }
    }
    let canary_hash = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let stable_hash = ctx.stable_rs.as_ref().map_or("", hash_of).to_string();
    let weights = json!({
        "canary": {"podTemplateHash": canary_hash, "serviceName": c["canaryService"], "weight": desired},
        "stable": {"podTemplateHash": stable_hash, "serviceName": c["stableService"], "weight": max - desired},
    });
    let old = &ctx.ro["status"]["canary"]["weights"];
    if *old != weights {
        let message = match previous {
            None => format!("Traffic weight updated to {desired}"),
            Some(p) if p.canary != desired => {
                format!("Traffic weight updated from {} to {desired}", p.canary)
            }
            Some(_) => "Traffic weight updated ".to_string(),
        };
        ctx.event(false, "TrafficWeightUpdated", &message);
    }
    ctx.new_status["canary"]["weights"] = weights;
    Ok(())
}

/// reconcileCanaryReplicaSets: stable first, then new, then older ones. True when something
/// was scaled (the rest waits for the next reconcile).
fn reconcile_replica_sets(ctx: &mut Ctx) -> Result<bool, StoreError> {
    if ctx.spec()["paused"] == true
        || cond::pause_condition(&ctx.ro, "InconclusiveAnalysisRun").is_some()
    {
        return Ok(false);
    }
    if let Some(n) = ctx.new_rs.clone()
        && !ctx.delay_scale_down_on_abort()
    {
        ctx.set_deadline(&n, None)?;
    }
    if let Some(s) = ctx.stable_rs.clone() {
        ctx.set_deadline(&s, None)?;
    }
    let mut canary = canary_of(&ctx.ro);
    canary.abort = ctx.is_aborted();
    let weights = weights_of(&ctx.ro);
    let others: Vec<_> = ctx.others.iter().map(rs).collect();
    let new = ctx.new_rs.as_ref().map(rs);
    let stable = ctx.stable_rs.as_ref().map(rs);
    if math::stable_exists(new.as_ref(), stable.as_ref()) {
        let (_, desired_stable) = canary.counts(new.as_ref(), stable.as_ref(), &others, weights);
        let target = ctx.stable_rs.clone().expect("stable exists");
        if ctx.scale(&target, i64::from(desired_stable))? {
            return Ok(true);
        }
    }
    if let Some(target) = ctx.new_rs.clone() {
        let stable = ctx.stable_rs.as_ref().map(rs);
        let (mut desired_new, _) = canary.counts(new.as_ref(), stable.as_ref(), &others, weights);
        if ctx.delay_scale_down_on_abort() {
            match target["metadata"]["annotations"][SCALE_DOWN_DEADLINE]
                .as_str()
                .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
            {
                Some(deadline) if deadline > ctx.world.now => return Ok(false),
                Some(_) => desired_new = 0,
                None => {
                    let (delay, _) = ctx.abort_delay();
                    if let (Some(delay), Some(s)) = (delay, &ctx.stable_rs)
                        && s["status"]["availableReplicas"].as_i64().unwrap_or(0) >= ctx.replicas
                    {
                        let deadline = stamp(ctx.world.now + chrono::Duration::seconds(delay));
                        ctx.set_deadline(&target, Some(deadline))?;
                    }
                    return Ok(false);
                }
            }
        }
        let scaled = ctx.scale(&target, i64::from(desired_new))?;
        super::workload::progressively(ctx, i64::from(desired_new));
        if scaled {
            return Ok(true);
        }
    }
    scale_down_older(ctx)
}

/// scaleDownOldReplicaSetsForCanary (after cleanupUnhealthyReplicas).
fn scale_down_older(ctx: &mut Ctx) -> Result<bool, StoreError> {
    let mut older: Vec<Value> = ctx
        .others
        .iter()
        .filter(|r| r["spec"]["replicas"].as_i64().unwrap_or(0) > 0)
        .cloned()
        .collect();
    if older.is_empty() {
        return Ok(false);
    }
    let mut total = 0;
    older.sort_by_key(|r| {
        r["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    for r in &mut older {
        let spec = r["spec"]["replicas"].as_i64().unwrap_or(0);
        let available = r["status"]["availableReplicas"].as_i64().unwrap_or(0);
        if spec > available {
            ctx.scale(r, available)?;
            total += spec - available;
            r["spec"]["replicas"] = json!(available);
        }
    }
    let canary = canary_of(&ctx.ro);
    let available: i64 = ctx
        .all
        .iter()
        .map(|r| r["status"]["availableReplicas"].as_i64().unwrap_or(0))
        .sum();
    let mut max_down = available - (ctx.replicas - i64::from(canary.max_unavailable()));
    if max_down <= 0 {
        return Ok(total > 0);
    }
    older.sort_by_key(|r| std::cmp::Reverse(rollouts::revision_of(r)));
    let routed = canary.traffic_routing;
    let promoted = canary.stable_rs == canary.current_pod_hash;
    for r in older {
        let spec = r["spec"]["replicas"].as_i64().unwrap_or(0);
        if max_down <= 0 {
            break;
        }
        if spec == 0 {
            continue;
        }
        let desired = if !routed {
            (spec - max_down).max(0)
        } else if promoted || r["metadata"]["annotations"][SCALE_DOWN_DEADLINE].is_string() {
            if canary.dynamic_stable_scale {
                0
            } else {
                match r["metadata"]["annotations"][SCALE_DOWN_DEADLINE]
                    .as_str()
                    .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
                {
                    None => {
                        let delay = ctx.spec()["strategy"]["canary"]["scaleDownDelaySeconds"]
                            .as_i64()
                            .unwrap_or(30);
                        if delay > 0 {
                            ctx.set_deadline(
                                &r,
                                Some(stamp(ctx.world.now + chrono::Duration::seconds(delay))),
                            )?;
                            spec
                        } else {
                            0
                        }
                    }
                    Some(deadline) if deadline > ctx.world.now => spec,
                    Some(_) => 0,
                }
            }
        } else {
            0
        };
        if desired == spec {
            continue;
        }
        ctx.scale(&r, desired)?;
        max_down -= spec - desired;
        total += spec - desired;
    }
    Ok(total > 0)
}

/// reconcileCanaryPause: a pause step adds the CanaryPauseStep pause condition.
fn reconcile_pause(ctx: &mut Ctx) {
    if ctx.spec()["paused"] == true || ctx.status()["promoteFull"] == true {
        return;
    }
    let steps = steps(ctx);
    let index = ctx.status()["currentStepIndex"].as_u64().unwrap_or(0) as usize;
    let Some(step) = steps.get(index) else {
        return;
    };
    if step.get("pause").is_none() {
        return;
    }
    if cond::pause_condition(&ctx.ro, "CanaryPauseStep").is_none()
        && ctx.status()["controllerPause"] != true
    {
        ctx.pause.add.push("CanaryPauseStep");
    }
}

/// completedCurrentCanaryStep.
fn completed_step(ctx: &Ctx, step: &Value) -> bool {
    if ctx.spec()["paused"] == true {
        return false;
    }
    let canary = canary_of(&ctx.ro);
    let others: Vec<_> = ctx.others.iter().map(rs).collect();
    let at_desired = || {
        let weights = weights_of(&ctx.ro);
        canary.at_desired_counts(
            ctx.new_rs.as_ref().map(rs).as_ref(),
            ctx.stable_rs.as_ref().map(rs).as_ref(),
            &others,
            weights,
        )
    };
    if let Some(pause) = step.get("pause") {
        let condition = cond::pause_condition(&ctx.ro, "CanaryPauseStep");
        if ctx.status()["controllerPause"] == true && condition.is_none() {
            return true;
        }
        if let (Some(seconds), Some(c)) = (pause_seconds(&pause["duration"]), condition)
            && let Some(start) = super::world::parse_time(&c["startTime"])
        {
            return ctx.world.now > start + chrono::Duration::seconds(seconds);
        }
        return false;
    }
    if step.get("setCanaryScale").is_some() || step.get("setWeight").is_some() {
        return at_desired();
    }
    if step.get("analysis").is_some() {
        return ctx.new_status["canary"]["currentStepAnalysisRunStatus"]["status"] == "Successful";
    }
    // Experiments, plugins, header and mirror routes: experiments are not modelled and never
    // complete; routes complete at once as in Argo.
    step.get("setHeaderRoute").is_some() || step.get("setMirrorRoute").is_some()
}

/// syncRolloutStatusCanary.
fn sync_status(ctx: &mut Ctx) -> Result<(), StoreError> {
    let mut new = rollouts::base_status(ctx);
    new["stableRS"] = ctx.status()["stableRS"].clone();
    new["currentStepHash"] = json!(step_hash(&ctx.ro));
    let steps = steps(ctx);
    let count = steps.len() as i64;
    let mut index = (count > 0).then(|| ctx.status()["currentStepIndex"].as_i64().unwrap_or(0));
    if ctx.status()["promoteFull"] == true {
        ctx.pause.clear = true;
        ctx.pause.remove_abort = true;
        if count > 0 {
            index = Some(count);
        }
    }
    if let Some(reason) = should_full_promote(ctx, index, count) {
        rollouts::promote_stable(ctx, &mut new, &reason);
        return rollouts::persist(ctx, new);
    }
    if ctx.is_aborted() {
        if count > 0 {
            new["currentStepIndex"] = if new["stableRS"] == new["currentPodHash"] {
                json!(count)
            } else {
                json!(0)
            };
        }
        return rollouts::persist(ctx, new);
    }
    if let Some(i) = index
        && let Some(step) = steps.get(i as usize)
        && completed_step(ctx, step)
    {
        index = Some(i + 1);
        if let Some(c) = new["canary"].as_object_mut() {
            c.remove("currentStepAnalysisRunStatus");
        }
        ctx.event(
            false,
            "RolloutStepCompleted",
            &format!(
                "Rollout step {}/{count} completed ({})",
                i + 1,
                step_string(step)
            ),
        );
        ctx.pause.remove.push("CanaryPauseStep");
    }
    new["currentStepIndex"] = index.map_or(Value::Null, |i| json!(i));
    rollouts::persist(ctx, new)
}

/// shouldFullPromote for a canary.
fn should_full_promote(ctx: &Ctx, index: Option<i64>, count: i64) -> Option<String> {
    if ctx.stable_rs.is_none() {
        return Some("Initial deploy".into());
    }
    if ctx.is_aborted() {
        return None;
    }
    let new = ctx.new_rs.as_ref()?;
    if new["status"]["availableReplicas"].as_i64().unwrap_or(0) < ctx.replicas
        && !math::progress_threshold_met(
            canary_of(&ctx.ro).replica_progress_threshold,
            Some(&rs(new)),
            ctx.replicas as i32,
        )
    {
        return None;
    }
    if ctx.status()["promoteFull"] == true {
        return Some("Full promotion requested".into());
    }
    if ctx.status()["stableRS"].as_str() == Some(hash_of(new)) {
        return Some("Fast rollback".into());
    }
    (count == 0 || index == Some(count)).then(|| format!("Completed all {count} canary steps"))
}
