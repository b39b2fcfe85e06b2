//! Tolerant serde types for the objects a rollout view and the detectors read.
//!
//! Slim on purpose: only the fields we derive something from, so an observer watching a large
//! namespace stays small. Unknown fields are ignored, missing fields (and explicit `null`s) take
//! their defaults, so a Rollout written by a newer controller still renders. Only a field whose
//! value has the wrong shape (a string where a number belongs) is an error, and serde reports
//! its path.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};

/// Annotation holding the rollout revision of ReplicaSets, Experiments and AnalysisRuns.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";
/// Label carrying the pod-template hash Argo Rollouts selects ReplicaSets and pods by.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// Annotation the controller stamps with the referenced workload's generation.
pub const WORKLOAD_GENERATION_ANNOTATION: &str = "rollout.argoproj.io/workload-generation";
/// Annotation naming the Experiment template a ReplicaSet was created from.
pub const EXPERIMENT_TEMPLATE_ANNOTATION: &str = "experiment.argoproj.io/template-name";
/// Annotation holding the time an old ReplicaSet will be scaled down.
pub const SCALE_DOWN_DEADLINE_ANNOTATION: &str = "scale-down-deadline";

/// Deserializes `null` as the type's default (Kubernetes writes `labels: null` and friends).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list that may also arrive as `null` or as an empty map (`conditions: {}` is seen in the
/// wild). Elements keep serde's path tracking, so a bad element is reported by its field.
fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct ListVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ListVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }

        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<T>, A::Error> {
            match map.next_key::<IgnoredAny>()? {
                None => Ok(Vec::new()),
                Some(_) => Err(serde::de::Error::invalid_type(
                    serde::de::Unexpected::Map,
                    &self,
                )),
            }
        }

        fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
            Ok(Vec::new())
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Vec<T>, D2::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(ListVisitor(std::marker::PhantomData))
}

/// A scalar that the CRD types as a string but that real objects carry as a string, a number
/// or (legacy v0.9 controllers) a pod-template hash: kept as its text.
fn scalar_text<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|s| match s {
        Scalar::Text(t) => t,
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => f.to_string(),
        Scalar::Bool(b) => b.to_string(),
    }))
}

/// The part of `metadata` we use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
    #[serde(deserialize_with = "nullable")]
    pub generation: i64,
    pub creation_timestamp: Option<DateTime<Utc>>,
    pub deletion_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "list")]
    pub owner_references: Vec<OwnerReference>,
    /// Who wrote which fields when (server-side field management).
    #[serde(deserialize_with = "list")]
    pub managed_fields: Vec<ManagedFields>,
}

/// One managedFields entry: only when and through which subresource (the fields themselves are
/// not read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ManagedFields {
    #[serde(deserialize_with = "nullable")]
    pub manager: String,
    #[serde(deserialize_with = "nullable")]
    pub operation: String,
    #[serde(deserialize_with = "nullable")]
    pub subresource: String,
    pub time: Option<DateTime<Utc>>,
}

impl ObjectMeta {
    /// The last write to the object itself (not its status), from managedFields: when a spec
    /// change can have happened at the latest. None when the server keeps no managedFields.
    pub fn last_spec_write(&self) -> Option<DateTime<Utc>> {
        self.managed_fields
            .iter()
            .filter(|m| m.subresource.is_empty())
            .filter_map(|m| m.time)
            .max()
    }

    /// True when one of the owner references points at `uid`.
    pub fn is_owned_by(&self, uid: &str) -> bool {
        !uid.is_empty() && self.owner_references.iter().any(|o| o.uid == uid)
    }

    /// The `rollout.argoproj.io/revision` annotation; 0 when absent or not a number, as Argo does.
    pub fn revision(&self) -> i64 {
        self.annotations
            .get(REVISION_ANNOTATION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }

    /// The `rollouts-pod-template-hash` label, or "".
    pub fn pod_template_hash(&self) -> &str {
        self.labels
            .get(POD_TEMPLATE_HASH_LABEL)
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
}

/// A status condition (Rollout, ReplicaSet, Experiment share the shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: String,
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    pub last_update_time: Option<DateTime<Utc>>,
    pub last_transition_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(deserialize_with = "nullable")]
    pub match_labels: BTreeMap<String, String>,
}

// ---------------------------------------------------------------------------------------------
// Rollout

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

// ---------------------------------------------------------------------------------------------
// Core and apps objects (slim)

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicaSet {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: ReplicaSetSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: ReplicaSetStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicaSetSpec {
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    pub template: PodTemplate,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ReplicaSetStatus {
    #[serde(deserialize_with = "nullable")]
    pub replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub available_replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub observed_generation: i64,
    #[serde(deserialize_with = "list")]
    pub conditions: Vec<Condition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodTemplate {
    #[serde(deserialize_with = "nullable")]
    pub spec: PodSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(deserialize_with = "list")]
    pub containers: Vec<Container>,
    #[serde(deserialize_with = "list")]
    pub init_containers: Vec<Container>,
    #[serde(deserialize_with = "nullable")]
    pub node_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub image: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Pod {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: PodSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: PodStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "list")]
    pub container_statuses: Vec<ContainerStatus>,
    #[serde(deserialize_with = "list")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub ready: bool,
    #[serde(deserialize_with = "nullable")]
    pub restart_count: i32,
    #[serde(deserialize_with = "nullable")]
    pub state: ContainerState,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerState {
    pub waiting: Option<ContainerStateReason>,
    pub running: Option<IgnoredAny>,
    pub terminated: Option<ContainerStateTerminated>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStateReason {
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStateTerminated {
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "nullable")]
    pub exit_code: i32,
    #[serde(deserialize_with = "nullable")]
    pub signal: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Deployment {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: DeploymentSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: DeploymentStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub replicas: Option<i32>,
    #[serde(deserialize_with = "nullable")]
    pub selector: LabelSelector,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DeploymentStatus {
    #[serde(deserialize_with = "nullable")]
    pub replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub ready_replicas: i32,
    #[serde(deserialize_with = "nullable")]
    pub available_replicas: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Service {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    #[serde(deserialize_with = "nullable")]
    pub selector: BTreeMap<String, String>,
}

/// A core/v1 Event (the fields detectors cite).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Event {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub involved_object: ObjectReference,
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: String,
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    #[serde(deserialize_with = "nullable")]
    pub count: i32,
    pub first_timestamp: Option<DateTime<Utc>>,
    pub last_timestamp: Option<DateTime<Utc>>,
    pub event_time: Option<DateTime<Utc>>,
}

impl Event {
    /// When the event last happened: lastTimestamp, else eventTime, else creation.
    pub fn last_seen(&self) -> Option<DateTime<Utc>> {
        self.last_timestamp
            .or(self.event_time)
            .or(self.metadata.creation_timestamp)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectReference {
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
}

// ---------------------------------------------------------------------------------------------
// Experiments and analysis

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Experiment {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub status: ExperimentStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ExperimentStatus {
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisRun {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: AnalysisSpec,
    #[serde(deserialize_with = "nullable")]
    pub status: AnalysisRunStatus,
}

/// An AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisTemplate {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: AnalysisSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisSpec {
    #[serde(deserialize_with = "list")]
    pub metrics: Vec<Metric>,
    /// Templates nested in a template (merged into the same run).
    #[serde(deserialize_with = "list")]
    pub templates: Vec<AnalysisTemplateRef>,
    #[serde(deserialize_with = "list")]
    pub args: Vec<AnalysisArgument>,
    #[serde(deserialize_with = "list")]
    pub dry_run: Vec<DryRun>,
    #[serde(deserialize_with = "list")]
    pub measurement_retention: Vec<MeasurementRetention>,
}

/// How many measurements of matching metrics the run keeps (default 10).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MeasurementRetention {
    #[serde(deserialize_with = "nullable")]
    pub metric_name: String,
    #[serde(deserialize_with = "nullable")]
    pub limit: i32,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Metric {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// A Go duration ("30s", "5m").
    #[serde(deserialize_with = "scalar_text")]
    pub interval: Option<String>,
    /// Int or string (it may be an `{{args.x}}` placeholder).
    #[serde(deserialize_with = "scalar_text")]
    pub consecutive_error_limit: Option<String>,
    #[serde(deserialize_with = "scalar_text")]
    pub failure_limit: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub success_condition: String,
    #[serde(deserialize_with = "nullable")]
    pub failure_condition: String,
    #[serde(deserialize_with = "nullable")]
    pub provider: MetricProvider,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricProvider {
    pub prometheus: Option<PrometheusMetric>,
    pub datadog: Option<DatadogMetric>,
    pub new_relic: Option<NewRelicMetric>,
    /// Any other provider (web, job, kayenta, cloudWatch, wavefront, graphite, influxdb,
    /// skywalking, plugin): present, but not something a detector reads.
    pub web: Option<IgnoredAny>,
    pub job: Option<IgnoredAny>,
    pub kayenta: Option<IgnoredAny>,
    pub cloud_watch: Option<IgnoredAny>,
    pub wavefront: Option<IgnoredAny>,
    pub graphite: Option<IgnoredAny>,
    pub influxdb: Option<IgnoredAny>,
    pub skywalking: Option<IgnoredAny>,
    pub plugin: Option<IgnoredAny>,
}

impl MetricProvider {
    /// The provider's name as in the spec (`prometheus`, `web`, …), or "" when none is set.
    pub fn name(&self) -> &'static str {
        let set = [
            (self.prometheus.is_some(), "prometheus"),
            (self.datadog.is_some(), "datadog"),
            (self.new_relic.is_some(), "newRelic"),
            (self.web.is_some(), "web"),
            (self.job.is_some(), "job"),
            (self.kayenta.is_some(), "kayenta"),
            (self.cloud_watch.is_some(), "cloudWatch"),
            (self.wavefront.is_some(), "wavefront"),
            (self.graphite.is_some(), "graphite"),
            (self.influxdb.is_some(), "influxdb"),
            (self.skywalking.is_some(), "skywalking"),
            (self.plugin.is_some(), "plugin"),
        ];
        set.iter().find(|(on, _)| *on).map_or("", |(_, n)| n)
    }
}

/// A Datadog metric: one `query` (v1), or named `queries` combined by a `formula` (v2).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DatadogMetric {
    #[serde(deserialize_with = "nullable")]
    pub query: String,
    #[serde(deserialize_with = "nullable")]
    pub queries: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub formula: String,
}

/// A New Relic metric: one NRQL query.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NewRelicMetric {
    #[serde(deserialize_with = "nullable")]
    pub query: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PrometheusMetric {
    #[serde(deserialize_with = "nullable")]
    pub address: String,
    #[serde(deserialize_with = "nullable")]
    pub query: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AnalysisRunStatus {
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    #[serde(deserialize_with = "list")]
    pub metric_results: Vec<MetricResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MetricResult {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    #[serde(deserialize_with = "nullable")]
    pub count: i32,
    #[serde(deserialize_with = "nullable")]
    pub successful: i32,
    #[serde(deserialize_with = "nullable")]
    pub failed: i32,
    #[serde(deserialize_with = "nullable")]
    pub inconclusive: i32,
    #[serde(deserialize_with = "nullable")]
    pub error: i32,
    #[serde(deserialize_with = "nullable")]
    pub consecutive_error: i32,
    #[serde(deserialize_with = "list")]
    pub measurements: Vec<Measurement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Measurement {
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    #[serde(deserialize_with = "nullable")]
    pub value: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub metadata: BTreeMap<String, String>,
}

/// Everything a view or a detector may look at in one namespace, as plain data.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub rollouts: Vec<Rollout>,
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub deployments: Vec<Deployment>,
    pub experiments: Vec<Experiment>,
    pub analysis_runs: Vec<AnalysisRun>,
    pub analysis_templates: Vec<AnalysisTemplate>,
    pub services: Vec<Service>,
    pub events: Vec<Event>,
}

impl Snapshot {
    /// Rewrites every object's creationTimestamp to `at` and the startedAt/finishedAt of the
    /// first metric's measurements of every AnalysisRun, as Argo's own CLI tests do so that
    /// ages are stable. A test hook only (`--pin-age`); never used on live data.
    pub fn pin_creation(&mut self, at: DateTime<Utc>) {
        let metas = self
            .rollouts
            .iter_mut()
            .map(|o| &mut o.metadata)
            .chain(self.replica_sets.iter_mut().map(|o| &mut o.metadata))
            .chain(self.pods.iter_mut().map(|o| &mut o.metadata))
            .chain(self.deployments.iter_mut().map(|o| &mut o.metadata))
            .chain(self.experiments.iter_mut().map(|o| &mut o.metadata))
            .chain(self.analysis_runs.iter_mut().map(|o| &mut o.metadata))
            .chain(self.analysis_templates.iter_mut().map(|o| &mut o.metadata))
            .chain(self.services.iter_mut().map(|o| &mut o.metadata))
            .chain(self.events.iter_mut().map(|o| &mut o.metadata));
        for meta in metas {
            meta.creation_timestamp = Some(at);
        }
        for run in &mut self.analysis_runs {
            if let Some(first) = run.status.metric_results.first_mut() {
                for m in &mut first.measurements {
                    m.started_at = Some(at);
                    m.finished_at = Some(at);
                }
            }
        }
    }
}
