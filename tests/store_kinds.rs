//! Entry kinds (ack, resolved, kinds from newer writers), recipients (`to`) and idempotency
//! keys, through the real binary on real files and through a real relay.

mod harness;
mod support;

use harness::{Run, Sandbox};
use serde_json::Value;
use warroom::channel::entry::{GENESIS, Header, Sum, Timestamp, encode};
use warroom::channel::{Author, EntryId, Kind};

fn entries(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn refused(sb: &Sandbox, args: &[&str], needle: &str) {
    let before = sb.snapshot();
    let r = sb.run(args);
    assert_eq!(r.code, 2, "{args:?}: {r:?}");
    assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    assert_eq!(sb.snapshot(), before, "{args:?}: nothing written");
}

#[test]
fn ack_and_resolved_ref_alerts() {
    let sb = Sandbox::new();
    sb.ok(&["open", "kinds", "--roles", "pipeline,traffic"]);
    sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "spec not observed",
    ]);
    sb.ok(&["post", "--as", "pipeline", "phase Progressing"]);
    refused(
        &sb,
        &["post", "--as", "operator", "--kind", "ack", "x"],
        "an ack must name the alert",
    );
    refused(
        &sb,
        &["post", "--as", "pipeline", "--kind", "resolved", "x"],
        "must name the alert whose condition cleared",
    );
    refused(
        &sb,
        &[
            "post",
            "--as",
            "operator",
            "--kind",
            "ack",
            "--ref",
            "pipeline#2",
            "x",
        ],
        "which is a `observation` entry, not an alert",
    );
    refused(
        &sb,
        &[
            "post",
            "--as",
            "operator",
            "--kind",
            "ack",
            "--ref",
            "pipeline#3",
            "x",
        ],
        "does not exist",
    );
    refused(
        &sb,
        &[
            "post",
            "--as",
            "traffic",
            "--kind",
            "resolved",
            "--ref",
            "pipeline#1",
            "x",
        ],
        "only the author of an alert resolves it",
    );
    refused(
        &sb,
        &["post", "--as", "operator", "--kind", "akc", "x"],
        "did you mean ack?",
    );
    assert_eq!(
        sb.ok(&[
            "post",
            "--as",
            "operator",
            "--kind",
            "ack",
            "--ref",
            "pipeline#1",
            "looking"
        ])
        .stdout,
        "operator#1\n"
    );
    assert_eq!(
        sb.ok(&[
            "post",
            "--as",
            "pipeline",
            "--kind",
            "resolved",
            "--ref",
            "pipeline#1",
            "cleared"
        ])
        .stdout,
        "pipeline#3\n"
    );
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    let kinds: Vec<&str> = tl.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["alert", "observation", "ack", "resolved"]);
    let acks = entries(&sb.ok(&["timeline", "--format", "ndjson", "--kind", "ack"]));
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0]["refs"][0], "pipeline#1");
    let file = sb.read(&format!("{}/pipeline.md", channel_dir(&sb)));
    assert!(
        file.contains("kind=resolved refs=pipeline#1 -->\n#### "),
        "{file}"
    );
    sb.ok(&["verify"]);
}

fn channel_dir(sb: &Sandbox) -> String {
    let name = sb.ok(&["ls", "--format", "ndjson"]).stdout;
    let v: Value = serde_json::from_str(name.lines().next().unwrap()).unwrap();
    format!("channels/{}", v["name"].as_str().unwrap())
}

/// A file written by a newer version: an entry whose kind this version does not know sits
/// between two known ones, with the chain intact.
#[test]
fn an_unknown_kind_parses_verifies_and_reads_as_a_note() {
    let sb = Sandbox::new();
    sb.ok(&["open", "future", "--roles", "pipeline"]);
    let dir = channel_dir(&sb);
    let a = Author::new("pipeline").unwrap();
    let mut bytes = Vec::new();
    let mut prev: Sum = GENESIS;
    for (seq, kind, body) in [
        (1, "observation", "before"),
        (2, "escalation-v2", "from the future"),
        (3, "note", "after"),
    ] {
        let refs = if seq == 2 {
            vec![EntryId::parse("pipeline#1").unwrap()]
        } else {
            vec![]
        };
        prev = encode(
            &mut bytes,
            Header {
                author: &a,
                seq,
                ts: Timestamp::parse_exact(&format!("2026-05-04T17:15:0{seq}.000Z")).unwrap(),
                kind: Kind::from_token(kind).unwrap(),
                refs: &refs,
                to: &[],
                key: None,
            },
            body,
            prev,
        );
    }
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(
        text.contains(" kind=escalation-v2 refs=pipeline#1 -->"),
        "{text}"
    );
    std::fs::write(sb.path(&format!("{dir}/pipeline.md")), &bytes).unwrap();

    let v = sb.ok(&["verify"]);
    assert!(
        v.stderr.contains("3 entries in 1 files, 0 finding(s)"),
        "{}",
        v.stderr
    );
    let tl = sb.ok(&["timeline", "--format", "ndjson"]);
    assert!(tl.stderr.is_empty(), "{}", tl.stderr);
    let tl = entries(&tl);
    assert_eq!(tl.len(), 3);
    assert_eq!(tl[1]["kind"], "escalation-v2", "JSON keeps the true kind");
    let json: Value =
        serde_json::from_str(&sb.ok(&["timeline", "--format", "json"]).stdout).unwrap();
    assert_eq!(json[1]["kind"], "escalation-v2");
    let text = sb.ok(&["timeline"]).stdout;
    assert!(
        text.contains("pipeline#2  note (escalation-v2)  re pipeline#1"),
        "{text}"
    );
    let md = sb.ok(&["timeline", "--format", "md"]).stdout;
    assert!(
        md.contains("pipeline#2 · note (escalation-v2) · re pipeline#1"),
        "{md}"
    );
    let notes = entries(&sb.ok(&["timeline", "--format", "ndjson", "--kind", "note"]));
    let ids: Vec<&str> = notes.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["pipeline#2", "pipeline#3"], "it acts as a note");
    // Catchup and the seq of the next post see it too: nothing is taken for a torn tail.
    let c = sb.ok(&["catchup", "--as", "operator"]).stdout;
    assert!(c.contains("note (escalation-v2)"), "{c}");
    assert_eq!(
        sb.ok(&["post", "--as", "pipeline", "next"]).stdout,
        "pipeline#4\n"
    );
    // It cannot be acked (it is not an alert), and no writer may produce such a kind.
    refused(
        &sb,
        &[
            "post",
            "--as",
            "operator",
            "--kind",
            "ack",
            "--ref",
            "pipeline#2",
            "x",
        ],
        "not an alert",
    );
    refused(
        &sb,
        &["post", "--as", "pipeline", "--kind", "escalation-v2", "x"],
        "unknown kind",
    );
    let before = sb.snapshot();
    let r = sb.run_stdin(
        &["post", "--as", "pipeline", "--bulk"],
        b"{\"kind\":\"escalation-v2\",\"body\":\"x\"}\n",
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("unknown kind"), "{}", r.stderr);
    assert_eq!(sb.snapshot(), before);
    sb.ok(&["verify"]);
}

#[test]
fn entries_addressed_to_roles() {
    let sb = Sandbox::new();
    sb.ok(&["open", "to", "--roles", "pipeline,traffic"]);
    sb.ok(&[
        "post", "--as", "pipeline", "--to", "operator", "--to", "traffic", "look",
    ]);
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl[0]["to"], serde_json::json!(["operator", "traffic"]));
    assert!(tl[0].get("key").is_none(), "no key: the field is omitted");
    sb.ok(&["post", "--as", "pipeline", "plain"]);
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert!(
        tl[1].get("to").is_none(),
        "not addressed: the field is omitted"
    );
    let text = sb.ok(&["timeline"]).stdout;
    assert!(
        text.contains("pipeline#1  observation  to operator, traffic"),
        "{text}"
    );
    let file = sb.read(&format!("{}/pipeline.md", channel_dir(&sb)));
    assert!(file.contains(" to=operator,traffic -->\n#### "), "{file}");
    assert!(file.contains(" · to operator, traffic\n"), "{file}");
    refused(
        &sb,
        &["post", "--as", "pipeline", "--to", "trafic", "x"],
        "did you mean traffic?",
    );
    refused(
        &sb,
        &["post", "--as", "pipeline", "--to", "Nope", "x"],
        "invalid author name",
    );
    sb.ok(&["verify"]);
}

#[test]
fn a_key_replays_the_same_post_and_refuses_a_different_one() {
    let sb = Sandbox::new();
    sb.ok(&["open", "keys", "--roles", "pipeline,traffic"]);
    sb.ok(&["post", "--as", "pipeline", "--kind", "alert", "boom"]);
    let args = [
        "post",
        "--as",
        "traffic",
        "--kind",
        "ack",
        "--ref",
        "pipeline#1",
        "--to",
        "pipeline",
        "--key",
        "ack:pipeline#1",
        "looking",
    ];
    let first = sb.ok(&args);
    assert_eq!(first.stdout, "traffic#1\n");
    // Only where it went: the channel was implicit.
    assert!(
        first.stderr.starts_with("→ ") && first.stderr.lines().count() == 1,
        "{}",
        first.stderr
    );
    let before = sb.snapshot();
    let again = sb.ok(&args);
    assert_eq!(again.stdout, "traffic#1\n", "the same id");
    assert!(
        again
            .stderr
            .contains("already posted with key ack:pipeline#1"),
        "{}",
        again.stderr
    );
    assert_eq!(sb.snapshot(), before, "a replay writes nothing");
    let mut other_body = args;
    other_body[11] = "looking again";
    refused(
        &sb,
        &other_body,
        "already used by traffic#1 with a different body",
    );
    refused(
        &sb,
        &[
            "post",
            "--as",
            "traffic",
            "--kind",
            "ack",
            "--ref",
            "pipeline#1",
            "--key",
            "ack:pipeline#1",
            "looking",
        ],
        "with a different recipients (to)",
    );
    refused(
        &sb,
        &[
            "post",
            "--as",
            "traffic",
            "--key",
            "ack:pipeline#1",
            "looking",
        ],
        "different kind",
    );
    refused(
        &sb,
        &["post", "--as", "traffic", "--key", "bad key", "x"],
        "invalid idempotency key",
    );
    refused(
        &sb,
        &["post", "--as", "traffic", "--key", &"k".repeat(129), "x"],
        "1 to 128",
    );
    // Keys are per author.
    assert_eq!(
        sb.ok(&[
            "post",
            "--as",
            "pipeline",
            "--key",
            "ack:pipeline#1",
            "mine"
        ])
        .stdout,
        "pipeline#2\n"
    );
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl.len(), 3);
    assert_eq!(tl[1]["key"], "ack:pipeline#1");
    // Bulk drafts take keys too: a replayed line prints the earlier id and writes nothing.
    let bulk = sb.run_stdin(
        &["post", "--as", "traffic", "--bulk"],
        b"{\"body\":\"b1\",\"key\":\"b1\"}\n{\"kind\":\"ack\",\"refs\":[\"pipeline#1\"],\"to\":[\"pipeline\"],\"key\":\"ack:pipeline#1\",\"body\":\"looking\"}\n{\"body\":\"b1\",\"key\":\"b1\"}\n",
    );
    assert_eq!(bulk.code, 0, "{bulk:?}");
    assert_eq!(bulk.stdout, "traffic#2\ntraffic#1\ntraffic#2\n");
    assert!(
        bulk.stderr.contains("appended 1 entries"),
        "{}",
        bulk.stderr
    );
    sb.ok(&["verify"]);
}

/// A poster that wrote its entry but never reported the id (here: its stdout was closed)
/// retries with the same key and gets that entry back.
#[test]
fn a_retry_after_a_lost_answer_finds_the_entry() {
    let sb = Sandbox::new();
    sb.ok(&["open", "lost", "--roles", "pipeline"]);
    let mut c = sb.command(&[
        "post",
        "--as",
        "pipeline",
        "--key",
        "run-7",
        "deploy started",
    ]);
    let status = c
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let retry = sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--key",
        "run-7",
        "deploy started",
    ]);
    assert_eq!(retry.stdout, "pipeline#1\n");
    assert_eq!(
        entries(&sb.ok(&["timeline", "--format", "ndjson"])).len(),
        1
    );
}

/// The relay's POST takes `to` and `key`: 201 for a new entry, 200 for a replay, 409 for the
/// same key with a different body, 422 for an unknown recipient; nothing written when refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_post_takes_to_and_key() {
    let env = support::Env::new();
    let ch = env.open("relay-keys");
    let token = env.token(&ch, "pipeline");
    let server = support::Server::start(&env);
    let url = format!("{}/api/channels/{ch}/entries", server.url);
    let http = reqwest::Client::new();
    let post = |body: Value| http.post(&url).bearer_auth(&token).json(&body).send();
    let first =
        post(serde_json::json!({"kind":"alert","body":"boom","to":["operator"],"key":"k-1"}))
            .await
            .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["id"], "pipeline#1");
    assert_eq!(first["to"], serde_json::json!(["operator"]));
    assert_eq!(first["key"], "k-1");
    let file = env.author_file(&ch, "pipeline");
    let len = support::file_len(&file);
    let again =
        post(serde_json::json!({"kind":"alert","body":"boom","to":["operator"],"key":"k-1"}))
            .await
            .unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let conflict =
        post(serde_json::json!({"kind":"alert","body":"other","to":["operator"],"key":"k-1"}))
            .await
            .unwrap();
    assert_eq!(conflict.status(), 409);
    let msg: Value = conflict.json().await.unwrap();
    assert!(
        msg["error"].as_str().unwrap().contains("different body"),
        "{msg}"
    );
    let stranger = post(serde_json::json!({"body":"x","to":["nobody"]}))
        .await
        .unwrap();
    assert_eq!(stranger.status(), 422);
    let bad_key = post(serde_json::json!({"body":"x","key":"a b"}))
        .await
        .unwrap();
    assert_eq!(bad_key.status(), 400);
    let unknown_kind = post(serde_json::json!({"kind":"escalation-v2","body":"x"}))
        .await
        .unwrap();
    assert_eq!(unknown_kind.status(), 400);
    assert_eq!(support::file_len(&file), len, "nothing written");
    server.terminate();
}
