//! The data-plane observer against the real simulator: its timeline matches the scenario's
//! own changes (no missing scale step, no duplicate), through an API restart with a 410 relist.

mod observe_harness;

use std::collections::BTreeMap;
use std::time::Duration;

use observe_harness::{Record, Sim, observe, wait_for};
use warroom::channel::Kind;
use warroom::observe::data_plane::{self, DataPlaneConfig};
use warroom::sim::resource::RESOURCES;
use warroom::sim::{Action, Scenario};

const SPEED: f64 = 20.0;

/// What the scenario does to ReplicaSets and Pods, as the rows the observer should write:
/// (object, change), in scenario order.
fn expected_rows(scenario: &Scenario) -> Vec<(String, String)> {
    let mut replicas: BTreeMap<String, i64> = BTreeMap::new();
    for o in &scenario.objects {
        if RESOURCES[o.resource].kind == "ReplicaSet" {
            let name = o.template["metadata"]["name"].as_str().unwrap().to_string();
            replicas.insert(name, o.template["spec"]["replicas"].as_i64().unwrap_or(0));
        }
    }
    let mut rows = Vec::new();
    for step in &scenario.steps {
        match &step.action {
            Action::Apply(o) => {
                let name = o.template["metadata"]["name"].as_str().unwrap().to_string();
                match RESOURCES[o.resource].kind {
                    "ReplicaSet" => {
                        let n = o.template["spec"]["replicas"].as_i64().unwrap_or(0);
                        replicas.insert(name.clone(), n);
                        rows.push((
                            format!("ReplicaSet `{name}`"),
                            format!("created at replicas {n}"),
                        ));
                    }
                    "Pod" => rows.push((format!("Pod `{name}`"), "created".to_string())),
                    _ => {}
                }
            }
            Action::Patch { target, merge } if RESOURCES[target.resource].kind == "ReplicaSet" => {
                if let Some(n) = merge["spec"]["replicas"].as_i64() {
                    let before = replicas.insert(target.name.clone(), n).unwrap_or(0);
                    if before != n {
                        rows.push((
                            format!("ReplicaSet `{}`", target.name),
                            format!("scaled {before} → {n}"),
                        ));
                    }
                }
            }
            Action::Delete(target) if RESOURCES[target.resource].kind == "Pod" => {
                rows.push((format!("Pod `{}`", target.name), "deleted".to_string()));
            }
            _ => {}
        }
    }
    rows
}

/// The (object, change) rows of the observer's window tables.
fn posted_rows(bodies: &[String]) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    for body in bodies {
        if !body.contains("change(s)**") {
            continue;
        }
        for line in body
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| object"))
        {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            if cells.len() == 2 {
                rows.push((cells[0].to_string(), cells[1].to_string()));
            }
        }
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeline_matches_the_scenario_through_a_restart_and_a_410() {
    let scenario = Scenario::resolve("healthy").unwrap();
    let expected = expected_rows(&scenario);
    assert!(expected.iter().any(|(_, c)| c.starts_with("scaled")));
    // Slower than the others: a change made while the API is down (or while a watcher backs
    // off) is reported as one net change after the relist, so the restart must fall in a
    // quiet stretch of the scenario.
    let sim = Sim::start(scenario, 10.0).await;
    let client = sim.client().await;
    let record = Record::new();
    let config = DataPlaneConfig::new("shop", Some("app=web".into()), Duration::from_millis(500));
    observe(
        &record,
        "data-plane",
        |out, cancel| data_plane::run(client, config, out, cancel),
        async {
            wait_for(&record, "data-plane", "baseline of namespace `shop`").await;
            wait_for(&record, "data-plane", "scaled 5 → 4").await;
            sim.sim.compact();
            sim.sim.restart_api(Duration::from_millis(300));
            wait_for(&record, "data-plane", "Kubernetes API is back").await;
            sim.finished().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        },
    )
    .await
    .unwrap();
    sim.stop().await;

    let entries = record.entries();
    let bodies: Vec<String> = entries.iter().map(|e| e.body.clone()).collect();
    assert!(bodies[0].starts_with("**baseline of namespace `shop`** (selector `app=web`)"));
    assert!(
        bodies[0].contains("| `web-5d8f7c9b6a` | 5 | 5 |"),
        "{}",
        bodies[0]
    );
    assert!(bodies[0].contains("| node-a |"), "{}", bodies[0]);
    let lost = bodies
        .iter()
        .filter(|b| b.contains("lost the Kubernetes API"))
        .count();
    let back = bodies
        .iter()
        .filter(|b| b.contains("Kubernetes API is back"))
        .count();
    assert_eq!((lost, back), (1, 1), "{bodies:#?}");

    let posted = posted_rows(&bodies);
    // Every expected change is posted exactly once, in order per object.
    for (object, change) in &expected {
        let n = posted
            .iter()
            .filter(|(o, c)| o == object && c.starts_with(change.as_str()))
            .count();
        assert_eq!(
            n, 1,
            "{object} {change}: posted {n} times; rows: {posted:#?}"
        );
    }
    let mut last_index: BTreeMap<&str, usize> = BTreeMap::new();
    for (object, change) in &expected {
        let i = posted
            .iter()
            .position(|(o, c)| o == object && c.starts_with(change.as_str()))
            .unwrap();
        if let Some(prev) = last_index.insert(object, i) {
            assert!(prev < i, "{object}: {change} out of order");
        }
    }
    // Nothing about ReplicaSets beyond the scenario's changes.
    let rs_rows = posted
        .iter()
        .filter(|(o, _)| o.starts_with("ReplicaSet"))
        .count();
    let rs_expected = expected
        .iter()
        .filter(|(o, _)| o.starts_with("ReplicaSet"))
        .count();
    assert_eq!(rs_rows, rs_expected, "{posted:#?}");
    // No duplicate rows at all (a relist re-posts nothing).
    let mut seen = std::collections::BTreeSet::new();
    for row in &posted {
        assert!(seen.insert(row), "duplicate row {row:?}");
    }
    assert!(
        entries
            .iter()
            .filter(|e| e.kind == Kind::Alert)
            .all(|e| e.body.contains("lost the Kubernetes API")),
        "a healthy rollout's data plane raises no other alert"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_shows_the_migration_job_the_image_pull_and_the_extra_pods() {
    let sim = Sim::builtin("story-objects", 40.0).await;
    let client = sim.client().await;
    let record = Record::new();
    let config = DataPlaneConfig::new("llm", None, Duration::from_millis(500));
    observe(
        &record,
        "data-plane",
        |out, cancel| data_plane::run(client, config, out, cancel),
        async {
            sim.finished().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        },
    )
    .await
    .unwrap();
    sim.stop().await;
    let bodies: Vec<String> = record.entries().into_iter().map(|e| e.body).collect();
    let all = bodies.join("\n");
    // The workloadRef Deployment's pods beside the Rollout's, in the baseline.
    assert!(all.contains("| `litellm` | 5 | 5 |"), "{}", bodies[0]);
    assert!(
        all.contains("| Job `litellm-migrate-v1-41-3` | started |"),
        "{all}"
    );
    assert!(
        all.contains("| Job `litellm-migrate-v1-41-3` | finished: succeeded"),
        "{all}"
    );
    assert!(all.contains("image pulled in 13.2s"), "{all}");
    assert!(all.contains("Warning ReconcileError"), "{all}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_namespace_is_a_clear_error() {
    let sim = Sim::builtin("healthy", SPEED).await;
    let client = sim.client().await;
    let (tx, _rx) = tokio::sync::mpsc::channel(16);
    let config = DataPlaneConfig::new("nope", None, Duration::from_secs(1));
    let err = data_plane::run(client, config, tx, Default::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("namespace \"nope\" does not exist"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
    sim.stop().await;
}
