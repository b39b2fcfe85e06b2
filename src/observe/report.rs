//! What the pipeline observer says about a Rollout between alerts, as text: its state in the
//! strategy's own terms (a canary's step and weights; a blue-green's active and preview
//! ReplicaSets and promotion), the line for a transition (with the short states seen since the
//! last one: `Progressing → Paused → Progressing`), and AnalysisRun measurements identified by
//! when they were taken (Argo keeps only the last `measurementRetention`, so an index is not an
//! identity).
//!
//! Pure: objects in, strings out. It must not decide anything (detectors do) nor post.

use crate::rollout::model::{AnalysisRun, Measurement, MetricResult, ReplicaSet, Rollout};
use crate::rollout::view;

/// The state of a Rollout that a transition line compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutState {
    pub status: String,
    pub message: String,
    pub terms: Terms,
}

/// The strategy's own vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terms {
    Canary {
        step: String,
        set_weight: i32,
        /// Clamped to 0–`max_weight` for display; the raw value when it was not.
        actual_weight: i32,
        raw_actual_weight: Option<i32>,
        /// `trafficRouting.maxTrafficWeight` (100 unless set): weights are out of it, so
        /// 500 of 1000 is half the traffic, not out of range.
        max_weight: i32,
    },
    BlueGreen {
        /// Pod-template hash the active Service selects ("" when none).
        active: String,
        /// Pod-template hash the preview Service selects.
        preview: String,
        /// The hash being rolled out, when it is not the active one yet.
        pending: String,
        /// The update is aborted (`status.abort`, a RolloutAborted condition or message):
        /// nothing is pending a promotion, and an active switch is the way back to stable.
        aborted: bool,
    },
    /// Neither strategy (a Rollout the controller has not read yet, say).
    Plain,
}

impl RolloutState {
    /// The state of `ro` given its owned ReplicaSets.
    pub fn of(ro: &Rollout, owned: &[&ReplicaSet]) -> RolloutState {
        let (status, message) = view::status_and_message(ro);
        let terms = if ro.spec.strategy.blue_green.is_some() {
            let st = &ro.status;
            let active = st.blue_green.active_selector.clone();
            Terms::BlueGreen {
                pending: if st.current_pod_hash != active {
                    st.current_pod_hash.clone()
                } else {
                    String::new()
                },
                active,
                preview: st.blue_green.preview_selector.clone(),
                aborted: crate::rollout::detect::phase::is_aborted(ro),
            }
        } else if ro.spec.strategy.canary.is_some() {
            let max_weight = view::max_weight(ro).max(1);
            let raw = view::actual_weight(ro, owned);
            let clamped = raw.clamp(0, max_weight);
            Terms::Canary {
                step: view::step(ro),
                set_weight: view::set_weight(ro).clamp(0, max_weight),
                actual_weight: clamped,
                raw_actual_weight: (raw != clamped).then_some(raw),
                max_weight,
            }
        } else {
            Terms::Plain
        };
        RolloutState {
            status,
            message,
            terms,
        }
    }

    /// The one-line summary used when the observer starts: `Healthy · step 3/3 · …`.
    pub fn summary(&self) -> String {
        let message = if self.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.message)
        };
        let terms = match &self.terms {
            Terms::Canary {
                step,
                set_weight,
                actual_weight,
                raw_actual_weight,
                max_weight,
            } => format!(
                " · step {} · setWeight {set_weight}{of} · actualWeight {actual_weight}{of}{}",
                dash(step),
                raw(*raw_actual_weight, *max_weight),
                of = of_max(*max_weight),
            ),
            Terms::BlueGreen {
                active,
                preview,
                pending,
                aborted,
            } => {
                let pending = match (pending.is_empty(), aborted) {
                    (true, _) => String::new(),
                    (false, false) => format!(" · promotion pending for {pending}"),
                    (false, true) => format!(" · update to {pending} aborted"),
                };
                format!(
                    " · active {} · preview {}{pending}",
                    dash(active),
                    dash(preview)
                )
            }
            Terms::Plain => String::new(),
        };
        format!("{}{message}{terms}", self.status)
    }
}

fn dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn raw(r: Option<i32>, max: i32) -> String {
    r.map(|r| format!(" (raw {r}, out of 0–{max})"))
        .unwrap_or_default()
}

/// " of 1000" when the weights are not percentages.
fn of_max(max: i32) -> String {
    if max == 100 {
        String::new()
    } else {
        format!(" of {max}")
    }
}

/// The transition line from `before` to `after`, with the statuses passed through on the way
/// (`via`, oldest first, without `before`'s and `after`'s own).
pub fn transition(
    subject: &str,
    before: &RolloutState,
    via: &[String],
    after: &RolloutState,
) -> String {
    let mut parts = Vec::new();
    if before.status != after.status || before.message != after.message || !via.is_empty() {
        let message = if after.message.is_empty() {
            String::new()
        } else {
            format!(" ({})", after.message)
        };
        let mut path = vec![before.status.clone()];
        path.extend(via.iter().cloned());
        parts.push(format!(
            "{} → **{}**{message}",
            path.join(" → "),
            after.status
        ));
    }
    match (&before.terms, &after.terms) {
        (
            Terms::Canary {
                step: s0,
                set_weight: w0,
                actual_weight: a0,
                ..
            },
            Terms::Canary {
                step: s1,
                set_weight: w1,
                actual_weight: a1,
                raw_actual_weight,
                max_weight,
            },
        ) => {
            let of = of_max(*max_weight);
            if s0 != s1 {
                parts.push(format!("step {} → {}", dash(s0), dash(s1)));
            }
            if w0 != w1 {
                parts.push(format!("setWeight {w0} → {w1}{of}"));
            }
            if a0 != a1 || raw_actual_weight.is_some() {
                parts.push(format!(
                    "actualWeight {a0} → {a1}{of}{}",
                    raw(*raw_actual_weight, *max_weight)
                ));
            }
        }
        (
            Terms::BlueGreen {
                active: a0,
                preview: p0,
                pending: n0,
                aborted: x0,
            },
            Terms::BlueGreen {
                active: a1,
                preview: p1,
                pending: n1,
                aborted: x1,
            },
        ) => {
            if a0 != a1 {
                // An aborted update's switch is the way back (reconcileActiveService points
                // the active Service at stableRS), not a promotion.
                let why = if *x1 {
                    "back to stable: update aborted"
                } else {
                    "promoted"
                };
                parts.push(format!("active {} → {} ({why})", dash(a0), dash(a1)));
            }
            if p0 != p1 {
                parts.push(format!("preview {} → {}", dash(p0), dash(p1)));
            }
            if !n1.is_empty() && (n0 != n1 || x0 != x1) {
                if *x1 {
                    parts.push(format!("update to {n1} aborted"));
                } else {
                    parts.push(format!("promotion pending for {n1}"));
                }
            }
        }
        (b, a) if b != a => parts.push(format!("strategy {} → {}", kind(b), kind(a))),
        _ => {}
    }
    format!("**{subject}**: {}", parts.join(" · "))
}

fn kind(t: &Terms) -> &'static str {
    match t {
        Terms::Canary { .. } => "canary",
        Terms::BlueGreen { .. } => "blue-green",
        Terms::Plain => "none",
    }
}

/// A measurement's identity within its run and metric: when it was taken (Argo drops the
/// oldest past `measurementRetention`, so positions shift).
pub fn measurement_id(
    run: &AnalysisRun,
    metric: &MetricResult,
    m: &Measurement,
    index: usize,
) -> String {
    let when = m
        .started_at
        .or(m.finished_at)
        .map_or_else(|| format!("index {index}"), |t| t.to_rfc3339());
    format!("{}/{}/{when}", run.metadata.name, metric.name)
}

/// Whether a measurement has landed (a running one is said when it finishes).
pub fn landed(m: &Measurement) -> bool {
    m.finished_at.is_some() || !(m.phase.is_empty() || m.phase == "Running" || m.phase == "Pending")
}

/// The measurement's number among all the metric's measurements, retained or not: Argo's
/// `count` counts the Successful, Failed and Inconclusive ones and `error` the Errors
/// (analysis.go `runMeasurements`), so every one taken is `count + error`; its position when
/// the run does not say.
pub fn measurement_number(metric: &MetricResult, index: usize) -> usize {
    let len = metric.measurements.len();
    let count = usize::try_from(metric.count.saturating_add(metric.error)).unwrap_or(0);
    if count >= len {
        count - (len - 1 - index)
    } else {
        index + 1
    }
}

/// The line for one measurement.
pub fn measurement_line(run: &AnalysisRun, metric: &MetricResult, index: usize) -> String {
    let m = &metric.measurements[index];
    let mut line = format!(
        "- AnalysisRun `{}` metric `{}` measurement {}: **{}**",
        run.metadata.name,
        metric.name,
        measurement_number(metric, index),
        if m.phase.is_empty() {
            "Pending"
        } else {
            &m.phase
        }
    );
    if !m.value.is_empty() {
        line.push_str(&format!(" value `{}`", m.value));
    }
    if !m.message.is_empty() {
        line.push_str(&format!(" — `{}`", m.message.replace('`', "'")));
    }
    match (m.started_at, m.finished_at) {
        (Some(s), Some(f)) => line.push_str(&format!(
            " (started {}, finished {})",
            s.format("%H:%M:%SZ"),
            f.format("%H:%M:%SZ")
        )),
        (Some(s), None) => line.push_str(&format!(" (started {})", s.format("%H:%M:%SZ"))),
        (None, Some(f)) => line.push_str(&format!(" (at {})", f.format("%H:%M:%SZ"))),
        (None, None) => {}
    }
    if m.phase == "Error" {
        line.push_str(&format!(
            // Argo's `count` leaves Errors out: "errors 3 of 0 measurements" would be nonsense.
            " · consecutive errors {} · errors {} in all · {} measurement(s) counted (Errors are not)",
            metric.consecutive_error, metric.error, metric.count
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::yaml;

    #[test]
    fn blue_green_speaks_blue_green() {
        let ro: Rollout = yaml(
            "metadata: {name: bg, namespace: prod}\nspec: {replicas: 2, strategy: {blueGreen: {activeService: bg-active, previewService: bg-preview, autoPromotionEnabled: false}}}\nstatus: {phase: Paused, message: BlueGreenPause, currentPodHash: new, stableRS: old, blueGreen: {activeSelector: old, previewSelector: new}, pauseConditions: [{reason: BlueGreenPause}]}\n",
        );
        let before = RolloutState::of(&ro, &[]);
        assert_eq!(
            before.summary(),
            "Paused (BlueGreenPause) · active old · preview new · promotion pending for new"
        );
        let mut promoted = ro.clone();
        promoted.status.phase = "Healthy".into();
        promoted.status.message.clear();
        promoted.status.blue_green.active_selector = "new".into();
        let after = RolloutState::of(&promoted, &[]);
        let line = transition("Rollout `prod/bg`", &before, &[], &after);
        assert_eq!(
            line,
            "**Rollout `prod/bg`**: Paused → **Healthy** · active old → new (promoted)"
        );
        assert!(!line.contains("step") && !line.contains("setWeight"));
    }

    #[test]
    fn an_aborted_blue_green_switches_back_and_promotes_nothing() {
        // A post-promotion analysis failed: rollout/analysis.go aborts and
        // reconcileActiveService points the active Service back at stableRS.
        let ro: Rollout = yaml(
            "metadata: {name: bg, namespace: prod}\nspec: {replicas: 2, strategy: {blueGreen: {activeService: bg-active, previewService: bg-preview}}}\nstatus: {phase: Progressing, currentPodHash: new, stableRS: old, blueGreen: {activeSelector: new, previewSelector: new}}\n",
        );
        let before = RolloutState::of(&ro, &[]);
        let mut aborted = ro.clone();
        aborted.status.abort = true;
        aborted.status.phase = "Degraded".into();
        aborted.status.message = "RolloutAborted: Rollout aborted update to revision 2".into();
        aborted.status.blue_green.active_selector = "old".into();
        let after = RolloutState::of(&aborted, &[]);
        let line = transition("Rollout `prod/bg`", &before, &[], &after);
        assert!(
            line.contains("active new → old (back to stable: update aborted)")
                && line.contains("update to new aborted"),
            "{line}"
        );
        assert!(
            !line.contains("promoted") && !line.contains("promotion pending"),
            "{line}"
        );
        assert!(
            after.summary().ends_with("· update to new aborted"),
            "{}",
            after.summary()
        );
    }

    #[test]
    fn short_states_stay_in_the_line_and_weights_are_clamped() {
        let state = |status: &str, actual: i32, raw: Option<i32>| RolloutState {
            status: status.into(),
            message: String::new(),
            terms: Terms::Canary {
                step: "1/3".into(),
                set_weight: 20,
                actual_weight: actual,
                raw_actual_weight: raw,
                max_weight: 100,
            },
        };
        let line = transition(
            "Rollout `a/b`",
            &state("Progressing", 100, None),
            &["Paused".into()],
            &state("Progressing", 100, Some(200)),
        );
        assert_eq!(
            line,
            "**Rollout `a/b`**: Progressing → Paused → **Progressing** · actualWeight 100 → 100 (raw 200, out of 0–100)"
        );
    }

    #[test]
    fn measurements_are_numbered_by_count_not_position() {
        // measurementRetention 10: 13 measurements taken, the last 10 kept.
        let ms: Vec<String> = (0..10)
            .map(|i| format!("{{phase: Successful, startedAt: '2026-05-04T17:{:02}:00Z', finishedAt: '2026-05-04T17:{:02}:01Z'}}", i + 3, i + 3))
            .collect();
        let run: AnalysisRun = yaml(&format!(
            "metadata: {{name: r}}\nstatus: {{metricResults: [{{name: m, count: 13, measurements: [{}]}}]}}\n",
            ms.join(", ")
        ));
        let mr = &run.status.metric_results[0];
        assert!(measurement_line(&run, mr, 9).contains("measurement 13:"));
        assert!(measurement_line(&run, mr, 0).contains("measurement 4:"));
        assert_ne!(
            measurement_id(&run, mr, &mr.measurements[9], 9),
            measurement_id(&run, mr, &mr.measurements[8], 8)
        );
    }

    /// Argo counts Errors in `error`, not in `count`: the numbers go on across Errors, also
    /// once measurementRetention drops the oldest, and an Error line does not say "of 0".
    #[test]
    fn measurements_are_numbered_across_errors() {
        let run: AnalysisRun = yaml(
            "metadata: {name: web-1, namespace: prod}\nstatus:\n  phase: Running\n  metricResults:\n  - name: ratio\n    count: 8\n    error: 3\n    consecutiveError: 3\n    measurements:\n",
        );
        let mut metric = run.status.metric_results[0].clone();
        for i in 0..10 {
            let phase = if i < 7 { "Successful" } else { "Error" };
            let m: Measurement = yaml(&format!(
                "{{phase: {phase}, message: 'dial tcp: connection refused', finishedAt: '2026-05-04T17:00:{i:02}Z'}}"
            ));
            metric.measurements.push(m);
        }
        // 11 taken (8 counted + 3 Errors), the last 10 retained: numbers 2 to 11.
        assert_eq!(measurement_number(&metric, 0), 2);
        assert_eq!(measurement_number(&metric, 9), 11);
        let line = measurement_line(&run, &metric, 9);
        assert!(line.contains("measurement 11: **Error**"), "{line}");
        assert!(
            line.contains("errors 3 in all · 8 measurement(s) counted (Errors are not)"),
            "{line}"
        );
    }

    /// With maxTrafficWeight 1000 (SMI, Istio, ALB allow it) a weight of 500 is half the
    /// traffic: said as 500 of 1000, not clamped to 100 as out of range.
    #[test]
    fn weights_are_out_of_max_traffic_weight() {
        let ro: Rollout = yaml(
            "metadata: {name: web, namespace: prod}\nspec: {replicas: 10, strategy: {canary: {trafficRouting: {maxTrafficWeight: 1000, smi: {}}, steps: [{setWeight: 50}, {pause: {}}, {setWeight: 500}, {pause: {}}]}}}\nstatus: {phase: Paused, currentPodHash: new, stableRS: old, currentStepIndex: 3, availableReplicas: 15, pauseConditions: [{reason: CanaryPauseStep}], canary: {weights: {canary: {weight: 500, podTemplateHash: new}, stable: {weight: 500, podTemplateHash: old}}}}\n",
        );
        let summary = RolloutState::of(&ro, &[]).summary();
        assert!(
            summary.contains("setWeight 500 of 1000 · actualWeight 500 of 1000"),
            "{summary}"
        );
        assert!(!summary.contains("out of"), "{summary}");
    }
}
