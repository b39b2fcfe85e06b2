//! The store root and its channels: creating, finding and listing channels, the roster, read
//! cursors, and the checks a post must pass before it reaches the writer.
//!
//! Layout: `<root>/<YYYY-MM-DD>--<theme>/<author>.md`, the channel's `README.md` brief, and a
//! hidden `.warroom/` folder for machine state (`roster.json`, `cursors/`, `sealed.json`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::Error;
use super::append::{AuthorWriter, Posted, read_tail};
use super::entry::{DEFAULT_MAX_BODY, Draft, Entry, EntryId, Kind, Timestamp};
use super::names::{Author, ChannelName, Theme, did_you_mean};
use super::open::{Mode, open as open_author};

/// Most refs one entry may carry (keeps every begin marker far below the lookup's line limit).
pub const MAX_REFS: usize = 256;
/// Most roles one entry may be addressed to.
pub const MAX_TO: usize = 64;

/// Machine state that must never be committed (locks, read cursors, tokens).
const GITIGNORE: &str = "\
# warroom machine state: never part of the record
/.warroom/
*/.warroom/cursors/
*/.warroom/*.lock
*/.warroom/*.tmp
";

/// An `<author>.md` name in a channel: the author, the path, and what it is when it is not a
/// regular file.
type AuthorName = (Author, PathBuf, Option<&'static str>);

/// A store root holding channels.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One role on a channel's roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub name: Author,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<String>,
}

/// Who may post in a channel (`.warroom/roster.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    pub channel: String,
    pub opened_at: Timestamp,
    pub roles: Vec<Role>,
}

impl Roster {
    pub fn contains(&self, author: &Author) -> bool {
        self.roles.iter().any(|r| &r.name == author)
    }

    pub fn names(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The seal marker of a channel (`.warroom/sealed.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub at: Timestamp,
    pub by: String,
    #[serde(default)]
    pub entry: Option<String>,
}

/// A channel as `ls` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelInfo {
    pub name: String,
    pub opened_at: Timestamp,
    pub sealed: bool,
    pub entries: u64,
    pub authors: BTreeMap<String, u64>,
}

/// Limits and durability for one post.
#[derive(Debug, Clone, Copy)]
pub struct PostOptions {
    pub max_body: usize,
    pub sync: bool,
}

impl Default for PostOptions {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            sync: true,
        }
    }
}

impl Store {
    /// Opens an existing root.
    pub fn open(root: &Path) -> Result<Self, Error> {
        match fs::metadata(root) {
            Ok(m) if m.is_dir() => Ok(Self {
                root: root.to_owned(),
            }),
            Ok(_) => Err(Error::RootNotDir {
                path: root.to_owned(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::MissingRoot {
                path: root.to_owned(),
            }),
            Err(e) => Err(Error::io("cannot read store root", root)(e)),
        }
    }

    /// Opens a root, creating it (and its parents, and its `.gitignore`) when missing.
    pub fn create(root: &Path) -> Result<Self, Error> {
        // A file where the root (or one of its parents) should be: say which, not "File exists".
        if let Some(file) = root.ancestors().find(|p| p.is_file()) {
            return Err(Error::RootNotDir {
                path: file.to_owned(),
            });
        }
        fs::create_dir_all(root).map_err(Error::io("cannot create store root", root))?;
        let ignore = root.join(".gitignore");
        if !ignore.exists() {
            write_atomic(&ignore, GITIGNORE.as_bytes())?;
        }
        Self::open(root)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Creates a new channel with the given roles (the operator is always added).
    pub fn open_channel(
        &self,
        date: NaiveDate,
        theme: Theme,
        roles: Vec<Role>,
    ) -> Result<Channel, Error> {
        let name = ChannelName::new(date, theme);
        let dir = self.root.join(name.to_string());
        let state = dir.join(".warroom");
        // create_dir (not _all) on the channel dir makes "already exists" race-free.
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::ChannelExists {
                    name: name.to_string(),
                    root: self.root.clone(),
                });
            }
            Err(e) => return Err(Error::io("cannot create channel directory", &dir)(e)),
        }
        fs::create_dir(&state).map_err(Error::io("cannot create", &state))?;
        let mut all = roles;
        if !all.iter().any(|r| r.name == Author::operator()) {
            all.push(Role {
                name: Author::operator(),
                title: None,
                lane: None,
            });
        }
        let roster = Roster {
            channel: name.to_string(),
            opened_at: Timestamp::now(),
            roles: all,
        };
        let channel = Channel { name, dir };
        channel.write_roster(&roster)?;
        sync_dir(&self.root)?;
        Ok(channel)
    }

    /// Every channel directory under the root, newest first (by date, then by opening time).
    pub fn channels(&self) -> Result<Vec<Channel>, Error> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.root).map_err(Error::io("cannot list", &self.root))?;
        for ent in rd {
            let ent = ent.map_err(Error::io("cannot list", &self.root))?;
            let Some(name) = ent.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let Ok(name) = ChannelName::parse(&name) else {
                continue;
            };
            let dir = ent.path();
            if dir.join(".warroom").is_dir() {
                out.push(Channel { name, dir });
            }
        }
        let mut keyed = out
            .into_iter()
            .map(|c| {
                let opened = c.roster().map(|r| r.opened_at).ok();
                (c.name.date(), opened, c)
            })
            .collect::<Vec<_>>();
        keyed.sort_by(|a, b| (b.0, b.1, &b.2.name).cmp(&(a.0, a.1, &a.2.name)));
        Ok(keyed.into_iter().map(|(_, _, c)| c).collect())
    }

    /// Finds a channel by full name (`2026-05-04--litellm-canary`) or by theme (the one
    /// unsealed channel with that theme, else the one sealed channel; more than one is
    /// [`Error::AmbiguousChannel`]); with no name, the newest unsealed channel.
    pub fn channel(&self, name: Option<&str>) -> Result<Channel, Error> {
        let Some(name) = name else {
            for c in self.channels()? {
                if c.seal()?.is_none() {
                    return Ok(c);
                }
            }
            return Err(Error::NoChannel {
                root: self.root.clone(),
            });
        };
        let unknown = || Error::UnknownChannel {
            name: name.to_owned(),
            root: self.root.clone(),
        };
        if let Ok(parsed) = ChannelName::parse(name) {
            let dir = self.root.join(name);
            return if dir.join(".warroom").is_dir() {
                Ok(Channel { name: parsed, dir })
            } else {
                Err(unknown())
            };
        }
        let theme = Theme::new(name).map_err(|_| Error::BadName {
            what: "channel",
            name: format!("{name:?}"),
            rule: "YYYY-MM-DD--theme as printed by `warroom open`, or a theme",
        })?;
        // A theme names the one unsealed channel with it; with none unsealed, the one sealed
        // channel. More than one is an error listing them: guessing would write to the wrong one.
        let mut open = Vec::new();
        let mut sealed = Vec::new();
        for c in self.channels()? {
            if c.name.theme() == &theme {
                if c.seal()?.is_none() {
                    open.push(c);
                } else {
                    sealed.push(c);
                }
            }
        }
        let (mut found, state) = if open.is_empty() {
            (sealed, "sealed")
        } else {
            (open, "unsealed")
        };
        match found.len() {
            0 => Err(unknown()),
            1 => Ok(found.remove(0)),
            _ => Err(Error::AmbiguousChannel {
                theme: name.to_owned(),
                state,
                matches: found
                    .iter()
                    .map(|c| c.name.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// One channel directory.
#[derive(Debug, Clone)]
pub struct Channel {
    name: ChannelName,
    dir: PathBuf,
}

impl Channel {
    pub fn name(&self) -> &ChannelName {
        &self.name
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state_path(&self, file: &str) -> PathBuf {
        self.dir.join(".warroom").join(file)
    }

    pub fn author_path(&self, author: &Author) -> PathBuf {
        self.dir.join(format!("{author}.md"))
    }

    pub fn roster(&self) -> Result<Roster, Error> {
        let path = self.state_path("roster.json");
        let bytes = fs::read(&path).map_err(Error::io("cannot read roster", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            path,
            detail: format!("roster is not valid JSON ({e}); restore it from git"),
        })
    }

    fn write_roster(&self, roster: &Roster) -> Result<(), Error> {
        let mut json = serde_json::to_vec_pretty(roster).expect("roster serializes");
        json.push(b'\n');
        write_atomic(&self.state_path("roster.json"), &json)
    }

    /// Adds roles (existing ones are left as they are) and returns the new roster.
    pub fn add_roles(&self, roles: Vec<Role>) -> Result<Roster, Error> {
        let lock_path = self.state_path("roster.lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(Error::io("cannot open", &lock_path))?;
        lock.lock().map_err(Error::io("cannot lock", &lock_path))?;
        let mut roster = self.roster()?;
        for role in roles {
            if !roster.contains(&role.name) {
                roster.roles.push(role);
            }
        }
        self.write_roster(&roster)?;
        Ok(roster)
    }

    /// The seal, if the channel is sealed.
    pub fn seal(&self) -> Result<Option<Seal>, Error> {
        read_seal(&self.state_path("sealed.json"))
    }

    /// The author files present (regular files only), sorted by author.
    pub fn author_files(&self) -> Result<Vec<(Author, PathBuf)>, Error> {
        Ok(self
            .author_names()?
            .into_iter()
            .filter_map(|(a, p, odd)| odd.is_none().then_some((a, p)))
            .collect())
    }

    /// Author-file names that are not regular files (a FIFO, a directory, a symlink), with
    /// what each is: never opened for reading or writing, reported by verify.
    pub fn irregular_files(&self) -> Result<Vec<(PathBuf, &'static str)>, Error> {
        Ok(self
            .author_names()?
            .into_iter()
            .filter_map(|(_, p, odd)| odd.map(|what| (p, what)))
            .collect())
    }

    /// Every `<author>.md` name in the channel directory, with what it is when it is not a
    /// regular file (the type of the entry itself: a symlink is not followed).
    fn author_names(&self) -> Result<Vec<AuthorName>, Error> {
        let mut out = Vec::new();
        let rd = fs::read_dir(&self.dir).map_err(Error::io("cannot list", &self.dir))?;
        for ent in rd {
            let ent = ent.map_err(Error::io("cannot list", &self.dir))?;
            let path = ent.path();
            let Some(stem) = path
                .extension()
                .filter(|e| *e == "md")
                .and_then(|_| path.file_stem())
                .and_then(|s| s.to_str())
            else {
                continue;
            };
            if let Ok(author) = Author::new(stem) {
                let ft = ent.file_type().map_err(Error::io("cannot stat", &path))?;
                out.push((author, path, super::open::irregular(&ft)));
            }
        }
        out.sort();
        Ok(out)
    }

    /// Fails unless `author` may post here now.
    pub fn check_can_post(&self, author: &Author) -> Result<(), Error> {
        if let Some(seal) = self.seal()? {
            return Err(Error::Sealed {
                channel: self.name.to_string(),
                at: seal.at.to_string(),
                by: seal.by,
            });
        }
        let roster = self.roster()?;
        if !roster.contains(author) {
            return Err(Error::NotOnRoster {
                author: author.to_string(),
                channel: self.name.to_string(),
                roster: roster.names(),
            });
        }
        Ok(())
    }

    /// Checks a draft against the limits and this channel's entries: the body's size, a
    /// known kind, refs that exist (an `ack` refs alerts, a `resolved` refs its author's own
    /// alerts; both, like a `correction`, need at least one), recipients on the roster.
    pub fn check_draft(
        &self,
        author: &Author,
        draft: &Draft,
        opts: &PostOptions,
    ) -> Result<(), Error> {
        if draft.body.len() > opts.max_body {
            return Err(Error::BodyTooLarge {
                size: draft.body.len(),
                limit: opts.max_body,
            });
        }
        if draft.body.trim().is_empty() {
            return Err(Error::EmptyBody);
        }
        if !draft.kind.is_known() {
            return Err(draft.kind.as_str().parse::<Kind>().unwrap_err());
        }
        if draft.kind.needs_ref() && draft.refs.is_empty() {
            return Err(Error::KindNeedsRef { kind: draft.kind });
        }
        for (what, count, limit) in [
            ("refs", draft.refs.len(), MAX_REFS),
            ("recipients (to)", draft.to.len(), MAX_TO),
        ] {
            if count > limit {
                return Err(Error::TooMany { what, count, limit });
            }
        }
        if !draft.to.is_empty() {
            let roster = self.roster()?;
            for role in &draft.to {
                if !roster.contains(role) {
                    let hint =
                        did_you_mean(role.as_str(), roster.roles.iter().map(|r| r.name.as_str()));
                    return Err(Error::UnknownRecipient {
                        role: role.to_string(),
                        channel: self.name.to_string(),
                        roster: match hint {
                            Some(h) => format!("{}; did you mean {h}?", roster.names()),
                            None => roster.names(),
                        },
                    });
                }
            }
        }
        for r in &draft.refs {
            let last = self.last_seq(&r.author)?;
            if r.seq > last {
                return Err(Error::UnknownRef {
                    id: r.clone(),
                    channel: self.name.to_string(),
                    author: r.author.to_string(),
                    last,
                });
            }
            if matches!(draft.kind, Kind::Ack | Kind::Resolved) {
                self.check_alert_ref(draft.kind, r)?;
            }
            if draft.kind == Kind::Resolved && r.author != *author {
                return Err(Error::ResolvesOthersAlert {
                    author: author.to_string(),
                    id: r.clone(),
                });
            }
        }
        Ok(())
    }

    /// An `ack` or `resolved` must ref an alert (kinds this version does not know count as
    /// notes, so they cannot be acked).
    fn check_alert_ref(&self, kind: Kind, id: &EntryId) -> Result<(), Error> {
        let target = self.entry(id)?.ok_or_else(|| Error::RefUnreadable {
            id: id.clone(),
            detail: "no complete entry with that id was found in its author's file".into(),
        })?;
        if target.kind.effective() != Kind::Alert {
            return Err(Error::RefNotAlert {
                kind: if kind == Kind::Ack { "ack" } else { "resolved" },
                id: id.clone(),
                found: target.kind.to_string(),
            });
        }
        Ok(())
    }

    /// One entry by id, found from its begin marker (without reading the whole file through
    /// the parser). `None` when its author's file has no complete entry with that id.
    pub fn entry(&self, id: &EntryId) -> Result<Option<Entry>, Error> {
        let path = self.author_path(&id.author);
        let Some(file) = open_author(&path, Mode::Read)? else {
            return Ok(None);
        };
        let len = file
            .metadata()
            .map_err(Error::io("cannot stat", &path))?
            .len();
        let found =
            super::lookup::find_by_id(&file, len, id).map_err(Error::io("cannot read", &path))?;
        match found {
            Some(e) if !e.sum_ok => Err(Error::RefUnreadable {
                id: id.clone(),
                detail: "it does not match its checksum".into(),
            }),
            Some(e) => Ok(Some(e.into_entry(self.name.to_string()))),
            None => Ok(None),
        }
    }

    /// The highest seq in an author's file (0 when it has none).
    pub fn last_seq(&self, author: &Author) -> Result<u64, Error> {
        let path = self.author_path(author);
        let Some(file) = open_author(&path, Mode::Read)? else {
            return Ok(0);
        };
        let len = file
            .metadata()
            .map_err(Error::io("cannot stat", &path))?
            .len();
        Ok(read_tail(&file, len)
            .map_err(Error::io("cannot read", &path))?
            .last_seq)
    }

    /// A writer for `author`, after the roster and seal checks.
    pub fn writer(&self, author: &Author, sync: bool) -> Result<AuthorWriter, Error> {
        self.check_can_post(author)?;
        AuthorWriter::open(
            &self.author_path(author),
            &self.name.to_string(),
            author.clone(),
            sync,
        )
    }

    /// Checks and appends one entry: what `warroom post`, the relay and the observers do.
    ///
    /// With a key ([`Draft::key`]) posting is safe to retry: under the author file's lock the
    /// file is searched for an earlier entry of `author` with the same key. The same content
    /// (kind, body, refs, to) returns that entry with [`Posted::replayed`] set and writes
    /// nothing; a different content is [`Error::KeyConflict`] (exit 2, HTTP 409), nothing
    /// written. The search reads the file itself, so it holds when the first poster was killed
    /// after its write and before it could report the id.
    pub fn post(
        &self,
        author: &Author,
        draft: &Draft,
        opts: &PostOptions,
    ) -> Result<Posted, Error> {
        self.check_can_post(author)?;
        self.check_draft(author, draft, opts)?;
        self.writer(author, opts.sync)?.append(draft)
    }

    /// The read cursor of `reader`: per author, the last seq it has seen.
    pub fn cursor(&self, reader: &Author) -> Result<BTreeMap<String, u64>, Error> {
        let path = self.state_path(&format!("cursors/{reader}.json"));
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
                path,
                detail: format!(
                    "read cursor is not valid JSON ({e}); delete it to catch up from the start"
                ),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io("cannot read", &path)(e)),
        }
    }

    pub fn set_cursor(&self, reader: &Author, cursor: &BTreeMap<String, u64>) -> Result<(), Error> {
        let dir = self.state_path("cursors");
        fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
        let json = serde_json::to_vec(cursor).expect("cursor serializes");
        write_atomic(&dir.join(format!("{reader}.json")), &json)
    }

    /// Summary for `ls`.
    pub fn info(&self) -> Result<ChannelInfo, Error> {
        let roster = self.roster()?;
        let mut authors = BTreeMap::new();
        for (author, _) in self.author_files()? {
            let n = self.last_seq(&author)?;
            authors.insert(author.to_string(), n);
        }
        Ok(ChannelInfo {
            name: self.name.to_string(),
            opened_at: roster.opened_at,
            sealed: self.seal()?.is_some(),
            entries: authors.values().sum(),
            authors,
        })
    }
}

/// Reads a seal marker file (`None` when absent).
pub fn read_seal(path: &Path) -> Result<Option<Seal>, Error> {
    read_marker(path)
}

/// Reads the seal marker file as `T` (`None` when absent).
pub fn read_marker<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, Error> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                path: path.to_owned(),
                detail: format!("seal marker is not valid JSON ({e}); restore it from git"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("cannot read", path)(e)),
    }
}

/// Writes a file by writing a temporary sibling, fsyncing it and renaming it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(Error::io("cannot create", &tmp))?;
    f.write_all(bytes)
        .map_err(Error::io("cannot write", &tmp))?;
    f.sync_all().map_err(Error::io("cannot fsync", &tmp))?;
    fs::rename(&tmp, path).map_err(Error::io("cannot rename into place", path))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(Error::io("cannot fsync directory", dir))
}
