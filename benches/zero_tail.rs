//! `warroom verify` on a channel whose author file ends in a zero-filled, newline-less tail (what
//! a power loss can leave on ext4): 16 MiB against 256 MiB of zeros, interleaved in one run, with
//! `cat` of the same file as the read floor; wall time and peak RSS (GNU time). Then one `post`
//! onto the 256 MiB tail, which closes it off. Prints markdown.
//!
//! Linear reading means 16x the bytes take about 16x the time (a quadratic reader took 256x);
//! bounded reading means the peak RSS does not grow with the tail.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warroom::channel::store::{PostOptions, Role};
use warroom::channel::{Author, Draft, Kind, Store, Theme};

const MIB: u64 = 1024 * 1024;
const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// A store whose pipeline.md holds two entries and then `zeros` zero bytes; traffic.md one.
fn store_with_zeros(zeros: u64) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let store = Store::create(&root).unwrap();
    let roles = ["pipeline", "traffic"]
        .iter()
        .map(|n| Role {
            name: Author::new(n).unwrap(),
            title: None,
            lane: None,
        })
        .collect();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("zeros").unwrap(),
            roles,
        )
        .unwrap();
    let opts = PostOptions {
        sync: false,
        ..PostOptions::default()
    };
    for (who, body) in [
        ("pipeline", "one"),
        ("pipeline", "two"),
        ("traffic", "three"),
    ] {
        ch.post(
            &Author::new(who).unwrap(),
            &Draft::new(Kind::Observation, body),
            &opts,
        )
        .unwrap();
    }
    let file = ch.dir().join("pipeline.md");
    let len = std::fs::metadata(&file).unwrap().len();
    // Written, not a sparse extension: the bytes are on disk (in the page cache) as after a
    // power loss that zero-filled allocated blocks.
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    let chunk = vec![0u8; MIB as usize];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(MIB);
        std::io::Write::write_all(&mut &f, &chunk[..n as usize]).unwrap();
        left -= n;
    }
    assert_eq!(std::fs::metadata(&file).unwrap().len(), len + zeros);
    (dir, root, file)
}

/// Wall time, peak RSS (KiB) and exit code of `prog args` under GNU time.
fn measure(prog: &str, args: &[&str]) -> (Duration, u64, i32) {
    let t0 = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss-kib=%M")
        .arg(prog)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run /usr/bin/time (apt-get install time)");
    let took = t0.elapsed();
    let text = String::from_utf8_lossy(&out.stderr);
    let rss = text
        .rsplit_once("maxrss-kib=")
        .and_then(|(_, r)| r.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from /usr/bin/time: {text}"));
    // GNU time exits with the command's code.
    (took, rss, out.status.code().unwrap_or(-1))
}

fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn root_arg(root: &Path) -> &str {
    root.to_str().unwrap()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 3 } else { 5 };
    println!("Load before: `{}`", uptime());
    let sizes = [16 * MIB, 256 * MIB];
    let stores: Vec<_> = sizes.iter().map(|&z| store_with_zeros(z)).collect();
    // [size] -> (verify secs, verify rss, cat secs)
    let mut verify: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    let mut rss: Vec<u64> = vec![0; sizes.len()];
    let mut cat: Vec<Vec<f64>> = vec![Vec::new(); sizes.len()];
    for _ in 0..runs {
        for (i, (_, root, file)) in stores.iter().enumerate() {
            let (t, kib, code) = measure(BIN, &["--root", root_arg(root), "verify"]);
            assert_eq!(code, 1, "verify finds the torn tail");
            verify[i].push(common::secs(t));
            rss[i] = rss[i].max(kib);
            let (t, _, code) = measure("cat", &[file.to_str().unwrap()]);
            assert_eq!(code, 0);
            cat[i].push(common::secs(t));
        }
    }
    println!();
    println!(
        "| zero-filled tail | verify s (median) | min–max | peak RSS | `cat` s (median, read floor) |"
    );
    println!("|---|---|---|---|---|");
    let medians: Vec<f64> = (0..sizes.len())
        .map(|i| {
            let s = common::stats(verify[i].clone());
            let c = common::stats(cat[i].clone());
            println!(
                "| {} MiB | {:.3} | {:.3}–{:.3} | {:.1} MiB | {:.3} |",
                sizes[i] / MIB,
                s.median,
                s.min,
                s.max,
                rss[i] as f64 / 1024.0,
                c.median
            );
            s.median
        })
        .collect();
    println!();
    println!(
        "Ratio 256 MiB / 16 MiB (medians): {:.1} for 16x the bytes ({runs} runs each, interleaved).",
        medians[1] / medians[0]
    );
    let (_, root, _) = &stores[1];
    let (t, kib, code) = measure(
        BIN,
        &[
            "--root",
            root_arg(root),
            "post",
            "--as",
            "pipeline",
            "after the zeros",
        ],
    );
    assert_eq!(code, 0, "post closes the tail off");
    println!(
        "`post` onto the 256 MiB tail (closes it off with a repair marker; one run): {:.3} s, peak RSS {:.1} MiB.",
        common::secs(t),
        kib as f64 / 1024.0
    );
    println!();
    println!("Load after: `{}`", uptime());
}
