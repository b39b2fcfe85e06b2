//! Detector 3: analysis errors, told apart from inconclusive results.
//!
//! Argo's rules (analysis/analysis.go): a measurement that cannot be taken or evaluated is
//! `Error`; each one increments the metric's `consecutiveError`, a measurement that is not an
//! Error resets it, and once `consecutiveError > consecutiveErrorLimit` (default 4, so the 5th
//! in a row) the metric — and the run — is Error, which aborts the rollout. Errors are not
//! Inconclusive: they are not counted against `inconclusiveLimit` and never pause for a human.
//!
//! - `analysis errors`: a metric of a current run has an Error streak; the finding says how
//!   many more errors abort the rollout and when. After an Error Argo measures again
//!   `DefaultErrorRetryInterval` (10 s) after it finished, whatever the metric's interval
//!   (analysis.go `generateMetricTasks`, `calculateNextReconcileTime`), so the errors that
//!   abort come 10 s apart even on a 1m metric, or on one without an interval. It escalates
//!   (level 1) when the next Error is the one that aborts. Holds until a measurement succeeds
//!   or the run is replaced.
//! - Dry-run metrics (`status.metricResults[].dryRun`, or a `spec.dryRun` rule matching the
//!   name) are left out: Argo never fails, errors or ends a run on them (IsTerminating and
//!   assessRunStatus skip them), so their errors abort nothing.
//! - `analysis: no data`: the latest Error says the metric source returned an empty result
//!   (`reflect: slice index out of range` from `result[0]`, or "metric result is nil or empty"
//!   in newer controllers): a query that matches no series, typically a label or metric name
//!   that does not exist, or no traffic yet. Holds until a measurement returns data.

use chrono::{DateTime, Utc};

use super::{Detector, Finding, evidence, object, parse_go_duration};
use crate::rollout::model::{AnalysisRun, Measurement, Metric};
use crate::rollout::view;

/// Argo's `DefaultErrorRetryInterval`: the next measurement after an Error, whatever the
/// metric's interval.
pub const ERROR_RETRY_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(10);
/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;
/// The message Argo's expression evaluation gives when `result[0]` meets an empty vector.
pub const EMPTY_VECTOR_MESSAGE: &str = "reflect: slice index out of range";
/// Newer controllers' wording for the same (utils/evaluate/evaluate.go).
pub const NO_DATA_MESSAGE: &str = "metric result is nil or empty";

/// Whether the metric runs in dry-run mode: its result says so, or a `spec.dryRun` rule (a
/// Go regexp, unanchored) matches its name.
fn is_dry_run(run: &AnalysisRun, name: &str, marked: bool) -> bool {
    marked
        || run
            .spec
            .dry_run
            .iter()
            .any(|d| regex::Regex::new(&d.metric_name).is_ok_and(|re| re.is_match(name)))
}

fn metric_spec<'a>(run: &'a AnalysisRun, name: &str) -> Option<&'a Metric> {
    run.spec.metrics.iter().find(|m| m.name == name)
}

/// Whether a measurement's message says the provider returned nothing.
pub fn is_no_data(m: &Measurement) -> bool {
    m.message.contains(EMPTY_VECTOR_MESSAGE) || m.message.contains(NO_DATA_MESSAGE)
}

/// Error streaks against `consecutiveErrorLimit` with the time left before the abort, and
/// no-data errors named for what they are, for one (current) run at cluster time `now`.
pub fn analysis_errors(run: &AnalysisRun, now: Option<DateTime<Utc>>) -> Vec<Finding> {
    let subject = object("AnalysisRun", &run.metadata);
    let mut findings = Vec::new();
    for mr in &run.status.metric_results {
        if is_dry_run(run, &mr.name, mr.dry_run) {
            continue;
        }
        let spec = metric_spec(run, &mr.name);
        let limit = spec
            .and_then(|m| m.consecutive_error_limit.as_deref())
            .and_then(|l| l.parse().ok())
            .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
        let interval = spec
            .and_then(|m| m.interval.as_deref())
            .and_then(parse_go_duration);
        // The streak: the status counter, or the trailing Error measurements (Argo keeps only
        // the last measurementRetention of them, so the counter is the better witness).
        let trailing: Vec<&Measurement> = mr
            .measurements
            .iter()
            .rev()
            .take_while(|m| m.phase == "Error")
            .collect();
        let streak = mr
            .consecutive_error
            .max(i32::try_from(trailing.len()).unwrap_or(i32::MAX));
        let metric_field = format!("status.metricResults[{}]", mr.name);
        let last = trailing.first().copied();
        let first_of_streak = trailing.last().and_then(|m| m.started_at.or(m.finished_at));
        if streak > 0 && !trailing.is_empty() {
            let tripped = streak > limit;
            let left = limit + 1 - streak;
            let headline = if tripped {
                format!(
                    "metric `{}` errored {streak} times in a row (> consecutiveErrorLimit {limit}): the run is Error and the rollout aborts",
                    mr.name
                )
            } else {
                let eta = match last.and_then(|m| m.finished_at.or(m.started_at)) {
                    Some(at) => {
                        let abort_at = at + ERROR_RETRY_INTERVAL * left;
                        match now {
                            Some(now) if abort_at > now => {
                                format!(", in ~{}", view::human_duration(abort_at - now))
                            }
                            _ => format!(", at {}", abort_at.format("%H:%M:%SZ")),
                        }
                    }
                    None => format!(
                        ", in ~{}",
                        view::human_duration(ERROR_RETRY_INTERVAL * left)
                    ),
                };
                format!(
                    "metric `{}` errored {streak} time(s) in a row; {left} more and the run errors and the rollout aborts{eta}",
                    mr.name
                )
            };
            let mut ev = vec![evidence(
                &subject,
                &format!("{metric_field}.consecutiveError"),
                streak,
                first_of_streak,
            )];
            if let Some(m) = last {
                ev.push(evidence(
                    &subject,
                    &format!("{metric_field}.measurements[-1].message"),
                    &m.message,
                    m.finished_at,
                ));
            }
            ev.push(evidence(
                &subject,
                &format!("spec.metrics[{}].consecutiveErrorLimit", mr.name),
                limit,
                None,
            ));
            let retry = format!(
                "{} after an Error (Argo's DefaultErrorRetryInterval){}",
                view::human_duration(ERROR_RETRY_INTERVAL),
                interval.map_or(String::new(), |i| format!(
                    "; interval {} otherwise",
                    view::human_duration(i)
                ))
            );
            ev.push(evidence(
                &subject,
                &format!("spec.metrics[{}] next measurement", mr.name),
                retry,
                None,
            ));
            findings.push(Finding {
                detector: Detector::AnalysisErrors,
                subject: subject.clone(),
                aspect: format!("metric {}", mr.name),
                headline,
                detail: "Error measurements are not Inconclusive: they count towards \
                         consecutiveErrorLimit and abort the rollout, they never pause it for a \
                         human. A measurement that succeeds resets the count."
                    .into(),
                evidence: ev,
                level: u8::from(left <= 1),
            });
        }
        if let Some(latest) = mr.measurements.last().filter(|m| is_no_data(m)) {
            let count = trailing.iter().filter(|m| is_no_data(m)).count();
            let since = trailing
                .iter()
                .rev()
                .find(|m| is_no_data(m))
                .and_then(|m| m.started_at.or(m.finished_at));
            findings.push(Finding {
                detector: Detector::AnalysisNoData,
                subject: subject.clone(),
                aspect: format!("metric {}", mr.name),
                headline: format!(
                    "metric `{}`: the metric source returns no data ({count} empty result(s) in a row)",
                    mr.name
                ),
                detail: "`result[0]` of an empty result fails, so each such measurement is assessed \
                         Error, not Inconclusive. Check that the query's metric and labels exist \
                         (and that the canary gets traffic)."
                    .into(),
                evidence: vec![evidence(
                    &subject,
                    &format!("{metric_field}.measurements[-1].message"),
                    &latest.message,
                    since,
                )],
                level: 0,
            });
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    fn run(phases: &[(&str, &str)], consecutive: i32) -> AnalysisRun {
        let measurements: Vec<String> = phases
            .iter()
            .enumerate()
            .map(|(i, (phase, message))| {
                format!(
                    "    - {{phase: {phase}, message: '{message}', startedAt: '2026-05-04T17:0{i}:00Z', finishedAt: '2026-05-04T17:0{i}:01Z'}}"
                )
            })
            .collect();
        yaml(&format!(
            "metadata: {{name: web-abc-2, namespace: prod}}
spec: {{metrics: [{{name: error-ratio, interval: 1m}}]}}
status:
  phase: Running
  metricResults:
  - name: error-ratio
    consecutiveError: {consecutive}
    measurements:
{}
",
            measurements.join("\n")
        ))
    }

    const EMPTY: &str = "reflect: slice index out of range";

    // Positive cases.

    #[test]
    fn an_error_streak_counts_down_to_the_abort_in_cluster_time() {
        // The story: empty vectors on a 1m metric. After an Error Argo measures again 10 s
        // later (DefaultErrorRetryInterval), not at the interval: the last Error finished at
        // 17:02:01, so the 3 more that abort come at :11, :21 and :31 (not 3 minutes later).
        let r = run(&[("Successful", ""), ("Error", EMPTY), ("Error", EMPTY)], 2);
        let now: DateTime<Utc> = "2026-05-04T17:02:06Z".parse().unwrap();
        let findings = analysis_errors(&r, Some(now));
        let errors = &findings[0];
        assert_eq!(errors.detector, Detector::AnalysisErrors);
        assert!(
            errors.headline.contains("2 time(s) in a row; 3 more")
                && errors.headline.contains("in ~25s"),
            "{}",
            errors.headline
        );
        assert!(
            errors
                .evidence
                .iter()
                .any(|e| e.value.contains("10s after an Error")),
            "{:?}",
            errors.evidence
        );
        assert_eq!(errors.level, 0);
        assert_eq!(
            errors.key(),
            "analysis-errors|AnalysisRun prod/web-abc-2|metric error-ratio"
        );
        let no_data = &findings[1];
        assert_eq!(no_data.detector, Detector::AnalysisNoData);
        assert!(no_data.headline.contains("returns no data (2 empty"));
    }

    #[test]
    fn the_last_error_before_the_abort_escalates() {
        let r = run(&[("Error", "timeout"); 4], 4);
        let f = &analysis_errors(&r, None)[0];
        assert_eq!(f.level, 1);
        assert!(f.headline.contains("1 more"), "{}", f.headline);
    }

    #[test]
    fn a_tripped_limit_says_the_rollout_aborts() {
        // "Metric "error-rate" assessed Error due to consecutiveErrors (5) > consecutiveErrorLimit (4)"
        let r = run(&[("Error", "timeout"); 5], 5);
        let f = &analysis_errors(&r, None)[0];
        assert!(
            f.headline.contains("> consecutiveErrorLimit 4"),
            "{}",
            f.headline
        );
        // Newer controllers' no-data wording is no data too.
        let newer = run(
            &[(
                "Error",
                "could not evaluate successCondition \"result[0] < 0.05\": metric result is nil or empty: no data returned from the metric provider",
            )],
            1,
        );
        assert!(
            analysis_errors(&newer, None)
                .iter()
                .any(|f| f.detector == Detector::AnalysisNoData)
        );
    }

    // Negative cases.

    #[test]
    fn a_dry_run_metric_erroring_aborts_nothing() {
        // analysis/analysis.go: IsTerminating and assessRunStatus skip dry-run results.
        let mut marked = run(&[("Error", "connection refused"); 4], 4);
        marked.status.metric_results[0].dry_run = true;
        assert!(analysis_errors(&marked, None).is_empty());
        // Before the controller marks the result, the run's spec.dryRun rule (a regexp) says it.
        let mut by_rule = run(&[("Error", EMPTY); 2], 2);
        by_rule.spec.dry_run = vec![yaml("{metricName: 'error-.*'}")];
        assert!(analysis_errors(&by_rule, None).is_empty());
        // A rule for another metric leaves this one judged.
        let mut other = run(&[("Error", EMPTY); 2], 2);
        other.spec.dry_run = vec![yaml("{metricName: latency-p99}")];
        assert_eq!(analysis_errors(&other, None).len(), 2);
    }

    #[test]
    fn a_success_after_errors_resets_the_streak() {
        let r = run(&[("Error", EMPTY), ("Successful", "")], 0);
        assert!(analysis_errors(&r, None).is_empty());
    }

    #[test]
    fn inconclusive_measurements_are_not_errors() {
        // The analysis-inconclusive case: NaN at low traffic satisfies neither condition.
        let r = run(&[("Inconclusive", ""), ("Inconclusive", "")], 0);
        assert!(analysis_errors(&r, None).is_empty());
    }

    #[test]
    fn a_healthy_run_has_nothing_to_say() {
        let r = run(&[("Successful", ""); 3], 0);
        assert!(analysis_errors(&r, None).is_empty());
        let empty: AnalysisRun = yaml("metadata: {name: r}\nstatus: {phase: Pending}\n");
        assert!(analysis_errors(&empty, None).is_empty());
    }
}
