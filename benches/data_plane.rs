//! Data-plane observer under load: the real binary (`warroom agent data-plane`) against the
//! simulator holding 5,000 pods in 50 ReplicaSets on 20 nodes, while this process makes 200
//! changes per second for 60 s (pod readiness flips, restarts, ReplicaSet scales). Measures
//! the observer process's CPU (utime + stime from /proc), its RSS (peak and at the end) and
//! the entries it posted per minute. Targets: < 0.5 core, < 100 MiB, a readable timeline.
//!
//! `cargo bench --bench data_plane [-- --quick]` (--quick: 20 s).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warroom::sim::{self, Scenario, SimHandle, Target};

const PODS_PER_RS: usize = 100;
const REPLICA_SETS: usize = 50;
const NODES: usize = 20;
const RATE: u64 = 200;

fn proc_field(pid: u32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    utime + stime
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn entries(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        let file = dir.path().join("data-plane.md");
        if let Ok(text) = std::fs::read_to_string(file) {
            out.extend(
                text.split("<!-- warroom:entry ")
                    .skip(1)
                    .map(str::to_string),
            );
        }
    }
    out
}

fn pod(rs: usize, i: usize, ready: bool, restarts: u64) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{rs:02}-{i:03}"), "namespace": "load",
                     "labels": {"app": "web", "rs": format!("r{rs:02}")},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{rs:02}"), "controller": true}]},
        "spec": {"nodeName": format!("node-{:02}", (rs * PODS_PER_RS + i) % NODES),
                 "containers": [{"name": "web", "image": "ghcr.io/example/web:1.0.0"}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "web", "image": "ghcr.io/example/web:1.0.0",
                   "ready": ready, "restartCount": restarts, "state": {"running": {}}}]}
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let run_for = Duration::from_secs(if quick { 20 } else { 60 });
    let scenario = Scenario::parse(
        "end: 1h\nhistoryLimit: 200000\nobjects:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: load}}\n",
        "load.yaml",
    )
    .unwrap();
    let sim = SimHandle::new(scenario, 1.0).unwrap();
    for rs in 0..REPLICA_SETS {
        sim.apply(json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": format!("web-{rs:02}"), "namespace": "load", "labels": {"app": "web"}},
            "spec": {"replicas": PODS_PER_RS},
            "status": {"replicas": PODS_PER_RS, "readyReplicas": PODS_PER_RS}
        }))
        .unwrap();
        for i in 0..PODS_PER_RS {
            sim.apply(pod(rs, i, true, 0)).unwrap();
        }
    }
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", api.local_addr().unwrap());
    let stop = CancellationToken::new();
    let server = tokio::spawn(sim::serve(
        sim.clone(),
        api,
        None,
        stop.clone().cancelled_owned(),
    ));

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, sim::kubeconfig(&url, Some("load"))).unwrap();
    let bin = env!("CARGO_BIN_EXE_warroom");
    let opened = Command::new(bin)
        .args(["--root"])
        .arg(&root)
        .args(["open", "load"])
        .output()
        .unwrap();
    assert!(opened.status.success());
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--root")
        .arg(&root)
        .args(["agent", "data-plane", "-n", "load", "--window", "3s"])
        .env("KUBECONFIG", &kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    while !entries(&root)
        .iter()
        .any(|e| e.contains("baseline of namespace"))
    {
        assert!(started.elapsed() < Duration::from_secs(120), "no baseline");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let baseline_after = started.elapsed();
    let rss_after_baseline = proc_field(pid, "status", "VmRSS:");

    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE));
    let mut changes = 0u64;
    let pod_resource = sim::resource::by_kind("v1", "Pod").unwrap();
    let rs_resource = sim::resource::by_kind("apps/v1", "ReplicaSet").unwrap();
    while t0.elapsed() < run_for {
        ticker.tick().await;
        changes += 1;
        let n = changes as usize;
        if n.is_multiple_of(100) {
            // A ReplicaSet scale step: 100 -> 99 -> 100 ...
            let rs = (n / 100) % REPLICA_SETS;
            let replicas = if (n / 100 / REPLICA_SETS).is_multiple_of(2) {
                99
            } else {
                100
            };
            sim.merge_patch(
                &Target {
                    resource: rs_resource,
                    namespace: "load".into(),
                    name: format!("web-{rs:02}"),
                },
                &json!({"spec": {"replicas": replicas}}),
            )
            .unwrap();
            continue;
        }
        let k = (n * 7919) % (REPLICA_SETS * PODS_PER_RS);
        let (rs, i) = (k / PODS_PER_RS, k % PODS_PER_RS);
        let flip = (n / (REPLICA_SETS * PODS_PER_RS)).is_multiple_of(2);
        let restarts = u64::from(n.is_multiple_of(50));
        sim.merge_patch(
            &Target {
                resource: pod_resource,
                namespace: "load".into(),
                name: format!("web-{rs:02}-{i:03}"),
            },
            &json!({"status": pod(rs, i, !flip, restarts)["status"]}),
        )
        .unwrap();
    }
    let elapsed = t0.elapsed();
    // Let the last window flush.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let cpu1 = cpu_ticks(pid);
    let peak = proc_field(pid, "status", "VmHWM:");
    let rss_end = proc_field(pid, "status", "VmRSS:");
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = child.wait();
    stop.cancel();
    let _ = server.await;

    let cores = (cpu1 - cpu0) as f64 / clock_ticks_per_second() / (elapsed.as_secs_f64() + 4.0);
    let all = entries(&root);
    let windows = all.iter().filter(|e| e.contains("change(s)**")).count();
    let per_minute = windows as f64 / (elapsed.as_secs_f64() / 60.0);
    let biggest = all.iter().map(String::len).max().unwrap_or(0);
    // Changes the observer reported: the sum of the windows' "**N change(s)**" headers.
    let reported: u64 = all
        .iter()
        .filter_map(|e| {
            let at = e.find(" change(s)**")?;
            let start = e[..at].rfind("**")? + 2;
            e[start..at].parse::<u64>().ok()
        })
        .sum();
    if let Some(sample) = all.iter().find(|e| e.contains("change(s)**")) {
        eprintln!(
            "a window entry, as posted:\n{}",
            &sample[..sample.len().min(1500)]
        );
    }
    println!(
        "| pods | changes/s | run | changes made | changes reported | CPU (cores) | RSS after baseline | peak RSS | RSS at end | entries/min | largest entry | baseline after |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    println!(
        "| {} | {RATE} | {:.0} s | {changes} | {reported} | {cores:.3} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {per_minute:.1} | {:.1} KiB | {:.2} s |",
        REPLICA_SETS * PODS_PER_RS,
        elapsed.as_secs_f64(),
        rss_after_baseline as f64 / 1024.0,
        peak as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        biggest as f64 / 1024.0,
        baseline_after.as_secs_f64(),
    );
}
