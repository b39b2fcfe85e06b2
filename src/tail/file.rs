//! The follow state of one author file: where reading stopped, which file (inode) that was, the
//! hash chain so far and the highest seq emitted.
//!
//! [`FileState::poll`] reads from the saved offset to the end of the file and turns what it
//! finds into [`TailEvent`]s. It never emits a partial entry (bytes that are not yet a complete
//! entry stay unread until a later poll), never emits a seq twice, and reports a shrink, a
//! replacement or a chain break as an alert instead of re-emitting history. It does no
//! waiting and knows nothing about notify or async.

use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{AlertReason, StoreAlert, TailEvent};
use crate::channel::Author;
use crate::channel::append::read_tail;
use crate::channel::open::open_read;
use crate::channel::scan::{Break, Chain, Record, Scanner};

/// Bytes at the end of a file that stay incomplete this long are reported as a torn tail.
pub const TORN_AFTER: Duration = Duration::from_secs(2);

/// Incomplete bytes at the end of the file, waiting for the rest of their entry.
#[derive(Debug, Clone, Copy)]
struct Pending {
    offset: u64,
    len: u64,
    since: Instant,
    reported: bool,
}

/// What the follower knows about one author file.
#[derive(Debug)]
pub struct FileState {
    channel: String,
    author: Author,
    path: PathBuf,
    /// (device, inode) of the file read so far; a different one means the file was replaced.
    identity: Option<(u64, u64)>,
    /// Bytes up to here are consumed (complete records); reading resumes here.
    offset: u64,
    /// Line number at `offset`, for alert messages.
    line: u64,
    /// The chain as of `offset`, so an edit or reordering is caught as entries arrive.
    chain: Chain,
    /// Highest seq emitted: never emitted again, even when the file is rewritten.
    emitted: u64,
    pending: Option<Pending>,
}

impl FileState {
    /// A file whose every entry is new (created after following started).
    pub fn from_start(channel: &str, author: Author, path: &Path) -> Self {
        Self {
            channel: channel.to_owned(),
            author,
            path: path.to_owned(),
            identity: None,
            offset: 0,
            line: 1,
            chain: Chain::default(),
            emitted: 0,
            pending: None,
        }
    }

    /// A file whose existing entries are history: following starts at its last complete entry.
    pub fn from_end(channel: &str, author: Author, path: &Path) -> io::Result<Self> {
        let mut st = Self::from_start(channel, author, path);
        let file = match open_read(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(st),
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let tail = read_tail(&file, meta.len())?;
        st.identity = Some((meta.dev(), meta.ino()));
        // Torn bytes at the end stay unread: if they are a write in progress, the next poll
        // completes them.
        st.offset = tail.torn.map_or(tail.len, |(at, _)| at);
        st.line = 1 + count_lines(&file, st.offset)?;
        st.chain = Chain {
            last_seq: tail.last_seq,
            last_sum: tail.last_sum,
            last_ts: tail.last_ts,
        };
        st.emitted = tail.last_seq;
        Ok(st)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Highest seq emitted so far.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }

    fn alert(
        &self,
        reason: AlertReason,
        line: Option<u64>,
        message: String,
        gap: crate::gap::Gap,
    ) -> TailEvent {
        TailEvent::Alert(StoreAlert {
            channel: self.channel.clone(),
            author: Some(self.author.to_string()),
            reason,
            file: self.path.display().to_string(),
            line,
            message,
            gap: Some(Box::new(gap)),
        })
    }

    /// The file's name, for gap sentences (`pipeline.md`).
    fn file_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The last entry read from the file, where a gap after it goes.
    fn after(&self) -> crate::gap::After {
        self.chain
            .last_ts
            .filter(|_| self.chain.last_seq > 0)
            .map(|ts| (ts, self.chain.last_seq))
    }

    /// Starts over at the beginning of the (rewritten) file: entries up to `emitted` are
    /// skipped, later ones are emitted.
    fn restart(&mut self) {
        self.offset = 0;
        self.line = 1;
        self.chain = Chain::default();
        self.pending = None;
    }

    /// Reads everything new in the file and appends the resulting events to `out`.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<TailEvent>) -> io::Result<()> {
        let mut file = match open_read(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if self.identity.take().is_some() {
                    out.push(self.alert(
                        AlertReason::Removed,
                        None,
                        format!(
                            "{} was removed: history was rewritten; restore it from git and run `warroom verify`",
                            self.path.display()
                        ),
                        crate::gap::rewritten(&self.file_name(), "removed", self.emitted, &self.author),
                    ));
                    self.restart();
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let meta = file.metadata()?;
        let identity = (meta.dev(), meta.ino());
        if let Some(old) = self.identity
            && old != identity
        {
            out.push(self.alert(
                AlertReason::Replaced,
                None,
                format!(
                    "{} was replaced by another file: history was rewritten; entries already shown are not shown again. Run `warroom verify`",
                    self.path.display()
                ),
                crate::gap::rewritten(
                    &self.file_name(),
                    "replaced by another file",
                    self.emitted,
                    &self.author,
                ),
            ));
            self.restart();
        }
        self.identity = Some(identity);
        if meta.len() < self.offset {
            out.push(self.alert(
                AlertReason::Shrunk,
                None,
                format!(
                    "{} shrank from {} to {} bytes: history was rewritten; entries already shown are not shown again. Run `warroom verify`",
                    self.path.display(),
                    self.offset,
                    meta.len()
                ),
                crate::gap::rewritten(&self.file_name(), "truncated", self.emitted, &self.author),
            ));
            self.restart();
        }
        if meta.len() == self.offset {
            self.pending = None;
            return Ok(());
        }
        if let Some(p) = &mut self.pending
            && p.offset == self.offset
            && p.len == meta.len() - self.offset
        {
            // Nothing changed since the last look: only check for a torn tail.
            if !p.reported && now.duration_since(p.since) >= TORN_AFTER {
                p.reported = true;
                let (offset, len) = (p.offset, p.len);
                out.push(self.alert(
                    AlertReason::TornTail,
                    Some(self.line),
                    format!(
                        "{}: {len} bytes at offset {offset} are not a complete entry (a torn write); the next post by {} closes them off",
                        self.path.display(),
                        self.author
                    ),
                    crate::gap::torn(&self.author, &self.file_name(), len, self.after()),
                ));
            }
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut scanner = Scanner::new(file, self.offset, self.line);
        let mut tail = None;
        // The unreadable bytes just reported: a repair marker right after them means a torn
        // write the next writer closed off (no committed entry lost there: no gap).
        let mut garbage_at: Option<usize> = None;
        while let Some(rec) = scanner.next_record()? {
            let held = garbage_at.take();
            match rec {
                Record::Entry(e) => self.entry(*e, out),
                Record::Repair { .. } => {
                    if let Some(TailEvent::Alert(a)) = held.and_then(|i| out.get_mut(i)) {
                        a.gap = None;
                    }
                }
                Record::Garbage { pos, why } => {
                    garbage_at = Some(out.len());
                    out.push(self.alert(
                        AlertReason::Garbage,
                        Some(pos.line),
                        format!(
                            "{}: skipped {} bytes at offset {}: {why}. Run `warroom verify`",
                            self.path.display(),
                            pos.len,
                            pos.offset
                        ),
                        crate::gap::garbage(&self.author, &self.file_name(), pos.len, self.after()),
                    ))
                }
                Record::Tail { pos } => {
                    tail = Some(pos);
                    break;
                }
            }
            self.offset = scanner.offset();
            self.line = scanner.line();
        }
        self.pending = match (tail, self.pending) {
            (Some(pos), Some(p)) if p.offset == pos.offset => Some(Pending { len: pos.len, ..p }),
            (Some(pos), _) => Some(Pending {
                offset: pos.offset,
                len: pos.len,
                since: now,
                reported: false,
            }),
            (None, _) => None,
        };
        Ok(())
    }

    fn entry(&mut self, e: crate::channel::scan::Scanned, out: &mut Vec<TailEvent>) {
        let (after, expected_seq) = (self.after(), self.chain.last_seq + 1);
        let breaks = self.chain.check(&self.author, &e);
        if e.seq <= self.emitted {
            // Already emitted (a rewritten file read again): never re-emitted.
            return;
        }
        let line = Some(e.pos.line);
        if !breaks.is_empty() {
            let what = breaks
                .iter()
                .map(|b| match b {
                    Break::Checksum => "its bytes do not match its checksum (edited)".to_owned(),
                    Break::Chain { expected, found } => format!(
                        "its prev is {found}, not {expected} (an entry was removed, inserted or moved)"
                    ),
                    Break::Seq { expected, found } => {
                        format!("its seq is {found}, expected {expected}")
                    }
                    Break::TimeBackwards { previous } => {
                        format!("its time is before {previous}")
                    }
                    Break::WrongAuthor => format!("it is not {}'s", self.author),
                })
                .collect::<Vec<_>>()
                .join("; ");
            let (reason, gap) = if !e.sum_ok {
                (
                    AlertReason::Checksum,
                    crate::gap::checksum(&self.author, e.seq, e.ts),
                )
            } else if e.author != self.author {
                let id = format!("{}#{}", e.author, e.seq);
                let gap = crate::gap::misplaced(&self.author, &id, &self.file_name(), after);
                (AlertReason::Chain, gap)
            } else {
                let gap = crate::gap::chain(&self.author, e.seq, expected_seq, after);
                (AlertReason::Chain, gap)
            };
            out.push(self.alert(
                reason,
                line,
                format!(
                    "{}: entry {}#{}: {what}. Run `warroom verify`",
                    self.path.display(),
                    e.author,
                    e.seq
                ),
                gap,
            ));
        }
        if !e.sum_ok || e.author != self.author {
            return; // an altered or misplaced entry is reported, never shown
        }
        self.emitted = e.seq;
        out.push(TailEvent::Entry(Box::new(
            e.into_entry(self.channel.clone()),
        )));
    }
}

/// Newlines in the first `len` bytes of `file` (memchr speed: a startup cost only).
fn count_lines(file: &std::fs::File, len: u64) -> io::Result<u64> {
    use std::io::Read;
    let mut r = io::BufReader::with_capacity(256 * 1024, file).take(len);
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let got = r.read(&mut buf)?;
        if got == 0 {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', &buf[..got]).count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::Kind;
    use crate::channel::entry::{GENESIS, Header, Timestamp, encode};
    use std::io::Write;

    fn entries(n: u64) -> Vec<Vec<u8>> {
        let a = Author::new("pipeline").unwrap();
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let mut out = Vec::new();
                prev = encode(
                    &mut out,
                    Header {
                        author: &a,
                        seq,
                        ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
                        kind: Kind::Observation,
                        refs: &[],
                        to: &[],
                        key: None,
                    },
                    &format!("entry {seq}"),
                    prev,
                );
                out
            })
            .collect()
    }

    fn append(path: &Path, bytes: &[u8]) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(bytes).unwrap();
    }

    fn seqs(events: &[TailEvent]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match e {
                TailEvent::Entry(e) => Some(e.seq),
                _ => None,
            })
            .collect()
    }

    fn reasons(events: &[TailEvent]) -> Vec<AlertReason> {
        events
            .iter()
            .filter_map(|e| match e {
                TailEvent::Alert(a) => Some(a.reason),
                _ => None,
            })
            .collect()
    }

    fn state(path: &Path) -> FileState {
        FileState::from_start("2026-05-04--x", Author::new("pipeline").unwrap(), path)
    }

    #[test]
    fn an_entry_in_two_halves_appears_once_after_the_second() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.md");
        let e = entries(2);
        append(&path, &e[0]);
        let mut st = state(&path);
        let now = Instant::now();
        let mut out = Vec::new();
        st.poll(now, &mut out).unwrap();
        assert_eq!(seqs(&out), [1]);
        for cut in [1, 40, e[1].len() / 2, e[1].len() - 1] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pipeline.md");
            append(&path, &e[0]);
            let mut st = state(&path);
            let mut out = Vec::new();
            st.poll(now, &mut out).unwrap();
            append(&path, &e[1][..cut]);
            out.clear();
            st.poll(now, &mut out).unwrap();
            assert!(out.is_empty(), "cut {cut}: {out:?}");
            append(&path, &e[1][cut..]);
            st.poll(now, &mut out).unwrap();
            assert_eq!(seqs(&out), [2], "cut {cut}");
            assert!(reasons(&out).is_empty(), "cut {cut}: {out:?}");
            out.clear();
            st.poll(now, &mut out).unwrap();
            assert!(out.is_empty());
        }
    }

    #[test]
    fn a_lasting_partial_entry_is_reported_once_as_torn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.md");
        let e = entries(2);
        append(&path, &e[0]);
        append(&path, &e[1][..30]);
        let mut st = state(&path);
        let t0 = Instant::now();
        let mut out = Vec::new();
        st.poll(t0, &mut out).unwrap();
        assert_eq!(seqs(&out), [1]);
        assert!(reasons(&out).is_empty());
        out.clear();
        st.poll(t0 + TORN_AFTER, &mut out).unwrap();
        assert_eq!(reasons(&out), [AlertReason::TornTail]);
        out.clear();
        st.poll(t0 + TORN_AFTER * 3, &mut out).unwrap();
        assert!(out.is_empty(), "reported once: {out:?}");
    }

    #[test]
    fn shrink_and_replace_alert_without_re_emitting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.md");
        let e = entries(4);
        append(&path, &e[0]);
        append(&path, &e[1]);
        let mut st = state(&path);
        let now = Instant::now();
        let mut out = Vec::new();
        st.poll(now, &mut out).unwrap();
        assert_eq!(seqs(&out), [1, 2]);

        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(e[0].len() as u64)
            .unwrap();
        out.clear();
        st.poll(now, &mut out).unwrap();
        assert_eq!(reasons(&out), [AlertReason::Shrunk]);
        assert!(seqs(&out).is_empty());

        // A new file (new inode) with the same history plus two more entries.
        let tmp = dir.path().join("new.md");
        for b in &e {
            append(&tmp, b);
        }
        std::fs::rename(&tmp, &path).unwrap();
        out.clear();
        st.poll(now, &mut out).unwrap();
        assert_eq!(reasons(&out), [AlertReason::Replaced]);
        assert_eq!(seqs(&out), [3, 4], "only entries never shown before");
    }

    #[test]
    fn a_broken_chain_is_an_alert() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.md");
        let e = entries(3);
        append(&path, &e[0]);
        append(&path, &e[2]); // #2 is missing: seq and prev do not follow
        let mut st = state(&path);
        let mut out = Vec::new();
        st.poll(Instant::now(), &mut out).unwrap();
        assert_eq!(reasons(&out), [AlertReason::Chain]);
        assert_eq!(seqs(&out), [1, 3]);
    }

    #[test]
    fn from_end_skips_history() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pipeline.md");
        let e = entries(3);
        append(&path, &e[0]);
        append(&path, &e[1]);
        let mut st =
            FileState::from_end("2026-05-04--x", Author::new("pipeline").unwrap(), &path).unwrap();
        let mut out = Vec::new();
        st.poll(Instant::now(), &mut out).unwrap();
        assert!(out.is_empty());
        append(&path, &e[2]);
        st.poll(Instant::now(), &mut out).unwrap();
        assert_eq!(seqs(&out), [3]);
        assert!(reasons(&out).is_empty(), "{out:?}");
    }
}
