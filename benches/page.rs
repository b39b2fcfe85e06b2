//! The operator's page in real headless Chromium (`cargo bench --bench page`).
//!
//! 1. Loading: a channel of 10,000 entries (and 1,000 as the baseline, same run), opened cold
//!    five times each: time to the first entry on screen, to the whole history rendered and
//!    live (`ready`), and memory (JS heap and DOM nodes from the DevTools protocol, the
//!    renderer process's RSS).
//! 2. State latency: an observer's state written to its file → the strip shows it, against the
//!    baseline of an entry appended → the feed shows it, interleaved in the same run.
//!
//! Needs chromium and chromedriver (as tests/browser/). Only 127.0.0.1 traffic.

#[path = "../tests/webdriver/mod.rs"]
mod webdriver;

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::stats;
use serde_json::{Value, json};
use warroom::channel::store::{PostOptions, Role};
use warroom::channel::{Author, Channel, Draft, Kind, Store, Theme};

const AUTHORS: [&str; 4] = ["pipeline", "data-plane", "traffic", "operator"];

fn body(i: u64) -> String {
    match i % 4 {
        0 => format!(
            "**Rollout `litellm`**: Progressing → **Paused** · step {}/8 · setWeight 20\n\n```text\nName: litellm\nStatus: Paused\n```\n",
            i % 8
        ),
        1 => format!(
            "**{} change(s)**\n\n| object | change |\n|---|---|\n| Pod `litellm-{i}` | Ready on ip-10-0-3-17 |\n| RS `litellm-67b4ccbdb4` | scaled 5 → 4 |\n",
            i % 3 + 1
        ),
        2 => format!(
            "**traffic window {i}** (3s)\n\n| route | requests | failures |\n|---|---|---|\n| GET /v1/models | 20 | 0 |\n| POST /v1/embeddings | 20 | {} |\n",
            i % 5
        ),
        _ => format!("Looking at window {i}: nothing to add."),
    }
}

fn channel(root: &std::path::Path, theme: &str) -> Channel {
    let store = Store::create(root).unwrap();
    store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new(theme).unwrap(),
            AUTHORS
                .iter()
                .map(|a| Role {
                    name: Author::new(a).unwrap(),
                    title: None,
                    lane: None,
                })
                .collect(),
        )
        .unwrap()
}

fn fill(ch: &Channel, n: u64) {
    let mut writers: Vec<_> = AUTHORS
        .iter()
        .map(|a| ch.writer(&Author::new(a).unwrap(), false).unwrap())
        .collect();
    for i in 0..n {
        let kind = if i % 97 == 0 {
            Kind::Alert
        } else {
            Kind::Observation
        };
        writers[(i % 4) as usize]
            .append(&Draft {
                kind,
                body: body(i),
                ..Draft::default()
            })
            .unwrap();
    }
}

/// RSS in KiB of the renderer processes under `pid` (chromedriver → chromium → renderers).
fn renderer_rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let parent_of = |p: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
        let after = stat.rsplit_once(')')?.1;
        after.split_whitespace().nth(1)?.parse().ok()
    };
    for e in rd.flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default();
        if !cmd.contains("--type=renderer") {
            continue;
        }
        let mut up = Some(p);
        let mut ours = false;
        for _ in 0..8 {
            up = up.and_then(parent_of);
            if up == Some(pid) {
                ours = true;
                break;
            }
        }
        if ours {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default();
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}

async fn cdp(d: &webdriver::Driver, cmd: &str, params: Value) -> Value {
    d.cmd(
        reqwest::Method::POST,
        "/goog/cdp/execute",
        json!({"cmd": cmd, "params": params}),
    )
    .await
}

async fn load(d: &webdriver::Driver, url: &str, n: u64) -> (f64, f64, f64, f64, f64) {
    d.goto("about:blank").await;
    d.goto(url).await;
    d.wait_for(&format!(
        "return performance.getEntriesByName('warroom-ready').length === 1 && document.querySelectorAll('main article').length === {n}"
    ))
    .await;
    // One more frame: what is rendered is painted.
    d.js("return new Promise(r => requestAnimationFrame(() => r(true)))")
        .await;
    let t = d
        .js("return [performance.getEntriesByName('warroom-first-entry')[0].startTime, performance.getEntriesByName('warroom-ready')[0].startTime]")
        .await;
    cdp(d, "HeapProfiler.collectGarbage", json!({})).await;
    let m = cdp(d, "Performance.getMetrics", json!({})).await;
    let metric = |name: &str| {
        m["metrics"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .and_then(|x| x["value"].as_f64())
            .unwrap_or(f64::NAN)
    };
    let rss = renderer_rss_kib(d.child.id()) as f64 / 1024.0;
    (
        t[0].as_f64().unwrap(),
        t[1].as_f64().unwrap(),
        metric("JSHeapUsedSize") / 1048576.0,
        metric("Nodes"),
        rss,
    )
}

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1000.0
}

fn main() {
    let Some((driver, chromium)) = webdriver::browser() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("channels");
        let big = channel(&root, "big");
        fill(&big, 10_000);
        let small = channel(&root, "small");
        fill(&small, 1_000);
        let live = channel(&root, "live");
        let (mut relay, addr) = common::start_relay(&root);
        let d = webdriver::Driver::start(&driver, &chromium).await;
        cdp(&d, "Performance.enable", json!({})).await;

        println!("## page load (5 cold loads each; ms from navigation start)\n");
        println!("| entries | first entry: median (min–max) | all rendered and live: median (min–max) | JS heap MiB | DOM nodes | renderer RSS MiB |");
        println!("|---|---|---|---|---|---|");
        for (ch, n) in [(&small, 1_000u64), (&big, 10_000u64)] {
            let url = format!("http://{addr}/?channel={}", ch.name());
            let mut first = Vec::new();
            let mut ready = Vec::new();
            let mut heap = Vec::new();
            let mut nodes = Vec::new();
            let mut rss = Vec::new();
            for _ in 0..5 {
                let (f, r, h, no, m) = load(&d, &url, n).await;
                first.push(f);
                ready.push(r);
                heap.push(h);
                nodes.push(no);
                rss.push(m);
            }
            let (f, r, h, no, m) = (stats(first), stats(ready), stats(heap), stats(nodes), stats(rss));
            println!(
                "| {n} | {:.0} ({:.0}–{:.0}) | {:.0} ({:.0}–{:.0}) | {:.1} ({:.1}–{:.1}) | {:.0} | {:.0} ({:.0}–{:.0}) |",
                f.median, f.min, f.max, r.median, r.min, r.max, h.median, h.min, h.max, no.median, m.median, m.min, m.max
            );
        }

        // State write → strip, and (baseline) entry append → feed, interleaved.
        let url = format!("http://{addr}/?channel={}", live.name());
        d.goto(&url).await;
        d.wait_for("return document.getElementById('conn').className === 'live'")
            .await;
        d.js("window.__shown = {}; const s = onState; onState = (m) => { s(m); window.__shown['s' + m.state.seq] = Date.now(); }; const e = addEntry; addEntry = (m) => { e(m); window.__shown['e' + m.entry.seq] = Date.now(); }; return true")
            .await;
        let pipeline = Author::new("pipeline").unwrap();
        let traffic = Author::new("traffic").unwrap();
        let mut doc = warroom::state::StateDoc::new(pipeline.clone(), 5000);
        let mut wrote_state = Vec::new();
        let mut wrote_entry = Vec::new();
        let samples = 200u64;
        for i in 1..=samples {
            doc.seq = i;
            doc.note = format!("probe {i}");
            doc.written_at = warroom::channel::Timestamp::now();
            let t = now_ms();
            warroom::state::file::write(&live, &doc).unwrap();
            wrote_state.push(t);
            tokio::time::sleep(Duration::from_millis(25)).await;
            let t = now_ms();
            live.post(
                &traffic,
                &Draft {
                    kind: Kind::Observation,
                    body: format!("probe {i}"),
                    ..Draft::default()
                },
                &PostOptions::default(),
            )
            .unwrap();
            wrote_entry.push(t);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        d.wait_for(&format!(
            "return window.__shown['s{samples}'] !== undefined && window.__shown['e{samples}'] !== undefined"
        ))
        .await;
        let shown = d.js("return window.__shown").await;
        let lat = |prefix: &str, wrote: &[f64]| -> Vec<f64> {
            wrote
                .iter()
                .enumerate()
                .filter_map(|(i, t)| shown[format!("{prefix}{}", i + 1)].as_f64().map(|s| s - t))
                .collect()
        };
        let s = stats(lat("s", &wrote_state));
        let e = stats(lat("e", &wrote_entry));
        println!("\n## write → page ({samples} samples each, interleaved, ms)\n");
        println!("| path | p50 | p99 | min | max |");
        println!("|---|---|---|---|---|");
        println!("| state file written → strip rendered | {:.1} | {:.1} | {:.1} | {:.1} |", s.median, s.p99, s.min, s.max);
        println!("| entry posted (fsync) → feed rendered (baseline) | {:.1} | {:.1} | {:.1} | {:.1} |", e.median, e.p99, e.min, e.max);
        d.quit().await;
        let _ = relay.kill();
        let _ = relay.wait();
    });
}
