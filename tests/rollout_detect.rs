//! `warroom rollout detect` end to end: the real binary over a `--from-dir` snapshot. The
//! story's namespace (a stalled spec, a leaking workloadRef Deployment, a background analysis
//! whose error query counts only 5xx beside a metric with an unindexed condition, empty-vector
//! analysis errors, a canary Service without the pod-template hash, 2 canary pods at 20 % of 5,
//! a controller Warning a minute ago) fires every detector but the replica math, which waits for
//! an observed spec; a healthy canary fires none. Against the real simulator: a workloadRef
//! release the stopped controller never acts on is a spec not observed.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

fn ago(delta: TimeDelta) -> String {
    (Utc::now() - delta).to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The namespace; `broken` switches every story bug on; `pods` is (canary, stable).
fn manifests(broken: bool, pods: (i32, i32)) -> Vec<(&'static str, String)> {
    let stalled = ago(TimeDelta::days(39));
    let recent = ago(TimeDelta::minutes(1));
    let (generation, observed) = if broken { (5, 4) } else { (5, 5) };
    let replicas = 5;
    let (canary_pods, stable_pods) = pods;
    let scale_down = if broken {
        ""
    } else {
        "\n      scaleDown: onsuccess"
    };
    let status_match = if broken {
        r#"status=~"5..""#
    } else {
        r#"status!~"2..|3..""#
    };
    let second_condition = if broken {
        "result < 0.05"
    } else {
        "result[0] < 0.05"
    };
    let selector_hash = if broken {
        ""
    } else {
        ", rollouts-pod-template-hash: new"
    };
    let (errors, phase, message) = if broken {
        (3, "Error", "reflect: slice index out of range")
    } else {
        (0, "Successful", "")
    };
    let measurements: Vec<String> = (0..3)
        .map(|_| format!("    - {{phase: {phase}, message: '{message}', startedAt: '{stalled}'}}"))
        .collect();
    let measurements = measurements.join("\n");
    let mut files = vec![
        (
            "rollout.yaml",
            format!(
                r#"apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {{name: litellm, namespace: llm, uid: ro-1, generation: {generation}}}
spec:
  replicas: {replicas}
  workloadRef:
      apiVersion: apps/v1
      kind: Deployment
      name: litellm{scale_down}
  strategy:
    canary:
      canaryService: litellm-canary
      analysis: {{templates: [{{templateName: error-rate}}]}}
      steps: [{{setWeight: 20}}, {{pause: {{}}}}, {{setWeight: 50}}, {{pause: {{}}}}]
status:
  observedGeneration: "{observed}"
  phase: Paused
  currentStepIndex: 1
  currentPodHash: new
  stableRS: old
  replicas: {total}
  availableReplicas: {total}
  pauseConditions: [{{reason: CanaryPauseStep}}]
  conditions:
  - {{type: Progressing, status: "True", reason: RolloutPaused, lastUpdateTime: "{stalled}"}}
"#,
                total = canary_pods + stable_pods
            ),
        ),
        (
            "rs.yaml",
            format!(
                r#"kind: ReplicaSet
metadata: {{name: litellm-new, namespace: llm, labels: {{rollouts-pod-template-hash: new}}, ownerReferences: [{{uid: ro-1}}]}}
status: {{replicas: {canary_pods}, availableReplicas: {canary_pods}}}
---
kind: ReplicaSet
metadata: {{name: litellm-old, namespace: llm, labels: {{rollouts-pod-template-hash: old}}, ownerReferences: [{{uid: ro-1}}]}}
status: {{replicas: {stable_pods}, availableReplicas: {stable_pods}}}
"#
            ),
        ),
        (
            "service.yaml",
            format!(
                "kind: Service\nmetadata: {{name: litellm-canary, namespace: llm}}\nspec: {{selector: {{app: litellm{selector_hash}}}}}\n"
            ),
        ),
        (
            "template.yaml",
            format!(
                r#"kind: AnalysisTemplate
metadata: {{name: error-rate, namespace: llm}}
spec:
  metrics:
  - name: error-ratio
    interval: 30s
    successCondition: result[0] < 0.05
    provider:
      prometheus:
        query: 'sum(rate(litellm_request_total{{{status_match}}}[5m])) / sum(rate(litellm_request_total[5m]))'
  - name: server-errors
    interval: 30s
    successCondition: {second_condition}
    provider:
      prometheus:
        query: 'sum(rate(litellm_request_total{{status=~"5.."}}[5m])) / sum(rate(litellm_request_total[5m]))'
"#
            ),
        ),
        (
            "run.yaml",
            format!(
                r#"kind: AnalysisRun
metadata: {{name: litellm-new-2, namespace: llm, ownerReferences: [{{uid: ro-1}}]}}
spec: {{metrics: [{{name: error-ratio, interval: 30s}}]}}
status:
  phase: Running
  metricResults:
  - name: error-ratio
    consecutiveError: {errors}
    measurements:
{measurements}
"#
            ),
        ),
    ];
    if broken {
        files.push((
            "deploy.yaml",
            "kind: Deployment\nmetadata: {name: litellm, namespace: llm}\nspec: {replicas: 2, selector: {matchLabels: {app: litellm}}}\nstatus: {replicas: 2}\n".into(),
        ));
        files.push((
            "event.yaml",
            format!("kind: Event\nmetadata: {{name: e1, namespace: llm}}\ninvolvedObject: {{kind: Rollout, name: litellm, namespace: llm}}\ntype: Warning\nreason: WorkloadRefError\nmessage: deployment not found\ncount: 12\nlastTimestamp: '{recent}'\n"),
        ));
    }
    files
}

fn detect(broken: bool, pods: (i32, i32)) -> (Option<i32>, String, String) {
    let tmp = tempfile::tempdir().unwrap();
    for (name, text) in manifests(broken, pods) {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args([
            "rollout",
            "detect",
            "litellm",
            "-n",
            "llm",
            "--format",
            "json",
            "--from-dir",
        ])
        .arg(tmp.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_story_fires_every_detector_with_evidence() {
    // 2 canary pods at 20 % of 5 are off, but against a spec the controller has not observed
    // the counts are not judged (the replica math test below has an observed spec).
    let (code, stdout, stderr) = detect(true, (2, 3));
    assert_eq!(code, Some(1), "{stderr}");
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    let mut detectors: Vec<&str> = findings
        .iter()
        .map(|f| f["detector"].as_str().unwrap())
        .collect();
    detectors.sort();
    assert_eq!(
        detectors,
        [
            "analysis-errors",
            "analysis-no-data",
            "blind-analysis",
            "canary-service-selects-stable",
            "controller-warning",
            "spec-not-observed",
            "unindexed-condition",
            "workloadref-leak",
        ]
    );
    for f in &findings {
        assert!(!f["evidence"].as_array().unwrap().is_empty(), "{f}");
    }
    let stalled = findings
        .iter()
        .find(|f| f["detector"] == "spec-not-observed")
        .unwrap();
    assert!(
        stalled["headline"].as_str().unwrap().contains(" for 39d"),
        "{stalled}"
    );
}

#[test]
fn replica_math_judges_an_observed_spec() {
    let (code, stdout, stderr) = detect(false, (2, 3));
    assert_eq!(code, Some(1), "{stderr}");
    let findings: Vec<Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(findings.len(), 1, "{stdout}");
    assert_eq!(findings[0]["detector"], "canary-replica-math");
    assert!(
        findings[0]["headline"]
            .as_str()
            .unwrap()
            .contains("Argo's arithmetic gives 1 and 4"),
        "{stdout}"
    );
}

#[test]
fn a_healthy_canary_fires_nothing() {
    let (code, stdout, stderr) = detect(false, (1, 4));
    assert_eq!(stdout.trim(), "[]", "{stderr}");
    assert_eq!(code, Some(0), "{stderr}");
}

/// A workloadRef Rollout whose controller stops before the release: the release moves the
/// Deployment's generation, not the Rollout's, so only the Deployment shows what was missed.
const WORKLOAD_STALL: &str = r#"name: workload-stall
description: a workloadRef release the stopped controller never acts on
end: 10m
manifests:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop, labels: {app: web}}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: "ghcr.io/acme/web:v1"}]}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: web, namespace: shop}
    spec:
      replicas: 2
      workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web, scaleDown: onsuccess}
      strategy:
        canary:
          steps: [{setWeight: 50}, {pause: {duration: 30s}}]
story:
  - {at: 30s, controller: {stop: true}}
  - {at: 1m, release: {image: "ghcr.io/acme/web:v2"}}
"#;

#[test]
fn a_workload_release_the_controller_never_acts_on_is_a_spec_not_observed() {
    let deadline = Duration::from_secs(120);
    let sim = support::sim::Sim::start(WORKLOAD_STALL, "20", deadline);
    let start = Instant::now();
    let stalled = loop {
        let out = sim.run(&["rollout", "detect", "web", "-n", "shop", "-o", "json"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let findings: Vec<Value> = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
        if let Some(f) = findings
            .into_iter()
            .find(|f| f["detector"] == "spec-not-observed")
        {
            assert_eq!(out.status.code(), Some(1));
            break f;
        }
        assert!(
            start.elapsed() < deadline,
            "no spec-not-observed after the release: {stdout}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(stalled["aspect"], "workloadRef", "{stalled}");
    let headline = stalled["headline"].as_str().unwrap();
    assert!(
        headline.contains("Deployment") && headline.contains("workloadObservedGeneration"),
        "{stalled}"
    );
    let fields: Vec<&str> = stalled["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"metadata.generation")
            && fields.contains(&"status.workloadObservedGeneration"),
        "{stalled}"
    );
    // The Rollout's own spec is observed: the old one-shot path found nothing here.
    let ro: Value = serde_json::from_str(&sim.kubectl(&[
        "get",
        "rollouts.argoproj.io",
        "web",
        "-n",
        "shop",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        ro["status"]["observedGeneration"].as_str(),
        Some(ro["metadata"]["generation"].to_string().as_str()),
        "{ro}"
    );
}
