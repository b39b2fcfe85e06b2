//! `warroom mcp` over stdio with the Python SDK: the tools, refusals worded with the fix and
//! nothing written, the roster, alerts and acks, catchup order, `wait`, and the channel and role
//! taken from the environment.

use super::*;

#[test]
fn stdio_initialize_list_post_read_brief() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "Rollout litellm: canary at 20%");
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    assert_eq!(d.ready["server"], "warroom");
    assert!(
        d.ready["instructions"].as_str().unwrap().contains("brief"),
        "{}",
        d.ready
    );

    let tools = d.tools();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["post", "read", "catchup", "wait", "alerts", "ack", "brief"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for t in &tools {
        assert!(
            !t["description"].as_str().unwrap_or("").is_empty(),
            "{t} has no description"
        );
    }

    let posted = d.ok(
        "post",
        json!({"body": "looking at the canary's 5xx", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    let entry = &posted["structured"]["entry"];
    assert_eq!(entry["id"], "terminal-1#1", "{posted}");
    assert_eq!(entry["author"], "terminal-1");
    assert_eq!(entry["to"], json!(["pipeline"]));
    assert!(posted["text"].as_str().unwrap().contains("terminal-1#1"));
    // The same key again: the first entry, nothing written.
    let again = d.ok(
        "post",
        json!({"body": "looking at the canary's 5xx", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    assert_eq!(again["structured"]["replayed"], true);
    assert_eq!(again["structured"]["entry"]["id"], "terminal-1#1");
    // The same key with another body: refused, nothing written.
    let r = d.call(
        "post",
        json!({"body": "something else", "kind": "note", "to": ["pipeline"], "key": "k1"}),
    );
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("\"k1\" was already used by terminal-1#1")
            && text.contains("nothing was written"),
        "{text}"
    );
    assert_eq!(timeline_count(&env, &ch), 2);

    let read = d.ok("read", json!({}));
    let ids: Vec<&str> = read["structured"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pipeline#1", "terminal-1#1"]);
    let cursor = read["structured"]["cursor"].as_str().unwrap().to_owned();
    assert_eq!(cursor, "pipeline:1,terminal-1:1");
    env.post(&ch, "traffic", "p99 up 40% on /v1/embeddings");
    let on = d.ok("read", json!({"since": cursor}));
    assert_eq!(on["structured"]["entries"][0]["id"], "traffic#1", "{on}");
    assert_eq!(on["structured"]["entries"].as_array().unwrap().len(), 1);
    let by_author = d.ok(
        "read",
        json!({"author": ["pipeline"], "kind": ["observation"]}),
    );
    assert_eq!(
        by_author["structured"]["entries"].as_array().unwrap().len(),
        1
    );

    // `text` is a regular expression, case-insensitive; a bad one is refused by name.
    let found = d.ok("read", json!({"text": "CANARY AT \\d+%"}));
    let ids: Vec<&str> = found["structured"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["pipeline#1"], "{found}");
    let found = d.ok(
        "read",
        json!({"text": "^looking", "author": ["terminal-1"]}),
    );
    assert_eq!(found["structured"]["entries"][0]["id"], "terminal-1#1");
    let r = d.call("read", json!({"text": "(unclosed"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("\"text\""), "{r}");

    let brief = d.ok("brief", json!({}));
    let text = brief["text"].as_str().unwrap();
    assert!(text.contains(&ch), "{text}");
    d.send(json!({"op": "resources"}));
    let res = d.line();
    assert_eq!(res["resources"][0]["uri"], "warroom://brief", "{res}");
    d.send(json!({"op": "resource", "uri": "warroom://brief"}));
    let read_res = d.line();
    assert_eq!(read_res["text"].as_str().unwrap(), text);
}

#[test]
fn stdio_bad_input_is_refused_with_the_fix_and_nothing_written() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");

    // An unknown argument: refused, naming the known ones (rmcp answers invalid arguments as
    // a tool error, which the model reads).
    let r = d.call("post", json!({"body": "x", "severity": "high"}));
    assert_eq!(r["is_error"], true, "{r}");
    let msg = r["text"].as_str().unwrap();
    assert!(
        msg.contains("unknown field `severity`") && msg.contains("`body`"),
        "{msg}"
    );

    // A body over the limit.
    let big = "x".repeat(70 * 1024);
    let r = d.call("post", json!({"body": big}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("over the limit") && text.contains("nothing was written"),
        "{text}"
    );

    // A bad kind, a ref that does not exist, a recipient not on the roster.
    for (args, needle) in [
        (json!({"body": "x", "kind": "alrt"}), "did you mean alert"),
        (
            json!({"body": "x", "kind": "answer", "refs": ["pipeline#9"]}),
            "does not exist",
        ),
        (json!({"body": "x", "to": ["nobody"]}), "not on the roster"),
    ] {
        let r = d.call("post", args.clone());
        assert_eq!(r["is_error"], true, "{args}: {r}");
        let text = r["text"].as_str().unwrap();
        assert!(text.contains(needle), "{args}: {text}");
    }
    assert_eq!(timeline_count(&env, &ch), 0, "nothing was written");
}

/// A ref with a typo in its author gets the guess `post --ref` and the relay give.
#[test]
fn stdio_a_mistyped_ref_or_author_gets_a_guess_and_writes_nothing() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = env.open("agents");
    env.post(&ch, "pipeline", "hello");
    let mut d = Driver::stdio(&py, &env, &ch, "operator").expect("connects");
    for (refs, guess) in [("pipline#1", true), ("zzz#1", false)] {
        let r = d.call("post", json!({"body": "x", "refs": [refs]}));
        assert_eq!(r["is_error"], true, "{r}");
        let text = r["text"].as_str().unwrap();
        assert!(
            text.contains(&format!("{refs} does not exist"))
                && text.ends_with("nothing was written"),
            "{text}"
        );
        assert_eq!(text.contains("did you mean pipeline#1?"), guess, "{text}");
    }
    assert_eq!(timeline_count(&env, &ch), 1, "nothing was written");
    // Reading by a role the channel never had is refused with the guess, not answered with
    // nothing; a role on the roster that has not posted reads as nothing.
    let r = d.call("read", json!({"author": ["pipline"]}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(
        r["text"]
            .as_str()
            .unwrap()
            .contains("\"author\": no role pipline in channel")
            && r["text"]
                .as_str()
                .unwrap()
                .contains("did you mean pipeline?"),
        "{r}"
    );
    let r = d.ok("read", json!({"author": ["operator"]}));
    assert_eq!(r["structured"]["entries"], json!([]), "{r}");
}

#[test]
fn stdio_role_not_on_the_roster_reads_but_cannot_post() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = env.open("agents");
    env.post(&ch, "pipeline", "hello");
    let mut d = Driver::stdio(&py, &env, &ch, "ghost").expect("connects");
    let read = d.ok("read", json!({}));
    assert_eq!(read["structured"]["entries"][0]["id"], "pipeline#1");
    let r = d.call("post", json!({"body": "boo"}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("not on the roster") && text.contains("warroom roster add ghost"),
        "{text}"
    );
    assert_eq!(timeline_count(&env, &ch), 1, "nothing was written");
}

#[test]
fn stdio_alerts_and_ack_record_the_agents_role() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "Rollout litellm: spec not observed for 61s",
    ]);
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "traffic",
        "--kind",
        "question",
        "Is analysis running at all?",
    ]);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    let open = d.ok("alerts", json!({}));
    assert_eq!(
        open["structured"]["alerts"][0]["id"], "pipeline#1",
        "{open}"
    );
    assert_eq!(open["structured"]["alerts"][0]["state"], "open");
    assert_eq!(open["structured"]["questions"][0]["id"], "traffic#1");

    let acked = d.ok("ack", json!({"ids": ["pipeline#1"], "message": "looking"}));
    assert_eq!(acked["structured"]["entry"]["kind"], "ack");
    let open = d.ok("alerts", json!({}));
    assert_eq!(open["structured"]["alerts"], json!([]), "{open}");
    let all = d.ok("alerts", json!({"state": "all"}));
    assert_eq!(
        all["structured"]["alerts"][0]["acks"][0]["author"],
        "terminal-1"
    );

    // Acking something that is not an alert: refused, nothing written.
    let r = d.call("ack", json!({"ids": ["traffic#1"]}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not an alert"), "{r}");
    let r = d.call("alerts", json!({"state": "closed"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert_eq!(timeline_count(&env, &ch), 3);
}

#[test]
fn stdio_catchup_puts_entries_addressed_to_the_agent_first() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "canary at 20%");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "traffic",
        "--to",
        "terminal-1",
        "is the 5xx yours?",
    ]);
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");
    let news = d.ok("catchup", json!({}));
    let s = &news["structured"];
    assert_eq!(s["addressed"][0]["id"], "traffic#1", "{news}");
    assert_eq!(s["others"][0]["id"], "pipeline#1", "{news}");
    let text = news["text"].as_str().unwrap();
    assert!(
        text.contains("1 addressed to terminal-1, shown first"),
        "{text}"
    );
    assert!(
        text.find("traffic#1").unwrap() < text.find("pipeline#1").unwrap(),
        "{text}"
    );
    // Read: the cursor moved.
    let again = d.ok("catchup", json!({}));
    assert!(
        again["text"].as_str().unwrap().contains("nothing new"),
        "{again}"
    );
}

#[test]
fn stdio_wait_wakes_on_another_process_post_and_times_out() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    env.post(&ch, "pipeline", "before the wait");
    let mut d = Driver::stdio(&py, &env, &ch, "terminal-1").expect("connects");

    // From a cursor: an alert posted by another process wakes it; a note does not.
    let cursor = d.ok("read", json!({}))["structured"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    d.start(
        "wait",
        json!({"cursor": cursor, "kind": ["alert"], "timeout": 120}),
    );
    env.post(&ch, "traffic", "a note, not an alert");
    env.ok(&[
        "post",
        "--channel",
        &ch,
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "canary degraded",
    ]);
    let woke = d.finish();
    assert_eq!(woke["is_error"], false, "{woke}");
    let s = &woke["structured"];
    assert_eq!(s["outcome"], "entries", "{woke}");
    assert_eq!(s["entries"][0]["id"], "pipeline#2", "{woke}");
    assert_eq!(s["entries"].as_array().unwrap().len(), 1);
    assert_eq!(s["cursor"], "pipeline:2");

    // Without a cursor only entries appended after the call count: another process posts
    // until the wait answers, and what it returns is one of those.
    d.start("wait", json!({"author": ["traffic"], "timeout": 120}));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poster = {
        let (done, root, ch) = (done.clone(), env.root.clone(), ch.clone());
        std::thread::spawn(move || {
            for i in 0..480 {
                if done.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let _ = Command::new(BIN)
                    .arg("--root")
                    .arg(&root)
                    .args(["post", "--channel", &ch, "--as", "traffic", "--no-sync"])
                    .arg(format!("tick {i}"))
                    .output();
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        })
    };
    let woke = d.finish();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    poster.join().unwrap();
    let first = &woke["structured"]["entries"][0];
    assert!(
        first["body"].as_str().unwrap_or("").starts_with("tick "),
        "only entries after the call count: {woke}"
    );

    // Nothing comes: it says it timed out, with the cursor to go on from.
    let r = d.ok("wait", json!({"author": ["data-plane"], "timeout": 1}));
    assert_eq!(r["structured"]["outcome"], "timed-out", "{r}");
    assert!(r["text"].as_str().unwrap().contains("timed out"), "{r}");

    // Out of range: refused by name.
    let r = d.call("wait", json!({"timeout": 301}));
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("\"timeout\"") && text.contains("0 to 300"),
        "{text}"
    );
    let r = d.call("wait", json!({"timeout": 5, "cursor": "pipeline:x"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("\"cursor\""), "{r}");
}

/// MCP over stdio as a shell speaks it (docs/AGENTS.md): JSON-RPC lines, no SDK. The channel
/// and the role come from WARROOM_CHANNEL and WARROOM_ROLE when no flag names them.
#[test]
fn stdio_takes_its_channel_and_role_from_the_environment() {
    let env = Env::new();
    let ch = channel_with_agent(&env);
    // A newer channel: without WARROOM_CHANNEL the server would serve this one.
    let newer = env.ok(&["open", "newer", "--date", "2026-05-05"]);
    let mut child = env
        .cmd(&["mcp"])
        .env("WARROOM_CHANNEL", &ch)
        .env("WARROOM_ROLE", "terminal-1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warroom mcp starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let mut answer = |id: u64| -> Value {
        loop {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            assert!(!line.is_empty(), "the server closed its stdout");
            let v: Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "sh", "version": "1"}}}),
    );
    assert_eq!(answer(1)["result"]["serverInfo"]["name"], "warroom");
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "post", "arguments": {"body": "from the environment"}}}));
    let posted = answer(2);
    let entry = &posted["result"]["structuredContent"]["entry"];
    assert_eq!(
        (entry["id"].as_str(), entry["channel"].as_str()),
        (Some("terminal-1#1"), Some(ch.as_str())),
        "{posted}"
    );
    // An unknown tool is a JSON-RPC error, not a crash; the session goes on.
    send(json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "promote", "arguments": {}}}));
    assert!(answer(3)["error"]["message"].is_string());
    send(json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
        "params": {"name": "read", "arguments": {}}}));
    assert_eq!(
        answer(4)["result"]["structuredContent"]["entries"][0]["body"],
        "from the environment"
    );
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "stdin closed: the server ends cleanly ({status})"
    );
    assert_eq!(timeline_count(&env, &ch), 1);
    assert_eq!(timeline_count(&env, &newer), 0);
}
