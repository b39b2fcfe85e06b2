//! The one signal rule, with real signals sent to the real binary: every command that runs
//! until stopped (timeline --follow, serve, sim, demo, the observers) exits 0 on SIGINT or
//! SIGTERM with one `stopped by SIGNAL: …` line on stderr; observers first say in one line
//! what they watch and where they post.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");
/// Longest wait for a line or an exit: a hang guard, not a speed assertion.
const PATIENCE: Duration = Duration::from_secs(120);

/// A running command whose stderr lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stdout: Option<BufReader<std::process::ChildStdout>>,
}

impl Running {
    fn start(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(BIN)
            .arg("--root")
            .arg(root)
            .args(args)
            .envs(env.iter().copied())
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROOT")
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warroom");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take().map(BufReader::new);
        Self {
            child,
            lines,
            seen: Vec::new(),
            stdout,
        }
    }

    /// Waits for a stderr line containing `text`; returns it.
    fn wait_for(&mut self, text: &str) -> String {
        loop {
            match self.lines.recv_timeout(PATIENCE) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {text:?}; stderr so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// The next stdout line.
    fn stdout_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.as_mut().unwrap().read_line(&mut line).unwrap();
        line.trim().to_owned()
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    /// Waits for the exit; returns the code and every stderr line.
    fn finish(mut self) -> (i32, Vec<String>) {
        if let Some(mut out) = self.stdout.take() {
            std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        }
        let deadline = std::time::Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the command did not exit after the signal; stderr:\n{}",
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The stderr reader ends at EOF, once the process (and its children) closed it.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let code = status
            .code()
            .unwrap_or_else(|| panic!("died by a signal: {status:?}"));
        (code, std::mem::take(&mut self.seen))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts exit 0 and exactly one stop line naming the signal; returns that line.
fn stopped_cleanly(run: Running, signal: &str) -> String {
    let (code, lines) = run.finish();
    assert_eq!(
        code,
        0,
        "exit after SIG{signal}; stderr:\n{}",
        lines.join("\n")
    );
    let stops: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("stopped by "))
        .collect();
    assert_eq!(
        stops.len(),
        1,
        "one stop line; stderr:\n{}",
        lines.join("\n")
    );
    assert!(
        stops[0].starts_with(&format!("stopped by SIG{signal}: ")),
        "{}",
        stops[0]
    );
    stops[0].clone()
}

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let out = Command::new(BIN)
        .arg("--root")
        .arg(&root)
        .args(["open", "litellm-canary", "--date", "2026-05-04"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (dir, root)
}

#[test]
fn timeline_follow_stops_on_sigint_and_sigterm() {
    let (_dir, root) = store();
    for sig in ["INT", "TERM"] {
        let mut run = Running::start(&root, &["timeline", "-f"], &[]);
        run.wait_for("following 2026-05-04--litellm-canary");
        run.signal(sig);
        let line = stopped_cleanly(run, sig);
        assert!(
            line.contains("stopped following 2026-05-04--litellm-canary"),
            "{line}"
        );
    }
}

#[test]
fn serve_and_a_remote_follower_stop_on_signals() {
    let (_dir, root) = store();
    let mut serve = Running::start(&root, &["serve", "--bind", "127.0.0.1:0"], &[]);
    let url = serve.stdout_line();
    serve.wait_for("relay for");
    for sig in ["INT", "TERM"] {
        let mut follow = Running::start(
            &root,
            &[
                "timeline",
                "-f",
                "--remote",
                &url,
                "--channel",
                "2026-05-04--litellm-canary",
            ],
            &[],
        );
        follow.wait_for("following 2026-05-04--litellm-canary on");
        follow.signal(sig);
        let line = stopped_cleanly(follow, sig);
        assert!(line.contains("stopped following"), "{line}");
    }
    serve.signal("TERM");
    let line = stopped_cleanly(serve, "TERM");
    assert!(line.contains("relay on http://127.0.0.1:"), "{line}");
    let mut serve = Running::start(&root, &["serve", "--bind", "127.0.0.1:0"], &[]);
    serve.wait_for("relay for");
    serve.signal("INT");
    stopped_cleanly(serve, "INT");
}

#[test]
fn sim_stops_on_sigint_and_sigterm() {
    let (_dir, root) = store();
    for sig in ["INT", "TERM"] {
        let mut sim = Running::start(&root, &["sim", "--port", "0"], &[]);
        sim.wait_for("serving ");
        sim.signal(sig);
        let line = stopped_cleanly(sim, sig);
        assert!(line.contains("simulator on http://127.0.0.1:"), "{line}");
    }
}

#[test]
fn demo_stops_on_sigterm_with_its_summary() {
    let (_dir, root) = store();
    let mut demo = Running::start(
        &root,
        &["demo", "--speed", "5", "--bind", "127.0.0.1:0"],
        &[],
    );
    demo.wait_for("Ctrl-C stops the demo");
    demo.signal("TERM");
    let (code, lines) = demo.finish();
    assert_eq!(code, 0, "{}", lines.join("\n"));
    let stops: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("stopped by "))
        .collect();
    assert_eq!(stops.len(), 1, "{}", lines.join("\n"));
    assert!(stops[0].starts_with("stopped by SIGTERM: "), "{}", stops[0]);
    assert!(
        lines.iter().any(|l| l.starts_with("demo stopped after")),
        "{}",
        lines.join("\n")
    );
}

/// A simulator with its kubeconfig; stopped when dropped.
fn simulator(root: &Path, kubeconfig: &Path) -> (Running, String) {
    let mut sim = Running::start(
        root,
        &[
            "sim",
            "--port",
            "0",
            "--kubeconfig-out",
            kubeconfig.to_str().unwrap(),
        ],
        &[],
    );
    let _api = sim.stdout_line();
    let backend = sim.stdout_line();
    sim.wait_for("serving ");
    (sim, backend)
}

#[test]
fn observers_say_what_they_watch_and_stop_on_signals() {
    let (dir, root) = store();
    let kc = dir.path().join("kc");
    let (sim, backend) = simulator(&root, &kc);
    let kc = kc.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            vec![
                "agent",
                "pipeline",
                "--rollout",
                "litellm",
                "-n",
                "llm",
                "--kubeconfig",
                kc,
            ],
            "pipeline: watching Rollout llm/litellm",
            "INT",
        ),
        (
            vec!["agent", "data-plane", "-n", "llm", "--kubeconfig", kc],
            "data-plane: watching ReplicaSets, pods, Deployments, Jobs and Warning events in namespace llm",
            "TERM",
        ),
        (
            vec![
                "agent",
                "traffic",
                "--url",
                &backend,
                "--route",
                "/healthz",
                "--duration",
                "10m",
                "--rate",
                "2/s",
            ],
            "traffic: watching 1 route(s) at",
            "TERM",
        ),
    ];
    for (args, start, sig) in cases {
        let mut run = Running::start(&root, &args, &[]);
        let line = run.wait_for(": watching ");
        assert!(line.starts_with(start), "{line}");
        assert!(
            line.contains("posting to 2026-05-04--litellm-canary as"),
            "the start line says where it posts: {line}"
        );
        run.signal(sig);
        let stop = stopped_cleanly(run, sig);
        assert!(stop.contains("observer stopped"), "{stop}");
    }
    sim.signal("TERM");
    stopped_cleanly(sim, "TERM");
}
