//! Timeline read speed: N entries across 8 author files rendered as ndjson to /dev/null by the
//! real binary (checksums verified), against `cat` of the same files (the read limit); and
//! peak RSS at 100k and 1M entries (it must not grow with the entry count).

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use warroom::channel::store::Role;
use warroom::channel::{Author, Draft, Kind, Store, Theme};

const AUTHORS: [&str; 8] = [
    "pipeline",
    "data-plane",
    "traffic",
    "operator",
    "terminal-1",
    "terminal-2",
    "terminal-3",
    "watcher",
];

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sizes: &[usize] = if quick {
        &[100_000]
    } else {
        &[100_000, 1_000_000]
    };
    let runs = if quick { 3 } else { 5 };
    println!(
        "| entries | bytes | warroom timeline entries/s (median, min–max) | cat MB/s (median) | warroom MB/s | warroom / cat | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("channels");
        let (channel, files) = fill(&root, n);
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        let mut ours = Vec::new();
        let mut cat = Vec::new();
        let mut rss = 0;
        for _ in 0..runs {
            let t0 = Instant::now();
            let st = Command::new("cat")
                .args(&files)
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(st.success());
            cat.push(common::secs(t0.elapsed()));
            let (kib, took) = common::peak_rss_kib(
                Command::new(env!("CARGO_BIN_EXE_warroom"))
                    .args([
                        "--root",
                        root.to_str().unwrap(),
                        "timeline",
                        "--channel",
                        &channel,
                    ])
                    .args(["--format", "ndjson"]),
            );
            rss = rss.max(kib);
            ours.push(common::secs(took));
        }
        let o = common::stats(ours.iter().map(|s| n as f64 / s).collect());
        let c = common::stats(cat.iter().map(|s| bytes as f64 / s / 1e6).collect());
        let our_mbs = o.median * bytes as f64 / n as f64 / 1e6;
        println!(
            "| {n} | {:.0} MB | {:.0} ({:.0}–{:.0}) | {:.0} | {:.0} | {:.2} | {:.1} MiB |",
            bytes as f64 / 1e6,
            o.median,
            o.min,
            o.max,
            c.median,
            our_mbs,
            our_mbs / c.median,
            rss as f64 / 1024.0
        );
    }
}

/// Writes `n` entries round-robin across 8 author files (no fsync: this is set-up).
fn fill(root: &std::path::Path, n: usize) -> (String, Vec<std::path::PathBuf>) {
    let store = Store::create(root).unwrap();
    let roles = AUTHORS
        .iter()
        .map(|a| Role {
            name: Author::new(a).unwrap(),
            title: None,
            lane: None,
        })
        .collect();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("bench").unwrap(),
            roles,
        )
        .unwrap();
    let mut writers: Vec<_> = AUTHORS
        .iter()
        .map(|a| ch.writer(&Author::new(a).unwrap(), false).unwrap())
        .collect();
    for i in 0..n {
        let draft = Draft {
            kind: if i % 50 == 0 {
                Kind::Alert
            } else {
                Kind::Observation
            },
            refs: vec![],
            body: format!(
                "RS `litellm-67b4ccbdb4` scaled {} → {}. Pod litellm-67b4ccbdb4-{i:x} Ready on node kind-worker{}.",
                i % 5,
                i % 5 + 1,
                i % 3
            ),
            ..Default::default()
        };
        writers[i % AUTHORS.len()].append(&draft).unwrap();
    }
    let files = AUTHORS
        .iter()
        .map(|a| ch.author_path(&Author::new(a).unwrap()))
        .collect();
    (ch.name().to_string(), files)
}
