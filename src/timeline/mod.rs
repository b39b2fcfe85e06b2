//! The merged timeline of a channel: a streaming k-way merge of the author files by
//! `(ts, author, seq)`, filters, and renderers ([`render`]).
//!
//! The merge holds one scanner and at most one pending entry per author file, so memory is
//! O(authors) whatever the number of entries. It only reads files; problems it meets (torn
//! bytes, checksum mismatches) are handed to a callback and the bad bytes are skipped: it never
//! yields a partial or altered entry.

pub mod render;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::PathBuf;

use crate::channel::open::{Mode, open as open_author};
use crate::channel::scan::{Record, Scanner};
use crate::channel::{Author, Channel, Entry, EntryId, Error, Timestamp};

pub use crate::query::{Filter, Since};

/// Whether the merge keeps `e`: the filter, and for `since ID` a place after that entry.
fn keeps(filter: &Filter, e: &Entry, since_key: Option<&Key>) -> bool {
    filter.matches(e)
        && match (&filter.since, since_key) {
            (Some(Since::Entry(_)), Some(k)) => Key::of(e) > *k,
            _ => true,
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

/// A problem met while reading, for stderr (and, as a gap marker, for live readers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
    pub kind: ProblemKind,
    /// The file's author.
    pub author: Author,
    /// What a live reader shows at the problem's place in the timeline (`None` for a torn
    /// write that the next writer closed off: no committed entry was lost there).
    pub gap: Option<crate::gap::Gap>,
}

/// What kind of damage a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// An entry's bytes do not match its checksum (it is skipped).
    Checksum,
    /// An entry does not continue its file's chain: seq, prev or time (it is still shown).
    Chain,
    /// An entry in a file that is not its author's (it is skipped).
    Misplaced,
    /// Bytes between entries that are not an entry.
    Garbage,
    /// Bytes at the end that are not a complete entry.
    Tail,
    /// A `*.md` author name that is not a regular file (a FIFO, a directory, a symbolic
    /// link): it is not read, and its entries are not shown.
    NotRegular,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            // About the file as a whole: there is no line.
            ProblemKind::NotRegular => {
                write!(f, "skipping {}: {}", self.path.display(), self.message)
            }
            _ => write!(f, "{}:{}: {}", self.path.display(), self.line, self.message),
        }
    }
}

/// The problem for a `*.md` author name that is `what` (not a regular file).
pub fn not_regular(path: PathBuf, author: Author, what: &str) -> Problem {
    let file = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Problem {
        message: format!(
            "{what}, not a regular file: it is not read, and its entries (if any) are not shown; move it out of the channel (see `warroom verify`)"
        ),
        gap: Some(crate::gap::Gap {
            text: format!(
                "{file} is {what}, not a regular file: {author}'s entries are not shown; run `warroom verify`"
            ),
            entry: None,
            ts: None,
            seq: None,
        }),
        path,
        line: 0,
        kind: ProblemKind::NotRegular,
        author,
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
        mut on_problem: impl FnMut(Problem) + 'a,
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
        // Names that are not regular files are never opened (a FIFO would block), but they are
        // told, not skipped in silence.
        for (path, what) in channel.irregular_files()? {
            if let Some(author) = author_of(&path)
                && filter.wants_author(&author)
            {
                on_problem(not_regular(path, author, what));
            }
        }
        for (author, path) in channel.author_files()? {
            if !filter.wants_author(&author) {
                continue;
            }
            // Removed since the listing: nothing to read there. Swapped for something that is
            // not a regular file: told like the names above.
            let file = match open_author(&path, Mode::Read) {
                Ok(Some(file)) => file,
                Ok(None) => continue,
                Err(Error::NotRegular { what, .. }) => {
                    on_problem(not_regular(path, author, what));
                    continue;
                }
                Err(e) => return Err(e),
            };
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
        let mut chain = crate::channel::scan::Chain::default();
        let file_name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let problem = |line: u64, message: String, kind: ProblemKind, gap: crate::gap::Gap| {
            Msg::Problem(Problem {
                path: self.path.clone(),
                line,
                message,
                kind,
                author: self.author.clone(),
                gap: Some(gap),
            })
        };
        // Unreadable bytes wait for the next record: a repair marker right after them means a
        // torn write that was closed off (a note, not a gap).
        let mut held: Option<Msg<T>> = None;
        loop {
            let rec = match scanner.next_record() {
                Ok(r) => r,
                Err(e) => {
                    let _ = tx.send(Msg::Failed(Error::io("cannot read", &self.path)(e)));
                    return;
                }
            };
            // The last entry read, where a gap after it goes.
            let after = chain
                .last_ts
                .filter(|_| chain.last_seq > 0)
                .map(|ts| (ts, chain.last_seq));
            if let Some(Msg::Problem(mut p)) = held.take() {
                if matches!(rec, Some(Record::Repair { .. })) {
                    p.gap = None;
                }
                if !self.send_problem(&mut batch, Msg::Problem(p), tx) {
                    return;
                }
            }
            let msg = match rec {
                None => break,
                Some(Record::Entry(e)) => {
                    let expected_seq = chain.last_seq + 1;
                    let breaks = chain.check(&self.author, &e);
                    if !e.sum_ok {
                        Some(problem(
                            e.pos.line,
                            format!(
                                "skipped entry {}#{}: it does not match its checksum (run `warroom verify`)",
                                e.author, e.seq
                            ),
                            ProblemKind::Checksum,
                            crate::gap::checksum(&self.author, e.seq, e.ts),
                        ))
                    } else if e.author != self.author {
                        let id = format!("{}#{}", e.author, e.seq);
                        Some(problem(
                            e.pos.line,
                            format!("skipped entry {id}: it is not {}'s", self.author),
                            ProblemKind::Misplaced,
                            crate::gap::misplaced(&self.author, &id, &file_name, after),
                        ))
                    } else {
                        // A break in the chain is told, and the entry is still shown.
                        let told = (!breaks.is_empty()).then(|| {
                            problem(
                                e.pos.line,
                                format!(
                                    "entry {}#{} does not continue the chain of {} (an entry was removed, inserted or moved; run `warroom verify`)",
                                    e.author, e.seq, file_name
                                ),
                                ProblemKind::Chain,
                                crate::gap::chain(&self.author, e.seq, expected_seq, after),
                            )
                        });
                        if let Some(told) = told
                            && !self.send_problem(&mut batch, told, tx)
                        {
                            return;
                        }
                        let entry = e.into_entry(self.channel.to_string());
                        if keeps(&self.filter, &entry, self.since_key.as_ref()) {
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
                        None
                    }
                }
                Some(Record::Repair { .. }) => None,
                Some(Record::Garbage { pos, why }) => {
                    held = Some(problem(
                        pos.line,
                        format!("skipped {} bytes: {why}", pos.len),
                        ProblemKind::Garbage,
                        crate::gap::garbage(&self.author, &file_name, pos.len, after),
                    ));
                    None
                }
                Some(Record::Tail { pos }) => Some(problem(
                    pos.line,
                    format!(
                        "skipped {} bytes at the end: not a complete entry (a write in progress, or a torn write)",
                        pos.len
                    ),
                    ProblemKind::Tail,
                    crate::gap::torn(&self.author, &file_name, pos.len, after),
                )),
            };
            if let Some(msg) = msg
                && !self.send_problem(&mut batch, msg, tx)
            {
                return;
            }
        }
        if !batch.is_empty() {
            let _ = tx.send(Msg::Batch(batch));
        }
    }

    /// Sends a problem after the entries before it, so it reaches the merge in file order;
    /// false when the merge is gone.
    fn send_problem<T>(
        &self,
        batch: &mut Vec<(Timestamp, u64, T)>,
        problem: Msg<T>,
        tx: &std::sync::mpsc::SyncSender<Msg<T>>,
    ) -> bool {
        if !batch.is_empty()
            && tx
                .send(Msg::Batch(std::mem::replace(
                    batch,
                    Vec::with_capacity(BATCH),
                )))
                .is_err()
        {
            return false;
        }
        tx.send(problem).is_ok()
    }
}

/// The author an author file's name stands for.
fn author_of(path: &std::path::Path) -> Option<Author> {
    Author::new(path.file_stem()?.to_str()?).ok()
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
    let Some(file) = open_author(&path, Mode::Read)? else {
        return Err(missing());
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
