//! The AnalysisRun controller: one reconcile of one run, as Argo's analysis/analysis.go
//! `reconcileAnalysisRun` does it, in scenario time.
//!
//! Owns: deciding which metrics are due (`initialDelay`, `interval`, `count`, the 10 s retry
//! after an Error), taking measurements through a [`Measure`] (the metric provider),
//! counting them, assessing each metric (`failureLimit` default 0, `inconclusiveLimit`
//! default 0, `consecutiveErrorLimit` default 4, `consecutiveSuccessLimit`) and the run
//! (worst phase wins, dryRun metrics never fail it, `spec.terminate` ends it), the run
//! summaries, `measurementRetention` (10 kept by default), when the run next needs a
//! reconcile, and the Events the analysis controller records (`MetricFailed`,
//! `AnalysisRunSuccessful`, …). Reading and validating the metrics is `analysis_metrics`'.
//! It must not create, terminate or delete runs (the Rollout controller does, through the
//! stored object) nor know where measurements come from. [`reconcile`] is a pure function
//! of the stored run, the time and the provider; `analysis_controller` applies it to the
//! store.
//!
//! Time: Argo reconciles a run when it changes and at the next time a metric is due (its
//! `enqueueAfter`), a moment after that time; the simulator reconciles on its 1 s ticks, so
//! a measurement due at a whole second is taken at that tick (`now >= due`), not a tick
//! later.
//!
//! Not modelled (documented, not guessed): measurements that stay in flight (Job, Kayenta
//! and web providers resuming later; every measurement here completes when taken),
//! `secretKeyRef` args (the simulator serves no Secrets: such a run ends in Error as Argo's
//! does when the Secret is missing), and `ttlStrategy` garbage collection.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use super::analysis_metrics::MetricSpec;
use super::analysis_metrics::{matching_rules, resolve_metrics, validate_metrics};

/// An analysis phase (of a measurement, a metric or a run). `Unset` is a run not yet
/// reconciled (`phase: ""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Phase {
    #[default]
    #[serde(rename = "")]
    Unset,
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
}

impl Phase {
    /// Successful, Failed, Error and Inconclusive are final.
    pub fn completed(self) -> bool {
        matches!(
            self,
            Phase::Successful | Phase::Failed | Phase::Error | Phase::Inconclusive
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Unset => "",
            Phase::Pending => "Pending",
            Phase::Running => "Running",
            Phase::Successful => "Successful",
            Phase::Failed => "Failed",
            Phase::Error => "Error",
            Phase::Inconclusive => "Inconclusive",
        }
    }

    /// Argo's order from best to worst (utils/analysis/helpers.go `analysisStatusOrder`).
    fn rank(self) -> usize {
        match self {
            Phase::Successful | Phase::Unset => 0,
            Phase::Running => 1,
            Phase::Pending => 2,
            Phase::Inconclusive => 3,
            Phase::Error => 4,
            Phase::Failed => 5,
        }
    }

    /// Whether `new` is worse than `self`.
    pub fn is_worse(self, new: Phase) -> bool {
        new.rank() > self.rank()
    }
}

/// One measurement of one metric.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// A metric's results so far (`status.metricResults[]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    pub name: String,
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_error: i32,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub consecutive_success: i32,
}

/// Counts of metrics by outcome (`status.runSummary`, `status.dryRunSummary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunSummary {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub successful: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inconclusive: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error: i32,
}

impl RunSummary {
    fn add(&mut self, phase: Phase) {
        match phase {
            Phase::Error => self.error += 1,
            Phase::Failed => self.failed += 1,
            Phase::Inconclusive => self.inconclusive += 1,
            _ => self.successful += 1,
        }
    }
}

/// An AnalysisRun's status.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    #[serde(default)]
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_results: Vec<MetricResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub run_summary: RunSummary,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run_summary: Option<RunSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

impl RunStatus {
    fn result(&self, name: &str) -> Option<&MetricResult> {
        self.metric_results.iter().find(|r| r.name == name)
    }

    fn result_mut(&mut self, name: &str) -> Option<&mut MetricResult> {
        self.metric_results.iter_mut().find(|r| r.name == name)
    }

    fn last_measurement(&self, name: &str) -> Option<&Measurement> {
        self.result(name).and_then(|r| r.measurements.last())
    }

    /// A failed, errored or inconclusive (non-dryRun) metric ends the run early.
    fn failing(&self) -> bool {
        self.metric_results.iter().any(|r| {
            !r.dry_run && matches!(r.phase, Phase::Failed | Phase::Error | Phase::Inconclusive)
        })
    }
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// The default `consecutiveErrorLimit` (utils/defaults).
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;
/// Measurements kept per metric unless `measurementRetention` says otherwise.
pub const DEFAULT_MEASUREMENT_HISTORY_LIMIT: usize = 10;
/// How soon a measurement that ended in Error is retried when no interval says otherwise.
pub const ERROR_RETRY_INTERVAL: Duration = Duration::from_secs(10);

/// Takes one measurement of a metric (the metric provider).
pub trait Measure {
    /// Measures `metric` now. `taken` is how many measurements of this metric the run has
    /// taken before (Argo's count plus errors), for answers that change per measurement.
    /// The measurement returned is complete: phase, value or message, startedAt/finishedAt.
    fn measure(&self, metric: &MetricSpec, taken: u32, now: DateTime<Utc>) -> Measurement;
}

/// An Event the analysis controller records on the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunEvent {
    /// `Warning` for Failed and Error, else `Normal`.
    pub event_type: &'static str,
    pub reason: String,
    pub message: String,
}

impl RunEvent {
    fn new(phase: Phase, reason: String, message: String) -> RunEvent {
        let event_type = match phase {
            Phase::Failed | Phase::Error => "Warning",
            _ => "Normal",
        };
        RunEvent {
            event_type,
            reason,
            message,
        }
    }

    fn completed(phase: Phase) -> RunEvent {
        RunEvent::new(
            phase,
            format!("AnalysisRun{}", phase.as_str()),
            format!("Analysis Completed. Result: {}", phase.as_str()),
        )
    }
}

/// What one reconcile did: the run's new status and the Events it recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconciled {
    pub status: RunStatus,
    pub events: Vec<RunEvent>,
    /// When a metric is next due (Argo's `calculateNextReconcileTime`); `None` when only a
    /// change to the run (a terminate) can move it on.
    pub next: Option<DateTime<Utc>>,
}

/// Reconciles one stored AnalysisRun at scenario time `now`; `None` when it has completed
/// (nothing more happens to it). Times are stamped to the second, as the API stores them.
pub fn reconcile(run: &Value, now: DateTime<Utc>, provider: &dyn Measure) -> Option<Reconciled> {
    let now = now.trunc_subsecs(0);
    if let Some(phase) = run.pointer("/status/phase").and_then(Value::as_str)
        && matches!(phase, "Successful" | "Failed" | "Error" | "Inconclusive")
    {
        return None;
    }
    let mut status: RunStatus = run
        .get("status")
        .cloned()
        .and_then(|s| serde_json::from_value(s).ok())
        .unwrap_or_default();
    if status.phase.completed() {
        return None;
    }
    let spec = run.get("spec").unwrap_or(&Value::Null);
    let list = |field: &str| {
        spec.get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let terminate = spec.get("terminate").and_then(Value::as_bool) == Some(true);
    let mut events = Vec::new();
    let mut fail = |status: &mut RunStatus, message: String| {
        status.phase = Phase::Error;
        status.message = message;
        events.push(RunEvent::completed(Phase::Error));
    };

    let metrics = match resolve_metrics(&list("metrics"), &list("args")) {
        Ok(resolved) => resolved
            .iter()
            .map(MetricSpec::from_json)
            .collect::<Vec<_>>(),
        Err(e) => {
            fail(
                &mut status,
                format!("Unable to resolve metric arguments: {e}"),
            );
            return Some(Reconciled {
                status,
                events,
                next: None,
            });
        }
    };
    let dry_run_rules = list("dryRun");
    let retention_rules = list("measurementRetention");
    let checked = validate_metrics(&metrics).and_then(|()| {
        let dry_run = matching_rules(&dry_run_rules, &metrics, "dryRun")?;
        let retention = matching_rules(&retention_rules, &metrics, "measurementRetention")?;
        Ok((dry_run, retention))
    });
    let (dry_run, retention) = match checked {
        Ok(maps) => maps,
        Err(e) => {
            fail(&mut status, format!("Analysis spec invalid: {e}"));
            return Some(Reconciled {
                status,
                events,
                next: None,
            });
        }
    };
    let dry_run = |name: &str| dry_run.contains_key(name);

    for metric in due_metrics(&status, &metrics, terminate, now) {
        let taken = status
            .result(&metric.name)
            .map_or(0, |r| (r.count + r.error) as u32);
        let mut measurement = provider.measure(metric, taken, now);
        measurement.finished_at.get_or_insert(now);
        if status.result(&metric.name).is_none() {
            status.metric_results.push(MetricResult {
                name: metric.name.clone(),
                phase: Phase::Running,
                dry_run: dry_run(&metric.name),
                ..MetricResult::default()
            });
        }
        let result = status.result_mut(&metric.name).expect("just added");
        count(result, measurement.phase);
        result.measurements.push(measurement);
    }

    let (phase, message) = assess_run(&mut status, &metrics, &dry_run, terminate, now, &mut events);
    if phase != status.phase {
        status.phase = phase;
        status.message = message;
        if phase.completed() {
            events.push(RunEvent::completed(phase));
            status.completed_at.get_or_insert(now);
        }
    }

    for result in &mut status.metric_results {
        let limit = retention
            .get(&result.name)
            .and_then(|rule| rule.get("limit").and_then(Value::as_i64))
            .filter(|l| *l > 0)
            .map_or(DEFAULT_MEASUREMENT_HISTORY_LIMIT, |l| l as usize);
        let excess = result.measurements.len().saturating_sub(limit);
        result.measurements.drain(..excess);
    }
    let next = next_reconcile(&status, &metrics);
    Some(Reconciled {
        status,
        events,
        next,
    })
}

/// The earliest time a metric of the run is due (Argo's `calculateNextReconcileTime`): the
/// end of its `initialDelay`, or its last measurement's finish plus its interval (10 s after
/// an Error). Completed metrics and metrics at their count are never due.
fn next_reconcile(status: &RunStatus, metrics: &[MetricSpec]) -> Option<DateTime<Utc>> {
    if status.phase.completed() {
        return None;
    }
    let mut next: Option<DateTime<Utc>> = None;
    for metric in metrics {
        let result = status.result(&metric.name);
        if result.is_some_and(|r| r.phase.completed()) {
            continue;
        }
        let due = match result.and_then(|r| r.measurements.last()) {
            None => match (metric.initial_delay(), status.started_at) {
                (Some(delay), Some(started)) => Some(started + delay),
                _ => None,
            },
            Some(last) => {
                let counted = result.map_or(0, |r| i64::from(r.count));
                if metric.effective_count().is_some_and(|c| counted >= c) {
                    continue;
                }
                let interval = match (last.phase, metric.interval()) {
                    (Phase::Error, _) => Some(ERROR_RETRY_INTERVAL),
                    (_, interval) => interval,
                };
                last.finished_at.zip(interval).map(|(f, i)| f + i)
            }
        };
        next = match (next, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    next
}

/// Counts a completed measurement into its metric's result (Argo's `runMeasurements`).
fn count(result: &mut MetricResult, phase: Phase) {
    match phase {
        Phase::Successful => {
            result.successful += 1;
            result.count += 1;
            result.consecutive_error = 0;
            result.consecutive_success += 1;
        }
        Phase::Failed | Phase::Inconclusive => {
            if phase == Phase::Failed {
                result.failed += 1;
            } else {
                result.inconclusive += 1;
            }
            result.count += 1;
            result.consecutive_error = 0;
            result.consecutive_success = 0;
        }
        Phase::Error => {
            result.error += 1;
            result.consecutive_error += 1;
            result.consecutive_success = 0;
        }
        _ => {}
    }
}

/// The metrics to measure now (Argo's `generateMetricTasks`): not completed, not while the
/// run is terminating, after `initialDelay` from the run's start, until `count`, and once
/// `interval` (10 s after an Error) has passed since the last measurement finished.
fn due_metrics<'m>(
    status: &RunStatus,
    metrics: &'m [MetricSpec],
    terminate: bool,
    now: DateTime<Utc>,
) -> Vec<&'m MetricSpec> {
    let terminating = terminate || status.failing();
    let mut due = Vec::new();
    for metric in metrics {
        if status
            .result(&metric.name)
            .is_some_and(|r| r.phase.completed())
            || terminating
        {
            continue;
        }
        let Some(last) = status.last_measurement(&metric.name) else {
            if let Some(delay) = metric.initial_delay() {
                let Some(started) = status.started_at else {
                    continue;
                };
                if started + delay > now {
                    continue;
                }
            }
            due.push(metric);
            continue;
        };
        let result = status.result(&metric.name).expect("has a measurement");
        if metric
            .effective_count()
            .is_some_and(|c| i64::from(result.count) >= c)
        {
            continue;
        }
        let interval = match (last.phase, metric.interval()) {
            (Phase::Error, _) | (_, None) => ERROR_RETRY_INTERVAL,
            (_, Some(interval)) => interval,
        };
        if last.finished_at.is_some_and(|f| now >= f + interval) {
            due.push(metric);
        }
    }
    due
}

/// The run's phase and message from its metrics (Argo's `assessRunStatus`), updating each
/// metric's phase (recording `Metric<Phase>` Events as metrics complete) and the summaries.
fn assess_run(
    status: &mut RunStatus,
    metrics: &[MetricSpec],
    dry_run: &dyn Fn(&str) -> bool,
    terminate: bool,
    now: DateTime<Utc>,
    events: &mut Vec<RunEvent>,
) -> (Phase, String) {
    let terminating = terminate || status.failing();
    status.started_at.get_or_insert(now);
    let mut worst: Option<Phase> = None;
    let mut worst_message = if terminate {
        "Run Terminated".to_string()
    } else {
        String::new()
    };
    let mut everything_completed = true;
    let mut summary = RunSummary::default();
    let mut dry_summary = RunSummary::default();
    for metric in metrics {
        let dry = dry_run(&metric.name);
        if dry {
            dry_summary.count += 1;
        } else {
            summary.count += 1;
        }
        let Some(result) = status.result_mut(&metric.name) else {
            everything_completed = false;
            continue;
        };
        let metric_phase = assess_metric(metric, result, terminating);
        if result.phase != metric_phase {
            if metric_phase.completed() {
                events.push(RunEvent::new(
                    metric_phase,
                    format!("Metric{}", metric_phase.as_str()),
                    format!(
                        "Metric '{}' Completed. Result: {}",
                        metric.name,
                        metric_phase.as_str()
                    ),
                ));
            }
            if let Some(last) = result.measurements.last() {
                result.message = last.message.clone();
            }
            result.phase = metric_phase;
        }
        if !metric_phase.completed() {
            everything_completed = false;
            continue;
        }
        let (limit_phase, reason) = limit_reached(metric, result);
        if !dry {
            if worst.is_none_or(|w| w.is_worse(metric_phase)) {
                worst = Some(metric_phase);
                if !reason.is_empty() {
                    worst_message = format!(
                        "Metric \"{}\" assessed {} due to {reason}",
                        metric.name,
                        metric_phase.as_str()
                    );
                    if !result.message.is_empty() {
                        worst_message += &format!(": \"Error Message: {}\"", result.message);
                    }
                }
            }
            summary.add(limit_phase.unwrap_or(Phase::Successful));
        } else {
            worst.get_or_insert(Phase::Successful);
            if !reason.is_empty() {
                result.message =
                    format!("Metric assessed {} due to {reason}", metric_phase.as_str());
            }
            dry_summary.add(limit_phase.unwrap_or(Phase::Successful));
        }
    }
    status.run_summary = summary;
    status.dry_run_summary = Some(dry_summary);
    let message = worst_message.trim().to_string();
    match worst {
        None if terminating => (Phase::Successful, message),
        Some(worst) if terminating => (worst, message),
        Some(worst) if everything_completed => (worst, message),
        _ => (Phase::Running, String::new()),
    }
}

/// A metric's phase (Argo's `assessMetricStatus`).
fn assess_metric(metric: &MetricSpec, result: &MetricResult, terminating: bool) -> Phase {
    if result.phase.completed() {
        return result.phase;
    }
    let Some(last) = result.measurements.last() else {
        return if terminating {
            Phase::Successful
        } else {
            Phase::Pending
        };
    };
    if !last.phase.completed() {
        return Phase::Running;
    }
    if let (Some(phase), _) = limit_reached(metric, result) {
        return phase;
    }
    let success_limit = metric.consecutive_success_limit.filter(|l| *l > 0);
    if success_limit.is_some_and(|l| i64::from(result.consecutive_success) >= l) {
        return Phase::Successful;
    }
    if metric
        .effective_count()
        .is_some_and(|c| i64::from(result.count) >= c)
    {
        let failure_applicable = metric.failure_limit.is_none_or(|l| l >= 0);
        return match (failure_applicable, success_limit.is_some()) {
            // Neither limit reached within the count.
            (true, true) => Phase::Inconclusive,
            (false, true) => Phase::Failed,
            _ => Phase::Successful,
        };
    }
    if terminating {
        Phase::Successful
    } else {
        Phase::Running
    }
}

/// Whether the metric has failed, been inconclusive or errored too often (Argo's
/// `assessMetricFailureInconclusiveOrError`); later checks win, as in Argo.
fn limit_reached(metric: &MetricSpec, result: &MetricResult) -> (Option<Phase>, String) {
    let mut reached = (None, String::new());
    let failure_limit = metric.failure_limit.unwrap_or(0);
    if failure_limit >= 0 && i64::from(result.failed) > failure_limit {
        reached = (
            Some(Phase::Failed),
            format!(
                "failed ({}) > failureLimit ({failure_limit})",
                result.failed
            ),
        );
    }
    let inconclusive_limit = metric.inconclusive_limit.unwrap_or(0);
    if i64::from(result.inconclusive) > inconclusive_limit {
        reached = (
            Some(Phase::Inconclusive),
            format!(
                "inconclusive ({}) > inconclusiveLimit ({inconclusive_limit})",
                result.inconclusive
            ),
        );
    }
    let error_limit = metric
        .consecutive_error_limit
        .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
    if i64::from(result.consecutive_error) > error_limit {
        reached = (
            Some(Phase::Error),
            format!(
                "consecutiveErrors ({}) > consecutiveErrorLimit ({error_limit})",
                result.consecutive_error
            ),
        );
    }
    reached
}

/// The status as JSON, for the stored object.
pub fn status_json(status: &RunStatus) -> Value {
    serde_json::to_value(status).unwrap_or_else(|_| json!({}))
}

#[cfg(test)]
#[path = "analysis_run_tests.rs"]
mod tests;
