//! Gaps in `timeline --follow`, locally and through a relay (`--remote`): a removed entry, a
//! skipped seq, a broken chain and a torn write, each at its place.

use super::*;

/// Reads a child's stdout on a thread; lines arrive in a channel.
fn lines_of(child: &mut Child) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    rx
}

fn wait_line(rx: &std::sync::mpsc::Receiver<String>, needle: &str, seen: &mut Vec<String>) {
    loop {
        match rx.recv_timeout(PATIENCE) {
            Ok(l) => {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return;
                }
            }
            Err(_) => panic!("no line with {needle:?}; got:\n{}", seen.join("\n")),
        }
    }
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn follow_shows_gap_markers_at_their_place_locally_and_through_a_relay() {
    let env = Env::new();
    let ch = env.open("gaps");
    env.post(&ch, "pipeline", "first");
    env.post(&ch, "pipeline", "the ORIGINAL second");
    env.post(&ch, "pipeline", "third");
    let file = env.author_file(&ch, "pipeline");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replacen("ORIGINAL", "ALTERED!", 1)).unwrap();
    let server = Server::start(&env);
    let follow = |remote: bool| {
        let mut args = vec!["timeline", "--channel", ch.as_str(), "--follow"];
        if remote {
            args.extend(["--remote", server.url.as_str()]);
        }
        let mut child = Killed(
            env.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let rx = lines_of(&mut child.0);
        (child, rx, Vec::new())
    };
    let mut followers = [follow(false), follow(true)];
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "third", seen);
        let all = seen.join("\n");
        let gap = all
            .find("GAP  pipeline#2 failed its checksum (its bytes were changed): run `warroom verify`")
            .unwrap_or_else(|| panic!("follower {i}:\n{all}"));
        assert!(
            all.find("first").unwrap() < gap && gap < all.find("third").unwrap(),
            "in its place (follower {i}):\n{all}"
        );
        assert!(
            !all.contains("ALTERED"),
            "the altered entry is never shown:\n{all}"
        );
    }
    // A truncation while following: a gap marker at the end, nothing re-sent.
    let len = file_len(&file);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    for (_, rx, seen) in followers.iter_mut() {
        wait_line(rx, "GAP  pipeline.md was truncated", seen);
        assert_eq!(seen.iter().filter(|l| l.contains("third")).count(), 1);
    }
}

/// A valid entry for `role`'s file as another program would write it, numbered `skip` past the
/// file's last entry (1: the next one; 2: one is missing before it).
fn foreign_entry(env: &Env, ch: &str, role: &str, skip: u64, body: &str) -> Vec<u8> {
    use warroom::channel::append::read_tail;
    use warroom::channel::entry::{Header, encode};
    let f = std::fs::File::open(env.author_file(ch, role)).unwrap();
    let tail = read_tail(&f, f.metadata().unwrap().len()).unwrap();
    let author = warroom::channel::Author::new(role).unwrap();
    let mut out = Vec::new();
    encode(
        &mut out,
        Header {
            author: &author,
            seq: tail.last_seq + skip,
            ts: warroom::channel::Timestamp::now(),
            kind: warroom::channel::Kind::Note,
            refs: &[],
            to: &[],
            key: None,
        },
        body,
        tail.last_sum,
    );
    out
}

fn append(file: &std::path::Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
    f.write_all(bytes).unwrap();
}

/// The other kinds of damage, on the live path too: an entry removed from between others (met
/// in the history), an entry that skips a seq and a torn write left at the end (both appended
/// by another program while following). Each is a gap marker at its place, locally and
/// through a relay; the entries around them are shown, once.
#[test]
fn follow_shows_chain_breaks_and_torn_writes_as_gaps_locally_and_through_a_relay() {
    let env = Env::new();
    let ch = env.open("chain");
    for body in ["first", "second", "third"] {
        env.post(&ch, "pipeline", body);
    }
    let file = env.author_file(&ch, "pipeline");
    let text = std::fs::read_to_string(&file).unwrap();
    let from = text.find("<!-- warroom:entry id=pipeline#2 ").unwrap();
    let to = text.find("<!-- warroom:entry id=pipeline#3 ").unwrap();
    std::fs::write(&file, format!("{}{}", &text[..from], &text[to..])).unwrap();
    let server = Server::start(&env);
    let follow = |remote: bool| {
        let mut args = vec!["timeline", "--channel", ch.as_str(), "--follow"];
        if remote {
            args.extend(["--remote", server.url.as_str()]);
        }
        let mut child = Killed(
            env.cmd(&args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let rx = lines_of(&mut child.0);
        (child, rx, Vec::new())
    };
    let mut followers = [follow(false), follow(true)];
    let at = |seen: &[String], needle: &str| {
        seen.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{}", seen.join("\n")))
    };
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "third", seen);
        let gap = at(
            seen,
            "GAP  pipeline#2 is missing before pipeline#3: run `warroom verify`",
        );
        assert!(
            at(seen, "first") < gap && gap < at(seen, "third"),
            "in its place (follower {i}):\n{}",
            seen.join("\n")
        );
    }
    // Live: another program appends an entry that skips pipeline#4.
    append(
        &file,
        &foreign_entry(&env, &ch, "pipeline", 2, "fifth, after a hole"),
    );
    for (i, (_, rx, seen)) in followers.iter_mut().enumerate() {
        wait_line(rx, "fifth, after a hole", seen);
        let gap = at(seen, "GAP  pipeline#4 is missing before pipeline#5");
        assert!(
            at(seen, "third") < gap && gap < at(seen, "fifth, after a hole"),
            "in its place (follower {i}):\n{}",
            seen.join("\n")
        );
    }
    // Live: half an entry, and nothing more: a torn write, told once it stays torn.
    let next = foreign_entry(&env, &ch, "pipeline", 1, "sixth, never finished");
    append(&file, &next[..next.len() / 2]);
    for (_, rx, seen) in followers.iter_mut() {
        wait_line(rx, "GAP  pipeline.md ends in a torn write of", seen);
        assert!(
            seen.last().unwrap().contains("after pipeline#5"),
            "{}",
            seen.join("\n")
        );
        assert!(!seen.iter().any(|l| l.contains("sixth")));
        assert_eq!(seen.iter().filter(|l| l.contains("third")).count(), 1);
    }
}
