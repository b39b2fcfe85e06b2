//! The cost of an idempotency key: posting with a key searches the author file for the key
//! under the lock. Measured on an author file of 10,000 keyed entries, against the same post
//! without a key (the baseline, in the same run), at library level and as a `warroom post`
//! process. Prints markdown.

mod common;

use std::time::Instant;

use warroom::channel::entry::{GENESIS, Header, encode};
use warroom::channel::store::Role;
use warroom::channel::{Author, Draft, IdempotencyKey, Kind, Store, Theme, Timestamp};

const BODY: &str = "Canary RS `litellm-67b4ccbdb4` created at replicas 1. Stable RS scaled 5 → 4. Pod litellm-67b4ccbdb4-x2x9q Ready on node kind-worker2.";
const ENTRIES: u64 = 10_000;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 5 };
    let (dir, ch, bytes) = channel_of(ENTRIES);
    println!(
        "Author file: {ENTRIES} keyed entries, {:.1} MB. Median of {runs} runs (min–max), µs per post.",
        bytes as f64 / 1e6
    );
    println!();
    println!("| case | µs per post (median) | min–max |");
    println!("|---|---|---|");
    let author = Author::new("data-plane").unwrap();
    let per = if quick { 100 } else { 300 };
    let mut rows: Vec<(&str, Vec<f64>)> = vec![
        ("append without a key (baseline)", vec![]),
        ("append with a new key (search misses, then write)", vec![]),
        (
            "replay of the last key (search hits, nothing written)",
            vec![],
        ),
        ("replay of the first key", vec![]),
    ];
    for run in 0..runs {
        let mut w = ch.writer(&author, false).unwrap();
        let t0 = Instant::now();
        for i in 0..per {
            w.append(&Draft::new(Kind::Observation, format!("{BODY} {i}")))
                .unwrap();
        }
        rows[0]
            .1
            .push(t0.elapsed().as_secs_f64() * 1e6 / per as f64);
        let t0 = Instant::now();
        for i in 0..per {
            let mut d = Draft::new(Kind::Observation, format!("{BODY} {i}"));
            d.key = Some(IdempotencyKey::new(&format!("new-{run}-{i}")).unwrap());
            assert!(!w.append(&d).unwrap().replayed);
        }
        rows[1]
            .1
            .push(t0.elapsed().as_secs_f64() * 1e6 / per as f64);
        for (row, key) in [(2, ENTRIES - 1), (3, 0)] {
            let mut d = Draft::new(Kind::Observation, format!("{BODY} {key}"));
            d.key = Some(IdempotencyKey::new(&format!("obs-{key}")).unwrap());
            let t0 = Instant::now();
            for _ in 0..per {
                assert!(w.append(&d).unwrap().replayed);
            }
            rows[row]
                .1
                .push(t0.elapsed().as_secs_f64() * 1e6 / per as f64);
        }
    }
    for (case, xs) in rows {
        let s = common::stats(xs);
        println!("| {case} | {:.1} | {:.1}–{:.1} |", s.median, s.min, s.max);
    }
    // The same as a process, fsync on, interleaved with the baseline.
    let root = dir.path().join("channels");
    let n = if quick { 20 } else { 100 };
    let (mut plain, mut keyed) = (Vec::new(), Vec::new());
    for i in 0..n {
        for (with_key, out) in [(false, &mut plain), (true, &mut keyed)] {
            let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"));
            c.args(["--root", root.to_str().unwrap(), "post", "--channel"])
                .arg(ch.name().to_string())
                .args(["--as", "data-plane"]);
            if with_key {
                c.args(["--key", &format!("proc-{i}")]);
            }
            c.arg(format!("{BODY} p{i}"));
            let t0 = Instant::now();
            let r = c.output().unwrap();
            out.push(t0.elapsed().as_secs_f64() * 1000.0);
            assert!(r.status.success());
        }
    }
    println!();
    for (case, xs) in [("without a key", plain), ("with a new key", keyed)] {
        let s = common::stats(xs);
        println!(
            "`warroom post` {case} (process, fsync on, {n} runs): median {:.2} ms, min {:.2}, p99 {:.2}, max {:.2}",
            s.median, s.min, s.p99, s.max
        );
    }
}

/// A channel whose `data-plane` file holds `n` keyed entries (written by the encoder directly:
/// keyed appends would search the growing file each time).
fn channel_of(n: u64) -> (tempfile::TempDir, warroom::channel::Channel, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(&dir.path().join("channels")).unwrap();
    let author = Author::new("data-plane").unwrap();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("bench").unwrap(),
            vec![Role {
                name: author.clone(),
                title: None,
                lane: None,
            }],
        )
        .unwrap();
    let mut bytes = Vec::new();
    let mut prev = GENESIS;
    let ts = Timestamp::now();
    for i in 0..n {
        let key = IdempotencyKey::new(&format!("obs-{i}")).unwrap();
        prev = encode(
            &mut bytes,
            Header {
                author: &author,
                seq: i + 1,
                ts,
                kind: Kind::Observation,
                refs: &[],
                to: &[],
                key: Some(&key),
            },
            &format!("{BODY} {i}"),
            prev,
        );
    }
    std::fs::write(ch.author_path(&author), &bytes).unwrap();
    (dir, ch, bytes.len())
}
