//! MCP with a client that is not ours: the official Python SDK (tests/mcp_py/driver.py) against
//! the real `warroom mcp` over stdio and the real relay's `/mcp` over HTTP, real files, real
//! sockets on port 0. `.ci/run` installs the SDK into target/mcp-venv; without it these tests
//! fail under CI and are skipped (saying so) elsewhere.
//!
//! Here: the driver of one SDK session and what the tests share; `stdio`, `rollout_get` and
//! `http` hold the tests by transport and tool. The driver must not judge an answer: the tests
//! do.

#[path = "../support/mod.rs"]
mod support;

mod http;
mod rollout_get;
mod stdio;

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
