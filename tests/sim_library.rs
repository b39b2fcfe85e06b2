//! The library of short-form scenarios through the real binary: `warroom sim --list` shows
//! every one, each loads with its written expectation, and every bad input the short form
//! refuses at load (a missing referenced object, a step Argo would reject, an impossible
//! weight, an unknown action) exits 2 with the file, the line and the field, and writes
//! nothing (no kubeconfig, no URL on stdout).
//!
//! Playing each scenario with the three observers against its expectation, and checking the
//! model's objects against Argo's rules, is tests/sim_library_play.rs.

use std::path::Path;
use std::process::{Command, Output};

/// The library: every name the issue asks for.
const LIBRARY: &[&str] = &[
    "story",
    "healthy-canary",
    "healthy-bluegreen",
    "analysis-failed",
    "analysis-inconclusive",
    "crashloop",
    "crashloop-abort",
    "image-pull",
    "manual-pause",
    "controller-lag",
    "workloadref-onsuccess",
    "selector-reset",
    "awkward-weights",
    "blind-4xx",
];

fn warroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("warroom runs")
}

#[test]
fn list_shows_every_library_scenario() {
    let out = warroom(&["sim", "--list"]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = stdout.lines().collect();
    for name in LIBRARY {
        assert!(names.contains(name), "{name} missing from --list: {stdout}");
    }
}

#[test]
fn expectations_are_reported() {
    // Each expectation names detectors the observers have and objects of the scenario; those
    // that wait on the judgement work are said, not silently passed.
    for name in LIBRARY {
        let scenario = warroom::sim::Scenario::resolve(name).unwrap();
        let expect = scenario.expect.expect("a written expectation");
        if !expect.waits_on.is_empty() {
            println!("{name}: pending on {:?}", expect.waits_on);
        }
        assert!(scenario.model.is_some(), "{name} runs the model");
    }
}

/// A short scenario that loads; each bad-input case breaks one piece of it.
const GOOD: &str = r#"name: tiny
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
          steps: [{setWeight: 20}, {pause: {duration: 30s}}]
  - {apiVersion: v1, kind: Service, metadata: {name: web, namespace: shop}, spec: {selector: {app: web}}}
  - {apiVersion: v1, kind: Service, metadata: {name: web-canary, namespace: shop}, spec: {selector: {app: web}}}
story:
  - {at: 30s, release: {image: "web:v2"}}
  - {at: 1m, promote: {}}
"#;

/// Plays `text` as a scenario file that must be refused: exit 2, nothing on stdout, no
/// kubeconfig written; returns stderr.
fn refused(dir: &Path, text: &str) -> String {
    let path = dir.join("bad.yaml");
    std::fs::write(&path, text).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let out = warroom(&[
        "sim",
        "--port",
        "0",
        "--backend-port",
        "0",
        "--scenario",
        path.to_str().unwrap(),
        "--kubeconfig-out",
        kubeconfig.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing served: {:?}", out.stdout);
    assert!(!kubeconfig.exists(), "nothing written");
    assert!(stderr.contains("bad.yaml"), "the file is named: {stderr}");
    stderr
}

#[test]
fn the_good_file_loads() {
    let s = warroom::sim::Scenario::parse(GOOD, "good.yaml").unwrap();
    assert!(s.model.is_some());
}

#[test]
fn bad_inputs_exit_2_with_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&str, &str, &str)] = &[
        // A missing referenced object.
        (
            "canaryService: web-canary",
            "canaryService: web-preview",
            "manifests[0] (Rollout shop/web): field `spec.strategy.canary.canaryService`: Service shop/web-preview is not among the manifests",
        ),
        // A step Argo would reject.
        (
            "{pause: {duration: 30s}}",
            "{pause: {duration: 30s}, setWeight: 40}",
            "field `spec.strategy.canary.steps[1]`",
        ),
        // An impossible weight.
        (
            "{setWeight: 20}",
            "{setWeight: 140}",
            "field `spec.strategy.canary.steps[0].setWeight`: 140: SetWeight needs to be between 0 and 100",
        ),
        // An unknown action.
        (
            "{at: 1m, promote: {}}",
            "{at: 1m, rollback: {}}",
            "story[1]: field `rollback`: unknown action `rollback`",
        ),
        // A release of a container the Rollout does not have.
        (
            "release: {image: \"web:v2\"}",
            "release: {image: \"web:v2\", container: api}",
            "story[0] (at 30s): field `release.container`",
        ),
    ];
    for (from, to, want) in cases {
        assert!(GOOD.contains(from), "{from}");
        let text = GOOD.replacen(from, to, 1);
        let stderr = refused(dir.path(), &text);
        assert!(stderr.contains(want), "{to}: {stderr}");
        let line = text
            .lines()
            .position(|l| l.contains(to.lines().next().unwrap()))
            .unwrap()
            + 1;
        // The line of the manifest or story entry holding the field.
        let reported = stderr
            .rsplit("(line ")
            .next()
            .and_then(|r| r.split(')').next())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or_else(|| panic!("no line: {stderr}"));
        assert!(
            reported <= line && reported > 0,
            "{to}: line {reported} for {line}: {stderr}"
        );
    }
}
