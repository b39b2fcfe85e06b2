//! Scenario files: loading, the built-in list, and what a loaded scenario holds.
//!
//! A scenario is starting objects plus timed steps (see docs/SCENARIOS.md). Everything is
//! checked at load so a bad file fails before anything is served: the error names the file,
//! the step and the field. This module must not touch the store or the network; the player
//! in [`super::player`] does.
//!
//! # Layout
//! - this file: the built-in scenarios, [`ScenarioError`], [`Scenario`] and how one is found
//!   (a built-in name or a path).
//! - [`step`]: steps, actions, targets, Events, access rules and backend routes.
//! - [`parse`]: the object form's raw YAML and its load-time checks (shared with the short
//!   form in [`super::short`]).

mod parse;
mod step;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub(in crate::sim) use parse::{
    Invalid, RawStep, check_route, check_targets_exist, object_key, object_steps, parse_duration,
    sim_object,
};
pub(in crate::sim) use step::opt_duration;
pub use step::{
    AccessRule, Action, BackendSpec, EventSpec, InvolvedObject, RouteSpec, SimObject, Step, Target,
};

use super::load::LoadSpec;
use super::model::inputs::ModelInputs;
use super::short::expect::Expectation;
pub use super::template::{render, render_str};
use crate::yaml::{self, YamlError};

/// Built-in scenarios, by name: `(name, yaml)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("story", include_str!("scenarios/story.yaml")),
    (
        "story-objects",
        include_str!("scenarios/story-objects.yaml"),
    ),
    (
        "healthy-canary",
        include_str!("scenarios/healthy-canary.yaml"),
    ),
    (
        "healthy-bluegreen",
        include_str!("scenarios/healthy-bluegreen.yaml"),
    ),
    (
        "analysis-failed",
        include_str!("scenarios/analysis-failed.yaml"),
    ),
    (
        "analysis-inconclusive",
        include_str!("scenarios/analysis-inconclusive.yaml"),
    ),
    ("crashloop", include_str!("scenarios/crashloop.yaml")),
    (
        "crashloop-abort",
        include_str!("scenarios/crashloop-abort.yaml"),
    ),
    ("image-pull", include_str!("scenarios/image-pull.yaml")),
    ("manual-pause", include_str!("scenarios/manual-pause.yaml")),
    (
        "controller-lag",
        include_str!("scenarios/controller-lag.yaml"),
    ),
    (
        "workloadref-onsuccess",
        include_str!("scenarios/workloadref-onsuccess.yaml"),
    ),
    (
        "selector-reset",
        include_str!("scenarios/selector-reset.yaml"),
    ),
    (
        "awkward-weights",
        include_str!("scenarios/awkward-weights.yaml"),
    ),
    ("blind-4xx", include_str!("scenarios/blind-4xx.yaml")),
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
    /// A short-form scenario's model inputs: when set, the model of Argo's controller and the
    /// kubelet runs (docs/SCENARIOS.md, "The short form"); object-form scenarios have none.
    pub model: Option<ModelInputs>,
    /// A short-form scenario's written expectation of the observers' alerts.
    pub expect: Option<Expectation>,
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
}

#[cfg(test)]
mod tests;
