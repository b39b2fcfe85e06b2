//! A short-form scenario's `story:`: each entry, at its time, as the step it plays — a release
//! (the spec change), an operator's action (promote, abort, retry, pause, resume, undo), the
//! controller lagging or stopping, a plugin failing to load, a CI job's edit of an object —
//! plus every object-form step (`apply`, `patch`, `delete`, `event`, `restartApi`,
//! `compact`, `backend`), unchanged.
//!
//! Owns the entries' shapes and their checks against the manifests (the Rollout and container
//! a release names, the object an edit changes). It must not play anything: the player does.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::super::model::inputs::{ControllerAction, ModelAction, Release, RolloutRef, duration};
use super::super::resource;
use super::super::scenario::{self, Action, Invalid, ScenarioError, Step, Target};
use crate::rollout::actions::Action as Operator;

/// The story's actions, for the unknown-action message.
pub const SHORT_ACTIONS: &[&str] = &[
    "release",
    "promote",
    "abort",
    "retry",
    "pause",
    "resume",
    "undo",
    "controller",
    "plugin",
    "edit",
];
/// The object form's step actions, accepted in a story unchanged.
pub const OBJECT_ACTIONS: &[&str] = &[
    "apply",
    "patch",
    "delete",
    "event",
    "restartApi",
    "compact",
    "backend",
];

/// What the story needs to know of the manifests.
pub struct Manifests {
    /// `namespace/name` of every Rollout -> the containers of its pod template (from the
    /// workloadRef Deployment when it has one), in order.
    pub rollouts: BTreeMap<(String, String), Vec<String>>,
    /// `(Kind, namespace, name)` -> apiVersion, for edits.
    pub objects: BTreeMap<(String, String, String), String>,
}

impl Manifests {
    /// The Rollout a story entry means: `rollout: NAME` (or `NAMESPACE/NAME`), or the only one.
    fn rollout(&self, named: Option<&str>) -> Result<RolloutRef, String> {
        let all: Vec<&(String, String)> = self.rollouts.keys().collect();
        let pick: Vec<&&(String, String)> = match named {
            None => all.iter().collect(),
            Some(n) => all
                .iter()
                .filter(|(ns, name)| match n.split_once('/') {
                    Some((want_ns, want)) => ns == want_ns && name == want,
                    None => name == n,
                })
                .collect(),
        };
        match (pick.as_slice(), named) {
            ([(ns, name)], _) => Ok(RolloutRef {
                namespace: ns.clone(),
                name: name.clone(),
            }),
            ([], Some(n)) => Err(format!(
                "no Rollout {n:?} among the manifests (there are: {})",
                names(&all)
            )),
            ([], None) => Err("the manifests have no Rollout".into()),
            (_, _) => Err(format!(
                "{} Rollouts match: say which with `rollout: NAMESPACE/NAME` ({})",
                pick.len(),
                names(&all)
            )),
        }
    }
}

fn names(all: &[&(String, String)]) -> String {
    all.iter()
        .map(|(ns, n)| format!("{ns}/{n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    image: String,
    #[serde(default)]
    container: Option<String>,
    #[serde(default)]
    rollout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawOperator {
    #[serde(default)]
    rollout: Option<String>,
    #[serde(default)]
    full: Option<bool>,
    #[serde(default)]
    to_revision: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawController {
    #[serde(default, with = "opt_duration")]
    lag: Option<Duration>,
    #[serde(default)]
    stop: Option<bool>,
    #[serde(default)]
    start: Option<bool>,
}

mod opt_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::duration")] Duration);
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPlugin {
    fail: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEdit {
    kind: String,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    api_version: Option<String>,
    merge: Value,
}

/// The steps one story entry plays (a graceful delete is two).
/// The actions that name a Rollout (`release` and the operator's).
const ROLLOUT_ACTIONS: &[&str] = &[
    "release", "promote", "abort", "retry", "pause", "resume", "undo",
];

/// An entry-level `rollout: NAME` moved into its action's mapping.
fn with_rollout(action: &str, payload: Value, named: &Value) -> Result<Value, String> {
    if !ROLLOUT_ACTIONS.contains(&action) {
        return Err(format!(
            "`{action}` does not name a Rollout; only {} do",
            ROLLOUT_ACTIONS.join(", ")
        ));
    }
    let Some(name) = named.as_str() else {
        return Err("a Rollout's name (NAME or NAMESPACE/NAME)".into());
    };
    let mut map = match payload {
        Value::Null => serde_json::Map::new(),
        Value::Object(m) => m,
        other => return Ok(other), // the action's own parse says what is wrong with it
    };
    match map.get("rollout") {
        Some(inner) if inner.as_str() != Some(name) => Err(format!(
            "`{name}` beside the action and {inner} inside it: name the Rollout once"
        )),
        _ => {
            map.insert("rollout".into(), Value::String(name.into()));
            Ok(Value::Object(map))
        }
    }
}

pub fn entry_steps(
    entry: Value,
    index: usize,
    manifests: &Manifests,
    invalid: &Invalid,
) -> Result<Vec<Step>, ScenarioError> {
    let location = format!("story[{index}]");
    let Value::Object(map) = &entry else {
        return Err(invalid(
            &location,
            "at",
            "a story entry is a mapping: {at: 30s, ACTION: {...}}".into(),
        ));
    };
    // `rollout: NAME` beside the action (as docs/SCENARIOS.md words it) means the same as
    // inside it (`pause: {rollout: NAME}`).
    let actions: Vec<&String> = map
        .keys()
        .filter(|k| *k != "at" && *k != "note" && *k != "rollout")
        .collect();
    let known = || {
        format!(
            "{}, {}",
            SHORT_ACTIONS.join(", "),
            OBJECT_ACTIONS.join(", ")
        )
    };
    if let Some(unknown) = actions
        .iter()
        .find(|k| !SHORT_ACTIONS.contains(&k.as_str()) && !OBJECT_ACTIONS.contains(&k.as_str()))
    {
        return Err(invalid(
            &location,
            unknown,
            format!(
                "unknown action `{unknown}`; a story entry's action is one of: {}",
                known()
            ),
        ));
    }
    if actions.len() != 1 {
        return Err(invalid(
            &location,
            "action",
            format!(
                "a story entry needs exactly one action, found {} (one of: {})",
                actions.len(),
                known()
            ),
        ));
    }
    let action = actions[0].clone();
    if OBJECT_ACTIONS.contains(&action.as_str()) {
        let raw: scenario::RawStep = serde_json::from_value(entry)
            .map_err(|e| invalid(&location, &action, e.to_string()))?;
        return scenario::object_steps(raw, "story", index, invalid);
    }
    let at_text = match map.get("at") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(invalid(
                &location,
                "at",
                "missing: when it happens (30s, 2m, 1h5m)".into(),
            ));
        }
    };
    let at = duration::parse(&at_text).map_err(|e| {
        invalid(
            &location,
            "at",
            format!("{e} (write it like 30s, 2m or 1h5m)"),
        )
    })?;
    let location = format!("story[{index}] (at {at_text})");
    let note = map.get("note").and_then(Value::as_str).map(str::to_string);
    let mut payload = map[&action].clone();
    if let Some(named) = map.get("rollout") {
        payload = with_rollout(&action, payload, named)
            .map_err(|problem| invalid(&location, "rollout", problem))?;
    }
    let fail = |field: &str, problem: String| invalid(&location, field, problem);
    let location = &location;
    let parse = |field: &str| {
        let field = field.to_string();
        move |e: serde_json::Error| invalid(location, &field, e.to_string())
    };
    let action = match action.as_str() {
        "release" => {
            let raw: RawRelease = serde_json::from_value(payload).map_err(parse("release"))?;
            let rollout = manifests
                .rollout(raw.rollout.as_deref())
                .map_err(|p| fail("release.rollout", p))?;
            let containers =
                &manifests.rollouts[&(rollout.namespace.clone(), rollout.name.clone())];
            let container = match raw.container {
                Some(c) if containers.contains(&c) => c,
                Some(c) => {
                    return Err(fail(
                        "release.container",
                        format!(
                            "Rollout {}/{} has no container {c:?} (it has: {})",
                            rollout.namespace,
                            rollout.name,
                            containers.join(", ")
                        ),
                    ));
                }
                None => containers.first().cloned().unwrap_or_default(),
            };
            if raw.image.trim().is_empty() {
                return Err(fail("release.image", "must name the new image".into()));
            }
            Action::Model(ModelAction::Release(Release {
                rollout,
                container,
                image: raw.image,
            }))
        }
        "promote" | "abort" | "retry" | "pause" | "resume" | "undo" => {
            let raw: RawOperator = if payload.is_null() {
                RawOperator::default()
            } else {
                serde_json::from_value(payload).map_err(parse(&action))?
            };
            if raw.full.is_some() && action != "promote" {
                return Err(fail(
                    &format!("{action}.full"),
                    "only promote takes `full`".into(),
                ));
            }
            if raw.to_revision.is_some() && action != "undo" {
                return Err(fail(
                    &format!("{action}.toRevision"),
                    "only undo takes `toRevision`".into(),
                ));
            }
            let operator = match action.as_str() {
                "promote" => Operator::Promote {
                    full: raw.full.unwrap_or(false),
                },
                "abort" => Operator::Abort,
                "retry" => Operator::Retry,
                "pause" => Operator::Pause,
                "resume" => Operator::Resume,
                _ => {
                    let to_revision = raw.to_revision.unwrap_or(0);
                    if to_revision < 0 {
                        return Err(fail(
                            "undo.toRevision",
                            format!("{to_revision}: a revision number, or 0 for the previous one"),
                        ));
                    }
                    Operator::Undo { to_revision }
                }
            };
            let rollout = manifests
                .rollout(raw.rollout.as_deref())
                .map_err(|p| fail(&format!("{action}.rollout"), p))?;
            Action::Operator {
                rollout: Target {
                    resource: resource::by_kind("argoproj.io/v1alpha1", "Rollout")
                        .expect("Rollouts are served"),
                    namespace: rollout.namespace,
                    name: rollout.name,
                },
                action: operator,
            }
        }
        "controller" => {
            let raw: RawController =
                serde_json::from_value(payload).map_err(parse("controller"))?;
            let c = match (raw.lag, raw.stop, raw.start) {
                (Some(lag), None, None) => ControllerAction::Lag(lag),
                (None, Some(true), None) => ControllerAction::Stop,
                (None, None, Some(true)) => ControllerAction::Start,
                _ => {
                    return Err(fail(
                        "controller",
                        "give one of {lag: 5s}, {stop: true}, {start: true}".into(),
                    ));
                }
            };
            Action::Model(ModelAction::Controller(c))
        }
        "plugin" => {
            let raw: RawPlugin = serde_json::from_value(payload).map_err(parse("plugin"))?;
            if raw.fail.trim().is_empty() {
                return Err(fail(
                    "plugin.fail",
                    "the controller's message (failed to load plugin …)".into(),
                ));
            }
            Action::Model(ModelAction::PluginFail { message: raw.fail })
        }
        _ => {
            let raw: RawEdit = serde_json::from_value(payload).map_err(parse("edit"))?;
            edit(raw, manifests).map_err(|(field, p)| fail(field, p))?
        }
    };
    Ok(vec![Step {
        at,
        index,
        note,
        action,
    }])
}

/// A CI job's write: a merge patch of an object among the manifests, literal (no time
/// templates: `{{` stays `{{`).
fn edit(raw: RawEdit, manifests: &Manifests) -> Result<Action, (&'static str, String)> {
    if !raw.merge.is_object() {
        return Err((
            "edit.merge",
            "must be a mapping (a JSON merge patch)".into(),
        ));
    }
    let matches: Vec<(&(String, String, String), &String)> = manifests
        .objects
        .iter()
        .filter(|((kind, ns, name), _)| {
            *kind == raw.kind && *name == raw.name && raw.namespace.as_ref().is_none_or(|n| n == ns)
        })
        .collect();
    let ((kind, namespace, name), api_version) = match matches.as_slice() {
        [one] => one,
        [] => {
            return Err((
                "edit.name",
                format!(
                    "no {} {:?} among the manifests: an edit changes an object the story starts with",
                    raw.kind, raw.name
                ),
            ));
        }
        _ => {
            return Err((
                "edit.namespace",
                format!(
                    "{} {:?} is in several namespaces: say which",
                    raw.kind, raw.name
                ),
            ));
        }
    };
    let api_version = raw.api_version.as_deref().unwrap_or(api_version);
    let resource = resource::by_kind(api_version, kind).ok_or_else(|| {
        (
            "edit.apiVersion",
            format!("{api_version} {kind} is not served"),
        )
    })?;
    Ok(Action::Patch {
        target: Target {
            resource,
            namespace: namespace.clone(),
            name: name.clone(),
        },
        merge: super::literal(raw.merge),
    })
}
