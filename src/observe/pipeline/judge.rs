//! Judging one Rollout: its status, step and weight transitions with the `rollout get` view
//! as a snapshot, its AnalysisRuns' measurements as they land (summed up once when the
//! observer resumes), and the detectors' findings as lifecycle [`Condition`]s.
//!
//! It must not watch nor post (it returns observations) and must not derive rollout status
//! itself: the view ([`crate::rollout::view`]) and the detectors ([`crate::rollout::detect`])
//! do.

use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use super::{PipelineState, scope};
use crate::observe::lifecycle::Condition;
use crate::observe::report::{self, RolloutState};
use crate::observe::{ClusterTime, Observation};
use crate::rollout::detect::{self, Detector, Finding};
use crate::rollout::model::{Rollout, Snapshot};
use crate::rollout::view::{self, Colour};

impl PipelineState {
    pub(super) fn judge_rollout(
        &mut self,
        snap: &Snapshot,
        ro: &Rollout,
        now: Option<ClusterTime>,
        wall: Instant,
    ) -> Vec<Observation> {
        let mut out = Vec::new();
        let name = ro.metadata.name.clone();
        let subject = format!("Rollout `{}/{}`", ro.metadata.namespace, name);
        let key = self.key(ro);
        let view_now = now.map_or_else(Utc::now, |t| t.earliest);
        let owned = view::owned_replica_sets(snap, ro);
        let state = RolloutState::of(ro, &owned);
        let r = self.reported.entry(key).or_default();
        let first_look = r.state.is_none();
        // Phase, step and weight transitions, with the view as a snapshot.
        if r.state.as_ref() != Some(&state) || !r.via.is_empty() {
            // The statuses in between: not the one it ends in, nor the one it started from.
            let mut via = r.via.clone();
            while via.last() == Some(&state.status) {
                via.pop();
            }
            if let Some(before) = &r.state {
                while via.first() == Some(&before.status) {
                    via.remove(0);
                }
            }
            let changed = r.state.as_ref() != Some(&state) || !via.is_empty();
            r.via.clear();
            if changed {
                let rendered =
                    view::render_rollout(&view::rollout_view(snap, ro, view_now), Colour::Never);
                let head = match &r.state {
                    None if self.resumed => {
                        format!("**resumed watching {subject}**: {}", state.summary())
                    }
                    None => format!("**watching {subject}**: {}", state.summary()),
                    Some(before) => report::transition(&subject, before, &via, &state),
                };
                out.push(Observation::report(format!(
                    "{head}\n\n```text\n{rendered}```\n"
                )));
            }
            r.state = Some(state);
        }

        // Measurements as they land, and AnalysisRun phases. Resumed after a restart, the ones
        // already there are summed up once (the earlier run said them).
        let summing_up = first_look && self.resumed;
        let mut lines = Vec::new();
        let mut earlier = 0;
        for run in detect::runs::rollout_runs(snap, ro) {
            let run_name = &run.metadata.name;
            for mr in &run.status.metric_results {
                for (i, m) in mr.measurements.iter().enumerate() {
                    if !report::landed(m) {
                        continue;
                    }
                    if r.measurements.insert(report::measurement_id(run, mr, m, i)) {
                        if summing_up {
                            earlier += 1;
                        } else {
                            lines.push(report::measurement_line(run, mr, i));
                        }
                    }
                }
            }
            let phase = if run.status.phase.is_empty() {
                "Pending"
            } else {
                &run.status.phase
            };
            if r.run_phases.get(run_name).map(String::as_str) != Some(phase) {
                r.run_phases.insert(run_name.clone(), phase.to_string());
                if summing_up {
                    lines.push(format!(
                        "- AnalysisRun `{run_name}` is **{phase}** ({} measurement(s) taken)",
                        run.status
                            .metric_results
                            .iter()
                            .map(|m| m.measurements.len())
                            .sum::<usize>()
                    ));
                    continue;
                }
                let message = if run.status.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.status.message)
                };
                lines.push(format!(
                    "- AnalysisRun `{run_name}` is **{phase}**{message}"
                ));
            }
        }
        if !lines.is_empty() {
            let resumed = if summing_up && earlier > 0 {
                format!(
                    " (as found on resuming: {earlier} measurement(s) taken while away or said before)"
                )
            } else {
                String::new()
            };
            out.push(Observation::report(format!(
                "**analysis of {subject}**{resumed}\n\n{}\n",
                lines.join("\n")
            )));
        }

        // Detectors: each condition through the lifecycle.
        let mut findings = detect::rollout_findings(snap, ro, now.map(|t| t.earliest));
        if let Some(t) = now {
            findings.extend(self.tracker.observe(ro, t.earliest, t.latest));
            findings.extend(self.tracker.observe_workload(
                ro,
                &snap.deployments,
                t.earliest,
                t.latest,
            ));
        }
        let confirm = self.config.confirm;
        let conditions: Vec<Condition> = findings.iter().map(|f| condition(f, confirm)).collect();
        out.extend(
            self.lifecycle
                .judge(&scope(&ro.metadata.namespace, &name), &conditions, wall),
        );
        out
    }
}

/// Findings about the rollout's shape, which a half-applied step can fake for a moment.
fn needs_confirmation(d: Detector) -> bool {
    matches!(
        d,
        Detector::CanaryReplicaMath
            | Detector::CanaryServiceSelectsStable
            | Detector::ActiveServiceSelectsPreview
            | Detector::WorkloadRefLeak
    )
}

/// A finding as a lifecycle condition.
pub fn condition(f: &Finding, confirm: Duration) -> Condition {
    Condition {
        key: f.key(),
        alert: f.detector.is_alert(),
        body: f.to_string(),
        headline: f.headline_line(),
        level: f.level,
        confirm: if needs_confirmation(f.detector) {
            confirm
        } else {
            Duration::ZERO
        },
        clear: confirm,
    }
}

/// The condition of a named Rollout that is not there.
pub(super) fn missing(namespace: &str, name: &str) -> Condition {
    let headline = format!(
        "**Rollout `{namespace}/{name}` is not there** (deleted, or never created): nothing to watch until it exists."
    );
    Condition {
        key: format!("rollout-missing|Rollout {namespace}/{name}"),
        alert: true,
        body: headline.clone(),
        headline,
        level: 0,
        confirm: Duration::ZERO,
        clear: Duration::ZERO,
    }
}
