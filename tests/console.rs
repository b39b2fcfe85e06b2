//! The console end to end, without a browser: `warroom ack` and `warroom alerts`, the relay's
//! state files, alert states and gap markers, `timeline --follow [--remote]` gaps, and an
//! observer publishing its state through the relay. Real binary, real files, real sockets on
//! 127.0.0.1; every wait is bounded (a hang guard, never a timing check).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

use serde_json::{Value, json};
use support::*;

fn entries(env: &Env, ch: &str) -> usize {
    env.ok(&["timeline", "--channel", ch, "--format", "ndjson"])
        .lines()
        .count()
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap()
}

fn story(env: &Env) -> String {
    let ch = env.open("console");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "**spec not observed** — Rollout llm/litellm: 61s",
    ]);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "traffic",
        "--kind",
        "alert",
        "route `POST /v1/embeddings` is failing",
    ]);
    env.post(&ch, "data-plane", "RS scaled 5 → 4");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "--ref",
        "pipeline#1",
        "spec not observed for 5m now",
    ]);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "operator",
        "--kind",
        "question",
        "Is analysis running at all?",
    ]);
    ch
}

#[test]
fn ack_and_alerts_list_states_in_every_format() {
    let env = Env::new();
    let ch = story(&env);
    // Open by default; the escalation (pipeline#2 refs pipeline#1) is its own row, same thread.
    let open = json_of(&env, &["alerts", "--channel", &ch, "-o", "json"]);
    let ids: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pipeline#1", "traffic#1", "pipeline#2"]);
    assert_eq!(open[2]["thread"], "pipeline#1");
    assert_eq!(open[2]["escalates"], "pipeline#1");
    assert_eq!(
        open[0]["headline"],
        "spec not observed — Rollout llm/litellm: 61s"
    );

    let id = env.ok(&[
        "ack",
        "--channel",
        &ch,
        "pipeline#1",
        "-m",
        "looking: CI is replacing it",
    ]);
    assert_eq!(id, "operator#2");
    // Acking the first alert covers its escalation.
    let open = json_of(&env, &["alerts", "--channel", &ch, "--format", "json"]);
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["id"], "traffic#1");
    let acked = json_of(
        &env,
        &["alerts", "--channel", &ch, "--state", "acked", "-o", "json"],
    );
    assert_eq!(acked.as_array().unwrap().len(), 2);
    assert_eq!(
        acked[0]["acks"],
        json!([{"id": "operator#2", "author": "operator", "ts": acked[0]["acks"][0]["ts"], "text": "looking: CI is replacing it"}])
    );

    // The observer that raised it resolves it; resolved wins over acked.
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "resolved",
        "--ref",
        "pipeline#2",
        "observed at last",
    ]);
    let resolved = env.ok(&[
        "alerts",
        "--channel",
        &ch,
        "--state",
        "resolved",
        "-o",
        "ndjson",
    ]);
    let rows: Vec<Value> = resolved
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{resolved}");
    assert!(
        rows.iter().all(|r| r["resolved"]["id"] == "pipeline#3"),
        "{resolved}"
    );

    // Text: one line per alert with its state, who acked and what resolved it.
    let out = env.run(&["alerts", "--channel", &ch, "--state", "all"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("traffic#1       OPEN"), "{text}");
    assert!(text.contains("acked by operator (operator#2, "), "{text}");
    assert!(text.contains("resolved by pipeline#3 ("), "{text}");
    assert!(text.contains("escalates pipeline#1"), "{text}");
    let summary = String::from_utf8(out.stderr).unwrap();
    assert!(
        summary.contains("3 alert(s) in 2026-05-04--console: 1 open, 0 acked, 2 resolved"),
        "{summary}"
    );

    // Questions nobody answered; an answer takes one off the list.
    let q = json_of(
        &env,
        &["alerts", "--channel", &ch, "--questions", "-o", "json"],
    );
    assert_eq!(q[0]["id"], "operator#1");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "answer",
        "--ref",
        "operator#1",
        "No: it errors.",
    ]);
    assert_eq!(
        json_of(
            &env,
            &["alerts", "--channel", &ch, "--questions", "-o", "json"]
        ),
        json!([])
    );
}

#[test]
fn bad_acks_are_refused_with_exit_2_and_nothing_written() {
    let env = Env::new();
    let ch = story(&env);
    let before = entries(&env, &ch);
    for (args, needle) in [
        (vec!["data-plane#1"], "not an alert"),
        (vec!["pipeline#9"], "does not exist"),
        (vec!["pipeline#1", "nope"], "invalid entry id"),
        (vec!["--as", "stranger", "pipeline#1"], "not on the roster"),
    ] {
        let mut all = vec!["ack", "--channel", ch.as_str()];
        all.extend(args.iter().copied());
        let out = env.run(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let out = env.run(&["ack", "--channel", &ch]);
    assert_eq!(out.status.code(), Some(2), "an id is required");
    assert_eq!(entries(&env, &ch), before, "nothing was written");
}

/// One colour rule: the terminal paints each author in the colour the page uses
/// (`warroom::palette`, which the browser test checks against the page), in 24-bit where the
/// terminal says it can and as the nearest xterm-256 colour elsewhere.
#[test]
fn the_terminal_paints_authors_in_the_pages_colours() {
    let env = Env::new();
    let ch = story(&env);
    let run = |args: &[&str], truecolor: bool| {
        let mut cmd = env.cmd(args);
        cmd.env("CLICOLOR_FORCE", "1").env_remove("NO_COLOR");
        if truecolor {
            cmd.env("COLORTERM", "truecolor");
        } else {
            cmd.env_remove("COLORTERM");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    for truecolor in [true, false] {
        let timeline = run(&["timeline", "--channel", &ch], truecolor);
        let alerts = run(&["alerts", "--channel", &ch], truecolor);
        for (role, id) in [
            ("pipeline", "pipeline#1"),
            ("traffic", "traffic#1"),
            ("data-plane", "data-plane#1"),
            ("operator", "operator#1"),
        ] {
            let c = warroom::palette::of(role);
            let v = u32::from_str_radix(&c.hex[1..], 16).unwrap();
            let esc = if truecolor {
                format!(
                    "\x1b[1;38;2;{};{};{}m",
                    (v >> 16) & 0xff,
                    (v >> 8) & 0xff,
                    v & 0xff
                )
            } else {
                format!("\x1b[1;38;5;{}m", c.ansi)
            };
            let painted = format!("{esc}{id}\x1b[0m");
            assert!(
                timeline.contains(&painted),
                "{id} in {} ({truecolor}):\n{timeline:?}",
                c.hex
            );
            if role != "data-plane" && role != "operator" {
                assert!(alerts.contains(&painted), "{id}:\n{alerts:?}");
            }
        }
    }
}

/// One HTTP request with a body; returns (status, body).
fn http(method: &str, url: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let (host, path) = addr.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    let status = buf.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn state_doc(role: &str, seq: u64) -> String {
    json!({"version": 1, "role": role, "seq": seq, "written_at": "2026-05-04T17:15:04.123Z",
           "heartbeat_ms": 5000, "rollouts": [{"namespace": "llm", "name": "litellm", "status": "Paused", "step": "1/8", "set_weight": 20}]})
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_serves_states_and_alert_states_and_refuses_bad_writes() {
    let env = Env::new();
    let ch = story(&env);
    let other = env.ok(&["open", "elsewhere", "--date", "2026-05-04"]);
    let server = Server::start(&env);
    let mut c = Client::new(&ch);
    let url = server.ws_url(&ch, "");
    let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
    // Before `ready`: the alert states of the whole channel.
    let mut alerts = None;
    loop {
        let v = next_json(&mut ws).await;
        match v["type"].as_str().unwrap() {
            "alerts" => alerts = Some(v),
            "ready" => break,
            _ => {}
        }
    }
    let alerts = alerts.expect("an alerts message before ready");
    assert_eq!(alerts["open"], 2, "two open threads: {alerts}");

    // A remote observer publishes its state with its token; clients get it live, REST has it.
    let token = env.token(&ch, "pipeline");
    let put = format!("{}/api/channels/{ch}/state/pipeline", server.url);
    assert_eq!(
        http("PUT", &put, Some(&token), &state_doc("pipeline", 1)).0,
        204
    );
    let v = wait_type(&mut ws, "state").await;
    assert_eq!(
        (
            v["role"].as_str(),
            v["state"]["rollouts"][0]["status"].as_str()
        ),
        (Some("pipeline"), Some("Paused"))
    );
    assert!(v["age_ms"].as_u64().unwrap() < 600_000);
    let (status, body) = http(
        "GET",
        &format!("{}/api/channels/{ch}/state", server.url),
        None,
        "",
    );
    assert_eq!(status, 200);
    let got: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(got["states"][0]["state"]["seq"], 1);

    // Bad writes: refused with a reason, nothing written.
    let file = env.root.join(&ch).join(".warroom/state/pipeline.json");
    let good = std::fs::read(&file).unwrap();
    let traffic = env.token(&ch, "traffic");
    let elsewhere = env.token(&other, "pipeline");
    for (tok, body, want, needle) in [
        (
            Some(traffic.as_str()),
            state_doc("pipeline", 2),
            403,
            "publishes only its own state",
        ),
        (
            Some(elsewhere.as_str()),
            state_doc("pipeline", 2),
            403,
            "this token is for channel",
        ),
        (None, state_doc("pipeline", 2), 401, "token"),
        (
            Some(token.as_str()),
            "{\"version\":1".to_owned(),
            422,
            "not a state document",
        ),
        (
            Some(token.as_str()),
            state_doc("traffic", 2),
            422,
            "belongs to \\\"pipeline\\\"",
        ),
        (
            Some(token.as_str()),
            format!("{{\"pad\":\"{}\"}}", "x".repeat(300 * 1024)),
            413,
            "at most",
        ),
    ] {
        let (status, answer) = http("PUT", &put, tok, &body);
        assert_eq!(status, want, "{answer}");
        assert!(answer.contains(needle), "{needle}: {answer}");
    }
    assert_eq!(
        std::fs::read(&file).unwrap(),
        good,
        "the state is unchanged"
    );

    // A malformed or huge state file on disk: a store alert, never a crash; the next good
    // write is served again.
    std::fs::write(&file, b"{\"version\": 1, \"role\": ").unwrap();
    let v = wait_type(&mut ws, "alert").await;
    assert_eq!(v["alert"]["reason"], "state");
    assert!(
        v["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("the state of pipeline is ignored"),
        "{v}"
    );
    // Written in place (not atomically), a reader may also catch it half-written: each
    // version it reads is ignored with an alert, until the whole of it is.
    std::fs::write(&file, vec![b' '; 300 * 1024]).unwrap();
    loop {
        let v = wait_type(&mut ws, "alert").await;
        assert_eq!(v["alert"]["reason"], "state", "{v}");
        if v["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("over the limit")
        {
            break;
        }
    }
    let (status, body) = http(
        "GET",
        &format!("{}/api/channels/{ch}/state", server.url),
        None,
        "",
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"problems\":[{"), "{body}");
    // A FIFO, then a symbolic link (to a good document) in the state file's place: opened as
    // author files are, each is a store alert, never a relay blocked on the pipe or reading
    // through the link.
    std::fs::remove_file(&file).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(&file)
        .status()
        .unwrap();
    assert!(made.success());
    loop {
        let v = wait_type(&mut ws, "alert").await;
        assert_eq!(v["alert"]["reason"], "state", "{v}");
        if v["alert"]["message"].as_str().unwrap().contains("a FIFO") {
            break;
        }
    }
    let (status, body) = http(
        "GET",
        &format!("{}/api/channels/{ch}/state", server.url),
        None,
        "",
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("a FIFO (named pipe), not a regular file"),
        "{body}"
    );
    let outside = env.dir.path().join("outside.json");
    std::fs::write(&outside, &good).unwrap();
    std::fs::remove_file(&file).unwrap();
    std::os::unix::fs::symlink(&outside, &file).unwrap();
    loop {
        let v = wait_type(&mut ws, "alert").await;
        assert_eq!(v["alert"]["reason"], "state", "{v}");
        if v["alert"]["message"]
            .as_str()
            .unwrap()
            .contains("a symbolic link")
        {
            break;
        }
    }
    assert_eq!(
        http("PUT", &put, Some(&token), &state_doc("pipeline", 3)).0,
        204
    );
    let v = wait_type(&mut ws, "state").await;
    assert_eq!(v["state"]["seq"], 3);

    // Acking through the relay: 201 and new alert states for every client; a non-alert 422.
    let op = env.token(&ch, "operator");
    let post = format!("{}/api/channels/{ch}/entries", server.url);
    let before = entries(&env, &ch);
    let (status, body) = http(
        "POST",
        &post,
        Some(&op),
        r#"{"kind":"ack","body":"acknowledged","refs":["data-plane#1"]}"#,
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("not an alert"), "{body}");
    let (status, body) = http(
        "POST",
        &post,
        Some(&op),
        r#"{"kind":"ack","body":"acknowledged","refs":["traffic#99"]}"#,
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("traffic#99 in \\\"refs\\\" does not exist"),
        "{body}"
    );
    // A role taken off the roster after its token was made (the roster edited by hand).
    let roster_path = env.root.join(&ch).join(".warroom/roster.json");
    let roster = std::fs::read(&roster_path).unwrap();
    let mut without: Value = serde_json::from_slice(&roster).unwrap();
    without["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "operator");
    std::fs::write(&roster_path, serde_json::to_vec_pretty(&without).unwrap()).unwrap();
    let (status, body) = http(
        "POST",
        &post,
        Some(&op),
        r#"{"kind":"ack","body":"acknowledged","refs":["traffic#1"]}"#,
    );
    std::fs::write(&roster_path, &roster).unwrap();
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no longer on the roster"), "{body}");
    let (status, _) = http(
        "POST",
        &post,
        Some(&elsewhere),
        r#"{"kind":"ack","body":"acknowledged","refs":["traffic#1"]}"#,
    );
    assert_eq!(status, 403);
    assert_eq!(entries(&env, &ch), before, "nothing was written");
    let (status, body) = http(
        "POST",
        &post,
        Some(&op),
        r#"{"kind":"ack","body":"on it","refs":["traffic#1"]}"#,
    );
    assert_eq!(status, 201, "{body}");
    let v = wait_type(&mut ws, "alerts").await;
    assert_eq!(v["open"], 1, "{v}");
    let (status, body) = http(
        "GET",
        &format!("{}/api/channels/{ch}/alerts?state=acked", server.url),
        None,
        "",
    );
    assert_eq!(status, 200);
    let acked: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(acked["alerts"][0]["acks"][0]["text"], "on it");
    drop(c.ws.take());
}

async fn next_json(ws: &mut Ws) -> Value {
    use futures::StreamExt;
    loop {
        let msg = tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("a message in time")
            .expect("the feed is open")
            .expect("a message");
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

async fn wait_type(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let v = next_json(ws).await;
        if v["type"] == ty {
            return v;
        }
    }
}

/// Reads a child's stdout on a thread; lines arrive in a channel.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(l) => {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return;
                }
            }
            Err(_) => panic!("no line with {needle:?}; got:\n{}", seen.join("\n")),
        }
    }
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn follow_shows_gap_markers_at_their_place_locally_and_through_a_relay() {
    let env = Env::new();
    let ch = env.open("gaps");
    env.post(&ch, "pipeline", "first");
    env.post(&ch, "pipeline", "the ORIGINAL second");
    env.post(&ch, "pipeline", "third");
    let file = env.author_file(&ch, "pipeline");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("ORIGINAL", "ALTERED!", 1)).unwrap();
    let server = Server::start(&env);
    let follow = |remote: bool| {
        let mut args = vec!["timeline", "--channel", ch.as_str(), "--follow"];
        if remote {
            args.extend(["--remote", server.url.as_str()]);
        }
        let mut child = Killed(
            env.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let rx = lines_of(&mut child.0);
        (child, rx, Vec::new())
    };
    let mut followers = [follow(false), follow(true)];
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "third", seen);
        let all = seen.join("\n");
        let gap = all
            .find("GAP  pipeline#2 failed its checksum (its bytes were changed): run `warroom verify`")
            .unwrap_or_else(|| panic!("follower {i}:\n{all}"));
        assert!(
            all.find("first").unwrap() < gap && gap < all.find("third").unwrap(),
            "in its place (follower {i}):\n{all}"
        );
        assert!(
            !all.contains("ALTERED"),
            "the altered entry is never shown:\n{all}"
        );
    }
    // A truncation while following: a gap marker at the end, nothing re-sent.
    let len = file_len(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    for (_, rx, seen) in followers.iter_mut() {
        wait_line(rx, "GAP  pipeline.md was truncated", seen);
        assert_eq!(seen.iter().filter(|l| l.contains("third")).count(), 1);
    }
}

/// A valid entry for `role`'s file as another program would write it, numbered `skip` past the
/// file's last entry (1: the next one; 2: one is missing before it).
fn foreign_entry(env: &Env, ch: &str, role: &str, skip: u64, body: &str) -> Vec<u8> {
    use warroom::channel::append::read_tail;
    use warroom::channel::entry::{Header, encode};
    let f = std::fs::File::open(env.author_file(ch, role)).unwrap();
    let tail = read_tail(&f, f.metadata().unwrap().len()).unwrap();
    let author = warroom::channel::Author::new(role).unwrap();
    let mut out = Vec::new();
    encode(
        &mut out,
        Header {
            author: &author,
            seq: tail.last_seq + skip,
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

fn append(file: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(bytes).unwrap();
}

/// The other kinds of damage, on the live path too: an entry removed from between others (met
/// in the history), an entry that skips a seq and a torn write left at the end (both appended
/// by another program while following). Each is a gap marker at its place, locally and
/// through a relay; the entries around them are shown, once.
#[test]
fn follow_shows_chain_breaks_and_torn_writes_as_gaps_locally_and_through_a_relay() {
    let env = Env::new();
    let ch = env.open("chain");
    for body in ["first", "second", "third"] {
        env.post(&ch, "pipeline", body);
    }
    let file = env.author_file(&ch, "pipeline");
    let text = std::fs::read_to_string(&file).unwrap();
    let from = text.find("<!-- warroom:entry id=pipeline#2 ").unwrap();
    let to = text.find("<!-- warroom:entry id=pipeline#3 ").unwrap();
    std::fs::write(&file, format!("{}{}", &text[..from], &text[to..])).unwrap();
    let server = Server::start(&env);
    let follow = |remote: bool| {
        let mut args = vec!["timeline", "--channel", ch.as_str(), "--follow"];
        if remote {
            args.extend(["--remote", server.url.as_str()]);
        }
        let mut child = Killed(
            env.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let rx = lines_of(&mut child.0);
        (child, rx, Vec::new())
    };
    let mut followers = [follow(false), follow(true)];
    let at = |seen: &[String], needle: &str| {
        seen.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", seen.join("\n")))
    };
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "third", seen);
        let gap = at(
            seen,
            "GAP  pipeline#2 is missing before pipeline#3: run `warroom verify`",
        );
        assert!(
            at(seen, "first") < gap && gap < at(seen, "third"),
            "in its place (follower {i}):\n{}",
            seen.join("\n")
        );
    }
    // Live: another program appends an entry that skips pipeline#4.
    append(
        &file,
        &foreign_entry(&env, &ch, "pipeline", 2, "fifth, after a hole"),
    );
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "fifth, after a hole", seen);
        let gap = at(seen, "GAP  pipeline#4 is missing before pipeline#5");
        assert!(
            at(seen, "third") < gap && gap < at(seen, "fifth, after a hole"),
            "in its place (follower {i}):\n{}",
            seen.join("\n")
        );
    }
    // Live: half an entry, and nothing more: a torn write, told once it stays torn.
    let next = foreign_entry(&env, &ch, "pipeline", 1, "sixth, never finished");
    append(&file, &next[..next.len() / 2]);
    for (_, rx, seen) in followers.iter_mut() {
        wait_line(rx, "GAP  pipeline.md ends in a torn write of", seen);
        assert!(
            seen.last().unwrap().contains("after pipeline#5"),
            "{}",
            seen.join("\n")
        );
        assert!(!seen.iter().any(|l| l.contains("sixth")));
        assert_eq!(seen.iter().filter(|l| l.contains("third")).count(), 1);
    }
}

/// A tiny HTTP server answering 200 to everything (the traffic observer's target).
fn ok_server() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn an_observer_publishes_its_state_through_the_relay_and_says_when_it_stopped() {
    let env = Env::new();
    let ch = env.open("remote-state");
    let server = Server::start(&env);
    let token = env.token(&ch, "traffic");
    let target = ok_server();
    let out = env
        .cmd(&[
            "agent",
            "traffic",
            "--channel",
            &ch,
            "--relay",
            &server.url,
            "--token",
            &token,
            "--url",
            &target,
            "--route",
            "GET /healthz",
            "--rate",
            "20/s",
            "--count",
            "30",
            "--window",
            "500ms",
        ])
        .env("WARROOM_LOOPBACK_ONLY", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = env.root.join(&ch).join(".warroom/state/traffic.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(doc["role"], "traffic");
    assert_eq!(
        doc["stopped"], true,
        "the last state says the observer stopped: {doc}"
    );
    assert_eq!(doc["routes"][0]["route"], "GET /healthz");
    assert!(doc["seq"].as_u64().unwrap() >= 2, "{doc}");
}
