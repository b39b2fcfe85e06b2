//! What a loaded scenario is made of: steps and their actions, targets, Events, access
//! rules and the fake backend's routes, as validated data.
//!
//! Owns the types the player and the API read. It must not parse files or check a
//! scenario's consistency ([`super::parse`] does) nor touch the store or the network.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::sim::model::inputs::ModelAction;
use crate::sim::resource::{RESOURCES, ResourceId};

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
            Action::Operator { rollout, action } => format!("{action} {}", rollout.describe()),
            Action::Model(ModelAction::Release(r)) => format!(
                "release {} to Rollout {}/{} (container {})",
                r.image, r.rollout.namespace, r.rollout.name, r.container
            ),
            Action::Model(ModelAction::Controller(c)) => format!("controller {c:?}"),
            Action::Model(ModelAction::PluginFail { message }) => {
                format!("traffic-router plugin fails: {message}")
            }
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
    /// An operator's action on a Rollout (promote, abort, …), sent as the plugin sends it.
    Operator {
        rollout: Target,
        action: crate::rollout::actions::Action,
    },
    /// A story action the model reacts to: a release, the controller's lag, a plugin failure.
    Model(ModelAction),
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
    /// A short-form scenario's routes, which follow the model (built by the short loader).
    #[serde(skip)]
    pub model_routes: Vec<crate::sim::backend::ModelRoute>,
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

pub(in crate::sim) mod opt_duration {
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
