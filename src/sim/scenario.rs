//! Scenario files: parsing, validation and the time templates inside objects.
//!
//! A scenario is starting objects plus timed steps (see docs/SCENARIOS.md). Everything is
//! checked at load so a bad file fails before anything is served: the error names the file,
//! the step and the field. This module must not touch the store or the network; the player
//! in [`super::player`] does.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::load::LoadSpec;
use super::resource::{self, RESOURCES, ResourceId};
pub use super::template::{render, render_str};
use crate::yaml::{self, YamlError};

/// Built-in scenarios, by name: `(name, yaml)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("story", include_str!("scenarios/story.yaml")),
    ("healthy", include_str!("scenarios/healthy.yaml")),
    (
        "detector-spec-not-observed",
        include_str!("scenarios/detector-spec-not-observed.yaml"),
    ),
    (
        "detector-workloadref-leak",
        include_str!("scenarios/detector-workloadref-leak.yaml"),
    ),
    (
        "detector-analysis-errors",
        include_str!("scenarios/detector-analysis-errors.yaml"),
    ),
    (
        "detector-blind-query",
        include_str!("scenarios/detector-blind-query.yaml"),
    ),
    (
        "detector-canary-service",
        include_str!("scenarios/detector-canary-service.yaml"),
    ),
    (
        "detector-canary-math",
        include_str!("scenarios/detector-canary-math.yaml"),
    ),
    ("rbac-denied", include_str!("scenarios/rbac-denied.yaml")),
    ("api-restart", include_str!("scenarios/api-restart.yaml")),
    ("load", include_str!("scenarios/load.yaml")),
];

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario file {file}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not a valid scenario (fix the YAML; docs/SCENARIOS.md has the format)")]
    Yaml {
        file: String,
        #[source]
        source: YamlError,
    },
    #[error("{file}: {location}: field `{field}`: {problem}{}", line_suffix(*line))]
    Invalid {
        file: String,
        location: String,
        field: String,
        problem: String,
        /// Line of the object or step in the file (0 when not known).
        line: u64,
    },
    #[error(
        "unknown scenario {name:?}: give a file path or one of the built-in scenarios: {known}"
    )]
    Unknown { name: String, known: String },
}

fn line_suffix(line: u64) -> String {
    if line > 0 {
        format!(" (line {line})")
    } else {
        String::new()
    }
}

/// A loaded, validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from (`built-in story` or a path), for messages.
    pub source: String,
    /// Scenario time at offset zero; `None` means the wall time when the simulator starts.
    pub start: Option<DateTime<Utc>>,
    /// How many changes the store keeps for watches before answering 410 Gone.
    pub history_limit: usize,
    /// When the story is over (scenario time); the last step's time when not given.
    pub end: Duration,
    /// Starting objects (templates rendered at offset zero).
    pub objects: Vec<SimObject>,
    pub steps: Vec<Step>,
    /// Access the simulated user lacks.
    pub deny: Vec<AccessRule>,
    pub backend: BackendSpec,
    /// Generated pods and churn, for benchmarks.
    pub load: Option<LoadSpec>,
}

/// An object template with its resource already resolved.
#[derive(Debug, Clone)]
pub struct SimObject {
    pub resource: ResourceId,
    pub template: Value,
}

/// One timed step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Scenario time offset.
    pub at: Duration,
    /// Position in the file, for messages.
    pub index: usize,
    pub note: Option<String>,
    pub action: Action,
}

impl Step {
    /// One line for logs: `2m steps[4] patch Rollout llm/litellm: note`.
    pub fn describe(&self) -> String {
        let what = match &self.action {
            Action::Apply(o) => format!(
                "apply {} {}",
                RESOURCES[o.resource].kind,
                o.template["metadata"]["name"].as_str().unwrap_or("")
            ),
            Action::Patch { target, .. } => format!("patch {}", target.describe()),
            Action::Delete(target) => format!("delete {}", target.describe()),
            Action::Event(e) => format!(
                "event {} {} on {} {}",
                e.event_type, e.reason, e.involved_object.kind, e.involved_object.name
            ),
            Action::RestartApi { down } => {
                format!("restart API (down {})", humantime::format_duration(*down))
            }
            Action::Compact => "compact watch history".to_string(),
            Action::Backend(r) => format!(
                "backend {} {} -> {:?}",
                r.method.as_deref().unwrap_or("*"),
                r.path,
                r.status
            ),
        };
        let note = self
            .note
            .as_deref()
            .map(|n| format!(": {n}"))
            .unwrap_or_default();
        format!(
            "{} steps[{}] {what}{note}",
            humantime::format_duration(self.at),
            self.index
        )
    }
}

#[derive(Debug, Clone)]
pub enum Action {
    Apply(SimObject),
    Patch {
        target: Target,
        merge: Value,
    },
    Delete(Target),
    Event(EventSpec),
    /// Drop every watch and refuse connections for `down` (scenario time).
    RestartApi {
        down: Duration,
    },
    /// Drop the retained watch history, so watches from older resourceVersions get 410.
    Compact,
    Backend(RouteSpec),
}

/// Names one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub resource: ResourceId,
    pub namespace: String,
    pub name: String,
}

impl Target {
    /// `Kind namespace/name` (or `Kind name` when cluster-scoped).
    pub fn describe(&self) -> String {
        let kind = RESOURCES[self.resource].kind;
        if self.namespace.is_empty() {
            format!("{kind} {}", self.name)
        } else {
            format!("{kind} {}/{}", self.namespace, self.name)
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EventSpec {
    #[serde(default)]
    pub namespace: Option<String>,
    /// Reusing a name bumps the count of the existing Event, as controllers do.
    #[serde(default)]
    pub name: Option<String>,
    pub involved_object: InvolvedObject,
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default = "normal", rename = "type")]
    pub event_type: String,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub source: Option<String>,
}

fn normal() -> String {
    "Normal".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InvolvedObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// A denied access: matches a SelfSubjectAccessReview when every given field matches.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    #[serde(default)]
    pub verb: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// The fake HTTP backend.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendSpec {
    /// Header naming the backend that answered; `x-backend` when not given.
    #[serde(default)]
    pub header: Option<String>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

/// How one backend route answers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub path: String,
    /// Any method when not given.
    #[serde(default)]
    pub method: Option<String>,
    /// Status codes, cycled request by request (`status: 200` is a one-element list).
    #[serde(default, deserialize_with = "one_or_many")]
    pub status: Vec<u16>,
    /// Wall-clock latency added before answering (`20ms`).
    #[serde(default, with = "opt_duration")]
    pub latency: Option<Duration>,
    /// Backend names for the backend header, cycled request by request.
    #[serde(default)]
    pub backends: Vec<String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(u16),
        Many(Vec<u16>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

pub(super) mod opt_duration {
    use super::*;
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        s.map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

// ---- raw file form ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawScenario {
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
    #[serde(default)]
    objects: Vec<Spanned<Value>>,
    #[serde(default)]
    steps: Vec<Spanned<RawStep>>,
    #[serde(default)]
    rbac: RawRbac,
    #[serde(default)]
    backend: BackendSpec,
    #[serde(default)]
    load: Option<LoadSpec>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRbac {
    #[serde(default)]
    deny: Vec<AccessRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawStep {
    at: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    apply: Option<Value>,
    #[serde(default)]
    patch: Option<RawPatch>,
    #[serde(default)]
    delete: Option<RawTarget>,
    #[serde(default)]
    event: Option<EventSpec>,
    #[serde(default)]
    restart_api: Option<RawRestart>,
    #[serde(default)]
    compact: Option<bool>,
    #[serde(default)]
    backend: Option<RouteSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTarget {
    api_version: String,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    /// Terminate first: set `metadata.deletionTimestamp` now, delete after this long.
    #[serde(default)]
    grace_period: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPatch {
    api_version: String,
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    merge: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRestart {
    down: String,
}

/// The default number of retained changes.
pub const DEFAULT_HISTORY_LIMIT: usize = 10_000;

impl Scenario {
    /// A built-in scenario by name, or a YAML file by path.
    pub fn resolve(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, yaml)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Scenario::parse(yaml, &format!("built-in scenario {name}"));
        }
        let path = Path::new(name_or_path);
        if path.exists() || name_or_path.contains('/') || name_or_path.ends_with(".yaml") {
            return Scenario::from_file(path);
        }
        Err(ScenarioError::Unknown {
            name: name_or_path.to_string(),
            known: BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = yaml::read_file(path, yaml::Limits::SCENARIO)
            .map_err(|source| ScenarioError::Read {
                file: file.clone(),
                source,
            })?
            .map_err(|source| ScenarioError::Yaml {
                file: file.clone(),
                source,
            })?;
        Scenario::parse(&text, &file)
    }

    /// Parses and validates scenario YAML; `file` names it in errors. The size and nesting
    /// limits ([`yaml::Limits::SCENARIO`]) are checked before anything deep is built.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario =
            yaml::from_str(text, yaml::Limits::SCENARIO).map_err(|source| ScenarioError::Yaml {
                file: file.to_string(),
                source,
            })?;
        // Lines of objects and steps, for errors found after parsing.
        let object_lines: Vec<u64> = raw.objects.iter().map(|o| o.referenced.line()).collect();
        let step_lines: Vec<u64> = raw.steps.iter().map(|s| s.referenced.line()).collect();
        let line_of = |location: &str| -> u64 {
            let index = |prefix: &str| {
                location
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.split(']').next())
                    .and_then(|n| n.parse::<usize>().ok())
            };
            if let Some(i) = index("objects[") {
                return object_lines.get(i).copied().unwrap_or(0);
            }
            if let Some(i) = index("steps[") {
                return step_lines.get(i).copied().unwrap_or(0);
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

        let mut objects = Vec::new();
        // Which objects exist as the steps play, so a patch or delete of an object that can
        // never exist fails at load instead of in the middle of a demo.
        let mut existing: HashSet<(ResourceId, String, String)> = HashSet::new();
        for (i, template) in raw.objects.into_iter().enumerate() {
            let location = format!("objects[{i}]");
            let object = sim_object(template.value, &location, &invalid)?;
            existing.insert(object_key(&object));
            objects.push(object);
        }

        let mut steps = Vec::new();
        for (index, raw_step) in raw.steps.into_iter().enumerate() {
            let raw_step = raw_step.value;
            let location = format!("steps[{index}]");
            let at = parse_duration(&raw_step.at).map_err(|e| {
                invalid(
                    &location,
                    "at",
                    format!("{e} (write it like 30s, 2m or 1h5m)"),
                )
            })?;
            let location = format!("steps[{index}] (at {})", raw_step.at);
            let grace = match raw_step
                .delete
                .as_ref()
                .and_then(|d| d.grace_period.as_deref())
            {
                Some(g) => Some(parse_duration(g).map_err(|e| {
                    invalid(
                        &location,
                        "delete.gracePeriod",
                        format!("{e} (write it like 30s)"),
                    )
                })?),
                None => None,
            };
            let note = raw_step.note.clone();
            let action = step_action(raw_step, &location, &invalid)?;
            // A graceful delete is two steps: Terminating now, gone after the grace period.
            if let (Some(grace), Action::Delete(target)) = (grace, &action) {
                let stamp =
                    format!("{{{{t+{}}}}}", humantime::format_duration(grace)).replace(' ', "");
                steps.push(Step {
                    at,
                    index,
                    note: note.clone(),
                    action: Action::Patch {
                        target: target.clone(),
                        merge: serde_json::json!({"metadata": {
                            "deletionTimestamp": stamp,
                            "deletionGracePeriodSeconds": grace.as_secs(),
                        }}),
                    },
                });
                steps.push(Step {
                    at: at + grace,
                    index,
                    note,
                    action,
                });
                continue;
            }
            steps.push(Step {
                at,
                index,
                note,
                action,
            });
        }
        steps.sort_by_key(|s| s.at);
        for step in &steps {
            let location = format!(
                "steps[{}] (at {})",
                step.index,
                humantime::format_duration(step.at)
            );
            match &step.action {
                Action::Apply(object) => {
                    existing.insert(object_key(object));
                }
                Action::Patch { target, .. } | Action::Delete(target) => {
                    let key = (
                        target.resource,
                        target.namespace.clone(),
                        target.name.clone(),
                    );
                    let present = if matches!(step.action, Action::Delete(_)) {
                        existing.remove(&key)
                    } else {
                        existing.contains(&key)
                    };
                    if !present {
                        return Err(invalid(
                            &location,
                            "name",
                            format!(
                                "{} {}/{} does not exist at this point; create it in `objects` or an earlier `apply` step",
                                RESOURCES[target.resource].kind, target.namespace, target.name
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        if let Some(load) = &raw.load {
            if !(load.changes_per_second.is_finite() && load.changes_per_second >= 0.0) {
                return Err(invalid(
                    "load",
                    "changesPerSecond",
                    "must be a number of changes per second, 0 or more".into(),
                ));
            }
            if load.changes_per_second > 0.0 && (load.duration.is_none() || load.pods == 0) {
                return Err(invalid(
                    "load",
                    "for",
                    "churn needs pods and a duration (for: 60s): load is always bounded".into(),
                ));
            }
        }
        for (i, route) in raw.backend.routes.iter().enumerate() {
            check_route(route, &format!("backend.routes[{i}]"), &invalid)?;
        }
        let end = match raw.end {
            Some(end) => parse_duration(&end)
                .map_err(|e| invalid("top level", "end", format!("{e} (write it like 5m)")))?,
            None => steps.last().map(|s| s.at).unwrap_or_default().max(
                raw.load
                    .as_ref()
                    .map(LoadSpec::churn_end)
                    .unwrap_or_default(),
            ),
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
            backend: raw.backend,
            load: raw.load,
        })
    }
}

type Invalid<'a> = dyn Fn(&str, &str, String) -> ScenarioError + 'a;

fn object_key(object: &SimObject) -> (ResourceId, String, String) {
    let t = &object.template;
    let ns = if RESOURCES[object.resource].namespaced {
        t.pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
    } else {
        ""
    };
    let name = t
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    (object.resource, ns.to_string(), name.to_string())
}

fn step_action(raw: RawStep, location: &str, invalid: &Invalid) -> Result<Action, ScenarioError> {
    let given = [
        raw.apply.is_some(),
        raw.patch.is_some(),
        raw.delete.is_some(),
        raw.event.is_some(),
        raw.restart_api.is_some(),
        raw.compact.is_some(),
        raw.backend.is_some(),
    ]
    .iter()
    .filter(|g| **g)
    .count();
    if given != 1 {
        return Err(invalid(
            location,
            "apply|patch|delete|event|restartApi|compact|backend",
            format!("a step needs exactly one action, found {given}"),
        ));
    }
    if let Some(object) = raw.apply {
        return Ok(Action::Apply(sim_object(object, location, invalid)?));
    }
    if let Some(p) = raw.patch {
        check_templates(&p.merge, location, "patch.merge", invalid)?;
        if !p.merge.is_object() {
            return Err(invalid(
                location,
                "patch.merge",
                "must be a mapping (a JSON merge patch)".into(),
            ));
        }
        let target = target(
            &p.api_version,
            &p.kind,
            &p.name,
            p.namespace.as_deref(),
            location,
            "patch",
            invalid,
        )?;
        return Ok(Action::Patch {
            target,
            merge: p.merge,
        });
    }
    if let Some(d) = raw.delete {
        let target = target(
            &d.api_version,
            &d.kind,
            &d.name,
            d.namespace.as_deref(),
            location,
            "delete",
            invalid,
        )?;
        return Ok(Action::Delete(target));
    }
    if let Some(event) = raw.event {
        if event.reason.is_empty() {
            return Err(invalid(
                location,
                "event.reason",
                "must not be empty".into(),
            ));
        }
        if !matches!(event.event_type.as_str(), "Normal" | "Warning") {
            return Err(invalid(
                location,
                "event.type",
                format!("{:?} is neither Normal nor Warning", event.event_type),
            ));
        }
        check_template_str(&event.message, location, "event.message", invalid)?;
        return Ok(Action::Event(event));
    }
    if let Some(r) = raw.restart_api {
        let down = parse_duration(&r.down).map_err(|e| {
            invalid(
                location,
                "restartApi.down",
                format!("{e} (write it like 5s)"),
            )
        })?;
        return Ok(Action::RestartApi { down });
    }
    if let Some(compact) = raw.compact {
        if !compact {
            return Err(invalid(
                location,
                "compact",
                "only `compact: true` is meaningful".into(),
            ));
        }
        return Ok(Action::Compact);
    }
    let Some(route) = raw.backend else {
        return Err(invalid(location, "backend", "missing".into()));
    };
    check_route(&route, location, invalid)?;
    Ok(Action::Backend(route))
}

fn check_route(route: &RouteSpec, location: &str, invalid: &Invalid) -> Result<(), ScenarioError> {
    if !route.path.starts_with('/') {
        return Err(invalid(
            location,
            "path",
            format!("{:?} must start with /", route.path),
        ));
    }
    if route.status.is_empty() {
        return Err(invalid(
            location,
            "status",
            "give a status code or a list of them".into(),
        ));
    }
    if let Some(bad) = route.status.iter().find(|s| !(100..=599).contains(*s)) {
        return Err(invalid(
            location,
            "status",
            format!("{bad} is not an HTTP status code"),
        ));
    }
    Ok(())
}

fn target(
    api_version: &str,
    kind: &str,
    name: &str,
    namespace: Option<&str>,
    location: &str,
    action: &str,
    invalid: &Invalid,
) -> Result<Target, ScenarioError> {
    let resource = resource::by_kind(api_version, kind).ok_or_else(|| {
        invalid(
            location,
            &format!("{action}.kind"),
            format!(
                "{api_version} {kind} is not served; known kinds: {}",
                resource::known_kinds()
            ),
        )
    })?;
    let namespace = if RESOURCES[resource].namespaced {
        namespace.unwrap_or("default").to_string()
    } else {
        String::new()
    };
    Ok(Target {
        resource,
        namespace,
        name: name.to_string(),
    })
}

fn sim_object(
    template: Value,
    location: &str,
    invalid: &Invalid,
) -> Result<SimObject, ScenarioError> {
    if !template.is_object() {
        return Err(invalid(
            location,
            "object",
            "must be a mapping with apiVersion, kind and metadata".into(),
        ));
    }
    let field = |path: &str| {
        template
            .pointer(path)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let api_version = field("/apiVersion").ok_or_else(|| {
        invalid(
            location,
            "apiVersion",
            "missing (e.g. apiVersion: v1)".into(),
        )
    })?;
    let kind = field("/kind")
        .ok_or_else(|| invalid(location, "kind", "missing (e.g. kind: Pod)".into()))?;
    let name = field("/metadata/name").ok_or_else(|| {
        invalid(
            location,
            "metadata.name",
            format!("missing: every {kind} needs a name"),
        )
    })?;
    let resource = resource::by_kind(api_version, kind).ok_or_else(|| {
        invalid(
            location,
            "kind",
            format!(
                "{api_version} {kind} ({name}) is not served; known kinds: {}",
                resource::known_kinds()
            ),
        )
    })?;
    check_templates(&template, location, "", invalid)?;
    Ok(SimObject { resource, template })
}

pub(super) fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(text)
}

fn check_templates(
    value: &Value,
    location: &str,
    path: &str,
    invalid: &Invalid,
) -> Result<(), ScenarioError> {
    match value {
        Value::String(s) => check_template_str(s, location, path, invalid),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| check_templates(v, location, &format!("{path}[{i}]"), invalid)),
        Value::Object(map) => map.iter().try_for_each(|(k, v)| {
            let path = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            check_templates(v, location, &path, invalid)
        }),
        _ => Ok(()),
    }
}

fn check_template_str(
    s: &str,
    location: &str,
    path: &str,
    invalid: &Invalid,
) -> Result<(), ScenarioError> {
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    render_str(s, epoch, epoch)
        .map(|_| ())
        .map_err(|problem| invalid(location, path, problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name: tiny
objects:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: llm}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p1, namespace: llm, creationTimestamp: "{{t-5m}}"}
steps:
  - at: 30s
    patch: {apiVersion: v1, kind: Pod, namespace: llm, name: p1, merge: {status: {phase: Running}}}
  - at: 10s
    event:
      involvedObject: {apiVersion: v1, kind: Pod, name: p1, namespace: llm}
      reason: Pulled
      message: pulled at {{t}}
  - at: 1m
    delete: {apiVersion: v1, kind: Pod, namespace: llm, name: p1}
  - at: 70s
    restartApi: {down: 5s}
  - at: 80s
    apply: {apiVersion: v1, kind: Pod, metadata: {name: p2, namespace: llm}}
  - at: 90s
    delete: {apiVersion: v1, kind: Pod, namespace: llm, name: p2, gracePeriod: 30s}
backend:
  routes:
    - {path: /ok, status: 200, backends: [a, b]}
    - {path: /bad, method: POST, status: [404, 429], latency: 5ms}
"#;

    fn err(text: &str) -> String {
        format!(
            "{:#}",
            anyhow::Error::from(Scenario::parse(text, "s.yaml").unwrap_err())
        )
    }

    #[test]
    fn parses_and_sorts_steps() {
        let s = Scenario::parse(GOOD, "s.yaml").unwrap();
        assert_eq!(s.name, "tiny");
        assert_eq!(s.objects.len(), 2);
        let ats: Vec<u64> = s.steps.iter().map(|s| s.at.as_secs()).collect();
        assert_eq!(ats, [10, 30, 60, 70, 80, 90, 120]);
        assert_eq!(s.end, Duration::from_secs(120));
        // The graceful delete: Terminating at 90s, deleted at 120s.
        let Action::Patch { merge, .. } = &s.steps[5].action else {
            panic!("{:?}", s.steps[5]);
        };
        assert_eq!(merge["metadata"]["deletionTimestamp"], "{{t+30s}}");
        assert!(matches!(s.steps[6].action, Action::Delete(_)));
        assert!(
            matches!(s.steps[3].action, Action::RestartApi { down } if down == Duration::from_secs(5))
        );
        assert_eq!(s.backend.routes[1].status, [404, 429]);
        assert_eq!(s.backend.routes[1].latency, Some(Duration::from_millis(5)));
    }

    /// Every YAML example in docs/SCENARIOS.md is a valid scenario.
    #[test]
    fn documented_examples_parse() {
        let doc = include_str!("../../docs/SCENARIOS.md");
        let blocks: Vec<Scenario> = doc
            .split("```yaml\n")
            .skip(1)
            .map(|rest| {
                let block = &rest[..rest.find("```").expect("the block ends")];
                Scenario::parse(block, "docs/SCENARIOS.md").unwrap()
            })
            .collect();
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].name, "tiny");
        assert_eq!(blocks[0].deny.len(), 1);
        assert_eq!(blocks[0].backend.routes[0].status, [404, 429]);
        assert_eq!(blocks[1].load.as_ref().unwrap().total_changes(), 12_000);
    }

    #[test]
    fn builtins_parse() {
        for (name, _) in BUILTIN {
            let s = Scenario::resolve(name).unwrap();
            assert!(!s.steps.is_empty() || s.load.is_some(), "{name}");
        }
        assert!(matches!(
            Scenario::resolve("nope"),
            Err(ScenarioError::Unknown { .. })
        ));
    }

    #[test]
    fn errors_name_file_step_and_field() {
        let e = err("objects:\n  - apiVersion: v1\n    metadata: {name: x}\n");
        assert!(
            e.contains("s.yaml: objects[0]: field `kind`: missing"),
            "{e}"
        );
        let e = err("objects:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {}\n");
        assert!(e.contains("objects[0]: field `metadata.name`"), "{e}");
        let e = err("objects:\n  - {apiVersion: v9, kind: Pod, metadata: {name: x}}\n");
        assert!(e.contains("v9 Pod (x) is not served"), "{e}");
        let e = err("steps:\n  - at: soon\n    compact: true\n");
        assert!(e.contains("steps[0]: field `at`"), "{e}");
        let e = err("steps:\n  - at: 5s\n    delete: {apiVersion: v1, kind: Pod, name: ghost}\n");
        assert!(
            e.contains("steps[0] (at 5s): field `name`: Pod default/ghost does not exist"),
            "{e}"
        );
        let e = err("steps:\n  - at: 5s\n");
        assert!(e.contains("exactly one action, found 0"), "{e}");
        let e = err("objects: [\n");
        assert!(e.starts_with("s.yaml: not a valid scenario"), "{e}");
        assert!(e.contains("line 1 column 10"), "{e}");
        let deep = format!("objects: {}", "[".repeat(100_000));
        let e = err(&deep);
        assert!(e.contains("nested deeper than 64 levels"), "{e}");
        let e = err(
            "objects:\n  - {apiVersion: v1, kind: Pod, metadata: {name: x}}\n  - {apiVersion: v1, kind: Pod}\n",
        );
        assert!(e.ends_with("(line 3)"), "{e}");
        let e = err("stepz: []\n");
        assert!(e.contains("unknown field `stepz`"), "{e}");
        let e = err(
            "objects:\n  - {apiVersion: v1, kind: Pod, metadata: {name: x, creationTimestamp: '{{now}}'}}\n",
        );
        assert!(
            e.contains("field `metadata.creationTimestamp`: unknown template"),
            "{e}"
        );
        let e = err("load: {pods: 10, changesPerSecond: 5}\n");
        assert!(
            e.contains("load: field `for`: churn needs pods and a duration"),
            "{e}"
        );
        let e = err("backend:\n  routes:\n    - {path: /x, status: 999}\n");
        assert!(e.contains("backend.routes[0]: field `status`"), "{e}");
    }

    #[test]
    fn argo_placeholders_load_with_the_escape_and_are_refused_without_it() {
        let template = |query: &str| {
            format!(
                "objects:\n  - apiVersion: argoproj.io/v1alpha1\n    kind: AnalysisTemplate\n    metadata: {{name: rate, namespace: llm}}\n    spec:\n      args: [{{name: service-name}}]\n      metrics:\n        - name: rate\n          provider: {{prometheus: {{query: '{query}'}}}}\n"
            )
        };
        let s = Scenario::parse(
            &template(r#"sum(rate(x{service="{{{{args.service-name}}"}[5m]))"#),
            "s.yaml",
        )
        .unwrap();
        let epoch = DateTime::<Utc>::UNIX_EPOCH;
        let rendered = render(&s.objects[0].template, epoch, epoch);
        assert_eq!(
            rendered["spec"]["metrics"][0]["provider"]["prometheus"]["query"],
            r#"sum(rate(x{service="{{args.service-name}}"}[5m]))"#
        );
        let e = err(&template(
            r#"sum(rate(x{service="{{args.service-name}}"}[5m]))"#,
        ));
        assert!(
            e.contains("objects[0]: field `spec.metrics[0].provider.prometheus.query`: unknown template {{args.service-name}}")
                && e.contains("write {{{{args.service-name}} for a literal"),
            "{e}"
        );
    }
}
