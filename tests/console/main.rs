//! The console end to end, without a browser: `warroom ack` and `warroom alerts`, the relay's
//! state files, alert states and gap markers, `timeline --follow [--remote]` gaps, and an
//! observer publishing its state through the relay. Real binary, real files, real sockets on
//! 127.0.0.1; every wait is bounded (a hang guard, never a timing check).
//!
//! Here: what the tests share (the story's alerts, entry counts, a bare HTTP request); `cli`
//! (ack, alerts, the terminal's colours), `relay` (state files and alert states over REST and
//! the live feed), `follow` (gaps in `timeline --follow`) and `observer` (state published
//! through the relay) hold the tests. The shared helpers must not assert what a test checks.

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod follow;
mod observer;
mod relay;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};

use serde_json::{Value, json};
use support::*;

fn entries(env: &Env, ch: &str) -> usize {
    env.ok(&["timeline", "--channel", ch, "--format", "ndjson"])
        .lines()
        .count()
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
