//! A tiny harness for the relay tests: a fresh store in a temp dir, the real `warroom` binary,
//! a real relay on 127.0.0.1 port 0, and WebSocket clients that keep their cursor; [`sim`]: a
//! running simulator for the tests that drive the rollout commands against it.
#![allow(dead_code)] // each test binary uses part of it

pub mod sim;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");
/// Longest wait for any single expected message: a hang guard, not a speed assertion.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Env {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("channels");
        Self { dir, root }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--root").arg(&self.root).args(args);
        c.env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROOT")
            .env_remove("WARROOM_ROLE");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run warroom")
    }

    /// Runs and returns stdout, failing the test with stderr on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "warroom {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn open(&self, theme: &str) -> String {
        self.ok(&["open", theme, "--date", "2026-05-04"])
    }

    pub fn post(&self, channel: &str, role: &str, text: &str) -> String {
        self.ok(&[
            "post",
            "--channel",
            channel,
            "--as",
            role,
            "--no-sync",
            text,
        ])
    }

    pub fn token(&self, channel: &str, role: &str) -> String {
        self.ok(&["token", "add", "--role", role, "--channel", channel])
    }

    pub fn author_file(&self, channel: &str, role: &str) -> PathBuf {
        self.root.join(channel).join(format!("{role}.md"))
    }

    pub fn channel(&self, name: &str) -> warroom::channel::Channel {
        warroom::channel::Store::open(&self.root)
            .unwrap()
            .channel(Some(name))
            .unwrap()
    }
}

/// A running `warroom serve`.
pub struct Server {
    pub child: Child,
    pub url: String,
    pub addr: String,
    pub log: PathBuf,
}

impl Server {
    pub fn start(env: &Env) -> Self {
        Self::start_on(env, "127.0.0.1:0")
    }

    pub fn start_on(env: &Env, bind: &str) -> Self {
        Self::spawn(env, env.cmd(&["serve", "--bind", bind]))
    }

    /// Starts `warroom serve` under a descriptor limit (`ulimit -n`), on port 0.
    pub fn start_with_nofile(env: &Env, nofile: u32) -> Self {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &format!("ulimit -n {nofile} && exec \"$0\" \"$@\"")])
            .arg(BIN)
            .arg("--root")
            .arg(&env.root)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROOT");
        Self::spawn(env, cmd)
    }

    /// Runs a prepared `warroom serve` command and reads the URL it prints.
    pub fn spawn(env: &Env, mut cmd: Command) -> Self {
        let log = env
            .dir
            .path()
            .join(format!("serve-{}.log", rand::random::<u32>()));
        let mut child = cmd
            .env("WARROOM_LOG", "warn,warroom=debug")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start warroom serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("serve prints its URL");
        let url = line.trim().trim_end_matches('/').to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "serve printed {line:?}"
        );
        let addr = url.trim_start_matches("http://").to_owned();
        Self {
            child,
            url,
            addr,
            log,
        }
    }

    pub fn ws_url(&self, channel: &str, cursor: &str) -> String {
        format!(
            "ws://{}/api/channels/{channel}/live?cursor={cursor}",
            self.addr
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server, in KiB (VmRSS, or VmHWM for the peak).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// SIGTERM, then wait for the exit status (a hang guard of [`PATIENCE`], after which the
    /// relay is killed and the test fails).
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        for _ in 0..(PATIENCE.as_millis() / 20) {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::mem::forget(self);
                return status;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the relay did not exit after SIGTERM");
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the relay's stderr has a line containing `needle`; returns it.
    pub fn wait_log_line(&self, needle: &str) -> String {
        for _ in 0..(PATIENCE.as_millis() / 50) {
            if let Some(l) = self.log_text().lines().find(|l| l.contains(needle)) {
                return l.to_owned();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "no line with {needle:?} in the relay's log:\n{}",
            self.log_text()
        );
    }

    /// SIGTERM, then the exit status and everything the relay wrote on stderr.
    pub fn terminate_with_log(self) -> (std::process::ExitStatus, String) {
        let log = self.log.clone();
        let status = self.terminate();
        (status, std::fs::read_to_string(log).unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- relay log ---\n{}", self.log_text());
        }
    }
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A live-feed client that keeps its cursor and every entry it received.
pub struct Client {
    pub ws: Option<Ws>,
    pub channel: String,
    pub cursor: BTreeMap<String, u64>,
    /// Every (author, seq) received, in arrival order, duplicates included.
    pub got: Vec<(String, u64)>,
    pub alerts: Vec<Value>,
    pub closes: Vec<Option<u16>>,
}

impl Client {
    pub fn new(channel: &str) -> Self {
        Self {
            ws: None,
            channel: channel.to_owned(),
            cursor: BTreeMap::new(),
            got: Vec::new(),
            alerts: Vec::new(),
            closes: Vec::new(),
        }
    }

    pub fn cursor_string(&self) -> String {
        self.cursor
            .iter()
            .map(|(a, s)| format!("{a}:{s}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Connects with the current cursor and reads through the replay up to `ready`.
    pub async fn connect(&mut self, server: &Server) {
        let url = server.ws_url(&self.channel, &self.cursor_string());
        let (ws, _) = tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(&url))
            .await
            .expect("connect in time")
            .expect("connect");
        self.ws = Some(ws);
        while self.next().await.expect("replay ends with ready") != "ready" {}
    }

    /// Reads one message; returns its type ("entry", "alert", "ready", "close"), or None
    /// when the connection ended.
    pub async fn next(&mut self) -> Option<String> {
        // One deadline for the next text or close: pings alone do not keep a stuck feed alive.
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let where_ = format!(
            "cursor {}, {} entries so far",
            self.cursor_string(),
            self.got.len()
        );
        let ws = self.ws.as_mut()?;
        loop {
            let msg = tokio::time::timeout_at(deadline, ws.next())
                .await
                .unwrap_or_else(|_| panic!("no message within {PATIENCE:?}; {where_}"));
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).expect("JSON message");
                    let ty = v["type"].as_str().unwrap().to_owned();
                    match ty.as_str() {
                        "entry" => {
                            let a = v["entry"]["author"].as_str().unwrap().to_owned();
                            let s = v["entry"]["seq"].as_u64().unwrap();
                            assert!(v["html"].is_string(), "entries carry html: {v}");
                            let c = self.cursor.entry(a.clone()).or_insert(0);
                            *c = (*c).max(s);
                            self.got.push((a, s));
                        }
                        "alert" => self.alerts.push(v),
                        _ => {}
                    }
                    return Some(ty);
                }
                Some(Ok(Message::Close(f))) => {
                    self.closes.push(f.map(|f| u16::from(f.code)));
                    self.ws = None;
                    return Some("close".into());
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => {
                    self.ws = None;
                    return None;
                }
            }
        }
    }

    /// Reads until `n` entries have arrived in total, reconnecting with the cursor if the
    /// relay closes the feed.
    pub async fn read_entries(&mut self, server: &Server, n: usize) {
        let mut reconnects = 0;
        while self.got.len() < n {
            if self.ws.is_none() {
                reconnects += 1;
                assert!(reconnects < 100, "reconnected too often");
                self.connect(server).await;
                continue;
            }
            self.next().await;
        }
    }

    /// Reads until an alert with this reason arrives.
    pub async fn wait_alert(&mut self, reason: &str) -> Value {
        loop {
            if let Some(a) = self.alerts.iter().find(|a| a["alert"]["reason"] == reason) {
                return a.clone();
            }
            assert!(
                self.next().await.is_some(),
                "feed ended before a {reason} alert"
            );
        }
    }

    pub fn assert_exactly_once(&self, expect: &BTreeMap<String, u64>) {
        let mut seen = BTreeSet::new();
        for (a, s) in &self.got {
            assert!(seen.insert((a.clone(), *s)), "duplicate {a}#{s}");
        }
        let want: BTreeSet<_> = expect
            .iter()
            .flat_map(|(a, n)| (1..=*n).map(move |s| (a.clone(), s)))
            .collect();
        assert_eq!(seen.len(), want.len(), "entry count");
        assert!(seen == want, "the set of entries differs");
    }

    pub async fn send_raw(&mut self, msg: Message) {
        if let Some(ws) = self.ws.as_mut() {
            let _ = ws.send(msg).await;
        }
    }
}

/// A WebSocket handshake with extra headers; returns the HTTP status on refusal.
pub async fn ws_with_headers(url: &str, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(http_name(k), v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("handshake failed oddly: {e}"),
    }
}

fn http_name(k: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    k.parse().unwrap()
}

/// One raw HTTP/1.1 request; returns the status code.
pub fn raw_http(addr: &str, request: &str) -> u16 {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

/// Appends entries through the library's writer (real files, no fsync): for bulk loads.
pub fn bulk_append(env: &Env, channel: &str, role: &str, n: u64, body: impl Fn(u64) -> String) {
    let ch = env.channel(channel);
    let author = warroom::channel::Author::new(role).unwrap();
    let mut w = ch.writer(&author, false).unwrap();
    for i in 1..=n {
        w.append(&warroom::channel::Draft {
            kind: warroom::channel::Kind::Observation,
            refs: vec![],
            body: body(i),
            ..Default::default()
        })
        .unwrap();
    }
}

pub fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
