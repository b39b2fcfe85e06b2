//! Repair markers: what a writer records when it closes off torn bytes, and the check a reader
//! makes of one.
//!
//! A marker says where the bytes it closes off start, how many there are, and their checksum
//! (`torn-at`, `torn-bytes`, `torn-sum`). A marker that closes off nothing, or something else
//! than it says, or whose bytes changed since, was not left by a writer as it was: it may hide
//! an entry (a complete one with its end marker cut off looks like a tear). Markers from
//! versions before `torn-sum` are accepted when their offsets match. It only reads.

use std::fs::File;
use std::io::{self, Read};

use super::entry::Sum;
use super::lookup::ReadAt;

/// What a repair marker says it closed off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Torn {
    /// Byte offset of the first torn byte.
    pub at: u64,
    /// How many bytes (not counting the LF a writer adds when they do not end with one).
    pub bytes: u64,
    /// Their checksum; `None` in markers written before it was recorded.
    pub sum: Option<Sum>,
}

/// The checksum of `len` bytes of `file` from `at`: the first 8 bytes (big-endian) of their
/// BLAKE3 hash. Streams the bytes, so memory stays bounded whatever their length.
pub fn torn_sum(file: &File, at: u64, len: u64) -> io::Result<Sum> {
    let mut src = ReadAt {
        file,
        pos: at,
        end: at + len,
    };
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = src.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    if src.pos != at + len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    let mut first = [0u8; 8];
    first.copy_from_slice(&h.finalize().as_bytes()[..8]);
    Ok(Sum(u64::from_be_bytes(first)))
}

/// The marker a writer appends before its entry to close off `len` torn bytes at `at`.
pub fn marker(ts: impl std::fmt::Display, at: u64, len: u64, sum: Sum) -> String {
    format!("<!-- warroom:repair ts={ts} torn-at={at} torn-bytes={len} torn-sum={sum} -->\n")
}

/// What a check of a repair marker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// It closes off exactly the bytes it says, and they match its checksum.
    Sound,
    /// It closes off the bytes it says, but records no checksum (an older writer's marker).
    Unsummed,
    /// It was not left as a writer leaves one: why.
    Unsound(String),
}

/// Checks a marker at byte offset `marker_at` that says `torn`, with `closed` the stretch of
/// non-entry bytes before it (offset and length, `None` when an entry or marker ends right
/// before it).
pub fn check(
    file: &File,
    torn: Option<Torn>,
    closed: Option<(u64, u64)>,
    marker_at: u64,
) -> io::Result<Verdict> {
    let Some((from, len)) = closed else {
        return Ok(Verdict::Unsound(
            "a repair marker that closes off nothing (a writer writes one only after torn bytes, together with its entry)".into(),
        ));
    };
    let Some(torn) = torn else {
        return Ok(Verdict::Unsound(format!(
            "a repair marker that does not say what it closes off (no torn-at and torn-bytes): it was not written by warroom, and the {len} bytes before it may hide an entry"
        )));
    };
    // The writer adds an LF before its marker when the torn bytes do not end with one.
    let ends = torn.at.checked_add(torn.bytes);
    if torn.at != from || !(ends == Some(marker_at) || ends == Some(marker_at - 1)) {
        return Ok(Verdict::Unsound(format!(
            "a repair marker that says it closes off {} bytes at byte offset {}, but {len} bytes at byte offset {from} precede it: it was moved or made by hand, and may hide an entry",
            torn.bytes, torn.at
        )));
    }
    let Some(sum) = torn.sum else {
        return Ok(Verdict::Unsummed);
    };
    let found = torn_sum(file, torn.at, torn.bytes)?;
    Ok(if found == sum {
        Verdict::Sound
    } else {
        Verdict::Unsound(format!(
            "the {} bytes this repair marker closes off do not match its torn-sum ({sum}, found {found}): they were changed after the repair, or the marker was made by hand, and may hide an entry",
            torn.bytes
        ))
    })
}
