//! The channel store: names, the entry format, append, read, verify.
//!
//! This module is the only writer of entries. It owns the invariants in DESIGN.md ("The
//! channel store"): one `write(2)` per entry under an exclusive lock, a checksum and hash chain
//! per author file, torn-tail repair by the next writer, and escaping of marker-like body lines.
//! It must not render timelines or talk to the network.
//!
//! # Layout
//! - [`names`]: validated themes, authors and channel names.
//! - [`kind`]: entry kinds (open for readers, closed for writers), idempotency keys.
//! - [`entry`]: entry fields and the markdown encoding with markers and checksums.
//! - [`open`]: opening author files (regular files only, no symlinks, never blocking).
//! - [`repair`]: repair markers (what they closed off) and their check.
//! - [`scan`]: the streaming reader of an author file and the chain check.
//! - [`append`]: the writer (lock, repair, idempotency-key replay, write, fsync).
//! - [`lookup`]: finding an entry by key or id from its begin-marker line, without parsing
//!   the whole file.
//! - [`store`]: the root, channels, roster, read cursors.
//! - [`heads`]: deletion detection (each author's last entry recorded in the seal; refs and
//!   catchup cursors as witnesses before it).
//! - [`seal`]: sealing a channel (the seal entry and marker, under every author's lock).
//! - [`verify`]: whole-channel integrity check.

pub mod append;
pub mod entry;
pub mod heads;
pub mod kind;
pub mod lookup;
pub mod names;
pub mod open;
pub mod repair;
pub mod scan;
pub mod seal;
pub mod store;
pub mod verify;

use std::path::PathBuf;

pub use append::{AuthorWriter, Posted};
pub use entry::{Draft, Entry, EntryId, Sum, Timestamp};
pub use kind::{IdempotencyKey, Kind};
pub use names::{Author, ChannelName, Theme};
pub use store::{Channel, ChannelInfo, Roster, Store};

/// Everything that can go wrong in the store. Each message names the path or the name at fault
/// and says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {what} name {name}: use {rule}")]
    BadName {
        what: &'static str,
        name: String,
        rule: &'static str,
    },
    #[error(
        "unknown kind {kind:?}{}: use one of {}",
        suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default(),
        Kind::known_list()
    )]
    BadKind {
        kind: String,
        suggestion: Option<String>,
    },
    #[error("invalid idempotency key {key}: use {rule}")]
    BadKey { key: String, rule: &'static str },
    #[error("invalid entry id {0:?}: an id looks like author#seq, e.g. pipeline#3")]
    BadRef(String),
    #[error("ref {id} does not exist in channel {channel}: {author} has {last} entries")]
    UnknownRef {
        id: EntryId,
        channel: String,
        author: String,
        last: u64,
    },
    #[error("{} must name {}: add --ref AUTHOR#SEQ; nothing was written", match kind {
        Kind::Correction => "a correction",
        Kind::Ack => "an ack",
        _ => "a resolved entry",
    }, match kind {
        Kind::Correction => "the entry it corrects",
        Kind::Ack => "the alert(s) it acknowledges",
        _ => "the alert whose condition cleared",
    })]
    KindNeedsRef { kind: Kind },
    /// `kind` is `ack` or `resolved`; `found` the referenced entry's kind.
    #[error(
        "{kind} refs {id}, which is a `{found}` entry, not an alert: {} only alerts; nothing was written",
        if *kind == "ack" { "ack" } else { "resolve" }
    )]
    RefNotAlert {
        kind: &'static str,
        id: EntryId,
        found: String,
    },
    #[error(
        "{author} cannot resolve {id}: only the author of an alert resolves it ({} raised it); ack it instead with --kind ack; nothing was written",
        id.author
    )]
    ResolvesOthersAlert { author: String, id: EntryId },
    #[error("ref {id} cannot be read: {detail}; run `warroom verify`; nothing was written")]
    RefUnreadable { id: EntryId, detail: String },
    #[error("{count} {what} is over the limit of {limit}; nothing was written")]
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    /// `roster` lists the roster, with a did-you-mean when a name is close.
    #[error(
        "cannot address {role:?}: not on the roster of channel {channel} (roster: {roster}); nothing was written"
    )]
    UnknownRecipient {
        role: String,
        channel: String,
        roster: String,
    },
    #[error(
        "idempotency key {key:?} was already used by {id} with a different {differs}; nothing was written (a new entry needs a new key)"
    )]
    KeyConflict {
        key: String,
        id: EntryId,
        differs: &'static str,
    },
    #[error(
        "{path}: {author} is at seq {last}, the largest seq there is; nothing was written (continue in a new channel)"
    )]
    SeqOverflow {
        path: PathBuf,
        author: String,
        last: u64,
    },
    #[error(
        "{author:?} is not on the roster of channel {channel} (roster: {roster}); add it with `warroom roster add {author} --channel {channel}`"
    )]
    NotOnRoster {
        author: String,
        channel: String,
        roster: String,
    },
    #[error(
        "body is {size} bytes, over the limit of {limit} bytes; nothing was written (split it, or raise the limit with --max-body)"
    )]
    BodyTooLarge { size: usize, limit: usize },
    #[error("the body is not valid UTF-8 (first bad byte at offset {offset}); nothing was written")]
    NotUtf8 { offset: usize },
    #[error("the body is empty; nothing was written (give TEXT, or - to read stdin)")]
    EmptyBody,
    #[error(
        "store root {path} does not exist: create it with `warroom open THEME`, or point --root / WARROOM_ROOT at an existing store"
    )]
    MissingRoot { path: PathBuf },
    #[error(
        "store root {path} is a file, not a directory: point --root (or WARROOM_ROOT) at a directory, or move the file away"
    )]
    RootNotDir { path: PathBuf },
    #[error("no channel {name:?} under {root}: see `warroom ls`")]
    UnknownChannel { name: String, root: PathBuf },
    #[error(
        "theme {theme:?} matches {state} channels {matches}: nothing was done; pass the full name with --channel"
    )]
    AmbiguousChannel {
        theme: String,
        state: &'static str,
        matches: String,
    },
    #[error("no open channel under {root}: open one with `warroom open THEME`, or pass --channel")]
    NoChannel { root: PathBuf },
    #[error(
        "channel {name} already exists in {root}; add roles with `warroom roster add ROLE --channel {name}`"
    )]
    ChannelExists { name: String, root: PathBuf },
    #[error(
        "channel {channel} was sealed at {at} by {by}; it takes no more posts. Open a new channel with `warroom open THEME`"
    )]
    Sealed {
        channel: String,
        at: String,
        by: String,
    },
    #[error(
        "{path} is {what}, not a regular file: an author file must be a regular file in the channel directory (not a link); move it out of the channel"
    )]
    NotRegular { path: PathBuf, what: &'static str },
    #[error("{path}: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "short write to {path}: {written} of {len} bytes; the next post will close off the torn tail"
    )]
    ShortWrite {
        path: PathBuf,
        written: usize,
        len: usize,
    },
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// 2 for bad input, 3 for I/O and environment.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::MissingRoot { .. }
            | Error::RootNotDir { .. }
            | Error::Corrupt { .. }
            | Error::NotRegular { .. }
            | Error::ShortWrite { .. }
            | Error::Io { .. } => 3,
            _ => 2,
        }
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
