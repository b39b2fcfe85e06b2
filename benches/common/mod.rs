//! Shared pieces of the benchmarks: statistics and process measurement.
#![allow(dead_code)]

use std::time::Duration;

/// Median and spread of a set of samples.
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub p99: f64,
}

pub fn stats(mut xs: Vec<f64>) -> Stats {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    Stats {
        median: at(0.5),
        min: xs[0],
        max: xs[xs.len() - 1],
        p99: at(0.99),
    }
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Peak RSS in KiB of a command, measured by GNU time.
pub fn peak_rss_kib(cmd: &mut std::process::Command) -> (u64, Duration) {
    let prog = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let t0 = std::time::Instant::now();
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(prog)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run /usr/bin/time (apt-get install time)");
    let took = t0.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stderr);
    let kib = text
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS from /usr/bin/time: {text}"));
    (kib, took)
}

/// Starts `warroom serve` on a free loopback port over `root`; returns the child and its
/// `host:port` (read from the URL it prints on stdout).
pub fn start_relay(root: &std::path::Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_warroom"))
        .arg("--root")
        .arg(root)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WARROOM_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("start warroom serve");
    let mut url = String::new();
    BufReader::new(server.stdout.take().expect("piped stdout"))
        .read_line(&mut url)
        .expect("read the relay's URL");
    let addr = url
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    (server, addr)
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
