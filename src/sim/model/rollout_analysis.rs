//! The Rollout controller's side of analysis (rollout/analysis.go): which AnalysisRuns a
//! Rollout needs now — the canary's background and step runs, blue-green's pre- and
//! post-promotion runs — created from the merged templates
//! ([`super::analysis_templates::rollout_run`]), cancelled (`spec.terminate`) when no longer
//! current, and their phases turned into pauses (Inconclusive) or aborts (Failed, Error)
//! with the AnalysisRun{Phase} Events.
//!
//! Owns: creating and terminating a Rollout's runs and reading `status.phase`. It must not
//! measure or decide a run's phase: the AnalysisRun controller does, through the stored
//! object only.

use serde_json::{Value, json};

use super::analysis_templates::{RolloutRun, RunKind, TemplateScope, rollout_run};
use super::conditions as cond;
use super::rollouts::{Ctx, hash_of};
use super::world::Kind;
use crate::sim::StoreError;

const COMPLETED: [&str; 4] = ["Successful", "Failed", "Error", "Inconclusive"];

fn phase(run: &Value) -> &str {
    run["status"]["phase"].as_str().unwrap_or_default()
}

/// The Rollout's runs, and the current one named in `status` under `field`.
fn runs(ctx: &Ctx) -> Vec<Value> {
    ctx.world
        .owned(Kind::AnalysisRun, &ctx.namespace, &ctx.ro)
        .into_iter()
        .map(|r| (*r).clone())
        .collect()
}

fn current<'a>(runs: &'a [Value], status: &Value) -> Option<&'a Value> {
    let name = status["name"].as_str()?;
    runs.iter().find(|r| r["metadata"]["name"] == name)
}

/// Whether the current pre- or post-promotion run (`field` of `status.blueGreen`) is
/// Successful, as completedPrePromotionAnalysis and scaleDownOldReplicaSetsForBlueGreen read
/// it: Argo looks at the run itself (`c.currentArs`, listed when the reconcile starts, updated
/// by reconcileAnalysisRuns), so before this reconcile's analysis step the run named in the
/// status counts, and after it the status just written.
pub fn promotion_run_successful(ctx: &Ctx, field: &str) -> bool {
    let written = &ctx.new_status["blueGreen"][field]["status"];
    if !written.is_null() {
        return written == "Successful";
    }
    let all = runs(ctx);
    current(&all, &ctx.status()["blueGreen"][field]).is_some_and(|r| phase(r) == "Successful")
}

/// needsNewAnalysisRun.
fn needs_new(ctx: &Ctx, run: Option<&Value>) -> bool {
    let Some(run) = run else {
        return true;
    };
    if ctx.status()["controllerPause"] == true
        && cond::pause_condition(&ctx.ro, "CanaryPauseStep").is_none()
        && cond::pause_condition(&ctx.ro, "BlueGreenPause").is_none()
    {
        return phase(run) == "Inconclusive";
    }
    !ctx.status()["abortedAt"].is_null()
}

fn create(ctx: &mut Ctx, analysis: &Value, kind: RunKind) -> Result<Option<Value>, StoreError> {
    let latest = ctx.new_rs.as_ref().map_or("", hash_of).to_string();
    let stable = ctx.stable_rs.as_ref().map_or("", hash_of).to_string();
    let namespace = ctx.namespace.clone();
    let world = ctx.world;
    let lookup = |scope: TemplateScope, name: &str| {
        let found = if scope.is_namespaced() {
            world.get(Kind::AnalysisTemplate, &namespace, name)
        } else {
            world.get(Kind::ClusterAnalysisTemplate, "", name)
        };
        found.map(|t| (*t).clone())
    };
    let input = RolloutRun {
        rollout: &ctx.ro,
        analysis,
        kind,
        latest_hash: &latest,
        stable_hash: &stable,
    };
    let mut run = match rollout_run(&input, &lookup) {
        Ok(run) => run,
        Err(err) => {
            tracing::debug!(
                "rollout {}/{}: analysis run: {err}",
                ctx.namespace,
                ctx.name
            );
            return Ok(None);
        }
    };
    // CreateWithCollisionCounter: a name taken by another run gets .1, .2, …
    let base = run["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut n = 0;
    while ctx
        .world
        .get(
            Kind::AnalysisRun,
            &ctx.namespace,
            run["metadata"]["name"].as_str().unwrap_or_default(),
        )
        .is_some()
    {
        n += 1;
        run["metadata"]["name"] = json!(format!("{base}.{n}"));
    }
    let change = ctx.world.create(Kind::AnalysisRun, run)?;
    Ok(Some((*change.object).clone()))
}

/// cancelAnalysisRuns.
fn cancel(ctx: &Ctx, run: Option<&Value>) -> Result<(), StoreError> {
    if let Some(run) = run
        && run["spec"]["terminate"] != true
        && !COMPLETED.contains(&phase(run))
    {
        let name = run["metadata"]["name"].as_str().unwrap_or_default();
        ctx.world.merge_patch(
            Kind::AnalysisRun,
            &ctx.namespace,
            name,
            &json!({"spec": {"terminate": true}}),
        )?;
    }
    Ok(())
}

fn run_status(run: &Value) -> Value {
    let mut s = json!({"name": run["metadata"]["name"], "status": phase(run)});
    if let Some(m) = run["status"]["message"].as_str().filter(|m| !m.is_empty()) {
        s["message"] = json!(m);
    }
    s
}

/// emitAnalysisRunStatusChanges.
fn emit_change(ctx: &Ctx, previous: &Value, run: Option<&Value>, label: &str) {
    let Some(run) = run else { return };
    let now = phase(run);
    if now.is_empty() {
        return;
    }
    let same_run = previous["name"] == run["metadata"]["name"];
    if previous.is_null() || (same_run && previous["status"].as_str() != Some(now)) {
        let before = previous["status"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("NoPreviousStatus");
        let name = run["metadata"]["name"].as_str().unwrap_or_default();
        let warning = now == "Failed" || now == "Error";
        ctx.event(
            warning,
            &format!("AnalysisRun{now}"),
            &format!("{label} Analysis Run '{name}' Status New: '{now}' Previous: '{before}'"),
        );
    }
}

fn judge(ctx: &mut Ctx, run: &Value, what: &str) {
    match phase(run) {
        "Inconclusive" => ctx.pause.add.push("InconclusiveAnalysisRun"),
        "Error" | "Failed" => {
            let mut message = format!("{what} analysis phase error/failed");
            if let Some(m) = run["status"]["message"].as_str().filter(|m| !m.is_empty()) {
                message = format!("{message}: {m}");
            }
            ctx.pause.abort(message);
        }
        _ => {}
    }
}

/// reconcileAnalysisRuns for a canary: the step run and the background run.
pub fn reconcile_canary(ctx: &mut Ctx) -> Result<(), StoreError> {
    let all = runs(ctx);
    let old = ctx.status()["canary"].clone();
    let step_run = current(&all, &old["currentStepAnalysisRunStatus"]).cloned();
    let background = current(&all, &old["currentBackgroundAnalysisRunStatus"]).cloned();
    let stable = ctx.status()["stableRS"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let promoted = stable == ctx.status()["currentPodHash"].as_str().unwrap_or_default();
    let cancel_all =
        promoted || ctx.is_aborted() || ctx.status()["promoteFull"] == true || stable.is_empty();
    let (mut new_step, mut new_background) = (None, None);
    if cancel_all {
        cancel(ctx, step_run.as_ref())?;
        cancel(ctx, background.as_ref())?;
    } else {
        new_step = reconcile_step(ctx, step_run.as_ref())?;
        new_background = reconcile_background(ctx, background.as_ref())?;
    }
    for (field, run) in [
        ("currentStepAnalysisRunStatus", &new_step),
        ("currentBackgroundAnalysisRunStatus", &new_background),
    ] {
        if let Some(run) = run {
            ctx.new_status["canary"][field] = run_status(run);
        }
    }
    // Runs no longer current are cancelled.
    for run in &all {
        let name = &run["metadata"]["name"];
        let is_current = [&new_step, &new_background]
            .iter()
            .any(|r| r.as_ref().is_some_and(|r| &r["metadata"]["name"] == name));
        if !is_current {
            cancel(ctx, Some(run))?;
        }
    }
    emit_change(
        ctx,
        &old["currentStepAnalysisRunStatus"],
        new_step.as_ref(),
        "Step",
    );
    emit_change(
        ctx,
        &old["currentBackgroundAnalysisRunStatus"],
        new_background.as_ref(),
        "Background",
    );
    Ok(())
}

fn reconcile_step(ctx: &mut Ctx, run: Option<&Value>) -> Result<Option<Value>, StoreError> {
    let steps = ctx.spec()["strategy"]["canary"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let index = ctx.status()["currentStepIndex"].as_u64().unwrap_or(0) as usize;
    if ctx.status()["pauseConditions"]
        .as_array()
        .is_some_and(|p| !p.is_empty())
        || ctx.status()["abort"] == true
    {
        return Ok(run.cloned());
    }
    let step = steps.get(index).and_then(|s| s.get("analysis"));
    let from_previous = step.is_some()
        && run.is_some_and(|r| {
            r["metadata"]["labels"]["step-index"].as_str() != Some(index.to_string().as_str())
        });
    let Some(analysis) =
        step.filter(|a| a["templates"].as_array().is_some_and(|t| !t.is_empty()) && !from_previous)
    else {
        cancel(ctx, run)?;
        return Ok(None);
    };
    if needs_new(ctx, run) {
        return create(ctx, &analysis.clone(), RunKind::Step(index as u32));
    }
    let run = run.cloned();
    if let Some(r) = &run {
        judge(ctx, r, "Step-based");
    }
    Ok(run)
}

fn reconcile_background(ctx: &mut Ctx, run: Option<&Value>) -> Result<Option<Value>, StoreError> {
    let analysis = ctx.spec()["strategy"]["canary"]["analysis"].clone();
    if analysis["templates"]
        .as_array()
        .is_none_or(|t| t.is_empty())
    {
        cancel(ctx, run)?;
        return Ok(None);
    }
    let index = ctx.status()["currentStepIndex"].as_i64();
    if let (Some(start), Some(index)) = (analysis["startingStep"].as_i64(), index)
        && index < start
    {
        return Ok(None);
    }
    if cond::pause_condition(&ctx.ro, "InconclusiveAnalysisRun").is_some() {
        return Ok(run.cloned());
    }
    if needs_new(ctx, run) {
        return create(ctx, &analysis, RunKind::Background);
    }
    let run = run.cloned();
    if let Some(r) = &run {
        judge(ctx, r, "Background");
    }
    Ok(run)
}

/// reconcileAnalysisRuns for blue-green: the pre- and post-promotion runs.
pub fn reconcile_bluegreen(ctx: &mut Ctx) -> Result<(), StoreError> {
    let all = runs(ctx);
    let old = ctx.status()["blueGreen"].clone();
    let pre = current(&all, &old["prePromotionAnalysisRunStatus"]).cloned();
    let post = current(&all, &old["postPromotionAnalysisRunStatus"]).cloned();
    let stable = ctx.status()["stableRS"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let promoted = stable == ctx.status()["currentPodHash"].as_str().unwrap_or_default();
    let cancel_all =
        promoted || ctx.is_aborted() || ctx.status()["promoteFull"] == true || stable.is_empty();
    let (new_pre, new_post) = if cancel_all {
        cancel(ctx, pre.as_ref())?;
        cancel(ctx, post.as_ref())?;
        (pre.clone(), post.clone())
    } else {
        let new_pre = reconcile_promotion(ctx, pre.as_ref(), false)?;
        if let Some(r) = &new_pre {
            judge_bluegreen(ctx, r, false);
        }
        let new_post = reconcile_promotion(ctx, post.as_ref(), true)?;
        if let Some(r) = &new_post {
            judge_bluegreen(ctx, r, true);
        }
        (new_pre, new_post)
    };
    for (field, run) in [
        ("prePromotionAnalysisRunStatus", &new_pre),
        ("postPromotionAnalysisRunStatus", &new_post),
    ] {
        if let Some(run) = run {
            ctx.new_status["blueGreen"][field] = run_status(run);
        }
    }
    for run in &all {
        let name = &run["metadata"]["name"];
        if ![&new_pre, &new_post]
            .iter()
            .any(|r| r.as_ref().is_some_and(|r| &r["metadata"]["name"] == name))
        {
            cancel(ctx, Some(run))?;
        }
    }
    emit_change(
        ctx,
        &old["postPromotionAnalysisRunStatus"],
        new_post.as_ref(),
        "PostPromotion",
    );
    emit_change(
        ctx,
        &old["prePromotionAnalysisRunStatus"],
        new_pre.as_ref(),
        "PrePromotion",
    );
    Ok(())
}

fn judge_bluegreen(ctx: &mut Ctx, run: &Value, post: bool) {
    match phase(run) {
        "Inconclusive" => ctx.pause.add.push("InconclusiveAnalysisRun"),
        "Error" | "Failed" => {
            let mut message = if post {
                "Blue/green post-promotion analysis phase error/failed".to_string()
            } else {
                "Blue/green pre-promotion analysis phase error/failed".to_string()
            };
            if let Some(m) = run["status"]["message"].as_str().filter(|m| !m.is_empty()) {
                message = format!("{message}: {m}");
            }
            ctx.pause.abort(message);
        }
        _ => {}
    }
}

fn reconcile_promotion(
    ctx: &mut Ctx,
    run: Option<&Value>,
    post: bool,
) -> Result<Option<Value>, StoreError> {
    let field = if post {
        "postPromotionAnalysis"
    } else {
        "prePromotionAnalysis"
    };
    let analysis = ctx.spec()["strategy"]["blueGreen"][field].clone();
    if analysis["templates"]
        .as_array()
        .is_none_or(|t| t.is_empty())
    {
        cancel(ctx, run)?;
        return Ok(None);
    }
    let Some(new_rs) = ctx.new_rs.clone() else {
        return Ok(None);
    };
    let hash = hash_of(&new_rs).to_string();
    let active = ctx.status()["blueGreen"]["activeSelector"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let stable = ctx.status()["stableRS"].as_str().unwrap_or_default();
    let skip = if post {
        stable == hash
            || active != hash
            || (run.is_none() && !super::rollouts::is_saturated(&new_rs, ctx.replicas))
    } else {
        let preview_count = ctx.spec()["strategy"]["blueGreen"]["previewReplicaCount"].as_i64();
        stable == hash
            || active.is_empty()
            || active == hash
            || (run.is_none()
                && match preview_count {
                    Some(n) => {
                        new_rs["spec"]["replicas"].as_i64() != Some(n)
                            || new_rs["status"]["availableReplicas"].as_i64() != Some(n)
                    }
                    None => !super::rollouts::is_saturated(&new_rs, ctx.replicas),
                })
    };
    if skip {
        cancel(ctx, run)?;
        return Ok(run.cloned());
    }
    if cond::pause_condition(&ctx.ro, "InconclusiveAnalysisRun").is_some() {
        return Ok(run.cloned());
    }
    if needs_new(ctx, run) {
        let kind = if post {
            RunKind::PostPromotion
        } else {
            RunKind::PrePromotion
        };
        return create(ctx, &analysis, kind);
    }
    Ok(run.cloned())
}
