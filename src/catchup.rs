//! What a role has not read yet, and waiting for what comes next.
//!
//! - [`Pending`]: the entries the others wrote since the reader last caught up — the reader's
//!   stored cursor (`.warroom/cursors/ROLE.json`) up to a snapshot of every author's last seq
//!   taken when it is opened — split into the entries addressed to the reader (`to`), which
//!   come first, and the rest. [`catchup`] collects both; the command line streams them.
//!   Nothing moves the cursor until [`Pending::mark_read`].
//! - [`count`]: the one-line summary (`3 new (1 alert) in CH`) for shell prompts and agent
//!   hooks. It reads only each author file's tail after the cursor, never the whole channel,
//!   and never moves the cursor.
//! - [`wait`]: blocks until an entry matching a [`Filter`] is appended (or exists after a given
//!   cursor), or a timeout passes — without polling: it rides the store's follower
//!   ([`crate::tail`], inotify with a sweep as a safety net).
//!
//! This module reads the store and writes only the reader's cursor. It must not render
//! entries or know about flags, HTTP or MCP: the command line, the relay and the MCP server
//! call it and present the results.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use serde::Serialize;

use crate::channel::scan::{Record, Scanner};
use crate::channel::{Author, Channel, Entry, Error, Kind};
use crate::query::{Cursor, Filter};
use crate::tail::{AlertReason, TailEvent, TailOptions};
use crate::timeline::{Merge, Problem};

/// What `reader` has not caught up on in a channel, fixed when opened: entries appended later
/// wait for the next catchup.
#[derive(Debug, Clone)]
pub struct Pending {
    channel: Channel,
    reader: Author,
    /// The reader's stored cursor.
    from: Cursor,
    /// Every other author's last seq when this was opened.
    until: Cursor,
}

impl Pending {
    /// Reads `reader`'s cursor and every other author's last seq. Fails with
    /// [`Error::NotOnRoster`] for a role that is not on the channel's roster.
    pub fn open(channel: &Channel, reader: &Author) -> Result<Self, Error> {
        check_reader(channel, reader)?;
        let from = stored_cursor(channel, reader)?;
        let mut until = Cursor::default();
        for (author, _) in channel.author_files()? {
            if &author != reader {
                let last = channel.last_seq(&author)?;
                until.set(&author, last);
            }
        }
        Ok(Self {
            channel: channel.clone(),
            reader: reader.clone(),
            from,
            until,
        })
    }

    pub fn reader(&self) -> &Author {
        &self.reader
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// The cursor the reader had.
    pub fn from(&self) -> &Cursor {
        &self.from
    }

    /// The cursor [`Pending::mark_read`] stores: the old one moved up to the snapshot.
    pub fn to(&self) -> Cursor {
        let mut c = self.from.clone();
        c.merge(&self.until);
        c
    }

    /// True when no other author wrote anything past the reader's cursor.
    pub fn is_empty(&self) -> bool {
        self.until.0.iter().all(|(a, &s)| s <= self.from.get(a))
    }

    /// Both parts: the others' entries after the cursor, up to the snapshot.
    fn base(&self) -> Filter {
        let mut filter = Filter::default().after_cursor(&self.from);
        filter.until = self.until.0.clone();
        // Files created after the snapshot wait for the next catchup.
        filter.authors = self.until.0.keys().cloned().collect();
        filter.exclude.insert(self.reader.clone());
        if filter.authors.is_empty() {
            // No other author yet: keep nothing (an empty set would mean "everyone"; the
            // reader is excluded).
            filter.authors.insert(self.reader.clone());
        }
        filter
    }

    /// The entries addressed to the reader (`to` names it), in timeline order.
    pub fn addressed(&self) -> Filter {
        let mut f = self.base();
        f.to.insert(self.reader.clone());
        f
    }

    /// Every other entry, in timeline order.
    pub fn others(&self) -> Filter {
        let mut f = self.base();
        f.not_to.insert(self.reader.clone());
        f
    }

    /// Stores [`Pending::to`] as the reader's cursor (never moving it back, whatever another
    /// catchup of the same role stored meanwhile).
    pub fn mark_read(&self) -> Result<(), Error> {
        let mut cursor = stored_cursor(&self.channel, &self.reader)?;
        cursor.merge(&self.to());
        let map = cursor.0.iter().map(|(a, s)| (a.to_string(), *s)).collect();
        self.channel.set_cursor(&self.reader, &map)
    }
}

/// A catchup's entries, collected.
#[derive(Debug, Clone, Serialize)]
pub struct Catchup {
    pub channel: String,
    pub reader: Author,
    /// Entries addressed to the reader, in timeline order: show these first.
    pub addressed: Vec<Entry>,
    /// The others' other entries, in timeline order.
    pub others: Vec<Entry>,
    /// The reader's cursor once these are read (what [`Pending::mark_read`] stores).
    pub cursor: Cursor,
}

impl Catchup {
    /// Addressed entries first, then the others.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.addressed.iter().chain(&self.others)
    }

    pub fn len(&self) -> usize {
        self.addressed.len() + self.others.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `reader` has not caught up on in `channel`: the entries addressed to it, then the
/// others, both in timeline order. Does not move the cursor: call [`Pending::mark_read`] on
/// the returned `Pending` once they have been delivered. Problems in the files (torn bytes,
/// checksum mismatches) go to `on_problem`; damaged entries are skipped.
///
/// ```no_run
/// # fn run() -> Result<(), warroom::channel::Error> {
/// use warroom::channel::{Author, Store};
/// let store = Store::open("channels".as_ref())?;
/// let channel = store.channel(None)?;
/// let (pending, news) = warroom::catchup::catchup(&channel, &Author::new("traffic")?, |p| {
///     eprintln!("warning: {p}")
/// })?;
/// for e in news.entries() {
///     println!("{} {}", e.id, e.body);
/// }
/// pending.mark_read()?;
/// # Ok(()) }
/// ```
pub fn catchup(
    channel: &Channel,
    reader: &Author,
    mut on_problem: impl FnMut(Problem),
) -> Result<(Pending, Catchup), Error> {
    let pending = Pending::open(channel, reader)?;
    let mut collect = |filter: Filter| -> Result<Vec<Entry>, Error> {
        if pending.is_empty() {
            return Ok(Vec::new());
        }
        Merge::open(channel, filter, &mut on_problem)?.collect()
    };
    let addressed = collect(pending.addressed())?;
    let others = collect(pending.others())?;
    let news = Catchup {
        channel: channel.name().to_string(),
        reader: reader.clone(),
        addressed,
        others,
        cursor: pending.to(),
    };
    Ok((pending, news))
}

/// The one-line summary of what is new for a reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub channel: String,
    pub reader: String,
    /// Entries by the others after the reader's cursor.
    pub new: u64,
    /// Of those, alerts.
    pub alerts: u64,
    /// Of those, entries addressed to the reader.
    pub addressed: u64,
}

impl std::fmt::Display for Count {
    /// `3 new (1 alert, 2 to traffic) in CH`; the parenthesis only names what is there.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.alerts > 0 {
            let s = if self.alerts == 1 { "" } else { "s" };
            parts.push(format!("{} alert{s}", self.alerts));
        }
        if self.addressed > 0 {
            parts.push(format!("{} to {}", self.addressed, self.reader));
        }
        write!(f, "{} new", self.new)?;
        if !parts.is_empty() {
            write!(f, " ({})", parts.join(", "))?;
        }
        write!(f, " in {}", self.channel)
    }
}

/// Counts what is new for `reader` without moving its cursor. Reads each other author's file
/// backwards from its end only as far as the reader's cursor, so the cost follows what is new,
/// not the channel's size. Entries that fail their checksum are not counted.
pub fn count(channel: &Channel, reader: &Author) -> Result<Count, Error> {
    check_reader(channel, reader)?;
    let from = stored_cursor(channel, reader)?;
    let mut count = Count {
        channel: channel.name().to_string(),
        reader: reader.to_string(),
        ..Count::default()
    };
    for (author, path) in channel.author_files()? {
        if &author == reader {
            continue;
        }
        // As every author file is opened: a name swapped for a FIFO or a link since the
        // listing is skipped, as the listing skips one, never waited on or followed.
        let file = match crate::channel::open::open(&path, crate::channel::open::Mode::Read) {
            Ok(Some(f)) => f,
            Ok(None) | Err(Error::NotRegular { .. }) => continue,
            Err(e) => return Err(e),
        };
        let len = file
            .metadata()
            .map_err(Error::io("cannot stat", &path))?
            .len();
        count_after(&file, len, &author, from.get(&author), reader, &mut count)
            .map_err(Error::io("cannot read", &path))?;
    }
    Ok(count)
}

/// Adds the entries of `author` with seq above `after` in the first `len` bytes of `file`,
/// reading segments backwards from the end until one reaches the entry after the cursor. Each
/// segment ends where the first whole entry of the segment after it begins, so every byte is
/// scanned once and every entry counted once.
fn count_after(
    file: &File,
    len: u64,
    author: &Author,
    after: u64,
    reader: &Author,
    count: &mut Count,
) -> io::Result<()> {
    let mut size: u64 = 16 * 1024;
    let mut end = len;
    let mut bytes = Vec::new();
    while end > 0 {
        let start = end.saturating_sub(size);
        bytes.resize((end - start) as usize, 0);
        file.read_exact_at(&mut bytes, start)?;
        // Scanning starts at a line start: a marker-like run inside a body line is never taken
        // for a marker (the encoder escapes whole lines that look like one).
        let skip = if start == 0 {
            0
        } else {
            memchr::memchr(b'\n', &bytes).map_or(bytes.len(), |i| i + 1)
        };
        let mut first = None;
        for rec in Scanner::new(&bytes[skip..], start + skip as u64, 1) {
            let Record::Entry(e) = rec? else { continue };
            first.get_or_insert((e.seq, e.pos.offset));
            if e.seq > after && e.sum_ok && &e.author == author {
                count.new += 1;
                count.alerts += u64::from(e.kind.effective() == Kind::Alert);
                count.addressed += u64::from(e.to.contains(reader));
            }
        }
        match first {
            Some((seq, _)) if seq <= after + 1 => return Ok(()),
            // The bytes before this segment's first entry go with the next segment.
            Some((_, offset)) => end = offset,
            // No whole entry in it (one larger than the segment): read more of the same.
            None if start == 0 => return Ok(()),
            None => {}
        }
        size = size.saturating_mul(2);
    }
    Ok(())
}

/// The longest a [`wait`] may block.
pub const MAX_WAIT: Duration = Duration::from_secs(300);

/// What to wait for.
#[derive(Debug, Clone)]
pub struct Wait {
    /// Which entries wake the wait.
    pub filter: Filter,
    /// Entries after this cursor count, even ones already written. `None`: only entries
    /// appended after the call.
    pub from: Option<Cursor>,
    /// How long to block, at most [`MAX_WAIT`]; zero checks once and returns.
    pub timeout: Duration,
    /// Most entries returned at once (at least 1).
    pub limit: usize,
}

impl Wait {
    /// Waits for the next entry that `filter` keeps, appended after the call.
    pub fn new(filter: Filter, timeout: Duration) -> Self {
        Self {
            filter,
            from: None,
            timeout,
            limit: 100,
        }
    }
}

/// How a wait ended. Each carries the cursor to pass to the next wait so that nothing falls
/// between two waits.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Waited {
    /// Matching entries (at least one, at most the limit), in timeline order for those already
    /// written and arrival order for the rest; the cursor is past them.
    Entries { entries: Vec<Entry>, cursor: Cursor },
    /// Nothing matched before the timeout; the cursor is where the wait started.
    TimedOut { cursor: Cursor },
    /// The channel was sealed: nothing more will come.
    Sealed { cursor: Cursor },
}

/// Why a wait could not be made.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("a wait of {} s is out of range: give a timeout from 0 to {} s", .0.as_secs_f64(), MAX_WAIT.as_secs())]
    Timeout(Duration),
    #[error("the follower of {0} stopped; try again")]
    Stopped(std::path::PathBuf),
    #[error(transparent)]
    Store(#[from] Error),
}

/// Blocks until an entry of `channel` that `wait.filter` keeps is appended — or, with
/// `wait.from`, already exists after that cursor — or `wait.timeout` passes.
///
/// Nothing is missed between the call and the wait: without a cursor, the call first takes
/// each author's last seq as the cursor, then starts following the store, then reads the
/// files after that cursor; what both see is returned once. Waiting costs no polling: the
/// follower wakes on inotify events (with a sweep about every second as a safety net).
///
/// ```no_run
/// # async fn run() -> Result<(), warroom::catchup::WaitError> {
/// use std::time::Duration;
/// use warroom::catchup::{Wait, Waited, wait};
/// use warroom::query::Filter;
/// let store = warroom::channel::Store::open("channels".as_ref())?;
/// let channel = store.channel(None)?;
/// match wait(&channel, Wait::new(Filter::default(), Duration::from_secs(60))).await? {
///     Waited::Entries { entries, cursor } => println!("{} new; next: {cursor}", entries.len()),
///     Waited::TimedOut { .. } => println!("nothing within a minute"),
///     Waited::Sealed { .. } => println!("the channel was sealed"),
/// }
/// # Ok(()) }
/// ```
pub async fn wait(channel: &Channel, wait: Wait) -> Result<Waited, WaitError> {
    if wait.timeout > MAX_WAIT {
        return Err(WaitError::Timeout(wait.timeout));
    }
    let deadline = tokio::time::Instant::now() + wait.timeout;
    let limit = wait.limit.max(1);
    let from = match wait.from {
        Some(c) => c,
        None => {
            let ch = channel.clone();
            tokio::task::spawn_blocking(move || last_seqs(&ch))
                .await
                .map_err(|_| stopped(channel))??
        }
    };
    let root = channel
        .dir()
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    let name = channel.name().to_string();
    let mut events = std::pin::pin!(crate::tail::follow(&root, TailOptions::default()));
    // Entries appended while the follower takes its bearings come again from the files. When
    // the time is up first (a zero timeout), the files are still read once.
    let synced = loop {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => break false,
            Ok(None) => return Err(stopped(channel)),
            Ok(Some(Ok(TailEvent::Synced))) => break true,
            Ok(Some(_)) => {}
        }
    };
    let history = {
        let (ch, filter) = (channel.clone(), wait.filter.clone().after_cursor(&from));
        tokio::task::spawn_blocking(move || -> Result<Vec<Entry>, Error> {
            Merge::open(&ch, filter, |_| {})?.take(limit).collect()
        })
        .await
        .map_err(|_| stopped(channel))??
    };
    if !history.is_empty() {
        return Ok(found(history, from));
    }
    if !synced {
        return Ok(Waited::TimedOut { cursor: from });
    }
    let mut entries = Vec::new();
    let wants =
        |e: &Entry| e.channel == name && e.seq > from.get(&e.author) && wait.filter.matches(e);
    loop {
        let next = if entries.is_empty() {
            match tokio::time::timeout_at(deadline, events.next()).await {
                Err(_) => return Ok(Waited::TimedOut { cursor: from }),
                Ok(next) => next,
            }
        } else {
            // Take what is already there, then return.
            match events.next().now_or_never() {
                Some(next) if entries.len() < limit => next,
                _ => return Ok(found(entries, from)),
            }
        };
        match next {
            None => return Err(stopped(channel)),
            Some(Ok(TailEvent::Entry(e))) if wants(&e) => entries.push(*e),
            Some(Ok(TailEvent::Alert(a)))
                if a.channel == name && a.reason == AlertReason::Sealed =>
            {
                if entries.is_empty() {
                    return Ok(Waited::Sealed { cursor: from });
                }
                return Ok(found(entries, from));
            }
            Some(_) => {}
        }
    }
}

fn found(entries: Vec<Entry>, mut cursor: Cursor) -> Waited {
    for e in &entries {
        cursor.pass(e);
    }
    Waited::Entries { entries, cursor }
}

fn stopped(channel: &Channel) -> WaitError {
    WaitError::Stopped(channel.dir().to_owned())
}

/// Every author's last seq: the cursor of "now".
pub fn last_seqs(channel: &Channel) -> Result<Cursor, Error> {
    let mut c = Cursor::default();
    for (author, _) in channel.author_files()? {
        let last = channel.last_seq(&author)?;
        c.set(&author, last);
    }
    Ok(c)
}

fn check_reader(channel: &Channel, reader: &Author) -> Result<(), Error> {
    let roster = channel.roster()?;
    if !roster.contains(reader) {
        return Err(Error::NotOnRoster {
            author: reader.to_string(),
            channel: channel.name().to_string(),
            roster: roster.names(),
        });
    }
    Ok(())
}

/// The reader's stored cursor (names that are no longer valid authors are dropped).
fn stored_cursor(channel: &Channel, reader: &Author) -> Result<Cursor, Error> {
    let stored = channel.cursor(reader)?;
    Ok(Cursor(
        stored
            .into_iter()
            .filter_map(|(a, s)| Author::new(&a).ok().map(|a| (a, s)))
            .collect(),
    ))
}

#[cfg(test)]
#[path = "catchup_tests.rs"]
mod tests;
