//! The real `warroom sim` binary against the machine's real `kubectl`.
//!
//! Each test starts the simulator on port 0 with a fresh temp dir (kubeconfig, kubectl's
//! discovery cache, scenario files), and kills it on drop. Every wait has a generous deadline
//! and fails on it; no test asserts how long anything took.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// A running `warroom sim` and its temp dir.
struct Sim {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads lines from a child's pipe on a thread, so the test can wait with a deadline.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Sim {
    fn start(scenario: &str, speed: &str) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args([
                "sim",
                "--scenario",
                scenario,
                "--speed",
                speed,
                "--port",
                "0",
            ])
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = lines(child.stdout.take().unwrap());
        let api_url = out.recv_timeout(DEADLINE).expect("sim printed its API URL");
        let backend_url = out
            .recv_timeout(DEADLINE)
            .expect("sim printed its backend URL");
        assert!(api_url.starts_with("http://127.0.0.1:"), "{api_url}");
        assert!(
            backend_url.starts_with("http://127.0.0.1:"),
            "{backend_url}"
        );
        Sim { child, dir }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sim did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kubectl(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=30s");
        cmd
    }

    fn get(&self, args: &[&str]) -> String {
        let out = self.kubectl().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn first_columns(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().take(2).map(str::to_string).collect())
        .collect()
}

#[test]
fn kubectl_get_pods_all_namespaces() {
    let sim = Sim::start("story", "1");
    let out = sim.get(&["get", "pods", "-A"]);
    let rows = first_columns(&out);
    assert_eq!(rows[0], ["NAMESPACE", "NAME"], "{out}");
    assert!(
        rows.contains(&vec!["llm".into(), "litellm-7d9f8b6c5d-4xkqp".into()]),
        "{out}"
    );
    // 5 workloadRef Deployment pods + 5 Rollout pods at the start of the story.
    assert_eq!(rows.len(), 11, "{out}");
    assert!(out.contains("Running"), "{out}");
}

#[test]
fn kubectl_get_rollouts_and_argo_kinds() {
    let sim = Sim::start("story", "1");
    let out = sim.get(&["get", "rollouts.argoproj.io", "-A"]);
    assert!(
        out.lines().next().unwrap().split_whitespace().eq([
            "NAMESPACE",
            "NAME",
            "DESIRED",
            "CURRENT",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ]),
        "{out}"
    );
    assert!(out.contains("litellm"), "{out}");
    let out = sim.get(&["get", "analysistemplates", "-n", "llm", "-o", "name"]);
    assert_eq!(
        out.trim(),
        "analysistemplate.argoproj.io/litellm-error-rate"
    );
    let out = sim.get(&[
        "get",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "-o",
        "jsonpath={.metadata.generation}/{.status.observedGeneration}",
    ]);
    assert_eq!(out, "1/1");
    let out = sim.get(&["auth", "can-i", "watch", "rollouts.argoproj.io"]);
    assert_eq!(out.trim(), "yes");
}

#[test]
fn kubectl_get_pods_watch_sees_the_scenarios_change() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "crash.yaml",
        r#"
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: worker, namespace: llm}
    spec: {containers: [{name: c, image: busybox}]}
    status: {phase: Running, containerStatuses: [{name: c, ready: true, restartCount: 0}]}
steps:
  - at: 2s
    patch:
      apiVersion: v1
      kind: Pod
      namespace: llm
      name: worker
      merge: {status: {containerStatuses: [{name: c, ready: false, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff}}}]}}
"#,
    );
    let sim = Sim::start(scenario.to_str().unwrap(), "1");
    let mut kubectl = sim
        .kubectl()
        .args(["get", "pods", "-n", "llm", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(kubectl.stdout.take().unwrap());
    let mut seen = Vec::new();
    let found = loop {
        match out.recv_timeout(DEADLINE) {
            Ok(line) => {
                let hit = line.contains("CrashLoopBackOff");
                seen.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = kubectl.kill();
    let _ = kubectl.wait();
    assert!(
        found,
        "kubectl -w never printed the change; it printed:\n{seen:#?}"
    );
    assert!(seen[0].starts_with("NAME"), "{seen:#?}");
    let change = seen.last().unwrap();
    assert!(
        change
            .split_whitespace()
            .eq(["worker", "0/1", "CrashLoopBackOff", "3"]
                .into_iter()
                .chain(change.split_whitespace().skip(4))),
        "{change}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly_even_with_a_watch_open() {
    let mut sim = Sim::start("story", "1");
    let mut kubectl = sim
        .kubectl()
        .args(["get", "pods", "-n", "llm", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(kubectl.stdout.take().unwrap());
    out.recv_timeout(DEADLINE)
        .expect("kubectl printed the table header");
    let status = sim.terminate();
    let _ = kubectl.kill();
    let _ = kubectl.wait();
    assert_eq!(status.code(), Some(0));
}

fn run_bad(scenario_text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.yaml", scenario_text);
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--port", "0", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_yaml_is_a_usage_error_naming_the_file() {
    let (code, stdout, stderr) = run_bad("objects: [\n  - {kind: Pod\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "nothing served: {stdout}");
    assert!(
        stderr.contains("bad.yaml: not a valid scenario"),
        "{stderr}"
    );
    assert!(stderr.contains("line"), "{stderr}");
}

#[test]
fn object_missing_fields_names_step_and_field() {
    let (code, stdout, stderr) = run_bad(
        "objects:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}\nsteps:\n  - at: 10s\n    apply: {apiVersion: v1, kind: Pod, metadata: {namespace: llm}}\n",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("bad.yaml: steps[0] (at 10s): field `metadata.name`: missing"),
        "{stderr}"
    );
    let (code, _, stderr) = run_bad("objects:\n  - {kind: Pod, metadata: {name: x}}\n");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.yaml: objects[0]: field `apiVersion`: missing"),
        "{stderr}"
    );
}

#[test]
fn unknown_scenario_and_bad_speed_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--scenario", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("story, healthy"), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--list-scenarios"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.starts_with("story\t5m 30s\t"), "{listed}");
    assert!(listed.contains("\ndetector-canary-math\t"), "{listed}");
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--speed", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
