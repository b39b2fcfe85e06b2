//! Posting that is safe to retry: real `post --key` processes SIGKILLed at random moments and
//! retried with the same key leave exactly one entry per key.
//!
//! Random kill moments alone can miss the narrow window between a post's write (and fsync) and
//! its output on a fast disk (CI once saw 0 of 50), so two kinds of kill are mixed in at fixed
//! keys: one right after the process starts (before any write), and one while the process is
//! blocked printing its id into a pipe the test filled beforehand (after the write, before
//! anyone learnt the id) — the case a retry must replay.

mod harness;

use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::Sandbox;
use rand::Rng;
use serde_json::Value;

const KEYS: usize = 50;

#[test]
fn keyed_posts_killed_at_random_and_retried_leave_one_entry_per_key() {
    let sb = Sandbox::new();
    sb.ok(&["open", "retry", "--roles", "pipeline,warmup"]);
    // How long one post process takes here, so the kills spread over its whole life: start-up,
    // the checks, the write, the fsync and the output.
    let mut took: Vec<Duration> = (0..5)
        .map(|i| {
            let t0 = Instant::now();
            sb.ok(&["post", "--as", "warmup", "--key", &format!("w{i}"), "warm"]);
            t0.elapsed()
        })
        .collect();
    took.sort();
    let life = took[2];
    let mut rng = rand::rng();
    let (mut finished, mut fresh_after_kill, mut replayed_after_kill) = (0, 0, 0);
    let mut ids = BTreeMap::new();
    for i in 0..KEYS {
        let key = format!("deploy-{i}");
        // Bodies of up to 3 pages, so some kills land inside the write itself.
        let body = format!("entry {i} {}", "x".repeat(rng.random_range(0..12_000)));
        let args = ["post", "--as", "pipeline", "--key", &key, "-"];
        let moment = match i % 5 {
            3 => Kill::AtStart,
            4 => Kill::BlockedOnOutput,
            _ => Kill::After(life.mul_f64(rng.random_range(0.0..1.3))),
        };
        let (out_reader, out_writer) = std::io::pipe().unwrap();
        if moment == Kill::BlockedOnOutput {
            fill(&out_writer);
        }
        let mut child = sb
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(out_writer)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(body.as_bytes()).unwrap();
        }
        match moment {
            Kill::AtStart => {}
            Kill::After(delay) => std::thread::sleep(delay),
            Kill::BlockedOnOutput => wait_for_key(&sb, &key, &mut child),
        }
        let _ = child.kill(); // SIGKILL; fails only when the process already exited
        let status = child.wait().unwrap();
        let mut printed = String::new();
        if moment != Kill::BlockedOnOutput {
            let mut out_reader = out_reader;
            out_reader.read_to_string(&mut printed).unwrap();
        } else {
            assert!(!status.success(), "{key}: the post could not print its id");
        }
        let retry = sb.run_stdin(&args, body.as_bytes());
        assert_eq!(retry.code, 0, "retry of {key}: {retry:?}");
        let id = retry.stdout.trim().to_owned();
        let replayed = retry.stderr.contains("already posted with key");
        if status.success() {
            finished += 1;
            assert_eq!(printed.trim(), id, "{key}: the retry returns the first id");
            assert!(replayed, "{key}: {}", retry.stderr);
        } else if replayed {
            replayed_after_kill += 1;
        } else {
            fresh_after_kill += 1;
        }
        ids.insert(key, (id, body));
    }
    eprintln!(
        "{KEYS} keys, post lives ~{life:?}: {finished} finished before the kill, {replayed_after_kill} killed after their write (the retry replayed), {fresh_after_kill} killed before it (the retry wrote)"
    );
    let tl = sb.ok(&["timeline", "--author", "pipeline", "--format", "ndjson"]);
    let entries: Vec<Value> = tl
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), KEYS, "exactly one entry per key");
    for e in &entries {
        let key = e["key"].as_str().unwrap();
        let (id, body) = &ids[key];
        assert_eq!(e["id"], id.as_str());
        assert_eq!(e["body"], body.as_str());
    }
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(
        seqs,
        (1..=KEYS as u64).collect::<Vec<_>>(),
        "no id reused or skipped"
    );
    let v = sb.run(&["verify"]);
    assert_eq!(v.code, 0, "torn writes are closed off, nothing lost: {v:?}");
    assert!(
        replayed_after_kill > 0 && fresh_after_kill > 0,
        "the kills must hit both before and after the write to test anything"
    );
}

/// When a post process is killed.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kill {
    /// Right after it was spawned: before it can have written anything.
    AtStart,
    /// After a random share of a post's usual life.
    After(Duration),
    /// Once its entry is on disk while it blocks writing its id into a full pipe.
    BlockedOnOutput,
}

/// Fills a pipe so that the next write into it blocks (the test keeps the reading end open and
/// never reads it).
fn fill(writer: &std::io::PipeWriter) {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    // SAFETY: F_GETPIPE_SZ only reads the pipe's capacity of a descriptor we own.
    let capacity = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_GETPIPE_SZ) };
    assert!(
        capacity > 0,
        "F_GETPIPE_SZ: {}",
        std::io::Error::last_os_error()
    );
    (&*writer)
        .write_all(&vec![b'.'; capacity as usize])
        .expect("filling the pipe");
}

/// Waits (bounded) until the entry with `key` is in the author file while `child` still runs.
fn wait_for_key(sb: &Sandbox, key: &str, child: &mut std::process::Child) {
    let marker = format!(" key={key} ");
    for _ in 0..3000 {
        if author_files(sb).iter().any(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .contains(&marker)
        }) {
            assert!(
                child.try_wait().unwrap().is_none(),
                "{key}: the post exited although its output pipe was full"
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{key}: the post never wrote its entry (30 s)");
}

/// Every `pipeline.md` under the sandbox's store.
fn author_files(sb: &Sandbox) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut dirs = vec![sb.path("")];
    while let Some(dir) = dirs.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "pipeline.md") {
                found.push(path);
            }
        }
    }
    found
}
