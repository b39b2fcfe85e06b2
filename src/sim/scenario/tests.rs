use super::*;

const GOOD: &str = r#"
name: tiny
objects:
  - apiVersion: v1
    kind: Namespace
    metadata: {name: llm}
  - apiVersion: v1
    kind: Pod
    metadata: {name: p1, namespace: llm, creationTimestamp: "{{t-5m}}"}
steps:
  - at: 30s
    patch: {apiVersion: v1, kind: Pod, namespace: llm, name: p1, merge: {status: {phase: Running}}}
  - at: 10s
    event:
      involvedObject: {apiVersion: v1, kind: Pod, name: p1, namespace: llm}
      reason: Pulled
      message: pulled at {{t}}
  - at: 1m
    delete: {apiVersion: v1, kind: Pod, namespace: llm, name: p1}
  - at: 70s
    restartApi: {down: 5s}
  - at: 80s
    apply: {apiVersion: v1, kind: Pod, metadata: {name: p2, namespace: llm}}
  - at: 90s
    delete: {apiVersion: v1, kind: Pod, namespace: llm, name: p2, gracePeriod: 30s}
backend:
  routes:
    - {path: /ok, status: 200, backends: [a, b]}
    - {path: /bad, method: POST, status: [404, 429], latency: 5ms}
"#;

fn err(text: &str) -> String {
    format!(
        "{:#}",
        anyhow::Error::from(Scenario::parse(text, "s.yaml").unwrap_err())
    )
}

#[test]
fn parses_and_sorts_steps() {
    let s = Scenario::parse(GOOD, "s.yaml").unwrap();
    assert_eq!(s.name, "tiny");
    assert_eq!(s.objects.len(), 2);
    let ats: Vec<u64> = s.steps.iter().map(|s| s.at.as_secs()).collect();
    assert_eq!(ats, [10, 30, 60, 70, 80, 90, 120]);
    assert_eq!(s.end, Duration::from_secs(120));
    // The graceful delete: Terminating at 90s, deleted at 120s.
    let Action::Patch { merge, .. } = &s.steps[5].action else {
        panic!("{:?}", s.steps[5]);
    };
    assert_eq!(merge["metadata"]["deletionTimestamp"], "{{t+30s}}");
    assert!(matches!(s.steps[6].action, Action::Delete(_)));
    assert!(
        matches!(s.steps[3].action, Action::RestartApi { down } if down == Duration::from_secs(5))
    );
    assert_eq!(s.backend.routes[1].status, [404, 429]);
    assert_eq!(s.backend.routes[1].latency, Some(Duration::from_millis(5)));
}

/// Every YAML example in docs/SCENARIOS.md is a valid scenario.
#[test]
fn documented_examples_parse() {
    let doc = include_str!("../../../docs/SCENARIOS.md");
    let blocks: Vec<Scenario> = doc
        .split("```yaml\n")
        .skip(1)
        .map(|rest| {
            let block = &rest[..rest.find("```").expect("the block ends")];
            Scenario::parse(block, "docs/SCENARIOS.md").unwrap()
        })
        .collect();
    assert_eq!(blocks.len(), 3);
    // The short form's example is the built-in story, word for word.
    assert_eq!(blocks[0].name, "story");
    assert!(doc.contains(include_str!("../scenarios/story.yaml")));
    assert_eq!(blocks[1].name, "tiny");
    assert_eq!(blocks[1].deny.len(), 1);
    assert_eq!(blocks[1].backend.routes[0].status, [404, 429]);
    assert_eq!(blocks[2].load.as_ref().unwrap().total_changes(), 12_000);
}

#[test]
fn builtins_parse() {
    for (name, _) in BUILTIN {
        let s = Scenario::resolve(name).unwrap();
        assert!(!s.steps.is_empty() || s.load.is_some(), "{name}");
    }
    assert!(matches!(
        Scenario::resolve("nope"),
        Err(ScenarioError::Unknown { .. })
    ));
}

#[test]
fn errors_name_file_step_and_field() {
    let e = err("objects:\n  - apiVersion: v1\n    metadata: {name: x}\n");
    assert!(
        e.contains("s.yaml: objects[0]: field `kind`: missing"),
        "{e}"
    );
    let e = err("objects:\n  - apiVersion: v1\n    kind: Pod\n    metadata: {}\n");
    assert!(e.contains("objects[0]: field `metadata.name`"), "{e}");
    let e = err("objects:\n  - {apiVersion: v9, kind: Pod, metadata: {name: x}}\n");
    assert!(e.contains("v9 Pod (x) is not served"), "{e}");
    let e = err("steps:\n  - at: soon\n    compact: true\n");
    assert!(e.contains("steps[0]: field `at`"), "{e}");
    let e = err("steps:\n  - at: 5s\n    delete: {apiVersion: v1, kind: Pod, name: ghost}\n");
    assert!(
        e.contains("steps[0] (at 5s): field `name`: Pod default/ghost does not exist"),
        "{e}"
    );
    let e = err("steps:\n  - at: 5s\n");
    assert!(e.contains("exactly one action, found 0"), "{e}");
    let e = err("objects: [\n");
    assert!(e.starts_with("s.yaml: not a valid scenario"), "{e}");
    assert!(e.contains("line 1 column 10"), "{e}");
    let deep = format!("objects: {}", "[".repeat(100_000));
    let e = err(&deep);
    assert!(e.contains("nested deeper than 64 levels"), "{e}");
    let e = err(
        "objects:\n  - {apiVersion: v1, kind: Pod, metadata: {name: x}}\n  - {apiVersion: v1, kind: Pod}\n",
    );
    assert!(e.ends_with("(line 3)"), "{e}");
    let e = err("stepz: []\n");
    assert!(e.contains("unknown field `stepz`"), "{e}");
    let e = err(
        "objects:\n  - {apiVersion: v1, kind: Pod, metadata: {name: x, creationTimestamp: '{{now}}'}}\n",
    );
    assert!(
        e.contains("field `metadata.creationTimestamp`: unknown template"),
        "{e}"
    );
    let e = err("load: {pods: 10, changesPerSecond: 5}\n");
    assert!(
        e.contains("load: field `for`: churn needs pods and a duration"),
        "{e}"
    );
    let e = err("backend:\n  routes:\n    - {path: /x, status: 999}\n");
    assert!(e.contains("backend.routes[0]: field `status`"), "{e}");
}

#[test]
fn argo_placeholders_load_with_the_escape_and_are_refused_without_it() {
    let template = |query: &str| {
        format!(
            "objects:\n  - apiVersion: argoproj.io/v1alpha1\n    kind: AnalysisTemplate\n    metadata: {{name: rate, namespace: llm}}\n    spec:\n      args: [{{name: service-name}}]\n      metrics:\n        - name: rate\n          provider: {{prometheus: {{query: '{query}'}}}}\n"
        )
    };
    let s = Scenario::parse(
        &template(r#"sum(rate(x{service="{{{{args.service-name}}"}[5m]))"#),
        "s.yaml",
    )
    .unwrap();
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let rendered = render(&s.objects[0].template, epoch, epoch);
    assert_eq!(
        rendered["spec"]["metrics"][0]["provider"]["prometheus"]["query"],
        r#"sum(rate(x{service="{{args.service-name}}"}[5m]))"#
    );
    let e = err(&template(
        r#"sum(rate(x{service="{{args.service-name}}"}[5m]))"#,
    ));
    assert!(
            e.contains("objects[0]: field `spec.metrics[0].provider.prometheus.query`: unknown template {{args.service-name}}")
                && e.contains("write {{{{args.service-name}} for a literal"),
            "{e}"
        );
}
