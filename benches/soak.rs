//! Soak: the story at speed 1 for 30 minutes with the three real observers (`warroom agent
//! pipeline`, `data-plane`, `traffic`) posting to one channel, while the simulated API is
//! restarted twice (at a third and two thirds of the run, 10 s down each, with the watch history
//! dropped so that every watcher relists after a 410). Target (issue 10): zero duplicate
//! alerts: no condition is alerted again while its first alert is open, and each restart is one
//! lost/back pair per observer that watches the API.
//!
//! `cargo bench --bench soak [-- --minutes N]` (default 30; CI runs `--minutes 3`). Prints the
//! counts, the observers' CPU and peak RSS, and the load average; exits 1 on a duplicate.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warroom::sim::{self, Scenario, SimHandle};

const CHANNEL: &str = "2026-05-04--soak";
const DOWN: Duration = Duration::from_secs(10);

fn warroom(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warroom"));
    cmd.arg("--root")
        .arg(root)
        .env_remove("WARROOM_CHANNEL")
        .env_remove("WARROOM_ROOT")
        .env_remove("WARROOM_RELAY")
        .env("WARROOM_LOOPBACK_ONLY", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    cmd
}

fn proc_status(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds (100 ticks a second on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0))
        .collect();
    (f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)) as f64 / 100.0
}

fn entries(root: &Path) -> Vec<Value> {
    let out = warroom(root)
        .args(["timeline", "--channel", CHANNEL, "--format", "ndjson"])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The condition an alert entry belongs to: its idempotency key without the `#n` count (the
/// observers key every alert by condition), else its headline.
fn condition(e: &Value) -> String {
    let author = e["author"].as_str().unwrap_or_default();
    match e["key"].as_str() {
        Some(key) => format!(
            "{author} {}",
            key.rsplit_once('#').map(|(c, _)| c).unwrap_or(key)
        ),
        None => format!(
            "{author} {}",
            e["body"]
                .as_str()
                .unwrap_or_default()
                .lines()
                .next()
                .unwrap_or_default()
        ),
    }
}

struct Verdict {
    alerts: usize,
    escalations: usize,
    resolutions: usize,
    /// Conditions alerted again while their first alert was open.
    duplicates: Vec<String>,
    lost: BTreeMap<String, usize>,
    back: BTreeMap<String, usize>,
}

fn judge(entries: &[Value]) -> Verdict {
    let by_id: BTreeMap<&str, &Value> = entries
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    let mut open = BTreeSet::new();
    let mut v = Verdict {
        alerts: 0,
        escalations: 0,
        resolutions: 0,
        duplicates: Vec::new(),
        lost: BTreeMap::new(),
        back: BTreeMap::new(),
    };
    // Timeline order: a resolution comes after its alert.
    for e in entries {
        let author = e["author"].as_str().unwrap_or_default().to_string();
        let body = e["body"].as_str().unwrap_or_default();
        let refs = e["refs"].as_array().cloned().unwrap_or_default();
        match e["kind"].as_str().unwrap_or_default() {
            "alert" if refs.is_empty() => {
                v.alerts += 1;
                if body.contains("lost the Kubernetes API") {
                    *v.lost.entry(author).or_default() += 1;
                }
                if !open.insert(condition(e)) {
                    v.duplicates.push(format!(
                        "{}: {}",
                        e["id"],
                        body.lines().next().unwrap_or_default()
                    ));
                }
            }
            "alert" => v.escalations += 1,
            "resolved" => {
                v.resolutions += 1;
                if body.contains("Kubernetes API is back") {
                    *v.back.entry(author).or_default() += 1;
                }
                if let Some(first) = refs
                    .first()
                    .and_then(|r| by_id.get(r.as_str().unwrap_or_default()))
                {
                    open.remove(&condition(first));
                }
            }
            _ => {}
        }
    }
    v
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let minutes: u64 = args
        .iter()
        .position(|a| a == "--minutes")
        .and_then(|i| args.get(i + 1))
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let length = Duration::from_secs(minutes * 60);

    let sim = SimHandle::new(Scenario::resolve("story").unwrap(), 1.0).unwrap();
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", api.local_addr().unwrap());
    let backend_url = format!("http://{}", backend.local_addr().unwrap());
    let cancel = CancellationToken::new();
    let server = tokio::spawn(sim::serve(
        sim.clone(),
        api,
        Some(backend),
        cancel.clone().cancelled_owned(),
    ));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim::kubeconfig(&url, Some("llm"))).unwrap();
    let opened = warroom(&root)
        .args(["open", "soak", "--date", "2026-05-04"])
        .output()
        .unwrap();
    assert!(opened.status.success(), "{opened:?}");

    let log = |name: &str| std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
    let observer = |args: &[&str], name: &str| {
        warroom(&root)
            .args(["agent"])
            .args(args)
            .args(["--channel", CHANNEL])
            .env("KUBECONFIG", &kubeconfig)
            .stderr(log(name))
            .spawn()
            .unwrap()
    };
    let started = Instant::now();
    let mut pipeline = observer(
        &["pipeline", "--rollout", "litellm", "-n", "llm"],
        "pipeline",
    );
    let mut data_plane = observer(&["data-plane", "-n", "llm", "--window", "2s"], "data-plane");
    let duration = format!("{}s", length.as_secs());
    let mut traffic = observer(
        &[
            "traffic",
            "--url",
            &backend_url,
            "--route",
            r#"POST /v1/chat/completions {"model":"m","messages":[]}"#,
            "--route",
            r#"POST /v1/embeddings {"input":"hi"}"#,
            "--route",
            "GET /v1/models",
            "--rate",
            "5/s",
            "--window",
            "10s",
            "--duration",
            &duration,
        ],
        "traffic",
    );

    for restart in [length / 3, length * 2 / 3] {
        tokio::time::sleep_until((started + restart).into()).await;
        sim.compact();
        sim.restart_api(DOWN);
        eprintln!(
            "{:>5.0}s: API restarted ({}s down, history dropped)",
            started.elapsed().as_secs_f64(),
            DOWN.as_secs()
        );
    }
    tokio::time::sleep_until((started + length).into()).await;
    let pids = [
        ("pipeline", pipeline.id()),
        ("data-plane", data_plane.id()),
        ("traffic", traffic.id()),
    ];
    let usage: Vec<(&str, f64, u64)> = pids
        .iter()
        .map(|(n, pid)| (*n, cpu_seconds(*pid), proc_status(*pid, "VmHWM:")))
        .collect();
    let load = common::load_average();
    stop(&mut pipeline);
    stop(&mut data_plane);
    let _ = tokio::time::timeout(Duration::from_secs(60), async {
        while traffic.try_wait().unwrap().is_none() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    stop(&mut traffic);
    cancel.cancel();
    let _ = server.await;

    let all = entries(&root);
    let v = judge(&all);
    println!(
        "soak: the story at speed 1 for {minutes} min, API restarted twice; load average at the end {load}"
    );
    println!(
        "entries {} · alerts {} · escalations {} · resolutions {} · duplicate alerts {}",
        all.len(),
        v.alerts,
        v.escalations,
        v.resolutions,
        v.duplicates.len()
    );
    println!(
        "lost the API (per observer) {:?} · back {:?}",
        v.lost, v.back
    );
    for (name, cpu, peak) in usage {
        println!(
            "{name}: {cpu:.1} s CPU ({:.4} core), peak RSS {:.1} MiB",
            cpu / length.as_secs_f64(),
            peak as f64 / 1024.0
        );
    }
    let pairs_ok = ["pipeline", "data-plane"]
        .iter()
        .all(|o| v.lost.get(*o) == Some(&2) && v.back.get(*o) == Some(&2));
    if !v.duplicates.is_empty() || !pairs_ok {
        for d in &v.duplicates {
            println!("duplicate: {d}");
        }
        println!("FAILED: duplicates or lost/back pairs off (expected 2 and 2 per API observer)");
        std::process::exit(1);
    }
    println!("ok: zero duplicate alerts; one lost/back pair per restart per API observer");
}
