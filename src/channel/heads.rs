//! Deletion detection: what `verify` compares the end of each author file against.
//!
//! A hash chain shows an entry removed from the middle of a file (the next entry's `prev`
//! breaks), but not entries cut off its end, nor a whole file deleted: what is left is a
//! valid chain. Two things can show those:
//! - **heads**, each author's last seq and sum, recorded in the seal marker when the channel is
//!   sealed, and again in the archive index (the store's README.md, one hidden line per sealed
//!   channel, outside the channel's directory): after sealing, a file that ends anywhere else
//!   (or is gone, or appeared) is a finding, and so is a seal marker that disagrees with the
//!   index or is gone;
//! - **witnesses** already in the record before sealing: an entry that refs an entry its
//!   author's file no longer has, and a catchup cursor that has seen past an author's last
//!   entry.
//!
//! It only reads; the sealer writes the heads it computes here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::Error;
use super::append::read_tail;
use super::entry::{EntryId, Sum};
use super::names::Author;
use super::open::{Mode, open as open_author};
use super::store::Channel;
use super::verify::{Finding, Report};

/// An author's last entry, as recorded in the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    /// The entry's `sum`, 16 hex digits.
    pub sum: String,
}

/// Per author (file stem), the last entry.
pub type Heads = BTreeMap<String, Head>;

/// The heads of every author file of `channel` now (read from each file's end).
pub fn current(channel: &Channel) -> Result<Heads, Error> {
    let mut heads = Heads::new();
    for (author, path) in channel.author_files()? {
        let Some(file) = open_author(&path, Mode::Read)? else {
            continue;
        };
        let len = file
            .metadata()
            .map_err(Error::io("cannot stat", &path))?
            .len();
        let tail = read_tail(&file, len).map_err(Error::io("cannot read", &path))?;
        if tail.last_seq > 0 {
            heads.insert(
                author.to_string(),
                Head {
                    seq: tail.last_seq,
                    sum: tail.last_sum.to_string(),
                },
            );
        }
    }
    Ok(heads)
}

/// Where one file's chain ended, as verify read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub seq: u64,
    pub sum: Sum,
}

/// What recorded a set of heads, for findings: "the seal" and the marker's path, or "the
/// archive index" and the store's README.md.
#[derive(Debug, Clone)]
pub struct Source {
    pub name: &'static str,
    pub path: PathBuf,
}

impl Source {
    pub fn seal(channel: &Channel) -> Self {
        Self {
            name: "the seal",
            path: channel.dir().join(".warroom").join("sealed.json"),
        }
    }
}

/// Starts the hidden line of the archive index that records one sealed channel's heads:
/// `<!-- warroom:heads channel=NAME operator=2:SUM pipeline=12:SUM -->`.
pub const INDEX_PREFIX: &str = "<!-- warroom:heads ";

/// The archive index's line for `channel`'s `heads`.
pub fn index_line(channel: &str, heads: &Heads) -> String {
    let mut line = format!("{INDEX_PREFIX}channel={channel}");
    for (author, head) in heads {
        line.push_str(&format!(" {author}={}:{}", head.seq, head.sum));
    }
    line.push_str(" -->");
    line
}

/// The heads the archive index `text` records for `channel` (`None`: no line for it; a line
/// that does not parse counts as none, and verify says so).
pub fn from_index(text: &str, channel: &str) -> Option<Result<Heads, String>> {
    let want = format!("{INDEX_PREFIX}channel={channel} ");
    let line = text
        .lines()
        .find(|l| l.starts_with(&want) || *l == format!("{INDEX_PREFIX}channel={channel} -->"))?;
    let inner = line
        .strip_prefix(INDEX_PREFIX)
        .and_then(|l| l.strip_suffix("-->"))
        .unwrap_or("");
    let mut heads = Heads::new();
    for kv in inner.split(' ').filter(|s| !s.is_empty()).skip(1) {
        let parsed = kv.split_once('=').and_then(|(author, head)| {
            let (seq, sum) = head.split_once(':')?;
            Author::new(author).ok()?;
            Sum::parse(sum.as_bytes())?;
            Some((
                author.to_owned(),
                Head {
                    seq: seq.parse().ok()?,
                    sum: sum.to_owned(),
                },
            ))
        });
        match parsed {
            Some((author, head)) => {
                heads.insert(author, head);
            }
            None => return Some(Err(format!("cannot read {kv:?} in its line for {channel}"))),
        }
    }
    Some(Ok(heads))
}

/// Largest archive index read (it is one line per channel plus a table).
const MAX_INDEX: u64 = 16 * 1024 * 1024;

/// The archive index's path and the heads it records for a channel (or why its line for the
/// channel does not parse).
pub type IndexHeads = (PathBuf, Result<Heads, String>);

/// The archive index (the store's README.md) beside `channel`'s directory, with the heads it
/// records for the channel: `Ok(None)` when there is no index or no line for the channel.
pub fn index_heads(channel: &Channel) -> Result<Option<IndexHeads>, Error> {
    use std::io::Read;
    let Some(root) = channel.dir().parent() else {
        return Ok(None);
    };
    let path = root.join("README.md");
    // Opened like an author file: never through a link, never blocking on a FIFO.
    let file = match open_author(&path, Mode::Read) {
        Ok(Some(f)) => f,
        Ok(None) | Err(Error::NotRegular { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    file.take(MAX_INDEX)
        .read_to_end(&mut bytes)
        .map_err(Error::io("cannot read", &path))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(from_index(&text, &channel.name().to_string()).map(|h| (path, h)))
}

/// Compares what verify read with the heads recorded at sealing by `source`.
pub fn check_heads(
    channel: &Channel,
    source: &Source,
    heads: &Heads,
    ends: &BTreeMap<Author, End>,
    report: &mut Report,
) {
    let (by, marker) = (source.name, &source.path);
    for (author, head) in heads {
        let path = channel.dir().join(format!("{author}.md"));
        let at = |message: String| Finding {
            path: path.clone(),
            line: 0,
            message,
        };
        let end = Author::new(author).ok().and_then(|a| ends.get(&a).copied());
        let recorded = format!("{author}#{} (sum {})", head.seq, head.sum);
        match end {
            None => report.findings.push(at(format!(
                "missing: {by} ({}) records {recorded} as its last entry; the file was deleted (or emptied) after sealing. Restore it from git",
                marker.display()
            ))),
            Some(end) if end.seq < head.seq => report.findings.push(at(format!(
                "ends at {author}#{}, but {by} records {recorded} as its last entry: {} entries were removed after sealing. Restore the file from git",
                end.seq,
                head.seq - end.seq
            ))),
            Some(end) if end.seq > head.seq => report.findings.push(at(format!(
                "ends at {author}#{}, after {recorded}, the last entry {by} records: entries were added after sealing",
                end.seq
            ))),
            Some(end) if end.sum.to_string() != head.sum => report.findings.push(at(format!(
                "its last entry {author}#{} has sum {}, but {by} records {recorded}: the end of the file was rewritten after sealing",
                end.seq, end.sum
            ))),
            Some(_) => {}
        }
    }
    for (author, end) in ends {
        if end.seq > 0 && !heads.contains_key(author.as_str()) {
            report.findings.push(Finding {
                path: channel.author_path(author),
                line: 0,
                message: format!(
                    "{} entries, but {by} ({}) records no head for {author}: the file was added after sealing",
                    end.seq,
                    marker.display()
                ),
            });
        }
    }
}

/// Refs seen while verifying: per referenced author, the highest seq referred to and where.
#[derive(Debug, Default)]
pub struct Refs {
    highest: BTreeMap<Author, (u64, PathBuf, u64, EntryId)>,
}

impl Refs {
    /// `by` (at `path`:`line`) refs `target`.
    pub fn saw(&mut self, target: &EntryId, by: EntryId, path: &Path, line: u64) {
        let slot = self.highest.get(&target.author);
        if slot.is_none_or(|(seq, ..)| target.seq > *seq) {
            self.highest.insert(
                target.author.clone(),
                (target.seq, path.to_owned(), line, by),
            );
        }
    }

    /// A ref past the end of its author's file: the entry it names was deleted.
    pub fn check(&self, ends: &BTreeMap<Author, End>, report: &mut Report) {
        for (author, (seq, path, line, by)) in &self.highest {
            let last = ends.get(author).map_or(0, |e| e.seq);
            if *seq > last {
                let has = if ends.contains_key(author) {
                    format!("{author}.md ends at {author}#{last}")
                } else {
                    format!("there is no {author}.md")
                };
                report.findings.push(Finding {
                    path: path.clone(),
                    line: *line,
                    message: format!(
                        "entry {by} refs {author}#{seq}, which does not exist ({has}): it was deleted, or its file cut short. Restore {author}.md from git"
                    ),
                });
            }
        }
    }
}

/// Catchup cursors that have seen entries an author's file no longer has.
pub fn check_cursors(
    channel: &Channel,
    ends: &BTreeMap<Author, End>,
    report: &mut Report,
) -> Result<(), Error> {
    let dir = channel.dir().join(".warroom").join("cursors");
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot list", &dir)(e)),
    };
    let mut readers = Vec::new();
    for ent in rd {
        let ent = ent.map_err(Error::io("cannot list", &dir))?;
        let name = ent.file_name();
        if let Some(reader) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| Author::new(n).ok())
        {
            readers.push(reader);
        }
    }
    readers.sort();
    for reader in readers {
        let path = dir.join(format!("{reader}.json"));
        let cursor = match channel.cursor(&reader) {
            Ok(c) => c,
            Err(e) => {
                report.findings.push(Finding {
                    path,
                    line: 0,
                    message: e.to_string(),
                });
                continue;
            }
        };
        for (author, seen) in cursor {
            let last = Author::new(&author)
                .ok()
                .and_then(|a| ends.get(&a))
                .map_or(0, |e| e.seq);
            if seen > last {
                report.findings.push(Finding {
                    path: path.clone(),
                    line: 0,
                    message: format!(
                        "{reader}'s catchup cursor has seen {author}#{seen}, but {author}.md ends at {author}#{last}: entries were removed after {reader} read them. Restore {author}.md from git"
                    ),
                });
            }
        }
    }
    Ok(())
}
