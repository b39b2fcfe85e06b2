//! The channel store and its command line, driven through the real binary on real files.

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use harness::{Run, Sandbox};
use serde_json::Value;

fn entries(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn open_post_timeline_round_trip() {
    let sb = Sandbox::new();
    let open = sb.ok(&[
        "open",
        "litellm-canary",
        "--date",
        "2026-05-04",
        "--roles",
        "pipeline,terminal-1",
    ]);
    assert_eq!(open.stdout, "2026-05-04--litellm-canary\n");
    let brief = sb.read("channels/2026-05-04--litellm-canary/README.md");
    assert!(brief.contains("### pipeline — Rollout pipeline"), "{brief}");
    assert!(brief.contains("### terminal-1"), "{brief}");
    assert!(brief.contains("Go / no-go"), "{brief}");
    assert_eq!(
        sb.ok(&["post", "--as", "pipeline", "phase", "Progressing"])
            .stdout,
        "pipeline#1\n"
    );
    assert_eq!(
        sb.ok(&[
            "post",
            "--as",
            "terminal-1",
            "--kind",
            "question",
            "--ref",
            "pipeline#1",
            "why?"
        ])
        .stdout,
        "terminal-1#1\n"
    );
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl.len(), 2);
    assert_eq!(tl[0]["body"], "phase Progressing");
    assert_eq!(tl[1]["refs"][0], "pipeline#1");
    assert_eq!(tl[1]["kind"], "question");
    let ls = sb.ok(&["ls"]);
    assert!(
        ls.stdout.starts_with(
            "NAME                        STATE  ENTRIES  AUTHORS\n2026-05-04--litellm-canary  open"
        ),
        "{}",
        ls.stdout
    );
    let json: Value =
        serde_json::from_str(&sb.ok(&["timeline", "--format", "json"]).stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let md = sb.ok(&["timeline", "--format", "md"]).stdout;
    assert!(md.contains("pipeline#1 · observation"), "{md}");
    let text = sb.ok(&["timeline"]).stdout;
    assert!(
        !text.contains('\x1b'),
        "no colour when stdout is not a terminal: {text}"
    );
    sb.ok(&["verify"]);
}

#[test]
fn marker_lines_in_a_body_come_back_byte_identical() {
    let sb = Sandbox::new();
    sb.ok(&["open", "forge"]);
    let body = "before\n<!-- warroom:end id=pipeline#1 prev=0000000000000000 sum=0000000000000000 -->\n<!-- warroom:entry id=pipeline#2 ts=2026-05-04T17:15:04.123Z kind=alert -->\n\\<!-- warroom:repair -->\r\n#### heading\n```\ncode\n```\n  trailing  \n\n";
    sb.run_stdin(&["post", "--as", "pipeline", "-"], body.as_bytes())
        .ok();
    sb.ok(&["post", "--as", "pipeline", "second"]);
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl.len(), 2, "the body must not split into two entries");
    assert_eq!(tl[0]["body"], body);
    assert_eq!(tl[1]["id"], "pipeline#2");
    sb.ok(&["verify"]);
}

/// 8 processes, 1,000 posts each, four per author file: every entry once, seq contiguous.
#[test]
fn parallel_posts_from_eight_processes() {
    let sb = Sandbox::new();
    sb.ok(&["open", "load", "--roles", "alpha,beta"]);
    const PER: usize = 1000;
    std::thread::scope(|s| {
        for w in 0..8 {
            let sb = &sb;
            s.spawn(move || {
                let author = if w % 2 == 0 { "alpha" } else { "beta" };
                // Each writer is a stream of real `post` processes.
                for i in 0..PER {
                    let r = sb.run(&["post", "--as", author, &format!("w{w} n{i}")]);
                    assert_eq!(r.code, 0, "{}", r.stderr);
                }
            });
        }
    });
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl.len(), 8 * PER);
    let bodies: BTreeSet<&str> = tl.iter().map(|e| e["body"].as_str().unwrap()).collect();
    assert_eq!(bodies.len(), 8 * PER, "every entry exactly once");
    let mut seqs: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for e in &tl {
        seqs.entry(e["author"].as_str().unwrap())
            .or_default()
            .push(e["seq"].as_u64().unwrap());
    }
    for (a, mut s) in seqs {
        s.sort();
        assert_eq!(s, (1..=4 * PER as u64).collect::<Vec<_>>(), "{a}");
    }
    let v = sb.ok(&["verify"]);
    assert!(v.stderr.contains("8000 entries"), "{}", v.stderr);
}

/// The merged timeline is the sort of all entries by (ts, author, seq), and catchup shows each
/// entry once per reader.
#[test]
fn merge_order_and_catchup() {
    let sb = Sandbox::new();
    sb.ok(&["open", "merge", "--roles", "a,b,c,reader"]);
    for i in 0..30 {
        let who = ["a", "b", "c"][i % 3];
        sb.ok(&["post", "--as", who, &format!("{who} {i}")]);
        if i == 14 {
            let first = entries(&sb.ok(&["catchup", "--as", "reader", "--format", "ndjson"]));
            assert_eq!(first.len(), 15);
        }
    }
    sb.ok(&["post", "--as", "reader", "mine"]);
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    let key = |e: &Value| {
        (
            e["ts"].as_str().unwrap().to_owned(),
            e["author"].as_str().unwrap().to_owned(),
            e["seq"].as_u64().unwrap(),
        )
    };
    let mut sorted = tl.clone();
    sorted.sort_by_key(key);
    assert_eq!(tl, sorted);
    let second = entries(&sb.ok(&["catchup", "--as", "reader", "--format", "ndjson"]));
    assert_eq!(second.len(), 15, "only what came after the first catchup");
    assert!(second.iter().all(|e| e["author"] != "reader"));
    let third = sb.ok(&["catchup", "--as", "reader", "--format", "ndjson"]);
    assert_eq!(third.stdout, "", "nothing is shown twice");
    let filtered = entries(&sb.ok(&[
        "timeline", "--format", "ndjson", "--author", "a", "--since", "a#3",
    ]));
    assert_eq!(filtered.len(), 7);
    assert_eq!(filtered[0]["id"], "a#4");
}

fn channel_file(sb: &Sandbox, author: &str) -> std::path::PathBuf {
    let dir = std::fs::read_dir(sb.path("channels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    dir.join(format!("{author}.md"))
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn tampering_is_found_with_file_and_line() {
    for case in ["edit", "delete", "swap"] {
        let sb = Sandbox::new();
        sb.ok(&["open", "tamper", "--roles", "pipeline"]);
        for i in 1..=5 {
            sb.ok(&["post", "--as", "pipeline", &format!("entry number {i}")]);
        }
        let path = channel_file(&sb, "pipeline");
        let text = std::fs::read_to_string(&path).unwrap();
        let blocks: Vec<String> = text
            .split_inclusive("-->\n")
            .collect::<Vec<_>>()
            .chunks(2)
            .map(|c| c.concat())
            .collect();
        assert_eq!(blocks.len(), 5);
        let (changed, at) = match case {
            "edit" => (
                text.replacen("entry number 2", "entry number 7", 1),
                line_of(&text, "id=pipeline#2 ts"),
            ),
            "delete" => (
                text.replacen(&blocks[2], "", 1),
                line_of(&text, "id=pipeline#3 ts"),
            ),
            _ => {
                let mut b = blocks.clone();
                b.swap(1, 2);
                (b.concat(), line_of(&text, "id=pipeline#2 ts"))
            }
        };
        std::fs::write(&path, changed).unwrap();
        let v = sb.run(&["verify"]);
        assert_eq!(v.code, 1, "{case}: {v:?}");
        let rel = path.strip_prefix(sb.path("")).unwrap();
        let want = format!("{}:{at}: ", rel.display());
        assert!(
            v.stdout.contains(&want),
            "{case}: expected a finding at {want}\n{}",
            v.stdout
        );
    }
}

#[test]
fn a_torn_tail_is_reported_skipped_and_repaired() {
    let sb = Sandbox::new();
    sb.ok(&["open", "torn", "--roles", "pipeline"]);
    sb.ok(&["post", "--as", "pipeline", "committed one"]);
    let path = channel_file(&sb, "pipeline");
    let whole = std::fs::read(&path).unwrap();
    sb.ok(&["post", "--as", "pipeline", &"x".repeat(9000)]);
    // What a writer killed mid-write leaves: a prefix of its entry cut at a page boundary.
    let mut torn = std::fs::read(&path).unwrap();
    torn.truncate(whole.len() + 4096 - whole.len() % 4096);
    std::fs::write(&path, &torn).unwrap();
    let v = sb.run(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(v.stdout.contains("torn tail"), "{}", v.stdout);
    let tl = sb.ok(&["timeline", "--format", "ndjson"]);
    assert_eq!(entries(&tl).len(), 1, "the torn entry is never shown");
    assert!(tl.stderr.contains("skipped"), "{}", tl.stderr);
    assert_eq!(
        sb.ok(&["post", "--as", "pipeline", "after the tear"])
            .stdout,
        "pipeline#2\n"
    );
    let v = sb.ok(&["verify"]);
    assert!(
        v.stdout.contains("note:") && v.stdout.contains("closed off by the repair marker"),
        "{}",
        v.stdout
    );
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    assert_eq!(tl.len(), 2);
    assert_eq!(tl[1]["body"], "after the tear");
}

/// SIGKILL a bulk writer at random moments while it appends bodies near the body limit
/// (raised to 4 MiB, so the kill often lands inside the one `write(2)`): every entry it
/// reported is still there, torn bytes are reported by verify and skipped by timeline, and the
/// next post closes them off. One channel per round keeps the files small.
#[test]
fn sigkill_mid_write_loses_no_committed_entry() {
    const ROUNDS: u64 = 30;
    const LIMIT: usize = 4 * 1024 * 1024;
    let sb = Sandbox::new();
    let body = "k".repeat(LIMIT - 1024);
    let line = format!("{{\"body\":\"{body}\"}}\n");
    let root = sb.path("channels");
    let mut torn_rounds = 0;
    let mut kept = 0;
    for round in 0..ROUNDS {
        let channel = sb
            .ok(&["open", &format!("kill-{round}"), "--roles", "pipeline"])
            .stdout;
        let channel = channel.trim();
        let mut child = Command::new(harness::BIN)
            .args([
                "--root",
                root.to_str().unwrap(),
                "post",
                "--channel",
                channel,
            ])
            .args([
                "--as",
                "pipeline",
                "--bulk",
                "--max-body",
                &LIMIT.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feeder = {
            let line = line.clone();
            std::thread::spawn(move || while stdin.write_all(line.as_bytes()).is_ok() {})
        };
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut committed = BTreeSet::new();
        // Time one loop of the writer (read a draft, encode, one write, print the id), then
        // kill it shortly before the next id is due: the write is the last step of a loop.
        let mut id = String::new();
        out.read_line(&mut id).unwrap();
        committed.insert(id.trim().to_owned());
        let t0 = std::time::Instant::now();
        id.clear();
        out.read_line(&mut id).unwrap();
        committed.insert(id.trim().to_owned());
        let period = t0.elapsed();
        let back = period.mul_f64(0.02 + 0.15 * ((round * 7919) % 100) as f64 / 100.0);
        std::thread::sleep(period.saturating_sub(back));
        child.kill().unwrap();
        child.wait().unwrap();
        // Ids printed before the kill landed are committed too.
        for l in out.lines() {
            committed.insert(l.unwrap());
        }
        feeder.join().unwrap();
        let v = sb.run(&["verify", "--channel", channel]);
        let torn = v.code == 1;
        if torn {
            let findings: Vec<&str> = v
                .stdout
                .lines()
                .filter(|l| !l.starts_with("note:"))
                .collect();
            assert!(
                findings.len() == 1 && findings[0].contains("torn tail"),
                "{}",
                v.stdout
            );
            let tl = sb.ok(&["timeline", "--channel", channel, "--format", "ndjson"]);
            assert!(
                tl.stderr.contains("skipped"),
                "torn bytes are reported: {}",
                tl.stderr
            );
            torn_rounds += 1;
        } else {
            assert_eq!(v.code, 0, "{v:?}");
        }
        // The next post closes off any tear and succeeds.
        sb.ok(&[
            "post",
            "--channel",
            channel,
            "--as",
            "pipeline",
            "after the kill",
        ]);
        let v = sb.ok(&["verify", "--channel", channel]);
        let repaired = v
            .stdout
            .lines()
            .filter(|l| l.contains("closed off by the repair marker"))
            .count();
        assert_eq!(repaired, usize::from(torn), "{}", v.stdout);
        let tl = entries(&sb.ok(&["timeline", "--channel", channel, "--format", "ndjson"]));
        let ids: BTreeSet<String> = tl
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        for id in &committed {
            assert!(ids.contains(id), "round {round}: committed entry {id} lost");
        }
        assert!(
            tl.iter()
                .all(|e| e["body"] == body.as_str() || e["body"] == "after the kill")
        );
        kept += committed.len();
    }
    eprintln!("{torn_rounds} of {ROUNDS} kills left a torn tail; {kept} committed entries kept");
    assert!(
        torn_rounds > 0,
        "no kill landed mid-write in {ROUNDS} rounds: the test did not exercise a tear"
    );
}

#[test]
fn bad_names_are_refused_before_touching_the_disk() {
    let sb = Sandbox::new();
    sb.ok(&["open", "names", "--roles", "pipeline"]);
    let before = sb.snapshot();
    let long = "a".repeat(300);
    for bad in ["..", "a/b", "Upper", "", &long, "../escape"] {
        let r = sb.run(&["open", bad]);
        assert_eq!(r.code, 2, "open {bad:?}: {r:?}");
        assert!(r.stderr.contains("invalid theme name"), "{}", r.stderr);
        let r = sb.run(&["post", "--as", bad, "x"]);
        assert_eq!(r.code, 2, "post --as {bad:?}: {r:?}");
        assert!(r.stderr.contains("invalid author name"), "{}", r.stderr);
        let r = sb.run(&["post", "--channel", bad, "--as", "pipeline", "x"]);
        assert_eq!(r.code, 2, "post --channel {bad:?}: {r:?}");
        let r = sb.run(&["open", "ok", "--roles", bad]);
        assert_eq!(r.code, 2, "open --roles {bad:?}: {r:?}");
    }
    let r = sb.run(&["post", "--as", "stranger", "hello"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("not on the roster") && r.stderr.contains("warroom roster add"),
        "{}",
        r.stderr
    );
    assert_eq!(sb.snapshot(), before, "nothing written");
}

#[test]
fn bad_bodies_are_refused_with_nothing_written() {
    let sb = Sandbox::new();
    sb.ok(&["open", "bodies", "--roles", "pipeline"]);
    sb.ok(&["post", "--as", "pipeline", "first"]);
    let before = sb.snapshot();
    let big = "b".repeat(64 * 1024 + 1);
    let r = sb.run_stdin(&["post", "--as", "pipeline", "-"], big.as_bytes());
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("over the limit of 65536 bytes"),
        "{}",
        r.stderr
    );
    let r = sb.run_stdin(&["post", "--as", "pipeline", "-"], b"caf\xc3\x28 invalid");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not valid UTF-8"), "{}", r.stderr);
    let r = sb.run(&["post", "--as", "pipeline", "--kind", "gossip", "x"]);
    assert_eq!(r.code, 2);
    let r = sb.run(&["post", "--as", "pipeline", "--ref", "pipeline#9", "x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    let r = sb.run(&["post", "--as", "pipeline", "--kind", "correction", "x"]);
    assert_eq!(r.code, 2);
    assert_eq!(sb.snapshot(), before, "nothing written");
    // The limit is configurable.
    sb.ok(&["post", "--as", "pipeline", "--max-body", "100000", &big]);
}

#[test]
fn a_missing_root_is_an_error_for_all_but_open() {
    let sb = Sandbox::new();
    for args in [
        &["ls"][..],
        &["post", "--as", "pipeline", "x"],
        &["timeline"],
        &["catchup", "--as", "operator"],
        &["verify"],
        &["roster", "add", "x"],
    ] {
        let r = sb.run(args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("does not exist") && r.stderr.contains("warroom open"),
            "{}",
            r.stderr
        );
    }
    assert!(!sb.path("channels").exists(), "nothing created");
    sb.ok(&[
        "--root",
        sb.path("deep/er/root").to_str().unwrap(),
        "open",
        "x",
    ]);
    assert!(sb.path("deep/er/root/.gitignore").exists());
}

#[test]
fn a_read_only_channel_directory_is_an_io_error() {
    let sb = Sandbox::new();
    sb.ok(&["open", "ro", "--roles", "pipeline"]);
    sb.ok(&["post", "--as", "pipeline", "before"]);
    let dir = channel_file(&sb, "pipeline").parent().unwrap().to_owned();
    let before = sb.snapshot();
    harness::make_read_only(&dir);
    // A new author file cannot be created; an existing one cannot be opened for writing.
    for role in ["pipeline", "operator"] {
        let r = sb.run_unprivileged(&["post", "--as", role, "x"]);
        assert_eq!(r.code, 3, "{role}: {r:?}");
        assert!(
            r.stderr.contains("Permission denied") || r.stderr.contains("Read-only"),
            "{}",
            r.stderr
        );
        let rel = dir.strip_prefix(sb.path("")).unwrap();
        assert!(
            r.stderr.contains(rel.to_str().unwrap()),
            "the error names the path: {}",
            r.stderr
        );
    }
    harness::make_writable(&dir);
    assert_eq!(sb.snapshot(), before, "nothing written");
}

/// Library level: 8 threads appending 64 KiB bodies to two author files through their own
/// writers: every entry once, seq contiguous, verify passes.
#[test]
fn library_writers_with_64k_bodies() {
    use warroom::channel::store::{PostOptions, Role};
    use warroom::channel::{Author, Draft, Kind, Store, Theme};
    let sb = Sandbox::new();
    let store = Store::create(&sb.path("channels")).unwrap();
    let roles = ["alpha", "beta"].map(|a| Role {
        name: Author::new(a).unwrap(),
        title: None,
        lane: None,
    });
    let channel = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("big").unwrap(),
            roles.to_vec(),
        )
        .unwrap();
    const PER: usize = 40;
    std::thread::scope(|s| {
        for t in 0..8 {
            let channel = &channel;
            s.spawn(move || {
                let author = Author::new(if t % 2 == 0 { "alpha" } else { "beta" }).unwrap();
                let mut w = channel.writer(&author, t < 4).unwrap();
                for i in 0..PER {
                    let mut body = format!("t{t} i{i} ");
                    body.push_str(&"é".repeat((64 * 1024 - body.len()) / 2));
                    let draft = Draft {
                        kind: Kind::Observation,
                        refs: vec![],
                        body,
                        ..Default::default()
                    };
                    channel
                        .check_draft(&author, &draft, &PostOptions::default())
                        .unwrap();
                    w.append(&draft).unwrap();
                }
            });
        }
    });
    let report = warroom::channel::verify::verify(&channel).unwrap();
    assert!(report.intact(), "{:?}", report.findings);
    assert_eq!(report.entries, 8 * PER as u64);
    let mut seen = BTreeMap::<String, Vec<u64>>::new();
    let mut bodies = BTreeSet::new();
    for e in
        warroom::timeline::Merge::open(&channel, Default::default(), |p| panic!("{p}")).unwrap()
    {
        let e = e.unwrap();
        assert!(e.body.len() > 64 * 1024 - 2 && e.body.len() <= 64 * 1024);
        bodies.insert(
            e.body.split(' ').next().unwrap().to_owned() + e.body.split(' ').nth(1).unwrap(),
        );
        seen.entry(e.author.to_string()).or_default().push(e.seq);
    }
    assert_eq!(bodies.len(), 8 * PER);
    for (a, s) in seen {
        let mut sorted = s.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=4 * PER as u64).collect::<Vec<_>>(), "{a}");
    }
}

/// `post --bulk` holds the author file's lock only while input is already buffered: a bulk
/// writer waiting on a quiet pipe does not hold up a `post` as the same role.
#[test]
fn an_idle_bulk_writer_does_not_block_other_posts() {
    let sb = Sandbox::new();
    sb.ok(&["open", "bulk", "--roles", "pipeline"]);
    let mut bulk = sb
        .command(&["post", "--as", "pipeline", "--bulk"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = bulk.stdin.take().unwrap();
    stdin.write_all(b"{\"body\":\"from bulk\"}\n").unwrap();
    let mut out = BufReader::new(bulk.stdout.take().unwrap());
    let mut id = String::new();
    out.read_line(&mut id).unwrap();
    assert_eq!(id, "pipeline#1\n");
    // The bulk writer now waits for input. A post as the same role must finish.
    let mut post = sb
        .command(&["post", "--as", "pipeline", "meanwhile"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let finished = (0..300).any(|_| {
        let done = post.try_wait().unwrap().is_some();
        if !done {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        done
    });
    if !finished {
        let _ = post.kill();
    }
    stdin.write_all(b"{\"body\":\"bulk again\"}\n").unwrap();
    drop(stdin);
    assert!(bulk.wait().unwrap().success());
    assert!(finished, "a post waited on an idle bulk writer's lock");
    let tl = entries(&sb.ok(&["timeline", "--format", "ndjson"]));
    let bodies: Vec<&str> = tl.iter().map(|e| e["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["from bulk", "meanwhile", "bulk again"]);
    sb.ok(&["verify"]);
}
