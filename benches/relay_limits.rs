//! The relay's limits, measured: how long a new client waits for `GET /api/channels` under a
//! slowloris, against the same relay with no attack (the baseline, same run), and how long
//! SIGTERM takes to stop a relay with stuck connections.
//!
//! The relay runs under `ulimit -n 128` (connection cap 64). The attack holds 256 connections
//! that never finish their headers and opens 32 more before each request; each request is a
//! new client on its own connection. Shutdown is timed from SIGTERM to the process's exit with
//! (a) one half-open connection and one live feed, (b) the same plus an upload stalled
//! mid-body (held until the 5 s grace ends).
//!
//! `cargo bench --bench relay_limits`; `WARROOM_BENCH_N` sets the requests per phase (100).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

fn start(root: &std::path::Path, nofile: u32) -> (Child, String) {
    let mut child = Command::new("sh")
        .args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")])
        .arg(BIN)
        .arg("--root")
        .arg(root)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("WARROOM_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start warroom serve");
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut url)
        .unwrap();
    let addr = url
        .trim()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    (child, addr)
}

/// One new client: connect, ask, read the whole answer; returns the time taken.
fn get_channels(addr: &str) -> Duration {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET /api/channels HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let took = t0.elapsed();
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    took
}

fn slowloris(addr: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|i| {
            let mut s = TcpStream::connect(addr).ok()?;
            let _ = write!(s, "GET / HTTP/1.1\r\nHost: {addr}\r\nX-Slow-{i}: ");
            Some(s)
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn line(name: &str, xs: Vec<f64>) {
    let n = xs.len();
    let s = common::stats(xs);
    println!(
        "{name:<34} n={n:>4}  median {:>8.2} ms  min {:>8.2}  p99 {:>8.2}  max {:>8.2}",
        s.median, s.min, s.p99, s.max
    );
}

fn sigterm_exit(child: &mut Child) -> Duration {
    let t0 = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    t0.elapsed()
}

fn main() {
    let n: usize = std::env::var("WARROOM_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["open", "bench", "--date", "2026-05-04"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let channel = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // Baseline and attack on the same relay, alternating blocks so load drifts hit both.
    let (mut relay, addr) = start(&root, 128);
    let mut base = Vec::new();
    let mut attacked = Vec::new();
    let mut held = slowloris(&addr, 256);
    for round in 0..n {
        if round % 2 == 0 {
            // The baseline needs the attack gone: close it, let the relay notice.
            held.clear();
            std::thread::sleep(Duration::from_millis(50));
            base.push(ms(get_channels(&addr)));
            held = slowloris(&addr, 256);
        } else {
            held.extend(slowloris(&addr, 32));
            attacked.push(ms(get_channels(&addr)));
        }
    }
    drop(held);
    line("new client, no attack (baseline)", base);
    line("new client, slowloris 256 + 32", attacked);
    relay.kill().unwrap();
    relay.wait().unwrap();

    // Shutdown time.
    let mut quick = Vec::new();
    let mut stalled = Vec::new();
    for i in 0..6 {
        let (mut relay, addr) = start(&root, 1024);
        let mut half = TcpStream::connect(&addr).unwrap();
        half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        let (ws, _) = tokio_tungstenite::tungstenite::connect(format!(
            "ws://{addr}/api/channels/{channel}/live"
        ))
        .unwrap();
        let mut upload = None;
        if i % 2 == 1 {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(
                s,
                "POST /api/channels/{channel}/entries HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n"
            )
            .unwrap();
            let mut buf = [0u8; 64];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(b"{\"body\":").unwrap();
            upload = Some(s);
        }
        let took = sigterm_exit(&mut relay);
        if upload.is_some() {
            stalled.push(ms(took));
        } else {
            quick.push(ms(took));
        }
        drop((half, ws, upload));
    }
    line("SIGTERM → exit, nothing in flight", quick);
    line("SIGTERM → exit, a stalled upload", stalled);
    println!("(load average: {})", load_average());
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
