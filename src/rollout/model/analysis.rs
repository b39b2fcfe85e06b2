//! Experiments and analysis: AnalysisRuns, (Cluster)AnalysisTemplates, their metrics,
//! providers and measurements. Only the fields the tree and the analysis detectors read.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::de::{list, nullable, scalar_text};
use super::meta::ObjectMeta;
use super::rollout::{AnalysisArgument, AnalysisTemplateRef, DryRun};

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
    /// Measured in dry-run mode (`status.metricResults[].dryRun`): its results never fail,
    /// error or end the run.
    #[serde(deserialize_with = "nullable")]
    pub dry_run: bool,
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
