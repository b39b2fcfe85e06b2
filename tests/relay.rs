//! The relay end to end: the real binary, real sockets on 127.0.0.1, real files.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(a, n)| (a.to_string(), *n)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_clients_receive_1500_posts_from_three_processes_exactly_once() {
    let env = Env::new();
    let ch = env.open("fanout");
    let server = Server::start(&env);
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = Client::new(&ch);
        c.connect(&server).await;
        clients.push(c);
    }
    let writers: Vec<_> = ["pipeline", "data-plane", "traffic"]
        .into_iter()
        .map(|role| {
            let root = env.root.clone();
            let ch = ch.clone();
            // One process per writer, posting its 500 entries over stdin, one per line.
            std::thread::spawn(move || {
                let script = format!(
                    "i=0; while [ $i -lt 500 ]; do i=$((i+1)); \"$W\" --root \"$R\" post --channel {ch} --as {role} --no-sync \"{role} says $i\" >/dev/null || exit 1; done"
                );
                let st = std::process::Command::new("sh")
                    .args(["-c", &script])
                    .env("W", BIN)
                    .env("R", &root)
                    .status()
                    .unwrap();
                assert!(st.success(), "{role} writer failed");
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let want = counts(&[("pipeline", 500), ("data-plane", 500), ("traffic", 500)]);
    for c in &mut clients {
        c.read_entries(&server, 1500).await;
        c.assert_exactly_once(&want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_20_times_by_cursor_gets_every_entry_once() {
    let env = Env::new();
    let ch = env.open("resume");
    let server = Server::start(&env);
    let total = 400u64;
    let writer = {
        let root = env.root.clone();
        let ch = ch.clone();
        std::thread::spawn(move || {
            let store = warroom::channel::Store::open(&root).unwrap();
            let channel = store.channel(Some(&ch)).unwrap();
            let roles = ["pipeline", "traffic"];
            let mut ws: Vec<_> = roles
                .iter()
                .map(|r| {
                    channel
                        .writer(&warroom::channel::Author::new(r).unwrap(), false)
                        .unwrap()
                })
                .collect();
            for i in 0..total {
                ws[(i % 2) as usize]
                    .append(&warroom::channel::Draft {
                        kind: warroom::channel::Kind::Observation,
                        refs: vec![],
                        body: format!("entry {i}"),
                        ..Default::default()
                    })
                    .unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let mut c = Client::new(&ch);
    let mut rng = rand::rng();
    for _ in 0..20 {
        c.connect(&server).await;
        let take = rng.random_range(0..25);
        // Wait only for entries still to come: once the writer is done (it may be, on a busy
        // machine, before the 20 reconnections are) nothing more arrives.
        for _ in 0..take {
            if c.cursor.values().sum::<u64>() >= total {
                break;
            }
            if c.next().await.is_none() {
                break;
            }
        }
        c.ws = None; // drop the connection mid-stream
    }
    writer.join().unwrap();
    c.read_entries(&server, total as usize).await;
    c.assert_exactly_once(&counts(&[("pipeline", total / 2), ("traffic", total / 2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_does_not_hold_up_others_or_memory_and_still_gets_everything() {
    let env = Env::new();
    let ch = env.open("slow");
    let server = Server::start(&env);
    let n = 50_000u64;
    let mut fast = Client::new(&ch);
    fast.connect(&server).await;
    let mut slow = Client::new(&ch);
    slow.connect(&server).await;
    let rss_before = server.memory_kib("VmRSS:");
    let writer = {
        let env_root = env.root.clone();
        let ch = ch.clone();
        std::thread::spawn(move || {
            let env = Env {
                dir: tempfile::tempdir().unwrap(),
                root: env_root,
            };
            bulk_append(&env, &ch, "traffic", n, |i| {
                format!("bulk entry {i}: 200 OK on /v1/chat/completions, p99 41 ms")
            });
        })
    };
    // The fast client keeps up while the slow one reads nothing at all.
    fast.read_entries(&server, n as usize).await;
    writer.join().unwrap();
    fast.assert_exactly_once(&counts(&[("traffic", n)]));
    let peak = server.memory_kib("VmHWM:");
    eprintln!("server RSS before {rss_before} KiB, peak {peak} KiB");
    assert!(
        peak < 256 * 1024,
        "server memory must stay bounded: peak {peak} KiB"
    );
    // Now the slow one reads: it catches up from the files (or is closed and resumes).
    slow.read_entries(&server, n as usize).await;
    slow.assert_exactly_once(&counts(&[("traffic", n)]));
}

/// A valid entry for `role`'s file as another program would write it.
fn foreign_entry(env: &Env, ch: &str, role: &str, body: &str) -> Vec<u8> {
    use warroom::channel::append::read_tail;
    use warroom::channel::entry::{Header, encode};
    let path = env.author_file(ch, role);
    let f = std::fs::File::open(&path).unwrap();
    let tail = read_tail(&f, f.metadata().unwrap().len()).unwrap();
    let author = warroom::channel::Author::new(role).unwrap();
    let mut out = Vec::new();
    encode(
        &mut out,
        Header {
            author: &author,
            seq: tail.last_seq + 1,
            ts: warroom::channel::Timestamp::now(),
            kind: warroom::channel::Kind::Note,
            refs: &[],
            to: &[],
            key: None,
        },
        body,
        tail.last_sum,
    );
    out
}

fn printf_append(path: &std::path::Path, bytes: &[u8]) {
    let st = std::process::Command::new("sh")
        .args(["-c", "printf '%s' \"$ENTRY\" >> \"$FILE\""])
        .env("ENTRY", std::str::from_utf8(bytes).unwrap())
        .env("FILE", path)
        .status()
        .unwrap();
    assert!(st.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_from_other_programs_appear_live_and_rewrites_raise_alerts() {
    let env = Env::new();
    let ch = env.open("foreign");
    env.post(&ch, "pipeline", "first, by warroom");
    let server = Server::start(&env);
    let mut c = Client::new(&ch);
    c.connect(&server).await;
    assert_eq!(c.got, [("pipeline".to_owned(), 1)]);
    let file = env.author_file(&ch, "pipeline");

    // A whole entry from the shell.
    printf_append(&file, &foreign_entry(&env, &ch, "pipeline", "from printf"));
    while c.got.len() < 2 {
        c.next().await.expect("feed open");
    }
    assert_eq!(c.got[1], ("pipeline".to_owned(), 2));

    // An entry in two halves appears once, after the second half. A marker entry posted by
    // another author after the first half proves the relay has looked at the files since.
    let e3 = foreign_entry(&env, &ch, "pipeline", "written in two halves");
    let (a, b) = e3.split_at(e3.len() / 2);
    printf_append(&file, a);
    tokio::time::sleep(Duration::from_millis(1500)).await; // past one sweep
    env.post(&ch, "traffic", "marker");
    while !c.got.iter().any(|(a, _)| a == "traffic") {
        c.next().await.expect("feed open");
    }
    assert_eq!(c.got.len(), 3, "nothing of the half entry: {:?}", c.got);
    printf_append(&file, b);
    while c.got.len() < 4 {
        c.next().await.expect("feed open");
    }
    assert_eq!(c.got[3], ("pipeline".to_owned(), 3));

    // Truncation: an alert, nothing re-sent.
    let len = file_len(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let alert = c.wait_alert("shrunk").await;
    assert_eq!(alert["alert"]["channel"], ch.as_str());
    assert!(
        !alert["alert"]["file"].as_str().unwrap().starts_with('/'),
        "paths are relative to the store: {alert}"
    );

    // Replacement by a new file: an alert, nothing re-sent.
    let copy = env.dir.path().join("copy.md");
    std::fs::write(&copy, b"").unwrap();
    std::fs::rename(&copy, &file).unwrap();
    c.wait_alert("replaced").await;
    assert_eq!(c.got.len(), 4, "no entry re-sent: {:?}", c.got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_guards_refuse_and_write_nothing() {
    let env = Env::new();
    let ch = env.open("secure");
    let other = env.ok(&["open", "other", "--date", "2026-05-04"]);
    let server = Server::start(&env);
    let http = reqwest::Client::new();
    let entries = format!("{}/api/channels/{ch}/entries", server.url);
    let file = env.author_file(&ch, "operator");

    // Foreign Origin on the live feed: refused. Our own origin: accepted.
    let live = server.ws_url(&ch, "");
    assert_eq!(
        ws_with_headers(&live, &[("Origin", "http://evil.example")])
            .await
            .err(),
        Some(403)
    );
    let own = format!("http://{}", server.addr);
    assert!(ws_with_headers(&live, &[("Origin", &own)]).await.is_ok());

    // Host not on the allowlist (DNS rebinding): refused.
    let req = format!(
        "GET /api/channels HTTP/1.1\r\nHost: evil.example:{}\r\nConnection: close\r\n\r\n",
        server.addr.rsplit(':').next().unwrap()
    );
    assert_eq!(raw_http(&server.addr, &req), 403);
    let req = format!(
        "GET /api/channels HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        server.addr
    );
    assert_eq!(raw_http(&server.addr, &req), 200);

    // Posts: no token, bogus token, another channel's token, foreign origin.
    let body = serde_json::json!({"body": "should not be written"});
    let r = http.post(&entries).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .post(&entries)
        .bearer_auth("wr_0000")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let foreign = env.token(&other, "operator");
    let r = http
        .post(&entries)
        .bearer_auth(&foreign)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let token = env.token(&ch, "operator");
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .header("Origin", "http://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(file_len(&file), 0, "nothing written");

    // A good post: 201 with the entry; refs optional, kind defaults to observation.
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .json(&serde_json::json!({"body": "operator here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["id"], "operator#1");
    assert_eq!(e["kind"], "observation");
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .json(&serde_json::json!({"kind": "answer", "body": "re", "refs": ["operator#1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Revoked: refused at once, without a restart.
    let id = env.ok(&["token", "ls"]);
    let id = id
        .split_whitespace()
        .find(|w| w.len() == 12)
        .unwrap()
        .to_owned();
    assert!(!id.is_empty());
    env.ok(&["token", "revoke", &token]);
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A request body over the relay's limit (twice --max-body, for JSON escaping): a JSON
    // refusal that says what to do, not the transport's plain text; nothing written.
    let token = env.token(&ch, "operator");
    let before = file_len(&file);
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .json(&serde_json::json!({"body": "x".repeat(200 * 1024)}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let refusal: serde_json::Value = r.json().await.expect("a JSON refusal");
    let why = refusal["error"].as_str().unwrap();
    assert!(
        why.contains("over this relay's limit") && why.contains("nothing was written"),
        "{why}"
    );
    assert_eq!(file_len(&file), before, "nothing written");

    // A sealed channel: 403, nothing written, and an alert on the live feed.

    let mut c = Client::new(&ch);
    c.connect(&server).await;
    // Sealed the way `warroom archive` seals: a seal entry, then the marker.
    warroom::channel::seal::seal(
        &env.channel(&ch),
        &warroom::channel::Draft {
            kind: warroom::channel::Kind::Decision,
            refs: vec![],
            body: "Sealed: the canary is done.".into(),
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let written = file_len(&file);
    let alert = c.wait_alert("sealed").await;
    assert!(
        alert["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("sealed")
    );
    let r = http
        .post(&entries)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        file_len(&file),
        written,
        "nothing written to a sealed channel"
    );

    // A 1 MiB WebSocket message: the relay closes the connection.
    let mut big = Client::new(&ch);
    big.connect(&server).await;
    big.send_raw(Message::Text("x".repeat(1 << 20).into()))
        .await;
    loop {
        match big.next().await {
            None | Some(_) if big.ws.is_none() => break,
            _ => {}
        }
    }
    assert!(
        big.closes.is_empty() || big.closes == [Some(1009)],
        "closed for size: {:?}",
        big.closes
    );

    // `..` and friends in a channel name: 400 or 404, never a file outside the store.
    for path in [
        "/api/channels/../entries",
        "/api/channels/%2e%2e/entries",
        "/api/channels/..%2f..%2fetc/entries",
        "/api/channels/2026-05-04--secure%2f..%2f..%2fx/entries",
        "/api/channels/../live",
        "/api/channels/%2e%2e/live",
    ] {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        );
        let code = raw_http(&server.addr, &req);
        assert!(code == 400 || code == 404, "{path}: {code}");
    }
    let req = format!(
        "POST /api/channels/%2e%2e/entries HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 12\r\nConnection: close\r\n\r\n{{\"body\":\"x\"}}",
        server.addr
    );
    let code = raw_http(&server.addr, &req);
    assert!(code == 400 || code == 404, "POST ..: {code}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeline_follow_local_and_remote_with_reconnect() {
    use std::io::{BufRead, BufReader};
    let env = Env::new();
    let ch = env.open("follow");
    env.post(&ch, "pipeline", "before");
    let server = Server::start(&env);
    let spawn = |args: &[&str]| {
        let mut child = env
            .cmd(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                if tx.send(line.unwrap()).is_err() {
                    return;
                }
            }
        });
        (child, rx)
    };
    let (mut local, local_rx) = spawn(&[
        "timeline",
        "--channel",
        &ch,
        "--follow",
        "--format",
        "ndjson",
    ]);
    let (mut remote, remote_rx) = spawn(&[
        "timeline",
        "--channel",
        &ch,
        "--follow",
        "--remote",
        &server.url,
        "--format",
        "ndjson",
    ]);
    let id_of = |line: String| -> String {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["id"].as_str().unwrap().to_owned()
    };
    let recv = |rx: &std::sync::mpsc::Receiver<String>| id_of(rx.recv_timeout(PATIENCE).unwrap());
    assert_eq!(recv(&local_rx), "pipeline#1");
    assert_eq!(recv(&remote_rx), "pipeline#1");
    env.post(&ch, "traffic", "during");
    assert_eq!(recv(&local_rx), "traffic#1");
    assert_eq!(recv(&remote_rx), "traffic#1");

    // The relay goes away (graceful: exit 0); an entry is posted meanwhile; a new relay on the
    // same address comes back; the remote follower resumes by cursor: the entry, once.
    let addr = server.addr.clone();
    assert!(server.terminate().success(), "graceful shutdown exits 0");
    env.post(&ch, "pipeline", "while the relay was down");
    let server = Server::start_on(&env, &addr);
    assert_eq!(recv(&local_rx), "pipeline#2");
    assert_eq!(recv(&remote_rx), "pipeline#2");
    env.post(&ch, "pipeline", "after");
    assert_eq!(recv(&remote_rx), "pipeline#3");
    assert_eq!(recv(&local_rx), "pipeline#3");
    local.kill().unwrap();
    remote.kill().unwrap();
    let _ = (local.wait(), remote.wait());
    assert!(remote_rx.try_recv().is_err(), "no duplicates");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_lists_channels_and_entries_since() {
    let env = Env::new();
    let ch = env.open("rest");
    env.post(&ch, "pipeline", "one");
    env.post(&ch, "traffic", "two");
    let server = Server::start(&env);
    let list: serde_json::Value = reqwest::get(format!("{}/api/channels", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["name"], ch.as_str());
    assert_eq!(list[0]["entries"], 2);
    let after: serde_json::Value = reqwest::get(format!(
        "{}/api/channels/{ch}/entries?since=pipeline%231",
        server.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(after.as_array().unwrap().len(), 1);
    assert_eq!(after[0]["id"], "traffic#1");
    // `since` as `timeline --since` takes it, a duration ago too; nonsense names all three.
    let recent: serde_json::Value =
        reqwest::get(format!("{}/api/channels/{ch}/entries?since=1h", server.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(recent.as_array().unwrap().len(), 2, "{recent}");
    let r = reqwest::get(format!(
        "{}/api/channels/{ch}/entries?since=soon",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    let why: serde_json::Value = r.json().await.unwrap();
    assert!(
        why["error"]
            .as_str()
            .unwrap()
            .starts_with("the query parameter \"since\": \"soon\" is not an entry id (pipeline#3), an RFC 3339 time (2026-05-04T17:15:04Z) or a duration (5m, 2h, 1d)"),
        "{why}"
    );
    let r = reqwest::get(format!(
        "{}/api/channels/2026-01-01--nope/entries",
        server.url
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    let page = reqwest::get(format!("{}/", server.url)).await.unwrap();
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("script-src 'nonce-"), "{csp}");
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<title>warroom</title>")
    );

    // Graceful shutdown: live clients are told "going away" (1001), the relay exits 0.
    let mut c = Client::new(&ch);
    c.connect(&server).await;
    assert!(server.terminate().success());
    while c.next().await.is_some_and(|t| t != "close") {}
    assert_eq!(c.closes, [Some(1001)]);
}
