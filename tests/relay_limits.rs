//! The relay's limits end to end: header timeouts, the connection cap under a slowloris with a
//! small `ulimit -n`, shutdown on SIGTERM with stuck connections, and a client's Close during
//! a long replay. Real binary, real sockets on 127.0.0.1, real files; no wall-clock asserts
//! (waits are hang guards).

mod support;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;

use futures::{SinkExt, StreamExt};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Reads until the server closes the connection; returns what it sent. Panics if the server
/// keeps it open past the hang guard.
fn read_to_close(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the relay kept the connection open: {e}"),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Every file under `root` with its bytes: to show that nothing was written.
fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_that_never_finish_headers_or_sit_idle_are_closed_but_live_feeds_stay() {
    let env = Env::new();
    let ch = env.open("timeouts");
    let server = Server::start(&env);
    let mut feed = Client::new(&ch);
    feed.connect(&server).await;

    let silent = TcpStream::connect(&server.addr).unwrap();
    let mut half = TcpStream::connect(&server.addr).unwrap();
    half.write_all(b"GET /api/channels HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .unwrap();
    let mut idle = TcpStream::connect(&server.addr).unwrap();
    write!(
        idle,
        "GET /api/channels HTTP/1.1\r\nHost: {}\r\n\r\n",
        server.addr
    )
    .unwrap();
    let closed = tokio::task::spawn_blocking(move || {
        let (a, b, c) = (
            std::thread::spawn(move || read_to_close(silent)),
            std::thread::spawn(move || read_to_close(half)),
            std::thread::spawn(move || read_to_close(idle)),
        );
        (a.join().unwrap(), b.join().unwrap(), c.join().unwrap())
    })
    .await
    .unwrap();
    assert!(!closed.0.contains("200 OK"), "{:?}", closed.0);
    assert!(!closed.1.contains("200 OK"), "{:?}", closed.1);
    assert!(
        closed.2.starts_with("HTTP/1.1 200 OK"),
        "the keep-alive connection was served once, then closed when idle: {:?}",
        closed.2
    );

    // The live feed outlived all three: it still delivers.
    env.post(&ch, "pipeline", "still here");
    while feed.got.is_empty() {
        assert!(feed.next().await.is_some(), "the live feed was closed");
    }
    assert_eq!(feed.got, [("pipeline".to_owned(), 1)]);
}

/// Opens `n` connections that send a partial request and never finish it.
fn slowloris(addr: &str, n: usize, token: &str) -> Vec<TcpStream> {
    (0..n)
        .filter_map(|i| {
            // The backlog may overflow under the churn: a refused connect is skipped.
            let mut s = TcpStream::connect(addr).ok()?;
            let partial = if i % 2 == 0 {
                format!("GET /api/channels HTTP/1.1\r\nHost: {addr}\r\nX-Slow-{i}: ")
            } else {
                format!(
                    "POST /api/channels/x/entries HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Length: 20\r\nX-Slow-{i}: "
                )
            };
            // A connection the relay already shed may refuse the write: that is fine.
            let _ = s.write_all(partial.as_bytes());
            s.set_nonblocking(true).unwrap();
            Some(s)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_beyond_the_descriptor_limit_does_not_lock_out_a_new_client() {
    let env = Env::new();
    let ch = env.open("slowloris");
    env.post(&ch, "pipeline", "before the attack");
    let token = env.token(&ch, "traffic");
    let before = snapshot(&env.root);
    let server = Server::start_with_nofile(&env, 128);
    let start = server.wait_log_line("connection cap");
    assert!(
        start.contains("connection cap 64 (RLIMIT_NOFILE 128 minus 64 kept for files)"),
        "{start}"
    );

    // Twice the descriptor limit in header-less connections, held open, and more arriving
    // before each new client: the relay sheds the oldest and serves the client.
    let mut open = slowloris(&server.addr, 256, &token);
    for _ in 0..5 {
        open.extend(slowloris(&server.addr, 32, &token));
        // A new client each time: its own connection, accepted under pressure.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let r = tokio::time::timeout(
            PATIENCE,
            http.get(format!("{}/api/channels", server.url)).send(),
        )
        .await
        .expect("served within the hang guard")
        .expect("a new client is served under the slowloris");
        assert_eq!(r.status(), 200);
        let list: serde_json::Value = r.json().await.unwrap();
        assert_eq!(list[0]["name"], ch.as_str());
    }
    let held = open.iter().filter(|s| still_open(s)).count();
    eprintln!(
        "{} header-less connections opened, {held} still open",
        open.len()
    );
    assert!(held <= 64, "the relay holds at most its cap: {held}");
    server.wait_log_line("at the connection cap (64): dropped");
    assert_eq!(snapshot(&env.root), before, "nothing written");
    let (status, log) = server.terminate_with_log();
    assert!(status.success(), "{log}");
    assert!(!log.contains("Too many open files"), "{log}");
}

/// True while the relay has neither closed `s` nor answered on it.
fn still_open(s: &TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_relay_with_a_half_open_connection_a_live_feed_and_a_stalled_upload() {
    let env = Env::new();
    let ch = env.open("stop");
    let token = env.token(&ch, "traffic");
    let server = Server::start(&env);
    let addr = server.addr.clone();
    let mut feed = Client::new(&ch);
    feed.connect(&server).await;

    let mut half = TcpStream::connect(&server.addr).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let half_addr = half.local_addr().unwrap().to_string();

    // A post whose headers are complete and whose body stops after 10 of 100 bytes. With
    // `Expect: 100-continue` the relay says when its handler is reading the body.
    let mut upload = TcpStream::connect(&server.addr).unwrap();
    upload.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        upload,
        "POST /api/channels/{ch}/entries HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let n = upload.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100 Continue"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
    upload.write_all(b"{\"body\":\"").unwrap();
    let upload_addr = upload.local_addr().unwrap().to_string();

    let (status, log) = tokio::task::spawn_blocking(move || server.terminate_with_log())
        .await
        .unwrap();
    assert!(status.success(), "exit {status}: {log}");
    let line = |addr: &str| {
        log.lines()
            .find(|l| l.contains(addr))
            .unwrap_or_else(|| panic!("nothing about {addr} in:\n{log}"))
            .to_owned()
    };
    assert!(
        line(&half_addr).starts_with(&format!(
            "stopping: closed {half_addr}: had not sent its request headers"
        )),
        "{log}"
    );
    let cut = line(&upload_addr);
    assert!(
        cut.starts_with(&format!(
            "stopping: cut {upload_addr}: POST /api/channels/{ch}/entries, in flight for"
        )) && cut.ends_with("(still busy after the 5 s grace)"),
        "{log}"
    );
    assert!(
        log.contains("told 1 live client(s) to reconnect later"),
        "{log}"
    );
    assert!(
        log.trim_end().ends_with(&format!(
            "stopped by SIGTERM: relay on http://{addr}/ closed"
        )),
        "{log}"
    );
    while feed.next().await.is_some_and(|t| t != "close") {}
    assert_eq!(feed.closes, [Some(1001)]);
    assert_eq!(
        file_len(&env.author_file(&ch, "traffic")),
        0,
        "the cut upload wrote nothing"
    );
    drop((half, upload));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_closing_during_a_long_replay_gets_its_close_answered_mid_replay() {
    let env = Env::new();
    let ch = env.open("replay");
    let n = 20_000u64;
    bulk_append(&env, &ch, "pipeline", n, |i| {
        format!("history entry {i}: long enough to take a while to replay")
    });
    let server = Server::start(&env);
    let (mut ws, _) = tokio::time::timeout(
        PATIENCE,
        tokio_tungstenite::connect_async(server.ws_url(&ch, "")),
    )
    .await
    .expect("connect in time")
    .expect("connect");
    for _ in 0..10 {
        let m = tokio::time::timeout(PATIENCE, ws.next()).await.unwrap();
        assert!(matches!(m, Some(Ok(Message::Text(_)))), "{m:?}");
    }
    ws.send(Message::Close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "enough".into(),
    })))
    .await
    .unwrap();
    // Everything already on the wire still arrives, then the relay's Close, then the end.
    let (mut entries, mut ready, mut answer) = (10u64, false, None);
    loop {
        match tokio::time::timeout(PATIENCE, ws.next())
            .await
            .expect("the relay answers the close")
        {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                match v["type"].as_str() {
                    Some("entry") => entries += 1,
                    Some("ready") => ready = true,
                    _ => {}
                }
            }
            Some(Ok(Message::Close(f))) => answer = Some(f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None => break,
            Some(Err(e)) => panic!("the close handshake did not complete: {e}"),
        }
    }
    assert!(answer.is_some(), "the relay sent a Close frame back");
    assert!(
        !ready && entries < n,
        "the relay stopped replaying when the client closed: {entries} of {n} entries, ready: {ready}"
    );
}
