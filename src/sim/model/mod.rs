//! The model of the Argo Rollouts controller and of the Kubernetes controllers and kubelet
//! beside it, run on short-form scenarios (docs/SCENARIOS.md): from the stored manifests and
//! the story's writes it derives ReplicaSets, pods, AnalysisRuns, Services' selectors,
//! conditions, phase and Events, as the real controllers do, one tick per second of
//! scenario time.
//!
//! Owns: the tick ([`Model::tick`]) that runs each controller in order — kubelet, Rollout
//! controller, Deployment controller, ReplicaSet controller — against the store through
//! [`world::World`]. Controllers talk only through stored objects, as in a cluster. It must
//! not run for object-form scenarios (those play exactly as written), and nothing in
//! `src/observe` or `src/rollout` may call into it: observers must not reach into the
//! simulator.
//!
//! # Layout
//! - [`inputs`]: what the model reads from a short-form scenario besides its manifests.
//! - [`world`]: the store as one tick sees it; names, hashes, ownerReferences.
//! - [`replica_math`]: Argo's replica arithmetic (our own copy, tested against Argo's cases).
//! - [`pods`]: the kubelet.
//! - [`replicasets`]: the ReplicaSet controller.
//! - [`deployments`]: the Deployment controller (for `workloadRef`).
//! - [`rollouts`]: the Rollout controller's frame: when it reconciles, the context, the loop.
//! - [`rollout_replicasets`]: the Rollout's new ReplicaSet, collisions, revisions.
//! - [`rollout_status`]: the Rollout's status, conditions, phase and their Events.
//! - [`canary`], [`bluegreen`]: the two strategies.
//! - [`conditions`]: Argo's conditions, pause state, phase and message.
//! - [`services`]: stable/canary/active/preview Service selectors.
//! - [`triggers`]: when the Rollout controller reconciles a Rollout (what enqueues it).
//! - [`rollout_analysis`]: the Rollout's AnalysisRuns (created, cancelled, judged).
//! - [`workload`]: workloadRef and the Deployment's scale-down.
//! - [`analysis_templates`]: AnalysisTemplates merged into an AnalysisRun for a Rollout.
//! - [`analysis_controller`]: the AnalysisRun controller's tick over the stored runs.
//! - [`analysis_run`]: one reconcile of one run (interval, count, limits, retention).
//! - [`analysis_metrics`]: a run's metrics with args resolved, validated as Argo does.
//! - [`analysis_provider`]: the metric provider answering from the scenario's `metrics:`.
//! - [`analysis_conditions`]: success/failure conditions in Argo's expression language.
//!
//! # What the model covers (facts for docs/SCENARIOS.md)
//! Covered, following Argo Rollouts' and Kubernetes' source:
//! - Replica arithmetic: CalculateReplicaCountsForBasicCanary / TrafficRoutedCanary,
//!   maxSurge/maxUnavailable resolution (percent rounding, both-zero → unavailable 1),
//!   the weighted approximation with surge, dynamicStableScale (including the abort's
//!   step-down), setCanaryScale (replicas, weight, matchTrafficWeight), minPodsPerReplicaSet,
//!   AtDesiredReplicaCountsForCanary with replicaProgressThreshold (also for the
//!   stable's share before a weight moves, and the full promotion) — every case of
//!   utils/replicaset/canary_test.go's
//!   count tables.
//! - Kubelet: Pending (ContainerCreating) → Running → Ready after the readiness delay;
//!   ErrImagePull / ImagePullBackOff with retries on the 10 s → 5 m back-off;
//!   InvalidImageName; crash loops (Error, or OOMKilled with 137) restarted on the back-off
//!   with CrashLoopBackOff and lastState; Scheduled, Pulling, Pulled, Created, Started,
//!   Failed, BackOff Events with the kubelet's messages and counts.
//! - ReplicaSet controller: pods with controller ownerReferences (uid), SuccessfulCreate /
//!   SuccessfulDelete, Kubernetes' deletion order, status with minReadySeconds.
//! - Deployment controller: one ReplicaSet per template with pod-template-hash, revision
//!   annotations, ScalingReplicaSet Events, Available / Progressing conditions.
//!
//! - Rollout controller, canary (rollout/canary.go, sync.go): the new ReplicaSet per pod
//!   template (`NAME-HASH`, `rollouts-pod-template-hash`, revision annotations, revision
//!   bump on undo), steps setWeight / pause (with and without duration) / analysis /
//!   setCanaryScale, currentStepIndex and currentStepHash (a steps change restarts at 0),
//!   pauseConditions and controllerPause, promote, promote --full (promoteFull), pause /
//!   resume (spec.paused), abort (status.abort, abortedAt, currentStepIndex back to 0,
//!   canary Service back to stable, abortScaleDownDelaySeconds with scale-down-deadline),
//!   retry, "Rollback to stable ReplicaSets" (SkipSteps), older ReplicaSets scaled down
//!   within maxUnavailable (and after scaleDownDelaySeconds under traffic routing),
//!   status.canary.weights for a traffic router that applies weights at once.
//! - Rollout controller, blue-green (rollout/bluegreen.go): preview Service follows the new
//!   ReplicaSet, active Service switches when saturated and the pause is over
//!   (autoPromotionEnabled, autoPromotionSeconds, promote), previewReplicaCount with
//!   scaleUpPreviewCheckPoint, pre/postPromotionAnalysis, scaleDownDelaySeconds, abort back
//!   to the stable ReplicaSet.
//! - Status as Argo persists it: observedGeneration, phase and message
//!   (CalculateRolloutPhase), conditions Progressing (ReplicaSetUpdated,
//!   NewReplicaSetCreated, FoundNewReplicaSet, NewReplicaSetAvailable, RolloutPaused,
//!   RolloutResumed, RolloutRetry, RolloutAborted, ProgressDeadlineExceeded,
//!   ReplicaSetNotAvailable), Available, Healthy, Paused, Completed;
//!   progressDeadlineSeconds and progressDeadlineAbort.
//! - Rollout Events, names and messages from Argo's source: NewReplicaSetCreated,
//!   RolloutUpdated, ScalingReplicaSet, RolloutStepCompleted, RolloutPaused,
//!   RolloutResumed, RolloutCompleted, RolloutNotCompleted, RolloutAborted (Warning),
//!   SwitchService, TrafficWeightUpdated, SkipSteps, AnalysisRun{Phase}.
//! - AnalysisRuns from the Rollout side (rollout/analysis.go): background (startingStep),
//!   step, pre- and post-promotion runs created from the merged templates, terminated when
//!   no longer current, Inconclusive → InconclusiveAnalysisRun pause, Failed/Error → abort with
//!   Argo's message. (The AnalysisRun controller itself: see `analysis_*`.)
//! - Services: stable/canary/active/preview selectors switched only to an available
//!   ReplicaSet, the managed-by annotation.
//! - workloadRef: the Deployment's template and selector resolved at each reconcile, its
//!   generation in the workload-generation annotation and status.workloadObservedGeneration;
//!   scaleDown never / onsuccess (first revision, once Healthy) / progressively.
//! - Deployment controller: `spec.paused` (no ReplicaSet for a new template, scaling only);
//!   Kubernetes' pod-template-hash differs from Argo's for the same template, and a name
//!   taken by another owner's ReplicaSet bumps status.collisionCount (Rollout and Deployment).
//! - The story's `controller: {lag}` (changes reconciled that long after they are stored,
//!   so observedGeneration trails), `{stop}` / `{start}`, and `plugin: {fail}` (Rollouts
//!   with trafficRouting.plugins are not reconciled at all: Argo fails the sync before any
//!   status write and only logs it).
//!
//! Not covered: experiments (an experiment step never completes), step plugins, header and
//! mirror routes (complete at once, no routing), traffic routers' own objects (Istio,
//! SMI, ALB, Gateway API: weights are recorded in status only, verification never fails),
//! rollbackWindow, restartAt, HPA scaling events,
//! ephemeral metadata, anti-affinity injection, revisionHistoryLimit clean-up, graceful pod termination (deletes are immediate),
//! readiness probes failing after start (a container is ready after its delay until it
//! exits), node failures and scheduling constraints, the Deployment's rolling-update surge
//! steps (a template change replaces its pods at once) and its proportional scaling while
//! paused, pod-template hashes equal to a real cluster's (same form and the same FNV-1a, over
//! serde's JSON and a dump of our own rather than Go's), the controller's
//! own timers to the second (a Rollout not at rest is reconciled each second of scenario
//! time; one at rest only when something enqueues it, see [`triggers`]).

pub mod analysis_conditions;
pub mod analysis_controller;
pub mod analysis_metrics;
pub mod analysis_provider;
pub mod analysis_run;
pub mod analysis_templates;
pub mod bluegreen;
pub mod canary;
pub mod conditions;
pub mod deployments;
pub mod inputs;
pub mod pods;
pub mod replica_math;
pub mod replicasets;
pub mod rollout_analysis;
pub mod rollout_replicasets;
pub mod rollout_status;
pub mod rollouts;
pub mod services;
pub mod triggers;
pub mod workload;
pub mod world;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::SimHandle;
use inputs::{ModelAction, ModelInputs};
use world::World;

/// Scenario time between two ticks: the controllers' resync, and the kubelet's.
pub const TICK: Duration = Duration::from_secs(1);

/// The model's state between ticks.
#[derive(Debug)]
pub struct Model {
    inputs: Arc<ModelInputs>,
    kubelet: pods::Kubelet,
    rollouts: rollouts::Controller,
    analysis: analysis_controller::AnalysisController,
    replicasets: replicasets::Controller,
}

impl Model {
    pub fn new(inputs: ModelInputs) -> Model {
        Model {
            inputs: Arc::new(inputs),
            kubelet: pods::Kubelet::default(),
            rollouts: rollouts::Controller::default(),
            analysis: analysis_controller::AnalysisController::default(),
            replicasets: replicasets::Controller::default(),
        }
    }

    pub fn inputs(&self) -> &ModelInputs {
        &self.inputs
    }

    /// Runs every controller once at scenario time `now`.
    pub fn tick(&mut self, sim: &SimHandle, now: DateTime<Utc>) {
        let world = World { sim, now };
        self.kubelet.tick(&world, &self.inputs);
        self.rollouts.tick(&world);
        deployments::tick(&world);
        self.replicasets.tick(&world);
        self.analysis.tick(&world, &self.inputs);
    }

    /// A story action aimed at the model: the release (a spec change written as a user's
    /// apply would), or a change in how the Rollout controller observes.
    pub fn act(
        &mut self,
        sim: &SimHandle,
        action: &inputs::ModelAction,
        now: DateTime<Utc>,
    ) -> Result<(), crate::sim::StoreError> {
        match action {
            inputs::ModelAction::Release(release) => sim.release(release, now),
            inputs::ModelAction::Controller(inputs::ControllerAction::Lag(lag)) => {
                self.rollouts.lag = *lag;
                Ok(())
            }
            inputs::ModelAction::Controller(inputs::ControllerAction::Stop) => {
                self.rollouts.stopped = true;
                Ok(())
            }
            inputs::ModelAction::Controller(inputs::ControllerAction::Start) => {
                self.rollouts.stopped = false;
                self.rollouts.lag = Duration::ZERO;
                // Started again, it lists every Rollout and reconciles each.
                self.rollouts.triggers = Default::default();
                Ok(())
            }
            inputs::ModelAction::PluginFail { message } => {
                self.rollouts.plugin_failure = Some(message.clone());
                Ok(())
            }
        }
    }
}

/// A story action for the model at scenario time `t` (a release is played as the user's
/// write by [`SimHandle::release`] and never reaches here).
/// The controller's lag, stop and start, and a plugin failure, change how the Rollout
/// controller observes from then on.
pub fn react(sim: &SimHandle, action: &ModelAction, t: DateTime<Utc>) {
    if let Err(err) = sim.model_action(action, t) {
        tracing::warn!("{action:?}: {err}");
    }
}

#[cfg(test)]
mod rollout_tests;
#[cfg(test)]
mod tests;
