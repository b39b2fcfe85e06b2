//! One entry: its fields, its encoding as markdown with begin and end markers, its checksum.
//!
//! The grammar is written down in docs/FORMAT.md; this file and [`super::scan`] are its only
//! implementation. Encoding is pure: no I/O here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::Error;
pub use super::kind::{IdempotencyKey, Kind};
use super::names::Author;

/// Prefix shared by every marker line; a body line starting with it (after any run of `\`)
/// is escaped with one more `\`.
pub const MARKER_PREFIX: &[u8] = b"<!-- warroom:";
pub const BEGIN_PREFIX: &[u8] = b"<!-- warroom:entry ";
pub const END_PREFIX: &[u8] = b"<!-- warroom:end ";
pub const REPAIR_PREFIX: &[u8] = b"<!-- warroom:repair ";
pub const MARKER_SUFFIX: &[u8] = b" -->\n";

/// The `prev` of an author's first entry.
pub const GENESIS: Sum = Sum(0);

/// Default body limit in bytes.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;

/// A UTC instant with millisecond precision, always printed as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
///
/// Held as that fixed-width ASCII text: the text order equals the time order (which the merge
/// relies on), and readers print a stored timestamp without formatting it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp([u8; 24]);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// Truncates to milliseconds.
    pub fn from_datetime(t: DateTime<Utc>) -> Self {
        use chrono::{Datelike, Timelike};
        let year = t.year();
        if !(0..=9999).contains(&year) {
            // Outside four digits the fixed width cannot hold; clamp (never happens for "now").
            let clamped = if year < 0 {
                "0000-01-01T00:00:00.000Z"
            } else {
                "9999-12-31T23:59:59.999Z"
            };
            let mut out = [0u8; 24];
            out.copy_from_slice(clamped.as_bytes());
            return Self(out);
        }
        let mut out = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (0..width).rev() {
                out[at + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year as u32);
        put(5, 2, t.month());
        put(8, 2, t.day());
        put(11, 2, t.hour());
        put(14, 2, t.minute());
        // A leap second (nanosecond >= 1e9) is folded into :59.999.
        let ms = (t.nanosecond() / 1_000_000).min(999);
        put(17, 2, t.second().min(59));
        put(20, 3, ms);
        Self(out)
    }

    pub fn datetime(self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(self.as_str())
            .expect("a Timestamp holds a valid time")
            .with_timezone(&Utc)
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("a Timestamp is ASCII")
    }

    /// Parses the exact stored form (24 bytes, `Z`, milliseconds) without allocating.
    pub fn parse_exact(s: &str) -> Option<Self> {
        let b: [u8; 24] = s.as_bytes().try_into().ok()?;
        let shape = b"dddd-dd-ddTdd:dd:dd.dddZ";
        for (c, want) in b.iter().zip(shape) {
            let ok = if *want == b'd' {
                c.is_ascii_digit()
            } else {
                c == want
            };
            if !ok {
                return None;
            }
        }
        let num =
            |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        chrono::NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))?;
        if num(11..13) > 23 || num(14..16) > 59 || num(17..19) > 59 {
            return None;
        }
        Some(Self(b))
    }

    /// Parses any RFC 3339 time (for `--since`), truncated to milliseconds.
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| Self::from_datetime(t.with_timezone(&Utc)))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 time: {s:?}")))
    }
}

/// `author#seq`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryId {
    pub author: Author,
    pub seq: u64,
}

impl EntryId {
    pub fn parse(s: &str) -> Result<Self, Error> {
        let bad = || Error::BadRef(s.to_owned());
        let (author, seq) = s.split_once('#').ok_or_else(bad)?;
        let author = Author::new(author).map_err(|_| bad())?;
        if seq.is_empty() || seq.starts_with('0') || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let seq = seq.parse().map_err(|_| bad())?;
        Ok(Self { author, seq })
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.author, self.seq)
    }
}

impl Serialize for EntryId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EntryId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EntryId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A 64-bit checksum, printed as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Sum(pub u64);

impl Sum {
    /// The checksum of an entry: BLAKE3 over the previous checksum and the entry's bytes from
    /// its begin marker up to (not including) its end marker, truncated to 64 bits.
    pub fn of(prev: Sum, entry_bytes: &[u8]) -> Sum {
        let mut h = blake3::Hasher::new();
        h.update(&prev.hex());
        h.update(b"\n");
        h.update(entry_bytes);
        let out = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out.as_bytes()[..8]);
        Sum(u64::from_be_bytes(first))
    }

    /// The 16 hex digits, without allocating.
    pub fn hex(self) -> [u8; 16] {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 16];
        for (i, o) in out.iter_mut().enumerate() {
            *o = DIGITS[((self.0 >> (60 - 4 * i)) & 0xf) as usize];
        }
        out
    }

    /// Parses exactly 16 lowercase hex digits.
    pub fn parse(s: &[u8]) -> Option<Sum> {
        if s.len() != 16 {
            return None;
        }
        let mut n = 0u64;
        for &b in s {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return None,
            };
            n = (n << 4) | u64::from(d);
        }
        Some(Sum(n))
    }
}

impl fmt::Display for Sum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::str::from_utf8(&self.hex()).expect("hex is ASCII"))
    }
}

/// An entry as readers see it. The JSON form is shared by ndjson, REST and WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    pub channel: String,
    pub author: Author,
    pub seq: u64,
    pub ts: Timestamp,
    /// The true kind token as written; readers act on [`Kind::effective`].
    pub kind: Kind,
    pub refs: Vec<EntryId>,
    /// Roles the entry is addressed to (`to=`); JSON omits the field when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Author>,
    /// The idempotency key it was posted with (`key=`); JSON omits the field when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<IdempotencyKey>,
    pub body: String,
}

impl Entry {
    /// Appends the entry's JSON (the same bytes as `serde_json::to_writer`) to `out`.
    ///
    /// A fast path for readers: every field but the body is a validated name, id, number or
    /// timestamp that needs no escaping, so only the body goes through serde_json's escaper.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let _ = write!(
            out,
            "{{\"id\":\"{}#{}\",\"channel\":\"{}\",\"author\":\"{}\",\"seq\":{},\"ts\":\"{}\",\"kind\":\"{}\",\"refs\":[",
            self.id.author, self.id.seq, self.channel, self.author, self.seq, self.ts, self.kind
        );
        for (i, r) in self.refs.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(out, "\"{}#{}\"", r.author, r.seq);
        }
        out.push(b']');
        if !self.to.is_empty() {
            out.extend_from_slice(b",\"to\":[");
            for (i, r) in self.to.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let _ = write!(out, "\"{r}\"");
            }
            out.push(b']');
        }
        if let Some(k) = &self.key {
            // A key's characters need no JSON escaping.
            let _ = write!(out, ",\"key\":\"{k}\"");
        }
        out.extend_from_slice(b",\"body\":");
        serde_json::to_writer(&mut *out, &self.body).expect("a string serializes");
        out.push(b'}');
    }
}

impl Serialize for Author {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Author {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Author::new(&s).map_err(serde::de::Error::custom)
    }
}

/// What a writer supplies; the store assigns seq, ts and the chain.
///
/// `Default` is an empty observation, for `Draft { kind, body, ..Draft::default() }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub kind: Kind,
    pub refs: Vec<EntryId>,
    /// Roles it is addressed to; each must be on the roster.
    pub to: Vec<Author>,
    /// With a key, posting is safe to retry: the author's earlier entry with this key is
    /// returned instead of writing again (see [`super::Channel::post`]).
    pub key: Option<IdempotencyKey>,
    pub body: String,
}

impl Default for Draft {
    fn default() -> Self {
        Self {
            kind: Kind::Observation,
            refs: Vec::new(),
            to: Vec::new(),
            key: None,
            body: String::new(),
        }
    }
}

impl Draft {
    /// A draft of `kind` with `body`, no refs, no recipients, no key.
    pub fn new(kind: Kind, body: impl Into<String>) -> Self {
        Self {
            kind,
            body: body.into(),
            ..Self::default()
        }
    }

    /// The first field in which `entry` differs from this draft (what a replayed key must
    /// match), or `None` when it holds the same content.
    pub fn differs_from(&self, entry: &Entry) -> Option<&'static str> {
        if self.kind != entry.kind {
            Some("kind")
        } else if self.body != entry.body {
            Some("body")
        } else if self.refs != entry.refs {
            Some("refs")
        } else if self.to != entry.to {
            Some("recipients (to)")
        } else {
            None
        }
    }
}

/// The fields that go into the begin marker.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    pub author: &'a Author,
    pub seq: u64,
    pub ts: Timestamp,
    pub kind: Kind,
    pub refs: &'a [EntryId],
    pub to: &'a [Author],
    pub key: Option<&'a IdempotencyKey>,
}

/// Appends the encoded entry to `out` and returns its checksum.
///
/// Layout: begin marker, human heading, blank line, escaped body, `\n\n`, end marker.
pub fn encode(out: &mut Vec<u8>, h: Header<'_>, body: &str, prev: Sum) -> Sum {
    use std::io::Write as _;
    let start = out.len();
    let _ = write!(
        out,
        "<!-- warroom:entry id={}#{} ts={} kind={}",
        h.author, h.seq, h.ts, h.kind
    );
    if !h.refs.is_empty() {
        out.extend_from_slice(b" refs=");
        push_refs(out, h.refs, ",");
    }
    if !h.to.is_empty() {
        out.extend_from_slice(b" to=");
        push_refs(out, h.to, ",");
    }
    if let Some(key) = h.key {
        out.extend_from_slice(b" key=");
        out.extend_from_slice(key.as_str().as_bytes());
    }
    out.extend_from_slice(MARKER_SUFFIX);
    let clock = h.ts.datetime().format("%H:%M:%SZ");
    let kind = match h.kind {
        Kind::Alert => "**ALERT**",
        Kind::Decision => "**decision**",
        ref k => k.as_str(),
    };
    let _ = write!(out, "#### {clock} · {} · {kind}", h.author);
    if !h.refs.is_empty() {
        out.extend_from_slice(" · re ".as_bytes());
        push_refs(out, h.refs, ", ");
    }
    if !h.to.is_empty() {
        out.extend_from_slice(" · to ".as_bytes());
        push_refs(out, h.to, ", ");
    }
    out.extend_from_slice(b"\n\n");
    escape_body(out, body.as_bytes());
    out.extend_from_slice(b"\n\n");
    let sum = Sum::of(prev, &out[start..]);
    let _ = writeln!(
        out,
        "<!-- warroom:end id={}#{} prev={} sum={} -->",
        h.author, h.seq, prev, sum
    );
    sum
}

fn push_refs(out: &mut Vec<u8>, refs: &[impl fmt::Display], sep: &str) {
    use std::io::Write as _;
    for (i, r) in refs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep.as_bytes());
        }
        let _ = write!(out, "{r}");
    }
}

/// Start of each marker-like line: where backslashes and the marker prefix begin a line. Found by
/// searching for the prefix (rare in real bodies) rather than walking every line.
fn markerish_line_starts(body: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    MARKER_FINDER.find_iter(body).filter_map(move |pos| {
        let slashes = body[..pos]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        let start = pos - slashes;
        (start == 0 || body[start - 1] == b'\n').then_some((start, slashes))
    })
}

/// Copies `body` into `out`, prefixing every marker-like line with one backslash.
pub fn escape_body(out: &mut Vec<u8>, body: &[u8]) {
    let mut copied = 0;
    for (start, _) in markerish_line_starts(body) {
        out.extend_from_slice(&body[copied..start]);
        out.push(b'\\');
        copied = start;
    }
    out.extend_from_slice(&body[copied..]);
}

/// Reverses [`escape_body`].
pub fn unescape_body(escaped: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(escaped.len());
    let mut copied = 0;
    for (start, slashes) in markerish_line_starts(escaped) {
        if slashes > 0 {
            out.extend_from_slice(&escaped[copied..start]);
            copied = start + 1;
        }
    }
    out.extend_from_slice(&escaped[copied..]);
    out
}

/// True when no body line needs escaping (the common case, so readers can skip the copy).
pub fn needs_unescape(escaped: &[u8]) -> bool {
    MARKER_FINDER.find(escaped).is_some()
}

/// Built once: building a substring searcher costs more than searching a short body.
static MARKER_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(MARKER_PREFIX));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_round_trips_marker_lines() {
        let body = "a\n<!-- warroom:end id=x#1 prev=0 sum=0 -->\n\\<!-- warroom:entry\n \\\\<!-- warroom:x";
        let mut out = Vec::new();
        escape_body(&mut out, body.as_bytes());
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\n\\<!-- warroom:end"));
        assert!(text.contains("\n\\\\<!-- warroom:entry"));
        assert!(!text.lines().any(|l| l.starts_with("<!-- warroom:")));
        assert_eq!(unescape_body(&out), body.as_bytes());
    }

    #[test]
    fn timestamps_are_fixed_width() {
        let t = Timestamp::parse_rfc3339("2026-05-04T17:15:04Z").unwrap();
        assert_eq!(t.to_string(), "2026-05-04T17:15:04.000Z");
        assert_eq!(
            Timestamp::parse_exact("2026-05-04T17:15:04.123Z")
                .unwrap()
                .to_string(),
            "2026-05-04T17:15:04.123Z"
        );
        assert!(Timestamp::parse_exact("2026-05-04T17:15:04Z").is_none());
    }

    #[test]
    fn timestamp_formatting_matches_chrono() {
        use chrono::SecondsFormat;
        for ms in [
            0i64,
            1,
            999,
            1_000,
            1_777_911_304_123,
            253_402_300_799_999,
            86_399_999,
        ] {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            assert_eq!(
                Timestamp::from_datetime(t).to_string(),
                t.to_rfc3339_opts(SecondsFormat::Millis, true)
            );
            assert_eq!(Timestamp::from_datetime(t).datetime(), t);
        }
    }

    #[test]
    fn ids() {
        assert_eq!(
            EntryId::parse("data-plane#7").unwrap().to_string(),
            "data-plane#7"
        );
        for bad in ["x", "x#", "x#0", "x#07", "X#1", "x#-1", "#1", "x#1#2"] {
            assert!(EntryId::parse(bad).is_err(), "{bad}");
        }
    }
}
