//! The chaos soak at CI scale: writers SIGKILLed at random and retried with their idempotency
//! keys (`warroom post --key` processes, and REST posters through the relay whose requests are
//! cut off at random), the relay stopped and restarted twice (once SIGTERM, once SIGKILL),
//! WebSocket clients dropping and reconnecting with their cursors — all checked against a
//! model: every acknowledged entry is in the files exactly once under the id it was
//! acknowledged with, nothing else is, every client's stream per author is 1, 2, 3, … with no
//! gap and no duplicate, and `warroom verify` is clean.
//!
//! Real binary, real files, the relay on 127.0.0.1. Every loop is bounded. The random choices
//! come from one seed, printed first (`WARROOM_CHAOS_SEED=N` replays the same choices; thread
//! timing still varies).

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// Roles posting with `warroom post --key`, each from its own thread of processes.
const CLI_WRITERS: [&str; 3] = ["pipeline", "data-plane", "traffic"];
/// Roles posting through the relay's REST API with a token.
const REST_WRITERS: [&str; 2] = ["terminal-1", "terminal-2"];
/// Keys per CLI writer and per REST writer.
const CLI_KEYS: usize = 60;
const REST_KEYS: usize = 100;
/// Live-feed clients.
const CLIENTS: usize = 3;
/// How many times one key may be tried before the soak gives up (a hang guard).
const MAX_TRIES: usize = 30;

/// What the writers were told: (author, key) -> the id they were acknowledged with.
type Acks = Arc<Mutex<BTreeMap<(String, String), String>>>;

/// What the chaos did, to show it happened.
#[derive(Default)]
struct Tally {
    /// `post` processes SIGKILLed before they exited.
    killed: AtomicUsize,
    /// REST requests cut off mid-flight.
    cut: AtomicUsize,
    /// Retries that found their entry already written (`post` said so; REST answered 200).
    replayed: AtomicUsize,
    /// REST attempts that could not reach the relay (down or restarting).
    refused: AtomicUsize,
}

fn seed() -> u64 {
    std::env::var("WARROOM_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random)
}

/// The body of one keyed post: a function of the key, so a retry sends the same draft.
/// Some are long enough (up to 3 pages) for a kill to land inside the write.
fn body_for(author: &str, i: usize, rng_len: usize) -> String {
    format!("{author} step {i}: {}", "x".repeat(rng_len))
}

/// One CLI writer: every key is posted, killed at random, and retried until a process
/// prints its id.
fn cli_writer(
    env_root: std::path::PathBuf,
    ch: String,
    author: &str,
    seed: u64,
    acks: Acks,
    tally: Arc<Tally>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    // How long one post process lives here, so kills spread over start-up, write and output.
    let life = {
        let t0 = Instant::now();
        let _ = std::process::Command::new(BIN).arg("--version").output();
        t0.elapsed().max(Duration::from_millis(2)) * 3
    };
    for i in 0..CLI_KEYS {
        let key = format!("{author}-{i}");
        let body = body_for(author, i, rng.random_range(0..12_000));
        let mut acked = None;
        for _ in 0..MAX_TRIES {
            let mut child = std::process::Command::new(BIN)
                .arg("--root")
                .arg(&env_root)
                .args(["post", "--channel", &ch, "--as", author, "--key", &key])
                .args(["--no-sync", "-"])
                .env_remove("WARROOM_CHANNEL")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(body.as_bytes())
                .unwrap();
            if rng.random_bool(0.35) {
                std::thread::sleep(life.mul_f64(rng.random_range(0.0..1.3)));
                let _ = child.kill(); // SIGKILL; fails only if it already exited
            }
            let status = child.wait().unwrap();
            if status.code().is_none() {
                tally.killed.fetch_add(1, Ordering::Relaxed);
            }
            let mut out = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            if status.success() {
                if err.contains("was already posted with key") {
                    tally.replayed.fetch_add(1, Ordering::Relaxed);
                }
                acked = Some(out.trim().to_owned());
                break;
            }
            assert!(
                status.code().is_none(),
                "post {key} failed with {status}: {err}"
            );
        }
        let id = acked.unwrap_or_else(|| panic!("{key} never acknowledged in {MAX_TRIES} tries"));
        let prev = acks
            .lock()
            .unwrap()
            .insert((author.to_owned(), key.clone()), id);
        assert!(prev.is_none());
    }
}

/// One REST writer: each key is posted through the relay; some requests are cut off at a
/// random moment (the poster "dies"); refused connections (relay down) are retried.
async fn rest_writer(
    addr: String,
    ch: String,
    author: &'static str,
    token: String,
    seed: u64,
    acks: Acks,
    tally: Arc<Tally>,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let url = format!("http://{addr}/api/channels/{ch}/entries");
    for i in 0..REST_KEYS {
        let key = format!("{author}-{i}");
        let body = serde_json::json!({
            "kind": "note",
            "key": key,
            "body": body_for(author, i, rng.random_range(0..12_000)),
        });
        let mut acked = None;
        for _ in 0..MAX_TRIES * 10 {
            // A fresh client per attempt: a "dead" poster takes its connections with it.
            let http = reqwest::Client::new();
            let send = http.post(&url).bearer_auth(&token).json(&body).send();
            let cut_after = rng
                .random_bool(0.3)
                .then(|| Duration::from_micros(rng.random_range(0..20_000)));
            let result = match cut_after {
                Some(d) => match tokio::time::timeout(d, send).await {
                    Ok(r) => r,
                    Err(_) => {
                        // Cut off: the poster died mid-request.
                        tally.cut.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                },
                None => tokio::time::timeout(PATIENCE, send)
                    .await
                    .expect("the relay answers or refuses"),
            };
            match result {
                Ok(r) if r.status() == 201 || r.status() == 200 => {
                    if r.status() == 200 {
                        tally.replayed.fetch_add(1, Ordering::Relaxed);
                    }
                    let e: serde_json::Value = r.json().await.unwrap();
                    assert_eq!(e["key"], key.as_str(), "{e}");
                    acked = Some(e["id"].as_str().unwrap().to_owned());
                    break;
                }
                Ok(r) => panic!(
                    "post {key}: HTTP {}: {}",
                    r.status(),
                    r.text().await.unwrap()
                ),
                // The relay is down or was killed mid-request: try again shortly.
                Err(_) => {
                    tally.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(20)).await
                }
            }
        }
        let id = acked.unwrap_or_else(|| panic!("{key} never acknowledged"));
        acks.lock()
            .unwrap()
            .insert((author.to_owned(), key.clone()), id);
    }
}

/// A live-feed client that drops its connection at random and reconnects with its cursor,
/// until it has `want` (set when the writers are done) from every author.
struct Follower {
    cursor: BTreeMap<String, u64>,
    /// Per author, every seq received, in arrival order, duplicates included.
    got: BTreeMap<String, Vec<u64>>,
    reconnects: usize,
}

impl Follower {
    fn done(&self, want: &BTreeMap<String, u64>) -> bool {
        want.iter()
            .all(|(a, n)| self.cursor.get(a).copied().unwrap_or(0) >= *n)
    }

    fn cursor_string(&self) -> String {
        self.cursor
            .iter()
            .map(|(a, s)| format!("{a}:{s}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

async fn follow(
    addr: String,
    ch: String,
    seed: u64,
    want: Arc<Mutex<Option<BTreeMap<String, u64>>>>,
) -> Follower {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut f = Follower {
        cursor: BTreeMap::new(),
        got: BTreeMap::new(),
        reconnects: 0,
    };
    let started = Instant::now();
    loop {
        if let Some(w) = want.lock().unwrap().as_ref()
            && f.done(w)
        {
            return f;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "a follower did not catch up: cursor {}",
            f.cursor_string()
        );
        let url = format!(
            "ws://{addr}/api/channels/{ch}/live?cursor={}",
            f.cursor_string()
        );
        let Ok(Ok((mut ws, _))) =
            tokio::time::timeout(PATIENCE, tokio_tungstenite::connect_async(&url)).await
        else {
            // The relay is restarting.
            tokio::time::sleep(Duration::from_millis(30)).await;
            continue;
        };
        f.reconnects += 1;
        // Read a random number of messages, then hang up (or until the relay closes).
        let budget = rng.random_range(1..60);
        for _ in 0..budget {
            let msg = match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
                Ok(Some(Ok(m))) => m,
                Ok(_) => break,  // closed or failed: reconnect
                Err(_) => break, // quiet: look at `want` again
            };
            let Message::Text(t) = msg else { continue };
            let v: serde_json::Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "entry" {
                let a = v["entry"]["author"].as_str().unwrap().to_owned();
                let s = v["entry"]["seq"].as_u64().unwrap();
                f.got.entry(a.clone()).or_default().push(s);
                let c = f.cursor.entry(a).or_insert(0);
                *c = (*c).max(s);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_soak_writers_killed_relay_restarted_clients_reconnecting() {
    let seed = seed();
    eprintln!("chaos seed {seed} (replay the choices with WARROOM_CHAOS_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let env = Env::new();
    let roles = [&CLI_WRITERS[..], &REST_WRITERS[..]].concat().join(",");
    let ch = env.ok(&["open", "chaos", "--date", "2026-05-04", "--roles", &roles]);
    let tokens: Vec<String> = REST_WRITERS.iter().map(|r| env.token(&ch, r)).collect();
    let server = Server::start(&env);
    let addr = server.addr.clone();
    let acks: Acks = Arc::default();
    let tally = Arc::new(Tally::default());
    let total = CLI_WRITERS.len() * CLI_KEYS + REST_WRITERS.len() * REST_KEYS;

    // The relay: SIGTERM and restart at a third of the acknowledged posts, SIGKILL and
    // restart at two thirds, on the same address.
    let writers_done = Arc::new(AtomicBool::new(false));
    let restarts = Arc::new(AtomicUsize::new(0));
    let relay = {
        let (acks, done, restarts) = (acks.clone(), writers_done.clone(), restarts.clone());
        let env_root = env.root.clone();
        let addr = addr.clone();
        let env = Env {
            dir: tempfile::tempdir().unwrap(),
            root: env_root,
        };
        std::thread::spawn(move || {
            let mut server = server;
            for (at, graceful) in [(total / 3, true), (2 * total / 3, false)] {
                while acks.lock().unwrap().len() < at && !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(10));
                }
                if graceful {
                    let status = server.terminate();
                    assert!(status.success(), "graceful stop exits 0: {status}");
                } else {
                    drop(server); // SIGKILL
                }
                std::thread::sleep(Duration::from_millis(100));
                server = Server::start_on(&env, &addr);
                restarts.fetch_add(1, Ordering::Relaxed);
            }
            (server, env)
        })
    };

    let want: Arc<Mutex<Option<BTreeMap<String, u64>>>> = Arc::default();
    let followers: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(follow(addr.clone(), ch.clone(), rng.random(), want.clone())))
        .collect();
    let cli: Vec<_> = CLI_WRITERS
        .iter()
        .map(|author| {
            let (root, ch, acks, s) = (env.root.clone(), ch.clone(), acks.clone(), rng.random());
            let tally = tally.clone();
            std::thread::spawn(move || cli_writer(root, ch, author, s, acks, tally))
        })
        .collect();
    let rest: Vec<_> = REST_WRITERS
        .iter()
        .zip(&tokens)
        .map(|(author, token)| {
            tokio::spawn(rest_writer(
                addr.clone(),
                ch.clone(),
                author,
                token.clone(),
                rng.random(),
                acks.clone(),
                tally.clone(),
            ))
        })
        .collect();
    for w in rest {
        w.await.unwrap();
    }
    for w in cli {
        w.join().unwrap();
    }
    writers_done.store(true, Ordering::Relaxed);
    let (server, _relay_env) = relay.join().unwrap();
    assert_eq!(
        restarts.load(Ordering::Relaxed),
        2,
        "the relay restarted twice"
    );

    // The model: what was acknowledged.
    let acks = acks.lock().unwrap().clone();
    assert_eq!(acks.len(), total);
    let mut per_author: BTreeMap<String, u64> = BTreeMap::new();
    for (author, _) in acks.keys() {
        *per_author.entry(author.clone()).or_default() += 1;
    }

    // The files: every acknowledged entry exactly once, under its acknowledged id; nothing else.
    let ndjson = env.ok(&["timeline", "--channel", &ch, "--format", "ndjson"]);
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for line in ndjson.lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        let key = e["key"]
            .as_str()
            .unwrap_or_else(|| panic!("an entry without a key: {e}"));
        found
            .entry((e["author"].as_str().unwrap().to_owned(), key.to_owned()))
            .or_default()
            .push(e["id"].as_str().unwrap().to_owned());
    }
    for (k, id) in &acks {
        assert_eq!(
            found.get(k),
            Some(&vec![id.clone()]),
            "{k:?} acknowledged as {id}"
        );
    }
    assert_eq!(found.len(), acks.len(), "entries nobody acknowledged");
    let verify = env.run(&["verify", "--channel", &ch]);
    let verify_text = format!(
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(verify.status.success(), "verify: {verify_text}");

    // Every follower: per author exactly 1, 2, …, n in arrival order.
    *want.lock().unwrap() = Some(per_author.clone());
    let mut reconnects = Vec::new();
    for f in followers {
        let f = f.await.unwrap();
        for (author, n) in &per_author {
            let seqs = f.got.get(author).cloned().unwrap_or_default();
            let expect: Vec<u64> = (1..=*n).collect();
            assert!(
                seqs == expect,
                "{author}: the stream is not 1..={n} once each: {seqs:?}"
            );
        }
        reconnects.push(f.reconnects);
    }
    let n = |a: &AtomicUsize| a.load(Ordering::Relaxed);
    eprintln!(
        "chaos: {total} keyed posts; {} post processes SIGKILLed, {} REST requests cut off, {} retries found their entry already written, {} REST attempts refused while the relay was down; followers connected {reconnects:?} times; verify: {}",
        n(&tally.killed),
        n(&tally.cut),
        n(&tally.replayed),
        n(&tally.refused),
        verify_text.trim()
    );
    // The chaos happened (a soak that kills nothing proves nothing).
    assert!(
        n(&tally.killed) > 0 && n(&tally.cut) > 0,
        "no kills or cuts"
    );
    assert!(
        reconnects.iter().all(|&r| r > 2),
        "every follower reconnected across the restarts: {reconnects:?}"
    );
    let (status, log) = server.terminate_with_log();
    assert!(status.success(), "{log}");
}
