//! Posting that is safe to retry: real `post --key` processes SIGKILLed at random moments and
//! retried with the same key leave exactly one entry per key.

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
        let mut child = sb
            .command(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(body.as_bytes()).unwrap();
        }
        std::thread::sleep(life.mul_f64(rng.random_range(0.0..1.3)));
        let _ = child.kill(); // SIGKILL; fails only when the process already exited
        let status = child.wait().unwrap();
        let mut printed = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
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
