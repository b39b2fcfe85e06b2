//! The short scenario form (docs/SCENARIOS.md, "The short form"): the manifests a user
//! applies, the kubelet's behaviour per image, the metric provider's answers, backend routes
//! whose answers follow the traffic split, a story, and the written expectation. The model
//! ([`super::model`]) derives everything else while it plays.
//!
//! Owns parsing and every load-time check, each error naming the file, the line of the
//! manifest or story entry, and the field: a referenced object that is missing (a Service,
//! an AnalysisTemplate, the workloadRef Deployment, a metric or image no manifest uses), a
//! spec Argo would refuse ([`manifests`]), an impossible weight, an unknown action
//! ([`story`]), an expectation naming no detector ([`expect`]). Size and nesting limits are
//! checked first, by [`crate::yaml`]. It must not touch the store or the network.

pub mod expect;
pub mod manifests;
pub mod story;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use serde_saphyr::Spanned;

use super::backend::{ModelRoute, StatusMix};
use super::model::inputs::{MetricAnswer, ModelAction, ModelInputs, PodBehaviour, duration};
use super::resource::{self, RESOURCES};
use super::scenario::{
    self, AccessRule, Action, BackendSpec, DEFAULT_HISTORY_LIMIT, RouteSpec, Scenario,
    ScenarioError, SimObject,
};
use crate::yaml::{self, Limits};
use expect::Expectation;

/// Whether `text` is a short-form scenario: it has a top-level `manifests:` (as a line of
/// its own, so a file the parser refuses still gets the short form's messages, or as a key
/// the parser finds).
pub fn is_short(text: &str) -> bool {
    if text.lines().any(|l| l.starts_with("manifests:")) {
        return true;
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        manifests: Option<serde::de::IgnoredAny>,
    }
    yaml::from_str::<Probe>(text, Limits::SCENARIO).is_ok_and(|p| p.manifests.is_some())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawShort {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    start: Option<DateTime<Utc>>,
    #[serde(default)]
    history_limit: Option<usize>,
    #[serde(default)]
    end: Option<String>,
    manifests: Vec<Spanned<Value>>,
    #[serde(default)]
    /// Read as plain values first, so a behaviour that is not one of the four forms gets a
    /// message naming them, with the image and its line.
    pods: BTreeMap<String, Spanned<Value>>,
    #[serde(default)]
    metrics: Vec<Spanned<MetricAnswer>>,
    #[serde(default)]
    backend: RawBackend,
    #[serde(default)]
    story: Vec<Spanned<Value>>,
    #[serde(default)]
    rbac: RawRbac,
    #[serde(default)]
    expect: Option<Spanned<Expectation>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRbac {
    #[serde(default)]
    deny: Vec<AccessRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBackend {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    routes: Vec<Spanned<Value>>,
}

/// A route whose answers follow the model: `{route: "POST /v1/embeddings", service: web,
/// answers: {IMAGE: 200, IMAGE2: {404: 0.7, 429: 0.3}}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModelRoute {
    route: String,
    service: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    answers: BTreeMap<String, RawStatusMix>,
    #[serde(default, with = "opt_latency")]
    latency: Option<Duration>,
}

mod opt_latency {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawStatusMix {
    One(u16),
    Mix(BTreeMap<String, f64>),
}

/// Strings of a manifest or an edit are literal: Argo's own `{{args.x}}` stays as written
/// (the object form's time templates are for hand-written status, which the model derives).
pub(crate) fn literal(value: Value) -> Value {
    match value {
        Value::String(s) if s.contains("{{") => Value::String(s.replace("{{", "{{{{")),
        Value::Array(items) => Value::Array(items.into_iter().map(literal).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, literal(v))).collect())
        }
        other => other,
    }
}

/// Images a workload's pod template runs.
fn template_images(object: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for list in ["containers", "initContainers"] {
        let containers = object
            .pointer(&format!("/spec/template/spec/{list}"))
            .and_then(Value::as_array);
        for c in containers.map(Vec::as_slice).unwrap_or_default() {
            let name = c.get("name").and_then(Value::as_str).unwrap_or("");
            let image = c.get("image").and_then(Value::as_str).unwrap_or("");
            if list == "containers" {
                out.push((name.to_string(), image.to_string()));
            }
        }
    }
    out
}

fn metric_names(template: &Value) -> impl Iterator<Item = &str> {
    template
        .pointer("/spec/metrics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.get("name").and_then(Value::as_str))
}

/// One manifest, read.
struct Manifest {
    /// As written (the object's strings are escaped for the store's time templates).
    raw: Value,
    kind: String,
    namespace: String,
    name: String,
    object: SimObject,
}

/// Parses and validates a short-form scenario; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let raw: RawShort =
        yaml::from_str(text, Limits::SCENARIO).map_err(|source| ScenarioError::Yaml {
            file: file.to_string(),
            source,
        })?;
    let lines: BTreeMap<&str, Vec<u64>> = BTreeMap::from([
        (
            "manifests[",
            raw.manifests.iter().map(|m| m.referenced.line()).collect(),
        ),
        (
            "story[",
            raw.story.iter().map(|m| m.referenced.line()).collect(),
        ),
        (
            "metrics[",
            raw.metrics.iter().map(|m| m.referenced.line()).collect(),
        ),
        (
            "backend.routes[",
            raw.backend
                .routes
                .iter()
                .map(|m| m.referenced.line())
                .collect(),
        ),
    ]);
    let pod_lines: BTreeMap<String, u64> = raw
        .pods
        .iter()
        .map(|(image, b)| (image.clone(), b.referenced.line()))
        .collect();
    let expect_line = raw.expect.as_ref().map_or(0, |e| e.referenced.line());
    let line_of = |location: &str| -> u64 {
        for (prefix, lines) in &lines {
            if let Some(i) = location
                .strip_prefix(prefix)
                .and_then(|rest| rest.split(']').next())
                .and_then(|n| n.parse::<usize>().ok())
            {
                return lines.get(i).copied().unwrap_or(0);
            }
        }
        if let Some(image) = location.strip_prefix("pods.") {
            return pod_lines.get(image).copied().unwrap_or(0);
        }
        if location.starts_with("expect") {
            return expect_line;
        }
        0
    };
    let invalid = |location: &str, field: &str, problem: String| ScenarioError::Invalid {
        file: file.to_string(),
        location: location.to_string(),
        field: field.to_string(),
        problem,
        line: line_of(location),
    };

    // The manifests, as objects the store starts with.
    let mut read = Vec::new();
    for (i, m) in raw.manifests.into_iter().enumerate() {
        let location = format!("manifests[{i}]");
        let raw_value = m.value;
        let object = scenario::sim_object(literal(raw_value.clone()), &location, &invalid)?;
        let kind = RESOURCES[object.resource].kind.to_string();
        let (_, namespace, name) = scenario::object_key(&object);
        if matches!(kind.as_str(), "Pod" | "ReplicaSet" | "AnalysisRun") {
            return Err(invalid(
                &location,
                "kind",
                format!(
                    "{kind} {name}: the model creates {kind}s; list what a user applies (Rollout, Service, AnalysisTemplate, the workloadRef Deployment)"
                ),
            ));
        }
        read.push(Manifest {
            raw: raw_value,
            kind,
            namespace,
            name,
            object,
        });
    }
    let catalog: manifests::Catalog = read
        .iter()
        .map(|m| (m.kind.clone(), m.namespace.clone(), m.name.clone()))
        .collect();
    let by_key = |kind: &str, ns: &str, name: &str| {
        read.iter()
            .find(|m| m.kind == kind && m.namespace == ns && m.name == name)
            .map(|m| &m.object.template)
    };
    let mut story_manifests = story::Manifests {
        rollouts: BTreeMap::new(),
        objects: read
            .iter()
            .map(|m| {
                let api = m.raw["apiVersion"].as_str().unwrap_or("");
                (
                    (m.kind.clone(), m.namespace.clone(), m.name.clone()),
                    api.to_string(),
                )
            })
            .collect(),
    };
    let mut images: BTreeSet<String> = BTreeSet::new();
    let mut metrics_known: BTreeSet<String> = BTreeSet::new();
    for (i, m) in read.iter().enumerate() {
        let location = format!("manifests[{i}] ({} {}/{})", m.kind, m.namespace, m.name);
        let fail = |p: manifests::Problem| invalid(&location, &p.field, p.message);
        let object = &m.object.template;
        match m.kind.as_str() {
            "Rollout" => {
                manifests::check_rollout(object, &m.namespace, &catalog).map_err(fail)?;
                let lookup = |cluster: bool, ns: &str, name: &str| {
                    if cluster {
                        by_key("ClusterAnalysisTemplate", "", name).cloned()
                    } else {
                        by_key("AnalysisTemplate", ns, name).cloned()
                    }
                };
                manifests::check_analysis_templates(object, &m.namespace, &lookup).map_err(fail)?;
                let workload = match object
                    .pointer("/spec/workloadRef/name")
                    .and_then(Value::as_str)
                {
                    Some(d) => by_key("Deployment", &m.namespace, d).unwrap_or(object),
                    None => object,
                };
                let labels = workload.pointer("/spec/template/metadata/labels");
                for pointer in [
                    "/spec/strategy/canary/canaryService",
                    "/spec/strategy/canary/stableService",
                    "/spec/strategy/blueGreen/activeService",
                    "/spec/strategy/blueGreen/previewService",
                ] {
                    if let Some(svc) = object.pointer(pointer).and_then(Value::as_str)
                        && let Some(service) = by_key("Service", &m.namespace, svc)
                    {
                        manifests::check_service_selects(service, labels).map_err(|p| {
                            invalid(&location, &pointer[1..].replace('/', "."), p.message)
                        })?;
                    }
                }
                let containers = template_images(workload);
                images.extend(containers.iter().map(|(_, image)| image.clone()));
                story_manifests.rollouts.insert(
                    (m.namespace.clone(), m.name.clone()),
                    containers.into_iter().map(|(name, _)| name).collect(),
                );
            }
            "Deployment" => {
                manifests::check_containers(&object["spec"], "spec.template.spec.containers")
                    .map_err(fail)?;
                images.extend(template_images(object).into_iter().map(|(_, i)| i));
            }
            "AnalysisTemplate" | "ClusterAnalysisTemplate" => {
                super::model::analysis_templates::check_template(&m.raw).map_err(|e| {
                    let field = if e.metric.is_empty() {
                        "spec.metrics".to_string()
                    } else {
                        format!("spec.metrics[{}]", e.metric)
                    };
                    invalid(&location, &field, e.message)
                })?;
                metrics_known.extend(metric_names(object).map(str::to_string));
            }
            _ => {}
        }
    }

    // The story.
    let mut steps = Vec::new();
    for (index, entry) in raw.story.into_iter().enumerate() {
        steps.extend(story::entry_steps(
            entry.value,
            index,
            &story_manifests,
            &invalid,
        )?);
    }
    steps.sort_by_key(|s| s.at);
    let mut existing: HashSet<(resource::ResourceId, String, String)> = read
        .iter()
        .map(|m| scenario::object_key(&m.object))
        .collect();
    scenario::check_targets_exist(&steps, "story", &mut existing, &invalid)?;
    for step in &steps {
        if let Action::Model(ModelAction::Release(r)) = &step.action {
            images.insert(r.image.clone());
        }
    }

    // The model's inputs: every image and metric they name must be used.
    for image in raw.pods.keys() {
        if !images.contains(image) {
            return Err(invalid(
                &format!("pods.{image}"),
                image,
                format!(
                    "no manifest or release runs image {image:?} (images: {})",
                    images.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    for (i, m) in raw.metrics.iter().enumerate() {
        if !metrics_known.contains(&m.value.metric) {
            return Err(invalid(
                &format!("metrics[{i}]"),
                "metric",
                format!(
                    "no AnalysisTemplate has a metric {:?} (metrics: {})",
                    m.value.metric,
                    metrics_known.iter().cloned().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let mut pods = BTreeMap::new();
    for (image, b) in raw.pods {
        let behaviour: PodBehaviour = serde_json::from_value(b.value).map_err(|e| {
            invalid(
                &format!("pods.{image}"),
                &image,
                format!(
                    "{e}: a pod behaviour is exactly one of {{ready: 5s}}, {{pull: ErrImagePull}} \
                     (or InvalidImageName), {{crash: {{after: 3s, exitCode: 1}}}}, \
                     {{oom: {{after: 20s}}}}; a crash that comes before the readiness delay \
                     (2 s) is never Ready, so `ready` and `crash` do not combine"
                ),
            )
        })?;
        pods.insert(image, behaviour);
    }
    let inputs = ModelInputs {
        pods,
        metrics: raw.metrics.into_iter().map(|m| m.value).collect(),
    };

    // The backend.
    let mut backend = BackendSpec {
        header: raw.backend.header,
        ..BackendSpec::default()
    };
    let default_namespace = read
        .iter()
        .find(|m| m.kind == "Rollout")
        .map(|m| m.namespace.clone())
        .unwrap_or_else(|| "default".into());
    for (i, route) in raw.backend.routes.into_iter().enumerate() {
        let location = format!("backend.routes[{i}]");
        if route.value.get("route").is_none() {
            let spec: RouteSpec = serde_json::from_value(route.value)
                .map_err(|e| invalid(&location, "route", e.to_string()))?;
            scenario::check_route(&spec, &location, &invalid)?;
            backend.routes.push(spec);
            continue;
        }
        let raw_route: RawModelRoute = serde_json::from_value(route.value)
            .map_err(|e| invalid(&location, "route", e.to_string()))?;
        backend.model_routes.push(model_route(
            raw_route,
            &default_namespace,
            &catalog,
            &images,
            &location,
            &invalid,
        )?);
    }

    // The expectation.
    let expect = raw.expect.map(|e| e.value);
    if let Some(expect) = &expect {
        let alerts = expect
            .alerts
            .iter()
            .enumerate()
            .map(|(i, a)| ("alerts", i, a));
        let resolved = expect.resolved.iter().enumerate();
        for (list, i, alert) in alerts.chain(resolved.map(|(i, a)| ("resolved", i, a))) {
            let location = format!("expect.{list}[{i}]");
            alert
                .check()
                .map_err(|(field, p)| invalid(&location, field, p))?;
            let mut parts = alert.object.splitn(3, '/');
            if let (Some("Rollout"), Some(ns), Some(name)) =
                (parts.next(), parts.next(), parts.next())
                && !name.ends_with('*')
                && !catalog.contains(&("Rollout".into(), ns.into(), name.into()))
            {
                return Err(invalid(
                    &location,
                    "object",
                    format!("no Rollout {ns}/{name} among the manifests"),
                ));
            }
            if list == "resolved" && !expect.alerts.contains(alert) {
                return Err(invalid(
                    &location,
                    "detector",
                    "a resolution closes an alert that fired: list it under expect.alerts too"
                        .into(),
                ));
            }
        }
    }

    // Namespaces are implied.
    let namespaces: BTreeSet<&str> = read
        .iter()
        .map(|m| m.namespace.as_str())
        .filter(|ns| !ns.is_empty())
        .collect();
    let namespace_kind =
        resource::by_kind("v1", "Namespace").expect("the simulator serves Namespaces");
    let mut objects: Vec<SimObject> = namespaces
        .into_iter()
        .filter(|ns| !catalog.contains(&("Namespace".into(), String::new(), ns.to_string())))
        .map(|ns| SimObject {
            resource: namespace_kind,
            template: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        })
        .collect();
    objects.extend(read.into_iter().map(|m| m.object));

    let end = match raw.end {
        Some(end) => duration::parse(&end)
            .map_err(|e| invalid("top level", "end", format!("{e} (write it like 5m)")))?,
        None => steps.last().map(|s| s.at).unwrap_or_default(),
    };
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| file.to_string()),
        description: raw.description,
        source: file.to_string(),
        start: raw.start,
        history_limit: raw.history_limit.unwrap_or(DEFAULT_HISTORY_LIMIT).max(1),
        end,
        objects,
        steps,
        deny: raw.rbac.deny,
        backend,
        load: None,
        model: Some(inputs),
        expect,
    })
}

fn model_route(
    raw: RawModelRoute,
    default_namespace: &str,
    catalog: &manifests::Catalog,
    images: &BTreeSet<String>,
    location: &str,
    invalid: &scenario::Invalid,
) -> Result<ModelRoute, ScenarioError> {
    let (method, path) = match raw.route.trim().split_once(' ') {
        Some((m, p)) => (Some(m.to_ascii_uppercase()), p.trim().to_string()),
        None => (None, raw.route.trim().to_string()),
    };
    if !path.starts_with('/') {
        return Err(invalid(
            location,
            "route",
            format!(
                "{:?}: write [METHOD] /path (POST /v1/embeddings)",
                raw.route
            ),
        ));
    }
    let namespace = raw
        .namespace
        .unwrap_or_else(|| default_namespace.to_string());
    if !catalog.contains(&("Service".into(), namespace.clone(), raw.service.clone())) {
        return Err(invalid(
            location,
            "service",
            format!(
                "Service {namespace}/{} is not among the manifests: the route needs the Service its traffic goes through",
                raw.service
            ),
        ));
    }
    let mut answers = BTreeMap::new();
    for (image, mix) in raw.answers {
        if !images.contains(&image) {
            return Err(invalid(
                location,
                &format!("answers.{image}"),
                format!("no manifest or release runs image {image:?}"),
            ));
        }
        let mix = match mix {
            RawStatusMix::One(status) => vec![(status, 1.0)],
            RawStatusMix::Mix(m) => {
                let mut mix = Vec::new();
                for (status, share) in m {
                    let status = status.parse::<u16>().map_err(|_| {
                        invalid(
                            location,
                            &format!("answers.{image}"),
                            format!("{status:?} is not an HTTP status code"),
                        )
                    })?;
                    mix.push((status, share));
                }
                mix
            }
        };
        if let Some((bad, _)) = mix.iter().find(|(s, _)| !(100..=599).contains(s)) {
            return Err(invalid(
                location,
                &format!("answers.{image}"),
                format!("{bad} is not an HTTP status code"),
            ));
        }
        let total: f64 = mix.iter().map(|(_, w)| w).sum();
        if mix.iter().any(|(_, w)| !w.is_finite() || *w <= 0.0) || (total - 1.0).abs() > 1e-6 {
            return Err(invalid(
                location,
                &format!("answers.{image}"),
                format!("the shares must be above 0 and add up to 1 (they add up to {total})"),
            ));
        }
        answers.insert(image, StatusMix(mix));
    }
    Ok(ModelRoute {
        method,
        path,
        namespace,
        service: raw.service,
        answers,
        latency: raw.latency,
    })
}

#[cfg(test)]
mod tests;
