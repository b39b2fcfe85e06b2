//! Append → client latency through the relay, against `tail -F` on the same file.
//!
//! One writer appends 10,000 entries at 1,000 entries/s through the store's writer (bulk
//! mode: no fsync, so the figure is the relay's and not the disk's). Two readers watch the same
//! file: a WebSocket client of `warroom serve`, and `tail -F` (the baseline: the kernel's
//! inotify plus a pipe, no parsing). Latency is from just before the append to the moment
//! each reader has the complete entry, on one monotonic clock.
//!
//! `cargo bench --bench relay_latency`; `WARROOM_BENCH_N` and `WARROOM_BENCH_RATE` override.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
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

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn summary(name: &str, lat: &mut [f64]) -> String {
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!(
        "{name:<24} n={:>6}  p50 {:>7.3} ms  p99 {:>7.3} ms  max {:>8.3} ms",
        lat.len(),
        pct(lat, 0.50),
        pct(lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    )
}

fn main() {
    let n = env_u64("WARROOM_BENCH_N", 10_000) as usize;
    let rate = env_u64("WARROOM_BENCH_RATE", 1_000);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let ch = run(&[
        "open",
        "bench",
        "--date",
        "2026-05-04",
        "--roles",
        "traffic",
    ]);
    run(&["post", "--channel", &ch, "--as", "traffic", "warm-up"]);
    let file = root.join(&ch).join("traffic.md");

    let (mut server, addr) = common::start_relay(&root);

    // Receive instants per seq, for each reader.
    let t0 = Instant::now();
    let sent = Arc::new(Mutex::new(vec![None::<Duration>; n + 2]));
    let ws_got = Arc::new(Mutex::new(vec![None::<Duration>; n + 2]));
    let tail_got = Arc::new(Mutex::new(vec![None::<Duration>; n + 2]));

    let mut tail = Command::new("tail")
        .args(["-F", "-n", "0"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tail -F");
    let tail_out = tail.stdout.take().unwrap();
    let tail_reader = {
        let got = tail_got.clone();
        std::thread::spawn(move || {
            let mut count = 0;
            for line in BufReader::new(tail_out).lines() {
                let Ok(line) = line else { break };
                // The end marker completes an entry.
                if let Some(rest) = line.strip_prefix("<!-- warroom:end id=traffic#") {
                    let seq: usize = rest.split(' ').next().unwrap().parse().unwrap();
                    if seq < got.lock().unwrap().len() {
                        got.lock().unwrap()[seq] = Some(t0.elapsed());
                    }
                    count += 1;
                    if count == n {
                        break;
                    }
                }
            }
        })
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = format!("ws://{addr}/api/channels/{ch}/live?cursor=traffic:1");
    let mut ws = rt.block_on(async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && t.contains("\"type\":\"ready\"")
            {
                break;
            }
        }
        ws
    });
    let ws_reader = {
        let got = ws_got.clone();
        rt.spawn(async move {
            let mut count = 0;
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(t) = msg else { continue };
                let now = t0.elapsed();
                let Some(i) = t.find("\"seq\":") else {
                    continue;
                };
                let seq: usize = t[i + 6..]
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                got.lock().unwrap()[seq] = Some(now);
                count += 1;
                if count == n {
                    break;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500)); // tail -F has opened the file

    let store = Store::open(&root).unwrap();
    let channel = store.channel(Some(&ch)).unwrap();
    let mut w = channel
        .writer(&Author::new("traffic").unwrap(), false)
        .unwrap();
    let period = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    for i in 0..n {
        let due = start + period * i as u32;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let seq = i + 2;
        sent.lock().unwrap()[seq] = Some(t0.elapsed());
        w.append(&Draft {
            kind: Kind::Observation,
            refs: vec![],
            body: format!(
                "entry {seq}: 200 OK on /v1/chat/completions in 41 ms; canary weight 20%"
            ),
            ..Default::default()
        })
        .unwrap();
    }
    let wrote = start.elapsed();
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && (ws_got.lock().unwrap()[n + 1].is_none() || tail_got.lock().unwrap()[n + 1].is_none())
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = tail.kill();
    let _ = tail.wait();
    let _ = tail_reader.join();
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(5), ws_reader).await;
    });
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    let sent = sent.lock().unwrap();
    let lat = |got: &[Option<Duration>]| -> (Vec<f64>, usize) {
        let mut v = Vec::new();
        let mut lost = 0;
        for seq in 2..n + 2 {
            match (sent[seq], got[seq]) {
                (Some(s), Some(g)) => v.push((g.saturating_sub(s)).as_secs_f64() * 1e3),
                _ => lost += 1,
            }
        }
        (v, lost)
    };
    let (mut ws_lat, ws_lost) = lat(&ws_got.lock().unwrap());
    let (mut tail_lat, tail_lost) = lat(&tail_got.lock().unwrap());
    println!(
        "relay_latency: {n} entries at {rate}/s (written in {:.2} s)",
        wrote.as_secs_f64()
    );
    println!(
        "{}  missing {ws_lost}",
        summary("warroom serve (WS)", &mut ws_lat)
    );
    println!(
        "{}  missing {tail_lost}",
        summary("tail -F (baseline)", &mut tail_lat)
    );
}
