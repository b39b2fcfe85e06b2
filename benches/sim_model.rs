//! Simulator model: the release binary `warroom sim` holding N canary Rollouts × 10 pods (a
//! stable and a canary Service each, one background AnalysisTemplate) with the controller
//! model running, at speed 1. Issue 9 asks for its CPU and memory idle and during a wave of
//! releases.
//!
//! Each run: a fresh temp dir and short-form scenario, `warroom sim --scenario FILE --speed 1`
//! on 127.0.0.1 port 0; wait (bounded) until every pod is Ready; then
//! - an idle window: nothing changes but the model's ticks (background analyses keep
//!   measuring);
//! - a wave: every Rollout's image patched through the API at once (a merge patch, as
//!   `kubectl argo rollouts set image` writes it), measured until every Rollout is Healthy on
//!   the new image (bounded).
//!
//! Both windows carry the same probes: a list of the Rollouts every 2 s (to see the wave end),
//! and every 5 s a list of all pods and a watch round trip (a ConfigMap created, until its
//! ADDED event arrives on a watch opened before). CPU is utime+stime of the sim process from
//! /proc/PID/stat over the window, as a share of one core; RSS from /proc/PID/status, sampled
//! each second. The in-process tick (the model alone, no server) is timed too: one tick must
//! stay well under the second of scenario time it stands for.
//!
//! `cargo bench --bench sim_model [-- --rollouts 500 --baseline 50 --runs 3 --idle 30]`
//! (`--rollouts` and `--baseline` are the measured size and the same-run baseline size;
//! `--ticks-only` times the in-process tick alone, e.g. under `perf record`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom::sim::{Scenario, SimHandle, model};

const NS: &str = "bench";
const REPLICAS: usize = 10;
const V1: &str = "registry.example/app:v1";
const V2: &str = "registry.example/app:v2";
/// Bounds: the start (every pod Ready) and the wave (every Rollout Healthy on v2).
const START_LIMIT: Duration = Duration::from_secs(600);
const WAVE_LIMIT: Duration = Duration::from_secs(900);

/// A short-form scenario: `n` canary Rollouts of 10 replicas, each with its stable and canary
/// Services, all with one background analysis (a 30 s measurement that passes).
fn scenario(n: usize) -> String {
    let mut s = String::from(
        "name: sim-model-bench\ndescription: N canary Rollouts x 10 pods for the model benchmark\n\
         end: 1h\nmanifests:\n",
    );
    for i in 0..n {
        let name = format!("app-{i:04}");
        s.push_str(&format!(
            r#"  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {{name: {name}, namespace: {NS}}}
    spec:
      replicas: {REPLICAS}
      selector: {{matchLabels: {{app: {name}}}}}
      template:
        metadata: {{labels: {{app: {name}}}}}
        spec: {{containers: [{{name: app, image: "{V1}"}}]}}
      strategy:
        canary:
          stableService: {name}
          canaryService: {name}-canary
          analysis: {{templates: [{{templateName: error-rate}}]}}
          steps: [{{setWeight: 20}}, {{pause: {{duration: 10s}}}}, {{setWeight: 50}}, {{pause: {{duration: 10s}}}}]
  - apiVersion: v1
    kind: Service
    metadata: {{name: {name}, namespace: {NS}}}
    spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
  - apiVersion: v1
    kind: Service
    metadata: {{name: {name}-canary, namespace: {NS}}}
    spec: {{selector: {{app: {name}}}, ports: [{{port: 80}}]}}
"#
        ));
    }
    s.push_str(&format!(
        r#"  - apiVersion: argoproj.io/v1alpha1
    kind: AnalysisTemplate
    metadata: {{name: error-rate, namespace: {NS}}}
    spec:
      metrics:
        - name: error-rate
          interval: 30s
          successCondition: result[0] < 0.05
          failureCondition: result[0] >= 0.05
          provider:
            prometheus:
              address: http://prometheus.monitoring:9090
              query: sum(rate(http_requests_total{{code=~"5.."}}[1m])) / sum(rate(http_requests_total[1m]))
# V2 arrives by an API write, not a story release, so it takes the default readiness (2 s);
# the loader refuses pod settings for an image nothing in the scenario runs.
pods:
  "{V1}": {{ready: 2s}}
metrics:
  - {{metric: error-rate, from: 0s, value: 0.0}}
"#
    ));
    s
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

/// VmRSS of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The running simulator: its process and API URL. Killed when dropped.
struct SimProcess {
    child: Child,
    api: String,
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(file: &Path) -> SimProcess {
    let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--port", "0", "--backend-port", "0", "--speed", "1"])
        .arg("--scenario")
        .arg(file)
        .env("WARROOM_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start warroom sim");
    let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut api = String::new();
    stdout.read_line(&mut api).expect("read the API URL");
    let api = api.trim().to_string();
    assert!(api.starts_with("http://127.0.0.1:"), "{api:?}");
    // The backend line follows; keep the pipe drained so the sim never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    SimProcess { child, api }
}

/// What one window measured.
#[derive(Default)]
struct Window {
    seconds: f64,
    /// CPU of the sim process over the window, percent of one core.
    cpu_pct: f64,
    rss_mib: Vec<f64>,
    list_pods_ms: Vec<f64>,
    list_rollouts_ms: Vec<f64>,
    watch_ms: Vec<f64>,
}

struct Probe {
    client: reqwest::Client,
    api: String,
    serial: u32,
}

impl Probe {
    async fn get(&self, path: &str) -> (Value, f64) {
        let t0 = Instant::now();
        let body = self
            .client
            .get(format!("{}{path}", self.api))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("GET")
            .bytes()
            .await
            .expect("GET body");
        let ms = t0.elapsed().as_secs_f64() * 1e3;
        (serde_json::from_slice(&body).expect("JSON list"), ms)
    }

    /// Ready pods in the namespace.
    async fn ready_pods(&self) -> (usize, f64) {
        let (list, ms) = self.get(&format!("/api/v1/namespaces/{NS}/pods")).await;
        let ready = list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|p| {
                        p["status"]["conditions"].as_array().is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c["type"] == "Ready" && c["status"] == "True")
                        })
                    })
                    .count()
            })
            .unwrap_or(0);
        (ready, ms)
    }

    /// Rollouts Healthy with every replica on `image`.
    async fn rollouts_done(&self, image: &str) -> (usize, f64) {
        let (list, ms) = self
            .get(&format!(
                "/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts"
            ))
            .await;
        let done = list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|r| {
                        let s = &r["status"];
                        // Until the controller has seen the new spec, the status still
                        // describes the old revision as Healthy.
                        let generation = r["metadata"]["generation"].to_string();
                        let observed = match &s["observedGeneration"] {
                            Value::String(g) => g.clone(),
                            other => other.to_string(),
                        };
                        observed == generation
                            && r["spec"]["template"]["spec"]["containers"][0]["image"] == image
                            && s["phase"] == "Healthy"
                            && s["stableRS"] == s["currentPodHash"]
                            && s["updatedReplicas"] == json!(REPLICAS)
                            && s["availableReplicas"] == json!(REPLICAS)
                    })
                    .count()
            })
            .unwrap_or(0);
        (done, ms)
    }

    /// Creates a ConfigMap and times it until its ADDED event arrives on a watch opened
    /// before the write.
    /// `None` when the watch ended first (the API expired its resource version under the
    /// wave's churn, as a real API server answers 410: a client would relist).
    async fn watch_round_trip(&mut self) -> Option<f64> {
        self.serial += 1;
        let name = format!("probe-{}", self.serial);
        let (list, _) = self
            .get(&format!("/api/v1/namespaces/{NS}/configmaps"))
            .await;
        let rv = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or("0")
            .to_string();
        let url = format!(
            "{}/api/v1/namespaces/{NS}/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=60",
            self.api
        );
        let client = self.client.clone();
        let wanted = name.clone();
        let watcher = tokio::spawn(async move {
            let mut resp = client.get(url).send().await.expect("watch");
            let mut seen = Vec::new();
            while let Some(chunk) = resp.chunk().await.expect("watch chunk") {
                seen.extend_from_slice(&chunk);
                if memchr_find(&seen, wanted.as_bytes()) {
                    return Some(Instant::now());
                }
            }
            eprintln!(
                "watch ended before the ConfigMap's event: {}",
                String::from_utf8_lossy(&seen)
                    .chars()
                    .take(300)
                    .collect::<String>()
            );
            None
        });
        // Give the watch time to be registered (its start is cut at `rv` anyway).
        tokio::time::sleep(Duration::from_millis(200)).await;
        let t0 = Instant::now();
        self.client
            .post(format!("{}/api/v1/namespaces/{NS}/configmaps", self.api))
            .json(&json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": NS}, "data": {"k": "v"},
            }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("POST ConfigMap");
        let got = tokio::time::timeout(Duration::from_secs(60), watcher)
            .await
            .expect("watch event within 60 s")
            .expect("watch task");
        got.map(|got| got.duration_since(t0).as_secs_f64() * 1e3)
    }
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs the probes and samples until `done` says so (or `limit`), returning the window.
async fn window(
    probe: &mut Probe,
    pid: u32,
    limit: Duration,
    mut done: impl FnMut(usize) -> bool,
    image: &str,
) -> (Window, bool) {
    let mut w = Window::default();
    let t0 = Instant::now();
    let cpu0 = cpu_seconds(pid);
    let mut next_probe = t0;
    let mut finished = false;
    let mut second = 0u64;
    while t0.elapsed() < limit {
        w.rss_mib.push(rss_mib(pid));
        if second.is_multiple_of(2) {
            let (n, ms) = probe.rollouts_done(image).await;
            w.list_rollouts_ms.push(ms);
            if done(n) {
                finished = true;
                break;
            }
        }
        if Instant::now() >= next_probe {
            next_probe += Duration::from_secs(5);
            let (_, ms) = probe.ready_pods().await;
            w.list_pods_ms.push(ms);
            if let Some(ms) = probe.watch_round_trip().await {
                w.watch_ms.push(ms);
            }
        }
        second += 1;
        let at = t0 + Duration::from_secs(second);
        tokio::time::sleep_until(at.into()).await;
    }
    w.seconds = t0.elapsed().as_secs_f64();
    w.cpu_pct = (cpu_seconds(pid) - cpu0) / w.seconds * 100.0;
    (w, finished)
}

struct Run {
    n: usize,
    start_s: f64,
    idle: Window,
    wave: Window,
    wave_s: f64,
    patch_s: f64,
}

async fn run(n: usize, idle: Duration) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("bench.yaml");
    std::fs::write(&file, scenario(n)).unwrap();
    let t0 = Instant::now();
    let sim = start_sim(&file);
    let pid = sim.child.id();
    let mut probe = Probe {
        client: reqwest::Client::new(),
        api: sim.api.clone(),
        serial: 0,
    };
    loop {
        let (ready, _) = probe.ready_pods().await;
        if ready == n * REPLICAS {
            break;
        }
        assert!(
            t0.elapsed() < START_LIMIT,
            "{n} Rollouts: only {ready} pods Ready after {START_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let start_s = t0.elapsed().as_secs_f64();
    // Idle: nothing is released; the window runs its full length.
    let (idle, _) = window(&mut probe, pid, idle, |_| false, V1).await;

    // The wave: every Rollout's image, patched at once.
    let p0 = Instant::now();
    for i in 0..n {
        probe
            .client
            .patch(format!(
                "{}/apis/argoproj.io/v1alpha1/namespaces/{NS}/rollouts/app-{i:04}",
                probe.api
            ))
            .header("content-type", "application/merge-patch+json")
            .body(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": V2}]}}}})
                    .to_string(),
            )
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("PATCH Rollout");
    }
    let patch_s = p0.elapsed().as_secs_f64();
    let (wave, finished) = window(&mut probe, pid, WAVE_LIMIT, |done| done == n, V2).await;
    assert!(
        finished,
        "{n} Rollouts: the wave did not finish within {WAVE_LIMIT:?}"
    );
    let wave_s = p0.elapsed().as_secs_f64();
    drop(sim);
    Run {
        n,
        start_s,
        idle,
        wave,
        wave_s,
        patch_s,
    }
}

/// The model alone, in process: each tick's duration over the start, an idle stretch and the
/// wave (the release played through the same write path), in scenario seconds stepped by hand.
fn tick_times(n: usize) -> (Vec<f64>, Vec<f64>) {
    let scenario = Scenario::parse(&scenario(n), "bench.yaml").expect("bench scenario");
    let sim = SimHandle::new(scenario, 1.0).expect("sim");
    assert!(sim.has_model());
    let clock = sim.clock();
    let rollouts = warroom::sim::resource::by_kind("argoproj.io/v1alpha1", "Rollout").unwrap();
    let mut idle = Vec::new();
    let mut wave = Vec::new();
    let tick = |s: u64| {
        let t = Instant::now();
        sim.tick_model(clock.at(model::TICK * s as u32));
        t.elapsed().as_secs_f64() * 1e3
    };
    // Start and settle: 30 s; idle: 30 s.
    for s in 0..30 {
        tick(s);
    }
    for s in 30..60 {
        idle.push(tick(s));
    }
    for i in 0..n {
        let target = warroom::sim::Target {
            resource: rollouts,
            namespace: NS.into(),
            name: format!("app-{i:04}"),
        };
        sim.merge_patch(
            &target,
            &json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": V2}]}}}}),
        )
        .expect("release");
    }
    for s in 60..150 {
        wave.push(tick(s));
    }
    (idle, wave)
}

fn fmt_stats(xs: &[f64], digits: usize) -> String {
    if xs.is_empty() {
        return "—".into();
    }
    let s = common::stats(xs.to_vec());
    format!("{:.d$} ({:.d$}–{:.d$})", s.median, s.min, s.max, d = digits)
}

fn arg(args: &[String], flag: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let size = arg(&args, "--rollouts", 500);
    let baseline = arg(&args, "--baseline", 50);
    let runs = arg(&args, "--runs", 3).max(1);
    let idle = Duration::from_secs(arg(&args, "--idle", 30) as u64);

    println!("load average before: {}", load_average());
    for n in [baseline, size] {
        let (idle_ticks, wave_ticks) = tick_times(n);
        println!(
            "in-process tick, {n} Rollouts x {REPLICAS}: idle {} ms, wave {} ms (median (min–max)), wave max {:.1} ms",
            fmt_stats(&idle_ticks, 1),
            fmt_stats(&wave_ticks, 1),
            wave_ticks.iter().cloned().fold(0.0, f64::max)
        );
    }
    if args.iter().any(|a| a == "--ticks-only") {
        return;
    }
    let mut results: Vec<Run> = Vec::new();
    for r in 0..runs {
        // Interleaved, so both sizes see the same machine.
        for n in [baseline, size] {
            let run = run(n, idle).await;
            println!(
                "run {r} {n:>4} Rollouts: start {:.1} s; idle CPU {:.1} % RSS {:.0} MiB; wave {:.1} s \
                 (patches {:.1} s) CPU {:.1} % peak RSS {:.0} MiB; load {}",
                run.start_s,
                run.idle.cpu_pct,
                run.idle.rss_mib.last().copied().unwrap_or(0.0),
                run.wave_s,
                run.patch_s,
                run.wave.cpu_pct,
                run.wave.rss_mib.iter().cloned().fold(0.0, f64::max),
                load_average()
            );
            results.push(run);
        }
    }
    println!(
        "\n| Rollouts × pods | start to all Ready (s) | idle CPU (% of a core) | idle RSS (MiB) | wave to all Healthy (s) | wave CPU (%) | wave peak RSS (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for n in [baseline, size] {
        let of = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> {
            results.iter().filter(|r| r.n == n).map(f).collect()
        };
        println!(
            "| {n} × {REPLICAS} | {} | {} | {} | {} | {} | {} |",
            fmt_stats(&of(&|r| r.start_s), 1),
            fmt_stats(&of(&|r| r.idle.cpu_pct), 1),
            fmt_stats(&of(&|r| r.idle.rss_mib.last().copied().unwrap_or(0.0)), 0),
            fmt_stats(&of(&|r| r.wave_s), 1),
            fmt_stats(&of(&|r| r.wave.cpu_pct), 1),
            fmt_stats(
                &of(&|r| r.wave.rss_mib.iter().cloned().fold(0.0, f64::max)),
                0
            ),
        );
    }
    println!(
        "\n| Rollouts × pods | window | list pods (ms) | list Rollouts (ms) | watch round trip (ms) |"
    );
    println!("|---|---|---|---|---|");
    for n in [baseline, size] {
        for (label, pick) in [
            ("idle", (|r: &Run| &r.idle) as fn(&Run) -> &Window),
            ("wave", |r: &Run| &r.wave),
        ] {
            let all = |f: &dyn Fn(&Window) -> &Vec<f64>| -> Vec<f64> {
                results
                    .iter()
                    .filter(|r| r.n == n)
                    .flat_map(|r| f(pick(r)).clone())
                    .collect()
            };
            println!(
                "| {n} × {REPLICAS} | {label} | {} | {} | {} |",
                fmt_stats(&all(&|w| &w.list_pods_ms), 1),
                fmt_stats(&all(&|w| &w.list_rollouts_ms), 1),
                fmt_stats(&all(&|w| &w.watch_ms), 1),
            );
        }
    }
    println!("\nload average after: {}", load_average());
}
