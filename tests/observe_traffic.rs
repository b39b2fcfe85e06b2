//! The traffic observer against the simulator's fake backend: its tallies equal the backend's
//! own request counts exactly, a 429 route counts as failure and alerts, backends spread is
//! reported; and the bad inputs of `warroom agent` are refused clearly (real binary).

mod harness;
mod observe_harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::Sandbox;
use observe_harness::{Record, Sim, observe};
use warroom::channel::Kind;
use warroom::observe::traffic::{self, Bound, Route, TrafficConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tallies_equal_the_backends_own_counts_and_a_429_route_fails() {
    // SAFETY: set before any thread of this test reads the environment; the guard is the
    // point of the test binary (every target here is loopback).
    unsafe { std::env::set_var(traffic::LOOPBACK_ONLY_ENV, "1") };
    let sim = Sim::builtin("story-objects", 1.0).await;
    let routes = vec![
        Route::parse("POST /v1/chat/completions {\"model\":\"m\",\"messages\":[]}").unwrap(),
        Route::parse("POST /v1/embeddings {\"input\":\"x\"}").unwrap(),
        Route::parse("GET /v1/models").unwrap(),
    ];
    let config = TrafficConfig::new(
        &sim.backend_url,
        routes,
        100.0,
        Bound::Count(90),
        Duration::from_millis(300),
        Some("x-backend".into()),
        Duration::from_secs(5),
        0.05,
    )
    .unwrap();
    let record = Record::new();
    let report = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = report.clone();
    observe(
        &record,
        "traffic",
        move |out, cancel| async move {
            let r = traffic::run_report(config, out, cancel).await?;
            *slot.lock().unwrap() = Some(r);
            Ok(())
        },
        async {
            // Ends on its own at the count; wait for the summary.
            observe_harness::wait_for(&record, "traffic", "traffic summary").await;
        },
    )
    .await
    .unwrap();
    let counts = sim.sim.backend_counts();
    sim.stop().await;
    let report = report.lock().unwrap().take().unwrap();

    // Exact: every status of every route, as the backend counted them.
    let mut ours: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (route, tally) in report.routes.iter().zip(&report.totals) {
        assert_eq!(tally.errors + tally.timeouts, 0, "{tally:?}");
        let per: BTreeMap<String, u64> = tally
            .statuses
            .iter()
            .map(|(s, n)| (s.to_string(), *n))
            .collect();
        ours.insert(route.label(), per);
    }
    assert_eq!(ours, counts.routes);
    assert_eq!(
        report.totals.iter().map(|t| t.total()).sum::<u64>(),
        counts.total
    );
    assert_eq!(counts.total, 90);
    // Backends too.
    let mut backends: BTreeMap<String, u64> = BTreeMap::new();
    for t in &report.totals {
        for (b, n) in &t.backends {
            *backends.entry(b.clone()).or_default() += n;
        }
    }
    assert_eq!(backends, counts.backends);

    let entries = record.entries();
    let summary = entries
        .iter()
        .find(|e| e.body.starts_with("**traffic summary**"))
        .unwrap();
    // The posted summary carries the same exact counts.
    let emb = &counts.routes["POST /v1/embeddings"];
    let statuses: Vec<String> = emb.iter().map(|(s, n)| format!("{s}×{n}")).collect();
    assert!(
        summary.body.contains(&statuses.join(" ")),
        "{}",
        summary.body
    );
    assert!(
        summary
            .body
            .contains("| `POST /v1/embeddings` | 30 | 0 | 0 | 30 | 0 | 0 | 0 | **30** |"),
        "{}",
        summary.body
    );
    assert!(
        summary
            .body
            .contains("| `GET /v1/models` | 30 | 30 | 0 | 0 | 0 | 0 | 0 | 0 |"),
        "{}",
        summary.body
    );
    assert!(summary.body.contains("σ/μ"), "{}", summary.body);
    // The 4xx route alerts (once), the 200 routes never.
    let alerts: Vec<_> = entries.iter().filter(|e| e.kind == Kind::Alert).collect();
    assert!(!alerts.is_empty());
    assert!(
        alerts
            .iter()
            .all(|a| a.body.contains("`POST /v1/embeddings` is failing")),
        "{alerts:#?}"
    );
    assert!(alerts[0].body.contains("429×"), "{}", alerts[0].body);
}

/// Runs a prepared command of the real binary (with extra env) and collects its outcome.
fn run_command(mut c: std::process::Command) -> harness::Run {
    let out = c
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run warroom");
    harness::Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn traffic_without_a_bound_is_refused() {
    let sb = Sandbox::new();
    sb.run(&["open", "t"]).ok();
    let run = sb.run(&[
        "agent",
        "traffic",
        "--url",
        "http://127.0.0.1:9",
        "--route",
        "GET /x",
        "--route",
        "GET /y",
    ]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("needs a bound: add --duration D"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_non_loopback_url_is_refused_under_the_test_guard() {
    let sb = Sandbox::new();
    sb.run(&["open", "t"]).ok();
    let mut c = sb.command(&[
        "agent",
        "traffic",
        "--url",
        "http://example.com",
        "--route",
        "GET /x",
        "--count",
        "1",
    ]);
    c.env(traffic::LOOPBACK_ONLY_ENV, "1");
    let run = run_command(c);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("WARROOM_LOOPBACK_ONLY=1 allows only 127.0.0.1 and [::1]"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_role_is_a_usage_error() {
    let sb = Sandbox::new();
    let run = sb.run(&["agent", "sre-bot", "-n", "x"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr
            .contains("unknown observer role \"sre-bot\": use pipeline, data-plane or traffic"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_route_is_warned_about_before_the_run() {
    let sb = Sandbox::new();
    sb.run(&["open", "t"]).ok();
    let mut c = sb.command(&[
        "agent",
        "traffic",
        "--url",
        "http://127.0.0.1:9",
        "--route",
        "GET /x",
        "--count",
        "1",
        "--timeout",
        "1s",
    ]);
    c.env(traffic::LOOPBACK_ONLY_ENV, "1");
    let run = run_command(c);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("only one route"), "{}", run.stderr);
    // The ids of its entries: intro, window, summary at least.
    assert!(run.stdout.lines().count() >= 2, "{}", run.stdout);
    assert!(
        run.stdout.lines().all(|l| l.starts_with("traffic#")),
        "{}",
        run.stdout
    );
}

#[test]
fn an_observer_posts_through_the_relay_with_a_token() {
    use std::io::BufRead;
    let sb = Sandbox::new();
    let channel = sb
        .run(&["open", "relay-post"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let token = sb
        .run(&["token", "add", "--role", "traffic", "--channel", &channel])
        .ok()
        .stdout
        .trim()
        .to_string();
    let mut serve = sb
        .command(&["serve", "--bind", "127.0.0.1:0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start warroom serve");
    let mut line = String::new();
    std::io::BufReader::new(serve.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("serve prints its URL");
    let relay = line.trim().trim_end_matches('/').to_string();
    let mut c = sb.command(&[
        "agent",
        "traffic",
        "--relay",
        &relay,
        "--token",
        &token,
        "--channel",
        &channel,
        "--url",
        "http://127.0.0.1:9",
        "--route",
        "GET /a",
        "--route",
        "GET /b",
        "--count",
        "4",
        "--rate",
        "50/s",
        "--timeout",
        "1s",
    ]);
    c.env(traffic::LOOPBACK_ONLY_ENV, "1");
    let run = run_command(c);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(serve.id().to_string())
        .status();
    let _ = serve.wait();
    assert_eq!(run.code, 0, "{run:?}");
    // The ids the relay answered with, in order.
    assert_eq!(
        run.stdout.lines().collect::<Vec<_>>(),
        ["traffic#1", "traffic#2", "traffic#3"]
    );
    let timeline = sb.run(&["timeline", "--channel", &channel]).ok().stdout;
    assert!(timeline.contains("traffic#3"), "{timeline}");
    assert!(
        timeline.contains("**traffic summary**: 4 requests"),
        "{timeline}"
    );
    // Connection refused is an error, and an error is a failure.
    assert!(
        timeline.contains("| `GET /a` | 2 | 0 | 0 | 0 | 0 | 2 | 0 | **2** |"),
        "{timeline}"
    );
}
