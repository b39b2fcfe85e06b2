//! The blue-green strategy (rollout/bluegreen.go, service.go): the preview Service follows
//! the new ReplicaSet, the active Service switches once the new ReplicaSet is saturated and
//! the pause is over (autoPromotionEnabled, autoPromotionSeconds, a manual promote) and the
//! pre-promotion analysis succeeded; previewReplicaCount with scaleUpPreviewCheckPoint;
//! old ReplicaSets kept for scaleDownDelaySeconds (scale-down-deadline) after the switch, at
//! most scaleDownDelayRevisionLimit of them (newest revisions first, the rest at once);
//! an abort points the active Service back at the stable ReplicaSet and scales the new one
//! down after abortScaleDownDelaySeconds.
//!
//! Owns: blue-green's decisions for one reconcile. It must not write pods.

use serde_json::{Value, json};

use super::conditions as cond;
use super::rollouts::{self, Ctx, SCALE_DOWN_DEADLINE, hash_of, is_saturated};
use super::services;
use super::world::stamp;
use crate::sim::StoreError;

fn bg(ctx: &Ctx) -> Value {
    ctx.spec()["strategy"]["blueGreen"].clone()
}

/// NewRSNewReplicas for blue-green.
fn new_rs_replicas(ctx: &Ctx) -> i64 {
    let b = bg(ctx);
    let Some(preview) = b["previewReplicaCount"].as_i64() else {
        return ctx.replicas;
    };
    let Some(new_rs) = &ctx.new_rs else {
        return ctx.replicas;
    };
    let active = ctx.status()["blueGreen"]["activeSelector"]
        .as_str()
        .unwrap_or_default();
    if active.is_empty() || active == hash_of(new_rs) || ctx.status()["promoteFull"] == true {
        return ctx.replicas;
    }
    if ctx.status()["currentPodHash"].as_str() != Some(hash_of(new_rs)) {
        return preview;
    }
    let not_paused = ctx.spec()["paused"] != true
        && ctx.status()["pauseConditions"]
            .as_array()
            .is_none_or(|p| p.is_empty());
    if not_paused && ctx.status()["blueGreen"]["scaleUpPreviewCheckPoint"] == true {
        return ctx.replicas;
    }
    preview
}

fn ready_for_pause(ctx: &Ctx) -> bool {
    let want = new_rs_replicas(ctx);
    ctx.new_rs.as_ref().is_some_and(|r| {
        r["spec"]["replicas"].as_i64() == Some(want)
            && r["status"]["availableReplicas"].as_i64().unwrap_or(0) == want
    })
}

fn halted(ctx: &Ctx) -> bool {
    ctx.spec()["paused"] == true
        || cond::pause_condition(&ctx.ro, "InconclusiveAnalysisRun").is_some()
}

fn fast_tracked(ctx: &Ctx) -> bool {
    let active = services::selected(ctx, bg(ctx)["activeService"].as_str());
    let new_hash = ctx.new_rs.as_ref().map_or("", hash_of);
    ctx.status()["promoteFull"] == true
        || active.as_deref().is_none_or(|a| a == new_hash)
        || ctx.status()["stableRS"].as_str() == Some(new_hash)
}

fn completed_pre_promotion(ctx: &Ctx) -> bool {
    !bg(ctx)["prePromotionAnalysis"].is_object()
        || super::rollout_analysis::promotion_run_successful(ctx, "prePromotionAnalysisRunStatus")
}

/// CompletedBlueGreenPause.
fn completed_pause(ctx: &Ctx) -> bool {
    if !ctx.pause.add.is_empty() {
        return false;
    }
    if ctx.status()["blueGreen"]["scaleUpPreviewCheckPoint"] == true {
        return true;
    }
    let b = bg(ctx);
    let condition = cond::pause_condition(&ctx.ro, "BlueGreenPause");
    if b["autoPromotionEnabled"] != false {
        let seconds = b["autoPromotionSeconds"].as_i64().unwrap_or(0);
        if seconds == 0 {
            return true;
        }
        return condition
            .and_then(|c| super::world::parse_time(&c["startTime"]))
            .is_some_and(|start| ctx.world.now > start + chrono::Duration::seconds(seconds));
    }
    ctx.status()["controllerPause"] == true && condition.is_none()
}

pub fn reconcile(ctx: &mut Ctx) -> Result<(), StoreError> {
    let b = bg(ctx);
    let new_hash = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let current = ctx.status()["currentPodHash"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if let (Some(preview), false) = (b["previewService"].as_str(), halted(ctx))
        && let Some(svc) = ctx
            .world
            .get(super::world::Kind::Service, &ctx.namespace, preview)
    {
        services::switch(ctx, &svc, &new_hash)?;
    }
    if !current.is_empty() && current != new_hash {
        return sync_status(ctx, true);
    }
    reconcile_replica_sets(ctx)?;
    reconcile_pause(ctx);
    reconcile_active(ctx)?;
    super::rollout_analysis::reconcile_bluegreen(ctx)?;
    sync_status(ctx, false)
}

fn reconcile_replica_sets(ctx: &mut Ctx) -> Result<(), StoreError> {
    if let Some(n) = ctx.new_rs.clone()
        && !ctx.delay_scale_down_on_abort()
    {
        ctx.set_deadline(&n, None)?;
    }
    if let Some(s) = ctx.stable_rs.clone() {
        ctx.set_deadline(&s, None)?;
        ctx.scale(&s, ctx.replicas)?;
    }
    if let Some(target) = ctx.new_rs.clone() {
        let mut want = new_rs_replicas(ctx);
        if ctx.delay_scale_down_on_abort() {
            match target["metadata"]["annotations"][SCALE_DOWN_DEADLINE]
                .as_str()
                .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
            {
                Some(deadline) if deadline > ctx.world.now => {
                    want = target["spec"]["replicas"].as_i64().unwrap_or(0)
                }
                Some(_) => want = 0,
                None => {
                    let (delay, _) = ctx.abort_delay();
                    if let (Some(delay), Some(s)) = (delay, &ctx.stable_rs)
                        && s["status"]["availableReplicas"].as_i64().unwrap_or(0) >= ctx.replicas
                    {
                        ctx.set_deadline(
                            &target,
                            Some(stamp(ctx.world.now + chrono::Duration::seconds(delay))),
                        )?;
                    }
                    want = target["spec"]["replicas"].as_i64().unwrap_or(0);
                }
            }
        }
        ctx.scale(&target, want)?;
        super::workload::progressively(ctx, want);
    }
    scale_down_older(ctx)
}

/// scaleDownOldReplicaSetsForBlueGreen with scaleDownDelayHelper.
fn scale_down_older(ctx: &mut Ctx) -> Result<(), StoreError> {
    if cond::pause_condition(&ctx.ro, "InconclusiveAnalysisRun").is_some() {
        return Ok(());
    }
    let b = bg(ctx);
    if b["postPromotionAnalysis"].is_object()
        && b["scaleDownDelaySeconds"].is_null()
        && ctx.status()["blueGreen"]["activeSelector"].as_str() == ctx.new_rs.as_ref().map(hash_of)
        && ctx.status()["stableRS"].as_str() != ctx.new_rs.as_ref().map(hash_of)
        && !super::rollout_analysis::promotion_run_successful(ctx, "postPromotionAnalysisRunStatus")
    {
        return Ok(());
    }
    let referenced: Vec<String> = [
        &ctx.status()["stableRS"],
        &ctx.status()["currentPodHash"],
        &ctx.status()["blueGreen"]["activeSelector"],
        &ctx.status()["blueGreen"]["previewSelector"],
    ]
    .iter()
    .filter_map(|v| v.as_str().map(str::to_string))
    .collect();
    let delay = b["scaleDownDelaySeconds"].as_i64().unwrap_or(30);
    // GetScaleDownRevisionLimit: how many old ReplicaSets may wait out their delay.
    let limit = b["scaleDownDelayRevisionLimit"]
        .as_i64()
        .unwrap_or(i64::MAX);
    let mut older = ctx.others.clone();
    older.sort_by_key(|r| std::cmp::Reverse(rollouts::revision_of(r)));
    let mut annotated = 0;
    for r in older {
        let spec = r["spec"]["replicas"].as_i64().unwrap_or(0);
        if referenced.iter().any(|h| h == hash_of(&r)) || spec == 0 {
            continue;
        }
        // scaleDownDelayHelper, newest revision first.
        let desired = match r["metadata"]["annotations"][SCALE_DOWN_DEADLINE]
            .as_str()
            .and_then(|d| d.parse::<chrono::DateTime<chrono::Utc>>().ok())
        {
            // With scaleDownDelaySeconds 0 Argo's addScaleDownDelay sets no deadline, so the
            // old ReplicaSet keeps its size on every reconcile (argoproj/argo-rollouts#1992,
            // open: "0 keeps the old ReplicaSet running"); only the revision limit scales it.
            None if annotated < limit => {
                annotated += 1;
                if delay > 0 {
                    ctx.set_deadline(
                        &r,
                        Some(stamp(ctx.world.now + chrono::Duration::seconds(delay))),
                    )?;
                }
                spec
            }
            None => 0,
            Some(_) if annotated + 1 > limit => 0,
            Some(deadline) if deadline > ctx.world.now => {
                annotated += 1;
                ctx.replicas
            }
            Some(_) => {
                annotated += 1;
                0
            }
        };
        if desired != spec {
            ctx.scale(&r, desired)?;
        }
    }
    Ok(())
}

/// reconcileBlueGreenPause.
fn reconcile_pause(ctx: &mut Ctx) {
    if ctx.status()["abort"] == true || !ready_for_pause(ctx) || halted(ctx) {
        return;
    }
    let b = bg(ctx);
    let new_hash = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let active = services::selected(ctx, b["activeService"].as_str());
    let needs_pause =
        b["autoPromotionEnabled"] == false || b["autoPromotionSeconds"].as_i64().unwrap_or(0) > 0;
    if fast_tracked(ctx)
        || active.as_deref() == Some(new_hash.as_str())
        || ctx.status()["blueGreen"]["scaleUpPreviewCheckPoint"] == true
        || !needs_pause
    {
        ctx.pause.remove.push("BlueGreenPause");
        return;
    }
    if !completed_pre_promotion(ctx) {
        return;
    }
    if cond::pause_condition(&ctx.ro, "BlueGreenPause").is_some() {
        if completed_pause(ctx) {
            ctx.pause.remove.push("BlueGreenPause");
        }
    } else if ctx.status()["controllerPause"] != true {
        ctx.pause.add.push("BlueGreenPause");
    }
}

/// reconcileActiveService.
fn reconcile_active(ctx: &mut Ctx) -> Result<(), StoreError> {
    let b = bg(ctx);
    let Some(name) = b["activeService"].as_str() else {
        return Ok(());
    };
    let Some(svc) = ctx
        .world
        .get(super::world::Kind::Service, &ctx.namespace, name)
    else {
        return Ok(());
    };
    if halted(ctx)
        || !ready_for_pause(ctx)
        || !ctx
            .new_rs
            .as_ref()
            .is_some_and(|r| is_saturated(r, ctx.replicas))
    {
        return Ok(());
    }
    let new_hash = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let mut target = svc["spec"]["selector"][rollouts::HASH_LABEL]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if fast_tracked(ctx) || (completed_pause(ctx) && completed_pre_promotion(ctx)) {
        target = new_hash;
    }
    if ctx.status()["abort"] == true {
        target = ctx.status()["stableRS"]
            .as_str()
            .unwrap_or_default()
            .to_string();
    }
    if target.is_empty() {
        return Ok(());
    }
    services::switch(ctx, &svc, &target)
}

/// syncRolloutStatusBlueGreen.
fn sync_status(ctx: &mut Ctx, changed: bool) -> Result<(), StoreError> {
    let b = bg(ctx);
    let mut new = rollouts::base_status(ctx);
    new["stableRS"] = ctx.status()["stableRS"].clone();
    if changed {
        ctx.pause.clear = true;
        ctx.pause.remove_abort = true;
        if let Some(m) = new.as_object_mut() {
            m.remove("promoteFull");
        }
        if let Some(g) = new["blueGreen"].as_object_mut() {
            g.remove("prePromotionAnalysisRunStatus");
            g.remove("postPromotionAnalysisRunStatus");
        }
    }
    if ctx.status()["promoteFull"] == true {
        ctx.pause.clear = true;
        ctx.pause.remove_abort = true;
    }
    let preview = services::selected(ctx, b["previewService"].as_str());
    let active = services::selected(ctx, b["activeService"].as_str());
    new["blueGreen"]["previewSelector"] = preview.map_or(Value::Null, |p| json!(p));
    new["blueGreen"]["activeSelector"] = active.clone().map_or(Value::Null, |a| json!(a));
    if let Some(reason) = should_full_promote(ctx, &new) {
        rollouts::promote_stable(ctx, &mut new, &reason);
    } else if b["previewReplicaCount"].is_i64() {
        let check = ctx.status()["blueGreen"]["scaleUpPreviewCheckPoint"] == true
            || (completed_pre_promotion(ctx)
                && completed_pause(ctx)
                && ctx
                    .new_rs
                    .as_ref()
                    .and_then(|r| r["status"]["availableReplicas"].as_i64())
                    == b["previewReplicaCount"].as_i64());
        if check {
            new["blueGreen"]["scaleUpPreviewCheckPoint"] = json!(true);
        }
    }
    if let Some(active_rs) = active
        .as_deref()
        .and_then(|a| ctx.all.iter().find(|r| hash_of(r) == a))
    {
        new["HPAReplicas"] = active_rs["status"]["replicas"].clone();
        new["availableReplicas"] = json!(
            active_rs["status"]["availableReplicas"]
                .as_i64()
                .unwrap_or(0)
        );
        new["readyReplicas"] = json!(active_rs["status"]["readyReplicas"].as_i64().unwrap_or(0));
        let selector = active_rs["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        new["selector"] = json!(selector);
    }
    if let Some(g) = new["blueGreen"].as_object_mut() {
        g.retain(|_, v| !v.is_null());
    }
    rollouts::persist(ctx, new)
}

fn should_full_promote(ctx: &Ctx, new: &Value) -> Option<String> {
    if ctx.stable_rs.is_none() {
        return Some("Initial deploy".into());
    }
    let active = new["blueGreen"]["activeSelector"]
        .as_str()
        .unwrap_or_default();
    if active.is_empty() {
        return Some("Initial deploy".into());
    }
    if new["blueGreen"]["activeSelector"] != new["currentPodHash"] {
        return None;
    }
    if ctx.status()["promoteFull"] == true {
        return Some("Full promotion requested".into());
    }
    if ctx.status()["stableRS"] == new["currentPodHash"] {
        return Some("Fast rollback".into());
    }
    if ctx.is_aborted() {
        return None;
    }
    if bg(ctx)["postPromotionAnalysis"].is_object()
        && ctx.new_status["blueGreen"]["postPromotionAnalysisRunStatus"]["status"] != "Successful"
    {
        return None;
    }
    Some("Completed blue-green update".into())
}
