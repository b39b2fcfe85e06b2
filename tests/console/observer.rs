//! An observer publishing its state through the relay, and saying when it stopped.

use super::*;

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
