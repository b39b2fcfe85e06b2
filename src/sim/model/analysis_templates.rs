//! AnalysisTemplates and ClusterAnalysisTemplates merged into one AnalysisRun, as Argo's
//! rollout controller builds a run (utils/analysis/helpers.go `NewAnalysisRunFromTemplates`,
//! utils/analysis/factory.go, rollout/analysis.go `newAnalysisRunFromRollout`).
//!
//! Owns: looking templates up by reference (nested `spec.templates` included, duplicates
//! dropped by name), flattening their metrics, args, dryRun and measurementRetention (with
//! Argo's errors for duplicate metric names, conflicting or unresolved args and duplicate
//! rules), the Rollout's arguments (`value`, `valueFrom.podTemplateHashValue`,
//! `valueFrom.fieldRef`), and the run's name, labels, annotations and ownerReference.
//! It must not decide *when* a run is created or cancelled (the Rollout controller does,
//! in model-ctl's files) nor reconcile a run (`analysis_run`). Pure functions over JSON
//! objects as the store holds them: no store, no clock.
//!
//! # For the Rollout controller
//! ```
//! use serde_json::json;
//! use warroom::sim::model::analysis_templates::{RolloutRun, RunKind, rollout_run};
//!
//! let rollout = json!({"metadata": {"name": "web", "namespace": "shop", "uid": "u-1",
//!     "annotations": {"rollout.argoproj.io/revision": "2"}},
//!     "spec": {"selector": {"matchLabels": {"app": "web"}}}});
//! let template = json!({"kind": "AnalysisTemplate",
//!     "metadata": {"name": "error-rate", "namespace": "shop"},
//!     "spec": {"args": [{"name": "hash"}], "metrics": [{"name": "error-rate",
//!         "interval": "1m", "successCondition": "result[0] < 0.05",
//!         "provider": {"prometheus": {"query": "rate(errors{hash=\"{{args.hash}}\"}[1m])"}}}]}});
//! let analysis = json!({"templates": [{"templateName": "error-rate"}],
//!     "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]});
//! let run = rollout_run(
//!     &RolloutRun { rollout: &rollout, analysis: &analysis, kind: RunKind::Step(1),
//!                   latest_hash: "6d4f8c", stable_hash: "5c9b7a" },
//!     &|scope, name| (scope.is_namespaced() && name == "error-rate").then(|| template.clone()),
//! ).unwrap();
//! assert_eq!(run["metadata"]["name"], "web-6d4f8c-2-1");
//! assert_eq!(run["spec"]["args"][0], json!({"name": "hash", "value": "6d4f8c"}));
//! ```
//! The caller creates the returned object in the store (as Argo's
//! `CreateWithCollisionCounter`, a name taken by another run gets `.1`, `.2`, …) and later
//! reads its `status.phase`; `analysis_run` reconciles it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value, json};

/// `rollouts-pod-template-hash`: the label of a run's (and a ReplicaSet's) pod template hash.
pub const POD_TEMPLATE_HASH_LABEL: &str = "rollouts-pod-template-hash";
/// `rollout-type`: Background, Step, PrePromotion or PostPromotion.
pub const ROLLOUT_TYPE_LABEL: &str = "rollout-type";
/// `step-index`: the canary step a Step run belongs to.
pub const STEP_INDEX_LABEL: &str = "step-index";
/// The controller instance a Rollout is labelled for, copied to its runs.
pub const INSTANCE_ID_LABEL: &str = "argo-rollouts.argoproj.io/controller-instance-id";
/// The Rollout's revision, copied to the run's name and annotations.
pub const REVISION_ANNOTATION: &str = "rollout.argoproj.io/revision";

/// Nested template references deeper than this are refused (Argo recurses without a bound,
/// so a template referencing itself would never return).
const MAX_NESTING: usize = 16;

/// Why a run can't be built. The messages are Argo's, so a scenario reads as a cluster would.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A referenced template is not stored (the lister's NotFound, as the API words it).
    #[error("{resource}.argoproj.io \"{name}\" not found")]
    NotFound {
        resource: &'static str,
        name: String,
    },
    #[error("two metrics have the same name '{0}'")]
    DuplicateMetric(String),
    #[error(
        "Argument `{name}` specified multiple times with different values: '{first}', '{second}'"
    )]
    ConflictingArg {
        name: String,
        first: String,
        second: String,
    },
    #[error("args.{0} was not resolved")]
    UnresolvedArg(String),
    #[error("two Dry-Run metric rules have the same name '{0}'")]
    DuplicateDryRun(String),
    #[error("two Measurement Retention metric rules have the same name '{0}'")]
    DuplicateRetention(String),
    /// `valueFrom.fieldRef` names a path the Rollout does not have.
    #[error("{0}")]
    FieldRef(String),
    #[error("Latest ReplicaSet has no pod hash in the labels")]
    NoPodHash,
    #[error(
        "analysis templates nested more than {MAX_NESTING} deep under '{0}' (does a template reference itself?)"
    )]
    TooDeep(String),
    /// A field has the wrong shape (e.g. `args` not a list, an arg value not a string).
    #[error("{path}: {message}")]
    Shape { path: String, message: String },
}

/// A template reference's scope: `clusterScope: true` names a ClusterAnalysisTemplate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateScope {
    /// An AnalysisTemplate in the Rollout's namespace.
    Namespaced,
    /// A ClusterAnalysisTemplate.
    Cluster,
}

impl TemplateScope {
    pub fn is_namespaced(self) -> bool {
        self == TemplateScope::Namespaced
    }

    fn resource(self) -> &'static str {
        match self {
            TemplateScope::Namespaced => "analysistemplate",
            TemplateScope::Cluster => "clusteranalysistemplate",
        }
    }
}

/// Finds a stored template by scope and name (namespaced ones in the Rollout's namespace).
pub type TemplateLookup<'a> = dyn Fn(TemplateScope, &str) -> Option<Value> + 'a;

/// Which of a Rollout's runs is being built (rollout/analysis.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    /// `spec.strategy.canary.analysis`, running beside the steps.
    Background,
    /// An `analysis` step, by its index in `spec.strategy.canary.steps`.
    Step(u32),
    /// `spec.strategy.blueGreen.prePromotionAnalysis`.
    PrePromotion,
    /// `spec.strategy.blueGreen.postPromotionAnalysis`.
    PostPromotion,
}

impl RunKind {
    /// The `rollout-type` label's value.
    pub fn type_label(self) -> &'static str {
        match self {
            RunKind::Background => "Background",
            RunKind::Step(_) => "Step",
            RunKind::PrePromotion => "PrePromotion",
            RunKind::PostPromotion => "PostPromotion",
        }
    }

    /// The name's last part: the step index, `pre`, `post`, or none for background runs.
    fn infix(self) -> Option<String> {
        match self {
            RunKind::Background => None,
            RunKind::Step(index) => Some(index.to_string()),
            RunKind::PrePromotion => Some("pre".into()),
            RunKind::PostPromotion => Some("post".into()),
        }
    }
}

/// What the Rollout controller knows when it creates a run.
#[derive(Debug, Clone, Copy)]
pub struct RolloutRun<'a> {
    /// The Rollout as stored (name, namespace, uid, revision annotation, selector, labels).
    pub rollout: &'a Value,
    /// The RolloutAnalysis block: `templates`, `args`, `dryRun`, `measurementRetention`,
    /// `analysisRunMetadata` (the background analysis, a step's `analysis`, or a blue-green
    /// pre/postPromotionAnalysis).
    pub analysis: &'a Value,
    pub kind: RunKind,
    /// The new (desired) ReplicaSet's `rollouts-pod-template-hash`.
    pub latest_hash: &'a str,
    /// The stable ReplicaSet's hash (for `podTemplateHashValue: Stable`).
    pub stable_hash: &'a str,
}

/// Builds the AnalysisRun a Rollout creates for `input` (Argo's `createAnalysisRun` up to the
/// API call): args from the Rollout, templates looked up with `lookup` and merged, name
/// `<rollout>-<hash>-<revision>[-<step|pre|post>]`, labels, the revision annotation and a
/// controller ownerReference to the Rollout. The returned object has no status.
pub fn rollout_run(input: &RolloutRun, lookup: &TemplateLookup) -> Result<Value, TemplateError> {
    let rollout = input.rollout;
    let args = rollout_args(input)?;
    if input.latest_hash.is_empty() {
        return Err(TemplateError::NoPodHash);
    }
    let revision = str_at(rollout, &["metadata", "annotations", REVISION_ANNOTATION]);
    let mut name = format!(
        "{}-{}-{}",
        meta(rollout, "name"),
        input.latest_hash,
        revision
    );
    if let Some(infix) = input.kind.infix() {
        name = format!("{name}-{infix}");
    }
    let refs = list_at(input.analysis, "templates")?;
    let (templates, cluster_templates) = resolve_refs(refs, lookup, 0)?;
    let dry_run = list_at(input.analysis, "dryRun")?;
    let retention = list_at(input.analysis, "measurementRetention")?;
    let spec = run_from_templates(&templates, &cluster_templates, &args, dry_run, retention)?;

    let mut labels = Map::new();
    labels.insert(POD_TEMPLATE_HASH_LABEL.into(), input.latest_hash.into());
    labels.insert(ROLLOUT_TYPE_LABEL.into(), input.kind.type_label().into());
    if let RunKind::Step(index) = input.kind {
        labels.insert(STEP_INDEX_LABEL.into(), index.to_string().into());
    }
    if let Some(id) = rollout
        .pointer("/metadata/labels")
        .and_then(|l| l.get(INSTANCE_ID_LABEL))
    {
        labels.insert(INSTANCE_ID_LABEL.into(), id.clone());
    }
    let run_metadata = input.analysis.get("analysisRunMetadata");
    extend(&mut labels, run_metadata.and_then(|m| m.get("labels")));
    extend(&mut labels, rollout.pointer("/spec/selector/matchLabels"));
    let mut annotations = Map::new();
    annotations.insert(REVISION_ANNOTATION.into(), revision.into());
    extend(
        &mut annotations,
        run_metadata.and_then(|m| m.get("annotations")),
    );

    Ok(json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {
            "name": name,
            "namespace": meta(rollout, "namespace"),
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Rollout",
                "name": meta(rollout, "name"),
                "uid": meta(rollout, "uid"),
                "controller": true,
                "blockOwnerDeletion": true,
            }],
        },
        "spec": spec,
    }))
}

/// Merges templates into an AnalysisRun's `spec` (Argo's `NewAnalysisRunFromTemplates` without
/// the metadata): the templates' metrics in order (namespaced first, then cluster-scoped),
/// their args merged with `args` (the caller's values win; every arg must end with a `value`
/// or `valueFrom`), and the caller's dryRun / measurementRetention rules followed by the
/// templates'. Metric specs are copied verbatim, `{{args.x}}` placeholders included: the
/// AnalysisRun controller resolves them when it measures.
pub fn run_from_templates(
    templates: &[Value],
    cluster_templates: &[Value],
    args: &[Value],
    dry_run: &[Value],
    measurement_retention: &[Value],
) -> Result<Value, TemplateError> {
    let all: Vec<&Value> = templates.iter().chain(cluster_templates).collect();
    let mut metrics = Vec::new();
    let mut template_args: Vec<Value> = Vec::new();
    let mut template_dry_run = Vec::new();
    let mut template_retention = Vec::new();
    for template in &all {
        let spec = template.get("spec").unwrap_or(&Value::Null);
        metrics.extend(list_at(spec, "metrics")?.iter().cloned());
        template_dry_run.extend(list_at(spec, "dryRun")?.iter().cloned());
        template_retention.extend(list_at(spec, "measurementRetention")?.iter().cloned());
        for arg in list_at(spec, "args")? {
            flatten_arg(&mut template_args, arg)?;
        }
    }
    let mut seen = Vec::new();
    for metric in &metrics {
        let name = str_at(metric, &["name"]);
        if seen.contains(&name) {
            return Err(TemplateError::DuplicateMetric(name.into()));
        }
        seen.push(name);
    }
    // Argo validates the templates' rules alone first, then the merged list.
    unique_rules(&template_dry_run, TemplateError::DuplicateDryRun)?;
    unique_rules(&template_retention, TemplateError::DuplicateRetention)?;
    let dry_run: Vec<Value> = dry_run.iter().chain(&template_dry_run).cloned().collect();
    unique_rules(&dry_run, TemplateError::DuplicateDryRun)?;
    let retention: Vec<Value> = (measurement_retention.iter().chain(&template_retention))
        .cloned()
        .collect();
    unique_rules(&retention, TemplateError::DuplicateRetention)?;
    let args = merge_args(args, template_args)?;

    let mut spec = Map::new();
    spec.insert("metrics".into(), Value::Array(metrics));
    if !args.is_empty() {
        spec.insert("args".into(), Value::Array(args));
    }
    if !dry_run.is_empty() {
        spec.insert("dryRun".into(), Value::Array(dry_run));
    }
    if !retention.is_empty() {
        spec.insert("measurementRetention".into(), Value::Array(retention));
    }
    Ok(Value::Object(spec))
}

/// Looks up `refs` and their nested `spec.templates`, keeping the first of each name per scope
/// (Argo's `getAnalysisTemplatesFromRefs` then `FilterUniqueTemplates`).
fn resolve_refs(
    refs: &[Value],
    lookup: &TemplateLookup,
    depth: usize,
) -> Result<(Vec<Value>, Vec<Value>), TemplateError> {
    let mut templates: Vec<Value> = Vec::new();
    let mut cluster: Vec<Value> = Vec::new();
    for reference in refs {
        let name = str_at(reference, &["templateName"]);
        if depth >= MAX_NESTING {
            return Err(TemplateError::TooDeep(name.into()));
        }
        let scope = if reference.get("clusterScope").and_then(Value::as_bool) == Some(true) {
            TemplateScope::Cluster
        } else {
            TemplateScope::Namespaced
        };
        let template = lookup(scope, name).ok_or_else(|| TemplateError::NotFound {
            resource: scope.resource(),
            name: name.into(),
        })?;
        let nested = list_at(template.get("spec").unwrap_or(&Value::Null), "templates")?;
        let (inner, inner_cluster) = if nested.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            resolve_refs(nested, lookup, depth + 1)?
        };
        match scope {
            TemplateScope::Namespaced => templates.push(template),
            TemplateScope::Cluster => cluster.push(template),
        }
        cluster.extend(inner_cluster);
        templates.extend(inner);
    }
    Ok((unique_by_name(templates), unique_by_name(cluster)))
}

fn unique_by_name(templates: Vec<Value>) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut unique = Vec::new();
    for template in templates {
        let name = meta(&template, "name").to_string();
        if !seen.contains(&name) {
            seen.push(name);
            unique.push(template);
        }
    }
    unique
}

/// Adds a template's arg to the flattened list; two templates may declare the same arg, but
/// not with two different values (Argo's `flattenArgs`).
fn flatten_arg(combined: &mut Vec<Value>, arg: &Value) -> Result<(), TemplateError> {
    let name = str_at(arg, &["name"]);
    arg_value(arg)?;
    let Some(previous) = combined.iter_mut().find(|a| str_at(a, &["name"]) == name) else {
        combined.push(arg.clone());
        return Ok(());
    };
    match (arg_value(previous)?, arg_value(arg)?) {
        (Some(first), Some(second)) if first != second => Err(TemplateError::ConflictingArg {
            name: name.into(),
            first: first.into(),
            second: second.into(),
        }),
        (None, _) => {
            *previous = arg.clone();
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The templates' args with the caller's values laid over them; args the templates don't
/// declare are dropped, and each must end with a value (Argo's `MergeArgs`).
fn merge_args(incoming: &[Value], mut args: Vec<Value>) -> Result<Vec<Value>, TemplateError> {
    for arg in incoming {
        let name = str_at(arg, &["name"]);
        let Some(target) = args.iter_mut().find(|a| str_at(a, &["name"]) == name) else {
            continue;
        };
        if let Some(value) = arg.get("value").filter(|v| !v.is_null()) {
            target["value"] = value.clone();
        } else if let Some(from) = arg.get("valueFrom").filter(|v| !v.is_null()) {
            target["valueFrom"] = from.clone();
        }
    }
    for arg in &args {
        let has = |field: &str| arg.get(field).is_some_and(|v| !v.is_null());
        if !has("value") && !has("valueFrom") {
            return Err(TemplateError::UnresolvedArg(str_at(arg, &["name"]).into()));
        }
    }
    Ok(args)
}

/// The Rollout's arguments with `valueFrom` resolved (Argo's
/// `BuildArgumentsForRolloutAnalysisRun`): each becomes `{name, value}`.
fn rollout_args(input: &RolloutRun) -> Result<Vec<Value>, TemplateError> {
    let mut resolved = Vec::new();
    for arg in list_at(input.analysis, "args")? {
        let name = str_at(arg, &["name"]);
        let mut value = arg_value(arg)?.unwrap_or_default().to_string();
        if let Some(from) = arg.get("valueFrom").filter(|v| !v.is_null()) {
            if let Some(which) = from.get("podTemplateHashValue").and_then(Value::as_str) {
                value = match which {
                    "Latest" => input.latest_hash.to_string(),
                    "Stable" => input.stable_hash.to_string(),
                    _ => value,
                };
            } else if let Some(path) = from.pointer("/fieldRef/fieldPath").and_then(Value::as_str) {
                value = if path.starts_with("metadata") {
                    metadata_field(input.rollout, path)?
                } else {
                    rollout_field(input.rollout, path)?
                };
            }
        }
        resolved.push(json!({"name": name, "value": value}));
    }
    Ok(resolved)
}

/// A `metadata.*` field path as the Kubernetes downward API reads one (name, namespace, uid,
/// a label or annotation by key; a missing key reads as "").
fn metadata_field(rollout: &Value, path: &str) -> Result<String, TemplateError> {
    static KEYED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^metadata\.(labels|annotations)\['([^']*)'\]$").expect("valid regex")
    });
    if let Some(caps) = KEYED.captures(path) {
        return Ok(str_at(rollout, &["metadata", &caps[1], &caps[2]]).to_string());
    }
    match path {
        "metadata.name" | "metadata.namespace" | "metadata.uid" => {
            Ok(meta(rollout, &path["metadata.".len()..]).to_string())
        }
        "metadata.labels" | "metadata.annotations" => {
            let map = rollout
                .pointer(&format!("/metadata/{}", &path["metadata.".len()..]))
                .and_then(Value::as_object);
            let mut lines: Vec<String> = map
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or_default()))
                .collect();
            lines.sort();
            Ok(lines.join("\n"))
        }
        _ => Err(TemplateError::FieldRef(format!(
            "unsupported fieldPath: {path}"
        ))),
    }
}

/// Any other field path, walked through the Rollout's JSON (Argo's `extractValueFromRollout`):
/// `status.pauseConditions[0].reason`. It must end at a number, string or bool.
fn rollout_field(rollout: &Value, path: &str) -> Result<String, TemplateError> {
    let invalid = || TemplateError::FieldRef(format!("invalid path {path} in rollout"));
    let mut at = rollout;
    for section in path.split(['.', '[', ']']).filter(|s| !s.is_empty()) {
        at = match at {
            Value::Array(items) => {
                let index: usize = section
                    .parse()
                    .map_err(|_| TemplateError::FieldRef(format!("invalid index '{section}'")))?;
                items
                    .get(index)
                    .ok_or_else(|| TemplateError::FieldRef(format!("index {index} out of range")))?
            }
            Value::Object(map) => map.get(section).unwrap_or(&Value::Null),
            _ => return Err(invalid()),
        };
    }
    match at {
        Value::Null => Err(invalid()),
        Value::Array(_) | Value::Object(_) => Err(TemplateError::FieldRef(format!(
            "path {path} in rollout must terminate in a primitive value"
        ))),
        Value::String(s) => Ok(s.clone()),
        other => Ok(other.to_string()),
    }
}

/// An arg's literal `value`: absent, or a string.
fn arg_value(arg: &Value) -> Result<Option<&str>, TemplateError> {
    match arg.get("value") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TemplateError::Shape {
            path: format!("args[{}].value", str_at(arg, &["name"])),
            message: format!("must be a string (quote it: \"{other}\")"),
        }),
    }
}

fn unique_rules(rules: &[Value], error: fn(String) -> TemplateError) -> Result<(), TemplateError> {
    let mut seen = Vec::new();
    for rule in rules {
        let name = str_at(rule, &["metricName"]);
        if seen.contains(&name) {
            return Err(error(name.into()));
        }
        seen.push(name);
    }
    Ok(())
}

/// A list field (absent or null reads as empty).
fn list_at<'v>(object: &'v Value, field: &str) -> Result<&'v [Value], TemplateError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(TemplateError::Shape {
            path: field.into(),
            message: "must be a list".into(),
        }),
    }
}

fn extend(target: &mut Map<String, Value>, source: Option<&Value>) {
    if let Some(Value::Object(map)) = source {
        for (k, v) in map {
            target.insert(k.clone(), v.clone());
        }
    }
}

fn meta<'v>(object: &'v Value, field: &str) -> &'v str {
    str_at(object, &["metadata", field])
}

/// The string at a path of object keys, or "".
fn str_at<'v>(object: &'v Value, path: &[&str]) -> &'v str {
    let mut at = object;
    for key in path {
        match at.get(key) {
            Some(next) => at = next,
            None => return "",
        }
    }
    at.as_str().unwrap_or_default()
}

/// A template the scenario loader refuses: which template and metric, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {name}: metric '{metric}': {message}")]
pub struct TemplateCheckError {
    /// `AnalysisTemplate` or `ClusterAnalysisTemplate`.
    pub kind: String,
    /// `namespace/name`, or the name of a cluster-scoped template.
    pub name: String,
    pub metric: String,
    pub message: String,
}

/// Checks an AnalysisTemplate or ClusterAnalysisTemplate when a scenario loads: each metric
/// as Argo's `ValidateMetrics` checks a run's (duplicate names, limits, count and interval,
/// exactly one provider), and each condition as something the simulator can evaluate (it
/// parses, and calls only functions expr and Argo define). `{{args.x}}` placeholders stand
/// for values not known until a run exists: a duration field reads as `1s`, any other field
/// as `0`, for the check only.
pub fn check_template(template: &Value) -> Result<(), TemplateCheckError> {
    use super::analysis_conditions::Conditions;
    use super::analysis_metrics::{MetricSpec, validate_metric};

    let kind = str_at(template, &["kind"]).to_string();
    let name = match (meta(template, "namespace"), meta(template, "name")) {
        ("", name) => name.to_string(),
        (namespace, name) => format!("{namespace}/{name}"),
    };
    let refuse = |metric: &str, message: String| TemplateCheckError {
        kind: kind.clone(),
        name: name.clone(),
        metric: metric.to_string(),
        message,
    };
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let metrics = list_at(spec, "metrics").map_err(|e| refuse("", e.to_string()))?;
    let mut seen: Vec<&str> = Vec::new();
    for metric in metrics {
        let metric_name = str_at(metric, &["name"]);
        if seen.contains(&metric_name) {
            return Err(refuse(metric_name, "duplicate metric name".into()));
        }
        seen.push(metric_name);
        let mut stand_in = metric.clone();
        if let Value::Object(fields) = &mut stand_in {
            for (field, value) in fields.iter_mut() {
                if value.as_str().is_some_and(|s| s.contains("{{")) {
                    let text = value.as_str().unwrap_or_default();
                    *value = match field.as_str() {
                        "interval" | "initialDelay" => "1s".into(),
                        "successCondition" | "failureCondition" => placeholder_zero(text).into(),
                        _ => "0".into(),
                    };
                }
            }
        }
        let spec = MetricSpec::from_json(&stand_in);
        validate_metric(&spec).map_err(|e| refuse(metric_name, e))?;
        Conditions::compile(&spec.success_condition, &spec.failure_condition)
            .map_err(|e| refuse(metric_name, e.to_string()))?;
    }
    Ok(())
}

/// `{{args.x}}` replaced by `0`, so that a condition's syntax can be checked.
fn placeholder_zero(text: &str) -> String {
    super::analysis_metrics::ARG_PLACEHOLDER
        .replace_all(text, "0")
        .into_owned()
}

#[cfg(test)]
#[path = "analysis_templates_tests.rs"]
mod tests;
