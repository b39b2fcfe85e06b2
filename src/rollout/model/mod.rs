//! Tolerant serde types for the objects a rollout view and the detectors read.
//!
//! Slim on purpose: only the fields we derive something from, so an observer watching a large
//! namespace stays small. Unknown fields are ignored, missing fields (and explicit `null`s) take
//! their defaults, so a Rollout written by a newer controller still renders. Only a field whose
//! value has the wrong shape (a string where a number belongs) is an error, and serde reports
//! its path.
//!
//! One file per concern: `de` (the tolerant deserializers), `meta` (metadata, owner
//! references, conditions), `rollout` (the Rollout), `workloads` (ReplicaSets, pods,
//! Deployments, Services, Events), `analysis` (Experiments, AnalysisRuns and templates); the
//! [`Snapshot`] of one namespace lives here. Every type is re-exported, so callers write
//! `model::Rollout`.

use chrono::{DateTime, Utc};

mod analysis;
mod de;
mod meta;
mod rollout;
mod workloads;

pub use analysis::*;
pub use meta::*;
pub use rollout::*;
pub use workloads::*;

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
