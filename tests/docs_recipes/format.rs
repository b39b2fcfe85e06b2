//! The JSON examples of docs/FORMAT.md (`json` blocks), each checked against what the real
//! binary writes: the JSON form of an entry text for text (times masked), `roster.json`,
//! `sealed.json` and a state file by shape (see [`like`]).

use std::path::Path;

use serde_json::Value;

use super::super::{Block, normalize, recipe_blocks};
use super::ok;

/// The block's JSON as the doc shows it, or a failure naming the block.
pub fn parsed(block: &Block) -> Value {
    serde_json::from_str(&block.body.join("\n"))
        .unwrap_or_else(|e| panic!("{}: the json block does not parse: {e}", block.at()))
}

/// A doc string as a pattern: `…` stands for any text, `<ts>` for a time, `<who>` for a
/// role, `<16 hex>` for a checksum; times, numbers and hex hashes are placeholders on both
/// sides (what a real run prints differently each time).
fn same_text(doc: &str, real: &str) -> bool {
    let mask = |s: &str| {
        let s = normalize(s);
        let s = regex::Regex::new(
            r"\b[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*\b|\b[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*\b",
        )
        .unwrap()
        .replace_all(&s, "[HEX]")
        .into_owned();
        regex::Regex::new(r"\d+")
            .unwrap()
            .replace_all(&s, "N")
            .into_owned()
    };
    let (doc, real) = (mask(doc), mask(real));
    let mut pattern = String::from("^");
    let mut rest = doc.as_str();
    while !rest.is_empty() {
        let special = [
            ("…", ".*"),
            ("<ts>", r"\[TS\]"),
            ("<who>", "[a-z][a-z0-9-]*"),
            ("<N hex>", r"\[HEX\]"),
        ];
        if let Some((token, re)) = special.iter().find(|(t, _)| rest.starts_with(t)) {
            pattern.push_str(re);
            rest = &rest[token.len()..];
        } else {
            let c = rest.chars().next().unwrap();
            pattern.push_str(&regex::escape(&c.to_string()));
            rest = &rest[c.len_utf8()..];
        }
    }
    pattern.push('$');
    regex::RegexBuilder::new(&pattern)
        .dot_matches_new_line(true)
        .build()
        .unwrap()
        .is_match(&real)
}

/// Is `real` shaped as `doc` shows it: the same keys in every object (no more, no fewer),
/// arrays of the same length, numbers where the doc has numbers, the same booleans and
/// nulls, and strings that agree as [`same_text`] says. Returns each difference by path.
pub fn like(doc: &Value, real: &Value, path: &str) -> Vec<String> {
    match (doc, real) {
        (Value::Object(d), Value::Object(r)) => {
            let mut out = Vec::new();
            for k in d.keys().filter(|k| !r.contains_key(*k)) {
                out.push(format!(
                    "{path}.{k}: shown, but the real document has no such key"
                ));
            }
            for k in r.keys().filter(|k| !d.contains_key(*k)) {
                out.push(format!("{path}.{k}: in the real document, not shown"));
            }
            for (k, dv) in d {
                if let Some(rv) = r.get(k) {
                    out.extend(like(dv, rv, &format!("{path}.{k}")));
                }
            }
            out
        }
        (Value::Array(d), Value::Array(r)) if d.len() == r.len() => d
            .iter()
            .zip(r)
            .enumerate()
            .flat_map(|(i, (dv, rv))| like(dv, rv, &format!("{path}[{i}]")))
            .collect(),
        (Value::Number(_), Value::Number(_)) => Vec::new(),
        (Value::String(d), Value::String(r)) if same_text(d, r) => Vec::new(),
        (d, r) if d == r => Vec::new(),
        (d, r) => vec![format!("{path}: shown {d}, the real document has {r}")],
    }
}

fn check_like(block: &Block, real: &Value, what: &str) {
    let problems = like(&parsed(block), real, "");
    assert!(
        problems.is_empty(),
        "{}: the example is not what {what} holds:\n{}\n--- the real document ---\n{}",
        block.at(),
        problems.join("\n"),
        serde_json::to_string_pretty(real).unwrap()
    );
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The entries FORMAT.md shows in JSON, posted for real with the same author, seq, kind,
/// refs, addressees, key and body: `timeline -o ndjson` prints each line as the doc shows it
/// (its lines joined), the time aside.
#[test]
fn the_format_json_entries_are_what_timeline_prints() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ch = ok(
        d,
        &[
            "open",
            "litellm-canary",
            "--date",
            "2026-05-04",
            "--roles",
            "pipeline,data-plane,traffic",
        ],
    );
    let ch = ch.trim();
    let blocks = recipe_blocks("format-json-entry");
    let mut want = Vec::new();
    for block in &blocks {
        let shown: String = block.body.iter().map(|l| l.trim_start()).collect();
        let entry = parsed(block);
        assert_eq!(entry["channel"], ch, "{}: the channel", block.at());
        want.push((block, shown, entry));
    }
    // Fill each author up to the seq before the shown one; the refs must exist, and an
    // `ack` refs an alert.
    let seq_of = |id: &str| -> u64 { id.rsplit_once('#').unwrap().1.parse().unwrap() };
    let mut needed: std::collections::BTreeMap<String, u64> = Default::default();
    let mut alerts = Vec::new();
    for (_, _, e) in &want {
        let author = e["author"].as_str().unwrap().to_owned();
        let before = e["seq"].as_u64().unwrap() - 1;
        let n = needed.entry(author).or_default();
        *n = (*n).max(before);
        for r in e["refs"].as_array().unwrap() {
            let r = r.as_str().unwrap();
            let (a, _) = r.split_once('#').unwrap();
            let n = needed.entry(a.to_owned()).or_default();
            *n = (*n).max(seq_of(r));
            if e["kind"] == "ack" {
                alerts.push(r.to_owned());
            }
        }
    }
    for (author, n) in &needed {
        for seq in 1..=*n {
            let id = format!("{author}#{seq}");
            let kind = if alerts.contains(&id) {
                "alert"
            } else {
                "note"
            };
            ok(d, &["post", "--as", author, "--kind", kind, "filler"]);
        }
    }
    for (block, _, e) in &want {
        let mut args: Vec<String> = ["post", "--as", e["author"].as_str().unwrap(), "--kind"]
            .map(str::to_owned)
            .into();
        args.push(e["kind"].as_str().unwrap().to_owned());
        for r in e["refs"].as_array().unwrap() {
            args.extend(["--ref".to_owned(), r.as_str().unwrap().to_owned()]);
        }
        for t in e.get("to").and_then(Value::as_array).into_iter().flatten() {
            args.extend(["--to".to_owned(), t.as_str().unwrap().to_owned()]);
        }
        if let Some(k) = e.get("key").and_then(Value::as_str) {
            args.extend(["--key".to_owned(), k.to_owned()]);
        }
        args.push(e["body"].as_str().unwrap().to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let id = ok(d, &args);
        assert_eq!(id.trim(), e["id"], "{}: the id", block.at());
    }
    let printed = ok(d, &["timeline", "-o", "ndjson"]);
    for (block, shown, e) in &want {
        let line = printed
            .lines()
            .find(|l| l.starts_with(&format!("{{\"id\":\"{}\"", e["id"].as_str().unwrap())))
            .unwrap_or_else(|| panic!("{}: no {} in {printed}", block.at(), e["id"]));
        assert_eq!(
            normalize(shown),
            normalize(line),
            "{}: the JSON form shown is not what `timeline -o ndjson` prints",
            block.at()
        );
    }
}

/// `roster.json` and `sealed.json` as FORMAT.md shows them, against a channel opened with the
/// roles shown and sealed by `warroom archive` after as many entries as the heads show.
#[test]
fn the_format_roster_and_seal_are_what_the_store_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let blocks = recipe_blocks("format-json-files");
    let roster = blocks
        .iter()
        .find(|b| parsed(b).get("roles").is_some())
        .expect("a roster.json block");
    let sealed = blocks
        .iter()
        .find(|b| parsed(b).get("heads").is_some())
        .expect("a sealed.json block");
    let (doc_roster, doc_sealed) = (parsed(roster), parsed(sealed));
    let roles: Vec<&str> = doc_roster["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .filter(|r| *r != "operator")
        .collect();
    let ch = ok(
        d,
        &[
            "open",
            "litellm-canary",
            "--date",
            "2026-05-04",
            "--roles",
            &roles.join(","),
        ],
    );
    let dot = d.join("channels").join(ch.trim()).join(".warroom");
    check_like(roster, &read_json(&dot.join("roster.json")), "roster.json");

    // The heads shown: each author's last seq (the operator's last is the seal itself).
    for (author, head) in doc_sealed["heads"].as_object().unwrap() {
        let seq = head["seq"].as_u64().unwrap();
        let posts = if author == "operator" { seq - 1 } else { seq };
        if author != "operator" && !roles.contains(&author.as_str()) {
            ok(d, &["roster", "add", author]);
        }
        for _ in 0..posts {
            ok(d, &["post", "--as", author, "an entry"]);
        }
    }
    // `reason` is in the file when `archive --reason` gave one, as the doc shows it.
    let mut archive = vec!["archive"];
    if doc_sealed.get("reason").is_some() {
        archive.extend(["--reason", "canary promoted"]);
    }
    ok(d, &archive);
    let real = read_json(&dot.join("sealed.json"));
    check_like(sealed, &real, "sealed.json");
    for (author, head) in doc_sealed["heads"].as_object().unwrap() {
        assert_eq!(
            real["heads"][author]["seq"],
            head["seq"],
            "{}: the head of {author}",
            sealed.at()
        );
    }
}

/// The state file FORMAT.md shows, against the pipeline observer's last state after the demo
/// (called by the demo's recipe with its store).
pub fn check_state(channel_dir: &Path) {
    for block in recipe_blocks("format-json-state") {
        let role = parsed(&block)["role"].as_str().unwrap().to_owned();
        let real = read_json(
            &channel_dir
                .join(".warroom/state")
                .join(format!("{role}.json")),
        );
        check_like(&block, &real, "the demo's state file");
    }
}

#[test]
fn like_finds_what_differs() {
    let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
    assert!(
        like(
            &v(r#"{"a":"x…","n":1,"t":"<ts>"}"#),
            &v(r#"{"a":"xyz","n":7,"t":"2026-05-04T17:15:04.123Z"}"#),
            ""
        )
        .is_empty()
    );
    assert!(
        like(
            &v(r#"{"s":"<16 hex>"}"#),
            &v(r#"{"s":"9f2c41d07a1e5b33"}"#),
            ""
        )
        .is_empty()
    );
    assert!(
        like(
            &v(r#"{"n":"litellm-67b4ccbdb4-2-1"}"#),
            &v(r#"{"n":"litellm-85bd767d57-2-1"}"#),
            ""
        )
        .is_empty()
    );
    assert_eq!(like(&v(r#"{"a":1}"#), &v(r#"{"a":1,"b":2}"#), "").len(), 1);
    assert_eq!(like(&v(r#"{"a":1,"b":2}"#), &v(r#"{"a":1}"#), "").len(), 1);
    assert_eq!(like(&v(r#"{"v":""}"#), &v(r#"{"v":"[]"}"#), "").len(), 1);
    assert_eq!(
        like(
            &v(r#"{"m":"reflect: slice"}"#),
            &v(r#"{"m":"no data"}"#),
            ""
        )
        .len(),
        1
    );
    assert_eq!(like(&v(r#"[1]"#), &v(r#"[1,2]"#), "").len(), 1);
    assert_eq!(like(&v(r#"{"b":true}"#), &v(r#"{"b":false}"#), "").len(), 1);
}
