//! The model stepped tick by tick on objects built in Rust, checked against Kubernetes'
//! rules at key moments.

use std::time::Duration;

use serde_json::{Value, json};

use super::inputs::{Exit, ModelInputs, PodBehaviour};
use crate::sim::{Scenario, SimHandle};

const BASE: &str = "name: model-test\ndescription: model test\nend: 10m\nstart: 2026-01-01T00:00:00Z\nobjects:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: shop}}\n";

pub(super) fn sim_with(objects: &[Value], inputs: ModelInputs) -> SimHandle {
    let scenario = Scenario::parse(BASE, "model-test").unwrap();
    let sim = SimHandle::with_model(scenario, 1.0, inputs).unwrap();
    for o in objects {
        sim.apply(o.clone()).unwrap();
    }
    sim
}

/// Ticks from `from` to `to` seconds of scenario time.
pub(super) fn run(sim: &SimHandle, from: u64, to: u64) {
    for s in from..=to {
        sim.tick_model(sim.clock().at(Duration::from_secs(s)));
    }
}

pub(super) fn list(sim: &SimHandle, av: &str, kind: &str) -> Vec<Value> {
    sim.list_objects(av, kind, Some("shop"))
        .into_iter()
        .map(|o| (*o).clone())
        .collect()
}

pub(super) fn events(sim: &SimHandle, reason: &str) -> Vec<Value> {
    list(sim, "v1", "Event")
        .into_iter()
        .filter(|e| e["reason"] == reason)
        .collect()
}

fn replica_set(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-abc", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": image}]}},
        },
    })
}

#[test]
fn a_replica_set_gets_ready_pods() {
    let sim = sim_with(&[replica_set(3, "acme/web:v1")], ModelInputs::default());
    run(&sim, 0, 0);
    let pods = list(&sim, "v1", "Pod");
    assert_eq!(pods.len(), 3);
    let rs = &list(&sim, "apps/v1", "ReplicaSet")[0];
    for p in &pods {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["uid"].clone(), owner["controller"].clone()),
            (rs["metadata"]["uid"].clone(), json!(true))
        );
        assert!(
            p["metadata"]["name"]
                .as_str()
                .unwrap()
                .starts_with("web-abc-")
        );
    }
    assert_eq!(events(&sim, "SuccessfulCreate").len(), 3);
    // Started at 1 s, ready 2 s later.
    run(&sim, 1, 2);
    assert_eq!(
        list(&sim, "apps/v1", "ReplicaSet")[0]["status"]["readyReplicas"],
        0
    );
    run(&sim, 3, 3);
    let rs = &list(&sim, "apps/v1", "ReplicaSet")[0];
    assert_eq!(rs["status"]["availableReplicas"], 3);
    assert_eq!(events(&sim, "Started").len(), 3);
    assert_eq!(
        events(&sim, "Scheduled")[0]["source"]["component"],
        "default-scheduler"
    );
    // Scale down: two pods go, with their Events.
    sim.merge_patch(
        &crate::sim::Target {
            resource: super::world::Kind::ReplicaSet.resource(),
            namespace: "shop".into(),
            name: "web-abc".into(),
        },
        &json!({"spec": {"replicas": 1}}),
    )
    .unwrap();
    run(&sim, 4, 4);
    assert_eq!(list(&sim, "v1", "Pod").len(), 1);
    assert_eq!(events(&sim, "SuccessfulDelete").len(), 2);
    // Quiet ticks write nothing.
    let rv = sim.resource_version();
    run(&sim, 5, 8);
    assert_eq!(sim.resource_version(), rv);
}

#[test]
fn a_crash_loop_backs_off_with_events() {
    let mut inputs = ModelInputs::default();
    inputs.pods.insert(
        "acme/web:v2".into(),
        PodBehaviour::Crash(Exit {
            after: Duration::from_secs(3),
            exit_code: Some(1),
        }),
    );
    let sim = sim_with(&[replica_set(1, "acme/web:v2")], inputs);
    run(&sim, 0, 60);
    let pod = &list(&sim, "v1", "Pod")[0];
    let status = &pod["status"]["containerStatuses"][0];
    // Exits at 4, 17, 40 s (restarts at 14 and 37 s); waiting since 41 s for 40 s.
    assert_eq!(status["restartCount"], 2);
    assert_eq!(status["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(status["lastState"]["terminated"]["exitCode"], 1);
    let backoff = events(&sim, "BackOff");
    assert_eq!(backoff.len(), 1, "one Event, its count bumped");
    assert_eq!(backoff[0]["count"], 3);
    assert_eq!(backoff[0]["type"], "Warning");
    let rs = &list(&sim, "apps/v1", "ReplicaSet")[0];
    assert_eq!(rs["status"]["availableReplicas"], 0);
    serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(pod.clone()).unwrap();
}

#[test]
fn a_deployment_runs_its_replica_set() {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "web", "image": "acme/web:v1"}]}},
        },
    });
    let sim = sim_with(&[deployment], ModelInputs::default());
    run(&sim, 0, 5);
    let rs = list(&sim, "apps/v1", "ReplicaSet");
    assert_eq!(rs.len(), 1);
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(rs[0]["metadata"]["name"], format!("web-{hash}"));
    let d = &list(&sim, "apps/v1", "Deployment")[0];
    assert_eq!(d["status"]["availableReplicas"], 2);
    assert_eq!(
        d["status"]["conditions"][1]["reason"],
        "NewReplicaSetAvailable"
    );
    assert_eq!(
        events(&sim, "ScalingReplicaSet")[0]["message"],
        format!("Scaled up replica set web-{hash} from 0 to 2")
    );
    serde_json::from_value::<k8s_openapi::api::apps::v1::Deployment>(d.clone()).unwrap();
    serde_json::from_value::<k8s_openapi::api::apps::v1::ReplicaSet>(rs[0].clone()).unwrap();
}

/// The kubelet and the ReplicaSet controller skip what they found settled, until someone
/// else writes it: a settled pod's status overwritten gets the kubelet's back, and a pod
/// deleted under a quiet ReplicaSet is replaced.
#[test]
fn settled_objects_written_by_others_are_reconciled_again() {
    let sim = sim_with(&[replica_set(2, "acme/web:v1")], ModelInputs::default());
    run(&sim, 0, 20);
    let pods = list(&sim, "v1", "Pod");
    let settled = pods[0].clone();
    assert_eq!(settled["status"]["phase"], "Running");
    let rv = settled["metadata"]["resourceVersion"].clone();
    run(&sim, 21, 30);
    assert_eq!(
        list(&sim, "v1", "Pod")[0]["metadata"]["resourceVersion"],
        rv,
        "a settled pod is not written again"
    );
    let mut overwritten = settled.clone();
    overwritten["status"] = json!({"phase": "Unknown"});
    sim.apply(overwritten).unwrap();
    run(&sim, 31, 31);
    let back = list(&sim, "v1", "Pod")[0].clone();
    assert_eq!(back["status"], settled["status"]);
    let target = |kind: super::world::Kind, name: &str| crate::sim::Target {
        resource: kind.resource(),
        namespace: "shop".into(),
        name: name.into(),
    };
    let name = pods[1]["metadata"]["name"].as_str().unwrap();
    sim.delete(&target(super::world::Kind::Pod, name)).unwrap();
    run(&sim, 32, 32);
    let pods = list(&sim, "v1", "Pod");
    assert_eq!(pods.len(), 2, "the quiet ReplicaSet replaces its pod");
    assert!(pods.iter().all(|p| p["metadata"]["name"] != name));
    run(&sim, 33, 40);
    let rs = &list(&sim, "apps/v1", "ReplicaSet")[0];
    assert_eq!(rs["status"]["readyReplicas"], 2);
}
