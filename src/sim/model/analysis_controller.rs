//! The AnalysisRun controller's tick: every stored AnalysisRun not yet completed is
//! reconciled at the tick's scenario time, measured by the scenario's metric provider; its
//! new status is written back and the Events recorded, as Argo's analysis controller does
//! (analysis/controller.go, analysis/analysis.go).
//!
//! Owns: the glue between the store ([`World`]) and the pure reconcile
//! ([`analysis_run::reconcile`]), and when to call it. It must not create, terminate or delete runs: the Rollout
//! controller does, and reads their `status.phase`. The two talk only through the stored
//! AnalysisRun, as in Argo.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::analysis_provider::ScenarioMetrics;
use super::analysis_run::{self, status_json};
use super::inputs::ModelInputs;
use super::world::{Kind, World};

/// The component Argo's controller records its Events as.
const COMPONENT: &str = "rollouts-controller";

/// The controller's memory between ticks: which runs it has seen at which resourceVersion,
/// and when each is next due, so a run is reconciled when it changes or a metric falls due
/// (Argo's informer events and `enqueueAfter`), not on every tick.
#[derive(Debug, Default)]
pub struct AnalysisController {
    /// By (namespace, name).
    seen: HashMap<(String, String), Seen>,
}

/// A run as the controller last left it: its resourceVersion and when it is next due.
type Seen = (String, Option<DateTime<Utc>>);

impl AnalysisController {
    /// Reconciles every AnalysisRun that changed or is due. A write that conflicts (the run
    /// changed since it was read this tick) is retried at the next tick, as a controller
    /// requeues.
    pub fn tick(&mut self, world: &World, inputs: &ModelInputs) {
        let provider = ScenarioMetrics {
            inputs,
            epoch: world.sim.clock().epoch(),
        };
        let runs = world.list(Kind::AnalysisRun, None);
        let mut live = HashMap::with_capacity(runs.len());
        for run in runs {
            let key = (
                run["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                run["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
            let rv = run["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if let Some((seen_rv, next)) = self.seen.remove(&key)
                && seen_rv == rv
                && next.is_none_or(|due| world.now < due)
            {
                live.insert(key, (seen_rv, next));
                continue;
            }
            let Some(done) = analysis_run::reconcile(&run, world.now, &provider) else {
                live.insert(key, (rv.to_string(), None));
                continue;
            };
            let mut updated = (*run).clone();
            updated["status"] = status_json(&done.status);
            match world.replace(Kind::AnalysisRun, updated) {
                Ok(true) => {
                    for event in &done.events {
                        // An Event that can't be written is lost, as a recorder drops one.
                        let _ = world.event(
                            &run,
                            event.event_type,
                            &event.reason,
                            &event.message,
                            COMPONENT,
                        );
                    }
                    // Our own write changes the resourceVersion: the next tick looks again,
                    // as Argo's informer hands the controller its own update.
                }
                Ok(false) => {
                    live.insert(key, (rv.to_string(), done.next));
                }
                Err(_) => {}
            }
        }
        // Runs deleted since are forgotten.
        self.seen = live;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{Value, json};

    use super::super::analysis_templates::{RolloutRun, RunKind, rollout_run};
    use super::super::inputs::{Answer, MetricAnswer, ModelInputs};
    use super::super::tests::{events, list, run, sim_with};
    use super::super::world::Kind;

    fn template() -> Value {
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
               "metadata": {"name": "error-rate", "namespace": "shop"},
               "spec": {"args": [{"name": "hash"}],
                        "metrics": [{"name": "error-rate", "interval": "30s", "count": 4,
                                     "failureLimit": 1,
                                     "successCondition": "result[0] < 0.05",
                                     "provider": {"prometheus": {
                                         "query": "errors{hash=\"{{args.hash}}\"}"}}}]}})
    }

    /// The run a Rollout's step 1 creates, as the Rollout controller would build it.
    fn analysis_run() -> Value {
        let rollout = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop", "uid": "r-1",
                         "annotations": {"rollout.argoproj.io/revision": "2"}},
            "spec": {"selector": {"matchLabels": {"app": "web"}}}});
        let analysis = json!({"templates": [{"templateName": "error-rate"}],
            "args": [{"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}}]});
        let input = RolloutRun {
            rollout: &rollout,
            analysis: &analysis,
            kind: RunKind::Step(1),
            latest_hash: "6d4f8c",
            stable_hash: "5c9b7a",
        };
        rollout_run(&input, &|_, _| Some(template())).unwrap()
    }

    fn answers(windows: &[(u64, Answer)]) -> ModelInputs {
        ModelInputs {
            metrics: windows
                .iter()
                .map(|(from, answer)| MetricAnswer {
                    metric: "error-rate".into(),
                    from: Duration::from_secs(*from),
                    answer: answer.clone(),
                })
                .collect(),
            ..ModelInputs::default()
        }
    }

    fn stored_run(sim: &crate::sim::SimHandle) -> Value {
        list(sim, "argoproj.io/v1alpha1", "AnalysisRun").remove(0)
    }

    #[test]
    fn a_stored_run_is_measured_each_interval_until_it_fails() {
        let inputs = answers(&[(0, Answer::Value(0.01)), (45, Answer::Value(0.3))]);
        let sim = sim_with(&[template(), analysis_run()], inputs);
        run(&sim, 0, 40);
        let r = stored_run(&sim);
        assert_eq!(r["metadata"]["name"], "web-6d4f8c-2-1");
        assert_eq!(r["status"]["phase"], "Running");
        assert_eq!(
            r["status"]["metricResults"][0]["count"], 2,
            "at 0 s and 31 s"
        );
        // 60 s fails once (within failureLimit 1), 90 s fails again: the run fails.
        run(&sim, 41, 100);
        let r = stored_run(&sim);
        assert_eq!(r["status"]["phase"], "Failed");
        assert_eq!(
            r["status"]["message"],
            "Metric \"error-rate\" assessed Failed due to failed (2) > failureLimit (1)"
        );
        let measurements = r["status"]["metricResults"][0]["measurements"]
            .as_array()
            .unwrap();
        assert_eq!(measurements.len(), 4);
        assert_eq!(measurements[3]["value"], "[0.3]");
        let failed = events(&sim, "AnalysisRunFailed");
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0]["type"], "Warning");
        assert_eq!(failed[0]["message"], "Analysis Completed. Result: Failed");
        assert_eq!(failed[0]["involvedObject"]["kind"], "AnalysisRun");
        assert_eq!(failed[0]["involvedObject"]["uid"], r["metadata"]["uid"]);
        assert_eq!(failed[0]["source"]["component"], "rollouts-controller");
        assert_eq!(events(&sim, "MetricFailed").len(), 1);
        // A completed run is not written again.
        let rv = r["metadata"]["resourceVersion"].clone();
        run(&sim, 101, 200);
        assert_eq!(stored_run(&sim)["metadata"]["resourceVersion"], rv);
    }

    #[test]
    fn a_terminate_written_by_the_rollout_controller_ends_the_run() {
        let sim = sim_with(
            &[template(), analysis_run()],
            answers(&[(0, Answer::Value(0.01))]),
        );
        run(&sim, 0, 10);
        let target = crate::sim::scenario::Target {
            resource: Kind::AnalysisRun.resource(),
            namespace: "shop".into(),
            name: "web-6d4f8c-2-1".into(),
        };
        // The Rollout controller's cancel (rollout/analysis.go `cancelAnalysisRuns`).
        sim.merge_patch(&target, &json!({"spec": {"terminate": true}}))
            .unwrap();
        run(&sim, 11, 12);
        let r = stored_run(&sim);
        assert_eq!(r["status"]["phase"], "Successful");
        assert_eq!(r["status"]["message"], "Run Terminated");
        assert_eq!(r["status"]["metricResults"][0]["count"], 1);
        assert_eq!(events(&sim, "AnalysisRunSuccessful").len(), 1);
    }
}
