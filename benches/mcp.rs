//! MCP over stdio, measured against the real `warroom mcp` speaking JSON-RPC lines:
//!
//! 1. `wait` wake-up latency: a `wait` (from a cursor, so nothing is missed) is pending in the
//!    server; another process — this one, through the library, without fsync — appends an
//!    entry; the time from just before the append to the `wait`'s answer on the server's
//!    stdout. Baseline in the same run: a `read` round trip (the JSON-RPC path without waiting).
//! 2. `post` round trip: a `tools/call post` to the running server until its answer, beside the
//!    command line's `warroom post` (one process per post) and `warroom --version` (process
//!    start). All three fsync as they do by default. Interleaved.
//!
//! `cargo bench --bench mcp` (`-- --quick` for fewer runs). Prints markdown.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warroom::channel::store::PostOptions;
use warroom::channel::{Author, Draft, Kind, Store};

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// A `warroom mcp` process, initialized.
struct Server {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    next: u64,
}

impl Server {
    fn start(root: &std::path::Path, channel: &str, role: &str) -> Self {
        let mut child = Command::new(BIN)
            .arg("--root")
            .arg(root)
            .args(["mcp", "--channel", channel, "--as", role])
            .env_remove("WARROOM_CHANNEL")
            .env("KUBECONFIG", "/nonexistent")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start warroom mcp");
        let mut s = Server {
            stdin: child.stdin.take().unwrap(),
            stdout: BufReader::new(child.stdout.take().unwrap()),
            child,
            next: 0,
        };
        s.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}),
        );
        s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        s
    }

    fn send(&mut self, msg: &Value) {
        writeln!(self.stdin, "{msg}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Sends a request; returns its id.
    fn start_request(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Reads until the answer to `id`.
    fn answer(&mut self, id: u64) -> Value {
        loop {
            let mut line = String::new();
            assert!(
                self.stdout.read_line(&mut line).unwrap() > 0,
                "server exited"
            );
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{v}");
                return v["result"].clone();
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params);
        self.answer(id)
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert_ne!(r["isError"], true, "{r}");
        r["structuredContent"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn row(name: &str, xs: Vec<f64>) {
    let s = common::stats(xs);
    println!(
        "| {name} | {:.2} | {:.2}–{:.2} | {:.2} |",
        s.median, s.min, s.max, s.p99
    );
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let runs = if quick { 30 } else { 200 };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["open", "bench", "--date", "2026-05-04"])
        .args(["--roles", "pipeline,terminal-1,terminal-2,operator"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let name = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let store = Store::open(&root).unwrap();
    let channel = store.channel(Some(&name)).unwrap();
    let pipeline = Author::new("pipeline").unwrap();
    let no_sync = PostOptions {
        sync: false,
        ..PostOptions::default()
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{runs} runs per case; ms (median, min–max, p99). Load average before: {}.",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!();

    // 1. wait wake-up.
    let mut server = Server::start(&root, &name, "terminal-1");
    let (mut wake, mut read) = (Vec::new(), Vec::new());
    for i in 0..runs {
        let t = Instant::now();
        let r = server.call("read", json!({"limit": 1}));
        read.push(ms(t.elapsed()));
        let cursor = r["cursor"].as_str().unwrap().to_owned();
        let id = server.start_request(
            "tools/call",
            json!({"name": "wait", "arguments": {"cursor": cursor, "author": ["pipeline"], "timeout": 60}}),
        );
        // A waiting agent: the wait is in place well before the post.
        std::thread::sleep(Duration::from_millis(150));
        let t = Instant::now();
        channel
            .post(
                &pipeline,
                &Draft::new(Kind::Observation, format!("tick {i}")),
                &no_sync,
            )
            .unwrap();
        let answer = server.answer(id);
        wake.push(ms(t.elapsed()));
        assert_eq!(
            answer["structuredContent"]["outcome"], "entries",
            "{answer}"
        );
    }
    println!("| `wait` (stdio) | median | min–max | p99 |");
    println!("|---|---|---|---|");
    row(
        "wake-up: another process appends → the `wait`'s answer",
        wake,
    );
    row("baseline: a `read` round trip (limit 1)", read);
    println!();

    // 2. post round trips, interleaved.
    let (mut mcp, mut cli, mut start) = (Vec::new(), Vec::new(), Vec::new());
    let mut mcp_server = Server::start(&root, &name, "terminal-2");
    for i in 0..runs {
        let t = Instant::now();
        mcp_server.call("post", json!({"body": format!("mcp post {i}")}));
        mcp.push(ms(t.elapsed()));
        let t = Instant::now();
        let out = Command::new(BIN)
            .arg("--root")
            .arg(&root)
            .args(["post", "--channel", &name, "--as", "operator"])
            .arg(format!("cli post {i}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        cli.push(ms(t.elapsed()));
        assert!(out.success());
        let t = Instant::now();
        Command::new(BIN)
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .unwrap();
        start.push(ms(t.elapsed()));
    }
    println!("| `post` (fsync) | median | min–max | p99 |");
    println!("|---|---|---|---|");
    row("MCP `tools/call post` to a running `warroom mcp`", mcp);
    row("`warroom post` (one process per post)", cli);
    row("baseline: `warroom --version` (process start)", start);
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
