//! Reading an author file: a streaming scanner that turns bytes into records.
//!
//! The scanner holds at most one entry's bytes plus one read chunk, so memory does not grow
//! with the file. It never yields a partial entry: bytes that do not form a complete entry
//! come back as [`Record::Garbage`] (something else follows) or [`Record::Tail`] (end of
//! file: a write in progress or a torn write). It checks each entry's own checksum; the chain
//! between entries is checked by [`Chain`].

use std::io::{self, Read};

use super::entry::{
    BEGIN_PREFIX, END_PREFIX, EntryId, IdempotencyKey, Kind, MARKER_SUFFIX, REPAIR_PREFIX, Sum,
    Timestamp, needs_unescape, unescape_body,
};
use super::names::Author;

/// Bytes read per refill.
const CHUNK: usize = 64 * 1024;
/// An entry larger than this is not believed: its begin marker is treated as garbage, so a
/// missing end marker cannot make a reader buffer the whole file.
pub const MAX_ENTRY_BYTES: usize = 16 * 1024 * 1024;

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
}

enum Step {
    Done(Record, usize),
    NeedMore,
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
        }
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
            let avail = &self.buf[self.start..self.end];
            if avail.is_empty() && self.eof {
                return Ok(None);
            }
            match step(avail, self.offset, self.line, self.eof) {
                Step::Done(rec, used) => {
                    let lines = memchr::memchr_iter(b'\n', &avail[..used]).count() as u64;
                    self.start += used;
                    self.offset += used as u64;
                    self.line += lines;
                    return Ok(Some(rec));
                }
                Step::NeedMore => self.fill()?,
            }
        }
    }
}

impl<R: Read> Iterator for Scanner<R> {
    type Item = io::Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The position of the next line that starts a marker, searching from `from` (which must be a
/// line start or just after one).
fn next_marker_line(buf: &[u8], from: usize) -> Option<usize> {
    static NEEDLE: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\n<!-- warroom:"));
    let search_from = from.saturating_sub(1);
    NEEDLE
        .find(&buf[search_from..])
        .map(|i| search_from + i + 1)
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
fn step(buf: &[u8], offset: u64, line: u64, eof: bool) -> Step {
    let pos = |len: usize| Pos {
        offset,
        line,
        len: len as u64,
    };
    let Some(nl) = memchr::memchr(b'\n', buf) else {
        return rest_is_tail(buf, eof, &pos);
    };
    let first = &buf[..=nl];
    if first.starts_with(BEGIN_PREFIX)
        && let Some(head) = parse_begin(first)
    {
        return entry(buf, nl + 1, head, eof, pos);
    }
    if first.starts_with(REPAIR_PREFIX) && first.ends_with(MARKER_SUFFIX) {
        let ts = attrs(&first[REPAIR_PREFIX.len()..first.len() - MARKER_SUFFIX.len()])
            .find(|(k, _)| *k == b"ts")
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
            .and_then(Timestamp::parse_exact);
        return Step::Done(
            Record::Repair {
                pos: pos(nl + 1),
                ts,
            },
            nl + 1,
        );
    }
    // Garbage: everything up to the next marker line.
    match next_marker_line(buf, nl + 1) {
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

fn entry(buf: &[u8], after_begin: usize, h: Begin, eof: bool, pos: impl Fn(usize) -> Pos) -> Step {
    let Some(m) = next_marker_line(buf, after_begin) else {
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
    let Some(end_nl) = memchr::memchr(b'\n', &buf[m..]).map(|i| m + i) else {
        return rest_is_tail(buf, eof, &pos);
    };
    let torn = Record::Garbage {
        pos: pos(m),
        why: "an entry without its end marker (a torn write)",
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
mod tests {
    use super::*;
    use crate::channel::entry::{GENESIS, Header, encode};

    fn one(author: &str, seq: u64, body: &str, prev: Sum) -> (Vec<u8>, Sum) {
        let a = Author::new(author).unwrap();
        let mut out = Vec::new();
        let sum = encode(
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
            body,
            prev,
        );
        (out, sum)
    }

    fn records(bytes: &[u8]) -> Vec<Record> {
        Scanner::new(bytes, 0, 1).map(Result::unwrap).collect()
    }

    #[test]
    fn round_trip_and_chain() {
        let (mut file, s1) = one("a", 1, "hello\n<!-- warroom:end id=a#1 -->", GENESIS);
        let (e2, _) = one("a", 2, "", s1);
        file.extend_from_slice(&e2);
        let recs = records(&file);
        assert_eq!(recs.len(), 2, "{recs:?}");
        let mut chain = Chain::default();
        let a = Author::new("a").unwrap();
        for (i, r) in recs.iter().enumerate() {
            let Record::Entry(e) = r else { panic!("{r:?}") };
            assert!(chain.check(&a, e).is_empty());
            assert_eq!(e.seq, i as u64 + 1);
        }
        let Record::Entry(e) = &recs[0] else { panic!() };
        assert_eq!(e.body, "hello\n<!-- warroom:end id=a#1 -->");
        assert_eq!(e.pos.line, 1);
        let Record::Entry(e) = &recs[1] else { panic!() };
        assert_eq!(e.body, "");
        assert_eq!(e.pos.line, 8);
    }

    #[test]
    fn every_prefix_yields_no_partial_entry() {
        let (mut file, s1) = one("a", 1, "first", GENESIS);
        let (e2, _) = one("a", 2, "second\nline", s1);
        let whole = file.len();
        file.extend_from_slice(&e2);
        for cut in 0..file.len() {
            let recs = records(&file[..cut]);
            let entries = recs
                .iter()
                .filter(|r| matches!(r, Record::Entry(_)))
                .count();
            let expect = usize::from(cut >= whole);
            assert_eq!(entries, expect, "cut {cut}: {recs:?}");
            let covered: u64 = recs.iter().map(|r| r.pos().len).sum();
            assert_eq!(covered, cut as u64);
        }
    }

    #[test]
    fn resyncs_after_garbage() {
        let (e1, s1) = one("a", 1, "first", GENESIS);
        let (e2, _) = one("a", 2, "second", s1);
        let mut file = e1[..e1.len() / 2].to_vec();
        file.extend_from_slice(b"\n<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->\n");
        file.extend_from_slice(&e1);
        file.extend_from_slice(&e2);
        let recs = records(&file);
        assert!(matches!(recs[0], Record::Garbage { .. }), "{recs:?}");
        assert!(matches!(recs[1], Record::Repair { .. }), "{recs:?}");
        assert!(matches!(recs[2], Record::Entry(_)));
        assert!(matches!(recs[3], Record::Entry(_)));
    }

    fn body_strategy() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("<!-- warroom:entry id=a#2 ts=2026-05-04T17:15:04.123Z kind=note -->".to_owned()),
            Just(
                "<!-- warroom:end id=a#1 prev=0000000000000000 sum=0000000000000000 -->".to_owned()
            ),
            Just("<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->".to_owned()),
            Just("\\".to_owned()),
            Just("<!-- a comment -->".to_owned()),
            Just("```".to_owned()),
            Just("#### heading".to_owned()),
            Just("\r\n".to_owned()),
            Just("\n".to_owned()),
            Just("\n\n".to_owned()),
            Just("  \t ".to_owned()),
            "\\PC{0,12}",
            any::<String>(),
        ];
        proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        #[test]
        fn encode_then_scan_round_trips_any_body(body in body_strategy(), next in body_strategy()) {
            let (mut file, s1) = one("a", 1, &body, GENESIS);
            let (e2, _) = one("a", 2, &next, s1);
            file.extend_from_slice(&e2);
            let recs = records(&file);
            proptest::prop_assert_eq!(recs.len(), 2);
            let Record::Entry(e) = &recs[0] else { panic!("{recs:?}") };
            proptest::prop_assert_eq!(&e.body, &body);
            proptest::prop_assert!(e.sum_ok);
            let Record::Entry(e) = &recs[1] else { panic!("{recs:?}") };
            proptest::prop_assert_eq!(&e.body, &next);
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_json_equals_serde_json(
            body in body_strategy(),
            seq in 1u64..u64::MAX,
            refs in 0usize..3,
            to in 0usize..3,
            key in proptest::option::of("[A-Za-z0-9._:/@+-]{1,128}"),
            kind in proptest::sample::select(vec!["alert", "ack", "resolved", "future-kind"]),
        ) {
            use crate::channel::entry::{Entry, EntryId};
            let author = Author::new("data-plane").unwrap();
            let refs = (1..=refs as u64)
                .map(|s| EntryId { author: Author::new("pipeline").unwrap(), seq: s })
                .collect();
            let e = Entry {
                id: EntryId { author: author.clone(), seq },
                channel: "2026-05-04--litellm-canary".into(),
                author,
                seq,
                ts: Timestamp::now(),
                kind: Kind::from_token(kind).unwrap(),
                refs,
                to: ["operator", "traffic"].iter().take(to).map(|a| Author::new(a).unwrap()).collect(),
                key: key.map(|k| crate::channel::IdempotencyKey::new(&k).unwrap()),
                body,
            };
            let mut fast = Vec::new();
            e.write_json(&mut fast);
            proptest::prop_assert_eq!(&fast, &serde_json::to_vec(&e).unwrap());
            proptest::prop_assert_eq!(serde_json::from_slice::<Entry>(&fast).unwrap(), e);
        }
    }

    #[test]
    fn edited_byte_fails_checksum() {
        let (mut file, _) = one("a", 1, "the canary is healthy", GENESIS);
        let i = memchr::memmem::find(&file, b"healthy").unwrap();
        file[i] = b'H';
        let recs = records(&file);
        let Record::Entry(e) = &recs[0] else { panic!() };
        assert!(!e.sum_ok);
    }
}
