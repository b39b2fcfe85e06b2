//! Fan-out: 1,000 WebSocket clients on one relay while entries arrive at 100/s for 30 s.
//!
//! The harness (all clients plus the writer, one process) shares the machine with the relay,
//! so its CPU time is reported next to the relay's. Reports per-delivery latency (append →
//! client has the message) p50/p99/max, loss (every client must get every entry exactly once),
//! and the relay's resident memory (sampled each second, and its peak).
//!
//! `cargo bench --bench relay_fanout`; `WARROOM_BENCH_CLIENTS`, `WARROOM_BENCH_RATE` and
//! `WARROOM_BENCH_SECONDS` override.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;
use warroom::channel::{Author, Draft, Kind, Store};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (user, system) CPU seconds of a process, from /proc.
fn cpu_seconds(pid: &str) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) / 100.0, ticks(12) / 100.0) // utime, stime (fields 14, 15), USER_HZ = 100
}

fn mem_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

fn main() {
    let clients = env_u64("WARROOM_BENCH_CLIENTS", 1_000) as usize;
    let rate = env_u64("WARROOM_BENCH_RATE", 100);
    let seconds = env_u64("WARROOM_BENCH_SECONDS", 30);
    let n = (rate * seconds) as usize;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args([
            "open",
            "fanout",
            "--date",
            "2026-05-04",
            "--roles",
            "traffic",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ch = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let (mut server, addr) = common::start_relay(&root);
    let pid = server.id();
    let rss_idle = mem_kib(pid, "VmRSS:");

    let t0 = Instant::now();
    // Send instant per seq, in µs since t0 (0 = not yet sent).
    let sent: Arc<Vec<AtomicU64>> = Arc::new((0..n + 1).map(|_| AtomicU64::new(0)).collect());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ws_url = format!("ws://{addr}/api/channels/{ch}/live");
    let connect_start = Instant::now();
    let readers = rt.block_on(async {
        let mut handles = Vec::with_capacity(clients);
        let gate = Arc::new(tokio::sync::Semaphore::new(64));
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(clients);
        for _ in 0..clients {
            let url = ws_url.clone();
            let sent = sent.clone();
            let gate = gate.clone();
            let ready_tx = ready_tx.clone();
            handles.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await.unwrap();
                let (mut ws, _) = tokio_tungstenite::connect_async(&url)
                    .await
                    .expect("connect");
                loop {
                    if let Some(Ok(Message::Text(t))) = ws.next().await
                        && t.contains("\"type\":\"ready\"")
                    {
                        break;
                    }
                }
                drop(permit);
                let _ = ready_tx.send(()).await;
                let mut lat_us = Vec::with_capacity(n);
                let mut seen = vec![false; n + 1];
                let mut dups = 0u32;
                while lat_us.len() < n {
                    let Some(Ok(msg)) = ws.next().await else {
                        break;
                    };
                    let Message::Text(t) = msg else { continue };
                    let now = t0.elapsed().as_micros() as u64;
                    let Some(i) = t.find("\"seq\":") else {
                        continue;
                    };
                    let seq: usize = t[i + 6..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if seq == 0 || seq > n {
                        continue;
                    }
                    if std::mem::replace(&mut seen[seq], true) {
                        dups += 1;
                        continue;
                    }
                    let s = sent[seq].load(Ordering::Acquire);
                    lat_us.push(now.saturating_sub(s) as u32);
                }
                (lat_us, dups)
            }));
        }
        drop(ready_tx);
        for _ in 0..clients {
            ready_rx.recv().await.expect("every client connects");
        }
        handles
    });
    let connect_secs = connect_start.elapsed().as_secs_f64();
    let rss_connected = mem_kib(pid, "VmRSS:");

    // The writer paces itself on its own thread; the clients run on the runtime meanwhile.
    let me = "self";
    let (cpu_harness0, cpu_server0) = (cpu_seconds(me), cpu_seconds(&pid.to_string()));
    let writer = {
        let sent = sent.clone();
        let root = root.clone();
        let ch = ch.clone();
        std::thread::spawn(move || {
            let store = Store::open(&root).unwrap();
            let channel = store.channel(Some(&ch)).unwrap();
            let mut w = channel
                .writer(&Author::new("traffic").unwrap(), false)
                .unwrap();
            let period = Duration::from_nanos(1_000_000_000 / rate);
            let start = Instant::now();
            let mut rss_max = 0;
            for i in 0..n {
                let due = start + period * i as u32;
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                let seq = i + 1;
                sent[seq].store(t0.elapsed().as_micros() as u64, Ordering::Release);
                w.append(&Draft {
                    kind: Kind::Observation,
                    refs: vec![],
                    body: format!(
                        "entry {seq}: /v1/chat/completions 2xx 40/40, p99 41 ms; canary weight 20%"
                    ),
                    ..Default::default()
                })
                .unwrap();
                if i % rate as usize == 0 {
                    rss_max = rss_max.max(mem_kib(pid, "VmRSS:"));
                }
            }
            rss_max
        })
    };
    let rss_sampled_max = writer.join().unwrap();
    let results = rt.block_on(async {
        let mut all = Vec::new();
        for h in readers {
            match tokio::time::timeout(Duration::from_secs(120), h).await {
                Ok(Ok(r)) => all.push(r),
                _ => all.push((Vec::new(), 0)),
            }
        }
        all
    });
    let (hu, hs) = cpu_seconds(me);
    let (su, ss) = cpu_seconds(&pid.to_string());
    let (hu, hs) = (hu - cpu_harness0.0, hs - cpu_harness0.1);
    let (su, ss) = (su - cpu_server0.0, ss - cpu_server0.1);
    let (cpu_harness, cpu_server) = (hu + hs, su + ss);
    let rss_peak = mem_kib(pid, "VmHWM:");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    let mut lat: Vec<u32> = Vec::with_capacity(clients * n);
    let (mut lost, mut dups, mut complete) = (0usize, 0u32, 0usize);
    for (l, d) in &results {
        lost += n - l.len();
        dups += d;
        if l.len() == n {
            complete += 1;
        }
        lat.extend_from_slice(l);
    }
    lat.sort_unstable();
    println!(
        "relay_fanout: {clients} clients, {n} entries at {rate}/s over {seconds} s; {:.1} s to connect all",
        connect_secs
    );
    println!(
        "deliveries {} of {} ({complete} clients complete), lost {lost}, duplicates {dups}",
        lat.len(),
        clients * n
    );
    println!(
        "latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.last().map(|&m| m as f64 / 1000.0).unwrap_or(f64::NAN)
    );
    println!(
        "relay RSS idle {:.1} MiB, {clients} connected {:.1} MiB, max sampled {:.1} MiB, peak (VmHWM) {:.1} MiB",
        rss_idle as f64 / 1024.0,
        rss_connected as f64 / 1024.0,
        rss_sampled_max as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    println!(
        "CPU over the run: relay {:.1} s ({:.0}% of one core; user {su:.1} s, system {ss:.1} s), harness {:.1} s ({:.0}% of one core; user {hu:.1} s, system {hs:.1} s)",
        cpu_server,
        cpu_server / seconds as f64 * 100.0,
        cpu_harness,
        cpu_harness / seconds as f64 * 100.0
    );
}
