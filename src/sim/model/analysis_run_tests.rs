//! The AnalysisRun controller's rules, with cases from Argo's analysis/analysis_test.go
//! (TestAssessMetricStatus*, TestRunMeasurementsResetConsecutiveErrorCounter,
//! TestTrimMeasurementHistory, TestAssessRunStatus*, TestTerminateAnalysisRun,
//! TestGenerateMetricTasks*) and utils/analysis/factory_test.go (TestValidateMetrics).

use std::cell::RefCell;

use chrono::TimeDelta;
use serde_json::{Value, json};

use super::*;

/// Answers each measurement with the next scripted phase (the last one repeats).
struct Script(RefCell<Vec<Phase>>);

impl Script {
    fn new(phases: &[Phase]) -> Script {
        Script(RefCell::new(phases.to_vec()))
    }
}

impl Measure for Script {
    fn measure(&self, _: &MetricSpec, _: u32, now: DateTime<Utc>) -> Measurement {
        let mut phases = self.0.borrow_mut();
        let phase = if phases.len() > 1 {
            phases.remove(0)
        } else {
            phases[0]
        };
        Measurement {
            phase,
            message: if phase == Phase::Error {
                "query failed".into()
            } else {
                String::new()
            },
            started_at: Some(now),
            finished_at: Some(now),
            value: if phase == Phase::Error {
                String::new()
            } else {
                "1".into()
            },
            ..Measurement::default()
        }
    }
}

fn t0() -> DateTime<Utc> {
    "2026-05-04T17:00:00Z".parse().unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + TimeDelta::seconds(seconds)
}

fn metric(name: &str, extra: Value) -> Value {
    let mut m = json!({"name": name, "provider": {"prometheus": {"query": "up"}}});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

fn run(metrics: Vec<Value>) -> Value {
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
           "metadata": {"name": "web-abc-1", "namespace": "shop"},
           "spec": {"metrics": metrics}})
}

/// Reconciles at each of `times` (seconds), storing the status back as the store would.
/// Returns the run and every Event recorded.
fn play(mut run: Value, provider: &Script, times: &[i64]) -> (Value, Vec<RunEvent>) {
    let mut events = Vec::new();
    for &t in times {
        if let Some(done) = reconcile(&run, at(t), provider) {
            run["status"] = status_json(&done.status);
            events.extend(done.events);
        }
    }
    (run, events)
}

fn status(run: &Value) -> RunStatus {
    serde_json::from_value(run["status"].clone()).unwrap()
}

fn reasons(events: &[RunEvent]) -> Vec<(&str, &str)> {
    events
        .iter()
        .map(|e| (e.event_type, e.reason.as_str()))
        .collect()
}

#[test]
fn count_and_interval_pace_measurements_then_the_run_succeeds() {
    use Phase::Successful;
    let spec = run(vec![metric("rate", json!({"interval": "1m", "count": 3}))]);
    let provider = Script::new(&[Successful]);
    // 0 s measures; 30 s and 59 s are too early; 60 s is due.
    let (r, events) = play(spec, &provider, &[0, 30, 59]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.metric_results[0].count, 1);
    assert_eq!(s.started_at, Some(at(0)));
    assert!(events.is_empty());
    let (r, events) = play(r, &provider, &[60, 100, 120]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.metric_results[0].count, 3);
    assert_eq!(s.metric_results[0].successful, 3);
    assert_eq!(s.metric_results[0].consecutive_success, 3);
    assert_eq!(s.completed_at, Some(at(120)));
    assert_eq!(
        s.run_summary,
        RunSummary {
            count: 1,
            successful: 1,
            ..RunSummary::default()
        }
    );
    assert_eq!(
        reasons(&events),
        [
            ("Normal", "MetricSuccessful"),
            ("Normal", "AnalysisRunSuccessful")
        ]
    );
    assert_eq!(
        events[0].message,
        "Metric 'rate' Completed. Result: Successful"
    );
    assert_eq!(events[1].message, "Analysis Completed. Result: Successful");
    // A completed run is left alone.
    assert!(reconcile(&r, at(500), &provider).is_none());
}

#[test]
fn no_count_and_no_interval_measures_once() {
    let spec = run(vec![metric("once", json!({}))]);
    let (r, _) = play(spec, &Script::new(&[Phase::Successful]), &[0, 60]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.metric_results[0].measurements.len(), 1);
}

#[test]
fn an_interval_without_count_runs_until_terminated() {
    let spec = run(vec![metric("forever", json!({"interval": "10s"}))]);
    let provider = Script::new(&[Phase::Successful]);
    let (mut r, _) = play(spec, &provider, &[0, 11, 22, 33]);
    assert_eq!(status(&r).phase, Phase::Running);
    assert_eq!(status(&r).metric_results[0].count, 4);
    r["spec"]["terminate"] = true.into();
    let (r, events) = play(r, &provider, &[35]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.message, "Run Terminated");
    assert_eq!(
        s.metric_results[0].count, 4,
        "no measurement while terminating"
    );
    assert_eq!(
        reasons(&events),
        [
            ("Normal", "MetricSuccessful"),
            ("Normal", "AnalysisRunSuccessful")
        ]
    );
}

#[test]
fn terminated_before_any_measurement_is_successful() {
    // TestTerminateAnalysisRun: a run told to stop before it measured anything.
    let mut spec = run(vec![metric(
        "late",
        json!({"initialDelay": "5m", "interval": "1m"}),
    )]);
    spec["spec"]["terminate"] = true.into();
    let (r, _) = play(spec, &Script::new(&[Phase::Failed]), &[0]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.message, "Run Terminated");
}

#[test]
fn the_first_failure_fails_the_run_with_the_default_failure_limit() {
    let spec = run(vec![
        metric("rate", json!({"interval": "1m"})),
        metric("other", json!({"interval": "1m"})),
    ]);
    let provider = Script::new(&[Phase::Failed, Phase::Successful]);
    let (r, events) = play(spec, &provider, &[0]);
    // The sibling is still running: the run ends at its next reconcile, which measures
    // nothing more (Argo re-reconciles at once on the status update; here, the next tick).
    assert_eq!(status(&r).phase, Phase::Running);
    assert_eq!(reasons(&events), [("Warning", "MetricFailed")]);
    let (r, events) = play(r, &provider, &[1, 61]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Failed);
    assert_eq!(
        s.message,
        "Metric \"rate\" assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(s.metric_results[0].phase, Phase::Failed);
    assert_eq!(s.metric_results[1].phase, Phase::Successful);
    assert_eq!(s.metric_results[1].count, 1);
    assert_eq!(
        reasons(&events),
        [
            ("Normal", "MetricSuccessful"),
            ("Warning", "AnalysisRunFailed")
        ]
    );
    assert_eq!(
        s.run_summary,
        RunSummary {
            count: 2,
            successful: 1,
            failed: 1,
            ..RunSummary::default()
        }
    );
}

#[test]
fn failure_limit_allows_that_many_failures() {
    // TestAssessMetricStatusFailureLimit.
    let mut metric = MetricSpec {
        name: "success-rate".into(),
        failure_limit: Some(2),
        interval: Some("60s".into()),
        ..MetricSpec::default()
    };
    let result = MetricResult {
        failed: 3,
        count: 3,
        measurements: vec![Measurement {
            phase: Phase::Failed,
            ..Measurement::default()
        }],
        ..MetricResult::default()
    };
    assert_eq!(assess_metric(&metric, &result, false), Phase::Failed);
    assert_eq!(assess_metric(&metric, &result, true), Phase::Failed);
    metric.failure_limit = Some(3);
    assert_eq!(assess_metric(&metric, &result, false), Phase::Running);
    assert_eq!(assess_metric(&metric, &result, true), Phase::Successful);
}

#[test]
fn consecutive_success_limit_rules() {
    // TestAssessMetricStatusConsecutiveSuccessLimit.
    let mut metric = MetricSpec {
        name: "success-rate".into(),
        failure_limit: Some(-1),
        consecutive_success_limit: Some(3),
        interval: Some("60s".into()),
        ..MetricSpec::default()
    };
    let result = MetricResult {
        failed: 3,
        successful: 4,
        consecutive_success: 3,
        count: 7,
        measurements: vec![Measurement {
            phase: Phase::Failed,
            ..Measurement::default()
        }],
        ..MetricResult::default()
    };
    let both = |m: &MetricSpec| {
        (
            assess_metric(m, &result, false),
            assess_metric(m, &result, true),
        )
    };
    use Phase::*;
    assert_eq!(both(&metric), (Successful, Successful));
    metric.consecutive_success_limit = Some(5);
    assert_eq!(both(&metric), (Running, Successful));
    metric.count = Some(7);
    assert_eq!(both(&metric), (Failed, Failed));
    metric.consecutive_success_limit = Some(3);
    assert_eq!(both(&metric), (Successful, Successful));
    metric.count = Some(9);
    assert_eq!(both(&metric), (Successful, Successful));
    metric.consecutive_success_limit = Some(5);
    assert_eq!(both(&metric), (Running, Successful));

    // TestAssessMetricStatusFailureLimitAndConsecutiveSuccessLimit: with both limits, a
    // count reached with neither is Inconclusive.
    let metric = MetricSpec {
        name: "success-rate".into(),
        failure_limit: Some(4),
        consecutive_success_limit: Some(4),
        interval: Some("60s".into()),
        count: Some(7),
        ..MetricSpec::default()
    };
    assert_eq!(both(&metric), (Inconclusive, Inconclusive));
}

#[test]
fn inconclusive_measurements_beyond_the_limit_end_the_run_inconclusive() {
    let spec = run(vec![metric(
        "rate",
        json!({"interval": "1m", "inconclusiveLimit": 1}),
    )]);
    let provider = Script::new(&[Phase::Inconclusive]);
    let (r, _) = play(spec, &provider, &[0]);
    assert_eq!(status(&r).phase, Phase::Running, "one is within the limit");
    let (r, events) = play(r, &provider, &[61]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Inconclusive);
    assert_eq!(
        s.message,
        "Metric \"rate\" assessed Inconclusive due to inconclusive (2) > inconclusiveLimit (1)"
    );
    assert_eq!(
        reasons(&events),
        [
            ("Normal", "MetricInconclusive"),
            ("Normal", "AnalysisRunInconclusive")
        ]
    );
}

#[test]
fn errors_retry_every_ten_seconds_and_the_fifth_in_a_row_is_an_error() {
    let spec = run(vec![metric("rate", json!({"interval": "5m"}))]);
    let provider = Script::new(&[Phase::Error]);
    // The retry interval after an Error is 10 s whatever the metric's interval.
    let (r, _) = play(spec, &provider, &[0, 5, 11, 22, 33]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.metric_results[0].consecutive_error, 4);
    assert_eq!(s.metric_results[0].count, 0, "errors do not count");
    let (r, events) = play(r, &provider, &[44]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Error);
    assert_eq!(
        s.message,
        "Metric \"rate\" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4): \"Error Message: query failed\""
    );
    assert_eq!(s.metric_results[0].message, "query failed");
    assert_eq!(
        reasons(&events),
        [("Warning", "MetricError"), ("Warning", "AnalysisRunError")]
    );
}

#[test]
fn a_success_resets_the_consecutive_error_counter() {
    // TestRunMeasurementsResetConsecutiveErrorCounter.
    let spec = run(vec![metric(
        "rate",
        json!({"interval": "1m", "consecutiveErrorLimit": 2}),
    )]);
    use Phase::*;
    let provider = Script::new(&[Error, Error, Successful, Error, Error, Successful]);
    let (r, _) = play(spec, &provider, &[0, 11, 22, 83, 94, 105]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Running);
    assert_eq!(s.metric_results[0].consecutive_error, 0);
    assert_eq!(s.metric_results[0].error, 4);
    assert_eq!(s.metric_results[0].count, 2);
}

#[test]
fn ten_measurements_are_kept_unless_retention_says_otherwise() {
    // TestTrimMeasurementHistory.
    let spec = run(vec![
        metric("kept", json!({"interval": "1s"})),
        metric("trimmed", json!({"interval": "1s"})),
    ]);
    let mut spec = spec;
    spec["spec"]["measurementRetention"] = json!([{"metricName": "trim", "limit": 2}]);
    let times: Vec<i64> = (0..12).map(|i| i * 2).collect();
    let (r, _) = play(spec, &Script::new(&[Phase::Successful]), &times);
    let s = status(&r);
    assert_eq!(s.metric_results[0].measurements.len(), 10);
    assert_eq!(s.metric_results[0].count, 12, "counts are not trimmed");
    assert_eq!(s.metric_results[0].measurements[0].started_at, Some(at(4)));
    assert_eq!(s.metric_results[1].measurements.len(), 2);
    assert_eq!(s.metric_results[1].measurements[1].started_at, Some(at(22)));
}

#[test]
fn dry_run_metrics_are_measured_but_never_fail_the_run() {
    let mut spec = run(vec![metric("real", json!({})), metric("trial", json!({}))]);
    spec["spec"]["dryRun"] = json!([{"metricName": "tri.*"}]);
    let provider = Script::new(&[Phase::Successful, Phase::Failed]);
    let (r, _) = play(spec, &provider, &[0]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.message, "");
    assert!(s.metric_results[1].dry_run);
    assert_eq!(s.metric_results[1].phase, Phase::Failed);
    assert_eq!(
        s.metric_results[1].message,
        "Metric assessed Failed due to failed (1) > failureLimit (0)"
    );
    assert_eq!(
        s.run_summary,
        RunSummary {
            count: 1,
            successful: 1,
            ..RunSummary::default()
        }
    );
    assert_eq!(
        s.dry_run_summary,
        Some(RunSummary {
            count: 1,
            failed: 1,
            ..RunSummary::default()
        })
    );
}

#[test]
fn a_failed_dry_run_metric_does_not_stop_its_siblings() {
    let mut spec = run(vec![
        metric("real", json!({"interval": "1m", "count": 2})),
        metric("trial", json!({})),
    ]);
    spec["spec"]["dryRun"] = json!([{"metricName": "trial"}]);
    let provider = Script::new(&[Phase::Successful, Phase::Failed, Phase::Successful]);
    let (r, _) = play(spec, &provider, &[0, 61]);
    let s = status(&r);
    assert_eq!(s.phase, Phase::Successful);
    assert_eq!(s.metric_results[0].count, 2);
}

#[test]
fn initial_delay_waits_from_the_runs_start() {
    let spec = run(vec![metric("late", json!({"initialDelay": "30s"}))]);
    let provider = Script::new(&[Phase::Successful]);
    let (r, _) = play(spec, &provider, &[0, 20, 29]);
    let s = status(&r);
    assert_eq!(s.started_at, Some(at(0)));
    assert!(s.metric_results.is_empty(), "not before 30 s have passed");
    assert_eq!(s.phase, Phase::Running);
    let (r, _) = play(r, &provider, &[30]);
    assert_eq!(status(&r).phase, Phase::Successful);
}

#[test]
fn args_are_substituted_before_measuring() {
    struct Query(RefCell<Vec<Value>>);
    impl Measure for Query {
        fn measure(&self, metric: &MetricSpec, _: u32, now: DateTime<Utc>) -> Measurement {
            self.0.borrow_mut().push(metric.provider.clone());
            Measurement {
                phase: Phase::Successful,
                finished_at: Some(now),
                ..Measurement::default()
            }
        }
    }
    let mut spec = run(vec![metric(
        "rate",
        json!({
        "failureLimit": "{{args.limit}}",
        "provider": {"prometheus": {"query": "errors{hash=\"{{ args.hash }}\"}"}}}),
    )]);
    spec["spec"]["args"] =
        json!([{"name": "hash", "value": "a\"b"}, {"name": "limit", "value": "3"}]);
    let provider = Query(RefCell::new(Vec::new()));
    let done = reconcile(&spec, at(0), &provider).unwrap();
    assert_eq!(done.status.phase, Phase::Successful);
    assert_eq!(
        provider.0.borrow()[0],
        json!({"prometheus": {"query": "errors{hash=\"a\"b\"}"}})
    );
}

#[test]
fn unresolvable_args_and_invalid_specs_end_the_run_in_error() {
    let provider = Script::new(&[Phase::Successful]);
    let spec = run(vec![metric(
        "rate",
        json!({"successCondition": "result[0] < {{args.max}}"}),
    )]);
    let done = reconcile(&spec, at(0), &provider).unwrap();
    assert_eq!(done.status.phase, Phase::Error);
    assert_eq!(
        done.status.message,
        "Unable to resolve metric arguments: failed to resolve {{args.max}}"
    );
    assert_eq!(reasons(&done.events), [("Warning", "AnalysisRunError")]);

    let mut spec = run(vec![metric("rate", json!({}))]);
    spec["spec"]["args"] =
        json!([{"name": "key", "valueFrom": {"secretKeyRef": {"name": "dd", "key": "k"}}}]);
    let done = reconcile(&spec, at(0), &provider).unwrap();
    assert_eq!(
        done.status.message,
        "Unable to resolve metric arguments: secrets \"dd\" not found"
    );

    let spec = run(vec![metric("rate", json!({"count": 2}))]);
    let done = reconcile(&spec, at(0), &provider).unwrap();
    assert_eq!(
        done.status.message,
        "Analysis spec invalid: metrics[0]: interval must be specified when count > 1"
    );

    let mut spec = run(vec![metric("rate", json!({}))]);
    spec["spec"]["dryRun"] = json!([{"metricName": "nothing"}]);
    let done = reconcile(&spec, at(0), &provider).unwrap();
    assert_eq!(
        done.status.message,
        "Analysis spec invalid: dryRun[0]: Rule didn't match any metric name(s)"
    );
}

#[test]
fn the_next_reconcile_is_the_earliest_due_metric() {
    // TestCalculateNextReconcileTime*: interval, initial delay, error retry, count reached.
    let next = |metrics: Vec<Value>, provider: &Script, times: &[i64]| {
        let mut run = run(metrics);
        let mut next = None;
        for &t in times {
            let done = reconcile(&run, at(t), provider).unwrap();
            run["status"] = status_json(&done.status);
            next = done.next;
        }
        next
    };
    let ok = Script::new(&[Phase::Successful]);
    assert_eq!(
        next(vec![metric("a", json!({"interval": "30s"}))], &ok, &[0]),
        Some(at(30))
    );
    assert_eq!(
        next(
            vec![
                metric("a", json!({"interval": "30s"})),
                metric("b", json!({"interval": "10s"}))
            ],
            &ok,
            &[5]
        ),
        Some(at(15))
    );
    assert_eq!(
        next(vec![metric("a", json!({"initialDelay": "1m"}))], &ok, &[0]),
        Some(at(60))
    );
    let error = Script::new(&[Phase::Error]);
    assert_eq!(
        next(vec![metric("a", json!({"interval": "5m"}))], &error, &[0]),
        Some(at(10))
    );
    // Count reached and the other metric waiting for nothing: no reconcile is due.
    assert_eq!(
        next(
            vec![metric("a", json!({"interval": "30s", "count": 1}))],
            &ok,
            &[0]
        ),
        None
    );
}

#[test]
fn phases_order_as_argo_orders_them() {
    // TestIsWorst.
    use Phase::*;
    assert!(Successful.is_worse(Running));
    assert!(Running.is_worse(Pending));
    assert!(Pending.is_worse(Inconclusive));
    assert!(Inconclusive.is_worse(Error));
    assert!(Error.is_worse(Failed));
    assert!(!Failed.is_worse(Error));
}

#[test]
fn status_serializes_as_the_api_does() {
    let spec = run(vec![metric("rate", json!({}))]);
    let done = reconcile(&spec, at(0), &Script::new(&[Phase::Successful])).unwrap();
    assert_eq!(
        status_json(&done.status),
        json!({
            "phase": "Successful",
            "metricResults": [{"name": "rate", "phase": "Successful", "count": 1, "successful": 1,
                               "consecutiveSuccess": 1,
                               "measurements": [{"phase": "Successful", "value": "1",
                                                 "startedAt": "2026-05-04T17:00:00Z",
                                                 "finishedAt": "2026-05-04T17:00:00Z"}]}],
            "startedAt": "2026-05-04T17:00:00Z",
            "completedAt": "2026-05-04T17:00:00Z",
            "runSummary": {"count": 1, "successful": 1},
            "dryRunSummary": {},
        })
    );
}
