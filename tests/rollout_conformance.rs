//! Conformance with the Argo project's own expectations (`shared/peer/argo-rollouts`): every
//! `get rollout` / `get experiment` output, the 18 status/message cases, the `status` command
//! cases and the weight assertions. `get`/`status` run the real binary with `--from-dir` on a
//! temp copy of the fixtures, set up as the README there describes (file-name order, creation
//! times pinned to now - 7d with the `--pin-age` test hook, mutations applied, trailing spaces
//! stripped).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{SubsecRound, TimeDelta, Utc};
use serde_json::Value;
use warroom::rollout::model::{Rollout, WorkloadRef};
use warroom::rollout::view;

/// The peer corpus, beside the repository. Missing means a broken checkout: fail, never skip.
fn peer() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/peer/argo-rollouts");
    assert!(
        dir.join("expected/summary.json").is_file(),
        "the Argo peer corpus is missing at {}: clone the `shared/` directory beside this repository",
        dir.display()
    );
    dir
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strip_trailing(text: &str) -> String {
    text.lines()
        .map(|l| format!("{}\n", l.trim_end_matches(' ')))
        .collect()
}

/// A temp copy of a fixture directory (the tests mutate files).
fn copy_fixture(dir: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, tmp.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    tmp
}

/// Applies a summary.json mutation: "on fixtures/<dir>/<file> (...) set
/// metadata.annotations['scale-down-deadline'] = now ± Nh ... and delete
/// metadata.labels['rollouts-pod-template-hash']".
fn apply_mutation(tmp: &Path, mutation: &str) {
    let file = mutation
        .split_once(" on ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|p| Path::new(p).file_name())
        .unwrap_or_else(|| panic!("can't find the file in mutation: {mutation}"));
    let offset = if mutation.contains("now + 4h") {
        TimeDelta::hours(4)
    } else if mutation.contains("now - 1h") {
        TimeDelta::hours(-1)
    } else {
        panic!("mutation not understood (update this harness): {mutation}")
    };
    let path = tmp.join(file);
    let mut doc: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let deadline = (Utc::now() + offset)
        .trunc_subsecs(0)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let meta = doc.get_mut("metadata").unwrap();
    meta.get_mut("annotations")
        .unwrap()
        .as_object_mut()
        .unwrap()
        .insert("scale-down-deadline".into(), deadline.into());
    if mutation.contains("delete metadata.labels['rollouts-pod-template-hash']") {
        meta.get_mut("labels")
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove("rollouts-pod-template-hash");
    }
    std::fs::write(&path, serde_saphyr::to_string(&doc).unwrap()).unwrap();
}

fn warroom(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(args)
        .env_remove("NO_COLOR")
        .env_remove("WARROOM_TEST_PIN_AGE")
        .output()
        .expect("run warroom")
}

#[test]
fn get_outputs_match_argo_expected_files() {
    let peer = peer();
    let summary = json(&peer.join("expected/summary.json"));
    let mut checked = Vec::new();
    for case in summary.as_array().unwrap() {
        let test = case["test"].as_str().unwrap_or("?");
        let (Some(dir), Some(expected)) =
            (case["fixture_dir"].as_str(), case["expected_file"].as_str())
        else {
            // The docs sample (echo-rollout) has no fixture objects and wall-clock ages.
            continue;
        };
        let command = case["command"].as_str().unwrap();
        let name = command.split_whitespace().nth(5).unwrap();
        let verb = match command.split_whitespace().nth(4) {
            Some("rollout") => "get",
            Some("experiment") => "get-experiment",
            other => panic!("{test}: unknown get target {other:?}"),
        };
        let tmp = copy_fixture(&peer.join(dir));
        if let Some(mutation) = case["mutations"].as_str() {
            apply_mutation(tmp.path(), mutation);
        }
        let from = tmp.path().to_str().unwrap();
        let ns = case["namespace"].as_str().unwrap();
        let out = warroom(&[
            "rollout",
            verb,
            name,
            "-n",
            ns,
            "--from-dir",
            from,
            "--no-color",
            "--pin-age",
            "7d",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{test}: exit status; stderr: {stderr}"
        );
        assert!(stderr.is_empty(), "{test}: unexpected stderr: {stderr}");
        let want = strip_trailing(&std::fs::read_to_string(peer.join(expected)).unwrap());
        let got = strip_trailing(&String::from_utf8(out.stdout).unwrap());
        assert_eq!(
            got, want,
            "{test}: output differs\n--- got\n{got}--- want\n{want}"
        );
        checked.push(test.to_string());
    }
    assert_eq!(
        checked.len(),
        10,
        "9 get rollout + 1 get experiment cases: {checked:?}"
    );
}

#[test]
fn phase_cases_match_argo() {
    let cases = json(&peer().join("expected/phase_cases.json"));
    let cases = cases["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 18);
    for case in cases {
        let test = case["test"].as_str().unwrap();
        let mut ro: Rollout = serde_json::from_value(case["rollout"].clone()).unwrap();
        // An in-memory flag in Go that means "the template came from spec.workloadRef".
        if case["internal_flags"]["templateResolvedFromRef"] == Value::Bool(true) {
            ro.spec.workload_ref = Some(WorkloadRef::default());
        }
        let (status, message) = view::status_and_message(&ro);
        assert_eq!(status, case["expected_phase"].as_str().unwrap(), "{test}");
        assert_eq!(
            message,
            case["expected_message"].as_str().unwrap(),
            "{test}"
        );
    }
}

#[test]
fn status_command_matches_argo() {
    let peer = peer();
    let cases = json(&peer.join("expected/status_cmd.json"));
    let cases = cases.as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let test = case["test"].as_str().unwrap();
        let tmp = match case["fixture_dir"].as_str() {
            Some(dir) => copy_fixture(&peer.join(dir)),
            None => tempfile::tempdir().unwrap(),
        };
        let argo: Vec<&str> = case["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        // The plugin's arguments as they are: both watch by default.
        let mut args = vec!["rollout", "status"];
        args.extend(&argo);
        args.extend(["--from-dir", tmp.path().to_str().unwrap()]);
        let out = warroom(&args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout, case["stdout"].as_str().unwrap(), "{test}: stdout");
        let want_err = case["stderr"].as_str().unwrap();
        let want_err = want_err
            .strip_prefix("Error: ")
            .unwrap_or(want_err)
            .trim_end();
        assert!(
            stderr.contains(want_err),
            "{test}: stderr {stderr:?} lacks {want_err:?}"
        );
        if case["expect_error"] == Value::Bool(true) {
            assert!(!out.status.success(), "{test}: should fail");
        } else {
            assert_eq!(out.status.code(), Some(0), "{test}: stderr {stderr}");
            assert!(stderr.is_empty(), "{test}: {stderr}");
        }
    }
}

#[test]
fn weights_follow_traffic_routing_status() {
    let peer = peer();
    let cases = json(&peer.join("expected/info_assertions.json"));
    let snapshot = warroom::rollout::load::load_dir(&peer.join("fixtures/canary")).unwrap();
    let mut seen = 0;
    for case in cases["cases"].as_array().unwrap() {
        let Some(weight) = case["expect"]["actual_weight"].as_i64() else {
            continue;
        };
        let file = case["rollout_file"].as_str().unwrap();
        let text = std::fs::read_to_string(peer.join(file)).unwrap();
        let ro: Rollout = serde_saphyr::from_str(&text).unwrap();
        let v = view::rollout_view(&snapshot, &ro, Utc::now());
        assert_eq!(i64::from(v.actual_weight), weight, "{}", case["test"]);
        if let Some(set) = case["expect"]["set_weight"].as_i64() {
            assert_eq!(i64::from(v.set_weight), set, "{}", case["test"]);
        }
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn a_rollout_with_unknown_fields_still_renders() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("ro.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata:\n  name: future\n  namespace: ns\n  generation: 2\nspec:\n  replicas: 2\n  strategy:\n    canary:\n      steps: [{setWeight: 10}, {someNewStep: {x: 1}}]\n      brandNewKnob: true\n  futureSpec: {a: [1, 2]}\nstatus:\n  observedGeneration: 2\n  phase: Progressing\n  message: more replicas need to be updated\n  futureStatus: yes\n---\napiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n",
    )
    .unwrap();
    let out = warroom(&[
        "rollout",
        "get",
        "future",
        "--from-dir",
        tmp.path().to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("Name:            future\n"), "{stdout}");
    assert!(
        stdout.contains("Status:          ◌ Progressing\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn bad_input_names_the_file_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("bad.yaml"),
        "kind: Rollout\nmetadata: {name: r}\nspec:\n  replicas: lots\n",
    )
    .unwrap();
    let out = warroom(&[
        "rollout",
        "get",
        "r",
        "--from-dir",
        tmp.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("bad.yaml") && stderr.contains("spec.replicas"),
        "{stderr}"
    );

    let missing = tmp.path().join("nope");
    let out = warroom(&[
        "rollout",
        "status",
        "r",
        "--from-dir",
        missing.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("nope") && stderr.contains("--from-dir"),
        "{stderr}"
    );

    let empty = tempfile::tempdir().unwrap();
    let dir = empty.path().to_str().unwrap();
    let out = warroom(&["rollout", "get", "ghost", "-n", "prod", "--from-dir", dir]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rollout.argoproj.io \"ghost\" not found in namespace \"prod\""),
        "{stderr}"
    );
}

/// Every fixture directory, Argo CD's health fixtures included (aborted, paused, timed-out,
/// legacy v0.9 observedGeneration hashes, objects without status), loads and renders.
#[test]
fn every_peer_fixture_loads_and_renders() {
    let fixtures = peer().join("fixtures");
    let mut dirs = vec![fixtures.clone()];
    let mut rendered = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "crds") {
                dirs.push(path);
            }
        }
        if dir == fixtures || dir.parent() == Some(&fixtures.join("argo-cd-health")) {
            continue; // directories of directories, and Argo CD's health_test.yaml indexes
        }
        let snapshot = warroom::rollout::load::load_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for ro in &snapshot.rollouts {
            let v = view::rollout_view(&snapshot, ro, Utc::now());
            assert!(view::render_rollout(&v, view::Colour::Never).starts_with("Name:"));
            rendered += 1;
        }
        for ex in &snapshot.experiments {
            let v = view::experiment_view(&snapshot, ex, Utc::now());
            assert!(view::render_experiment(&v, view::Colour::Never).starts_with("Name:"));
            rendered += 1;
        }
    }
    assert!(rendered > 30, "only {rendered} objects rendered");
}

/// Cluster mode without a cluster: no kubeconfig, or an API server that refuses connections,
/// is an environment error (exit 3) that says what to check.
#[test]
fn cluster_errors_are_environment_errors() {
    let home = tempfile::tempdir().unwrap();
    let run = |kubeconfig: &Path| {
        Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["rollout", "status", "web"])
            .env("HOME", home.path())
            .env("KUBECONFIG", kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env_remove("KUBERNETES_SERVICE_PORT")
            .output()
            .expect("run warroom")
    };
    let out = run(&home.path().join("missing-kubeconfig"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("KUBECONFIG") && stderr.contains("--from-dir"),
        "{stderr}"
    );

    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kubeconfig = home.path().join("config");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- {{name: c, cluster: {{server: 'http://127.0.0.1:{port}'}}}}\ncontexts:\n- {{name: x, context: {{cluster: c, user: u, namespace: prod}}}}\ncurrent-context: x\nusers:\n- {{name: u, user: {{}}}}\n"
        ),
    )
    .unwrap();
    let out = run(&kubeconfig);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("rollout \"web\" in namespace \"prod\"")
            && stderr.contains("kubectl get rollouts.argoproj.io -n prod"),
        "{stderr}"
    );
}
