//! Every built-in short-form scenario (`warroom sim --list`'s library) played as a user runs
//! it: the real `warroom sim` running the controller model, the three real observers
//! (pipeline, data-plane, and traffic on the scenario's routes) posting to a channel
//! (tests/play_harness). Two things are checked per scenario, one test each so a failure is
//! named:
//!
//! - its written expectation (`expect:` in the scenario): every listed alert fires, every
//!   other alert is a false alarm, every listed resolution is posted and no other;
//! - the model's objects at the end, read with the real kubectl, against Argo Rollouts' rules:
//!   phase and message (utils/rollout/rolloututil.go CalculateRolloutPhase), conditions
//!   (rollout/sync.go calculateRolloutConditions), ReplicaSet sizes
//!   (utils/replicaset/canary.go CalculateReplicaCountsForBasicCanary, worked by hand in
//!   each test's comment), Services' selectors (rollout/service.go) and key Events. The
//!   expected values are derived from Argo's source, never copied from a run.
//!
//! The speed is the highest at which the scenario still means what it says (20 as the
//! held-out set uses; 100 for the hour-long pause). Waits are bounded; no duration is
//! asserted.

mod play_harness;

use std::collections::BTreeSet;

use play_harness::{Plan, Played};
use serde_json::Value;
use warroom::sim::Scenario;

/// Builds the plan from the built-in scenario: its end, the Rollout's namespace, its
/// backend routes as traffic, its `expect:`. `None` (said, not passed) while the expectation
/// still waits on other work (`waits-on:`).
fn plan(name: &str, speed: f64) -> Option<Plan> {
    let scenario = Scenario::resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    let expect = scenario
        .expect
        .clone()
        .unwrap_or_else(|| panic!("{name} has no expect:"));
    if !expect.waits_on.is_empty() {
        println!("{name}: PENDING, waits on {:?}", expect.waits_on);
        return None;
    }
    let namespace = scenario
        .objects
        .iter()
        .find(|o| o.template["kind"] == "Rollout")
        .and_then(|o| o.template["metadata"]["namespace"].as_str())
        .unwrap_or_else(|| panic!("{name}: no Rollout"))
        .to_string();
    let mut plan = Plan::new(name, name, scenario.end, &namespace, speed);
    plan.routes = scenario
        .backend
        .model_routes
        .iter()
        .map(|r| match &r.method {
            Some(m) => format!("{m} {}", r.path),
            None => r.path.clone(),
        })
        .collect();
    let pairs = |list: &[warroom::sim::short::expect::ExpectedAlert]| {
        list.iter()
            .map(|a| (a.detector.clone(), a.object.clone()))
            .collect::<Vec<_>>()
    };
    plan.alerts = pairs(&expect.alerts);
    plan.resolved = pairs(&expect.resolved);
    Some(plan)
}

/// Plays the built-in scenario `name` at `speed`, reads Rollout `rollout`'s objects at the end
/// and checks them with `check`; the played scenario's alerts are compared by
/// [`Played::finish`]. Said, and not played, while the expectation waits on other work.
fn play_and_check(
    name: &str,
    speed: f64,
    rollout: &str,
    check: impl FnOnce(&Played, &mut Objects),
) {
    let Some(plan) = plan(name, speed) else {
        return;
    };
    let played = play_harness::play(plan);
    let mut o = Objects::read(&played, rollout);
    check(&played, &mut o);
    played.finish(o.done());
}

/// The model's objects at the end of a scenario, and what differs from Argo's rules.
struct Objects {
    rollout: Value,
    replica_sets: Vec<Value>,
    events: Vec<Value>,
    problems: Vec<String>,
}

fn owned_by(object: &Value, uid: &Value) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == *uid && r["controller"] == true)
        })
}

fn hash_of(rs: &Value) -> &str {
    rs["metadata"]["labels"]["rollouts-pod-template-hash"]
        .as_str()
        .unwrap_or_default()
}

impl Objects {
    fn read(played: &Played, rollout: &str) -> Objects {
        let ro = played.kubectl(&["get", "rollout", rollout, "-n", played.namespace()]);
        let uid = ro["metadata"]["uid"].clone();
        let replica_sets = played
            .list("replicasets")
            .into_iter()
            .filter(|rs| owned_by(rs, &uid))
            .collect();
        let events = played
            .list("events")
            .into_iter()
            .filter(|e| {
                e["involvedObject"]["kind"] == "Rollout" && e["involvedObject"]["name"] == rollout
            })
            .collect();
        Objects {
            rollout: ro,
            replica_sets,
            events,
            problems: Vec::new(),
        }
    }

    fn status(&self) -> &Value {
        &self.rollout["status"]
    }

    fn fail(&mut self, what: String) {
        self.problems.push(what);
    }

    fn eq(&mut self, what: &str, got: &Value, want: &Value) {
        if got != want {
            self.fail(format!("{what}: {got} where Argo has {want}"));
        }
    }

    fn phase(&mut self, want: &str) {
        let got = self.status()["phase"].clone();
        self.eq("status.phase", &got, &want.into());
    }

    fn message_starts(&mut self, prefix: &str) {
        let got = self.status()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !got.starts_with(prefix) {
            self.fail(format!("status.message {got:?} does not start {prefix:?}"));
        }
    }

    fn condition(&mut self, kind: &str, status: &str, reason: &str) {
        let got = self.status()["conditions"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
            .cloned();
        match got {
            Some(c) if c["status"] == status && c["reason"] == reason => {}
            Some(c) => self.fail(format!(
                "condition {kind} is {} {} ({}) where Argo has {status} {reason}",
                c["status"], c["reason"], c["message"]
            )),
            None => self.fail(format!("no condition {kind} (Argo has {status} {reason})")),
        }
    }

    fn aborted(&mut self, want: bool) {
        let got = self.status()["abort"] == true;
        if got != want {
            self.fail(format!("status.abort is {got} where Argo has {want}"));
        }
    }

    /// The ReplicaSet of the current pod template.
    fn new_rs(&self) -> Option<&Value> {
        let hash = self.status()["currentPodHash"].as_str().unwrap_or_default();
        self.replica_sets.iter().find(|rs| hash_of(rs) == hash)
    }

    fn stable_rs(&self) -> Option<&Value> {
        let hash = self.status()["stableRS"].as_str().unwrap_or_default();
        self.replica_sets.iter().find(|rs| hash_of(rs) == hash)
    }

    /// A ReplicaSet's desired size (spec.replicas) and available pods.
    fn sizes(&mut self, which: &str, rs: Option<Value>, replicas: i64, available: i64) {
        let Some(rs) = rs else {
            return self.fail(format!("no {which} ReplicaSet"));
        };
        let got = (
            rs["spec"]["replicas"].as_i64().unwrap_or(-1),
            rs["status"]["availableReplicas"].as_i64().unwrap_or(0),
        );
        if got != (replicas, available) {
            self.fail(format!(
                "{which} ReplicaSet {} runs {} with {} available where Argo has {replicas} with {available}",
                rs["metadata"]["name"], got.0, got.1
            ));
        }
    }

    /// Every ReplicaSet other than the current one is scaled to 0.
    fn older_scaled_down(&mut self) {
        let hash = self.status()["currentPodHash"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let left: Vec<String> = self
            .replica_sets
            .iter()
            .filter(|rs| hash_of(rs) != hash && rs["spec"]["replicas"].as_i64() != Some(0))
            .map(|rs| format!("{} at {}", rs["metadata"]["name"], rs["spec"]["replicas"]))
            .collect();
        if !left.is_empty() {
            self.fail(format!("older ReplicaSets not scaled down: {left:?}"));
        }
    }

    /// Some Event about the Rollout has `reason` and a message containing `text`.
    fn event(&mut self, kind: &str, reason: &str, text: &str) {
        let found = self.events.iter().any(|e| {
            e["type"] == kind
                && e["reason"] == reason
                && e["message"].as_str().unwrap_or_default().contains(text)
        });
        if !found {
            let have: BTreeSet<String> = self
                .events
                .iter()
                .map(|e| format!("{} {}: {}", e["type"], e["reason"], e["message"]))
                .collect();
            self.fail(format!(
                "no {kind} Event {reason} saying {text:?} about the Rollout; it has {have:#?}"
            ));
        }
    }

    /// No Event about the Rollout has `reason` and a message containing `text`.
    fn no_event(&mut self, reason: &str, text: &str) {
        let found: Vec<String> = self
            .events
            .iter()
            .filter(|e| {
                e["reason"] == reason && e["message"].as_str().unwrap_or_default().contains(text)
            })
            .map(|e| e["message"].to_string())
            .collect();
        if !found.is_empty() {
            self.fail(format!("Event {reason} Argo would not emit: {found:?}"));
        }
    }

    /// A canary or blue-green update promoted in full (promoteStable): Healthy, the current
    /// ReplicaSet stable and at every replica, the RolloutCompleted Event with its reason.
    fn fully_promoted(&mut self, replicas: i64, reason: &str) {
        self.phase("Healthy");
        let (stable, current) = (
            self.status()["stableRS"].clone(),
            self.status()["currentPodHash"].clone(),
        );
        self.eq(
            "status.stableRS (= currentPodHash once promoted)",
            &stable,
            &current,
        );
        self.condition("Progressing", "True", "NewReplicaSetAvailable");
        self.condition("Available", "True", "AvailableReason");
        self.condition("Healthy", "True", "RolloutHealthy");
        self.condition("Completed", "True", "RolloutCompleted");
        self.aborted(false);
        let new = self.new_rs().cloned();
        self.sizes("current", new, replicas, replicas);
        self.older_scaled_down();
        self.event("Normal", "RolloutCompleted", reason);
        self.no_event("RolloutAborted", "");
    }

    fn done(self) -> Vec<String> {
        self.problems
    }
}

/// `status.currentStepIndex`.
fn step_index(o: &Objects) -> Value {
    o.status()["currentStepIndex"].clone()
}

/// The selector hash of a Service.
fn service_hash(played: &Played, name: &str) -> Value {
    let svc = played.kubectl(&["get", "service", name, "-n", played.namespace()]);
    svc["spec"]["selector"]["rollouts-pod-template-hash"].clone()
}

/// Pods of a ReplicaSet.
fn pods_of(played: &Played, rs: &Value) -> Vec<Value> {
    let uid = rs["metadata"]["uid"].clone();
    played
        .list("pods")
        .into_iter()
        .filter(|p| owned_by(p, &uid))
        .collect()
}

fn waiting_reasons(pod: &Value) -> Vec<String> {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["state"]["waiting"]["reason"].as_str().map(str::to_string))
        .collect()
}

fn restarts(pod: &Value) -> i64 {
    pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["restartCount"].as_i64().unwrap_or(0))
        .sum()
}

/// The AnalysisRuns of the Rollout, newest last, as (name, phase).
fn analysis_runs(played: &Played, o: &Objects) -> Vec<(String, String)> {
    let uid = o.rollout["metadata"]["uid"].clone();
    let mut runs: Vec<Value> = played
        .list("analysisruns")
        .into_iter()
        .filter(|r| owned_by(r, &uid))
        .collect();
    runs.sort_by_key(|r| {
        r["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    });
    runs.iter()
        .map(|r| {
            (
                r["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["status"]["phase"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

#[test]
fn healthy_canary_is_promoted_in_full_and_silent() {
    play_and_check("healthy-canary", 20.0, "web", |_, o| {
        // Four steps, all completed (promoteStable sets currentStepIndex to len(steps)); a basic
        // canary scales the old ReplicaSet to 0 as soon as the new one is available.
        o.fully_promoted(5, "Completed all 4 canary steps");
        let index = step_index(o);
        o.eq("status.currentStepIndex", &index, &4.into());
        o.event(
            "Normal",
            "RolloutStepCompleted",
            "Rollout step 4/4 completed (pause: 30s)",
        );
    });
}

#[test]
fn healthy_bluegreen_switches_active_and_is_silent() {
    play_and_check("healthy-bluegreen", 20.0, "web", |played, o| {
        // shouldFullPromote (blue-green): the active selector is the current hash and no
        // post-promotion analysis: "Completed blue-green update". The old ReplicaSet goes to 0
        // scaleDownDelaySeconds (30 s) after the switch, well before the end (4m).
        o.fully_promoted(3, "Completed blue-green update");
        let current = o.status()["currentPodHash"].clone();
        let (active, preview) = (
            o.status()["blueGreen"]["activeSelector"].clone(),
            o.status()["blueGreen"]["previewSelector"].clone(),
        );
        o.eq("status.blueGreen.activeSelector", &active, &current);
        o.eq("status.blueGreen.previewSelector", &preview, &current);
        let active_svc = service_hash(played, "web");
        let preview_svc = service_hash(played, "web-preview");
        o.eq("Service web's selector hash", &active_svc, &current);
        o.eq(
            "Service web-preview's selector hash",
            &preview_svc,
            &current,
        );
        o.event(
            "Normal",
            "SwitchService",
            "Switched selector for service 'web'",
        );
    });
}

#[test]
fn analysis_failed_aborts_the_canary() {
    play_and_check("analysis-failed", 20.0, "web", |played, o| {
        // failureLimit 0: one Failed measurement (0.12 >= 0.05) fails the metric and the run
        // (assessMetricFailureInconclusiveOrError); a Failed step run aborts (rollout/analysis.go
        // "Step-based analysis phase error/failed: " + the run's message). Aborted, a basic canary
        // goes back to 0 canary and 5 stable pods and to step 0.
        o.phase("Degraded");
        o.message_starts(
            "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase \
             error/failed: Metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0)",
        );
        o.aborted(true);
        o.condition("Progressing", "False", "RolloutAborted");
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 0, 0);
        o.sizes("stable", stable, 5, 5);
        let index = step_index(o);
        o.eq("status.currentStepIndex", &index, &0.into());
        o.event(
            "Warning",
            "RolloutAborted",
            "Rollout aborted update to revision 2",
        );
        o.event("Warning", "AnalysisRunFailed", "Status New: 'Failed'");
        let runs = analysis_runs(played, o);
        if runs.last().map(|r| r.1.as_str()) != Some("Failed") {
            o.fail(format!("the step's AnalysisRun is not Failed: {runs:?}"));
        }
    });
}

#[test]
fn analysis_inconclusive_pauses_for_a_human() {
    play_and_check("analysis-inconclusive", 20.0, "web", |played, o| {
        // An empty vector is `[]` (prometheus.go processResponse); both conditions guard
        // `len(result) > 0`, so neither holds: Inconclusive, and inconclusiveLimit 0 ends the run
        // Inconclusive. The Rollout adds the InconclusiveAnalysisRun pause (PauseReasonInconclusiveAnalysis; CalculateRolloutPhase:
        // Paused, the pause reason as message), at step 1 with 1 canary and 4 stable pods.
        o.phase("Paused");
        o.message_starts("InconclusiveAnalysisRun");
        o.aborted(false);
        let reasons = o.status()["pauseConditions"].clone();
        if reasons
            .as_array()
            .is_none_or(|p| !p.iter().any(|c| c["reason"] == "InconclusiveAnalysisRun"))
        {
            o.fail(format!(
                "pauseConditions {reasons} lack InconclusiveAnalysisRun"
            ));
        }
        let index = step_index(o);
        o.eq("status.currentStepIndex", &index, &1.into());
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 1, 1);
        o.sizes("stable", stable, 4, 4);
        o.event(
            "Normal",
            "AnalysisRunInconclusive",
            "Status New: 'Inconclusive'",
        );
        o.no_event("RolloutAborted", "");
        let runs = analysis_runs(played, o);
        if runs.last().map(|r| r.1.as_str()) != Some("Inconclusive") {
            o.fail(format!(
                "the step's AnalysisRun is not Inconclusive: {runs:?}"
            ));
        }
    });
}

/// A canary that never becomes available, progressDeadlineAbort false: Degraded by
/// ProgressDeadlineExceeded (calculateRolloutConditions' timed-out case), no abort, no
/// Warning. 5 replicas at 20 %: 1 canary; maxSurge 2 and maxUnavailable 1 (25 % of 5,
/// rounded up and down); the stable scale-down counts the canary's 0 available pods, so
/// stable goes 5 → 4 (5 > minAvailable 4 by 1) and stays there.
fn stuck_canary(o: &mut Objects) {
    o.phase("Degraded");
    let new_name = o
        .new_rs()
        .map_or(Value::Null, |r| r["metadata"]["name"].clone());
    o.message_starts(&format!(
        "ProgressDeadlineExceeded: ReplicaSet {new_name} has timed out progressing."
    ));
    o.aborted(false);
    o.condition("Progressing", "False", "ProgressDeadlineExceeded");
    let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
    o.sizes("canary", new, 1, 0);
    o.sizes("stable", stable, 4, 4);
    o.no_event("RolloutAborted", "");
    o.no_event("RolloutCompleted", "revision 2");
}

#[test]
fn crashloop_is_degraded_by_the_progress_deadline() {
    play_and_check("crashloop", 20.0, "web", |played, o| {
        stuck_canary(o);
        // The kubelet: restarted on the back-off, CrashLoopBackOff while it waits (at 6m the
        // back-off is 80 s or more, so the pod waits far longer than it runs for 3 s).
        let pods = o.new_rs().map(|rs| pods_of(played, rs)).unwrap_or_default();
        let looping = pods.iter().any(|p| {
            restarts(p) >= 3 && waiting_reasons(p).iter().any(|r| r == "CrashLoopBackOff")
        });
        if !looping {
            let states: Vec<_> = pods
                .iter()
                .map(|p| &p["status"]["containerStatuses"])
                .collect();
            o.fail(format!(
                "no canary pod in CrashLoopBackOff after restarts: {states:?}"
            ));
        }
    });
}

#[test]
fn crashloop_abort_aborts_at_the_progress_deadline() {
    play_and_check("crashloop-abort", 20.0, "web", |_, o| {
        // evaluateProgressDeadlineAbort: timed out, not at an indefinite step, so AddAbort with
        // the timed-out message and a Warning RolloutAborted; aborted, a basic canary scales the
        // canary to 0 and the stable back to 5.
        o.phase("Degraded");
        let new_name = o
            .new_rs()
            .map_or(Value::Null, |r| r["metadata"]["name"].clone());
        o.message_starts(&format!(
            "RolloutAborted: Rollout aborted update to revision 2: ReplicaSet {new_name} has timed \
             out progressing."
        ));
        o.aborted(true);
        o.condition("Progressing", "False", "RolloutAborted");
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 0, 0);
        o.sizes("stable", stable, 5, 5);
        o.event("Warning", "RolloutAborted", "has timed out progressing.");
    });
}

#[test]
fn image_pull_is_degraded_by_the_progress_deadline() {
    play_and_check("image-pull", 20.0, "web", |played, o| {
        stuck_canary(o);
        let pods = o.new_rs().map(|rs| pods_of(played, rs)).unwrap_or_default();
        let pulling = pods.iter().any(|p| {
            waiting_reasons(p)
                .iter()
                .any(|r| r == "ImagePullBackOff" || r == "ErrImagePull")
        });
        if !pulling {
            let states: Vec<_> = pods
                .iter()
                .map(|p| &p["status"]["containerStatuses"])
                .collect();
            o.fail(format!("no canary pod waiting on its image: {states:?}"));
        }
    });
}

#[test]
fn manual_pause_held_an_hour_then_promoted_is_silent() {
    // An hour of scenario time: speed 100 (the clock holds from 1 to 100, issue 10).
    play_and_check("manual-pause", 100.0, "web", |_, o| {
        o.fully_promoted(5, "Completed all 4 canary steps");
        o.event(
            "Normal",
            "RolloutPaused",
            "Rollout is paused (CanaryPauseStep)",
        );
    });
}

#[test]
fn controller_lag_under_the_threshold_is_silent() {
    play_and_check("controller-lag", 20.0, "web", |_, o| {
        o.fully_promoted(5, "Completed all 4 canary steps");
        let (generation, observed) = (
            o.rollout["metadata"]["generation"]
                .as_i64()
                .unwrap_or(0)
                .to_string(),
            o.status()["observedGeneration"].clone(),
        );
        o.eq("status.observedGeneration", &observed, &generation.into());
    });
}

#[test]
fn workloadref_onsuccess_scales_the_deployment_down() {
    play_and_check("workloadref-onsuccess", 20.0, "web", |played, o| {
        // promoteStable: revision 1 Healthy with scaleDown onsuccess scales the Deployment to 0
        // (rollout/sync.go); the release then plays through both steps.
        o.fully_promoted(4, "Completed all 2 canary steps");
        let deployment = played.kubectl(&["get", "deployment", "web", "-n", "shop"]);
        let replicas = deployment["spec"]["replicas"].clone();
        o.eq("Deployment web's spec.replicas", &replicas, &0.into());
        let running = deployment["status"]["replicas"].as_i64().unwrap_or(0);
        if running != 0 {
            o.fail(format!("Deployment web still runs {running} pods"));
        }
    });
}

#[test]
fn selector_reset_alerts_until_the_ci_job_restores_the_hash() {
    play_and_check("selector-reset", 20.0, "web", |played, o| {
        // Paused at `pause: {}` (step 1 of 2) with 1 canary and 4 stable pods. A Service edit
        // that drops the hash does not enqueue the Rollout (service.go syncService returns early
        // without the hash label), so the controller never repairs it while paused: no
        // SwitchService back to the canary hash from ''. The CI job's fixed run puts it back.
        o.phase("Paused");
        o.message_starts("CanaryPauseStep");
        let index = step_index(o);
        o.eq("status.currentStepIndex", &index, &1.into());
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 1, 1);
        o.sizes("stable", stable, 4, 4);
        let (current, stable_hash) = (
            o.status()["currentPodHash"].clone(),
            o.status()["stableRS"].clone(),
        );
        let canary_svc = service_hash(played, "web-canary");
        let stable_svc = service_hash(played, "web");
        o.eq("Service web-canary's selector hash", &canary_svc, &current);
        o.eq("Service web's selector hash", &stable_svc, &stable_hash);
        let repair = format!(
            "Switched selector for service 'web-canary' from '' to '{}'",
            current.as_str().unwrap_or_default()
        );
        if o.events.iter().any(|e| e["message"] == repair.as_str()) {
            o.fail(format!(
                "the controller repaired the selector while paused: {repair}"
            ));
        }
    });
}

#[test]
fn awkward_weights_run_1_canary_and_11_stable() {
    play_and_check("awkward-weights", 20.0, "web", |_, o| {
        // approximateWeightedCanaryStableReplicaCounts(12, 10, 100, maxSurge 3): options
        // (2 of 12) 16.7 %, (1 of 12) 8.3 %, (2 of 13) 15.4 %, (1 of 13) 7.7 %: the closest to
        // 10 % is 1 canary, 11 stable. Paused at `pause: {}`.
        o.phase("Paused");
        o.message_starts("CanaryPauseStep");
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 1, 1);
        o.sizes("stable", stable, 11, 11);
    });
}

#[test]
fn blind_4xx_is_promoted_while_the_route_fails() {
    play_and_check("blind-4xx", 20.0, "web", |played, o| {
        // Every measurement is 0.0 (< 0.05): the background run stays Running until the update
        // completes, then is terminated, which ends it Successful (analysis.go: a terminated run
        // with no failing metric).
        o.fully_promoted(5, "Completed all 4 canary steps");
        let runs = analysis_runs(played, o);
        if runs.last().map(|r| r.1.as_str()) != Some("Successful") {
            o.fail(format!(
                "the background AnalysisRun is not Successful: {runs:?}"
            ));
        }
    });
}

#[test]
fn story_four_failures() {
    play_and_check("story", 20.0, "litellm", |played, o| {
        // `result[0]` of an empty vector is an Error measurement; after 5 in a row
        // (consecutiveErrors (5) > consecutiveErrorLimit (4)) the metric and the run are Error and
        // the step analysis aborts the update. workloadRef without scaleDown (never): the
        // Deployment keeps its 5 replicas.
        o.phase("Degraded");
        o.message_starts(
            "RolloutAborted: Rollout aborted update to revision 2: Step-based analysis phase \
             error/failed: Metric \"error-rate\" assessed Error due to consecutiveErrors (5) > \
             consecutiveErrorLimit (4)",
        );
        o.aborted(true);
        o.condition("Progressing", "False", "RolloutAborted");
        let (new, stable) = (o.new_rs().cloned(), o.stable_rs().cloned());
        o.sizes("canary", new, 0, 0);
        o.sizes("stable", stable, 5, 5);
        o.event("Warning", "AnalysisRunError", "Status New: 'Error'");
        let deployment = played.kubectl(&["get", "deployment", "litellm", "-n", "llm"]);
        let replicas = deployment["spec"]["replicas"].clone();
        o.eq("Deployment litellm's spec.replicas", &replicas, &5.into());
    });
}

/// Every scenario `warroom sim --list` prints that has an expectation is played above.
#[test]
fn every_library_scenario_is_played() {
    let source = include_str!("sim_library_play.rs");
    let out = std::process::Command::new(play_harness::BIN)
        .args(["sim", "--list"])
        .output()
        .unwrap();
    for name in String::from_utf8(out.stdout).unwrap().lines() {
        let Ok(scenario) = Scenario::resolve(name) else {
            continue;
        };
        if scenario.expect.is_some() {
            assert!(
                source.contains(&format!("play_and_check(\"{name}\"")),
                "{name} has an expectation but no test here"
            );
        }
    }
}
