//! The doc blocks marked `run=RECIPE`: captured output of runs that need a server, a simulated
//! cluster or wall time, each checked against a real run of the same command.
//!
//! A live run prints different numbers each time (entry ids, windows, latencies, counts), so
//! these compare [`masked`] text: every word, every table's shape and every line's order must
//! match, numbers are placeholders. A line that ends in `…` in both (a summary cut to the
//! terminal's width) matches when one is a prefix of the other, up to the cut word; a line
//! that ends in `…` in the doc alone stands for any line that starts with what it shows.

mod format;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::{Client, Env, PATIENCE, Server};
use super::{
    BIN, Block, Ran, clean, masked, matches_by, normalize, recipe_blocks, run_step, step_problem,
};

/// Longest a recipe's run may take: a hang guard, not a speed assertion.
const DEADLINE: Duration = Duration::from_secs(300);

/// Two masked lines are the same, or both are cut with `…` and agree up to the shorter cut.
fn same(e: &str, a: &str) -> bool {
    let (e, a) = (masked(e), masked(a));
    let (e, a) = (e.trim_end(), a.trim_end());
    if e == a {
        return true;
    }
    match (e.strip_suffix('…'), a.strip_suffix('…')) {
        // Both cut to a width: the cut may fall in another word.
        (Some(e), Some(a)) => {
            let stem = |s: &str| {
                s.rsplit_once(' ')
                    .map(|(h, _)| h.to_owned())
                    .unwrap_or_default()
            };
            let (e, a) = (stem(e), stem(a));
            !e.is_empty() && !a.is_empty() && (e.starts_with(&a) || a.starts_with(&e))
        }
        // Cut in the doc: the rest of the line left out.
        (Some(e), None) => !e.trim().is_empty() && a.starts_with(e.trim_end()),
        _ => false,
    }
}

fn lines(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text.lines().map(str::to_owned).collect();
    while v.last().is_some_and(|l| l.trim().is_empty()) {
        v.pop();
    }
    v
}

/// Fails with both texts unless `block` matches `actual` line by line (masked, `…` allowed).
fn check(block: &Block, actual: &str, what: &str) {
    let actual = lines(actual);
    assert!(
        matches_by(&block.body, &actual, &same),
        "{}: the doc's block no longer matches {what} (numbers, times and ports are placeholders):\n--- the doc shows ---\n{}\n--- the run printed ---\n{}",
        block.at(),
        block.body.join("\n"),
        actual.join("\n")
    );
}

/// A timeline split into entries: each starts at a line `HH:MM:SS.mmmZ  author#N  …`.
fn entries(lines: &[String]) -> Vec<Vec<String>> {
    let head = regex::Regex::new(r"^\d\d:\d\d:\d\d\.\d{3}Z  \S+#\d+  ").unwrap();
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in lines {
        if head.is_match(l) {
            out.push(vec![l.clone()]);
        } else if let Some(e) = out.last_mut() {
            e.push(l.clone());
        }
    }
    for e in &mut out {
        while e.last().is_some_and(|l| l.trim().is_empty()) {
            e.pop();
        }
    }
    out
}

/// Fails unless each entry of `block` (a timeline excerpt) matches an entry of `actual`; an
/// entry may leave lines out with `…`. In any order, and two may match the same entry: entries
/// posted in the same instant come in either order, and what a window holds depends on when
/// it closed, so the docs show one row of a window between `…`.
fn check_entries(block: &Block, actual: &str, what: &str) {
    let want = entries(&block.body);
    assert!(!want.is_empty(), "{}: no entries in the block", block.at());
    let got = entries(&lines(actual));
    for w in &want {
        if !got.iter().any(|g| matches_by(w, g, &same)) {
            panic!(
                "{}: this entry of the doc is not in {what} (numbers, times and ports are placeholders):\n--- the doc shows ---\n{}\n--- the run printed ---\n{}",
                block.at(),
                w.join("\n"),
                lines(actual).join("\n")
            );
        }
    }
}

/// Waits for `child` within [`DEADLINE`], killing it past it; returns (stdout, stderr, exit).
fn finish(mut child: Child, what: &str) -> (String, String, i32) {
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        out.join().unwrap(),
        err.join().unwrap(),
        status.code().unwrap_or(-1),
    )
}

fn interrupt(child: &Child) {
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
}

/// `warroom` with `args` in `dir` (whose `channels/` is the store), output piped.
fn spawn(dir: &Path, args: &[&str]) -> Child {
    clean(Command::new(BIN))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (out, err, code) = finish(spawn(dir, args), &format!("warroom {args:?}"));
    assert_eq!(code, 0, "warroom {args:?}: {err}");
    out
}

#[test]
fn demo_output_matches_a_real_run() {
    let dir = tempfile::tempdir().unwrap();
    // As the docs say they ran it; the store is the default `channels` under the temp dir.
    let child = spawn(
        dir.path(),
        &["demo", "--speed", "20", "--bind", "127.0.0.1:0"],
    );
    let (stdout, stderr, code) = finish(child, "warroom demo");
    assert_eq!(code, 0, "{stderr}");
    for block in recipe_blocks("demo-stdout") {
        check(&block, &stdout, "the demo's stdout");
    }
    for block in recipe_blocks("demo-stderr") {
        check(&block, &stderr, "the demo's stderr");
    }
    // The state file docs/FORMAT.md shows is the pipeline observer's last word on this run.
    let channel = stdout.lines().next().unwrap_or_default().trim();
    format::check_state(&dir.path().join("channels").join(channel));
}

/// The simulator playing `scenario` at `speed`, with its kubeconfig written to `kubeconfig`.
struct Sim {
    child: Child,
    /// The fake backend's URL.
    backend: String,
}

impl Sim {
    fn start(dir: &Path, scenario: &str, speed: &str) -> Self {
        let mut child = clean(Command::new(BIN))
            .args(["sim", "--scenario", scenario, "--speed", speed])
            .args(["--kubeconfig-out", "kubeconfig"])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // Its log (a line per scenario step) is not read: never a full pipe.
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The API's and the backend's URLs on stdout say it listens (the kubeconfig is
        // written before them).
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let (mut api, mut backend) = (String::new(), String::new());
        out.read_line(&mut api).unwrap();
        out.read_line(&mut backend).unwrap();
        assert!(dir.join("kubeconfig").exists(), "sim printed {api:?}");
        Self {
            child,
            backend: backend.trim().to_owned(),
        }
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `warroom agent pipeline` against the simulator, for `secs` seconds, then Ctrl-C.
fn pipeline_for(dir: &Path, namespace: &str, secs: u64) {
    let child = spawn(
        dir,
        &[
            "agent",
            "pipeline",
            "--kubeconfig",
            "kubeconfig",
            "--rollout",
            "litellm",
            "-n",
            namespace,
        ],
    );
    std::thread::sleep(Duration::from_secs(secs));
    interrupt(&child);
    let (_, err, code) = finish(child, "warroom agent pipeline");
    assert_eq!(code, 0, "{err}");
}

#[test]
fn pipeline_observer_restarted_against_the_story() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["open", "litellm-canary"]);
    let _sim = Sim::start(dir.path(), "story-objects", "10");
    // As captured: stopped after 18 s, between the first analysis error (cluster 2:20, 14 s)
    // and the fourth (3:50, 23 s), and started again until the story (33 s) has ended.
    pipeline_for(dir.path(), "llm", 18);
    pipeline_for(dir.path(), "llm", 17);
    let timeline = ok(dir.path(), &["timeline"]);
    for block in recipe_blocks("pipeline-restart") {
        check_entries(&block, &timeline, "the timeline of a real run");
    }
}

#[test]
fn pipeline_observer_denied_by_rbac() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["open", "denied"]);
    let _sim = Sim::start(dir.path(), "rbac-denied", "20");
    let child = spawn(
        dir.path(),
        &[
            "agent",
            "pipeline",
            "--kubeconfig",
            "kubeconfig",
            "-n",
            "demo",
        ],
    );
    // Until its first entry is in the file.
    let started = Instant::now();
    while ok(dir.path(), &["timeline", "--author", "pipeline"])
        .trim()
        .is_empty()
    {
        assert!(started.elapsed() < DEADLINE, "no entry from the pipeline");
        std::thread::sleep(Duration::from_millis(200));
    }
    interrupt(&child);
    let (_, err, code) = finish(child, "warroom agent pipeline");
    assert_eq!(code, 0, "{err}");
    let timeline = ok(dir.path(), &["timeline", "--author", "pipeline"]);
    for block in recipe_blocks("pipeline-rbac-denied") {
        check_entries(&block, &timeline, "the timeline of a real run");
    }
}

/// `warroom serve` under `ulimit -n 1024` (the figures the docs show), with its stderr (no
/// debug log) in a file.
fn serve(env: &Env) -> Server {
    let log = env.dir.path().join("serve.log");
    let mut cmd = clean(Command::new("sh"));
    // In the store's parent, with the default root: the start line names `channels`.
    cmd.args(["-c", "ulimit -n 1024 && exec \"$0\" \"$@\""])
        .arg(BIN)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .current_dir(env.root.parent().unwrap());
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.trim().trim_end_matches('/').to_owned();
    let addr = url.trim_start_matches("http://").to_owned();
    Server {
        child,
        url,
        addr,
        log,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_shutdown_matches_a_real_run() {
    // As captured: a half-open connection, a live feed, an upload stalled after 8 of 100 body
    // bytes, then SIGTERM.
    let env = Env::new();
    let ch = env.ok(&["open", "litellm-canary", "--date", "2026-05-04"]);
    let token = env.token(&ch, "traffic");
    let server = serve(&env);
    let mut feed = Client::new(&ch);
    feed.connect(&server).await;
    let mut half = TcpStream::connect(&server.addr).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let mut upload = TcpStream::connect(&server.addr).unwrap();
    upload.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        upload,
        "POST /api/channels/{ch}/entries HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
        server.addr
    )
    .unwrap();
    // The relay's 100 Continue says its handler is reading the body.
    let mut buf = [0u8; 256];
    let n = upload.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"));
    upload.write_all(b"{\"body\":").unwrap();
    let (status, log) = tokio::task::spawn_blocking(move || server.terminate_with_log())
        .await
        .unwrap();
    assert!(status.success(), "exit {status}: {log}");
    for block in recipe_blocks("relay-shutdown") {
        check(&block, &log, "the relay's stderr");
    }
    drop((half, upload));
}

#[test]
fn data_plane_and_traffic_observers_against_the_story() {
    let dir = tempfile::tempdir().unwrap();
    ok(dir.path(), &["open", "litellm-canary"]);
    let sim = Sim::start(dir.path(), "story-objects", "20");
    // As captured: the data plane for 17 s; traffic 3 s later, for 8 s.
    let data_plane = spawn(
        dir.path(),
        &[
            "agent",
            "data-plane",
            "--kubeconfig",
            "kubeconfig",
            "-n",
            "llm",
            "--window",
            "2s",
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    ok(
        dir.path(),
        &[
            "agent",
            "traffic",
            "--url",
            &sim.backend,
            "--route",
            r#"POST /v1/chat/completions {"model":"m","messages":[]}"#,
            "--route",
            r#"POST /v1/embeddings {"input":"hi"}"#,
            "--route",
            "GET /v1/models",
            "--rate",
            "30/s",
            "--duration",
            "8s",
            "--window",
            "4s",
            "--backend-header",
            "x-backend",
        ],
    );
    std::thread::sleep(Duration::from_secs(6));
    interrupt(&data_plane);
    let (_, err, code) = finish(data_plane, "warroom agent data-plane");
    assert_eq!(code, 0, "{err}");
    for (recipe, author) in [
        ("data-plane-story", "data-plane"),
        ("traffic-story", "traffic"),
    ] {
        let timeline = ok(dir.path(), &["timeline", "--author", author]);
        for block in recipe_blocks(recipe) {
            check_entries(&block, &timeline, "the timeline of a real run");
        }
    }
}

/// The JSON of a block (an MCP client's configuration) and its `mcpServers.warroom` server.
fn mcp_server(block: &Block) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&block.body.join("\n"))
        .unwrap_or_else(|e| panic!("{}: not JSON: {e}", block.at()));
    v["mcpServers"]["warroom"].clone()
}

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"docs","version":"1"}}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_client_configs_start_a_session() {
    let env = Env::new();
    let ch = env.ok(&[
        "open",
        "litellm-canary",
        "--date",
        "2026-05-04",
        "--roles",
        "pipeline,terminal-1,operator",
    ]);
    // Over stdio: the command, arguments and environment as configured (the root moved to
    // this test's store), answering a tool call.
    for block in recipe_blocks("mcp-stdio-config") {
        let server = mcp_server(&block);
        assert_eq!(server["command"], "warroom", "{}", block.at());
        let mut cmd = clean(Command::new(BIN));
        for a in server["args"].as_array().unwrap() {
            cmd.arg(a.as_str().unwrap());
        }
        for (k, v) in server["env"].as_object().unwrap() {
            match k.as_str() {
                "WARROOM_ROOT" => cmd.env(k, &env.root),
                _ => cmd.env(k, v.as_str().unwrap()),
            };
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        for msg in [
            INITIALIZE,
            r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"alerts","arguments":{}}}"#,
        ] {
            writeln!(stdin, "{msg}").unwrap();
        }
        drop(stdin);
        let (out, err, code) = finish(child, "warroom mcp");
        assert_eq!(code, 0, "{}: {err}", block.at());
        let answered = out.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["id"] == 2 && v["result"]["isError"] == false
        });
        assert!(
            answered,
            "{}: no answer to the tool call:\n{out}\n{err}",
            block.at()
        );
    }
    // Over HTTP: the URL (on this relay's port) with the header as configured, the token
    // `warroom token add` printed in place of `wr_…`.
    let token = env.token(&ch, "terminal-1");
    let relay = serve(&env);
    for block in recipe_blocks("mcp-http-config") {
        let server = mcp_server(&block);
        assert_eq!(server["type"], "http", "{}", block.at());
        let url = server["url"].as_str().unwrap();
        let path = url
            .strip_prefix("http://127.0.0.1:7700")
            .unwrap_or_else(|| panic!("{}: {url} is not the relay's default address", block.at()));
        let auth = server["headers"]["Authorization"]
            .as_str()
            .unwrap()
            .replace("wr_…", &token);
        let mut s = TcpStream::connect(&relay.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        write!(
            s,
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: {auth}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{INITIALIZE}",
            relay.addr,
            INITIALIZE.len()
        )
        .unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(
            answer.starts_with("HTTP/1.1 200") && answer.contains("serverInfo"),
            "{}: {answer}",
            block.at()
        );
    }
}

/// The first line of the relay's stderr containing `needle`, once it is written out whole (a
/// line read mid-write would be cut).
fn whole_log_line(server: &Server, needle: &str) -> String {
    let started = Instant::now();
    loop {
        let log = server.log_text();
        let whole = log.rsplit_once('\n').map(|(done, _)| done).unwrap_or("");
        if let Some(l) = whole.lines().find(|l| l.contains(needle)) {
            return l.to_owned();
        }
        assert!(
            started.elapsed() < PATIENCE,
            "no line with {needle:?} in the relay's log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn relay_session_runs_as_shown() {
    // Both blocks, in order, in one store: `warroom serve` is started in the background (port
    // 0, under `ulimit -n 1024` as captured) and the other commands reach it where the docs
    // say 127.0.0.1:7700; TOKEN is what `token add` printed.
    let env = Env::new();
    let dir = env.root.parent().unwrap();
    let mut relay: Option<Server> = None;
    let mut token = String::new();
    let mut problems = Vec::new();
    for block in recipe_blocks("relay-session") {
        for step in &block.steps {
            let ran = if step.command == "warroom serve" {
                let server = serve(&env);
                let start = whole_log_line(&server, "relay for");
                let ran = Ran {
                    lines: vec![normalize(&format!("{}/", server.url)), normalize(&start)],
                    raw: String::new(),
                    code: 0,
                };
                relay = Some(server);
                ran
            } else {
                let addr = relay.as_ref().map(|r| r.addr.clone()).unwrap_or_default();
                let command = step.command.replace("127.0.0.1:7700", &addr);
                let ran = run_step(&command, dir, &[("TOKEN", token.as_str())]);
                if step.command.starts_with("warroom token add") {
                    token = ran.raw.lines().next().unwrap_or_default().to_owned();
                }
                ran
            };
            problems.extend(step_problem(&block, step, &ran));
        }
    }
    assert!(relay.is_some(), "no `warroom serve` step");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_format_example_is_what_the_writer_writes() {
    use warroom::channel::entry::{Header, encode};
    use warroom::channel::{Author, EntryId, Kind, Sum, Timestamp};
    // The entry FORMAT.md describes: data-plane#7, a ref, a body whose second line looks like
    // a marker; chained to the `prev` it shows.
    let author = Author::new("data-plane").unwrap();
    let refs = [EntryId::parse("pipeline#3").unwrap()];
    for block in recipe_blocks("format-entry") {
        let prev = block
            .body
            .iter()
            .find_map(|l| l.split(" prev=").nth(1))
            .and_then(|r| Sum::parse(&r.as_bytes()[..16]))
            .unwrap_or_else(|| panic!("{}: no prev= in the end marker", block.at()));
        let mut bytes = Vec::new();
        encode(
            &mut bytes,
            Header {
                author: &author,
                seq: 7,
                ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
                kind: Kind::Observation,
                refs: &refs,
                to: &[],
                key: None,
            },
            "Canary RS `litellm-67b4ccbdb4` created at replicas 1.\n<!-- warroom:end id=x#1 -->",
            prev,
        );
        let written = String::from_utf8(bytes).unwrap();
        let shown = block.body.join("\n") + "\n";
        assert_eq!(
            shown,
            written,
            "{}: the example is not what the writer writes",
            block.at()
        );
    }
}
