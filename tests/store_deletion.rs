//! Deleted history, through the real binary: what `verify` detects before sealing (witnesses:
//! refs and catchup cursors) and after it (the heads recorded in the seal and in the archive
//! index).

mod harness;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use harness::Sandbox;

fn channel_dir(sb: &Sandbox) -> PathBuf {
    std::fs::read_dir(sb.path("channels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap()
}

/// A channel where pipeline posted three entries and traffic one.
fn channel() -> (Sandbox, PathBuf) {
    let sb = Sandbox::new();
    sb.ok(&["open", "gone", "--roles", "pipeline,traffic"]);
    for body in ["one", "two", "three"] {
        sb.ok(&["post", "--as", "pipeline", "--no-sync", body]);
    }
    let dir = channel_dir(&sb);
    (sb, dir)
}

/// Makes `path` writable (a sealed channel's files are read-only) and cuts it to `len` bytes.
fn truncate(path: &Path, len: u64) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    perms.set_mode(perms.mode() | 0o200);
    std::fs::set_permissions(path, perms).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

/// The byte offset where pipeline's entry `seq` starts.
fn entry_start(path: &Path, seq: u64) -> u64 {
    let text = std::fs::read_to_string(path).unwrap();
    text.find(&format!("<!-- warroom:entry id=pipeline#{seq} "))
        .unwrap() as u64
}

fn verify_findings(sb: &Sandbox) -> String {
    let v = sb.run(&["verify", "--channel", "gone"]);
    assert_eq!(v.code, 1, "verify found nothing: {v:?}");
    v.stdout
}

#[test]
fn before_sealing_a_ref_to_a_deleted_entry_is_a_finding() {
    let (sb, dir) = channel();
    sb.ok(&["post", "--as", "traffic", "--ref", "pipeline#3", "seen it"]);
    let path = dir.join("pipeline.md");
    truncate(&path, entry_start(&path, 3));
    let out = verify_findings(&sb);
    assert!(
        out.contains("traffic.md:1: entry traffic#1 refs pipeline#3, which does not exist (pipeline.md ends at pipeline#2)"),
        "{out}"
    );
    // A whole file deleted is found the same way.
    std::fs::remove_file(&path).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("refs pipeline#3, which does not exist (there is no pipeline.md)"),
        "{out}"
    );
}

#[test]
fn before_sealing_a_cursor_past_the_end_is_a_finding() {
    let (sb, dir) = channel();
    sb.ok(&["catchup", "--as", "traffic"]);
    let path = dir.join("pipeline.md");
    truncate(&path, entry_start(&path, 2));
    let out = verify_findings(&sb);
    assert!(
        out.contains("cursors/traffic.json: traffic's catchup cursor has seen pipeline#3, but pipeline.md ends at pipeline#1"),
        "{out}"
    );
}

#[test]
fn before_sealing_a_clean_truncation_without_witnesses_is_not_detected() {
    // The documented limit (docs/FORMAT.md, "What verify detects"): nothing in the record
    // remembers the cut-off entries.
    let (sb, dir) = channel();
    let path = dir.join("pipeline.md");
    truncate(&path, entry_start(&path, 3));
    let v = sb.ok(&["verify", "--channel", "gone"]);
    assert!(v.stdout.is_empty(), "{}", v.stdout);
}

/// Seals the channel; returns the seal marker's JSON.
fn seal(sb: &Sandbox, dir: &Path) -> serde_json::Value {
    sb.ok(&["archive", "--reason", "done"]);
    serde_json::from_slice(&std::fs::read(dir.join(".warroom/sealed.json")).unwrap()).unwrap()
}

#[test]
fn the_seal_records_every_authors_last_entry() {
    let (sb, dir) = channel();
    sb.ok(&["post", "--as", "traffic", "hi"]);
    let marker = seal(&sb, &dir);
    let heads = marker["heads"].as_object().unwrap();
    assert_eq!(
        heads.keys().collect::<Vec<_>>(),
        ["operator", "pipeline", "traffic"]
    );
    assert_eq!(heads["pipeline"]["seq"], 3);
    assert_eq!(
        heads["operator"]["seq"], 1,
        "the seal entry is the operator's head"
    );
    let text = std::fs::read_to_string(dir.join("pipeline.md")).unwrap();
    let sum = heads["pipeline"]["sum"].as_str().unwrap();
    assert!(
        text.ends_with(&format!("sum={sum} -->\n")),
        "the head is the last entry's sum: {sum}"
    );
    sb.ok(&["verify", "--channel", "gone"]);
}

#[test]
fn after_sealing_a_clean_truncation_is_a_finding() {
    let (sb, dir) = channel();
    seal(&sb, &dir);
    let path = dir.join("pipeline.md");
    truncate(&path, entry_start(&path, 3));
    let out = verify_findings(&sb);
    assert!(
        out.contains("pipeline.md: ends at pipeline#2, but the seal records pipeline#3 (sum "),
        "{out}"
    );
    assert!(
        out.contains("1 entries were removed after sealing"),
        "{out}"
    );
}

#[test]
fn after_sealing_a_deleted_author_file_is_a_finding() {
    let (sb, dir) = channel();
    seal(&sb, &dir);
    std::fs::remove_file(dir.join("pipeline.md")).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("pipeline.md: missing: the seal (")
            && out.contains("records pipeline#3 (sum "),
        "{out}"
    );
}

#[test]
fn after_sealing_a_repair_marker_hiding_the_last_entry_is_a_finding() {
    let (sb, dir) = channel();
    seal(&sb, &dir);
    let path = dir.join("pipeline.md");
    // Hide pipeline#3: cut its end marker and close it off as if it were torn.
    let text = std::fs::read_to_string(&path).unwrap();
    let at = entry_start(&path, 3);
    let end = text.rfind("<!-- warroom:end ").unwrap();
    let hidden = format!(
        "{}<!-- warroom:repair ts=2026-12-02T10:00:00.000Z torn-at={at} torn-bytes={} -->\n",
        &text[..end],
        end as u64 - at
    );
    truncate(&path, 0);
    std::fs::write(&path, hidden).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("pipeline.md: ends at pipeline#2, but the seal records pipeline#3"),
        "{out}"
    );
}

#[test]
fn after_sealing_an_added_file_or_entry_is_a_finding() {
    let (sb, dir) = channel();
    seal(&sb, &dir);
    // A file copied in from another channel: valid on its own, not in the seal.
    std::fs::copy(dir.join("pipeline.md"), dir.join("traffic.md")).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("traffic.md: 3 entries, but the seal (")
            && out.contains("records no head for traffic: the file was added after sealing"),
        "{out}"
    );
}

#[test]
fn a_seal_without_heads_still_verifies_with_a_note() {
    let (sb, dir) = channel();
    let mut marker = seal(&sb, &dir);
    marker.as_object_mut().unwrap().remove("heads");
    std::fs::write(
        dir.join(".warroom/sealed.json"),
        serde_json::to_vec_pretty(&marker).unwrap(),
    )
    .unwrap();
    // That version wrote no heads into the archive index either.
    let index = sb.path("channels/README.md");
    let text = std::fs::read_to_string(&index).unwrap();
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with("<!-- warroom:heads "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&index, kept).unwrap();
    let v = sb.ok(&["verify", "--channel", "gone"]);
    assert!(
        v.stdout.contains("note:") && v.stdout.contains("sealed by a version that did not record"),
        "{}",
        v.stdout
    );
}

/// The archive index's hidden line for the channel.
fn index_line(sb: &Sandbox) -> String {
    sb.read("channels/README.md")
        .lines()
        .find(|l| l.starts_with("<!-- warroom:heads channel="))
        .unwrap_or_else(|| panic!("no heads line in {}", sb.read("channels/README.md")))
        .to_owned()
}

#[test]
fn the_archive_index_records_every_authors_last_entry() {
    let (sb, dir) = channel();
    let marker = seal(&sb, &dir);
    let heads = &marker["heads"];
    let name = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        index_line(&sb),
        format!(
            "<!-- warroom:heads channel={name} operator=1:{} pipeline=3:{} -->",
            heads["operator"]["sum"].as_str().unwrap(),
            heads["pipeline"]["sum"].as_str().unwrap()
        )
    );
    // Archiving again (the pages are re-rendered) writes the same index.
    let before = sb.read("channels/README.md");
    sb.ok(&["archive", "--channel", "gone"]);
    assert_eq!(sb.read("channels/README.md"), before);
    sb.ok(&["verify", "--channel", "gone"]);
}

#[test]
fn after_archiving_a_truncation_hidden_by_a_rewritten_seal_is_found_through_the_index() {
    let (sb, dir) = channel();
    let mut marker = seal(&sb, &dir);
    let path = dir.join("pipeline.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let cut = entry_start(&path, 3);
    // pipeline#2's sum: what a consistent rewrite of sealed.json would record.
    let sum2 = text[..cut as usize]
        .rsplit_once(" sum=")
        .unwrap()
        .1
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    truncate(&path, cut);
    marker["heads"]["pipeline"] = serde_json::json!({"seq": 2, "sum": sum2});
    let seal_path = dir.join(".warroom/sealed.json");
    std::fs::write(&seal_path, serde_json::to_vec_pretty(&marker).unwrap()).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("sealed.json: records heads operator#1 pipeline#2, but the archive index (")
            && out.contains(
                "records operator#1 pipeline#3: one of them was rewritten after archiving"
            ),
        "{out}"
    );
    assert!(
        out.contains(
            "pipeline.md: ends at pipeline#2, but the archive index records pipeline#3 (sum "
        ) && out.contains("1 entries were removed after sealing"),
        "{out}"
    );

    // Archiving another channel rewrites the index but keeps this channel's line as it was:
    // it does not take the rewritten seal's word for it.
    let line = index_line(&sb);
    sb.ok(&["open", "other", "--roles", "pipeline"]);
    sb.ok(&["post", "--as", "pipeline", "--channel", "other", "x"]);
    sb.ok(&["archive", "--channel", "other"]);
    assert!(sb.read("channels/README.md").contains(&line));
    let out = verify_findings(&sb);
    assert!(
        out.contains("the archive index records pipeline#3"),
        "{out}"
    );

    // The seal marker removed as well: the channel would take posts again.
    std::fs::remove_file(&seal_path).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("sealed.json: missing: the archive index (")
            && out.contains("but the seal marker is gone: it was removed after archiving"),
        "{out}"
    );
    assert!(
        out.contains("pipeline.md: ends at pipeline#2, but the archive index records pipeline#3"),
        "{out}"
    );
}

#[test]
fn a_damaged_heads_line_in_the_archive_index_is_a_finding() {
    let (sb, dir) = channel();
    seal(&sb, &dir);
    let index = sb.path("channels/README.md");
    let text = std::fs::read_to_string(&index).unwrap();
    std::fs::write(&index, text.replace("pipeline=3:", "pipeline=three:")).unwrap();
    let out = verify_findings(&sb);
    assert!(
        out.contains("README.md: the line that records channel ")
            && out.contains("heads is damaged"),
        "{out}"
    );
}

/// pipeline.md with its last entry's end marker cut off and a repair marker in its place,
/// written by hand as `marker` (given the torn bytes' offset and length).
fn hide_last_entry(path: &Path, marker: impl Fn(u64, u64) -> String) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let at = entry_start(path, 3);
    let end = text.rfind("<!-- warroom:end ").unwrap();
    let hidden = format!("{}{}", &text[..end], marker(at, end as u64 - at));
    std::fs::write(path, &hidden).unwrap();
    hidden
}

#[test]
fn before_sealing_a_hand_written_marker_hiding_the_last_entry_is_a_finding_and_blocks_posts() {
    let (sb, dir) = channel();
    let path = dir.join("pipeline.md");
    // As an older writer would write it: offsets right, no torn-sum.
    let hidden = hide_last_entry(&path, |at, n| {
        format!("<!-- warroom:repair ts=2026-12-02T10:00:00.000Z torn-at={at} torn-bytes={n} -->\n")
    });
    let out = verify_findings(&sb);
    assert!(
        out.contains("the file ends with a repair marker without torn-sum and no entry after it"),
        "{out}"
    );
    // The next post would reuse pipeline#3: it is refused, nothing written.
    let p = sb.run(&["post", "--as", "pipeline", "--channel", "gone", "four"]);
    assert_eq!(p.code, 3, "{p:?}");
    assert!(
        p.stderr
            .contains("the file ends with a repair marker that was not left by a writer")
            && p.stderr.contains("restore the file from git"),
        "{}",
        p.stderr
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), hidden);

    // Without offsets, or with wrong ones, or with a torn-sum that does not match.
    for (marker, want) in [
        (
            "<!-- warroom:repair ts=2026-12-02T10:00:00.000Z -->\n".to_owned(),
            "does not say what it closes off",
        ),
        (
            "<!-- warroom:repair ts=2026-12-02T10:00:00.000Z torn-at=1 torn-bytes=2 -->\n"
                .to_owned(),
            "says it closes off 2 bytes at byte offset 1",
        ),
    ] {
        let (sb, dir) = channel();
        let path = dir.join("pipeline.md");
        hide_last_entry(&path, |_, _| marker.clone());
        let out = verify_findings(&sb);
        assert!(out.contains(want), "{want}\n{out}");
        let p = sb.run(&["post", "--as", "pipeline", "--channel", "gone", "four"]);
        assert_eq!(p.code, 3, "{p:?}");
    }
    let (sb, dir) = channel();
    let path = dir.join("pipeline.md");
    hide_last_entry(&path, |at, n| {
        format!(
            "<!-- warroom:repair ts=2026-12-02T10:00:00.000Z torn-at={at} torn-bytes={n} torn-sum=0123456789abcdef -->\n"
        )
    });
    let out = verify_findings(&sb);
    assert!(
        out.contains("do not match its torn-sum (0123456789abcdef, found "),
        "{out}"
    );
}

/// A tear closed off by the next post: pipeline#3's write cut short, then "four" posted.
fn repaired_tear() -> (Sandbox, PathBuf) {
    let (sb, dir) = channel();
    let path = dir.join("pipeline.md");
    let len = std::fs::metadata(&path).unwrap().len();
    let at = entry_start(&path, 3);
    truncate(&path, at + (len - at) / 2);
    assert_eq!(
        sb.ok(&["post", "--as", "pipeline", "--channel", "gone", "four"])
            .stdout,
        "pipeline#3\n"
    );
    (sb, path)
}

#[test]
fn a_repair_marker_records_what_it_closed_off() {
    let (sb, path) = repaired_tear();
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = text
        .lines()
        .find(|l| l.starts_with("<!-- warroom:repair "))
        .unwrap();
    assert!(marker.contains(" torn-sum="), "{marker}");
    let v = sb.ok(&["verify", "--channel", "gone"]);
    assert!(
        v.stdout.contains("closed off by the repair marker"),
        "{}",
        v.stdout
    );
    assert!(!v.stdout.contains("older marker"), "{}", v.stdout);
    // An older writer's marker (no torn-sum) still verifies, with a note saying so.
    let start = marker.find(" torn-sum=").unwrap();
    let old = format!("{}{}", &marker[..start], &marker[start + 26..]);
    std::fs::write(&path, text.replace(marker, &old)).unwrap();
    let v = sb.ok(&["verify", "--channel", "gone"]);
    assert!(
        v.stdout.contains("(an older marker, without torn-sum)"),
        "{}",
        v.stdout
    );
    // A byte changed in the closed-off bytes is a finding.
    let mut bytes = text.into_bytes();
    let at = entry_start(&path, 3) as usize;
    bytes[at + 30] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let out = verify_findings(&sb);
    assert!(out.contains("do not match its torn-sum"), "{out}");
}
