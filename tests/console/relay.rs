//! The relay's state files and alert states: `GET/PUT …/state`, `GET …/alerts`, the live feed's
//! state messages, and bad writes refused.

use super::*;

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
