//! Finding one entry in an author file by an attribute of its begin marker (an idempotency key,
//! an id) without parsing the whole file.
//!
//! A substring search for ` name=value ` runs over the file at memory speed; a hit counts only
//! on a line that starts with the begin-marker prefix (no body line can: the encoder escapes
//! them), and only the entry that starts there is parsed and checksummed. Memory stays
//! bounded: the file is searched in chunks. It only reads.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use super::entry::{BEGIN_PREFIX, EntryId, IdempotencyKey};
use super::names::Author;
use super::scan::{Record, Scanned, Scanner};

/// Bytes searched per read.
const CHUNK: usize = 1 << 20;
/// A begin-marker line longer than this is not looked for (writers stay far below it: refs and
/// recipients are capped).
pub const MAX_BEGIN_LINE: usize = 64 * 1024;

/// Offsets of the begin-marker lines in the first `len` bytes of `file` that carry the
/// attribute `name=value`, in file order.
pub fn begin_lines_with(file: &File, len: u64, name: &str, value: &str) -> io::Result<Vec<u64>> {
    search(file, len, name, value, CHUNK)
}

fn search(file: &File, len: u64, name: &str, value: &str, chunk: usize) -> io::Result<Vec<u64>> {
    let needle = format!(" {name}={value} ");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut start = 0u64;
    while start < len {
        // Each window reaches back far enough to see the start of a hit's line, and forward
        // far enough to hold a hit that starts at the end of the chunk; a hit is counted only
        // in the chunk where it starts.
        let from = start.saturating_sub(MAX_BEGIN_LINE as u64);
        let to = (start + chunk as u64).min(len);
        let read_to = (to + needle.len() as u64).min(len);
        buf.resize((read_to - from) as usize, 0);
        file.read_exact_at(&mut buf, from)?;
        let lo = (start - from) as usize;
        let hi = (to - from) as usize;
        for hit in finder.find_iter(&buf[lo..]) {
            let at = lo + hit;
            if at >= hi {
                break;
            }
            let line_start = match memchr::memrchr(b'\n', &buf[..at]) {
                Some(nl) => nl + 1,
                None if from == 0 => 0,
                None => continue, // a line longer than any begin marker
            };
            if buf[line_start..].starts_with(BEGIN_PREFIX) {
                out.push(from + line_start as u64);
            }
        }
        start = to;
    }
    Ok(out)
}

/// The record that starts at `offset` (a line start), reading no further than `len`.
/// Its position's line number is 0: unknown here (see [`line_at`]).
pub fn record_at(file: &File, offset: u64, len: u64) -> io::Result<Option<Record>> {
    let src = ReadAt {
        file,
        pos: offset,
        end: len,
    };
    Scanner::new(src, offset, 0).next_record()
}

/// The 1-based line number of `offset` (counts newlines before it: for messages only).
pub fn line_at(file: &File, offset: u64) -> io::Result<u64> {
    let mut src = ReadAt {
        file,
        pos: 0,
        end: offset,
    };
    let mut buf = vec![0u8; CHUNK];
    let mut lines = 1;
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
}

/// The first complete entry of `author` with idempotency key `key` in the first `len` bytes
/// (torn or damaged candidates are passed over; whether it matches its checksum is for the
/// caller to judge).
pub fn find_by_key(
    file: &File,
    len: u64,
    author: &Author,
    key: &IdempotencyKey,
) -> io::Result<Option<Box<Scanned>>> {
    for offset in begin_lines_with(file, len, "key", key.as_str())? {
        if let Some(Record::Entry(e)) = record_at(file, offset, len)?
            && e.key.as_ref() == Some(key)
            && &e.author == author
        {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// The first complete entry with id `id` in the first `len` bytes of its author's file.
pub fn find_by_id(file: &File, len: u64, id: &EntryId) -> io::Result<Option<Box<Scanned>>> {
    for offset in begin_lines_with(file, len, "id", &id.to_string())? {
        if let Some(Record::Entry(e)) = record_at(file, offset, len)?
            && e.author == id.author
            && e.seq == id.seq
        {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// `Read` over a byte range of a file by positioned reads (the file's offset is left alone).
pub(crate) struct ReadAt<'a> {
    pub(crate) file: &'a File,
    pub(crate) pos: u64,
    pub(crate) end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end.saturating_sub(self.pos)) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::channel::entry::{GENESIS, Header, Kind, Sum, Timestamp, encode};

    fn file_with(entries: &[(u64, Option<&str>, &str)]) -> (tempfile::NamedTempFile, u64) {
        let a = Author::new("a").unwrap();
        let mut bytes = Vec::new();
        let mut prev: Sum = GENESIS;
        for (seq, key, body) in entries {
            let key = key.map(|k| IdempotencyKey::new(k).unwrap());
            prev = encode(
                &mut bytes,
                Header {
                    author: &a,
                    seq: *seq,
                    ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
                    kind: Kind::Note,
                    refs: &[],
                    to: &[],
                    key: key.as_ref(),
                },
                body,
                prev,
            );
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&bytes).unwrap();
        (f, bytes.len() as u64)
    }

    #[test]
    fn finds_by_key_and_id_but_not_in_bodies() {
        let (f, len) = file_with(&[
            (
                1,
                None,
                "<!-- warroom:entry id=a#9 ts=2026-05-04T17:15:04.123Z kind=note key=k1 -->",
            ),
            (2, Some("k0"), " key=k1 "),
            (3, Some("k1"), "the one"),
        ]);
        let a = Author::new("a").unwrap();
        let k1 = IdempotencyKey::new("k1").unwrap();
        let e = find_by_key(f.as_file(), len, &a, &k1).unwrap().unwrap();
        assert_eq!((e.seq, e.body.as_str()), (3, "the one"));
        assert!(e.sum_ok);
        let k2 = IdempotencyKey::new("k2").unwrap();
        assert!(find_by_key(f.as_file(), len, &a, &k2).unwrap().is_none());
        let id = EntryId::parse("a#2").unwrap();
        assert_eq!(find_by_id(f.as_file(), len, &id).unwrap().unwrap().seq, 2);
        let id = EntryId::parse("a#9").unwrap();
        assert!(find_by_id(f.as_file(), len, &id).unwrap().is_none());
        // Within the first `len` bytes only.
        let e3 = begin_lines_with(f.as_file(), len, "key", "k1").unwrap()[0];
        assert!(
            find_by_key(f.as_file(), e3 + 10, &a, &k1)
                .unwrap()
                .is_none()
        );
        assert_eq!(line_at(f.as_file(), e3).unwrap(), 13);
    }

    #[test]
    fn hits_across_chunk_boundaries_are_found_once() {
        let entries: Vec<(u64, Option<String>, String)> = (1..=40u64)
            .map(|seq| {
                (
                    seq,
                    Some(format!("key-{seq}")),
                    "x".repeat(seq as usize * 7),
                )
            })
            .collect();
        let refs: Vec<(u64, Option<&str>, &str)> = entries
            .iter()
            .map(|(s, k, b)| (*s, k.as_deref(), b.as_str()))
            .collect();
        let (f, len) = file_with(&refs);
        let whole = search(f.as_file(), len, "key", "key-1", CHUNK).unwrap();
        assert_eq!(whole, vec![0]);
        for chunk in [13, 97, 4096] {
            for seq in 1..=40u64 {
                let hits = search(f.as_file(), len, "key", &format!("key-{seq}"), chunk).unwrap();
                assert_eq!(
                    hits,
                    search(f.as_file(), len, "key", &format!("key-{seq}"), CHUNK).unwrap()
                );
                assert_eq!(hits.len(), 1, "chunk {chunk} seq {seq}");
            }
        }
    }
}
