//! Following a store root: every channel and author file, including ones created after
//! following starts, as a [`Stream`] of complete entries and store alerts.
//!
//! inotify events are hints, not data: they coalesce, overflow (Rescan) and miss files created
//! in a directory before its watch exists. So the follower keeps per-file state
//! ([`file::FileState`]: inode, offset, chain, highest seq emitted), reads a file to its end on
//! every hint, sweeps the whole root about every second and on Rescan, and treats a shrink or a
//! new inode as "history rewritten" — an alert, never a re-emit. There is no debouncer on this
//! path: it would delay appends indefinitely under steady writes.
//!
//! The notify callback never blocks: it `try_send`s the hint and, when the queue is full, sets
//! a "rescan needed" flag. When the watcher cannot be created (inotify watch or instance
//! limits), the stream yields a typed [`TailError`] saying how to raise the limit and the
//! follower carries on by polling.
//!
//! This module only reads files; it must not write to the store or know about the network.

pub mod file;
pub mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use futures::Stream;
use notify::{EventKind, RecursiveMode, Watcher};
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::channel::{Author, Entry, Store};
use file::FileState;

/// What following a store yields.
#[derive(Debug, Clone)]
pub enum TailEvent {
    /// A complete entry, checked against its file's chain; each (author, seq) at most once.
    Entry(Box<Entry>),
    /// Something is wrong with the store, or a channel was sealed.
    Alert(StoreAlert),
    /// A role published a new state document ([`crate::state`]).
    State(Box<state::StateUpdate>),
    /// The first sweep is done: with `from_end`, everything appended from now on will be
    /// emitted, so a reader can read the history from the files and then rely on the stream.
    /// Emitted once.
    Synced,
}

/// Why an alert was raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertReason {
    /// Bytes at the end of a file stayed incomplete: a torn write.
    TornTail,
    /// Bytes between entries that are not an entry (a torn write closed off, or an edit).
    Garbage,
    /// A file got shorter: history was rewritten.
    Shrunk,
    /// A file was replaced by another one (new inode): history was rewritten.
    Replaced,
    /// A file disappeared.
    Removed,
    /// An entry does not continue the hash chain, seq or time order.
    Chain,
    /// An entry's bytes do not match its checksum.
    Checksum,
    /// The channel was sealed: no more posts.
    Sealed,
    /// The follower itself has a problem (watch limits, an unreadable file).
    Follow,
    /// A state file is malformed, huge or not its role's: ignored.
    State,
}

/// A store problem or event worth the operator's attention.
#[derive(Debug, Clone, Serialize)]
pub struct StoreAlert {
    pub channel: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub reason: AlertReason,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub message: String,
    /// For damage to the record: the gap marker to show at its place in the timeline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<Box<crate::gap::Gap>>,
}

/// Errors while following. Each is an item in the stream, not its end: after one the follower
/// keeps going (by polling when the watcher failed).
#[derive(Debug, Clone, thiserror::Error)]
pub enum TailError {
    #[error(
        "the inotify watch limit is reached while watching {root}; following by polling every {poll_ms} ms instead. Raise the limit with `sudo sysctl fs.inotify.max_user_watches=524288`"
    )]
    WatchLimit { root: PathBuf, poll_ms: u64 },
    #[error(
        "too many inotify instances to watch {root}; following by polling every {poll_ms} ms instead. Raise the limit with `sudo sysctl fs.inotify.max_user_instances=1024`"
    )]
    InstanceLimit { root: PathBuf, poll_ms: u64 },
    #[error("cannot watch {root} ({detail}); following by polling every {poll_ms} ms instead")]
    Watch {
        root: PathBuf,
        detail: String,
        poll_ms: u64,
    },
    #[error("cannot read {path} ({detail}); will retry on the next sweep")]
    Read { path: PathBuf, detail: String },
    #[error("cannot list the store {root} ({detail}); will retry on the next sweep")]
    List { root: PathBuf, detail: String },
}

/// How to follow.
#[derive(Debug, Clone)]
pub struct TailOptions {
    /// Entries already in the files when following starts are history: not emitted. Files and
    /// channels that appear later are emitted from their first entry.
    pub from_end: bool,
    /// Sweep interval with a working watcher.
    pub sweep: Duration,
    /// Sweep interval without one (polling).
    pub poll: Duration,
    /// Do not use notify at all (`--poll`).
    pub force_poll: bool,
}

impl Default for TailOptions {
    fn default() -> Self {
        Self {
            from_end: true,
            sweep: Duration::from_secs(1),
            poll: Duration::from_millis(250),
            force_poll: false,
        }
    }
}

/// Where the follower thread delivers what it finds.
///
/// [`follow`] delivers into a channel behind a `Stream`; the relay delivers straight into its
/// broadcast from the follower thread, saving a thread hop on the append-to-client path.
pub trait Consumer: Send + 'static {
    /// Takes one item (may block to apply backpressure); false when the consumer is gone,
    /// which stops the follower.
    fn take(&mut self, item: Result<TailEvent, TailError>) -> bool;
    /// True when the consumer is gone; checked at least once per sweep interval.
    fn gone(&self) -> bool;
}

impl Consumer for mpsc::Sender<Result<TailEvent, TailError>> {
    fn take(&mut self, item: Result<TailEvent, TailError>) -> bool {
        self.blocking_send(item).is_ok()
    }

    fn gone(&self) -> bool {
        self.is_closed()
    }
}

/// Follows `root`. The work runs on a dedicated thread (file reads are blocking and the
/// latency from append to event matters); it ends when the stream is dropped.
///
/// ```no_run
/// use futures::StreamExt;
/// use warroom::tail::{TailEvent, TailOptions, follow};
/// # async fn run() {
/// let mut events = std::pin::pin!(follow("channels".as_ref(), TailOptions::default()));
/// while let Some(item) = events.next().await {
///     match item {
///         Ok(TailEvent::Entry(e)) => println!("{} {}", e.id, e.body),
///         Ok(TailEvent::Alert(a)) => eprintln!("ALERT: {}", a.message),
///         Ok(TailEvent::State(s)) => println!("{} published its state", s.role),
///         Ok(TailEvent::Synced) => {}
///         Err(e) => eprintln!("warning: {e}"), // not the end: the follower carries on
///     }
/// }
/// # }
/// ```
pub fn follow(
    root: &Path,
    opts: TailOptions,
) -> impl Stream<Item = Result<TailEvent, TailError>> + Send + 'static {
    let (tx, rx) = mpsc::channel(1024);
    if let Err(e) = spawn(root, opts, tx) {
        // Without a thread there is nothing to follow; the stream ends at once.
        tracing::error!("cannot start the follower thread: {e}");
    }
    ReceiverStream::new(rx)
}

/// Follows `root` on a new thread, handing every item to `consumer` until it is gone.
pub fn spawn(
    root: &Path,
    opts: TailOptions,
    consumer: impl Consumer,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let root = root.to_owned();
    std::thread::Builder::new()
        .name("warroom-tail".into())
        .spawn(move || run(root, opts, consumer))
}

/// A hint from the notify callback.
enum Hint {
    Paths(Vec<PathBuf>),
    Rescan,
    Error(notify::Error),
}

/// The follower loop: hints and timed sweeps in, events out.
fn run(root: PathBuf, opts: TailOptions, mut tx: impl Consumer) {
    // notify reports paths under the root as watched; one spelling keeps them comparable.
    let root = root.canonicalize().unwrap_or(root);
    let (hint_tx, hint_rx) = std_mpsc::sync_channel::<Hint>(4096);
    let rescan = Arc::new(AtomicBool::new(false));
    let mut interval = opts.sweep;
    // Kept alive for the life of the loop: dropping it stops the watch.
    let _watcher = if opts.force_poll {
        interval = opts.poll;
        None
    } else {
        match watch(&root, hint_tx, rescan.clone()) {
            Ok(w) => Some(w),
            Err(e) => {
                interval = opts.poll;
                let err = classify(&root, e, opts.poll);
                if !tx.take(Err(err)) {
                    return;
                }
                None
            }
        }
    };
    let mut follower = Follower::new(&root, opts.from_end);
    let mut out = Vec::new();
    let mut errs = Vec::new();
    follower.sweep(Instant::now(), &mut out, &mut errs);
    follower.initial = false;
    out.push(TailEvent::Synced);
    let mut last_sweep = Instant::now();
    loop {
        if !flush(&mut tx, &mut out, &mut errs) || tx.gone() {
            return;
        }
        let wait = interval.saturating_sub(last_sweep.elapsed());
        let mut sweep_now = false;
        match hint_rx.recv_timeout(wait) {
            Ok(hint) => {
                let mut hints = vec![hint];
                // Take whatever else is queued, so a burst is one pass.
                while hints.len() < 256
                    && let Ok(h) = hint_rx.try_recv()
                {
                    hints.push(h);
                }
                let now = Instant::now();
                for h in hints {
                    match h {
                        Hint::Paths(paths) => {
                            for p in paths {
                                sweep_now |= follower.hint(&p, now, &mut out, &mut errs);
                            }
                        }
                        Hint::Rescan => sweep_now = true,
                        Hint::Error(e) => {
                            // A limit hit while adding watches for new directories: report it
                            // once and lean on polling from now on.
                            let err = classify(&root, e, opts.poll);
                            if matches!(
                                err,
                                TailError::WatchLimit { .. } | TailError::InstanceLimit { .. }
                            ) {
                                if interval != opts.poll {
                                    interval = opts.poll;
                                    errs.push(err);
                                }
                            } else {
                                tracing::warn!("{err}");
                            }
                            sweep_now = true;
                        }
                    }
                }
            }
            Err(std_mpsc::RecvTimeoutError::Timeout) => sweep_now = true,
            Err(std_mpsc::RecvTimeoutError::Disconnected) => {
                // No watcher (polling): wait out the interval.
                std::thread::sleep(wait);
                sweep_now = true;
            }
        }
        if rescan.swap(false, Ordering::AcqRel) {
            sweep_now = true;
        }
        if sweep_now || last_sweep.elapsed() >= interval {
            follower.sweep(Instant::now(), &mut out, &mut errs);
            last_sweep = Instant::now();
        }
    }
}

/// Sends what a pass produced; false when the consumer is gone.
fn flush(tx: &mut impl Consumer, out: &mut Vec<TailEvent>, errs: &mut Vec<TailError>) -> bool {
    for e in errs.drain(..) {
        if !tx.take(Err(e)) {
            return false;
        }
    }
    for ev in out.drain(..) {
        if !tx.take(Ok(ev)) {
            return false;
        }
    }
    true
}

fn watch(
    root: &Path,
    hints: std_mpsc::SyncSender<Hint>,
    rescan: Arc<AtomicBool>,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let hint = match res {
            // Opens and closes (our own reads among them) carry no new bytes.
            Ok(ev) if matches!(ev.kind, EventKind::Access(_)) => return,
            Ok(ev) if ev.need_rescan() => Hint::Rescan,
            Ok(ev) => Hint::Paths(ev.paths),
            Err(e) => Hint::Error(e),
        };
        // Never block the notify thread: a full queue means "sweep everything".
        if hints.try_send(hint).is_err() {
            rescan.store(true, Ordering::Release);
        }
    })?;
    w.watch(root, RecursiveMode::Recursive)?;
    Ok(w)
}

fn classify(root: &Path, e: notify::Error, poll: Duration) -> TailError {
    let poll_ms = poll.as_millis() as u64;
    let root = root.to_owned();
    match &e.kind {
        notify::ErrorKind::MaxFilesWatch => TailError::WatchLimit { root, poll_ms },
        // EMFILE from inotify_init1: the per-user instance limit.
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24) => {
            TailError::InstanceLimit { root, poll_ms }
        }
        _ => TailError::Watch {
            root,
            detail: e.to_string(),
            poll_ms,
        },
    }
}

/// One channel being followed.
struct ChannelState {
    dir: PathBuf,
    sealed: bool,
    files: BTreeMap<PathBuf, FileState>,
    states: state::StateFiles,
    /// `*.md` author names that are not regular files, told once each (again if one goes
    /// away and comes back).
    irregular: std::collections::BTreeSet<PathBuf>,
}

/// The state of a whole store root. Pure file reading; the loop above drives it.
pub struct Follower {
    root: PathBuf,
    from_end: bool,
    /// True during the first sweep: what exists then is history when `from_end`.
    initial: bool,
    channels: BTreeMap<String, ChannelState>,
}

impl Follower {
    pub fn new(root: &Path, from_end: bool) -> Self {
        Self {
            root: root.to_owned(),
            from_end,
            initial: true,
            channels: BTreeMap::new(),
        }
    }

    /// Lists every channel and author file and reads each to its end.
    pub fn sweep(&mut self, now: Instant, out: &mut Vec<TailEvent>, errs: &mut Vec<TailError>) {
        let store = match Store::open(&self.root) {
            Ok(s) => s,
            Err(e) => {
                errs.push(TailError::List {
                    root: self.root.clone(),
                    detail: e.to_string(),
                });
                return;
            }
        };
        let channels = match store.channels() {
            Ok(c) => c,
            Err(e) => {
                errs.push(TailError::List {
                    root: self.root.clone(),
                    detail: e.to_string(),
                });
                return;
            }
        };
        for ch in channels {
            let name = ch.name().to_string();
            let initial = self.initial;
            self.channels
                .entry(name.clone())
                .or_insert_with(|| ChannelState {
                    dir: ch.dir().to_owned(),
                    // A channel sealed before we started is no news.
                    sealed: initial && ch.seal().ok().flatten().is_some(),
                    files: BTreeMap::new(),
                    states: state::StateFiles::default(),
                    irregular: Default::default(),
                });
            self.check_seal(&name, out);
            match ch.author_files() {
                Ok(files) => {
                    for (author, path) in files {
                        self.add_file(&name, author, &path, errs);
                    }
                }
                Err(e) => errs.push(TailError::List {
                    root: ch.dir().to_owned(),
                    detail: e.to_string(),
                }),
            }
            if let Ok(odd) = ch.irregular_files()
                && let Some(c) = self.channels.get_mut(&name)
            {
                c.irregular.retain(|p| odd.iter().any(|(o, _)| o == p));
                for (path, what) in odd {
                    if c.irregular.insert(path.clone()) {
                        out.push(TailEvent::Alert(not_regular(&name, &path, what)));
                    }
                }
            }
            if let Some(c) = self.channels.get_mut(&name) {
                let quiet = self.initial && self.from_end;
                c.states.sweep(&name, &c.dir, quiet, out);
                // A file followed until now and swapped for, say, a FIFO is not read while it
                // is one (its state is kept for when it comes back).
                for f in c.files.values_mut() {
                    if c.irregular.contains(f.path()) {
                        continue;
                    }
                    if let Err(e) = f.poll(now, out) {
                        errs.push(TailError::Read {
                            path: f.path().to_owned(),
                            detail: e.to_string(),
                        });
                    }
                }
            }
        }
    }

    fn add_file(&mut self, channel: &str, author: Author, path: &Path, errs: &mut Vec<TailError>) {
        let (initial, from_end) = (self.initial, self.from_end);
        let Some(c) = self.channels.get_mut(channel) else {
            return;
        };
        if c.files.contains_key(path) {
            return;
        }
        let st = if initial && from_end {
            match FileState::from_end(channel, author.clone(), path) {
                Ok(st) => st,
                Err(e) => {
                    errs.push(TailError::Read {
                        path: path.to_owned(),
                        detail: e.to_string(),
                    });
                    FileState::from_start(channel, author, path)
                }
            }
        } else {
            FileState::from_start(channel, author, path)
        };
        c.files.insert(path.to_owned(), st);
    }

    fn check_seal(&mut self, channel: &str, out: &mut Vec<TailEvent>) {
        let Some(c) = self.channels.get_mut(channel) else {
            return;
        };
        if c.sealed {
            return;
        }
        let marker = c.dir.join(".warroom").join("sealed.json");
        if let Ok(Some(seal)) = crate::channel::store::read_seal(&marker) {
            c.sealed = true;
            out.push(TailEvent::Alert(StoreAlert {
                channel: channel.to_owned(),
                author: None,
                reason: AlertReason::Sealed,
                file: marker.display().to_string(),
                line: None,
                message: format!(
                    "channel {channel} was sealed at {} by {}; it takes no more posts",
                    seal.at, seal.by
                ),
                gap: None,
            }));
        }
    }

    /// Handles one changed path; returns true when a full sweep is needed (a new directory,
    /// or a path it cannot place).
    pub fn hint(
        &mut self,
        path: &Path,
        now: Instant,
        out: &mut Vec<TailEvent>,
        errs: &mut Vec<TailError>,
    ) -> bool {
        let Some(parent) = path.parent() else {
            return true;
        };
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // <root>/<channel>/.warroom/state/<role>.json: a state document.
        if parent.file_name().is_some_and(|n| n == "state")
            && let Some(dot) = parent.parent()
            && dot.file_name().is_some_and(|n| n == ".warroom")
        {
            if let Some(ch) = dot
                .parent()
                .and_then(|d| d.file_name())
                .and_then(|n| n.to_str())
                && let Some(c) = self.channels.get_mut(ch)
            {
                let ch = ch.to_owned();
                c.states.hint(&ch, path, out);
            }
            return false;
        }
        // <root>/<channel>/.warroom/<file>: only the seal marker matters.
        if parent.file_name().is_some_and(|n| n == ".warroom") {
            if file_name == "sealed.json"
                && let Some(ch) = parent
                    .parent()
                    .and_then(|d| d.file_name())
                    .and_then(|n| n.to_str())
            {
                let ch = ch.to_owned();
                self.check_seal(&ch, out);
            }
            return false;
        }
        if path.components().any(|c| c.as_os_str() == ".warroom") {
            return false; // cursors, locks, tokens
        }
        let Some(ch) = parent.file_name().and_then(|n| n.to_str()) else {
            return true;
        };
        let Some(stem) = file_name.strip_suffix(".md") else {
            // README.md is caught above by the author check; a directory or other file: sweep.
            return parent == self.root || path.is_dir();
        };
        let Ok(author) = Author::new(stem) else {
            return false;
        };
        let Some(c) = self.channels.get_mut(ch) else {
            return true; // a channel we have not listed yet
        };
        // Never opened when it is not a regular file (a FIFO would block the follower): told
        // once instead.
        if let Ok(meta) = std::fs::symlink_metadata(path)
            && let Some(what) = crate::channel::open::irregular(&meta.file_type())
        {
            if c.irregular.insert(path.to_owned()) {
                out.push(TailEvent::Alert(not_regular(ch, path, what)));
            }
            return false;
        }
        c.irregular.remove(path);
        let ch = ch.to_owned();
        self.add_file(&ch, author, path, errs);
        if let Some(f) = self
            .channels
            .get_mut(&ch)
            .and_then(|c| c.files.get_mut(path))
            && let Err(e) = f.poll(now, out)
        {
            errs.push(TailError::Read {
                path: path.to_owned(),
                detail: e.to_string(),
            });
        }
        false
    }
}

/// The alert for a `*.md` author name that is `what`, not a regular file.
fn not_regular(channel: &str, path: &Path, what: &str) -> StoreAlert {
    let author = path
        .file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| Author::new(s).ok())
        .unwrap_or_else(Author::operator);
    let problem = crate::timeline::not_regular(path.to_owned(), author, what);
    StoreAlert {
        channel: channel.to_owned(),
        author: Some(problem.author.to_string()),
        reason: AlertReason::Follow,
        file: path.display().to_string(),
        line: None,
        message: problem.to_string(),
        gap: problem.gap.map(Box::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::store::{PostOptions, Role};
    use crate::channel::{Draft, Kind, Theme};
    use futures::StreamExt;

    fn draft(body: &str) -> Draft {
        Draft {
            kind: Kind::Observation,
            refs: vec![],
            body: body.to_owned(),
            ..Default::default()
        }
    }

    fn role(name: &str) -> Role {
        Role {
            name: Author::new(name).unwrap(),
            title: None,
            lane: None,
        }
    }

    async fn next_entry(
        s: &mut (impl Stream<Item = Result<TailEvent, TailError>> + Unpin),
    ) -> Entry {
        loop {
            match tokio::time::timeout(Duration::from_secs(30), s.next()).await {
                Ok(Some(Ok(TailEvent::Entry(e)))) => return *e,
                Ok(Some(_)) => continue,
                other => panic!("no entry: {other:?}"),
            }
        }
    }

    /// New channels and files after the start are followed, with inotify and by polling.
    async fn follows_new_channels_and_files(force_poll: bool) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let old = store
            .open_channel(date, Theme::new("old").unwrap(), vec![role("pipeline")])
            .unwrap();
        let opts = PostOptions::default();
        let pipeline = Author::new("pipeline").unwrap();
        old.post(&pipeline, &draft("history"), &opts).unwrap();
        let mut s = Box::pin(follow(
            dir.path(),
            TailOptions {
                force_poll,
                poll: Duration::from_millis(50),
                ..TailOptions::default()
            },
        ));
        loop {
            if let Some(Ok(TailEvent::Synced)) = s.next().await {
                break;
            }
        }
        old.post(&pipeline, &draft("new in old"), &opts).unwrap();
        let e = next_entry(&mut s).await;
        assert_eq!((e.seq, e.body.as_str()), (2, "new in old"));
        let fresh = store
            .open_channel(date, Theme::new("fresh").unwrap(), vec![role("traffic")])
            .unwrap();
        fresh
            .post(&Author::new("traffic").unwrap(), &draft("first"), &opts)
            .unwrap();
        let e = next_entry(&mut s).await;
        assert_eq!(e.channel, "2026-05-04--fresh");
        assert_eq!(e.seq, 1);
    }

    #[test]
    fn inotify_limits_say_how_to_raise_them() {
        let root = Path::new("/srv/channels");
        let poll = Duration::from_millis(250);
        let e = classify(
            root,
            notify::Error::new(notify::ErrorKind::MaxFilesWatch),
            poll,
        );
        assert!(matches!(e, TailError::WatchLimit { .. }));
        assert!(e.to_string().contains("fs.inotify.max_user_watches"), "{e}");
        let emfile = notify::Error::io(std::io::Error::from_raw_os_error(24));
        let e = classify(root, emfile, poll);
        assert!(
            e.to_string().contains("fs.inotify.max_user_instances"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn follows_with_inotify() {
        follows_new_channels_and_files(false).await;
    }

    #[tokio::test]
    async fn follows_by_polling() {
        follows_new_channels_and_files(true).await;
    }

    #[test]
    fn md_names_that_are_not_regular_files_are_told_once_and_never_opened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap();
        let ch = store
            .open_channel(date, Theme::new("odd").unwrap(), vec![role("pipeline")])
            .unwrap();
        let pipeline = Author::new("pipeline").unwrap();
        ch.post(&pipeline, &draft("one"), &PostOptions::default())
            .unwrap();
        let fifo = ch.dir().join("fifo.md");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let mut f = Follower::new(dir.path(), false);
        let (mut out, mut errs) = (Vec::new(), Vec::new());
        let told = |out: &[TailEvent]| {
            out.iter()
                .filter_map(|e| match e {
                    TailEvent::Alert(a) if a.reason == AlertReason::Follow => Some(a.clone()),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        // A FIFO opened for reading would block this sweep forever.
        f.sweep(Instant::now(), &mut out, &mut errs);
        f.initial = false;
        assert!(errs.is_empty(), "{errs:?}");
        let alerts = told(&out);
        assert_eq!(alerts.len(), 1, "{out:?}");
        let want = format!(
            "skipping {}: a FIFO (named pipe), not a regular file",
            fifo.display()
        );
        assert!(
            alerts[0].message.starts_with(&want),
            "{}",
            alerts[0].message
        );
        assert_eq!(alerts[0].author.as_deref(), Some("fifo"));
        assert!(alerts[0].gap.is_some(), "a live reader shows it");
        assert_eq!(
            out.iter()
                .filter(|e| matches!(e, TailEvent::Entry(_)))
                .count(),
            1,
            "the rest of the channel is read"
        );
        // Told once: not again on the next sweep or on a hint for it.
        out.clear();
        f.sweep(Instant::now(), &mut out, &mut errs);
        assert!(!f.hint(&fifo, Instant::now(), &mut out, &mut errs));
        assert!(told(&out).is_empty(), "{out:?}");
        assert!(errs.is_empty(), "{errs:?}");
        // Gone and back (as a directory this time): told again.
        std::fs::remove_file(&fifo).unwrap();
        f.sweep(Instant::now(), &mut out, &mut errs);
        std::fs::create_dir(&fifo).unwrap();
        assert!(!f.hint(&fifo, Instant::now(), &mut out, &mut errs));
        let alerts = told(&out);
        assert_eq!(alerts.len(), 1, "{out:?}");
        assert!(
            alerts[0]
                .message
                .contains("a directory, not a regular file")
        );
        assert!(errs.is_empty(), "{errs:?}");
    }
}
