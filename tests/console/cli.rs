//! `warroom ack` and `warroom alerts` in every format, bad acks refused with exit 2 and nothing
//! written, and the terminal painting authors in the page's colours.

use super::*;

fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&env.ok(args)).unwrap()
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
