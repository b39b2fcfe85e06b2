//! MCP with a client that is not ours: the official Python SDK (tests/mcp_py/driver.py) against
//! the real `warroom mcp` over stdio and the real relay's `/mcp` over HTTP, real files, real
//! sockets on port 0. `.ci/run` installs the SDK into target/mcp-venv; without it these tests
//! fail under CI and are skipped (saying so) elsewhere.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};
use support::{BIN, Env, Server};

/// The venv's Python, or `None` (with the reason printed) when it is missing outside CI.
fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mcp-venv/bin/python");
    let python = std::env::var_os("WARROOM_MCP_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(venv);
    if python.exists() {
        return Some(python);
    }
    let why = format!(
        "the Python MCP SDK is not installed at {}: run `.ci/run` or `python3 -m venv target/mcp-venv && target/mcp-venv/bin/pip install -r tests/mcp_py/requirements.txt`",
        python.display()
    );
    assert!(std::env::var_os("CI").is_none(), "{why}");
    eprintln!("SKIPPED: {why}");
    None
}

fn driver_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp_py/driver.py")
}

/// One Python SDK client session, driven line by line.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// What initialize answered.
    ready: Value,
}

impl Driver {
    fn stdio(python: &PathBuf, env: &Env, channel: &str, role: &str) -> Result<Self, Value> {
        Self::stdio_with(python, env, channel, role, &[])
    }

    /// With more arguments for `warroom mcp`.
    fn stdio_with(
        python: &PathBuf,
        env: &Env,
        channel: &str,
        role: &str,
        extra: &[&str],
    ) -> Result<Self, Value> {
        let mut cmd = Command::new(python);
        cmd.arg(driver_path())
            .arg("stdio")
            .arg(BIN)
            .arg(&env.root)
            .arg(channel)
            .arg(role)
            .args(extra);
        Self::spawn(cmd)
    }

    fn http(python: &PathBuf, url: &str, token: &str) -> Result<Self, Value> {
        let mut cmd = Command::new(python);
        cmd.arg(driver_path()).arg("http").arg(url).arg(token);
        Self::spawn(cmd)
    }

    fn spawn(mut cmd: Command) -> Result<Self, Value> {
        let mut child = cmd
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROLE")
            .env_remove("WARROOM_ROOT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Python MCP driver");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut d = Driver {
            child,
            stdin,
            stdout,
            ready: Value::Null,
        };
        let first = d.line();
        if first.get("fatal").is_some() {
            return Err(first);
        }
        d.ready = first["ready"].clone();
        assert!(!d.ready.is_null(), "driver said {first}");
        Ok(d)
    }

    fn line(&mut self) -> Value {
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("driver output");
        assert!(!line.is_empty(), "the driver exited early");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("driver said {line:?}: {e}"))
    }

    fn send(&mut self, cmd: Value) {
        writeln!(self.stdin, "{cmd}").unwrap();
        self.stdin.flush().unwrap();
    }

    fn tools(&mut self) -> Vec<Value> {
        self.send(json!({"op": "tools"}));
        self.line()["tools"].as_array().unwrap().clone()
    }

    /// Sends a call and returns once the driver has started it.
    fn start(&mut self, tool: &str, args: Value) {
        self.send(json!({"op": "call", "tool": tool, "args": args}));
        let started = self.line();
        assert_eq!(started["started"], tool, "driver said {started}");
    }

    /// The result of the call started last.
    fn finish(&mut self) -> Value {
        self.line()
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        self.start(tool, args);
        self.finish()
    }

    /// A call that must succeed; its structured result.
    fn ok(&mut self, tool: &str, args: Value) -> Value {
        let r = self.call(tool, args);
        assert_eq!(r["is_error"], false, "{tool} failed: {r}");
        r
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A channel with the built-in roles plus an agent's.
fn channel_with_agent(env: &Env) -> String {
    let ch = env.open("agents");
    env.ok(&["roster", "add", "terminal-1", "--channel", &ch]);
    ch
}

fn entries(store_dump: &str) -> usize {
    store_dump.lines().filter(|l| !l.trim().is_empty()).count()
}

fn timeline_count(env: &Env, ch: &str) -> usize {
    entries(&env.ok(&["timeline", "--channel", ch, "-o", "ndjson"]))
}

#[test]
fn stdio_initialize_list_post_read_brief() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "Rollout litellm: canary at 20%");
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    assert_eq!(d.ready["server"], "warroom");
    assert!(
        d.ready["instructions"].as_str().unwrap().contains("brief"),
        "{}",
        d.ready
    );

    let tools = d.tools();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["post", "read", "catchup", "wait", "alerts", "ack", "brief"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for t in &tools {
        assert!(
            !t["description"].as_str().unwrap_or("").is_empty(),
            "{t} has no description"
        );
    }

    let posted = d.ok(
        "post",
        json!({"body": "looking at the canary's 5xx", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    let entry = &posted["structured"]["entry"];
    assert_eq!(entry["id"], "terminal-1#1", "{posted}");
    assert_eq!(entry["author"], "terminal-1");
    assert_eq!(entry["to"], json!(["pipeline"]));
    assert!(posted["text"].as_str().unwrap().contains("terminal-1#1"));
    // The same key again: the first entry, nothing written.
    let again = d.ok(
        "post",
        json!({"body": "looking at the canary's 5xx", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    assert_eq!(again["structured"]["replayed"], true);
    assert_eq!(again["structured"]["entry"]["id"], "terminal-1#1");
    // The same key with another body: refused, nothing written.
    let r = d.call(
        "post",
        json!({"body": "something else", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("\"k1\" was already used by terminal-1#1")
            && text.contains("nothing was written"),
        "{text}"
    );
    assert_eq!(timeline_count(&env, &ch), 2);

    let read = d.ok("read", json!({}));
    let ids: Vec<&str> = read["structured"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pipeline#1", "terminal-1#1"]);
    let cursor = read["structured"]["cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, "pipeline:1,terminal-1:1");
    env.post(&ch, "traffic", "p99 up 40% on /v1/embeddings");
    let on = d.ok("read", json!({"since": cursor}));
    assert_eq!(on["structured"]["entries"][0]["id"], "traffic#1", "{on}");
    assert_eq!(on["structured"]["entries"].as_array().unwrap().len(), 1);
    let by_author = d.ok(
        "read",
        json!({"author": ["pipeline"], "kind": ["observation"]}),
    );
    assert_eq!(
        by_author["structured"]["entries"].as_array().unwrap().len(),
        1
    );

    // `text` is a regular expression, case-insensitive; a bad one is refused by name.
    let found = d.ok("read", json!({"text": "CANARY AT \\d+%"}));
    let ids: Vec<&str> = found["structured"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pipeline#1"], "{found}");
    let found = d.ok(
        "read",
        json!({"text": "^looking", "author": ["terminal-1"]}),
    );
    assert_eq!(found["structured"]["entries"][0]["id"], "terminal-1#1");
    let r = d.call("read", json!({"text": "(unclosed"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("\"text\""), "{r}");

    let brief = d.ok("brief", json!({}));
    let text = brief["text"].as_str().unwrap();
    assert!(text.contains(&ch), "{text}");
    d.send(json!({"op": "resources"}));
    let res = d.line();
    assert_eq!(res["resources"][0]["uri"], "warroom://brief", "{res}");
    d.send(json!({"op": "resource", "uri": "warroom://brief"}));
    let read_res = d.line();
    assert_eq!(read_res["text"].as_str().unwrap(), text);
}

#[test]
fn stdio_bad_input_is_refused_with_the_fix_and_nothing_written() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");

    // An unknown argument: refused, naming the known ones (rmcp answers invalid arguments as
    // a tool error, which the model reads).
    let r = d.call("post", json!({"body": "x", "severity": "high"}));
    assert_eq!(r["is_error"], true, "{r}");
    let msg = r["text"].as_str().unwrap();
    assert!(
        msg.contains("unknown field `severity`") && msg.contains("`body`"),
        "{msg}"
    );

    // A body over the limit.
    let big = "x".repeat(70 * 1024);
    let r = d.call("post", json!({"body": big}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("over the limit") && text.contains("nothing was written"),
        "{text}"
    );

    // A bad kind, a ref that does not exist, a recipient not on the roster.
    for (args, needle) in [
        (json!({"body": "x", "kind": "alrt"}), "did you mean alert"),
        (
            json!({"body": "x", "kind": "answer", "refs": ["pipeline#9"]}),
            "does not exist",
        ),
        (json!({"body": "x", "to": ["nobody"]}), "not on the roster"),
    ] {
        let r = d.call("post", args.clone());
        assert_eq!(r["is_error"], true, "{args}: {r}");
        let text = r["text"].as_str().unwrap();
        assert!(text.contains(needle), "{args}: {text}");
    }
    assert_eq!(timeline_count(&env, &ch), 0, "nothing was written");
}

#[test]
fn stdio_role_not_on_the_roster_reads_but_cannot_post() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = env.open("agents");
    env.post(&ch, "pipeline", "hello");
    let mut d = Driver::stdio(&py, &env, &ch, "ghost").expect("connects");
    let read = d.ok("read", json!({}));
    assert_eq!(read["structured"]["entries"][0]["id"], "pipeline#1");
    let r = d.call("post", json!({"body": "boo"}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("not on the roster") && text.contains("warroom roster add ghost"),
        "{text}"
    );
    assert_eq!(timeline_count(&env, &ch), 1, "nothing was written");
}

#[test]
fn stdio_alerts_and_ack_record_the_agents_role() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "Rollout litellm: spec not observed for 61s",
    ]);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "traffic",
        "--kind",
        "question",
        "Is analysis running at all?",
    ]);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    let open = d.ok("alerts", json!({}));
    assert_eq!(
        open["structured"]["alerts"][0]["id"], "pipeline#1",
        "{open}"
    );
    assert_eq!(open["structured"]["alerts"][0]["state"], "open");
    assert_eq!(open["structured"]["questions"][0]["id"], "traffic#1");

    let acked = d.ok("ack", json!({"ids": ["pipeline#1"], "message": "looking"}));
    assert_eq!(acked["structured"]["entry"]["kind"], "ack");
    let open = d.ok("alerts", json!({}));
    assert_eq!(open["structured"]["alerts"], json!([]), "{open}");
    let all = d.ok("alerts", json!({"state": "all"}));
    assert_eq!(
        all["structured"]["alerts"][0]["acks"][0]["author"],
        "terminal-1"
    );

    // Acking something that is not an alert: refused, nothing written.
    let r = d.call("ack", json!({"ids": ["traffic#1"]}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not an alert"), "{r}");
    let r = d.call("alerts", json!({"state": "closed"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert_eq!(timeline_count(&env, &ch), 3);
}

#[test]
fn stdio_catchup_puts_entries_addressed_to_the_agent_first() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "canary at 20%");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "traffic",
        "--to",
        "terminal-1",
        "is the 5xx yours?",
    ]);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    let news = d.ok("catchup", json!({}));
    let s = &news["structured"];
    assert_eq!(s["addressed"][0]["id"], "traffic#1", "{news}");
    assert_eq!(s["others"][0]["id"], "pipeline#1", "{news}");
    let text = news["text"].as_str().unwrap();
    assert!(
        text.contains("1 addressed to terminal-1, shown first"),
        "{text}"
    );
    assert!(
        text.find("traffic#1").unwrap() < text.find("pipeline#1").unwrap(),
        "{text}"
    );
    // Read: the cursor moved.
    let again = d.ok("catchup", json!({}));
    assert!(
        again["text"].as_str().unwrap().contains("nothing new"),
        "{again}"
    );
}

#[test]
fn stdio_wait_wakes_on_another_process_post_and_times_out() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "before the wait");
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");

    // From a cursor: an alert posted by another process wakes it; a note does not.
    let cursor = d.ok("read", json!({}))["structured"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    d.start(
        "wait",
        json!({"cursor": cursor, "kind": ["alert"], "timeout": 120}),
    );
    env.post(&ch, "traffic", "a note, not an alert");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "canary degraded",
    ]);
    let woke = d.finish();
    assert_eq!(woke["is_error"], false, "{woke}");
    let s = &woke["structured"];
    assert_eq!(s["outcome"], "entries", "{woke}");
    assert_eq!(s["entries"][0]["id"], "pipeline#2", "{woke}");
    assert_eq!(s["entries"].as_array().unwrap().len(), 1);
    assert_eq!(s["cursor"], "pipeline:2");

    // Without a cursor only entries appended after the call count: another process posts
    // until the wait answers, and what it returns is one of those.
    d.start("wait", json!({"author": ["traffic"], "timeout": 120}));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poster = {
        let (done, root, ch) = (done.clone(), env.root.clone(), ch.clone());
        std::thread::spawn(move || {
            for i in 0..480 {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let _ = Command::new(BIN)
                    .arg("--root")
                    .arg(&root)
                    .args(["post", "--channel", &ch, "--as", "traffic", "--no-sync"])
                    .arg(format!("tick {i}"))
                    .output();
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        })
    };
    let woke = d.finish();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    poster.join().unwrap();
    let first = &woke["structured"]["entries"][0];
    assert!(
        first["body"].as_str().unwrap_or("").starts_with("tick "),
        "only entries after the call count: {woke}"
    );

    // Nothing comes: it says it timed out, with the cursor to go on from.
    let r = d.ok("wait", json!({"author": ["data-plane"], "timeout": 1}));
    assert_eq!(r["structured"]["outcome"], "timed-out", "{r}");
    assert!(r["text"].as_str().unwrap().contains("timed out"), "{r}");

    // Out of range: refused by name.
    let r = d.call("wait", json!({"timeout": 301}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("\"timeout\"") && text.contains("0 to 300"),
        "{text}"
    );
    let r = d.call("wait", json!({"timeout": 5, "cursor": "pipeline:x"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("\"cursor\""), "{r}");
}

#[test]
fn stdio_rollout_get_reads_a_directory_and_refuses_what_it_cannot_find() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peer/argo-rollouts/fixtures/canary");
    let mut d = Driver::stdio_with(
        &py,
        &env,
        &ch,
        "terminal-1",
        &["--from-dir", fixtures.to_str().unwrap()],
    )
    .expect("connects");
    let got = d.ok(
        "rollout_get",
        json!({"name": "canary-demo", "namespace": "jesse-test"}),
    );
    let text = got["text"].as_str().unwrap();
    assert!(
        text.starts_with("Name:            canary-demo\n") && text.contains("Degraded"),
        "{text}"
    );
    assert_eq!(got["structured"]["name"], "canary-demo", "{got}");
    let r = d.call(
        "rollout_get",
        json!({"name": "nope", "namespace": "jesse-test"}),
    );
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not found"), "{r}");
    // No cluster actions over MCP.
    let tools = d.tools();
    for t in &tools {
        let name = t["name"].as_str().unwrap();
        assert!(
            !["promote", "abort", "retry", "undo", "pause", "resume"]
                .iter()
                .any(|a| name.contains(a)),
            "{name}"
        );
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stdio_rollout_get_reads_the_cluster_of_its_kubeconfig() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    // The simulator's API as the cluster (the story scenario: Rollout llm/litellm).
    let kubeconfig = env.dir.path().join("kubeconfig");
    let _sim = Killed(
        env.cmd(&[
            "sim",
            "--scenario",
            "story",
            "--port",
            "0",
            "--kubeconfig-out",
        ])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warroom sim starts"),
    );
    for _ in 0..1200 {
        if kubeconfig.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(kubeconfig.exists(), "no kubeconfig from the simulator");
    let kc = kubeconfig.to_str().unwrap();
    let mut d =
        Driver::stdio_with(&py, &env, &ch, "terminal-1", &["--kubeconfig", kc]).expect("connects");
    // What `warroom rollout get` shows of the same Rollout (the simulator runs on: compare
    // what does not move).
    let cli: Value = serde_json::from_str(&env.ok(&[
        "rollout",
        "get",
        "litellm",
        "-n",
        "llm",
        "--kubeconfig",
        kc,
        "-o",
        "json",
    ]))
    .unwrap();
    let got = d.ok(
        "rollout_get",
        json!({"name": "litellm", "namespace": "llm"}),
    );
    let view = &got["structured"];
    for field in ["name", "namespace", "strategy"] {
        assert_eq!(view[field], cli[field], "{field}: {got}");
    }
    assert_eq!(view["name"], "litellm");
    let text = got["text"].as_str().unwrap();
    assert!(text.starts_with("Name:            litellm\n"), "{text}");
    let r = d.call("rollout_get", json!({"name": "nope", "namespace": "llm"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not found"), "{r}");
    assert_eq!(timeline_count(&env, &ch), 0, "reading writes nothing");
}

#[test]
fn http_with_a_token_and_refused_without() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let token = env.token(&ch, "terminal-1");
    let server = Server::start(&env);
    let url = format!("{}/mcp", server.url);

    let mut d = Driver::http(&py, &url, &token).expect("connects with a token");
    assert_eq!(d.ready["server"], "warroom");
    let posted = d.ok("post", json!({"body": "over HTTP"}));
    assert_eq!(
        posted["structured"]["entry"]["id"], "terminal-1#1",
        "{posted}"
    );
    let read = d.ok("read", json!({}));
    assert_eq!(read["structured"]["entries"][0]["body"], "over HTTP");
    let cursor = read["structured"]["cursor"].as_str().unwrap().to_owned();
    // A wait over HTTP wakes when another process posts.
    d.start("wait", json!({"cursor": cursor, "timeout": 120}));
    env.post(&ch, "pipeline", "posted by another process");
    let woke = d.finish();
    assert_eq!(
        woke["structured"]["entries"][0]["id"], "pipeline#1",
        "{woke}"
    );
    let r = d.ok("wait", json!({"author": ["data-plane"], "timeout": 1}));
    assert_eq!(r["structured"]["outcome"], "timed-out", "{r}");
    // The same tools as over stdio, acting as the token's role: catch up, see the open
    // alerts, ack one (recorded as terminal-1, as `warroom alerts` shows).
    let tools = d.tools();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["post", "read", "catchup", "wait", "alerts", "ack", "brief"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "canary degraded",
    ]);
    let news = d.ok("catchup", json!({}));
    let others: Vec<&str> = news["structured"]["others"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(others, ["pipeline#1", "pipeline#2"], "{news}");
    assert_eq!(news["structured"]["reader"], "terminal-1", "{news}");
    let open = d.ok("alerts", json!({}));
    assert_eq!(
        open["structured"]["alerts"][0]["id"], "pipeline#2",
        "{open}"
    );
    assert_eq!(open["structured"]["alerts"][0]["state"], "open");
    let acked = d.ok("ack", json!({"ids": ["pipeline#2"], "message": "looking"}));
    assert_eq!(
        acked["structured"]["entry"]["id"], "terminal-1#2",
        "{acked}"
    );
    let listed: Value = serde_json::from_str(&env.ok(&[
        "alerts",
        "--channel",
        &ch,
        "--state",
        "acked",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(listed[0]["acks"][0]["author"], "terminal-1", "{listed}");
    assert_eq!(d.ok("alerts", json!({}))["structured"]["alerts"], json!([]));
    // The token's role taken off the roster (by hand): posting is refused with the fix.
    let roster_path = env.root.join(&ch).join(".warroom/roster.json");
    let roster = std::fs::read(&roster_path).unwrap();
    let mut without: Value = serde_json::from_slice(&roster).unwrap();
    without["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "terminal-1");
    std::fs::write(&roster_path, serde_json::to_vec_pretty(&without).unwrap()).unwrap();
    let r = d.call("post", json!({"body": "still here?"}));
    std::fs::write(&roster_path, &roster).unwrap();
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("not on the roster")
            && text.contains("warroom roster add terminal-1")
            && text.contains("a token for it over HTTP")
            && text.contains("nothing was written"),
        "{text}"
    );
    // rollout_get is never served over HTTP; the refusal says where it is.
    let r = d.call("rollout_get", json!({"name": "web"}));
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("the relay's /mcp reads no Rollouts")
            && text.contains("warroom mcp --as ROLE")
            && text.contains("--from-dir DIR"),
        "{r}"
    );
    drop(d);

    // A wrong token: refused before MCP (the SDK reports only "an error response"; the HTTP
    // answer itself says 401 and what to do).
    let err = Driver::http(&py, &url, "wr_0000").err().expect("refused");
    assert!(err["fatal"].as_str().unwrap().contains("error"), "{err}");
    let resp = reqwest::blocking_post(&url, "wr_0000");
    assert_eq!(resp.0, 401);
    assert!(resp.1.contains("warroom token ls"), "{}", resp.1);
    let resp = reqwest::blocking_post(&url, "");
    assert_eq!(resp.0, 401);
    assert!(resp.1.contains("warroom token add"), "{}", resp.1);

    // A revoked token stops working at once.
    env.ok(&["token", "revoke", &token]);
    assert!(
        Driver::http(&py, &url, &token).is_err(),
        "a revoked token is refused"
    );
    assert_eq!(reqwest::blocking_post(&url, &token).0, 401);
    assert_eq!(timeline_count(&env, &ch), 4, "nothing more was written");
}

/// MCP over stdio as a shell speaks it (docs/AGENTS.md): JSON-RPC lines, no SDK. The channel
/// and the role come from WARROOM_CHANNEL and WARROOM_ROLE when no flag names them.
#[test]
fn stdio_takes_its_channel_and_role_from_the_environment() {
    let env = Env::new();
    let ch = channel_with_agent(&env);
    // A newer channel: without WARROOM_CHANNEL the server would serve this one.
    let newer = env.ok(&["open", "newer", "--date", "2026-05-05"]);
    let mut child = env
        .cmd(&["mcp"])
        .env("WARROOM_CHANNEL", &ch)
        .env("WARROOM_ROLE", "terminal-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warroom mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let mut answer = |id: u64| -> Value {
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "the server closed its stdout");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "sh", "version": "1"}}}),
    );
    assert_eq!(answer(1)["result"]["serverInfo"]["name"], "warroom");
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "post", "arguments": {"body": "from the environment"}}}));
    let posted = answer(2);
    let entry = &posted["result"]["structuredContent"]["entry"];
    assert_eq!(
        (entry["id"].as_str(), entry["channel"].as_str()),
        (Some("terminal-1#1"), Some(ch.as_str())),
        "{posted}"
    );
    // An unknown tool is a JSON-RPC error, not a crash; the session goes on.
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "promote", "arguments": {}}}));
    assert!(answer(3)["error"]["message"].is_string());
    send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "read", "arguments": {}}}));
    assert_eq!(
        answer(4)["result"]["structuredContent"]["entries"][0]["body"],
        "from the environment"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "stdin closed: the server ends cleanly ({status})"
    );
    assert_eq!(timeline_count(&env, &ch), 1);
    assert_eq!(timeline_count(&env, &newer), 0);
}

/// A `wait` pending over HTTP when the relay stops is answered (docs/AGENTS.md: the answer says
/// to wait again), not cut off without a word.
#[test]
fn http_a_pending_wait_is_answered_when_the_relay_stops() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let token = env.token(&ch, "terminal-1");
    let server = Server::start(&env);
    let url = format!("{}/mcp", server.url);
    let mut d = Driver::http(&py, &url, &token).expect("connects with a token");
    d.start("wait", json!({"author": ["data-plane"], "timeout": 120}));
    server.wait_log_line("wait pending: terminal-1 in");
    let (status, log) = server.terminate_with_log();
    assert!(status.success(), "{status}: {log}");
    let r = d.finish();
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("shutting down") && text.contains("call wait again"),
        "{r}\n{log}"
    );
}

/// A bare JSON-RPC initialize POST, for the HTTP answer itself.
mod reqwest {
    pub fn blocking_post(url: &str, token: &str) -> (u16, String) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mut req = ::reqwest::Client::new()
                .post(url)
                .header("Accept", "application/json, text/event-stream")
                .header("Content-Type", "application/json")
                .body(
                    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
                );
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }
}
