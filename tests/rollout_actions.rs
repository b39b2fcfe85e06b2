//! The rollout commands against the real simulator: the operator actions (`promote`, `abort`,
//! `retry`, `pause`, `resume`, `undo`) send the Argo plugin's requests and post a decision,
//! `list` lists like the plugin, `status` exits 0 / 1 / 130, `get --watch` stops cleanly, and
//! the story's tree is whole. Real binary, real simulator on 127.0.0.1 port 0, real kubectl to
//! read back what was stored. Every wait has a deadline; no test asserts a duration.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::BIN;
use support::sim::{Sim, lines, ndjson_entries, text};

const DEADLINE: Duration = Duration::from_secs(60);

/// A rollout paused at its pause step (revision 2 of 2), a healthy one, a degraded one, and
/// two progressing ones (the tests move `slow` on through the API).
const SHOP: &str = r#"
name: shop
end: 10m
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: shop}}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: web, namespace: shop, generation: 2, creationTimestamp: "{{t-2d}}"}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "web:2"}]}}
      strategy: {canary: {steps: [{setWeight: 50}, {pause: {}}, {setWeight: 100}]}}
    status:
      observedGeneration: "2"
      currentStepIndex: 1
      controllerPause: true
      pauseConditions: [{reason: CanaryPauseStep, startTime: "{{t-1m}}"}]
      currentPodHash: h2
      stableRS: h1
      replicas: 2
      updatedReplicas: 1
      readyReplicas: 2
      availableReplicas: 2
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-h1
      namespace: shop
      labels: {app: web, rollouts-pod-template-hash: h1}
      annotations: {rollout.argoproj.io/revision: "1"}
      ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web, controller: true}]
    spec:
      replicas: 1
      selector: {matchLabels: {app: web, rollouts-pod-template-hash: h1}}
      template: {metadata: {labels: {app: web, rollouts-pod-template-hash: h1}}, spec: {containers: [{name: web, image: "web:1"}]}}
    status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-h2
      namespace: shop
      labels: {app: web, rollouts-pod-template-hash: h2}
      annotations: {rollout.argoproj.io/revision: "2"}
      ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web, controller: true}]
    spec:
      replicas: 1
      selector: {matchLabels: {app: web, rollouts-pod-template-hash: h2}}
      template: {metadata: {labels: {app: web, rollouts-pod-template-hash: h2}}, spec: {containers: [{name: web, image: "web:2"}]}}
    status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: done, namespace: shop}
    spec: {replicas: 1, strategy: {canary: {steps: [{setWeight: 100}]}}}
    status: {observedGeneration: "1", phase: Healthy, currentStepIndex: 1, currentPodHash: a, stableRS: a, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: broken, namespace: shop}
    spec: {replicas: 1, strategy: {blueGreen: {activeService: broken}}}
    status: {observedGeneration: "1", phase: Degraded, message: "ProgressDeadlineExceeded: ReplicaSet \"broken-b\" has timed out progressing."}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: slow, namespace: shop}
    spec: {replicas: 1, strategy: {canary: {}}}
    status: {observedGeneration: "1", phase: Progressing, message: more replicas need to be updated}
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: stuck, namespace: shop}
    spec: {replicas: 1, strategy: {canary: {}}}
    status: {observedGeneration: "1", phase: Progressing, message: more replicas need to be updated}
"#;

/// `sim` on `scenario` at speed 1.
fn start(scenario: &str) -> Sim {
    Sim::start(scenario, "1", DEADLINE)
}

/// A field of an object in `shop` as kubectl reads it back from the simulator.
fn field(sim: &Sim, kind: &str, name: &str, jsonpath: &str) -> String {
    sim.kubectl(&[
        "get",
        kind,
        name,
        "-n",
        "shop",
        "-o",
        &format!("jsonpath={jsonpath}"),
    ])
}

fn entries(root: &Path) -> Vec<serde_json::Value> {
    ndjson_entries(
        Command::new(BIN)
            .arg("--root")
            .arg(root)
            .args(["timeline", "--format", "ndjson"])
            .env_remove("WARROOM_CHANNEL")
            .output()
            .unwrap(),
    )
}

#[test]
fn actions_send_the_plugins_requests_and_post_decisions() {
    let sim = start(SHOP);
    let root = sim.root();
    let open = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["open", "shop-release", "--date", "2026-05-04"])
        .output()
        .unwrap();
    assert!(open.status.success());
    let rollout = |path: &str| field(&sim, "rollout", "web", path);
    let rv = || rollout("{.metadata.resourceVersion}");

    // promote at a pause step: the status patch clears the pause conditions.
    let (stdout, stderr) = sim.ok(&[
        "rollout", "promote", "web", "-n", "shop", "--as", "operator",
    ]);
    assert_eq!(stdout, "rollout 'web' promoted\n");
    assert!(stderr.contains("posted decision operator#1"), "{stderr}");
    assert_eq!(rollout("{.status.pauseConditions}"), "");
    assert_eq!(
        rollout("{.status.controllerPause}/{.metadata.generation}"),
        "true/2"
    );
    let decision = &entries(&root)[0];
    assert_eq!(decision["kind"], "decision");
    let body = decision["body"].as_str().unwrap();
    assert!(body.contains("**promote** Rollout `shop/web`"), "{body}");
    assert!(
        body.contains(
            r#"PATCH /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web/status (application/merge-patch+json) {"status":{"pauseConditions":null}}` → resourceVersion"#
        ),
        "{body}"
    );

    // abort, then abort again: the second is sent too, with a note and no error.
    sim.ok(&["rollout", "abort", "web", "-n", "shop"]);
    assert_eq!(rollout("{.status.abort}"), "true");
    let (stdout, stderr) = sim.ok(&["rollout", "abort", "web", "-n", "shop"]);
    assert_eq!(stdout, "rollout 'web' aborted\n");
    assert!(
        stderr.contains("note: rollout 'web' was already aborted"),
        "{stderr}"
    );
    sim.ok(&["rollout", "retry", "web", "-n", "shop"]);
    assert_eq!(rollout("{.status.abort}"), "false");
    let (_, stderr) = sim.ok(&["rollout", "retry", "web", "-n", "shop"]);
    assert!(stderr.contains("is not aborted"), "{stderr}");

    sim.ok(&["rollout", "pause", "web", "-n", "shop"]);
    assert_eq!(rollout("{.spec.paused}/{.metadata.generation}"), "true/3");
    let (stdout, _) = sim.ok(&["rollout", "resume", "web", "-n", "shop", "-o", "json"]);
    let outcome: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(outcome["action"], "resume");
    assert_eq!(outcome["sent"][0]["code"], 200);
    assert_eq!(outcome["rollout"]["spec"]["paused"], false);
    assert_eq!(rollout("{.spec.paused}"), "false");

    // undo: revision 1's template comes back without its pod-template hash.
    let (stdout, _) = sim.ok(&["rollout", "undo", "web", "-n", "shop", "--as", "operator"]);
    assert_eq!(stdout, "rollout 'web' undo\n");
    assert_eq!(
        rollout("{.spec.template.spec.containers[0].image}"),
        "web:1"
    );
    assert_eq!(
        rollout("{.spec.template.metadata.labels}"),
        r#"{"app":"web"}"#
    );
    let body = entries(&root)[1]["body"].as_str().unwrap().to_string();
    assert!(body.contains("(application/json-patch+json)"), "{body}");
    let (stdout, _) = sim.ok(&["rollout", "undo", "web", "-n", "shop", "--to-revision", "1"]);
    assert_eq!(
        stdout,
        "skipped rollback (current template already matches revision 1)\n"
    );

    // Refusals change nothing and post nothing.
    let before = rv();
    for (args, code, says) in [
        (
            &[
                "rollout",
                "undo",
                "web",
                "-n",
                "shop",
                "--to-revision",
                "9",
                "--as",
                "operator",
            ][..],
            2,
            "unable to find specified revision 9 in history",
        ),
        (
            &[
                "rollout", "promote", "nosuch", "-n", "shop", "--as", "operator",
            ][..],
            2,
            r#"rollouts.argoproj.io "nosuch" not found"#,
        ),
        (
            &["rollout", "abort", "web", "-n", "shop", "--as", "nobody"][..],
            2,
            "nobody",
        ),
        (
            &["rollout", "undo", "web", "-n", "shop", "--to-revision=-1"][..],
            2,
            "--to-revision -1 is not a revision",
        ),
        (
            &[
                "rollout",
                "pause",
                "web",
                "-n",
                "shop",
                "--channel",
                "shop-release",
            ][..],
            2,
            "records the action only with --as ROLE",
        ),
    ] {
        let out = sim.run(args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{args:?}: one line: {stderr}"
        );
    }
    assert_eq!(rv(), before, "a refused action wrote");
    assert_eq!(
        entries(&root).len(),
        2,
        "only the two recorded actions posted"
    );
}

#[test]
fn promote_full_and_a_healthy_rollout() {
    let sim = start(SHOP);
    let (stdout, _) = sim.ok(&["rollout", "promote", "web", "-n", "shop", "--full"]);
    assert_eq!(stdout, "rollout 'web' fully promoted\n");
    assert_eq!(
        field(&sim, "rollout", "web", "{.status.promoteFull}"),
        "true"
    );
    // As the plugin: a healthy rollout is "promoted" (a status patch that changes nothing),
    // and we say why nothing will follow.
    let (stdout, stderr) = sim.ok(&["rollout", "promote", "done", "-n", "shop"]);
    assert_eq!(stdout, "rollout 'done' promoted\n");
    assert!(stderr.contains("nothing to promote"), "{stderr}");
}

#[test]
fn list_like_the_plugin() {
    let sim = start("story-objects");
    let (stdout, _) = sim.ok(&["rollout", "list", "-A"]);
    let mut rows = stdout.lines();
    assert_eq!(
        rows.next().unwrap(),
        "NAMESPACE  NAME        STRATEGY   STATUS        STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE"
    );
    assert_eq!(
        rows.next().unwrap().trim_end(),
        "llm        litellm     Canary     Healthy       3/3   100         5/5    5        5           5"
    );
    assert!(rows.next().is_none(), "{stdout}");
    let (stdout, _) = sim.ok(&["rollout", "list", "-n", "llm", "-o", "json"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed[0]["name"], "litellm");
    assert_eq!(listed[0]["setWeight"], "100");
    let (stdout, stderr) = sim.ok(&["rollout", "list", "-n", "default"]);
    assert!(stdout.is_empty());
    assert_eq!(stderr, "No resources found.\n");
}

#[test]
fn status_exits_zero_one_and_on_timeout() {
    let sim = start(SHOP);
    let run = |args: &[&str]| {
        let out = sim.run(&[&["rollout", "status"][..], args, &["-n", "shop"]].concat());
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    assert_eq!(run(&["done"]), (Some(0), "Healthy\n".into(), String::new()));
    // Watching, the plugin prints the message with every status; once, not for Degraded.
    let (code, stdout, stderr) = run(&["broken"]);
    assert_eq!(
        (code, stdout.as_str()),
        (
            Some(1),
            "Degraded - ProgressDeadlineExceeded: ReplicaSet \"broken-b\" has timed out progressing.\n"
        )
    );
    let (code, stdout, _) = run(&["broken", "--watch=false"]);
    assert_eq!((code, stdout.as_str()), (Some(1), "Degraded\n"));
    assert!(
        stderr
            .contains("The rollout is in a degraded state with message: ProgressDeadlineExceeded"),
        "{stderr}"
    );
    // Watches by default: until the phase changes (written here through the API).
    let mut watch = sim
        .warroom(&["rollout", "status", "slow", "-n", "shop"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(watch.stdout.take().unwrap());
    assert_eq!(
        out.recv_timeout(DEADLINE).unwrap(),
        "Progressing - more replicas need to be updated"
    );
    let patched = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(sim.kubeconfig())
        .args([
            "patch",
            "rollout",
            "slow",
            "-n",
            "shop",
            "--subresource",
            "status",
            "--type",
            "merge",
        ])
        .args(["-p", r#"{"status":{"phase":"Healthy","message":""}}"#])
        .output()
        .unwrap();
    assert!(
        patched.status.success(),
        "{}",
        String::from_utf8_lossy(&patched.stderr)
    );
    assert_eq!(out.recv_timeout(DEADLINE).unwrap(), "Healthy");
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = watch.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "status did not exit at Healthy");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    let (code, stdout, _) = run(&["stuck", "--watch=false"]);
    assert_eq!(
        (code, stdout.as_str()),
        (Some(0), "Progressing - more replicas need to be updated\n")
    );
    let (code, _, stderr) = run(&["stuck", "--timeout", "2s"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("Rollout status watch exceeded timeout"),
        "{stderr}"
    );
    let (code, stdout, _) = run(&["done", "-o", "json"]);
    assert_eq!(code, Some(0));
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["status"], "Healthy");
}

/// Sends `signal` to a running command once it has printed a line, and returns its exit
/// status and stderr.
fn interrupt(mut child: Child, signal: &str) -> (Option<i32>, String) {
    let out = lines(child.stdout.take().unwrap());
    out.recv_timeout(DEADLINE)
        .expect("the command printed its first line");
    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not exit after {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn an_interrupted_status_exits_130_and_a_stopped_watch_exits_0() {
    let sim = start(SHOP);
    let spawn = |args: &[&str]| {
        sim.warroom(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (code, stderr) = interrupt(spawn(&["rollout", "status", "stuck", "-n", "shop"]), "-INT");
    assert_eq!(code, Some(130), "{stderr}");
    assert_eq!(
        stderr,
        "interrupted: rollout stuck has not reached Healthy or Degraded\n"
    );
    for signal in ["-INT", "-TERM"] {
        let (code, stderr) = interrupt(
            spawn(&["rollout", "get", "web", "-n", "shop", "--watch"]),
            signal,
        );
        assert_eq!(code, Some(0), "{signal}: {stderr}");
        assert_eq!(stderr, "stopped watching web\n", "{signal}");
    }
}

#[test]
fn kubeconfig_and_context_flags() {
    let sim = start(SHOP);
    let missing = sim.dir.path().join("nope.yaml");
    let out = sim
        .warroom(&["rollout", "list", "-n", "shop"])
        .env("KUBECONFIG", &missing)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stdout.is_empty());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "KUBECONFIG={} names no existing file",
            missing.display()
        )) && stderr.contains("--kubeconfig FILE"),
        "{stderr}"
    );
    // --kubeconfig wins over a broken KUBECONFIG; --context picks a context by name.
    let kubeconfig = sim.kubeconfig();
    let (stdout, _) = {
        let out = sim
            .warroom(&[
                "rollout",
                "status",
                "done",
                "-n",
                "shop",
                "--context",
                "warroom-sim",
            ])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .env("KUBECONFIG", &missing)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text(&out)
    };
    assert_eq!(stdout, "Healthy\n");
    let out = sim.run(&[
        "rollout",
        "status",
        "done",
        "-n",
        "shop",
        "--context",
        "nosuch",
    ]);
    let (_, stderr) = text(&out);
    // A context the kubeconfig lacks is bad input, as for every cluster-facing command.
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--context \"nosuch\" is not in kubeconfig")
            && stderr.contains("contexts: warroom-sim"),
        "{stderr}"
    );
}

/// Mid-canary in the story, the view has the whole revision tree — the canary ReplicaSet, its
/// pod, the AnalysisRun — and the canary's actual weight, as the plugin shows it.
#[test]
fn the_story_shows_the_full_revision_tree() {
    let sim = Sim::start("story-objects", "20", DEADLINE);
    let deadline = Instant::now() + DEADLINE;
    let view = loop {
        let (view, _) = sim.ok(&["rollout", "get", "litellm", "-n", "llm"]);
        if view.contains("AnalysisRun") {
            break view;
        }
        assert!(
            Instant::now() < deadline,
            "no AnalysisRun in the tree:\n{view}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(view.contains("  ActualWeight:  20\n"), "{view}");
    let tree: Vec<Vec<&str>> = view
        .lines()
        .skip_while(|l| !l.starts_with("NAME"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    let has = |name: &str, kind: &str| {
        tree.iter()
            .any(|row| row.contains(&name) && row.contains(&kind))
    };
    assert!(has("litellm-67b4ccbdb4", "ReplicaSet"), "{view}");
    assert!(has("litellm-67b4ccbdb4-qz8rm", "Pod"), "{view}");
    assert!(has("litellm-67b4ccbdb4-2-1", "AnalysisRun"), "{view}");
    assert!(has("litellm-6c8d9f7b4f", "ReplicaSet"), "{view}");
    assert!(has("litellm-6c8d9f7b4f-2n7xw", "Pod"), "{view}");
    assert!(
        view.contains("# revision:2") && view.contains("# revision:1"),
        "{view}"
    );
}

/// Ages are read against the cluster's clock, as the plugin reads them against a real
/// cluster's: at speed 20 the simulator's scenario time runs away from the local clock, and the
/// Rollout's age in the view must still put its creation between the scenario times read just
/// before and just after (each from a ConfigMap the simulator stamps on creation).
#[test]
fn ages_are_read_against_the_clusters_clock() {
    let sim = Sim::start("story", "20", DEADLINE);
    let stamp = |name: &str| -> chrono::DateTime<chrono::Utc> {
        // From a file: kubectl's typed `create configmap` speaks protobuf, which the simulator
        // refuses.
        let file = sim.dir.path().join(format!("{name}.json"));
        std::fs::write(
            &file,
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"llm"}}}}"#),
        )
        .unwrap();
        sim.kubectl(&["create", "--validate=false", "-f", file.to_str().unwrap()]);
        let at = sim.kubectl(&[
            "get",
            "configmap",
            name,
            "-n",
            "llm",
            "-o",
            "jsonpath={.metadata.creationTimestamp}",
        ]);
        at.trim().parse().unwrap_or_else(|e| panic!("{at:?}: {e}"))
    };
    let created: chrono::DateTime<chrono::Utc> = sim
        .kubectl(&[
            "get",
            "rollout",
            "litellm",
            "-n",
            "llm",
            "-o",
            "jsonpath={.metadata.creationTimestamp}",
        ])
        .trim()
        .parse()
        .unwrap();
    // Let the scenario's clock get well away from the wall clock (a minute of scenario time).
    let deadline = Instant::now() + DEADLINE;
    let mut probes = 0;
    while {
        probes += 1;
        stamp(&format!("wait-{probes}")) - created < chrono::TimeDelta::seconds(60)
    } {
        assert!(
            Instant::now() < deadline,
            "the scenario's clock did not move"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let before = stamp("before");
    let (view, _) = sim.ok(&["rollout", "get", "litellm", "-n", "llm"]);
    let after = stamp("after");
    let row = view
        .lines()
        .find(|l| l.contains("litellm") && l.contains(" Rollout "))
        .unwrap_or_else(|| panic!("no Rollout row:\n{view}"));
    let age_text = row.split_whitespace().rev().find(|w| {
        w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.ends_with(['s', 'm', 'h', 'd'])
    });
    let age = parse_age(age_text.unwrap_or_else(|| panic!("no age in {row:?}")));
    let seen = created + age;
    // The age is cut to the second.
    assert!(
        seen >= before - chrono::TimeDelta::seconds(1) && seen <= after,
        "age {age} puts now at {seen}, outside the scenario's {before} .. {after}:\n{view}"
    );
}

/// "2m1s", "20d", "1h2m" as the plugin prints ages.
fn parse_age(text: &str) -> chrono::TimeDelta {
    let mut total = chrono::TimeDelta::zero();
    let mut n = 0i64;
    for c in text.chars() {
        match c {
            '0'..='9' => n = n * 10 + i64::from(c.to_digit(10).unwrap()),
            'd' => (total, n) = (total + chrono::TimeDelta::days(n), 0),
            'h' => (total, n) = (total + chrono::TimeDelta::hours(n), 0),
            'm' => (total, n) = (total + chrono::TimeDelta::minutes(n), 0),
            's' => (total, n) = (total + chrono::TimeDelta::seconds(n), 0),
            _ => panic!("age {text:?}"),
        }
    }
    total
}
