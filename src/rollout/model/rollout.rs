//! The Rollout: spec (canary and blue-green strategies, steps, analysis references,
//! workloadRef) and status (phase, pause conditions, hashes, replica counts, weights). Only the
//! fields a view or a detector reads.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::de::{list, nullable, scalar_text};
use super::meta::{Condition, LabelSelector, ObjectMeta};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Rollout {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: RolloutSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: RolloutStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RolloutSpec {
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    pub paused: bool,
    pub restart_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
    #[serde(deserialize_with = "nullable")]
    pub strategy: Strategy,
    pub workload_ref: Option<WorkloadRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Strategy {
    pub canary: Option<CanaryStrategy>,
    pub blue_green: Option<BlueGreenStrategy>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CanaryStrategy {
    #[serde(deserialize_with = "list")]
    pub steps: Vec<CanaryStep>,
    pub traffic_routing: Option<TrafficRouting>,
    #[serde(deserialize_with = "nullable")]
    pub canary_service: String,
    #[serde(deserialize_with = "nullable")]
    pub stable_service: String,
    pub ping_pong: Option<IgnoredAny>,
    /// Pods above `replicas` during the update (int or percentage; default 25 %).
    pub max_surge: Option<IntOrPercent>,
    /// Pods below `replicas` during the update (int or percentage; default 25 %).
    pub max_unavailable: Option<IntOrPercent>,
    /// With traffic routing: scale the stable down as traffic leaves it.
    #[serde(deserialize_with = "nullable")]
    pub dynamic_stable_scale: bool,
    pub min_pods_per_replica_set: Option<i32>,
    pub abort_scale_down_delay_seconds: Option<i32>,
    /// The background analysis.
    pub analysis: Option<RolloutAnalysis>,
}

/// An int or a percentage (`intstr.IntOrString`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum IntOrPercent {
    Int(i32),
    Text(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CanaryStep {
    pub set_weight: Option<i32>,
    pub pause: Option<IgnoredAny>,
    pub set_canary_scale: Option<SetCanaryScale>,
    /// An inline analysis step.
    pub analysis: Option<RolloutAnalysis>,
    pub experiment: Option<IgnoredAny>,
}

/// `setCanaryScale` (traffic routing only): canary pods by count or weight, or back to the
/// traffic weight.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SetCanaryScale {
    pub replicas: Option<i32>,
    pub weight: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    pub match_traffic_weight: bool,
}

/// An analysis a Rollout runs (background, a step, pre/post promotion): its templates, merged
/// into one AnalysisRun, with the Rollout's arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RolloutAnalysis {
    #[serde(deserialize_with = "list")]
    pub templates: Vec<AnalysisTemplateRef>,
    #[serde(deserialize_with = "list")]
    pub args: Vec<AnalysisArgument>,
    #[serde(deserialize_with = "list")]
    pub dry_run: Vec<DryRun>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisTemplateRef {
    #[serde(deserialize_with = "nullable")]
    pub template_name: String,
    #[serde(deserialize_with = "nullable")]
    pub cluster_scope: bool,
}

/// An argument: a literal value, or one taken from the object (`valueFrom`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisArgument {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    pub value: Option<String>,
    pub value_from: Option<IgnoredAny>,
}

/// A metric run in dry-run mode: measured, but never failing the run. `metricName` is a regex.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DryRun {
    #[serde(deserialize_with = "nullable")]
    pub metric_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrafficRouting {
    pub max_traffic_weight: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BlueGreenStrategy {
    #[serde(deserialize_with = "nullable")]
    pub active_service: String,
    #[serde(deserialize_with = "nullable")]
    pub preview_service: String,
    pub pre_promotion_analysis: Option<RolloutAnalysis>,
    pub post_promotion_analysis: Option<RolloutAnalysis>,
    pub auto_promotion_enabled: Option<bool>,
}

/// `spec.workloadRef`: the Rollout takes its pod template from another workload.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WorkloadRef {
    #[serde(deserialize_with = "nullable")]
    pub api_version: String,
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// `never` (the default when absent), `onsuccess` or `progressively`.
    pub scale_down: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RolloutStatus {
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    #[serde(deserialize_with = "nullable")]
    pub abort: bool,
    #[serde(deserialize_with = "nullable")]
    pub promote_full: bool,
    /// A string in the CRD ("3"), a number in some objects, a hash from v0.9 controllers.
    #[serde(deserialize_with = "scalar_text")]
    pub observed_generation: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub workload_observed_generation: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub controller_pause: bool,
    #[serde(deserialize_with = "list")]
    pub pause_conditions: Vec<PauseCondition>,
    #[serde(deserialize_with = "list")]
    pub conditions: Vec<Condition>,
    #[serde(deserialize_with = "nullable")]
    pub current_pod_hash: String,
    #[serde(rename = "stableRS", deserialize_with = "nullable")]
    pub stable_rs: String,
    pub current_step_index: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    pub replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub updated_replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub available_replicas: i32,
    pub restarted_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub blue_green: BlueGreenStatus,
    #[serde(deserialize_with = "nullable")]
    pub canary: CanaryStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PauseCondition {
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    pub start_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct BlueGreenStatus {
    #[serde(deserialize_with = "nullable")]
    pub active_selector: String,
    #[serde(deserialize_with = "nullable")]
    pub preview_selector: String,
    pub post_promotion_analysis_run_status: Option<RolloutAnalysisRunStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RolloutAnalysisRunStatus {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CanaryStatus {
    #[serde(deserialize_with = "nullable")]
    pub stable_ping_pong: String,
    pub weights: Option<TrafficWeights>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct TrafficWeights {
    pub canary: Option<WeightDestination>,
    pub stable: Option<WeightDestination>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct WeightDestination {
    #[serde(deserialize_with = "nullable")]
    pub weight: i32,
}

impl Rollout {
    /// `spec.replicas`, defaulting to 1 like the controller.
    pub fn desired_replicas(&self) -> i32 {
        self.spec.replicas.unwrap_or(1)
    }
}
