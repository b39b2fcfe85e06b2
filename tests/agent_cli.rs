//! The command line and REST side of agents as members (issue 12): `timeline --grep/-i/--to`,
//! the same filter on the relay's `entries` route, `catchup` with addressed entries first,
//! `catchup --count`, and `WARROOM_ROLE`. The real binary on real files, a real relay on
//! 127.0.0.1 port 0.

mod harness;
mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use harness::{Run, Sandbox};
use serde_json::Value;

fn ids(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// A channel with a few entries: pipeline#1 alert, data-plane#1 to traffic, operator#1 to
/// traffic and data-plane, pipeline#2 note.
fn channel() -> Sandbox {
    let sb = Sandbox::new();
    sb.ok(&["open", "agents", "--roles", "pipeline,data-plane,traffic"]);
    sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "Rollout litellm DEGRADED: ProgressDeadlineExceeded",
    ]);
    sb.ok(&[
        "post",
        "--as",
        "data-plane",
        "--to",
        "traffic",
        "Canary RS scaled to 1; is traffic reaching it?",
    ]);
    sb.ok(&[
        "post",
        "--as",
        "operator",
        "--kind",
        "question",
        "--to",
        "traffic",
        "--to",
        "data-plane",
        "Who sees 404s on /v1/embeddings?",
    ]);
    sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--kind",
        "note",
        "step 2 of 8: setWeight 20",
    ]);
    sb
}

#[test]
fn timeline_grep_is_a_regex_with_ignore_case() {
    let sb = channel();
    let run = sb.ok(&["timeline", "--grep", "rollout .* degraded", "-o", "ndjson"]);
    assert!(ids(&run).is_empty(), "case matters without -i: {run:?}");
    let run = sb.ok(&[
        "timeline",
        "--grep",
        "rollout .* degraded",
        "-i",
        "-o",
        "ndjson",
    ]);
    assert_eq!(ids(&run), ["pipeline#1"]);
    let run = sb.ok(&[
        "timeline",
        "--grep",
        "40[0-9]|setWeight \\d+",
        "-o",
        "ndjson",
    ]);
    assert_eq!(ids(&run), ["operator#1", "pipeline#2"]);
    // With the other filters: all must hold.
    let run = sb.ok(&[
        "timeline", "--grep", "e", "--author", "pipeline", "--kind", "note", "-o", "ndjson",
    ]);
    assert_eq!(ids(&run), ["pipeline#2"]);
    let run = sb.ok(&["timeline", "--to", "traffic", "-o", "ndjson"]);
    assert_eq!(ids(&run), ["data-plane#1", "operator#1"]);
    let run = sb.ok(&["timeline", "--grep", "canary", "-i"]);
    assert!(run.stdout.contains("Canary RS scaled"), "{run:?}");
}

#[test]
fn a_bad_pattern_is_exit_2_naming_it_and_reads_nothing() {
    let sb = channel();
    let run = sb.run(&["timeline", "--grep", "(unclosed", "-o", "ndjson"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    assert_eq!(
        run.stderr.trim(),
        "error: --grep \"(unclosed\" is not a valid regular expression: unclosed group; nothing was read"
    );
    // -i means nothing without --grep.
    let run = sb.run(&["timeline", "-i"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--grep"), "{}", run.stderr);
}

#[test]
fn timeline_follow_applies_the_grep_to_new_entries() {
    let sb = channel();
    let mut child = sb
        .command(&["timeline", "-f", "--grep", "^wake", "-i", "-o", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // Once it follows, post a miss, then a hit (stderr is drained to the end).
    let (follows_tx, follows) = mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            if line.unwrap().starts_with("following ") {
                let _ = follows_tx.send(());
            }
        }
    });
    follows
        .recv_timeout(Duration::from_secs(120))
        .expect("it follows");
    sb.ok(&["post", "--as", "traffic", "no match here"]);
    sb.ok(&["post", "--as", "traffic", "WAKE up: 404s on /v1/embeddings"]);
    // A hang guard, not a speed assertion.
    let line = rx.recv_timeout(Duration::from_secs(120)).expect("the hit");
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["id"], "traffic#2");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(rx.try_recv().is_err(), "only the hit");
}

#[test]
fn catchup_puts_addressed_entries_first_and_says_so() {
    let sb = channel();
    let run = sb.ok(&["catchup", "--as", "traffic", "-o", "ndjson"]);
    assert_eq!(
        ids(&run),
        ["data-plane#1", "operator#1", "pipeline#1", "pipeline#2"]
    );
    assert_eq!(
        run.stderr,
        "2 entries addressed to traffic, shown first\nthen the others' entries:\n\
         traffic caught up on 4 entries (2 addressed to traffic) in 2026-12-02--agents\n"
            .replace("2026-12-02", &today()),
    );
    let run = sb.ok(&["catchup", "--as", "traffic", "-o", "json"]);
    assert_eq!(run.stdout.trim(), "[]");
    // data-plane: one addressed (the operator's question), pipeline's two and traffic's none.
    sb.ok(&[
        "post",
        "--as",
        "traffic",
        "--to",
        "data-plane",
        "yes: 70% 404",
    ]);
    let run = sb.ok(&["catchup", "--as", "data-plane", "-o", "ndjson"]);
    assert_eq!(
        ids(&run),
        ["operator#1", "traffic#1", "pipeline#1", "pipeline#2"]
    );
    // Text: the entries, with nothing but entries on stdout.
    sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--to",
        "operator",
        "for the operator",
    ]);
    let run = sb.ok(&["catchup", "--as", "operator"]);
    assert!(run.stdout.contains("for the operator"), "{run:?}");
    assert!(!run.stdout.contains("addressed"), "{run:?}");
    assert!(
        run.stderr
            .starts_with("1 entry addressed to operator, shown first\n"),
        "{run:?}"
    );
}

fn today() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

#[test]
fn catchup_count_is_one_line_or_nothing_and_leaves_the_cursor() {
    let sb = channel();
    let ch = format!("{}--agents", today());
    let run = sb.ok(&["catchup", "--as", "traffic", "--count"]);
    assert_eq!(
        run.stdout,
        format!("4 new (1 alert, 2 to traffic) in {ch}\n")
    );
    assert!(run.stderr.is_empty(), "{run:?}");
    let before = sb.snapshot();
    let run = sb.ok(&["catchup", "--as", "traffic", "--count", "-o", "json"]);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"channel": ch, "reader": "traffic", "new": 4, "alerts": 1, "addressed": 2})
    );
    assert_eq!(sb.snapshot(), before, "--count wrote nothing");
    // The cursor did not move: catchup still shows all four.
    assert_eq!(
        ids(&sb.ok(&["catchup", "--as", "traffic", "-o", "ndjson"])).len(),
        4
    );
    let run = sb.ok(&["catchup", "--as", "traffic", "--count"]);
    assert_eq!(run.stdout, "", "nothing new: nothing printed");
    sb.ok(&["post", "--as", "pipeline", "--kind", "alert", "again"]);
    sb.ok(&["post", "--as", "pipeline", "--kind", "alert", "and again"]);
    let run = sb.ok(&["catchup", "--as", "traffic", "--count"]);
    assert_eq!(run.stdout, format!("2 new (2 alerts) in {ch}\n"));
    // Its own entries are not news to the reader.
    let run = sb.ok(&["catchup", "--as", "pipeline", "--count"]);
    assert_eq!(run.stdout, format!("2 new in {ch}\n"));
    // A role not on the roster: exit 2 with a did-you-mean, nothing written.
    let before = sb.snapshot();
    let run = sb.run(&["catchup", "--as", "trafic", "--count"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("did you mean traffic?"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    assert_eq!(sb.snapshot(), before);
}

#[test]
fn warroom_role_is_the_default_for_as() {
    let sb = channel();
    let env = [("WARROOM_ROLE", "traffic")];
    let run = sb.run_env(&["post", "seen from traffic"], &env).ok();
    assert_eq!(run.stdout.trim(), "traffic#1");
    let run = sb.run_env(&["catchup", "--count"], &env).ok();
    assert!(
        run.stdout.starts_with("4 new (1 alert, 2 to traffic)"),
        "{run:?}"
    );
    // --as wins over the environment.
    let run = sb
        .run_env(&["post", "--as", "data-plane", "from data-plane"], &env)
        .ok();
    assert_eq!(run.stdout.trim(), "data-plane#2");
    let run = sb.run_env(&["ack", "pipeline#1"], &env).ok();
    assert_eq!(run.stdout.trim(), "traffic#2");
    // A role not on the roster from the environment is refused as from --as.
    let run = sb.run_env(&["post", "x"], &[("WARROOM_ROLE", "nobody")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("\"nobody\" is not on the roster"),
        "{}",
        run.stderr
    );
    // Without it, --as is required where it has no default.
    let run = sb.run(&["catchup", "--count"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("--as <ROLE>"), "{}", run.stderr);
    // Observers and cluster actions never take it (docs/AGENTS.md): a role the roster refuses
    // goes unnoticed, and they get as far as the (missing) kubeconfig.
    let env = [
        ("WARROOM_ROLE", "nobody"),
        ("KUBECONFIG", "/nonexistent/kubeconfig"),
    ];
    for args in [
        &["agent", "pipeline", "-n", "llm"][..],
        &["agent", "data-plane", "-n", "llm"][..],
        &["rollout", "promote", "litellm", "-n", "llm"][..],
    ] {
        let run = sb.run_env(args, &env);
        assert_ne!(run.code, 0, "{args:?}: {run:?}");
        assert!(!run.stderr.contains("nobody"), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("/nonexistent/kubeconfig"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_entries_take_the_same_filter() {
    let env = support::Env::new();
    let ch = env.open("rest-grep");
    env.ok(&["roster", "add", "pipeline", "traffic", "--channel", &ch]);
    env.post(&ch, "pipeline", "Rollout litellm DEGRADED");
    env.post(&ch, "traffic", "404 on /v1/embeddings");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "--to",
        "traffic",
        "--no-sync",
        "degraded again",
    ]);
    let server = support::Server::start(&env);
    let get = |query: &str| {
        let url = format!("{}/api/channels/{ch}/entries?{query}", server.url);
        async move {
            let r = reqwest::get(&url).await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, v) = get("grep=degraded").await;
    assert_eq!((status, ids(&v)), (200, vec!["pipeline#2".to_owned()]));
    let (_, v) = get("grep=DEGRADED&i=1").await;
    assert_eq!(ids(&v), ["pipeline#1", "pipeline#2"]);
    let (_, v) = get("grep=%5E40%5B0-9%5D").await; // ^40[0-9]
    assert_eq!(ids(&v), ["traffic#1"]);
    let (_, v) = get("author=pipeline&kind=alert").await;
    assert_eq!(ids(&v), ["pipeline#2"]);
    let (_, v) = get("to=traffic").await;
    assert_eq!(ids(&v), ["pipeline#2"]);
    let (_, v) = get("cursor=pipeline:1").await;
    assert_eq!(ids(&v), ["traffic#1", "pipeline#2"]);
    let (_, v) = get("grep=degraded&i=true&cursor=pipeline:1,traffic:1").await;
    assert_eq!(ids(&v), ["pipeline#2"]);

    let (status, v) = get("grep=%28unclosed").await;
    assert_eq!(status, 400);
    assert_eq!(
        v["error"],
        "the query parameter \"grep\": \"(unclosed\" is not a valid regular expression: unclosed group (URL-encode the pattern; the syntax is Rust's regex crate)"
    );
    let (status, v) = get("grep=x&i=maybe").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("use i=1"), "{v}");
    let (status, v) = get("greb=x").await;
    assert_eq!(status, 400);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("the parameters are since, cursor"),
        "{v}"
    );
    let (status, v) = get("cursor=pipeline").await;
    assert_eq!(status, 400);
    assert!(v["error"].as_str().unwrap().contains("\"cursor\""), "{v}");
    let (status, v) = get("kind=alrt").await;
    assert_eq!(status, 400);
    assert!(
        v["error"].as_str().unwrap().contains("did you mean alert"),
        "{v}"
    );
    server.terminate();
}

/// Two namespaces with a Rollout, a ReplicaSet and a pod of the same names in each.
const TWO_NAMESPACES: &str = r#"
name: two-namespaces
end: 10m
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: blue}}
  - {apiVersion: v1, kind: Namespace, metadata: {name: green}}
{{each}}
"#;

const ONE_NAMESPACE: &str = r#"
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {name: web, namespace: NS, generation: 1}
    spec:
      replicas: 1
      selector: {matchLabels: {app: web}}
      template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: "web:NS"}]}}
      strategy: {canary: {steps: [{setWeight: 100}]}}
    status: {observedGeneration: "1", phase: Healthy, currentStepIndex: 1, currentPodHash: h1, stableRS: h1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1}
  - apiVersion: apps/v1
    kind: ReplicaSet
    metadata:
      name: web-h1
      namespace: NS
      labels: {app: web, rollouts-pod-template-hash: h1}
      annotations: {rollout.argoproj.io/revision: "1"}
      ownerReferences: [{apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: web, controller: true}]
    spec:
      replicas: 1
      selector: {matchLabels: {app: web, rollouts-pod-template-hash: h1}}
      template: {metadata: {labels: {app: web, rollouts-pod-template-hash: h1}}, spec: {containers: [{name: web, image: "web:NS"}]}}
    status: {replicas: 1, readyReplicas: 1, availableReplicas: 1}
"#;

/// A running `warroom sim` on a scenario file; killed on drop.
struct Sim(std::process::Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `warroom agent ARGS` until `done` holds for the channel's timeline (bounded), then
/// stops it with SIGINT; returns its stderr.
fn observe_until(sb: &Sandbox, args: &[&str], done: impl Fn(&str) -> bool) -> String {
    let child = sb
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    for _ in 0..600 {
        seen = sb.ok(&["timeline", "-o", "md"]).stdout;
        if done(&seen) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap();
    assert!(
        done(&seen),
        "{args:?} never posted what was expected:\n{seen}"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn observers_watch_every_namespace_with_all_namespaces() {
    let sb = Sandbox::new();
    let each: String = ["blue", "green"]
        .iter()
        .map(|ns| ONE_NAMESPACE.replace("NS", ns))
        .collect();
    std::fs::write(
        sb.path("scenario.yaml"),
        TWO_NAMESPACES.replace("{{each}}", each.trim_start_matches('\n')),
    )
    .unwrap();
    let mut child = sb
        .command(&[
            "sim",
            "--scenario",
            "scenario.yaml",
            "--port",
            "0",
            "--kubeconfig-out",
            "kubeconfig",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    out.read_line(&mut url).unwrap();
    // Keep reading: a simulator whose stdout is closed stops at its next line.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let _sim = Sim(child);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    sb.ok(&["open", "spread", "--roles", "pipeline,data-plane"]);
    let kc = sb.path("kubeconfig");
    let kc = kc.to_str().unwrap();

    // The pipeline: both same-named Rollouts, each under its namespace.
    let stderr = observe_until(&sb, &["agent", "pipeline", "-A", "--kubeconfig", kc], |t| {
        t.contains("watching Rollout `blue/web`") && t.contains("watching Rollout `green/web`")
    });
    assert!(
        stderr.contains("every Rollout in every namespace"),
        "{stderr}"
    );
    // The data plane: one baseline of every namespace, objects named namespace/name.
    let stderr = observe_until(
        &sb,
        &[
            "agent",
            "data-plane",
            "--all-namespaces",
            "--kubeconfig",
            kc,
        ],
        |t| t.contains("baseline of every namespace"),
    );
    assert!(stderr.contains("in every namespace"), "{stderr}");
    let baseline = sb
        .ok(&["timeline", "--author", "data-plane", "-o", "md"])
        .stdout;
    assert!(
        baseline.contains("`blue/web-h1`") && baseline.contains("`green/web-h1`"),
        "{baseline}"
    );

    // A name needs its namespace, as with kubectl; -A and -n exclude each other.
    for args in [
        &["agent", "pipeline", "-A", "--rollout", "web"][..],
        &["agent", "pipeline", "-A", "-n", "blue"][..],
        &["agent", "data-plane", "-A", "-n", "blue"][..],
    ] {
        let run = sb.run(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    }
}
