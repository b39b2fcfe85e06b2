//! The model's inputs from a short-form scenario (docs/SCENARIOS.md, "The short form"): how
//! the kubelet treats each container image (`pods:`), what the metric provider answers
//! (`metrics:`), and the story's actions that reach the model directly — a release, the
//! controller lagging, stopping or starting, a traffic-router plugin failing to load.
//!
//! The short-form loader (`src/sim/short/`) builds and validates these at load; the model
//! (kubelet, Rollout controller, AnalysisRun controller) only reads them. This module must
//! not hold operator actions (promote, abort, …) or a CI job's edits: those go through the
//! write path ([`crate::sim::SimHandle::operator_action`], patches), and the model sees them
//! as stored objects, as Argo's controller would.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a container takes from started to ready when its image's behaviour does not
/// say (`pods: {IMAGE: {ready: 5s}}` overrides it).
pub const DEFAULT_READINESS_DELAY: Duration = Duration::from_secs(2);

/// What the model reads from a short-form scenario besides its manifests.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInputs {
    /// The kubelet's behaviour per container image; an image not listed becomes ready after
    /// [`DEFAULT_READINESS_DELAY`].
    #[serde(default)]
    pub pods: BTreeMap<String, PodBehaviour>,
    /// The metric provider's answers by AnalysisTemplate metric name, in windows of scenario
    /// time (see [`ModelInputs::metric_answer`]).
    #[serde(default)]
    pub metrics: Vec<MetricAnswer>,
}

impl ModelInputs {
    /// How the kubelet treats a container running `image`.
    pub fn pod_behaviour(&self, image: &str) -> PodBehaviour {
        self.pods
            .get(image)
            .cloned()
            .unwrap_or(PodBehaviour::Ready(DEFAULT_READINESS_DELAY))
    }

    /// The answer in force for `metric` at scenario time `t`: the last window (in file order)
    /// whose `from` is at or before `t`. `None` before the first window, or for a metric the
    /// scenario does not answer (the provider then reports an error, as a query against a
    /// missing series would not: the model decides).
    pub fn metric_answer(&self, metric: &str, t: Duration) -> Option<&MetricAnswer> {
        self.metrics
            .iter()
            .filter(|m| m.metric == metric && m.from <= t)
            .max_by_key(|m| m.from)
    }
}

/// The kubelet's behaviour for one container image.
///
/// YAML: `{ready: 5s}` | `{pull: ErrImagePull}` | `{crash: {after: 3s, exitCode: 1}}` |
/// `{oom: {after: 20s}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum PodBehaviour {
    /// Starts, then passes its readiness probe after this long.
    Ready(#[serde(with = "duration")] Duration),
    /// The image never pulls: the container waits with this reason, then `ImagePullBackOff`
    /// between the kubelet's retries.
    Pull(PullFailure),
    /// Starts, exits after a while, and is restarted with the kubelet's back-off
    /// (`CrashLoopBackOff`, `BackOff` Events).
    Crash(Exit),
    /// Like `crash`, but terminated with reason `OOMKilled` and exit code 137.
    Oom(Exit),
}

/// Why an image pull fails, as the kubelet's waiting reason names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PullFailure {
    /// The registry refused or the image does not exist.
    ErrImagePull,
    /// The reference cannot be parsed (no retries: the kubelet never tries to pull it).
    InvalidImageName,
}

impl PullFailure {
    /// The container's `state.waiting.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            PullFailure::ErrImagePull => "ErrImagePull",
            PullFailure::InvalidImageName => "InvalidImageName",
        }
    }
}

/// When a started container exits, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exit {
    /// Time from the container's start to its exit.
    #[serde(with = "duration")]
    pub after: Duration,
    /// The terminated state's exit code; 1 for a crash and 137 for an OOM kill when not
    /// given.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// One window of the metric provider's answers for one metric.
///
/// YAML: `{metric: error-rate, from: 2m, value: 0.01}` with exactly one of `value: X`,
/// `values: [X, Y]`, `empty: true`, `error: MSG`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawMetricAnswer", into = "RawMetricAnswer")]
pub struct MetricAnswer {
    /// The metric's name in the AnalysisTemplate (`spec.metrics[].name`).
    pub metric: String,
    /// Scenario time from which this answer holds, until a later window of the same metric.
    pub from: Duration,
    pub answer: Answer,
}

/// What the provider returns for one measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Answer {
    /// One value (a one-element vector for a Prometheus query).
    Value(f64),
    /// Values cycled measurement by measurement.
    Values(Vec<f64>),
    /// An empty result (no series: too little traffic), which Argo's conditions see as `[]`.
    Empty,
    /// The provider's error; the measurement's phase is Error with this message.
    Error(String),
}

impl Answer {
    /// The answer for the `n`th measurement (0-based) taken in this window.
    pub fn nth(&self, n: usize) -> Measured<'_> {
        match self {
            Answer::Value(v) => Measured::Value(*v),
            Answer::Values(vs) => Measured::Value(vs[n % vs.len()]),
            Answer::Empty => Measured::Empty,
            Answer::Error(msg) => Measured::Error(msg),
        }
    }
}

/// One measurement's answer, from [`Answer::nth`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Measured<'a> {
    Value(f64),
    Empty,
    Error(&'a str),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetricAnswer {
    metric: String,
    #[serde(with = "duration")]
    from: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    values: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    empty: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl TryFrom<RawMetricAnswer> for MetricAnswer {
    type Error = String;

    fn try_from(raw: RawMetricAnswer) -> Result<Self, String> {
        let answer = match (raw.value, raw.values, raw.empty, raw.error) {
            (Some(v), None, None, None) if v.is_finite() => Answer::Value(v),
            (Some(v), None, None, None) => {
                return Err(format!("metric {}: value {v} is not a number", raw.metric));
            }
            (None, Some(vs), None, None) if !vs.is_empty() => Answer::Values(vs),
            (None, Some(_), None, None) => {
                return Err(format!(
                    "metric {}: `values` needs at least one value (for no result write `empty: true`)",
                    raw.metric
                ));
            }
            (None, None, Some(true), None) => Answer::Empty,
            (None, None, Some(false), None) => {
                return Err(format!(
                    "metric {}: only `empty: true` is meaningful",
                    raw.metric
                ));
            }
            (None, None, None, Some(msg)) => Answer::Error(msg),
            _ => {
                return Err(format!(
                    "metric {}: give exactly one of value, values, empty: true, error",
                    raw.metric
                ));
            }
        };
        Ok(MetricAnswer {
            metric: raw.metric,
            from: raw.from,
            answer,
        })
    }
}

impl From<MetricAnswer> for RawMetricAnswer {
    fn from(m: MetricAnswer) -> Self {
        let mut raw = RawMetricAnswer {
            metric: m.metric,
            from: m.from,
            value: None,
            values: None,
            empty: None,
            error: None,
        };
        match m.answer {
            Answer::Value(v) => raw.value = Some(v),
            Answer::Values(vs) => raw.values = Some(vs),
            Answer::Empty => raw.empty = Some(true),
            Answer::Error(msg) => raw.error = Some(msg),
        }
        raw
    }
}

/// Names one Rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RolloutRef {
    pub namespace: String,
    pub name: String,
}

/// A story action the model reacts to directly (not through a stored object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ModelAction {
    /// The spec change: set a container's image in the Rollout's pod template (or in the
    /// Deployment its `workloadRef` names), as a user's `kubectl apply` would. The loader
    /// resolves the Rollout and container, so both are always set.
    Release(Release),
    /// The Rollout controller changes how it observes.
    Controller(ControllerAction),
    /// The traffic-router plugin fails to load: the controller cannot reconcile Rollouts
    /// whose `trafficRouting.plugins` need it, and says so with this message.
    PluginFail { message: String },
}

/// A release: the new image for one container of one Rollout's pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    pub rollout: RolloutRef,
    /// The container's name in the pod template (the first container when the file does
    /// not say).
    pub container: String,
    pub image: String,
}

/// How the Rollout controller observes from now on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ControllerAction {
    /// Reconciles each change this long after it is stored (observedGeneration trails).
    Lag(#[serde(with = "duration")] Duration),
    /// Stops reconciling: specs change, status does not.
    Stop,
    /// Reconciles again, with no lag.
    Start,
}

/// Durations as scenario files write them (`30s`, `2m`, `1h5m`, `0`).
pub(crate) mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string().replace(' ', ""))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?}: {e} (write a duration like 30s, 2m or 1h5m)"
            ))
        })
    }

    pub fn parse(text: &str) -> Result<Duration, humantime::DurationError> {
        let text = text.trim();
        if text == "0" {
            return Ok(Duration::ZERO);
        }
        humantime::parse_duration(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::{self, Limits};

    const INPUTS: &str = r#"
pods:
  "ghcr.io/acme/web:v2": {crash: {after: 3s, exitCode: 1}}
  "ghcr.io/acme/web:v3": {ready: 5s}
  "ghcr.io/acme/web:v4": {pull: ErrImagePull}
  "ghcr.io/acme/web:v5": {oom: {after: 20s}}
metrics:
  - {metric: error-rate, from: 0s, value: 0.01}
  - {metric: error-rate, from: 2m, error: "reflect: slice index out of range"}
  - {metric: latency, from: 0, values: [0.2, 0.9]}
  - {metric: latency, from: 1m, empty: true}
"#;

    #[test]
    fn reads_the_short_form() {
        let inputs: ModelInputs = yaml::from_str(INPUTS, Limits::SCENARIO).unwrap();
        assert_eq!(
            inputs.pod_behaviour("ghcr.io/acme/web:v2"),
            PodBehaviour::Crash(Exit {
                after: Duration::from_secs(3),
                exit_code: Some(1)
            })
        );
        assert_eq!(
            inputs.pod_behaviour("ghcr.io/acme/web:v3"),
            PodBehaviour::Ready(Duration::from_secs(5))
        );
        assert_eq!(
            inputs.pod_behaviour("ghcr.io/acme/web:v4"),
            PodBehaviour::Pull(PullFailure::ErrImagePull)
        );
        assert!(matches!(
            inputs.pod_behaviour("ghcr.io/acme/web:v5"),
            PodBehaviour::Oom(_)
        ));
        assert_eq!(
            inputs.pod_behaviour("anything:else"),
            PodBehaviour::Ready(DEFAULT_READINESS_DELAY)
        );
        let at = |m: &str, s: u64| {
            inputs
                .metric_answer(m, Duration::from_secs(s))
                .map(|a| a.answer.clone())
        };
        assert_eq!(at("error-rate", 119), Some(Answer::Value(0.01)));
        assert_eq!(
            at("error-rate", 120),
            Some(Answer::Error("reflect: slice index out of range".into()))
        );
        assert_eq!(at("latency", 59), Some(Answer::Values(vec![0.2, 0.9])));
        assert_eq!(at("latency", 60), Some(Answer::Empty));
        assert_eq!(at("unknown", 60), None);
        assert_eq!(Answer::Values(vec![0.2, 0.9]).nth(3), Measured::Value(0.9));
    }

    #[test]
    fn round_trips() {
        let inputs: ModelInputs = yaml::from_str(INPUTS, Limits::SCENARIO).unwrap();
        let json = serde_json::to_value(&inputs).unwrap();
        assert_eq!(json["metrics"][1]["from"], "2m");
        let back: ModelInputs = serde_json::from_value(json).unwrap();
        assert_eq!(back, inputs);
        let action = ModelAction::Controller(ControllerAction::Lag(Duration::from_secs(5)));
        let json = serde_json::to_value(&action).unwrap();
        assert_eq!(json, serde_json::json!({"controller": {"lag": "5s"}}));
    }

    #[test]
    fn refuses_what_the_model_cannot_play() {
        let err = |text: &str| {
            format!(
                "{:#}",
                yaml::from_str::<ModelInputs>(text, Limits::SCENARIO).unwrap_err()
            )
        };
        let e = err("metrics:\n  - {metric: m, from: 0s, value: 1, empty: true}\n");
        assert!(e.contains("give exactly one of value"), "{e}");
        let e = err("metrics:\n  - {metric: m, from: soon, value: 1}\n");
        assert!(e.contains("write a duration like 30s"), "{e}");
        let e = err("pods:\n  img: {pull: Nope}\n");
        assert!(e.contains("ErrImagePull"), "{e}");
        let e = err("pods:\n  img: {sleep: 5s}\n");
        assert!(e.contains("sleep"), "{e}");
    }
}
