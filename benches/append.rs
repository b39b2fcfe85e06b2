//! Append throughput at library level (the writer keeps its chain state), 1 and 8 writers,
//! fsync on and off, against a raw `O_APPEND` write loop of the same bytes; and one `post`
//! process end to end. Prints a markdown table.

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Instant;

use warroom::channel::entry::{GENESIS, Header, encode};
use warroom::channel::store::Role;
use warroom::channel::{Author, Draft, Kind, Store, Theme, Timestamp};

const BODY: &str = "Canary RS `litellm-67b4ccbdb4` created at replicas 1. Stable RS scaled 5 → 4. Pod litellm-67b4ccbdb4-x2x9q Ready on node kind-worker2.";

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 5 };
    println!(
        "| case | writers | fsync | entries/s (median) | min–max | raw O_APPEND entries/s (median) | ours / raw |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &sync in &[false, true] {
        for &writers in &[1usize, 8] {
            let per = match (sync, quick) {
                (false, false) => 100_000 / writers,
                (false, true) => 20_000 / writers,
                (true, _) => 2_000 / writers,
            };
            for (case, batch) in [
                ("append (lock per entry)", 1),
                ("session of 100 entries", 100),
            ] {
                if sync && batch > 1 {
                    continue;
                }
                let mut ours = Vec::new();
                let mut raw = Vec::new();
                for _ in 0..runs {
                    ours.push(run_ours(writers, per, sync, batch));
                    raw.push(run_raw(writers, per, sync));
                }
                let o = common::stats(ours);
                let r = common::stats(raw);
                println!(
                    "| {case} | {writers} | {} | {:.0} | {:.0}–{:.0} | {:.0} | {:.2} |",
                    if sync { "on" } else { "off" },
                    o.median,
                    o.min,
                    o.max,
                    r.median,
                    o.median / r.median
                );
            }
        }
    }
    post_process(if quick { 50 } else { 200 });
}

fn channel() -> (tempfile::TempDir, warroom::channel::Channel) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(&dir.path().join("channels")).unwrap();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("bench").unwrap(),
            vec![Role {
                name: Author::new("data-plane").unwrap(),
                title: None,
                lane: None,
            }],
        )
        .unwrap();
    (dir, ch)
}

/// Entries per second through `AuthorWriter::append` (batch 1) or sessions of `batch` appends,
/// all writers on one author file.
fn run_ours(writers: usize, per: usize, sync: bool, batch: usize) -> f64 {
    let (_dir, ch) = channel();
    let author = Author::new("data-plane").unwrap();
    let draft = Draft {
        kind: Kind::Observation,
        refs: vec![],
        body: BODY.to_owned(),
        ..Default::default()
    };
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..writers {
            let mut w = ch.writer(&author, sync).unwrap();
            let draft = &draft;
            s.spawn(move || {
                if batch == 1 {
                    for _ in 0..per {
                        w.append(draft).unwrap();
                    }
                    return;
                }
                for _ in 0..per / batch {
                    let mut session = w.session().unwrap();
                    for _ in 0..batch {
                        session.append(draft).unwrap();
                    }
                    session.finish().unwrap();
                }
            });
        }
    });
    (writers * per) as f64 / common::secs(t0.elapsed())
}

/// The same bytes written by a bare `O_APPEND` loop (the write limit).
fn run_raw(writers: usize, per: usize, sync: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw.md");
    let author = Author::new("data-plane").unwrap();
    let mut bytes = Vec::new();
    encode(
        &mut bytes,
        Header {
            author: &author,
            seq: 1,
            ts: Timestamp::now(),
            kind: Kind::Observation,
            refs: &[],
            to: &[],
            key: None,
        },
        BODY,
        GENESIS,
    );
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..writers {
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .unwrap();
            let bytes = &bytes;
            s.spawn(move || {
                for _ in 0..per {
                    f.write_all(bytes).unwrap();
                    if sync {
                        f.sync_data().unwrap();
                    }
                }
            });
        }
    });
    (writers * per) as f64 / common::secs(t0.elapsed())
}

/// One `warroom post` process end to end, as a terminal agent pays it.
fn post_process(n: usize) {
    let (dir, ch) = channel();
    let root = dir.path().join("channels");
    let mut ms = Vec::new();
    for i in 0..n {
        let t0 = Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args(["--root", root.to_str().unwrap(), "post", "--channel"])
            .arg(ch.name().to_string())
            .args(["--as", "data-plane", &format!("{BODY} #{i}")])
            .output()
            .unwrap();
        ms.push(common::secs(t0.elapsed()) * 1000.0);
        assert!(out.status.success());
    }
    let s = common::stats(ms);
    println!();
    println!(
        "`warroom post` process end to end (fsync on), {n} runs: median {:.2} ms, p99 {:.2} ms, min {:.2} ms, max {:.2} ms",
        s.median, s.p99, s.min, s.max
    );
}
