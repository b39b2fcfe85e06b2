//! A running `warroom sim` for the tests that drive the rollout commands against it
//! (tests/rollout_actions.rs, tests/rollout_play.rs): a temp dir with the simulator's
//! kubeconfig and a channel store, the real binary pointed at both, and the real kubectl.
//!
//! It owns starting and stopping the simulator and running commands beside it; it must not
//! know any scenario nor assert what a command says (the tests do).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::BIN;

/// A running `warroom sim` (killed on drop), a temp dir with its kubeconfig and a store root.
pub struct Sim {
    child: Child,
    pub dir: tempfile::TempDir,
    /// Whether commands run with `NO_COLOR=1` (otherwise without `NO_COLOR` at all).
    no_color: bool,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    /// Starts `warroom sim` on port 0 at `speed` with `scenario`: a built-in name, or a
    /// scenario's YAML (anything with a newline), written to a file first. Returns once the
    /// simulator printed its API URL (after writing the kubeconfig), waiting at most `deadline`.
    pub fn start(scenario: &str, speed: &str, deadline: Duration) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let scenario = if scenario.contains('\n') {
            let path = dir.path().join("scenario.yaml");
            std::fs::write(&path, scenario).unwrap();
            path.to_str().unwrap().to_string()
        } else {
            scenario.to_string()
        };
        let mut child = Command::new(BIN)
            .args([
                "sim",
                "--scenario",
                &scenario,
                "--speed",
                speed,
                "--port",
                "0",
            ])
            .arg("--kubeconfig-out")
            .arg(dir.path().join("kubeconfig"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = lines(child.stdout.take().unwrap());
        out.recv_timeout(deadline).expect("sim printed its API URL");
        Sim {
            child,
            dir,
            no_color: false,
        }
    }

    /// Commands run with `NO_COLOR=1` from now on.
    pub fn without_color(mut self) -> Sim {
        self.no_color = true;
        self
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("channels")
    }

    /// The real binary with the simulator's kubeconfig and the store root, and no channel.
    pub fn warroom(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env("KUBECONFIG", self.kubeconfig())
            .env("WARROOM_ROOT", self.root())
            .env_remove("WARROOM_CHANNEL");
        if self.no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.warroom(args).output().unwrap()
    }

    /// Runs and returns stdout and stderr, failing on a non-zero exit.
    pub fn ok(&self, args: &[&str]) -> (String, String) {
        let out = self.run(args);
        let (stdout, stderr) = text(&out);
        assert!(
            out.status.success(),
            "warroom {args:?} failed ({:?}):\n{stdout}\n{stderr}",
            out.status
        );
        (stdout, stderr)
    }

    /// What the real kubectl prints for `args` against the simulator, failing on an error.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

/// Reads lines from a child's pipe on a thread, so a test can wait for one with a deadline.
pub fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
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

/// A finished command's stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The entries of a successful `timeline --format ndjson`, failing with its stderr otherwise.
pub fn ndjson_entries(out: Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
