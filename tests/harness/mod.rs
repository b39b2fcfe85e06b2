//! A tiny harness: a fresh temp dir and the real binary per test.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// The outcome of one run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success: {self:?}");
        self
    }
}

/// A fresh directory; commands run with it as the working directory.
pub struct Sandbox {
    dir: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .current_dir(self.dir.path())
            .env_remove("WARROOM_ROOT")
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROLE")
            .env_remove("NO_COLOR");
        c
    }

    fn finish(mut c: Command, stdin: &[u8]) -> Run {
        let mut child = c
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warroom");
        let mut input = child.stdin.take().unwrap();
        let bytes = stdin.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = input.write_all(&bytes);
        });
        let out = child.wait_with_output().expect("wait for warroom");
        feeder.join().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Self::finish(self.command(args), b"")
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        Self::finish(self.command(args), stdin)
    }

    /// Runs with extra environment variables.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.run_stdin_env(args, b"", env)
    }

    pub fn run_stdin_env(&self, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(args);
        c.envs(env.iter().copied());
        Self::finish(c, stdin)
    }

    pub fn ok(&self, args: &[&str]) -> Run {
        self.run(args).ok()
    }

    /// Runs as an unprivileged user when the tests run as root, so permissions apply.
    pub fn run_unprivileged(&self, args: &[&str]) -> Run {
        if !is_root() {
            return self.run(args);
        }
        make_traversable(self.dir.path());
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("WARROOM_ROOT")
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROLE");
        Self::finish(c, b"")
    }

    /// Every file under the sandbox with its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        walk(self.dir.path(), &mut out);
        out
    }
}

fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.insert(p.clone(), Vec::new());
            walk(&p, out);
        } else {
            out.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
}

pub fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn make_traversable(p: &Path) {
    let mut cur = Some(p);
    while let Some(d) = cur {
        if d.starts_with(std::env::temp_dir()) && d != std::env::temp_dir() {
            chmod(d, 0o755);
        }
        cur = d.parent();
    }
}

/// Makes a directory and the files in it read-only (files 0444, dir 0555).
pub fn make_read_only(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            chmod(&p, 0o444);
        }
    }
    chmod(dir, 0o555);
}

pub fn make_writable(dir: &Path) {
    chmod(dir, 0o755);
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            chmod(&p, 0o644);
        }
    }
}
