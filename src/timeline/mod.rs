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
        if !self.kinds.is_empty() && !self.kinds.contains(&e.kind.effective()) {
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

/// What a reader thread sends: a batch of items in file order, a problem, or the error that
/// ended its file.
enum Msg<T> {
    Batch(Vec<(Timestamp, u64, T)>),
    Problem(Problem),
    Failed(Error),
}

/// Entries per batch sent from a reader thread: large enough to amortise the channel, small
/// enough that memory stays O(authors).
const BATCH: usize = 256;
/// Batches in flight per reader thread.
const IN_FLIGHT: usize = 2;

struct Source<T> {
    rx: std::sync::mpsc::Receiver<Msg<T>>,
    batch: std::vec::IntoIter<(Timestamp, u64, T)>,
    done: bool,
}

/// Streams a channel's entries in timeline order.
///
/// Each author file is read, checksum-verified, filtered and mapped (e.g. rendered) by its own
/// thread, which sends bounded batches; this side only merges. Memory is O(authors × batch).
pub struct Merge<'a, T = Entry> {
    sources: Vec<Source<T>>,
    /// (ts, source, seq): sources are in author order, so this is the timeline order without
    /// cloning author names.
    heap: BinaryHeap<Reverse<(Timestamp, usize, u64)>>,
    pending: Vec<Option<T>>,
    on_problem: Box<dyn FnMut(Problem) + 'a>,
    primed: bool,
}

impl<'a> Merge<'a, Entry> {
    /// Opens every author file of `channel` that the filter wants.
    pub fn open(
        channel: &Channel,
        filter: Filter,
        on_problem: impl FnMut(Problem) + 'a,
    ) -> Result<Self, Error> {
        Merge::open_map(channel, filter, on_problem, |e| e)
    }
}

impl<'a, T: Send + 'static> Merge<'a, T> {
    /// Like [`Merge::open`], with each entry turned into a `T` on its reader thread (so the
    /// work of rendering is spread across cores).
    pub fn open_map(
        channel: &Channel,
        filter: Filter,
        on_problem: impl FnMut(Problem) + 'a,
        map: impl Fn(Entry) -> T + Send + Sync + 'static,
    ) -> Result<Self, Error> {
        let since_key = match &filter.since {
            Some(Since::Entry(id)) => Some(find_key(channel, id)?),
            _ => None,
        };
        let filter = std::sync::Arc::new(filter);
        let map = std::sync::Arc::new(map);
        let name: std::sync::Arc<str> = channel.name().to_string().into();
        let mut sources = Vec::new();
        for (author, path) in channel.author_files()? {
            if !filter.wants_author(&author) {
                continue;
            }
            let file = File::open(&path).map_err(Error::io("cannot open", &path))?;
            let (tx, rx) = std::sync::mpsc::sync_channel(IN_FLIGHT);
            let reader = Reader {
                author,
                path,
                channel: name.clone(),
                filter: filter.clone(),
                since_key: since_key.clone(),
            };
            let map = map.clone();
            std::thread::Builder::new()
                .name("timeline-reader".into())
                .spawn(move || reader.run(file, &*map, &tx))
                .map_err(Error::io("cannot start a reader thread for", channel.dir()))?;
            sources.push(Source {
                rx,
                batch: Vec::new().into_iter(),
                done: false,
            });
        }
        let n = sources.len();
        Ok(Self {
            sources,
            heap: BinaryHeap::with_capacity(n),
            pending: (0..n).map(|_| None).collect(),
            on_problem: Box::new(on_problem),
            primed: false,
        })
    }

    /// Moves the next item of source `i` into the heap.
    fn advance(&mut self, i: usize) -> Result<(), Error> {
        loop {
            let src = &mut self.sources[i];
            if let Some((ts, seq, item)) = src.batch.next() {
                self.heap.push(Reverse((ts, i, seq)));
                self.pending[i] = Some(item);
                return Ok(());
            }
            if src.done {
                return Ok(());
            }
            match src.rx.recv() {
                Ok(Msg::Batch(b)) => src.batch = b.into_iter(),
                Ok(Msg::Problem(p)) => (self.on_problem)(p),
                Ok(Msg::Failed(e)) => {
                    src.done = true;
                    return Err(e);
                }
                Err(_) => src.done = true,
            }
        }
    }

    /// The next item in timeline order.
    pub fn next_entry(&mut self) -> Result<Option<T>, Error> {
        if !self.primed {
            self.primed = true;
            for i in 0..self.sources.len() {
                self.advance(i)?;
            }
        }
        let Some(Reverse((_, i, _))) = self.heap.pop() else {
            return Ok(None);
        };
        let item = self.pending[i].take().expect("a heap slot has its item");
        self.advance(i)?;
        Ok(Some(item))
    }
}

impl<T: Send + 'static> Iterator for Merge<'_, T> {
    type Item = Result<T, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_entry().transpose()
    }
}

/// One author file's reading thread.
struct Reader {
    author: Author,
    path: PathBuf,
    channel: std::sync::Arc<str>,
    filter: std::sync::Arc<Filter>,
    since_key: Option<Key>,
}

impl Reader {
    fn run<T>(
        self,
        file: File,
        map: &dyn Fn(Entry) -> T,
        tx: &std::sync::mpsc::SyncSender<Msg<T>>,
    ) {
        let mut scanner = Scanner::new(file, 0, 1);
        let mut batch = Vec::with_capacity(BATCH);
        let problem = |line: u64, message: String| {
            Msg::Problem(Problem {
                path: self.path.clone(),
                line,
                message,
            })
        };
        loop {
            let rec = match scanner.next_record() {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Msg::Failed(Error::io("cannot read", &self.path)(e)));
                    return;
                }
            };
            let msg = match rec {
                None => break,
                Some(Record::Entry(e)) if !e.sum_ok => problem(
                    e.pos.line,
                    format!(
                        "skipped entry {}#{}: it does not match its checksum (run `warroom verify`)",
                        e.author, e.seq
                    ),
                ),
                Some(Record::Entry(e)) if e.author != self.author => problem(
                    e.pos.line,
                    format!(
                        "skipped entry {}#{}: it is not {}'s",
                        e.author, e.seq, self.author
                    ),
                ),
                Some(Record::Entry(e)) => {
                    let entry = e.into_entry(self.channel.to_string());
                    if self.filter.keeps(&entry, self.since_key.as_ref()) {
                        let (ts, seq) = (entry.ts, entry.seq);
                        batch.push((ts, seq, map(entry)));
                        if batch.len() == BATCH
                            && tx
                                .send(Msg::Batch(std::mem::replace(
                                    &mut batch,
                                    Vec::with_capacity(BATCH),
                                )))
                                .is_err()
                        {
                            return;
                        }
                    }
                    continue;
                }
                Some(Record::Repair { .. }) => continue,
                Some(Record::Garbage { pos, why }) => {
                    problem(pos.line, format!("skipped {} bytes: {why}", pos.len))
                }
                Some(Record::Tail { pos }) => problem(
                    pos.line,
                    format!(
                        "skipped {} bytes at the end: not a complete entry (a write in progress, or a torn write)",
                        pos.len
                    ),
                ),
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Msg::Batch(batch));
        }
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
