//! The relay's `/mcp` over HTTP with the Python SDK: the bearer token turned into the call's
//! channel and role, refusals without one, and a pending `wait` answered when the relay stops.

use super::*;

#[test]
fn http_with_a_token_and_refused_without() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let token = env.token(&ch, "terminal-1");
    let server = Server::start(&env);
    let url = format!("{}/mcp", server.url);

    let mut d = Driver::http(&py, &url, &token).expect("connects with a token");
    assert_eq!(d.ready["server"], "warroom");
    let posted = d.ok("post", json!({"body": "over HTTP"}));
    assert_eq!(
        posted["structured"]["entry"]["id"], "terminal-1#1",
        "{posted}"
    );
    let read = d.ok("read", json!({}));
    assert_eq!(read["structured"]["entries"][0]["body"], "over HTTP");
    let cursor = read["structured"]["cursor"].as_str().unwrap().to_owned();
    // A wait over HTTP wakes when another process posts.
    d.start("wait", json!({"cursor": cursor, "timeout": 120}));
    env.post(&ch, "pipeline", "posted by another process");
    let woke = d.finish();
    assert_eq!(
        woke["structured"]["entries"][0]["id"], "pipeline#1",
        "{woke}"
    );
    let r = d.ok("wait", json!({"author": ["data-plane"], "timeout": 1}));
    assert_eq!(r["structured"]["outcome"], "timed-out", "{r}");
    // The same tools as over stdio, acting as the token's role: catch up, see the open
    // alerts, ack one (recorded as terminal-1, as `warroom alerts` shows).
    let tools = d.tools();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    for want in ["post", "read", "catchup", "wait", "alerts", "ack", "brief"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
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
    let news = d.ok("catchup", json!({}));
    let others: Vec<&str> = news["structured"]["others"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(others, ["pipeline#1", "pipeline#2"], "{news}");
    assert_eq!(news["structured"]["reader"], "terminal-1", "{news}");
    let open = d.ok("alerts", json!({}));
    assert_eq!(
        open["structured"]["alerts"][0]["id"], "pipeline#2",
        "{open}"
    );
    assert_eq!(open["structured"]["alerts"][0]["state"], "open");
    let acked = d.ok("ack", json!({"ids": ["pipeline#2"], "message": "looking"}));
    assert_eq!(
        acked["structured"]["entry"]["id"], "terminal-1#2",
        "{acked}"
    );
    let listed: Value = serde_json::from_str(&env.ok(&[
        "alerts",
        "--channel",
        &ch,
        "--state",
        "acked",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(listed[0]["acks"][0]["author"], "terminal-1", "{listed}");
    assert_eq!(d.ok("alerts", json!({}))["structured"]["alerts"], json!([]));
    // The token's role taken off the roster (by hand): posting is refused with the fix.
    let roster_path = env.root.join(&ch).join(".warroom/roster.json");
    let roster = std::fs::read(&roster_path).unwrap();
    let mut without: Value = serde_json::from_slice(&roster).unwrap();
    without["roles"]
        .as_array_mut()
        .unwrap()
        .retain(|r| r["name"] != "terminal-1");
    std::fs::write(&roster_path, serde_json::to_vec_pretty(&without).unwrap()).unwrap();
    let r = d.call("post", json!({"body": "still here?"}));
    std::fs::write(&roster_path, &roster).unwrap();
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("not on the roster")
            && text.contains("warroom roster add terminal-1")
            && text.contains("a token for it over HTTP")
            && text.contains("nothing was written"),
        "{text}"
    );
    // rollout_get is never served over HTTP; the refusal says where it is.
    let r = d.call("rollout_get", json!({"name": "web"}));
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("the relay's /mcp reads no Rollouts")
            && text.contains("warroom mcp --as ROLE")
            && text.contains("--from-dir DIR"),
        "{r}"
    );
    drop(d);

    // A wrong token: refused before MCP (the SDK reports only "an error response"; the HTTP
    // answer itself says 401 and what to do).
    let err = Driver::http(&py, &url, "wr_0000").err().expect("refused");
    assert!(err["fatal"].as_str().unwrap().contains("error"), "{err}");
    let resp = reqwest::blocking_post(&url, "wr_0000");
    assert_eq!(resp.0, 401);
    assert!(resp.1.contains("warroom token ls"), "{}", resp.1);
    let resp = reqwest::blocking_post(&url, "");
    assert_eq!(resp.0, 401);
    assert!(resp.1.contains("warroom token add"), "{}", resp.1);

    // A revoked token stops working at once.
    env.ok(&["token", "revoke", &token]);
    assert!(
        Driver::http(&py, &url, &token).is_err(),
        "a revoked token is refused"
    );
    assert_eq!(reqwest::blocking_post(&url, &token).0, 401);
    assert_eq!(timeline_count(&env, &ch), 4, "nothing more was written");
}

/// A `wait` pending over HTTP when the relay stops is answered (docs/AGENTS.md: the answer says
/// to wait again), not cut off without a word.
#[test]
fn http_a_pending_wait_is_answered_when_the_relay_stops() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let token = env.token(&ch, "terminal-1");
    let server = Server::start(&env);
    let url = format!("{}/mcp", server.url);
    let mut d = Driver::http(&py, &url, &token).expect("connects with a token");
    d.start("wait", json!({"author": ["data-plane"], "timeout": 120}));
    server.wait_log_line("wait pending: terminal-1 in");
    let (status, log) = server.terminate_with_log();
    assert!(status.success(), "{status}: {log}");
    let r = d.finish();
    assert_eq!(r["is_error"], true, "{r}");
    let text = r["text"].as_str().unwrap();
    assert!(
        text.contains("shutting down") && text.contains("call wait again"),
        "{r}\n{log}"
    );
}

/// A bare JSON-RPC initialize POST, for the HTTP answer itself.
mod reqwest {
    pub fn blocking_post(url: &str, token: &str) -> (u16, String) {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mut req = ::reqwest::Client::new()
                .post(url)
                .header("Accept", "application/json, text/event-stream")
                .header("Content-Type", "application/json")
                .body(
                    r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
                );
            if !token.is_empty() {
                req = req.bearer_auth(token);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap_or_default())
        })
    }
}
