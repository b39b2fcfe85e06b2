//! `warroom catchup --as R --count` on a 10,000-entry channel, as a shell prompt or an agent
//! hook runs it: the real binary, process start included. The baseline in the same run is
//! `warroom --version` (a process that starts, parses its flags and exits), and for scale a
//! full read of the channel (`timeline -o ndjson`). Runs are interleaved. Prints markdown.
//!
//! `cargo bench --bench catchup_count` (`-- --quick` for fewer runs).

mod common;

use std::process::{Command, Stdio};
use std::time::Instant;

use warroom::channel::entry::{GENESIS, Header, encode};
use warroom::channel::store::Role;
use warroom::channel::{Author, Kind, Store, Theme, Timestamp};

const BODY: &str = "Canary RS `litellm-67b4ccbdb4` created at replicas 1. Stable RS scaled 5 → 4. Pod litellm-67b4ccbdb4-x2x9q Ready on node kind-worker2.";
const AUTHORS: [&str; 4] = ["pipeline", "data-plane", "traffic", "operator"];
const ENTRIES: u64 = 10_000;
/// New entries per other author for the "a few new" case.
const FEW: u64 = 3;

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 30 } else { 200 };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let (name, bytes) = channel_of(&root, ENTRIES);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "Channel: {ENTRIES} entries in {} author files, {:.1} MB. {runs} runs per case, interleaved; \
         ms per process (median, min–max, p99). Load average before: {}.",
        AUTHORS.len(),
        bytes as f64 / 1e6,
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();
    let count = |role: &'static str| -> Vec<String> {
        ["catchup", "--as", role, "--count"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "`warroom --version` (baseline: process start)",
            vec!["--version".into()],
        ),
        (
            "`catchup --count`, nothing new (cursor at the end)",
            count("data-plane"),
        ),
        (
            "`catchup --count`, a few new (3 per author after the cursor)",
            count("traffic"),
        ),
        (
            "`catchup --count`, all new (no cursor: 7,500 entries by others)",
            count("operator"),
        ),
        (
            "`timeline -o ndjson` (full read, for scale)",
            vec!["timeline".into(), "-o".into(), "ndjson".into()],
        ),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut outputs: Vec<String> = vec![String::new(); cases.len()];
    for _ in 0..runs {
        for (i, (_, args)) in cases.iter().enumerate() {
            let mut c = Command::new(env!("CARGO_BIN_EXE_warroom"));
            c.arg("--root")
                .arg(&root)
                .args(args)
                .env("WARROOM_CHANNEL", &name)
                .stderr(Stdio::piped());
            let cpu0 = children_cpu_ms();
            let t0 = Instant::now();
            let out = c.output().unwrap();
            times[i].push(t0.elapsed().as_secs_f64() * 1000.0);
            cpu[i].push(children_cpu_ms() - cpu0);
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            if outputs[i].is_empty() && !args.contains(&"timeline".to_string()) {
                outputs[i] = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            }
        }
    }
    println!(
        "| case | wall ms (median) | min–max | p99 | CPU ms, user+sys (median) | min–max | prints |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (i, (case, _)) in cases.iter().enumerate() {
        let s = common::stats(times[i].clone());
        let c = common::stats(cpu[i].clone());
        println!(
            "| {case} | {:.2} | {:.2}–{:.2} | {:.2} | {:.2} | {:.2}–{:.2} | {} |",
            s.median,
            s.min,
            s.max,
            s.p99,
            c.median,
            c.min,
            c.max,
            if outputs[i].is_empty() {
                "—".to_owned()
            } else {
                format!("`{}`", outputs[i])
            }
        );
    }
    in_process(&root, &name, runs * 5);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!();
    println!(
        "Load average after: {}.",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}

/// The in-process part of the same three cases: open the store, find the channel, count (what
/// the command does after its arguments are parsed), without process start, dynamic linking
/// and printing. Runs interleaved.
fn in_process(root: &std::path::Path, name: &str, runs: usize) {
    let cases = [
        ("nothing new", "data-plane"),
        ("a few new", "traffic"),
        ("all new (7,500)", "operator"),
    ];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    let mut said = vec![String::new(); cases.len()];
    for _ in 0..runs {
        for (i, (_, role)) in cases.iter().enumerate() {
            let reader = Author::new(role).unwrap();
            let t0 = Instant::now();
            let store = Store::open(root).unwrap();
            let ch = store.channel(Some(name)).unwrap();
            let count = warroom::catchup::count(&ch, &reader).unwrap();
            times[i].push(t0.elapsed().as_secs_f64() * 1000.0);
            if said[i].is_empty() {
                said[i] = count.to_string();
            }
        }
    }
    println!();
    println!("In process ({runs} runs per case): `Store::open`, `channel`, `catchup::count`.");
    println!();
    println!("| case | ms (median) | min–max | p99 | counts |");
    println!("|---|---|---|---|---|");
    for (i, (case, _)) in cases.iter().enumerate() {
        let s = common::stats(times[i].clone());
        println!(
            "| {case} | {:.3} | {:.3}–{:.3} | {:.3} | `{}` |",
            s.median, s.min, s.max, s.p99, said[i]
        );
    }
}

/// User plus system CPU time of every child waited for so far, in ms: what a process cost
/// whatever else the machine was doing (wall time also counts waiting for a core).
fn children_cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1000.0 + t.tv_usec as f64 / 1000.0;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}

/// A channel of `n` entries spread over [`AUTHORS`] (every 10th an alert, every 7th addressed
/// to traffic), written by the encoder directly; cursors: data-plane at the end, traffic
/// [`FEW`] entries per author behind, operator none.
fn channel_of(root: &std::path::Path, n: u64) -> (String, usize) {
    let store = Store::create(root).unwrap();
    let authors: Vec<Author> = AUTHORS.iter().map(|a| Author::new(a).unwrap()).collect();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("bench").unwrap(),
            authors
                .iter()
                .map(|a| Role {
                    name: a.clone(),
                    title: None,
                    lane: None,
                })
                .collect(),
        )
        .unwrap();
    let traffic = [Author::new("traffic").unwrap()];
    let per = n / authors.len() as u64;
    let mut total = 0;
    let t0 = Timestamp::now();
    for (k, author) in authors.iter().enumerate() {
        let mut bytes = Vec::new();
        let mut prev = GENESIS;
        for seq in 1..=per {
            let i = seq * authors.len() as u64 + k as u64;
            prev = encode(
                &mut bytes,
                Header {
                    author,
                    seq,
                    ts: t0,
                    kind: if i.is_multiple_of(10) {
                        Kind::Alert
                    } else {
                        Kind::Observation
                    },
                    refs: &[],
                    to: if i.is_multiple_of(7) { &traffic } else { &[] },
                    key: None,
                },
                &format!("{BODY} {i}"),
                prev,
            );
        }
        total += bytes.len();
        std::fs::write(ch.author_path(author), &bytes).unwrap();
    }
    let at = |behind: u64| {
        AUTHORS
            .iter()
            .map(|a| (a.to_string(), per - behind))
            .collect()
    };
    ch.set_cursor(&authors[1], &at(0)).unwrap();
    ch.set_cursor(&authors[2], &at(FEW)).unwrap();
    (ch.name().to_string(), total)
}
