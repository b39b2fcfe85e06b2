//! The merged timeline of a channel: a streaming k-way merge of the author files by
//! `(ts, author, seq)`, filters, and renderers ([`render`]).
//!
//! The merge holds one scanner and at most one pending entry per author file, so memory is
//! O(authors) whatever the number of entries. It only reads files; problems it meets (torn
//! bytes, checksum mismatches) are handed to a callback and the bad bytes are skipped: it never
//! yields a partial or altered entry.

pub mod render;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::fs::File;
use std::path::PathBuf;

use crate::channel::scan::{Record, Scanner};
use crate::channel::{Author, Channel, Entry, EntryId, Error, Kind, Timestamp};

/// Where `--since` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Entries after this one in timeline order.
    Entry(EntryId),
    /// Entries at or after this time.
    Time(Timestamp),
}

impl Since {
    /// Parses `author#seq` or an RFC 3339 time.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.contains('#') {
            return EntryId::parse(s)
                .map(Since::Entry)
                .map_err(|e| e.to_string());
        }
        Timestamp::parse_rfc3339(s).map(Since::Time).ok_or_else(|| {
            format!("--since {s:?} is neither an entry id (author#seq) nor an RFC 3339 time (2026-05-04T17:15:04Z)")
        })
    }
}

/// Which entries to keep.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since: Option<Since>,
    pub authors: BTreeSet<Author>,
    pub kinds: BTreeSet<Kind>,
    /// Per author: only entries with seq above this (read cursors).
    pub after: BTreeMap<Author, u64>,
    /// Authors left out (catchup leaves out the reader's own entries).
    pub exclude: BTreeSet<Author>,
}

impl Filter {
    fn wants_author(&self, a: &Author) -> bool {
        (self.authors.is_empty() || self.authors.contains(a)) && !self.exclude.contains(a)
    }

    fn keeps(&self, e: &Entry, since_key: Option<&Key>) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&e.kind) {
            return false;
        }
        if self.after.get(&e.author).is_some_and(|&s| e.seq <= s) {
            return false;
        }
        match (&self.since, since_key) {
            (Some(Since::Time(t)), _) => e.ts >= *t,
            (Some(Since::Entry(_)), Some(k)) => Key::of(e) > *k,
            _ => true,
        }
    }
}

/// The timeline order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    ts: Timestamp,
    author: Author,
    seq: u64,
}

impl Key {
    fn of(e: &Entry) -> Self {
        Key {
            ts: e.ts,
            author: e.author.clone(),
            seq: e.seq,
        }
    }
}

/// A problem met while reading, for stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
    }
}

struct Source {
    author: Author,
    path: PathBuf,
    scanner: Scanner<File>,
}

/// Streams a channel's entries in timeline order.
pub struct Merge<'a> {
    channel: String,
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<(Key, usize)>>,
    pending: Vec<Option<Entry>>,
    filter: Filter,
    since_key: Option<Key>,
    on_problem: Box<dyn FnMut(Problem) + 'a>,
    primed: bool,
}

impl<'a> Merge<'a> {
    /// Opens every author file of `channel` that the filter wants.
    pub fn open(
        channel: &Channel,
        filter: Filter,
        on_problem: impl FnMut(Problem) + 'a,
    ) -> Result<Self, Error> {
        let mut sources = Vec::new();
        for (author, path) in channel.author_files()? {
            if !filter.wants_author(&author) {
                continue;
            }
            let file = File::open(&path).map_err(Error::io("cannot open", &path))?;
            sources.push(Source {
                author,
                path,
                scanner: Scanner::new(file, 0, 1),
            });
        }
        let since_key = match &filter.since {
            Some(Since::Entry(id)) => Some(find_key(channel, id)?),
            _ => None,
        };
        let n = sources.len();
        Ok(Self {
            channel: channel.name().to_string(),
            sources,
            heap: BinaryHeap::with_capacity(n),
            pending: vec![None; n],
            filter,
            since_key,
            on_problem: Box::new(on_problem),
            primed: false,
        })
    }

    /// Reads the next good entry of source `i` into the heap.
    fn advance(&mut self, i: usize) -> Result<(), Error> {
        let src = &mut self.sources[i];
        loop {
            let rec = src
                .scanner
                .next_record()
                .map_err(Error::io("cannot read", &src.path))?;
            let problem = |line: u64, message: String| Problem {
                path: src.path.clone(),
                line,
                message,
            };
            match rec {
                None => return Ok(()),
                Some(Record::Entry(e)) => {
                    if !e.sum_ok {
                        (self.on_problem)(problem(
                            e.pos.line,
                            format!(
                                "skipped entry {}#{}: it does not match its checksum (run `warroom verify`)",
                                e.author, e.seq
                            ),
                        ));
                        continue;
                    }
                    if e.author != src.author {
                        (self.on_problem)(problem(
                            e.pos.line,
                            format!(
                                "skipped entry {}#{}: it is not {}'s",
                                e.author, e.seq, src.author
                            ),
                        ));
                        continue;
                    }
                    let entry = Entry {
                        id: EntryId {
                            author: e.author.clone(),
                            seq: e.seq,
                        },
                        channel: self.channel.clone(),
                        author: e.author,
                        seq: e.seq,
                        ts: e.ts,
                        kind: e.kind,
                        refs: e.refs,
                        body: e.body,
                    };
                    if !self.filter.keeps(&entry, self.since_key.as_ref()) {
                        continue;
                    }
                    self.heap.push(Reverse((Key::of(&entry), i)));
                    self.pending[i] = Some(entry);
                    return Ok(());
                }
                Some(Record::Repair { .. }) => {}
                Some(Record::Garbage { pos, why }) => (self.on_problem)(problem(
                    pos.line,
                    format!("skipped {} bytes: {why}", pos.len),
                )),
                Some(Record::Tail { pos }) => (self.on_problem)(problem(
                    pos.line,
                    format!(
                        "skipped {} bytes at the end: not a complete entry (a write in progress, or a torn write)",
                        pos.len
                    ),
                )),
            }
        }
    }

    /// The next entry in timeline order.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        if !self.primed {
            self.primed = true;
            for i in 0..self.sources.len() {
                self.advance(i)?;
            }
        }
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let entry = self.pending[i].take().expect("a heap slot has its entry");
        self.advance(i)?;
        Ok(Some(entry))
    }
}

impl Iterator for Merge<'_> {
    type Item = Result<Entry, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

/// The timeline position of an entry, for `--since ID`.
fn find_key(channel: &Channel, id: &EntryId) -> Result<Key, Error> {
    let path = channel.author_path(&id.author);
    let missing = || Error::UnknownRef {
        id: id.clone(),
        channel: channel.name().to_string(),
        author: id.author.to_string(),
        last: channel.last_seq(&id.author).unwrap_or(0),
    };
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => return Err(Error::io("cannot open", &path)(e)),
    };
    for rec in Scanner::new(file, 0, 1) {
        if let Record::Entry(e) = rec.map_err(Error::io("cannot read", &path))?
            && e.seq == id.seq
        {
            return Ok(Key {
                ts: e.ts,
                author: e.author,
                seq: e.seq,
            });
        }
    }
    Err(missing())
}
