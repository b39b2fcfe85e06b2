//! The object form of a scenario file: its raw YAML shape, and the checks that turn it into
//! a [`Scenario`] (every step's time, target and templates), with file, step and field in
//! each error.
//!
//! Owns parsing and load-time validation, shared with the short form ([`crate::sim::short`])
//! through the `pub(in crate::sim)` helpers. It must not touch the store or the network.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::step::{AccessRule, Action, BackendSpec, EventSpec, RouteSpec, SimObject, Step, Target};
use super::{DEFAULT_HISTORY_LIMIT, Scenario, ScenarioError, render_str};
use crate::sim::load::LoadSpec;
use crate::sim::resource::{self, RESOURCES, ResourceId};
use crate::yaml;

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
pub(in crate::sim) struct RawStep {
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

impl Scenario {
    /// Parses and validates scenario YAML; `file` names it in errors. The size and nesting
    /// limits ([`yaml::Limits::SCENARIO`]) are checked before anything deep is built.
    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        if crate::sim::short::is_short(text) {
            return crate::sim::short::parse(text, file);
        }
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
            steps.extend(object_steps(raw_step.value, "steps", index, &invalid)?);
        }
        steps.sort_by_key(|s| s.at);
        check_targets_exist(&steps, "steps", &mut existing, &invalid)?;
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
            model: None,
            expect: None,
        })
    }
}

pub(in crate::sim) type Invalid<'a> = dyn Fn(&str, &str, String) -> ScenarioError + 'a;

/// One object-form step (`apply`, `patch`, `delete`, `event`, `restartApi`, `compact`,
/// `backend`) as the steps it plays: a graceful delete is two. `section` names the list in
/// messages (`steps`, or `story` in the short form).
pub(in crate::sim) fn object_steps(
    raw_step: RawStep,
    section: &str,
    index: usize,
    invalid: &Invalid,
) -> Result<Vec<Step>, ScenarioError> {
    let location = format!("{section}[{index}]");
    let at = parse_duration(&raw_step.at).map_err(|e| {
        invalid(
            &location,
            "at",
            format!("{e} (write it like 30s, 2m or 1h5m)"),
        )
    })?;
    let location = format!("{section}[{index}] (at {})", raw_step.at);
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
    let action = step_action(raw_step, &location, invalid)?;
    // A graceful delete is two steps: Terminating now, gone after the grace period.
    if let (Some(grace), Action::Delete(target)) = (grace, &action) {
        let stamp = format!("{{{{t+{}}}}}", humantime::format_duration(grace)).replace(' ', "");
        return Ok(vec![
            Step {
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
            },
            Step {
                at: at + grace,
                index,
                note,
                action,
            },
        ]);
    }
    Ok(vec![Step {
        at,
        index,
        note,
        action,
    }])
}

/// Which objects exist as the (sorted) steps play, so a patch or delete of an object that can
/// never exist fails at load instead of in the middle of a demo.
pub(in crate::sim) fn check_targets_exist(
    steps: &[Step],
    section: &str,
    existing: &mut HashSet<(ResourceId, String, String)>,
    invalid: &Invalid,
) -> Result<(), ScenarioError> {
    for step in steps {
        let location = format!(
            "{section}[{}] (at {})",
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
    Ok(())
}

pub(in crate::sim) fn object_key(object: &SimObject) -> (ResourceId, String, String) {
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

pub(in crate::sim) fn check_route(
    route: &RouteSpec,
    location: &str,
    invalid: &Invalid,
) -> Result<(), ScenarioError> {
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

pub(in crate::sim) fn target(
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

pub(in crate::sim) fn sim_object(
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

pub(in crate::sim) fn parse_duration(text: &str) -> Result<Duration, humantime::DurationError> {
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
