//! Hostile files in a channel, through the real binary: a newline-less tail far over the line
//! limit (what a power loss can leave), and `*.md` names that are not regular files.

mod harness;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{BIN, Run, Sandbox};

const MIB: u64 = 1024 * 1024;

fn channel_file(sb: &Sandbox, author: &str) -> PathBuf {
    channel_dir(sb).join(format!("{author}.md"))
}

fn channel_dir(sb: &Sandbox) -> PathBuf {
    std::fs::read_dir(sb.path("channels"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap()
}

/// A channel with two pipeline entries and one traffic entry, then `zeros` zero bytes appended
/// to pipeline.md (a sparse extension: what ext4 shows after a power loss cut a write short).
/// Returns the sandbox and pipeline.md's length before the zeros.
fn zero_tail(zeros: u64) -> (Sandbox, u64) {
    let sb = Sandbox::new();
    sb.ok(&["open", "zeros", "--roles", "pipeline,traffic"]);
    sb.ok(&["post", "--as", "pipeline", "--no-sync", "one"]);
    sb.ok(&["post", "--as", "pipeline", "--no-sync", "two"]);
    sb.ok(&["post", "--as", "traffic", "--no-sync", "three"]);
    let path = channel_file(&sb, "pipeline");
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len + zeros).unwrap();
    (sb, len)
}

/// Runs the binary under /usr/bin/time: the run, its wall time, and its peak RSS in bytes.
fn measured(sb: &Sandbox, args: &[&str]) -> (Run, Duration, u64) {
    let started = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("maxrss-kib=%M")
        .arg(BIN)
        .args(args)
        .current_dir(sb.path(""))
        .env_remove("WARROOM_ROOT")
        .env_remove("WARROOM_CHANNEL")
        .output()
        .expect("run /usr/bin/time");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (rest, rss) = stderr
        .trim_end()
        .rsplit_once("maxrss-kib=")
        .unwrap_or_else(|| panic!("no RSS from /usr/bin/time: {stderr}"));
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: rest.to_owned(),
    };
    (run, took, rss.trim().parse::<u64>().unwrap() * 1024)
}

/// The fastest of three `verify` runs, and the largest peak RSS among them.
fn verify_cost(sb: &Sandbox) -> (Run, Duration, u64) {
    let mut best: Option<(Run, Duration, u64)> = None;
    let mut peak = 0;
    for _ in 0..3 {
        let (run, took, rss) = measured(sb, &["verify"]);
        peak = peak.max(rss);
        if best.as_ref().is_none_or(|b| took < b.1) {
            best = Some((run, took, rss));
        }
    }
    let (run, took, _) = best.unwrap();
    (run, took, peak)
}

#[test]
fn a_zero_filled_tail_over_the_line_limit_is_read_linearly_in_bounded_memory() {
    let (small, _) = zero_tail(16 * MIB);
    let (big, len) = zero_tail(256 * MIB);
    let (v16, t16, _) = verify_cost(&small);
    let (v256, t256, rss) = verify_cost(&big);
    assert_eq!(v16.code, 1, "{v16:?}");
    assert_eq!(v256.code, 1, "{v256:?}");
    let path = channel_file(&big, "pipeline");
    let mut head = vec![0u8; len as usize];
    std::os::unix::fs::FileExt::read_exact_at(&std::fs::File::open(&path).unwrap(), &mut head, 0)
        .unwrap();
    let line = head.iter().filter(|&&b| b == b'\n').count() + 1;
    let want = format!(
        "{}:{line}: torn tail: the last {} bytes (from byte offset {len}) are not a complete entry",
        path.strip_prefix(big.path("")).unwrap().display(),
        256 * MIB
    );
    assert!(v256.stdout.contains(&want), "{want}\n{}", v256.stdout);
    assert!(
        v256.stderr.contains("3 entries in 2 files"),
        "{}",
        v256.stderr
    );
    // Linear time: 16 times the bytes must not take anywhere near 256 times as long (a
    // quadratic reader did). A ratio of two runs on the same machine, not a wall-clock limit.
    let ratio = t256.as_secs_f64() / t16.as_secs_f64();
    eprintln!(
        "verify: 16 MiB tail {t16:?}, 256 MiB tail {t256:?}, ratio {ratio:.1}, peak RSS {rss} bytes"
    );
    assert!(
        ratio < 64.0,
        "verify time grew {ratio:.1}x for 16x the bytes"
    );
    assert!(
        rss < 128 * MIB,
        "verify of a 256 MiB tail peaked at {rss} bytes"
    );

    // The rest of the channel reads as before.
    let tl = big.ok(&["timeline", "--format", "ndjson"]);
    assert_eq!(tl.stdout.lines().count(), 3, "{}", tl.stdout);
    assert!(tl.stderr.contains("skipped"), "{}", tl.stderr);
    let ls = big.ok(&["ls"]);
    assert!(ls.stdout.contains("pipeline:2 traffic:1"), "{}", ls.stdout);

    // The next post closes the zeros off like any torn tail, in bounded memory.
    let (post, _, post_rss) = measured(&big, &["post", "--as", "pipeline", "after the zeros"]);
    assert_eq!(post.code, 0, "{post:?}");
    assert_eq!(post.stdout, "pipeline#3\n");
    assert!(post_rss < 128 * MIB, "post peaked at {post_rss} bytes");
    let file_len = std::fs::metadata(&path).unwrap().len();
    let mut end = vec![0u8; 4096];
    use std::os::unix::fs::FileExt;
    std::fs::File::open(&path)
        .unwrap()
        .read_exact_at(&mut end, file_len - 4096)
        .unwrap();
    let end = String::from_utf8_lossy(&end);
    assert!(
        end.contains(&format!("torn-at={len} torn-bytes={}", 256 * MIB)),
        "{end}"
    );
    let v = big.ok(&["verify"]);
    assert!(
        v.stdout.contains(&format!(
            "{} torn bytes (a line over the 16 MiB limit) closed off by the repair marker",
            256 * MIB + 1
        )),
        "{}",
        v.stdout
    );
    let tl = big.ok(&["timeline", "--format", "ndjson"]);
    assert_eq!(tl.stdout.lines().count(), 4, "{}", tl.stdout);
    assert!(tl.stdout.contains("after the zeros"));
}

/// Runs the binary with a deadline: a command that blocks (on a FIFO) fails the test instead
/// of hanging it.
fn run_within(sb: &Sandbox, args: &[&str], deadline: Duration) -> Run {
    let mut child = sb
        .command(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`warroom {}` blocked for {deadline:?}", args.join(" "));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn md_names_that_are_not_regular_files_are_findings_and_never_block() {
    let sb = Sandbox::new();
    sb.ok(&["open", "odd", "--roles", "pipeline,fifo,dir,dangling,sock"]);
    sb.ok(&["post", "--as", "pipeline", "a real entry"]);
    let dir = channel_dir(&sb);
    let made = Command::new("mkfifo")
        .arg(dir.join("fifo.md"))
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::create_dir(dir.join("dir.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling.md")).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("sock.md")).unwrap();
    // Generous: only a command that blocks gets anywhere near it.
    let deadline = Duration::from_secs(60);

    let v = run_within(&sb, &["verify"], deadline);
    assert_eq!(v.code, 1, "{v:?}");
    for (name, what) in [
        ("fifo.md", "a FIFO (named pipe)"),
        ("dir.md", "a directory"),
        ("dangling.md", "a symbolic link"),
        ("sock.md", "a socket"),
    ] {
        let want = format!("{name}: {what}, not a regular file: it was not read");
        assert!(v.stdout.contains(&want), "{want}\n{}", v.stdout);
    }
    assert!(
        v.stderr.contains("1 entries in 1 files, 4 finding(s)"),
        "{}",
        v.stderr
    );

    let tl = run_within(&sb, &["timeline", "--format", "ndjson"], deadline);
    assert_eq!(tl.code, 0, "{tl:?}");
    assert_eq!(tl.stdout.lines().count(), 1, "{}", tl.stdout);
    // Each name the timeline does not read is told on stderr, not skipped in silence.
    for (name, what) in [
        ("fifo.md", "a FIFO (named pipe)"),
        ("dir.md", "a directory"),
        ("dangling.md", "a symbolic link"),
        ("sock.md", "a socket"),
    ] {
        let path = dir.join(name);
        let want = format!(
            "warning: skipping {}: {what}, not a regular file",
            path.strip_prefix(sb.path("")).unwrap().display()
        );
        assert!(tl.stderr.contains(&want), "{want}\n{}", tl.stderr);
    }
    // A filter on other authors does not mention them.
    let only = run_within(
        &sb,
        &["timeline", "--author", "pipeline", "--format", "ndjson"],
        deadline,
    );
    assert_eq!(only.code, 0, "{only:?}");
    assert!(!only.stderr.contains("skipping"), "{}", only.stderr);
    let ls = run_within(&sb, &["ls"], deadline);
    assert_eq!(ls.code, 0, "{ls:?}");
    assert!(ls.stdout.contains("pipeline:1"), "{}", ls.stdout);
    let cu = run_within(&sb, &["catchup", "--as", "fifo"], deadline);
    assert_eq!(cu.code, 0, "{cu:?}");
    assert!(cu.stdout.contains("a real entry"), "{}", cu.stdout);

    // Posting as a role whose file is not a regular file is refused, nothing written.
    for (role, what) in [
        ("fifo", "a FIFO (named pipe)"),
        ("dir", "a directory"),
        ("dangling", "a symbolic link"),
        ("sock", "a socket"),
    ] {
        let p = run_within(&sb, &["post", "--as", role, "hello"], deadline);
        assert_eq!(p.code, 3, "{role}: {p:?}");
        assert!(
            p.stderr
                .contains(&format!("{role}.md is {what}, not a regular file")),
            "{role}: {}",
            p.stderr
        );
    }
    assert!(
        !dir.join("nowhere").exists(),
        "nothing created through the dangling link"
    );
    // The rest of the channel still takes posts.
    assert_eq!(
        sb.ok(&["post", "--as", "pipeline", "still here"]).stdout,
        "pipeline#2\n"
    );
}

#[test]
fn a_symlinked_author_file_is_never_followed() {
    let sb = Sandbox::new();
    sb.ok(&["open", "link", "--roles", "a,b"]);
    sb.ok(&["post", "--as", "a", "first"]);
    let outside = sb.path("outside.md");
    std::fs::write(&outside, "not part of any channel\n").unwrap();
    let dir = channel_dir(&sb);
    std::os::unix::fs::symlink(&outside, dir.join("b.md")).unwrap();

    let p = sb.run(&["post", "--as", "b", "appended outside?"]);
    assert_eq!(p.code, 3, "{p:?}");
    assert!(
        p.stderr
            .contains("b.md is a symbolic link, not a regular file")
            && p.stderr.contains("move it out of the channel"),
        "{}",
        p.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not part of any channel\n",
        "nothing written outside the root"
    );
    let v = sb.run(&["verify"]);
    assert_eq!(v.code, 1);
    assert!(
        v.stdout
            .contains("b.md: a symbolic link, not a regular file"),
        "{}",
        v.stdout
    );
    // A link to a file inside the channel is refused the same way: a link is never followed.
    std::fs::remove_file(dir.join("b.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("a.md"), dir.join("b.md")).unwrap();
    let p = sb.run(&["post", "--as", "b", "through a link"]);
    assert_eq!(p.code, 3, "{p:?}");
    let tl = sb.ok(&["timeline", "--format", "ndjson"]);
    assert_eq!(tl.stdout.lines().count(), 1, "{}", tl.stdout);
}

#[test]
fn ls_names_each_md_name_it_cannot_read_and_lists_the_rest() {
    let sb = Sandbox::new();
    sb.ok(&["open", "odd", "--roles", "pipeline,fifo,dir,dangling"]);
    sb.ok(&["post", "--as", "pipeline", "a real entry"]);
    let dir = channel_dir(&sb);
    let made = Command::new("mkfifo")
        .arg(dir.join("fifo.md"))
        .status()
        .unwrap();
    assert!(made.success());
    std::fs::create_dir(dir.join("dir.md")).unwrap();
    std::os::unix::fs::symlink(dir.join("nowhere"), dir.join("dangling.md")).unwrap();
    sb.ok(&["open", "plain", "--roles", "pipeline"]);
    sb.ok(&["post", "--channel", "plain", "--as", "pipeline", "one"]);
    sb.ok(&["post", "--channel", "plain", "--as", "pipeline", "two"]);
    // Generous: only a command that blocks on the FIFO gets anywhere near it.
    let deadline = Duration::from_secs(60);

    let ls = run_within(&sb, &["ls"], deadline);
    assert_eq!(ls.code, 0, "{ls:?}");
    // The rest is listed: both channels, with the entries that could be read.
    let rows: Vec<&str> = ls.stdout.lines().collect();
    assert_eq!(rows.len(), 3, "{}", ls.stdout);
    assert!(
        rows.iter()
            .any(|r| r.contains("--odd") && r.contains("pipeline:1")),
        "{}",
        ls.stdout
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("--plain") && r.contains("pipeline:2")),
        "{}",
        ls.stdout
    );
    // Each name it did not read is told once, with what it is and the fix.
    for (name, what) in [
        ("fifo.md", "a FIFO (named pipe)"),
        ("dir.md", "a directory"),
        ("dangling.md", "a symbolic link"),
    ] {
        let path = dir.join(name);
        let want = format!(
            "warning: skipping {}: {what}, not a regular file: it is not read, and its entries (if any) are not shown; move it out of the channel (see `warroom verify`)",
            path.strip_prefix(sb.path("")).unwrap().display()
        );
        assert_eq!(ls.stderr.matches(&want).count(), 1, "{want}\n{}", ls.stderr);
    }
    assert_eq!(ls.stderr.lines().count(), 3, "{}", ls.stderr);

    // Structured output lists the same channels, the findings still on stderr.
    let json = run_within(&sb, &["ls", "-o", "json"], deadline);
    assert_eq!(json.code, 0, "{json:?}");
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{}", json.stdout);
    assert_eq!(json.stderr.lines().count(), 3, "{}", json.stderr);
    assert!(
        !dir.join("nowhere").exists(),
        "nothing created through the link"
    );
}

#[test]
fn a_post_past_the_largest_seq_is_refused_with_the_fix_and_writes_nothing() {
    use warroom::channel::entry::{GENESIS, Header, encode};
    use warroom::channel::{Author, Kind, Timestamp};
    let sb = Sandbox::new();
    sb.ok(&["open", "top", "--roles", "pipeline"]);
    // An author file whose one entry has the largest seq there is, chained from genesis.
    let author = Author::new("pipeline").unwrap();
    let mut bytes = Vec::new();
    encode(
        &mut bytes,
        Header {
            author: &author,
            seq: u64::MAX,
            ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
            kind: Kind::Note,
            refs: &[],
            to: &[],
            key: None,
        },
        "top",
        GENESIS,
    );
    let path = channel_file(&sb, "pipeline");
    std::fs::write(&path, &bytes).unwrap();

    let p = sb.run(&["post", "--as", "pipeline", "one more"]);
    assert_eq!(p.code, 2, "{p:?}");
    assert!(p.stdout.is_empty(), "no id printed: {p:?}");
    assert!(
        p.stderr.contains(&format!(
            "pipeline is at seq {}, the largest seq there is; nothing was written (continue in a new channel)",
            u64::MAX
        )),
        "{}",
        p.stderr
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing was written");
    // The entry at the top still reads.
    let tl = sb.ok(&["timeline", "--format", "ndjson"]);
    assert!(
        tl.stdout
            .contains(&format!("\"id\":\"pipeline#{}\"", u64::MAX)),
        "{}",
        tl.stdout
    );
}
