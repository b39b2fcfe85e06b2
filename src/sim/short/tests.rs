//! The short form's load: every built-in short scenario loads, and each bad input is refused
//! with the file, the line and the field.

use super::*;

/// A valid short scenario to break one piece at a time.
const GOOD: &str = r#"name: tiny
end: 3m
manifests:
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: web, namespace: shop}
    spec:
      replicas: 5
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec: {containers: [{name: web, image: "web:v1"}]}
      strategy:
        canary:
          canaryService: web-canary
          stableService: web
          steps:
            - setWeight: 20
            - analysis: {templates: [{templateName: rate}]}
  - apiVersion: v1
    kind: Service
    metadata: {name: web, namespace: shop}
    spec: {selector: {app: web}}
  - apiVersion: v1
    kind: Service
    metadata: {name: web-canary, namespace: shop}
    spec: {selector: {app: web}}
  - apiVersion: argoproj.io/v1alpha1
    kind: AnalysisTemplate
    metadata: {name: rate, namespace: shop}
    spec:
      args: [{name: svc, value: web}]
      metrics:
        - name: error-rate
          count: 2
          interval: 30s
          successCondition: result[0] < 0.05
          provider: {prometheus: {query: 'rate(x{svc="{{args.svc}}"}[1m])'}}
pods:
  "web:v2": {crash: {after: 3s}}
metrics:
  - {metric: error-rate, from: 0s, value: 0.01}
backend:
  routes:
    - {route: "POST /v1/embeddings", service: web, answers: {"web:v2": {404: 0.7, 429: 0.3}}}
story:
  - {at: 30s, release: {image: "web:v2"}}
  - {at: 1m, controller: {lag: 5s}}
  - {at: 2m, edit: {kind: Service, name: web-canary, merge: {spec: {selector: {x: "y"}}}}}
  - {at: 2m30s, promote: {full: true}}
  - {at: 2m40s, event: {involvedObject: {apiVersion: v1, kind: Service, name: web, namespace: shop}, reason: Tested}}
expect:
  alerts:
    - {detector: rollout-degraded, object: Rollout/shop/web}
    - {detector: pod-crash-looping, object: ReplicaSet/shop/web-*}
  silent: all-others
"#;

fn err(text: &str) -> String {
    format!(
        "{:#}",
        anyhow::Error::from(Scenario::parse(text, "s.yaml").unwrap_err())
    )
}

fn broken(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from}");
    err(&GOOD.replacen(from, to, 1))
}

#[test]
fn a_short_scenario_loads_with_its_model_inputs() {
    assert!(is_short(GOOD));
    let s = Scenario::parse(GOOD, "s.yaml").unwrap();
    let inputs = s.model.as_ref().expect("model inputs");
    assert!(matches!(
        inputs.pod_behaviour("web:v2"),
        PodBehaviour::Crash(_)
    ));
    // The implied Namespace first, then the manifests; Argo's placeholder kept literal.
    assert_eq!(s.objects[0].template["metadata"]["name"], "shop");
    let epoch = chrono::DateTime::<Utc>::UNIX_EPOCH;
    let template = scenario::render(&s.objects[4].template, epoch, epoch);
    assert_eq!(
        template["spec"]["metrics"][0]["provider"]["prometheus"]["query"],
        r#"rate(x{svc="{{args.svc}}"}[1m])"#
    );
    let kinds: Vec<String> = s.steps.iter().map(|st| st.describe()).collect();
    assert!(
        kinds[0].contains("release web:v2 to Rollout shop/web (container web)"),
        "{kinds:?}"
    );
    assert!(
        kinds[3].contains("promote --full Rollout shop/web"),
        "{kinds:?}"
    );
    assert_eq!(s.backend.model_routes[0].service, "web");
    assert_eq!(s.expect.as_ref().unwrap().alerts.len(), 2);
    assert_eq!(s.end, Duration::from_secs(180));
}

#[test]
fn every_builtin_short_scenario_loads_with_an_expectation() {
    let short: Vec<&str> = scenario::BUILTIN
        .iter()
        .filter(|(_, yaml)| is_short(yaml))
        .map(|(name, _)| *name)
        .collect();
    assert!(short.len() >= 14, "{short:?}");
    for name in short {
        let s = Scenario::resolve(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert!(s.model.is_some() && s.expect.is_some(), "{name}");
        assert!(
            s.steps
                .iter()
                .any(|st| matches!(st.action, Action::Model(ModelAction::Release(_)))),
            "{name} releases nothing"
        );
    }
}

#[test]
fn a_missing_reference_names_file_line_and_field() {
    let e = broken("canaryService: web-canary", "canaryService: web-preview");
    assert!(
        e.contains("s.yaml: manifests[0] (Rollout shop/web): field `spec.strategy.canary.canaryService`: Service shop/web-preview is not among the manifests")
            && e.ends_with("(line 4)"),
        "{e}"
    );
    let e = broken("templateName: rate", "templateName: rates");
    assert!(
        e.contains("field `spec.strategy.canary.steps[1].analysis.templates[0].templateName`: AnalysisTemplate shop/rates"),
        "{e}"
    );
    let e = broken("{metric: error-rate,", "{metric: latency,");
    assert!(
        e.contains("metrics[0]: field `metric`: no AnalysisTemplate has a metric \"latency\"")
            && e.ends_with("(line 42)"),
        "{e}"
    );
    let e = broken("\"web:v2\": {crash", "\"web:v3\": {crash");
    assert!(
        e.contains("pods.web:v3: field `web:v3`: no manifest or release runs image"),
        "{e}"
    );
    let e = broken(
        "{route: \"POST /v1/embeddings\", service: web,",
        "{route: \"POST /v1/embeddings\", service: api,",
    );
    assert!(
        e.contains("backend.routes[0]: field `service`: Service shop/api"),
        "{e}"
    );
    let e = broken(
        "kind: Service, name: web-canary",
        "kind: Service, name: web-canaries",
    );
    assert!(e.contains("story[2] (at 2m): field `edit.name`"), "{e}");
    let e = broken(
        "      replicas: 5\n      selector: {matchLabels: {app: web}}\n      template:\n        metadata: {labels: {app: web}}\n        spec: {containers: [{name: web, image: \"web:v1\"}]}\n",
        "      replicas: 5\n      workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web}\n",
    );
    assert!(
        e.contains("field `spec.workloadRef.name`: Deployment shop/web is not among"),
        "{e}"
    );
}

#[test]
fn a_step_argo_rejects_and_an_impossible_weight_are_refused() {
    let e = broken("- setWeight: 20", "- setWeight: 120");
    assert!(
        e.contains("field `spec.strategy.canary.steps[0].setWeight`: 120: SetWeight needs to be between 0 and 100"),
        "{e}"
    );
    let e = broken("- setWeight: 20", "- {setWeight: 20, pause: {}}");
    assert!(e.contains("field `spec.strategy.canary.steps[0]`"), "{e}");
    let e = broken("- setWeight: 20", "- pause: {duration: -5}");
    assert!(e.contains("steps[0].pause.duration"), "{e}");
    let e = broken("          count: 2\n", "");
    assert!(e.contains("runs indefinitely"), "{e}");
    let e = broken("{404: 0.7, 429: 0.3}", "{404: 0.7, 429: 0.5}");
    assert!(
        e.contains("field `answers.web:v2`: the shares must be above 0 and add up to 1"),
        "{e}"
    );
    let e = broken("stableService: web\n", "stableService: web-canary\n");
    assert!(e.contains("same service for the stable and canary"), "{e}");
}

#[test]
fn an_unknown_action_or_detector_is_refused() {
    let e = broken("{at: 1m, controller: {lag: 5s}}", "{at: 1m, rollback: {}}");
    assert!(
        e.contains("s.yaml: story[1]: field `rollback`: unknown action `rollback`; a story entry's action is one of: release, promote")
            && e.ends_with("(line 48)"),
        "{e}"
    );
    let e = broken(
        "{at: 1m, controller: {lag: 5s}}",
        "{at: 1m, promote: {}, abort: {}}",
    );
    assert!(e.contains("exactly one action, found 2"), "{e}");
    let e = broken(
        "{at: 2m30s, promote: {full: true}}",
        "{at: 2m30s, abort: {full: true}}",
    );
    assert!(
        e.contains("field `abort.full`: only promote takes `full`"),
        "{e}"
    );
    let e = broken(
        "release: {image: \"web:v2\"}",
        "release: {image: \"web:v2\", container: sidecar}",
    );
    assert!(
        e.contains("field `release.container`: Rollout shop/web has no container \"sidecar\""),
        "{e}"
    );
    let e = broken("detector: rollout-degraded", "detector: rollout-sad");
    assert!(
        e.contains("expect.alerts[0]: field `detector`: \"rollout-sad\" is not a detector"),
        "{e}"
    );
    let e = broken("{crash: {after: 3s}}", "{sleep: 3s}");
    assert!(
        e.contains("s.yaml: pods.web:v2: field `web:v2`:")
            && e.contains("sleep")
            && e.contains("exactly one of {ready: 5s}")
            && e.ends_with("(line 40)"),
        "{e}"
    );
    // Two behaviours at once (a user's `{ready: 3s, crash: …}`) is refused the same way.
    let e = broken("{crash: {after: 3s}}", "{ready: 3s, crash: {after: 1s}}");
    assert!(e.contains("do not combine"), "{e}");
}

#[test]
fn depth_limits_come_first() {
    let deep = format!("manifests: {}", "[".repeat(100_000));
    let e = err(&deep);
    assert!(e.contains("nested deeper than 64 levels"), "{e}");
}

/// `rollout: NAME` beside the action reads as inside it (docs/SCENARIOS.md: "`rollout: NAME`
/// picks the Rollout"); beside an action that names no Rollout, or contradicting the one
/// inside, it is refused with the field.
#[test]
fn a_rollout_named_beside_the_action_is_the_actions() {
    let beside = GOOD.replacen(
        "{at: 2m30s, promote: {full: true}}",
        "{at: 2m30s, promote: {full: true}, rollout: web}",
        1,
    );
    Scenario::parse(&beside, "s.yaml").unwrap();
    let e = broken(
        "{at: 2m30s, promote: {full: true}}",
        "{at: 2m30s, promote: {full: true}, rollout: nope}",
    );
    assert!(e.contains("field `promote.rollout`"), "{e}");
    let e = broken(
        "{at: 1m, controller: {lag: 5s}}",
        "{at: 1m, controller: {lag: 5s}, rollout: web}",
    );
    assert!(
        e.contains("field `rollout`: `controller` does not name a Rollout"),
        "{e}"
    );
    let e = broken(
        "{at: 2m30s, promote: {full: true}}",
        "{at: 2m30s, promote: {rollout: web}, rollout: shop/web}",
    );
    assert!(e.contains("name the Rollout once"), "{e}");
}
