//! Phase alerts: the rollout going Degraded or aborting, and an AnalysisRun ending Failed or
//! Error. These are alerts whatever Events exist: with `progressDeadlineAbort: false` Argo
//! reaches Degraded / ProgressDeadlineExceeded without a Warning event at all.
//!
//! - `rollout degraded`: the status (as the kubectl plugin derives it, `status.phase` trusted
//!   only once the spec is observed) is Degraded, or the rollout is aborted (`status.abort`, a
//!   `RolloutAborted` condition or message). One condition per Rollout; it holds until the
//!   rollout leaves Degraded and is no longer aborted (a retry, a new revision, an undo).
//! - `analysis failed`: a current AnalysisRun of the rollout ([`super::runs`]) is Failed or
//!   Error. Holds while that run is current (a retry or a new revision replaces it).

use super::{Detector, Finding, evidence, object};
use crate::rollout::model::{AnalysisRun, Rollout};
use crate::rollout::view;

/// Whether the rollout is aborted, by any of the three marks Argo leaves.
pub fn is_aborted(ro: &Rollout) -> bool {
    view::is_generation_observed(ro)
        && (ro.status.abort
            || ro.status.message.contains("RolloutAborted")
            || ro
                .status
                .conditions
                .iter()
                .any(|c| c.reason == "RolloutAborted" && c.status != "False"))
}

/// The finding while the rollout is Degraded or aborted.
pub fn rollout_degraded(ro: &Rollout) -> Option<Finding> {
    let (status, message) = view::status_and_message(ro);
    let aborted = is_aborted(ro);
    if status != "Degraded" && !aborted {
        return None;
    }
    let subject = object("Rollout", &ro.metadata);
    let reason = ro
        .status
        .conditions
        .iter()
        .find(|c| {
            c.reason == "RolloutAborted"
                || c.reason == "ProgressDeadlineExceeded"
                || c.type_ == "InvalidSpec"
        })
        .map(|c| {
            (
                c.reason.clone(),
                c.last_transition_time.or(c.last_update_time),
            )
        });
    let what = if aborted { "aborted" } else { "Degraded" };
    let shown = if message.is_empty() {
        reason.as_ref().map(|r| r.0.clone()).unwrap_or_default()
    } else {
        message.clone()
    };
    let mut ev = vec![
        evidence(
            &subject,
            "status (as the kubectl plugin derives it)",
            &status,
            None,
        ),
        evidence(&subject, "status.message", &message, None),
        evidence(&subject, "status.abort", ro.status.abort, None),
    ];
    if let Some((reason, since)) = &reason {
        ev.push(evidence(
            &subject,
            "status.conditions[].reason",
            reason,
            *since,
        ));
    }
    ev.push(evidence(&subject, "step", view::step(ro), None));
    Some(Finding {
        detector: Detector::RolloutDegraded,
        subject,
        aspect: String::new(),
        headline: if shown.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {shown}")
        },
        detail: if aborted {
            "The rollout is back on the stable version and stays there until someone retries it \
             (`kubectl argo rollouts retry rollout`) or changes the spec."
                .into()
        } else {
            "The rollout stopped making progress. Look at the canary's pods (image, crash loop, \
             readiness) and at the analysis."
                .into()
        },
        evidence: ev,
        level: 0,
    })
}

/// The finding for a run that ended Failed or Error.
pub fn analysis_failed(run: &AnalysisRun) -> Option<Finding> {
    let phase = run.status.phase.as_str();
    if phase != "Failed" && phase != "Error" {
        return None;
    }
    let subject = object("AnalysisRun", &run.metadata);
    let mut ev = vec![
        evidence(&subject, "status.phase", phase, None),
        evidence(&subject, "status.message", &run.status.message, None),
    ];
    let mut bad = Vec::new();
    // A dry-run metric's Failed or Error is not why the run failed (assessRunStatus leaves
    // it out of the run's phase and message): it is not named among the failing ones.
    for mr in run.status.metric_results.iter().filter(|mr| !mr.dry_run) {
        if mr.phase == "Failed" || mr.phase == "Error" {
            bad.push(format!("`{}` {}", mr.name, mr.phase));
            let last = mr.measurements.last();
            ev.push(evidence(
                &subject,
                &format!("status.metricResults[{}]", mr.name),
                format!(
                    "{} (successful {}, failed {}, inconclusive {}, error {}){}",
                    mr.phase,
                    mr.successful,
                    mr.failed,
                    mr.inconclusive,
                    mr.error,
                    last.map(|m| {
                        let value = if m.value.is_empty() {
                            String::new()
                        } else {
                            format!("; last value {}", m.value)
                        };
                        let message = if m.message.is_empty() {
                            String::new()
                        } else {
                            format!("; last message {}", m.message)
                        };
                        format!("{value}{message}")
                    })
                    .unwrap_or_default()
                ),
                last.and_then(|m| m.finished_at),
            ));
        }
    }
    let headline = if run.status.message.is_empty() {
        format!("{phase}: metric(s) {}", bad.join(", "))
    } else {
        format!("{phase}: {}", run.status.message)
    };
    Some(Finding {
        detector: Detector::AnalysisFailed,
        subject,
        aspect: String::new(),
        headline,
        detail: "A Failed or Error analysis aborts the rollout it gates (a dry-run metric never \
                 does)."
            .into(),
        evidence: ev,
        level: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    fn rollout(status: &str) -> Rollout {
        yaml(&format!(
            "metadata: {{name: canary-demo, namespace: jesse-test, generation: 3}}\nspec: {{replicas: 5, strategy: {{canary: {{steps: [{{setWeight: 20}}]}}}}}}\nstatus: {{observedGeneration: '3', {status}}}\n"
        ))
    }

    // Positive cases.

    #[test]
    fn progress_deadline_exceeded_without_abort_is_degraded() {
        // Argo's own fixture (shared/peer/argo-rollouts canary-demo): "ProgressDeadlineExceeded:
        // ReplicaSet "canary-demo-65fb5ffc84" has timed out progressing." with no Warning event
        // (progressDeadlineAbort false).
        let ro = rollout(
            "phase: Degraded, message: 'ProgressDeadlineExceeded: ReplicaSet \"canary-demo-65fb5ffc84\" has timed out progressing.', conditions: [{type: Progressing, status: 'False', reason: ProgressDeadlineExceeded}]",
        );
        let f = rollout_degraded(&ro).expect("fires");
        assert!(
            f.headline.starts_with("Degraded: ProgressDeadlineExceeded"),
            "{}",
            f.headline
        );
        assert_eq!(f.key(), "rollout-degraded|Rollout jesse-test/canary-demo");
    }

    #[test]
    fn an_abort_is_degraded_whatever_the_message() {
        // rollout/sync.go: status.abort with the RolloutAborted condition.
        let ro = rollout(
            "abort: true, phase: Degraded, message: 'RolloutAborted: Rollout aborted update to revision 2'",
        );
        assert!(
            rollout_degraded(&ro)
                .unwrap()
                .headline
                .starts_with("aborted: RolloutAborted")
        );
        // Abort marked only by the condition (an older controller's status without a phase).
        let cond = rollout(
            "conditions: [{type: Progressing, status: 'False', reason: RolloutAborted, message: 'Rollout aborted update to revision 2'}]",
        );
        assert!(rollout_degraded(&cond).is_some());
    }

    #[test]
    fn failed_and_error_runs_are_alerts() {
        let failed: AnalysisRun = yaml(
            "metadata: {name: canary-demo-65fb5ffc84-2, namespace: jesse-test}\nstatus: {phase: Failed, message: 'Metric \"success-rate\" assessed Failed due to failed (3) > failureLimit (2)', metricResults: [{name: success-rate, phase: Failed, failed: 3, measurements: [{phase: Failed, value: '[0.62]'}]}]}\n",
        );
        let f = analysis_failed(&failed).expect("fires");
        assert!(f.headline.contains("failureLimit (2)"), "{}", f.headline);
        assert!(f.to_string().contains("last value [0.62]"));
        let errored: AnalysisRun = yaml(
            "metadata: {name: r, namespace: ns}\nstatus: {phase: Error, metricResults: [{name: m, phase: Error, error: 5}]}\n",
        );
        assert!(
            analysis_failed(&errored)
                .unwrap()
                .headline
                .contains("`m` Error")
        );
    }

    #[test]
    fn a_dry_run_metrics_failure_is_not_named_as_the_cause() {
        // Argo's dry-run docs: `total-5xx-errors` in dry-run fails beside a real failure.
        let run: AnalysisRun = yaml(
            "metadata: {name: r, namespace: ns}\nstatus: {phase: Failed, metricResults: [{name: total-5xx-errors, phase: Failed, dryRun: true, failed: 2}, {name: success-rate, phase: Failed, failed: 3}]}\n",
        );
        let f = analysis_failed(&run).expect("fires");
        assert!(
            f.headline.contains("`success-rate` Failed"),
            "{}",
            f.headline
        );
        assert!(!f.to_string().contains("total-5xx-errors"), "{f}");
    }

    // Negative cases.

    #[test]
    fn paused_progressing_and_healthy_are_not_degraded() {
        for status in [
            "phase: Paused, message: CanaryPauseStep, pauseConditions: [{reason: CanaryPauseStep}]",
            "phase: Progressing, message: more replicas need to be updated",
            "phase: Healthy",
        ] {
            assert_eq!(rollout_degraded(&rollout(status)), None, "{status}");
        }
    }

    #[test]
    fn a_stale_degraded_phase_behind_an_unobserved_spec_is_not_trusted() {
        let mut ro = rollout("phase: Degraded, abort: true");
        ro.metadata.generation = 4;
        assert_eq!(rollout_degraded(&ro), None);
    }

    #[test]
    fn running_successful_and_inconclusive_runs_are_not_failures() {
        for phase in ["Running", "Successful", "Inconclusive", ""] {
            let run: AnalysisRun = yaml(&format!(
                "metadata: {{name: r}}\nstatus: {{phase: '{phase}'}}\n"
            ));
            assert_eq!(analysis_failed(&run), None, "{phase}");
        }
    }
}
