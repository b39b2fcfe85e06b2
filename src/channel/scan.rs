//! Reading an author file: a streaming scanner that turns bytes into records.
//!
//! The scanner holds at most one entry's bytes plus one read chunk, so memory does not grow
//! with the file, and it looks at each byte a bounded number of times, so time grows linearly
//! with it: a search that finds nothing in the bytes so far resumes where it stopped when more
//! arrive, and a line longer than [`MAX_ENTRY_BYTES`] is passed over without being buffered.
//! It never yields a partial entry: bytes that do not form a complete entry come back as
//! [`Record::Garbage`] (something else follows) or [`Record::Tail`] (end of file: a write in
//! progress or a torn write). It checks each entry's own checksum; the chain between entries
//! is checked by [`Chain`]. It must not decide what a record means for the channel (that is
//! for verify, the timeline, the writer and the follower).

use std::io::{self, Read};

use super::entry::{
    BEGIN_PREFIX, END_PREFIX, EntryId, IdempotencyKey, Kind, MARKER_SUFFIX, REPAIR_PREFIX, Sum,
    Timestamp, needs_unescape, unescape_body,
};
use super::names::Author;
pub use super::repair::Torn;

/// Bytes read per refill.
const CHUNK: usize = 64 * 1024;
/// An entry larger than this is not believed: its begin marker is treated as garbage, so a
/// missing end marker cannot make a reader buffer the whole file.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;
/// Why a line longer than [`MAX_ENTRY_BYTES`] followed by more of the file is garbage.
pub const OVERLONG: &str = "a line over the 16 MiB limit";
/// Why the start of a read that begins in the middle of a line is skipped.
const PARTIAL_LINE: &str = "the end of a line that starts before the bytes read";

/// A complete entry as found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub author: Author,
    pub seq: u64,
    pub ts: Timestamp,
    pub kind: Kind,
    pub refs: Vec<EntryId>,
    pub to: Vec<Author>,
    pub key: Option<IdempotencyKey>,
    pub body: String,
    pub prev: Sum,
    pub sum: Sum,
    /// The stored sum equals the sum computed from the bytes.
    pub sum_ok: bool,
    pub pos: Pos,
}

impl Scanned {
    /// The entry as readers see it, in `channel`.
    pub fn into_entry(self, channel: String) -> super::Entry {
        super::Entry {
            id: EntryId {
                author: self.author.clone(),
                seq: self.seq,
            },
            channel,
            author: self.author,
            seq: self.seq,
            ts: self.ts,
            kind: self.kind,
            refs: self.refs,
            to: self.to,
            key: self.key,
            body: self.body,
        }
    }
}

/// Where a record starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Byte offset in the file.
    pub offset: u64,
    /// 1-based line number of the record's first line.
    pub line: u64,
    /// Length in bytes.
    pub len: u64,
}

impl Pos {
    pub fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// What a stretch of an author file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Entry(Box<Scanned>),
    /// A repair marker: the writer closed off torn bytes before it.
    Repair {
        pos: Pos,
        ts: Option<Timestamp>,
        /// What it says it closed off (`None`: it does not say).
        torn: Option<Torn>,
    },
    /// Bytes that are not a complete entry, followed by a marker line.
    Garbage {
        pos: Pos,
        why: &'static str,
    },
    /// Bytes at the end of the file that are not (yet) a complete entry.
    Tail {
        pos: Pos,
    },
}

impl Record {
    pub fn pos(&self) -> Pos {
        match self {
            Record::Entry(e) => e.pos,
            Record::Repair { pos, .. } | Record::Garbage { pos, .. } | Record::Tail { pos } => *pos,
        }
    }
}

/// Streams [`Record`]s out of a reader.
pub struct Scanner<R> {
    src: R,
    buf: Vec<u8>,
    /// Index in `buf` of the next unconsumed byte.
    start: usize,
    /// Index in `buf` one past the last byte read.
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    /// Line number of `buf[start]`.
    line: u64,
    eof: bool,
    /// Where the last search that found nothing stopped (see [`Resume`]).
    resume: Resume,
    /// Passing over a line without buffering it: where it started and why it is skipped.
    skipping: Option<(Pos, &'static str)>,
}

enum Step {
    Done(Record, usize),
    NeedMore,
    /// The first line is longer than [`MAX_ENTRY_BYTES`]: pass over it.
    Overlong,
}

/// What a search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Search {
    Newline,
    MarkerLine,
}

/// The searches of the last step that asked for more bytes. A step is a pure function of the
/// bytes, so when more arrive it runs the same searches again: one that found something finds
/// it again without searching, and one that found nothing resumes where it stopped. So each
/// byte is searched a bounded number of times however slowly the file arrives.
#[derive(Debug, Clone, Default)]
struct Resume {
    /// (what, from, Ok(hit) or Err(searched up to)), at most one per search of a step.
    done: Vec<(Search, usize, Result<usize, usize>)>,
}

/// The needle that finds a marker line.
const MARKER_LINE: &[u8] = b"\n<!-- warroom:";

impl Resume {
    /// The position of the first `what` at or after `from` in `buf` (for a marker line: the
    /// start of the next line that starts with the marker prefix, `from` being a line start).
    fn find(&mut self, buf: &[u8], what: Search, from: usize) -> Option<usize> {
        let known = self
            .done
            .iter()
            .position(|(w, f, _)| *w == what && *f == from);
        let upto = match known.map(|i| self.done[i].2) {
            Some(Ok(hit)) => return Some(hit),
            Some(Err(upto)) => Some(upto),
            None => None,
        };
        let found = match what {
            Search::Newline => {
                let at = upto.unwrap_or(from).max(from);
                memchr::memchr(b'\n', &buf[at..]).map(|i| at + i)
            }
            Search::MarkerLine => {
                static NEEDLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
                    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER_LINE));
                let base = from.saturating_sub(1);
                let at = upto
                    .map_or(base, |u| u.saturating_sub(MARKER_LINE.len() - 1))
                    .max(base);
                NEEDLE.find(&buf[at..]).map(|i| at + i + 1)
            }
        };
        let result = found.ok_or(buf.len());
        match known {
            Some(i) => self.done[i].2 = result,
            None => self.done.push((what, from, result)),
        }
        found
    }

    fn clear(&mut self) {
        self.done.clear();
    }
}

impl<R: Read> Scanner<R> {
    /// A scanner for bytes starting at `offset` (which begins line `line`) in the file.
    pub fn new(src: R, offset: u64, line: u64) -> Self {
        Self {
            src,
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset,
            line,
            eof: false,
            resume: Resume::default(),
            skipping: None,
        }
    }

    /// A scanner for bytes starting at `offset`, which may be in the middle of a line: the
    /// rest of that line comes back as [`Record::Garbage`] (or [`Record::Tail`] when it runs
    /// to the end), so no marker-like run inside a line is taken for a marker. Line numbers
    /// are counted from 1 at `offset`.
    pub fn mid_line(src: R, offset: u64) -> Self {
        let mut s = Self::new(src, offset, 1);
        s.skipping = Some((
            Pos {
                offset,
                line: 1,
                len: 0,
            },
            PARTIAL_LINE,
        ));
        s
    }

    /// The file offset up to which records have been yielded.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The line number at [`Self::offset`].
    pub fn line(&self) -> u64 {
        self.line
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 && self.start * 2 >= self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        // Grow (zeroing only new memory) when less than a chunk is free.
        if self.buf.len() < self.end + CHUNK {
            self.buf.resize(self.end + CHUNK, 0);
        }
        let n = loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        self.end += n;
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> io::Result<Option<Record>> {
        loop {
            if self.skipping.is_some() {
                if let Some(rec) = self.skip_line()? {
                    return Ok(Some(rec));
                }
                continue;
            }
            let avail = &self.buf[self.start..self.end];
            if avail.is_empty() && self.eof {
                return Ok(None);
            }
            match step(avail, self.offset, self.line, self.eof, &mut self.resume) {
                Step::Done(rec, used) => {
                    let lines = memchr::memchr_iter(b'\n', &avail[..used]).count() as u64;
                    self.consume(used, lines);
                    return Ok(Some(rec));
                }
                Step::NeedMore => self.fill()?,
                Step::Overlong => {
                    let pos = Pos {
                        offset: self.offset,
                        line: self.line,
                        len: 0,
                    };
                    self.skipping = Some((pos, OVERLONG));
                }
            }
        }
    }

    fn consume(&mut self, used: usize, lines: u64) {
        self.start += used;
        self.offset += used as u64;
        self.line += lines;
        self.resume.clear();
    }

    /// Passes over the line being skipped without keeping it: the record once its end is
    /// found, `None` when more bytes are needed.
    fn skip_line(&mut self) -> io::Result<Option<Record>> {
        let Some((mut pos, why)) = self.skipping else {
            return Ok(None);
        };
        let avail = &self.buf[self.start..self.end];
        let (used, ended) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i + 1, true),
            None => (avail.len(), false),
        };
        pos.len += used as u64;
        self.consume(used, u64::from(ended));
        self.skipping = Some((pos, why));
        if ended || (self.eof && self.start == self.end) {
            self.skipping = None;
            if pos.len == 0 {
                return Ok(None);
            }
            return Ok(Some(if ended {
                Record::Garbage { pos, why }
            } else {
                Record::Tail { pos }
            }));
        }
        self.fill()?;
        Ok(None)
    }
}

impl<R: Read> Iterator for Scanner<R> {
    type Item = io::Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// At the end of the input the rest is a tail; otherwise more bytes are needed.
fn rest_is_tail(buf: &[u8], eof: bool, pos: &impl Fn(usize) -> Pos) -> Step {
    if eof {
        Step::Done(
            Record::Tail {
                pos: pos(buf.len()),
            },
            buf.len(),
        )
    } else {
        Step::NeedMore
    }
}

/// One record from the front of `buf`, or a request for more bytes.
fn step(buf: &[u8], offset: u64, line: u64, eof: bool, resume: &mut Resume) -> Step {
    let pos = |len: usize| Pos {
        offset,
        line,
        len: len as u64,
    };
    let Some(nl) = resume.find(buf, Search::Newline, 0) else {
        if !eof && buf.len() > MAX_ENTRY_BYTES {
            return Step::Overlong;
        }
        return rest_is_tail(buf, eof, &pos);
    };
    let first = &buf[..=nl];
    if first.starts_with(BEGIN_PREFIX)
        && let Some(head) = parse_begin(first)
    {
        return entry(buf, nl + 1, head, eof, pos, resume);
    }
    if first.starts_with(REPAIR_PREFIX) && first.ends_with(MARKER_SUFFIX) {
        let (mut ts, mut at, mut bytes, mut sum) = (None, None, None, None);
        let number = |v: &[u8]| std::str::from_utf8(v).ok()?.parse::<u64>().ok();
        for (k, v) in attrs(&first[REPAIR_PREFIX.len()..first.len() - MARKER_SUFFIX.len()]) {
            match k {
                b"ts" => ts = std::str::from_utf8(v).ok().and_then(Timestamp::parse_exact),
                b"torn-at" => at = number(v),
                b"torn-bytes" => bytes = number(v),
                b"torn-sum" => sum = Sum::parse(v),
                _ => {}
            }
        }
        let torn = at.zip(bytes).map(|(at, bytes)| Torn { at, bytes, sum });
        return Step::Done(
            Record::Repair {
                pos: pos(nl + 1),
                ts,
                torn,
            },
            nl + 1,
        );
    }
    // Garbage: everything up to the next marker line.
    match resume.find(buf, Search::MarkerLine, nl + 1) {
        Some(m) => Step::Done(
            Record::Garbage {
                pos: pos(m),
                why: "bytes outside any entry",
            },
            m,
        ),
        None if eof => Step::Done(
            Record::Tail {
                pos: pos(buf.len()),
            },
            buf.len(),
        ),
        None if buf.len() > MAX_ENTRY_BYTES => {
            // Yield what we have as garbage (keeping the last partial line) so memory stays
            // bounded on a huge unmarked file.
            let cut = memchr::memrchr(b'\n', buf).map_or(buf.len(), |i| i + 1);
            Step::Done(
                Record::Garbage {
                    pos: pos(cut),
                    why: "bytes outside any entry",
                },
                cut,
            )
        }
        None => Step::NeedMore,
    }
}

pub(crate) struct Begin {
    pub(crate) author: Author,
    pub(crate) seq: u64,
    pub(crate) ts: Timestamp,
    pub(crate) kind: Kind,
    pub(crate) refs: Vec<EntryId>,
    pub(crate) to: Vec<Author>,
    pub(crate) key: Option<IdempotencyKey>,
}

fn attrs(s: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    s.split(|&b| b == b' ').filter_map(|kv| {
        let eq = memchr::memchr(b'=', kv)?;
        Some((&kv[..eq], &kv[eq + 1..]))
    })
}

/// Parses a begin-marker line (with its `\n`). `None` when it is not a well-formed one.
pub(crate) fn parse_begin(line: &[u8]) -> Option<Begin> {
    let inner = line
        .strip_prefix(BEGIN_PREFIX)?
        .strip_suffix(MARKER_SUFFIX)?;
    let inner = std::str::from_utf8(inner).ok()?;
    let (mut id, mut ts, mut kind) = (None, None, None);
    let (mut refs, mut to, mut key) = (Vec::new(), Vec::new(), None);
    for (k, v) in attrs(inner.as_bytes()) {
        let v = std::str::from_utf8(v).ok()?;
        match k {
            b"id" => id = Some(EntryId::parse(v).ok()?),
            b"ts" => ts = Some(Timestamp::parse_exact(v)?),
            // Any well-formed token: a kind from a newer writer is kept, not rejected.
            b"kind" => kind = Some(Kind::from_token(v)?),
            b"refs" => {
                refs = v
                    .split(',')
                    .map(EntryId::parse)
                    .collect::<Result<_, _>>()
                    .ok()?
            }
            b"to" => {
                to = v
                    .split(',')
                    .map(Author::new)
                    .collect::<Result<_, _>>()
                    .ok()?
            }
            b"key" => key = Some(IdempotencyKey::new(v).ok()?),
            _ => {} // unknown attributes are ignored, for forward compatibility
        }
    }
    let id = id?;
    Some(Begin {
        author: id.author,
        seq: id.seq,
        ts: ts?,
        kind: kind?,
        refs,
        to,
        key,
    })
}

fn parse_end(line: &[u8], want: (&Author, u64)) -> Option<(Sum, Sum)> {
    let inner = line.strip_prefix(END_PREFIX)?.strip_suffix(MARKER_SUFFIX)?;
    let (mut id_ok, mut prev, mut sum) = (false, None, None);
    for (k, v) in attrs(inner) {
        match k {
            b"id" => {
                // Compared as bytes: the end marker must name the begin marker's id exactly.
                let (author, seq) = v.split_at(memchr::memchr(b'#', v)?);
                let digits = &seq[1..];
                id_ok = author == want.0.as_str().as_bytes()
                    && digits.first().is_some_and(|&d| d != b'0')
                    && std::str::from_utf8(digits).ok()?.parse::<u64>().ok() == Some(want.1);
            }
            b"prev" => prev = Sum::parse(v),
            b"sum" => sum = Sum::parse(v),
            _ => {}
        }
    }
    if id_ok { Some((prev?, sum?)) } else { None }
}

fn entry(
    buf: &[u8],
    after_begin: usize,
    h: Begin,
    eof: bool,
    pos: impl Fn(usize) -> Pos,
    resume: &mut Resume,
) -> Step {
    let Some(m) = resume.find(buf, Search::MarkerLine, after_begin) else {
        return if eof {
            Step::Done(
                Record::Tail {
                    pos: pos(buf.len()),
                },
                buf.len(),
            )
        } else if buf.len() > MAX_ENTRY_BYTES {
            Step::Done(
                Record::Garbage {
                    pos: pos(after_begin),
                    why: "an entry larger than any reader accepts",
                },
                after_begin,
            )
        } else {
            Step::NeedMore
        };
    };
    let torn = Record::Garbage {
        pos: pos(m),
        why: "an entry without its end marker (a torn write)",
    };
    let Some(end_nl) = resume.find(buf, Search::Newline, m) else {
        if !eof && buf.len() > MAX_ENTRY_BYTES {
            // The marker line is longer than any marker: the entry ends before it.
            return Step::Done(torn, m);
        }
        return rest_is_tail(buf, eof, &pos);
    };
    let Some((prev, sum)) = parse_end(&buf[m..=end_nl], (&h.author, h.seq)) else {
        return Step::Done(torn, m);
    };
    // Between the markers: heading line, blank line, escaped body, "\n\n".
    let inner = &buf[after_begin..m];
    let Some(heading_nl) = memchr::memchr(b'\n', inner) else {
        return Step::Done(torn, m);
    };
    let body_start = heading_nl + 2;
    if inner.len() < body_start + 2
        || inner[heading_nl + 1] != b'\n'
        || !inner.ends_with(b"\n\n")
        || !inner.starts_with(b"#### ")
    {
        return Step::Done(
            Record::Garbage {
                pos: pos(end_nl + 1),
                why: "an entry whose heading or body framing is damaged",
            },
            end_nl + 1,
        );
    }
    let escaped = &inner[body_start..inner.len() - 2];
    let body = if needs_unescape(escaped) {
        String::from_utf8(unescape_body(escaped))
    } else {
        String::from_utf8(escaped.to_vec())
    };
    let Ok(body) = body else {
        return Step::Done(
            Record::Garbage {
                pos: pos(end_nl + 1),
                why: "an entry whose body is not UTF-8",
            },
            end_nl + 1,
        );
    };
    let sum_ok = Sum::of(prev, &buf[..m]) == sum;
    let len = end_nl + 1;
    Step::Done(
        Record::Entry(Box::new(Scanned {
            author: h.author,
            seq: h.seq,
            ts: h.ts,
            kind: h.kind,
            refs: h.refs,
            to: h.to,
            key: h.key,
            body,
            prev,
            sum,
            sum_ok,
            pos: pos(len),
        })),
        len,
    )
}

/// A problem in the chain of one author file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The stored checksum does not match the entry's bytes: it was edited.
    Checksum,
    /// `prev` is not the checksum of the entry before: an entry was removed, inserted or moved.
    Chain { expected: Sum, found: Sum },
    /// seq is not the previous seq + 1.
    Seq { expected: u64, found: u64 },
    /// ts went backwards.
    TimeBackwards { previous: Timestamp },
    /// The entry's author is not the file's author.
    WrongAuthor,
}

/// Tracks the hash chain, seq and ts of one author file as its entries go by.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub last_seq: u64,
    pub last_sum: Sum,
    pub last_ts: Option<Timestamp>,
}

impl Chain {
    /// Checks `e` against the chain so far and advances the chain past it (so one break is
    /// reported once, not for every entry after it).
    pub fn check(&mut self, author: &Author, e: &Scanned) -> Vec<Break> {
        let mut out = Vec::new();
        if &e.author != author {
            out.push(Break::WrongAuthor);
        }
        if !e.sum_ok {
            out.push(Break::Checksum);
        }
        if e.seq != self.last_seq + 1 {
            out.push(Break::Seq {
                expected: self.last_seq + 1,
                found: e.seq,
            });
        }
        if e.prev != self.last_sum {
            out.push(Break::Chain {
                expected: self.last_sum,
                found: e.prev,
            });
        }
        if let Some(previous) = self.last_ts
            && e.ts < previous
        {
            out.push(Break::TimeBackwards { previous });
        }
        self.last_seq = e.seq;
        self.last_sum = e.sum;
        self.last_ts = Some(self.last_ts.map_or(e.ts, |t| t.max(e.ts)));
        out
    }
}

#[cfg(test)]
mod tests;
