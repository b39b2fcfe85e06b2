//! The Rollout controller stepped through stories, its objects checked against Argo's rules
//! at key moments: phase and message, conditions, ReplicaSet sizes, Service selectors and
//! the Events Argo records.

use std::time::Duration;

use serde_json::{Value, json};

use super::inputs::{Exit, ModelAction, ModelInputs, PodBehaviour, Release, RolloutRef};
use super::tests::{events, list, run, sim_with};
use crate::rollout::actions::Action;
use crate::sim::SimHandle;

fn rollout(strategy: Value) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "acme/web:v1"}]}},
            "strategy": strategy,
        },
    })
}

fn service(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
}

fn canary_steps() -> Value {
    json!({"canary": {
        "canaryService": "web-canary", "stableService": "web-stable",
        "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "30s"}}],
    }})
}

fn ro(sim: &SimHandle) -> Value {
    list(sim, "argoproj.io/v1alpha1", "Rollout").remove(0)
}

/// Spec replicas of each ReplicaSet, by image.
fn sizes(sim: &SimHandle) -> Vec<(String, i64, i64)> {
    let mut v: Vec<_> = list(sim, "apps/v1", "ReplicaSet")
        .iter()
        .map(|rs| {
            (
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
                rs["status"]["availableReplicas"].as_i64().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

fn condition(ro: &Value, kind: &str) -> (String, String) {
    let c = ro["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == kind)
        .unwrap();
    (
        c["status"].as_str().unwrap().into(),
        c["reason"].as_str().unwrap().into(),
    )
}

fn release(sim: &SimHandle, image: &str, at: u64) {
    let action = ModelAction::Release(Release {
        rollout: RolloutRef {
            namespace: "shop".into(),
            name: "web".into(),
        },
        container: "web".into(),
        image: image.into(),
    });
    sim.model_action(&action, sim.clock().at(Duration::from_secs(at)))
        .unwrap();
}

fn messages(sim: &SimHandle, reason: &str) -> Vec<String> {
    let mut v: Vec<String> = events(sim, reason)
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_canary_goes_step_by_step_to_healthy() {
    let objects = [
        rollout(canary_steps()),
        service("web-canary"),
        service("web-stable"),
    ];
    let sim = sim_with(&objects, ModelInputs::default());
    run(&sim, 0, 10);
    let r = ro(&sim);
    assert_eq!(
        (
            r["status"]["phase"].as_str(),
            r["status"]["message"].as_str()
        ),
        (Some("Healthy"), Some(""))
    );
    assert_eq!(
        condition(&r, "Progressing"),
        ("True".into(), "NewReplicaSetAvailable".into())
    );
    assert_eq!(condition(&r, "Healthy").0, "True");
    assert_eq!(condition(&r, "Completed").0, "True");
    assert_eq!(r["status"]["currentStepIndex"], 4);
    assert_eq!(r["status"]["observedGeneration"], "1");
    let stable = r["status"]["stableRS"].as_str().unwrap().to_string();
    assert_eq!(sizes(&sim), [("acme/web:v1".into(), 5, 5)]);
    assert_eq!(
        list(&sim, "v1", "Service")[1]["spec"]["selector"]["rollouts-pod-template-hash"],
        stable.as_str()
    );
    assert_eq!(
        messages(&sim, "RolloutCompleted"),
        [format!(
            "Rollout completed update to revision 1 ({stable}): Initial deploy"
        )]
    );

    // The release: 20 % of 5 is one canary pod beside 5 stable (maxSurge 25 % → 2).
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 11);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Progressing");
    assert_eq!(
        r["metadata"]["annotations"]["rollout.argoproj.io/revision"],
        "2"
    );
    run(&sim, 12, 20);
    let r = ro(&sim);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 4, 4), ("acme/web:v2".into(), 1, 1)]
    );
    assert_eq!(
        (
            r["status"]["phase"].as_str(),
            r["status"]["message"].as_str()
        ),
        (Some("Paused"), Some("CanaryPauseStep"))
    );
    assert_eq!(r["status"]["currentStepIndex"], 1);
    assert_eq!(condition(&r, "Paused").0, "True");
    assert_eq!(
        condition(&r, "Progressing"),
        ("Unknown".into(), "RolloutPaused".into())
    );
    assert_eq!(
        messages(&sim, "RolloutPaused"),
        ["Rollout is paused (CanaryPauseStep)"]
    );
    assert!(
        messages(&sim, "RolloutStepCompleted")
            .contains(&"Rollout step 1/4 completed (setWeight: 20)".to_string())
    );
    let canary_hash = r["status"]["currentPodHash"].as_str().unwrap().to_string();
    let services = list(&sim, "v1", "Service");
    assert_eq!(
        services[0]["spec"]["selector"]["rollouts-pod-template-hash"],
        canary_hash.as_str()
    );
    assert_eq!(
        services[0]["metadata"]["annotations"]["argo-rollouts.argoproj.io/managed-by-rollouts"],
        "web"
    );

    // Held while paused.
    run(&sim, 21, 200);
    assert_eq!(ro(&sim)["status"]["phase"], "Paused");

    // promote: on to 50 %, then the 30 s pause runs out by itself, then 100 %.
    sim.operator_action("shop", "web", Action::Promote { full: false })
        .unwrap();
    run(&sim, 201, 215);
    let r = ro(&sim);
    assert_eq!(r["status"]["currentStepIndex"], 3, "{}", r["status"]);
    // 50 % of 5: 3 canary beside 3 stable (the surge replica makes it exact).
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 3, 3), ("acme/web:v2".into(), 3, 3)]
    );
    run(&sim, 216, 280);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Healthy", "{}", r["status"]);
    assert_eq!(r["status"]["stableRS"], canary_hash.as_str());
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 0, 0), ("acme/web:v2".into(), 5, 5)]
    );
    assert!(messages(&sim, "RolloutCompleted").contains(&format!(
        "Rollout completed update to revision 2 ({canary_hash}): Completed all 4 canary steps"
    )));
    let scaling = messages(&sim, "ScalingReplicaSet");
    assert!(
        scaling
            .iter()
            .any(|m| m.starts_with("Scaled down ReplicaSet web-") && m.ends_with(" to 0")),
        "{scaling:?}"
    );
    for o in list(&sim, "argoproj.io/v1alpha1", "Rollout") {
        for c in o["status"]["conditions"].as_array().unwrap() {
            assert!(c["lastTransitionTime"].is_string() && c["lastUpdateTime"].is_string());
        }
    }
}

#[test]
fn an_abort_returns_traffic_and_pods_to_stable() {
    let objects = [
        rollout(canary_steps()),
        service("web-canary"),
        service("web-stable"),
    ];
    let sim = sim_with(&objects, ModelInputs::default());
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 20);
    sim.operator_action("shop", "web", Action::Abort).unwrap();
    run(&sim, 21, 40);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Degraded");
    assert_eq!(
        r["status"]["message"],
        "RolloutAborted: Rollout aborted update to revision 2"
    );
    assert_eq!(
        condition(&r, "Progressing"),
        ("False".into(), "RolloutAborted".into())
    );
    assert_eq!(r["status"]["currentStepIndex"], 0);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 5, 5), ("acme/web:v2".into(), 0, 0)]
    );
    let stable = r["status"]["stableRS"].as_str().unwrap();
    for svc in list(&sim, "v1", "Service") {
        assert_eq!(
            svc["spec"]["selector"]["rollouts-pod-template-hash"],
            stable
        );
    }
    assert_eq!(events(&sim, "RolloutAborted")[0]["type"], "Warning");
    // retry: the canary starts over.
    sim.operator_action("shop", "web", Action::Retry).unwrap();
    run(&sim, 41, 60);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Paused", "{}", r["status"]);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 4, 4), ("acme/web:v2".into(), 1, 1)]
    );
}

#[test]
fn a_crash_looping_canary_exceeds_its_progress_deadline() {
    let mut inputs = ModelInputs::default();
    inputs.pods.insert(
        "acme/web:v2".into(),
        PodBehaviour::Crash(Exit {
            after: Duration::from_secs(1),
            exit_code: None,
        }),
    );
    let mut r = rollout(canary_steps());
    r["spec"]["progressDeadlineSeconds"] = json!(60);
    let sim = sim_with(&[r, service("web-canary"), service("web-stable")], inputs);
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 120);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Degraded", "{}", r["status"]);
    let hash = r["status"]["currentPodHash"].as_str().unwrap();
    assert_eq!(
        r["status"]["message"],
        format!("ProgressDeadlineExceeded: ReplicaSet \"web-{hash}\" has timed out progressing.")
    );
    assert_eq!(
        r["status"]["abort"],
        Value::Null,
        "progressDeadlineAbort is false"
    );
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 4, 4), ("acme/web:v2".into(), 1, 0)]
    );
    let pods = list(&sim, "v1", "Pod");
    assert!(pods.iter().any(
        |p| p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    ));

    // With progressDeadlineAbort the same story aborts.
    let mut inputs = ModelInputs::default();
    inputs.pods.insert(
        "acme/web:v2".into(),
        PodBehaviour::Crash(Exit {
            after: Duration::from_secs(1),
            exit_code: None,
        }),
    );
    let mut r = rollout(canary_steps());
    r["spec"]["progressDeadlineSeconds"] = json!(60);
    r["spec"]["progressDeadlineAbort"] = json!(true);
    let sim = sim_with(&[r, service("web-canary"), service("web-stable")], inputs);
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 120);
    let r = ro(&sim);
    assert_eq!(r["status"]["abort"], true, "{}", r["status"]);
    assert_eq!(r["status"]["phase"], "Degraded");
    assert!(
        r["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("RolloutAborted: Rollout aborted update to revision 2: ReplicaSet")
    );
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 5, 5), ("acme/web:v2".into(), 0, 0)]
    );
}

#[test]
fn ten_percent_of_twelve_runs_one_canary() {
    let mut r = rollout(json!({"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}}));
    r["spec"]["replicas"] = json!(12);
    let sim = sim_with(&[r], ModelInputs::default());
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 40);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 11, 11), ("acme/web:v2".into(), 1, 1)]
    );
    assert_eq!(ro(&sim)["status"]["phase"], "Paused");
}

#[test]
fn a_stopped_controller_observes_nothing_and_a_lag_delays_it() {
    let sim = sim_with(&[rollout(canary_steps())], ModelInputs::default());
    run(&sim, 0, 10);
    let t = |s| sim.clock().at(Duration::from_secs(s));
    sim.model_action(
        &ModelAction::Controller(super::inputs::ControllerAction::Lag(Duration::from_secs(5))),
        t(10),
    )
    .unwrap();
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 14);
    let r = ro(&sim);
    assert_eq!(
        (
            r["metadata"]["generation"].clone(),
            r["status"]["observedGeneration"].clone()
        ),
        (json!(2), json!("1"))
    );
    assert_eq!(
        r["status"]["phase"], "Healthy",
        "the stored phase is stale while lagging"
    );
    run(&sim, 15, 17);
    assert_eq!(ro(&sim)["status"]["observedGeneration"], "2");
    sim.model_action(
        &ModelAction::Controller(super::inputs::ControllerAction::Stop),
        t(18),
    )
    .unwrap();
    sim.operator_action("shop", "web", Action::Abort).unwrap();
    run(&sim, 18, 60);
    assert_ne!(ro(&sim)["status"]["phase"], "Degraded");
    sim.model_action(
        &ModelAction::Controller(super::inputs::ControllerAction::Start),
        t(61),
    )
    .unwrap();
    run(&sim, 61, 62);
    assert_eq!(ro(&sim)["status"]["phase"], "Degraded");
}

#[test]
fn blue_green_waits_for_promotion_then_switches() {
    let strategy = json!({"blueGreen": {
        "activeService": "web-active", "previewService": "web-preview",
        "autoPromotionEnabled": false, "scaleDownDelaySeconds": 30,
    }});
    let mut r = rollout(strategy);
    r["spec"]["replicas"] = json!(3);
    let sim = sim_with(
        &[r, service("web-active"), service("web-preview")],
        ModelInputs::default(),
    );
    run(&sim, 0, 10);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Healthy", "{}", r["status"]);
    let blue = r["status"]["stableRS"].as_str().unwrap().to_string();
    assert_eq!(r["status"]["blueGreen"]["activeSelector"], blue.as_str());
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 30);
    let r = ro(&sim);
    let green = r["status"]["currentPodHash"].as_str().unwrap().to_string();
    assert_eq!(
        (
            r["status"]["phase"].as_str(),
            r["status"]["message"].as_str()
        ),
        (Some("Paused"), Some("BlueGreenPause")),
        "{}",
        r["status"]
    );
    assert_eq!(r["status"]["blueGreen"]["previewSelector"], green.as_str());
    assert_eq!(r["status"]["blueGreen"]["activeSelector"], blue.as_str());
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 3, 3), ("acme/web:v2".into(), 3, 3)]
    );
    sim.operator_action("shop", "web", Action::Promote { full: false })
        .unwrap();
    run(&sim, 31, 40);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Healthy", "{}", r["status"]);
    assert_eq!(r["status"]["blueGreen"]["activeSelector"], green.as_str());
    assert!(messages(&sim, "SwitchService").contains(&format!(
        "Switched selector for service 'web-active' from '{blue}' to '{green}'"
    )));
    // The old ReplicaSet stays up for scaleDownDelaySeconds, then goes.
    assert_eq!(sizes(&sim)[0].1, 3);
    run(&sim, 41, 80);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 0, 0), ("acme/web:v2".into(), 3, 3)]
    );
}

/// A 2-replica blue-green Rollout of `strategy` with its active and preview Services.
fn blue_green_of_two(strategy: Value) -> SimHandle {
    let mut r = rollout(strategy);
    r["spec"]["replicas"] = json!(2);
    sim_with(
        &[r, service("web-active"), service("web-preview")],
        ModelInputs::default(),
    )
}

#[test]
fn blue_green_keeps_at_most_scale_down_delay_revision_limit_old_replica_sets() {
    // rollout/replicaset.go scaleDownDelayHelper: old ReplicaSets newest first; the first
    // scaleDownDelayRevisionLimit of them wait out scaleDownDelaySeconds, the rest go to 0
    // at once, deadline or not.
    let strategy = json!({"blueGreen": {
        "activeService": "web-active", "previewService": "web-preview",
        "scaleDownDelaySeconds": 300, "scaleDownDelayRevisionLimit": 1,
    }});
    let sim = blue_green_of_two(strategy);
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 30);
    // v1 waits out its delay beside the promoted v2.
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 2, 2), ("acme/web:v2".into(), 2, 2)]
    );
    release(&sim, "acme/web:v3", 31);
    run(&sim, 31, 60);
    // v3 promoted: v2 (the newest old one) waits, v1 is over the limit and goes now, long
    // before its 300 s deadline.
    assert_eq!(
        sizes(&sim),
        [
            ("acme/web:v1".into(), 0, 0),
            ("acme/web:v2".into(), 2, 2),
            ("acme/web:v3".into(), 2, 2)
        ]
    );
}

#[test]
fn blue_green_with_no_scale_down_delay_keeps_the_old_replica_set_as_argo_does() {
    // rollout/replicaset.go: scaleDownDelayHelper keeps an old ReplicaSet without a deadline at
    // its size and asks addScaleDownDelay for one, which with 0 s sets none; so the old
    // ReplicaSet is never scaled down by the delay (argoproj/argo-rollouts#1992), only by
    // scaleDownDelayRevisionLimit once a newer old one takes its place.
    let strategy = json!({"blueGreen": {
        "activeService": "web-active", "previewService": "web-preview",
        "scaleDownDelaySeconds": 0, "scaleDownDelayRevisionLimit": 1,
    }});
    let sim = blue_green_of_two(strategy);
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 120);
    let r = ro(&sim);
    assert_eq!(r["status"]["phase"], "Healthy", "{}", r["status"]);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 2, 2), ("acme/web:v2".into(), 2, 2)]
    );
    release(&sim, "acme/web:v3", 121);
    run(&sim, 121, 200);
    assert_eq!(
        sizes(&sim),
        [
            ("acme/web:v1".into(), 0, 0),
            ("acme/web:v2".into(), 2, 2),
            ("acme/web:v3".into(), 2, 2)
        ]
    );
}

/// Argo reads a string pause duration with Go's `time.ParseDuration` (`RolloutPause.DurationSeconds`):
/// `1.5m` is 90 s and `1h30m` 5400 s, truncated to whole seconds.
#[test]
fn pause_durations_are_go_durations() {
    use super::canary::pause_seconds;
    assert_eq!(pause_seconds(&json!("1.5m")), Some(90));
    assert_eq!(pause_seconds(&json!("1h30m")), Some(5400));
    assert_eq!(pause_seconds(&json!("1500ms")), Some(1));
    assert_eq!(pause_seconds(&json!("45")), Some(45));
    assert_eq!(pause_seconds(&json!(20)), Some(20));
    assert_eq!(pause_seconds(&json!("2 days")), None);
}

/// An abort under traffic routing with dynamicStableScale (trafficrouting.go
/// calculateDesiredWeightOnAbortOrStableRollback, canary.go CalculateReplicaCountsForTrafficRoutedCanary):
/// the weights stay in the status while the stable is too small to take the traffic (the
/// controller starts each reconcile from them), the canary keeps the pods its weight still
/// needs, and once the weight is 0 the canary Service is back on the stable ReplicaSet.
#[test]
fn a_dynamic_abort_drains_the_canary_behind_its_traffic() {
    let mut r = rollout(json!({"canary": {
        "canaryService": "web-canary", "stableService": "web-stable",
        "dynamicStableScale": true,
        "trafficRouting": {"istio": {"virtualService": {"name": "web", "routes": ["primary"]}}},
        "steps": [{"setWeight": 20}, {"pause": {"duration": 5}}, {"setWeight": 50}, {"pause": {}}, {"setWeight": 80}],
    }}));
    r["spec"]["replicas"] = json!(10);
    let objects = [r, service("web-canary"), service("web-stable")];
    let sim = sim_with(&objects, ModelInputs::default());
    run(&sim, 0, 10);
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 60);
    assert_eq!(
        ro(&sim)["status"]["canary"]["weights"]["canary"]["weight"],
        50
    );
    sim.operator_action("shop", "web", Action::Abort).unwrap();
    let mut weights_seen = Vec::new();
    for s in 61..=100 {
        run(&sim, s, s);
        let r = ro(&sim);
        let weight = &r["status"]["canary"]["weights"]["canary"]["weight"];
        assert!(
            weight.is_i64(),
            "at {s}s the weights are gone: {}",
            r["status"]
        );
        let weight = weight.as_i64().unwrap();
        if weights_seen.last() != Some(&weight) {
            weights_seen.push(weight);
        }
        let canary = sizes(&sim)
            .into_iter()
            .find(|(image, ..)| image == "acme/web:v2")
            .unwrap();
        // ceil(10 x weight %) canary pods while the weight sends them traffic.
        assert!(
            canary.1 * 10 >= weight,
            "at {s}s the canary has {} pods for weight {weight}",
            canary.1
        );
    }
    assert_eq!(weights_seen, [50, 20, 0]);
    assert_eq!(
        sizes(&sim),
        [("acme/web:v1".into(), 10, 10), ("acme/web:v2".into(), 0, 0)]
    );
    let stable = ro(&sim)["status"]["stableRS"].as_str().unwrap().to_string();
    for svc in list(&sim, "v1", "Service") {
        assert_eq!(
            svc["spec"]["selector"]["rollouts-pod-template-hash"], stable,
            "{}",
            svc["metadata"]["name"]
        );
    }
}

#[test]
fn blue_green_switches_once_its_pre_promotion_run_succeeds() {
    // rollout/service.go reconcileActiveService: CompletedBlueGreenPause (autoPromotionEnabled,
    // no autoPromotionSeconds) and completedPrePromotionAnalysis, which reads the current run
    // itself (c.currentArs): Successful, so the active Service switches.
    let strategy = json!({"blueGreen": {
        "activeService": "web-active", "previewService": "web-preview",
        "prePromotionAnalysis": {"templates": [{"templateName": "errors"}]},
    }});
    let mut r = rollout(strategy);
    r["spec"]["replicas"] = json!(2);
    let template = json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisTemplate",
        "metadata": {"name": "errors", "namespace": "shop"},
        "spec": {"metrics": [{"name": "errors", "interval": "5s", "count": 2,
            "successCondition": "result[0] < 0.05",
            "provider": {"prometheus": {"query": "errors"}}}]}});
    let inputs = ModelInputs {
        metrics: vec![super::inputs::MetricAnswer {
            metric: "errors".into(),
            from: Duration::ZERO,
            answer: super::inputs::Answer::Value(0.0),
        }],
        ..ModelInputs::default()
    };
    let sim = sim_with(
        &[r, service("web-active"), service("web-preview"), template],
        inputs,
    );
    run(&sim, 0, 10);
    let blue = ro(&sim)["status"]["stableRS"].as_str().unwrap().to_string();
    release(&sim, "acme/web:v2", 11);
    run(&sim, 11, 60);
    let r = ro(&sim);
    assert_eq!(
        r["status"]["blueGreen"]["prePromotionAnalysisRunStatus"]["status"], "Successful",
        "{}",
        r["status"]
    );
    let green = r["status"]["currentPodHash"].as_str().unwrap();
    assert_ne!(green, blue);
    assert_eq!(
        r["status"]["blueGreen"]["activeSelector"], green,
        "{}",
        r["status"]
    );
    assert_eq!(r["status"]["phase"], "Healthy", "{}", r["status"]);
}
