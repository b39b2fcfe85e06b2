//! The operator's actions end to end against the simulator's Rollout controller model: the
//! real `warroom sim` playing a built-in short scenario, the real `warroom agent pipeline`
//! watching it, and `warroom rollout promote|abort` sending the plugin's requests with
//! `--channel`/`--as`. What follows each action is the model's (Argo's rules), read back with
//! `warroom rollout get`, kubectl and the channel's entries.
//!
//! Every wait has a deadline; no test asserts a duration.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod support;

use support::sim::{Sim, ndjson_entries, text};

const DEADLINE: Duration = Duration::from_secs(90);
const CHANNEL: &str = "2026-05-04--shop-release";

/// A running simulator and pipeline observer, a store root with one open channel.
struct Play {
    sim: Sim,
    pipeline: Child,
}

impl Drop for Play {
    fn drop(&mut self) {
        // The simulator stops when `sim` drops, right after.
        let _ = self.pipeline.kill();
        let _ = self.pipeline.wait();
    }
}

impl Play {
    fn start(scenario: &str, speed: u32) -> Play {
        let sim = Sim::start(scenario, &speed.to_string(), DEADLINE).without_color();
        let open = sim.run(&["open", "shop-release", "--date", "2026-05-04"]);
        assert!(open.status.success(), "{}", text(&open).1);
        let pipeline = sim
            .warroom(&[
                "agent",
                "pipeline",
                "--rollout",
                "web",
                "-n",
                "shop",
                "--channel",
                CHANNEL,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Play { sim, pipeline }
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        self.sim.ok(args)
    }

    /// `warroom rollout ACTION web -n shop` as the operator, posting to the channel.
    fn act(&self, action: &str) -> (String, String) {
        self.ok(&[
            "rollout",
            action,
            "web",
            "-n",
            "shop",
            "--channel",
            CHANNEL,
            "--as",
            "operator",
        ])
    }

    /// `warroom rollout get web -n shop -o json`.
    fn view(&self) -> Value {
        let (stdout, _) = self.ok(&["rollout", "get", "web", "-n", "shop", "-o", "json"]);
        serde_json::from_str(&stdout).unwrap()
    }

    /// Waits until the view satisfies `what`; returns it.
    fn wait_view(&self, label: &str, what: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let view = self.view();
            if what(&view) {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "not {label} within {DEADLINE:?}:\n{}",
                self.ok(&["rollout", "get", "web", "-n", "shop"]).0
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// kubectl's reading of one object.
    fn kubectl(&self, args: &[&str]) -> String {
        self.sim.kubectl(&[&["-n", "shop"][..], args].concat())
    }

    fn entries(&self) -> Vec<Value> {
        ndjson_entries(
            self.sim
                .run(&["timeline", "--channel", CHANNEL, "--format", "ndjson"]),
        )
    }

    /// Waits until an entry after `after` (its index) satisfies `what`; returns its index.
    fn wait_entry(&self, label: &str, after: usize, what: impl Fn(&Value) -> bool) -> usize {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let all = self.entries();
            if let Some(i) = all.iter().skip(after).position(&what) {
                return after + i;
            }
            assert!(
                Instant::now() < deadline,
                "no entry {label} within {DEADLINE:?}:\n{}",
                all.iter()
                    .map(|e| format!("{} {}", e["id"], e["body"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

fn body(e: &Value) -> &str {
    e["body"].as_str().unwrap_or("")
}

/// The pods of the ReplicaSet tagged `tag` in a view's tree.
fn pods(view: &Value, tag: &str) -> Option<usize> {
    let rows = view["tree"].as_array()?;
    let at = rows
        .iter()
        .position(|r| r["kind"] == "ReplicaSet" && s(r, "info").split(',').any(|c| c == tag))?;
    Some(
        rows[at + 1..]
            .iter()
            .take_while(|r| r["kind"] == "Pod")
            .count(),
    )
}

/// The decision the action posted: by `operator`, naming the action and the plugin's request.
fn assert_decision(entry: &Value, action: &str, request: &str) {
    assert_eq!(entry["kind"], "decision", "{entry}");
    assert_eq!(entry["author"], "operator", "{entry}");
    let b = body(entry);
    assert!(
        b.contains(&format!("**{action}** Rollout `shop/web`")),
        "{b}"
    );
    assert!(b.contains(request), "{b}");
}

/// `manual-pause`: the canary holds at its `pause: {}` step; `promote` (the plugin's status
/// patch clearing the pause conditions) moves it to setWeight 60, its timed pause, and full
/// promotion; the pipeline observer reports the way to Healthy after the decision. Promoting
/// the now Healthy rollout is answered as the plugin answers it: sent, and nothing follows.
#[test]
fn promote_moves_a_paused_canary_on_and_the_pipeline_reports_it() {
    let play = Play::start("manual-pause", 10);
    play.wait_view("paused at its pause {} step", |v| {
        s(v, "status") == "Paused"
            && s(v, "message") == "CanaryPauseStep"
            && s(v, "step") == "1/4"
            && pods(v, "canary") == Some(1)
    });
    // The pipeline has seen the pause before the operator acts.
    play.wait_entry("reporting the pause", 0, |e| {
        e["author"] == "pipeline" && body(e).contains("Paused")
    });

    let (stdout, stderr) = play.act("promote");
    assert_eq!(stdout, "rollout 'web' promoted\n");
    assert!(stderr.contains("posted decision operator#1"), "{stderr}");
    let all = play.entries();
    let decision = all
        .iter()
        .position(|e| e["kind"] == "decision")
        .expect("a decision entry");
    assert_decision(
        &all[decision],
        "promote",
        r#"PATCH /apis/argoproj.io/v1alpha1/namespaces/shop/rollouts/web/status (application/merge-patch+json) {"status":{"pauseConditions":null}}"#,
    );

    // The model moves on: step 2 (setWeight 60: 3 of 5 canary pods), then full promotion.
    play.wait_view("at setWeight 60", |v| {
        v["setWeight"] == 60 && s(v, "step").starts_with(['2', '3'])
    });
    let healthy = play.wait_view("Healthy", |v| {
        s(v, "status") == "Healthy" && pods(v, "stable") == Some(5)
    });
    assert_eq!(healthy["step"], "4/4");
    assert!(
        play.kubectl(&["get", "events", "-o", "jsonpath={.items[*].reason}"])
            .contains("RolloutCompleted"),
        "no RolloutCompleted event"
    );
    play.wait_entry(
        "the pipeline reporting Healthy after the promote",
        decision,
        |e| e["author"] == "pipeline" && body(e).contains("**Healthy**"),
    );

    // Promote a Healthy rollout: the plugin sends its status patch anyway (the step index it
    // already has); the controller does nothing with it.
    let generation = play.kubectl(&[
        "get",
        "rollout",
        "web",
        "-o",
        "jsonpath={.metadata.generation}",
    ]);
    let (stdout, stderr) = play.act("promote");
    assert_eq!(stdout, "rollout 'web' promoted\n");
    assert!(stderr.contains("nothing to promote"), "{stderr}");
    std::thread::sleep(Duration::from_millis(500));
    let after = play.view();
    assert_eq!(after["status"], "Healthy");
    assert_eq!(after["step"], "4/4");
    assert_eq!(
        play.kubectl(&[
            "get",
            "rollout",
            "web",
            "-o",
            "jsonpath={.metadata.generation}"
        ]),
        generation
    );
    let decisions = play
        .entries()
        .into_iter()
        .filter(|e| e["kind"] == "decision")
        .count();
    assert_eq!(decisions, 2, "each action posts its decision");
}

/// `healthy-canary` mid-step: `abort` (the plugin's status patch `abort: true`) makes the model
/// abort as Argo does — phase Degraded with RolloutAborted, the RolloutAborted Event, SetWeight
/// 0, and the canary scaled down at once (abortScaleDownDelaySeconds applies only with traffic
/// routing: rollout/canary.go shouldDelayScaleDownOnAbort), the stable back to all replicas. A
/// second abort is sent too, and answered with a note and no error, as the plugin does.
#[test]
fn abort_stops_a_progressing_canary_and_abort_twice_is_answered() {
    let play = Play::start("healthy-canary", 5);
    play.wait_view("at setWeight 20 with its canary pod", |v| {
        s(v, "step") == "1/4" && v["setWeight"] == 20 && pods(v, "canary") == Some(1)
    });

    let (stdout, stderr) = play.act("abort");
    assert_eq!(stdout, "rollout 'web' aborted\n");
    assert!(stderr.contains("posted decision operator#1"), "{stderr}");
    assert_eq!(
        play.kubectl(&["get", "rollout", "web", "-o", "jsonpath={.status.abort}"]),
        "true"
    );
    let aborted = play.wait_view("aborted", |v| {
        s(v, "status") == "Degraded"
            && s(v, "message").starts_with("RolloutAborted")
            && pods(v, "canary").unwrap_or(0) == 0
            && pods(v, "stable") == Some(5)
    });
    assert_eq!(aborted["setWeight"], 0);
    assert_eq!(aborted["actualWeight"], 0);
    let reasons = play.kubectl(&["get", "events", "-o", "jsonpath={.items[*].reason}"]);
    assert!(reasons.contains("RolloutAborted"), "{reasons}");
    let all = play.entries();
    let decision = all.iter().position(|e| e["kind"] == "decision").unwrap();
    assert_decision(&all[decision], "abort", r#"{"status":{"abort":true}}"#);
    play.wait_entry("the pipeline reporting the abort", decision, |e| {
        e["author"] == "pipeline" && body(e).contains("Degraded")
    });

    let (stdout, stderr) = play.act("abort");
    assert_eq!(stdout, "rollout 'web' aborted\n");
    assert!(
        stderr.contains("note: rollout 'web' was already aborted"),
        "{stderr}"
    );
    let again = play.view();
    assert_eq!(again["status"], "Degraded");
    let decisions = play
        .entries()
        .into_iter()
        .filter(|e| e["kind"] == "decision")
        .count();
    assert_eq!(decisions, 2, "each action posts its decision");
}
