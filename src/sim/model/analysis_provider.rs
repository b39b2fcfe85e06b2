//! The metric provider: answers a measurement from the scenario's `metrics:` inputs instead
//! of querying Prometheus, Datadog or a web endpoint, then judges it with the metric's
//! conditions as Argo's provider would (metricproviders/*, utils/evaluate).
//!
//! Owns: finding the answer in force for a metric at a scenario time (the last window whose
//! `from` has passed), cycling `values` measurement by measurement, giving the answer the
//! shape the metric's provider returns, and turning it into a complete [`Measurement`].
//! It must not count or assess measurements (`analysis_run`) nor parse the scenario
//! (`inputs`, the short-form loader).
//!
//! What `result` is, by provider (Argo hands the provider's Go value to the conditions):
//!
//! | provider | `value: X` | `empty: true` |
//! | --- | --- | --- |
//! | prometheus (an instant vector) | `[X]` | `[]` |
//! | prometheus, query `scalar(...)` | `X` | `NaN` (Prometheus' scalar of nothing) |
//! | graphite, influxdb | `[X]` | `[]` |
//! | datadog, newRelic, wavefront, cloudWatch, skywalking, web, kayenta, plugin | `X` | nil |
//! | job | exit code: 0 is Successful, anything else Failed (no conditions) | Successful |
//!
//! `error: MSG` is an Error measurement with MSG as its message whatever the provider.
//! A metric the scenario does not answer at that time is an Error measurement saying which
//! `metrics:` entry to add (the short-form loader should refuse such a scenario first).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::analysis_conditions::{Conditions, MetricValue};
use super::analysis_run::{Measure, Measurement, MetricSpec, Phase};
use super::inputs::{Measured, ModelInputs};

/// The provider of a scenario: its `metrics:` answers, read against scenario time.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioMetrics<'a> {
    pub inputs: &'a ModelInputs,
    /// Scenario time zero (the `from:` offsets count from it).
    pub epoch: DateTime<Utc>,
}

/// The shape a provider gives its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Vector,
    Scalar,
    /// Prometheus `scalar(...)`: a number even when nothing matched.
    PrometheusScalar,
    Job,
}

impl Shape {
    fn of(metric: &MetricSpec) -> Shape {
        match metric.provider_name() {
            "prometheus" => {
                let query = metric
                    .provider
                    .pointer("/prometheus/query")
                    .and_then(|q| q.as_str())
                    .unwrap_or_default();
                if query.trim_start().starts_with("scalar(") {
                    Shape::PrometheusScalar
                } else {
                    Shape::Vector
                }
            }
            "graphite" | "influxdb" => Shape::Vector,
            "job" => Shape::Job,
            _ => Shape::Scalar,
        }
    }

    fn value(self, v: f64) -> MetricValue {
        match self {
            Shape::Vector => MetricValue::Vector(vec![v]),
            _ => MetricValue::Scalar(v),
        }
    }

    fn empty(self) -> MetricValue {
        match self {
            Shape::Vector => MetricValue::Vector(Vec::new()),
            Shape::PrometheusScalar => MetricValue::Scalar(f64::NAN),
            Shape::Scalar | Shape::Job => MetricValue::Nil,
        }
    }
}

impl Measure for ScenarioMetrics<'_> {
    fn measure(&self, metric: &MetricSpec, taken: u32, now: DateTime<Utc>) -> Measurement {
        let at = (now - self.epoch).to_std().unwrap_or(Duration::ZERO);
        let mut measurement = Measurement {
            started_at: Some(now),
            finished_at: Some(now),
            ..Measurement::default()
        };
        let Some(window) = self.inputs.metric_answer(&metric.name, at) else {
            measurement.phase = Phase::Error;
            measurement.message = format!(
                "the scenario's metrics: have no answer for metric '{}' at {}: add {{metric: {}, from: 0s, value: ...}}",
                metric.name,
                humantime::format_duration(Duration::from_secs(at.as_secs())),
                metric.name
            );
            return measurement;
        };
        let shape = Shape::of(metric);
        let result = match window.answer.nth(taken as usize) {
            Measured::Error(message) => {
                measurement.phase = Phase::Error;
                measurement.message = message.to_string();
                return measurement;
            }
            Measured::Value(v) => shape.value(v),
            Measured::Empty => shape.empty(),
        };
        measurement.value = result.display();
        let verdict = if shape == Shape::Job {
            Ok(match result {
                MetricValue::Scalar(code) if code != 0.0 => Phase::Failed,
                _ => Phase::Successful,
            })
        } else {
            Conditions::compile(&metric.success_condition, &metric.failure_condition)
                .map_err(|e| {
                    format!(
                        "could not evaluate {} \"{}\": {}",
                        e.field, e.expression, e.reason
                    )
                })
                .and_then(|conditions| conditions.evaluate(&result))
        };
        match verdict {
            Ok(phase) => measurement.phase = phase,
            Err(message) => {
                measurement.phase = Phase::Error;
                measurement.message = message;
            }
        }
        measurement
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;
    use serde_json::json;

    use super::*;
    use crate::sim::model::inputs::{Answer, MetricAnswer};

    fn t0() -> DateTime<Utc> {
        "2026-05-04T17:00:00Z".parse().unwrap()
    }

    fn answer(from: u64, answer: Answer) -> MetricAnswer {
        MetricAnswer {
            metric: "error-rate".into(),
            from: Duration::from_secs(from),
            answer,
        }
    }

    fn prometheus(query: &str, success: &str, failure: &str) -> MetricSpec {
        MetricSpec::from_json(&json!({
            "name": "error-rate", "successCondition": success, "failureCondition": failure,
            "provider": {"prometheus": {"query": query}}}))
    }

    fn measure(inputs: &ModelInputs, metric: &MetricSpec, taken: u32, at: i64) -> Measurement {
        let provider = ScenarioMetrics {
            inputs,
            epoch: t0(),
        };
        provider.measure(metric, taken, t0() + TimeDelta::seconds(at))
    }

    #[test]
    fn answers_follow_the_window_in_force() {
        let inputs = ModelInputs {
            metrics: vec![
                answer(0, Answer::Value(0.01)),
                answer(
                    120,
                    Answer::Error("reflect: slice index out of range".into()),
                ),
                answer(240, Answer::Value(0.5)),
            ],
            ..ModelInputs::default()
        };
        let metric = prometheus("sum(rate(errors[1m]))", "result[0] < 0.05", "");
        let m = measure(&inputs, &metric, 0, 60);
        assert_eq!((m.phase, m.value.as_str()), (Phase::Successful, "[0.01]"));
        assert_eq!(m.started_at, Some(t0() + TimeDelta::seconds(60)));
        assert_eq!(m.finished_at, m.started_at);
        let m = measure(&inputs, &metric, 1, 120);
        assert_eq!(
            (m.phase, m.message.as_str(), m.value.as_str()),
            (Phase::Error, "reflect: slice index out of range", "")
        );
        let m = measure(&inputs, &metric, 2, 300);
        assert_eq!((m.phase, m.value.as_str()), (Phase::Failed, "[0.5]"));
    }

    #[test]
    fn values_cycle_measurement_by_measurement() {
        let inputs = ModelInputs {
            metrics: vec![answer(0, Answer::Values(vec![0.01, 0.2]))],
            ..ModelInputs::default()
        };
        let metric = prometheus("q", "result[0] < 0.05", "");
        let phases: Vec<Phase> = (0..4)
            .map(|n| measure(&inputs, &metric, n, 0).phase)
            .collect();
        use Phase::*;
        assert_eq!(phases, [Successful, Failed, Successful, Failed]);
    }

    #[test]
    fn an_empty_vector_is_inconclusive_when_neither_guarded_condition_holds() {
        let inputs = ModelInputs {
            metrics: vec![answer(0, Answer::Empty)],
            ..ModelInputs::default()
        };
        let guarded = prometheus(
            "q",
            "len(result) > 0 && result[0] < 0.05",
            "len(result) > 0 && result[0] >= 0.05",
        );
        let m = measure(&inputs, &guarded, 0, 0);
        assert_eq!((m.phase, m.value.as_str()), (Phase::Inconclusive, "[]"));
        // Indexing an empty vector is an Error, as in Argo.
        let indexed = prometheus("q", "result[0] < 0.05", "");
        let m = measure(&inputs, &indexed, 0, 0);
        assert_eq!(m.phase, Phase::Error);
        assert!(
            m.message.ends_with(
                "metric result is nil or empty: no data returned from the metric provider"
            ),
            "{}",
            m.message
        );
    }

    #[test]
    fn result_shapes_follow_the_provider() {
        let inputs = ModelInputs {
            metrics: vec![answer(0, Answer::Value(0.01))],
            ..ModelInputs::default()
        };
        let scalar = prometheus("scalar(sum(rate(errors[1m])))", "result < 0.05", "");
        assert_eq!(measure(&inputs, &scalar, 0, 0).value, "0.01");
        assert_eq!(measure(&inputs, &scalar, 0, 0).phase, Phase::Successful);
        let datadog = MetricSpec::from_json(&json!({"name": "error-rate",
            "successCondition": "default(result, 0) < 0.05", "provider": {"datadog": {"query": "q"}}}));
        assert_eq!(measure(&inputs, &datadog, 0, 0).phase, Phase::Successful);
        let job = MetricSpec::from_json(&json!({"name": "error-rate", "provider": {"job": {}}}));
        assert_eq!(
            measure(&inputs, &job, 0, 0).phase,
            Phase::Failed,
            "exit code 0.01 is not 0"
        );
        let empty = ModelInputs {
            metrics: vec![answer(0, Answer::Empty)],
            ..ModelInputs::default()
        };
        let m = measure(&empty, &scalar, 0, 0);
        assert_eq!((m.phase, m.value.as_str()), (Phase::Failed, "NaN"));
        let m = measure(&empty, &datadog, 0, 0);
        assert_eq!(m.phase, Phase::Successful, "default() stands in for nil");
    }

    #[test]
    fn a_metric_without_an_answer_is_an_error_naming_the_fix() {
        let inputs = ModelInputs {
            metrics: vec![answer(60, Answer::Value(0.01))],
            ..ModelInputs::default()
        };
        let m = measure(&inputs, &prometheus("q", "true", ""), 0, 30);
        assert_eq!(m.phase, Phase::Error);
        assert_eq!(
            m.message,
            "the scenario's metrics: have no answer for metric 'error-rate' at 30s: add {metric: error-rate, from: 0s, value: ...}"
        );
    }
}
