//! The writer of one author file.
//!
//! Each append builds the whole entry in memory and hands it to one `write(2)` on an
//! `O_APPEND` descriptor while holding an exclusive `flock` on the file, so concurrent writers
//! (threads or processes) never interleave. A short write is an error, never a second append.
//! Under the lock the writer first checks that the file is where it left it; if another writer
//! appended meanwhile, or a killed writer left a torn tail, it re-reads the end of the file,
//! closes off torn bytes with a repair marker, and continues the chain.
//!
//! A draft with an idempotency key is looked up under the same lock before anything is
//! written: the author's earlier entry with that key is returned as a replay when it holds the
//! same content, and a different content is refused. Because the lookup and the write share
//! one lock, and the lookup reads the file itself (not what this process remembers), a retry
//! after a writer was killed between its write and its output finds the entry.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Error;
use super::entry::{Draft, Entry, GENESIS, Header, Sum, Timestamp, encode};
use super::lookup::{ReadAt, find_by_key, line_at};
use super::names::Author;
use super::open::{Mode, open as open_author};
use super::repair::{self, Verdict, torn_sum};
use super::scan::{Record, Scanner};
use super::store::read_seal;

/// What the writer knows about the end of its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailState {
    pub last_seq: u64,
    pub last_sum: Sum,
    pub last_ts: Option<Timestamp>,
    /// File length this state describes.
    pub len: u64,
    /// Torn bytes at the end (offset, length) not yet closed off by a repair marker.
    pub torn: Option<(u64, u64)>,
    /// The file ends with `\n` (or is empty), so a marker can start right away.
    pub ends_with_newline: bool,
    /// Byte offset of a repair marker that ends the file and was not left as a writer leaves
    /// one (see [`super::repair::check`]): it may hide an entry, so no post may follow it.
    pub suspect: Option<u64>,
}

/// What a post did: the entry, and whether it was already there (an idempotency key seen
/// before, with the same content: nothing was written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub entry: Entry,
    /// True when `entry` is the earlier entry with the draft's key, returned without writing.
    pub replayed: bool,
}

/// Appends entries to one author file.
pub struct AuthorWriter {
    file: File,
    path: PathBuf,
    channel: String,
    author: Author,
    /// Cached tail state; re-read whenever the file length differs from `state.len`.
    state: Option<TailState>,
    /// fsync after each append (off only for bulk loads; see `post --no-sync`).
    sync: bool,
    /// The channel's seal marker, checked under the lock before every append.
    seal_path: PathBuf,
    buf: Vec<u8>,
}

impl AuthorWriter {
    /// Opens (creating if needed) `path` for appending. A new file is made durable by an fsync
    /// of its directory.
    pub fn open(path: &Path, channel: &str, author: Author, sync: bool) -> Result<Self, Error> {
        // Never through a symlink, and only a regular file: a link to a file outside the
        // store must not be appended to.
        let (file, created) = match open_author(path, Mode::CreateNew) {
            Ok(f) => (f, true),
            Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::AlreadyExists => {
                (open_author(path, Mode::Append)?, false)
            }
            Err(e) => return Err(e),
        };
        let file = file.ok_or_else(|| {
            Error::io("cannot open for appending", path)(io::ErrorKind::NotFound.into())
        })?;
        if created && sync {
            let dir = path.parent().unwrap_or(Path::new("."));
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(Error::io("cannot fsync directory", dir))?;
        }
        let writer = Self {
            file,
            path: path.to_owned(),
            channel: channel.to_owned(),
            author,
            state: None,
            sync,
            seal_path: path
                .parent()
                .unwrap_or(Path::new("."))
                .join(".warroom/sealed.json"),
            buf: Vec::with_capacity(4096),
        };
        writer.check_seal()?;
        Ok(writer)
    }

    fn check_seal(&self) -> Result<(), Error> {
        match read_seal(&self.seal_path)? {
            Some(seal) => Err(Error::Sealed {
                channel: self.channel.clone(),
                at: seal.at.to_string(),
                by: seal.by,
            }),
            None => Ok(()),
        }
    }

    /// Makes everything appended so far durable (for writers that skip the per-entry fsync).
    pub fn sync(&self) -> Result<(), Error> {
        self.file
            .sync_data()
            .map_err(Error::io("cannot fsync", &self.path))
    }

    /// The file this writer appends to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry and returns it as readers will see it (or, for a draft whose key
    /// this author used before with the same content, that earlier entry: see [`Posted`]).
    pub fn append(&mut self, draft: &Draft) -> Result<Posted, Error> {
        self.append_then(draft, |_| Ok(()))
    }

    /// Appends one entry, then runs `after` while still holding the file's lock (the sealer
    /// writes its marker there, so nothing can land between the seal entry and the marker).
    /// `after` does not run for a replay.
    pub fn append_then(
        &mut self,
        draft: &Draft,
        after: impl FnOnce(&Entry) -> Result<(), Error>,
    ) -> Result<Posted, Error> {
        self.file
            .lock()
            .map_err(Error::io("cannot lock", &self.path))?;
        let result = self.append_locked(draft).and_then(|p| {
            if p.replayed {
                Ok(p)
            } else {
                after(&p.entry).map(|()| p)
            }
        });
        // Unlock errors are harmless (closing the fd releases the lock) but not swallowed.
        let unlocked = self
            .file
            .unlock()
            .map_err(Error::io("cannot unlock", &self.path));
        let posted = result?;
        unlocked?;
        // fsync after unlocking: the bytes are in place, and concurrent writers' fsyncs can
        // share one journal commit instead of queueing behind the lock. A replay syncs too:
        // the earlier writer may have died before its own fsync.
        if self.sync {
            self.sync()?;
        }
        Ok(posted)
    }

    /// Takes the lock for a run of appends (bulk loads): one lock, one seal check and one
    /// look at the file's end for the whole run, then one `write(2)` per entry. Other writers
    /// of this file wait until the session ends; entries are made durable by
    /// [`Session::finish`].
    pub fn session(&mut self) -> Result<Session<'_>, Error> {
        self.file
            .lock()
            .map_err(Error::io("cannot lock", &self.path))?;
        let session = Session { writer: self };
        session.writer.prepare_locked()?;
        Ok(session)
    }

    fn append_locked(&mut self, draft: &Draft) -> Result<Posted, Error> {
        let st = self.prepare_locked()?;
        self.post_locked(draft, st)
    }

    /// Under the lock, with `st` the file's current end: replays a known key or writes.
    fn post_locked(&mut self, draft: &Draft, st: TailState) -> Result<Posted, Error> {
        if !draft.kind.is_known() {
            // Only readers are lenient about kinds: no writer may produce one it cannot name.
            return Err(draft.kind.as_str().parse::<super::Kind>().unwrap_err());
        }
        if let Some(entry) = self.replay_locked(draft, st.len)? {
            return Ok(Posted {
                entry,
                replayed: true,
            });
        }
        Ok(Posted {
            entry: self.write_locked(draft, st)?,
            replayed: false,
        })
    }

    /// Under the lock: the author's earlier entry with the draft's key, when the draft has a
    /// key that was used before. A different content under the same key is refused.
    fn replay_locked(&self, draft: &Draft, len: u64) -> Result<Option<Entry>, Error> {
        let Some(key) = &draft.key else {
            return Ok(None);
        };
        let read = Error::io("cannot read", &self.path);
        let Some(found) = find_by_key(&self.file, len, &self.author, key).map_err(read)? else {
            return Ok(None);
        };
        if !found.sum_ok {
            let line = line_at(&self.file, found.pos.offset)
                .map_err(Error::io("cannot read", &self.path))?;
            return Err(Error::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "line {line}: entry {}#{} with idempotency key {key} does not match its checksum, so it cannot be replayed; nothing was written (run `warroom verify`)",
                    found.author, found.seq
                ),
            });
        }
        let entry = found.into_entry(self.channel.clone());
        match draft.differs_from(&entry) {
            None => Ok(Some(entry)),
            Some(differs) => Err(Error::KeyConflict {
                key: key.to_string(),
                id: entry.id,
                differs,
            }),
        }
    }

    /// Under the lock: checks the seal and learns where the file ends.
    fn prepare_locked(&mut self) -> Result<TailState, Error> {
        // The seal is checked under the lock: a sealer holds every author file's lock while it
        // writes the marker and clears the files' write bits, so no entry slips in after the
        // seal. The mode comes with the fstat we need anyway; the marker is only read when a
        // file turned read-only.
        let meta = self
            .file
            .metadata()
            .map_err(Error::io("cannot stat", &self.path))?;
        if meta.permissions().mode() & 0o222 == 0 {
            self.check_seal()?;
            return Err(Error::Corrupt {
                path: self.path.clone(),
                detail: "the file is read-only but the channel is not sealed; restore its write permission (chmod u+w) if it should take posts".into(),
            });
        }
        let len = meta.len();
        let st = match self.state {
            Some(st) if st.len == len => st,
            _ => read_tail(&self.file, len).map_err(Error::io("cannot read", &self.path))?,
        };
        self.state = Some(st);
        Ok(st)
    }

    /// Under the lock, with `st` the file's current end: encodes and writes one entry.
    fn write_locked(&mut self, draft: &Draft, st: TailState) -> Result<Entry, Error> {
        if let Some(at) = st.suspect {
            let line = line_at(&self.file, at).map_err(Error::io("cannot read", &self.path))?;
            return Err(Error::Corrupt {
                path: self.path.clone(),
                detail: format!(
                    "line {line}: the file ends with a repair marker that was not left by a writer (`warroom verify` says why); it may hide the entry before it, whose id a post now would reuse. Nothing was written: restore the file from git"
                ),
            });
        }
        let len = st.len;
        let ts = match st.last_ts {
            Some(last) => Timestamp::now().max(last),
            None => Timestamp::now(),
        };
        self.buf.clear();
        if let Some((at, torn)) = st.torn {
            if !st.ends_with_newline {
                self.buf.push(b'\n');
            }
            let sum =
                torn_sum(&self.file, at, torn).map_err(Error::io("cannot read", &self.path))?;
            self.buf
                .extend_from_slice(repair::marker(ts, at, torn, sum).as_bytes());
        }
        let Some(seq) = st.last_seq.checked_add(1) else {
            return Err(Error::SeqOverflow {
                path: self.path.clone(),
                author: self.author.to_string(),
                last: st.last_seq,
            });
        };
        let sum = encode(
            &mut self.buf,
            Header {
                author: &self.author,
                seq,
                ts,
                kind: draft.kind,
                refs: &draft.refs,
                to: &draft.to,
                key: draft.key.as_ref(),
            },
            &draft.body,
            st.last_sum,
        );
        self.state = None;
        let written = self
            .file
            .write(&self.buf)
            .map_err(Error::io("cannot write", &self.path))?;
        if written != self.buf.len() {
            return Err(Error::ShortWrite {
                path: self.path.clone(),
                written,
                len: self.buf.len(),
            });
        }
        self.state = Some(TailState {
            last_seq: seq,
            last_sum: sum,
            last_ts: Some(ts),
            len: len + written as u64,
            torn: None,
            ends_with_newline: true,
            suspect: None,
        });
        Ok(Entry {
            id: super::EntryId {
                author: self.author.clone(),
                seq,
            },
            channel: self.channel.clone(),
            author: self.author.clone(),
            seq,
            ts,
            kind: draft.kind,
            refs: draft.refs.clone(),
            to: draft.to.clone(),
            key: draft.key.clone(),
            body: draft.body.clone(),
        })
    }
}

/// A run of appends under one lock; see [`AuthorWriter::session`].
pub struct Session<'w> {
    writer: &'w mut AuthorWriter,
}

impl Session<'_> {
    /// Appends one entry (one `write(2)`, no fsync), or replays a known key like
    /// [`AuthorWriter::append`].
    pub fn append(&mut self, draft: &Draft) -> Result<Posted, Error> {
        let st = match self.writer.state {
            Some(st) => st,
            None => self.writer.prepare_locked()?,
        };
        self.writer.post_locked(draft, st)
    }

    /// Makes the session's entries durable (when the writer syncs) and releases the lock.
    pub fn finish(self) -> Result<(), Error> {
        if self.writer.sync {
            self.writer.sync()?;
        }
        Ok(())
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // Closing the descriptor would release the lock too; an unlock error leaves nothing
        // to repair, so there is nothing to report here.
        let _ = self.writer.file.unlock();
    }
}

/// Reads backwards from `len` in growing windows until the last complete entry is found (or
/// the start of the file), and reports what follows it. Each window is streamed through the
/// scanner, so memory stays bounded by the scanner's limit however long the torn bytes are,
/// and the windows grow geometrically, so the time stays linear in the bytes after the last
/// entry.
pub fn read_tail(file: &File, len: u64) -> io::Result<TailState> {
    let mut window: u64 = 16 * 1024;
    loop {
        let start = len.saturating_sub(window);
        let src = ReadAt {
            file,
            pos: start,
            end: len,
        };
        // A window that starts mid-file starts scanning at the next line start, so a marker-like
        // run in the middle of a body line can never be taken for a marker.
        let scanner = if start == 0 {
            Scanner::new(src, 0, 1)
        } else {
            Scanner::mid_line(src, start)
        };
        let mut last_entry = None;
        // End of the last entry or repair marker: torn bytes are whatever follows it.
        let mut clean_end = if start == 0 { Some(0) } else { None };
        // Start of the non-entry bytes since then, and the last repair marker with what it
        // closed off (to check a marker that ends the file).
        let mut stretch: Option<u64> = None;
        let mut last_repair = None;
        for rec in scanner {
            match rec? {
                Record::Entry(e) => {
                    clean_end = Some(e.pos.end());
                    last_entry = Some(e);
                    (stretch, last_repair) = (None, None);
                }
                Record::Repair { pos, torn, .. } => {
                    clean_end = Some(pos.end());
                    last_repair = Some((pos, torn, stretch.map(|s| (s, pos.offset - s))));
                    stretch = None;
                }
                Record::Garbage { pos, .. } | Record::Tail { pos } => {
                    stretch.get_or_insert(pos.offset);
                }
            }
        }
        if last_entry.is_some() || start == 0 {
            let ends_with_newline = len == 0 || {
                let mut last = [0u8];
                file.read_exact_at(&mut last, len - 1)?;
                last[0] == b'\n'
            };
            let clean_end = clean_end.unwrap_or(start);
            let torn = (clean_end < len).then(|| (clean_end, len - clean_end));
            let (last_seq, last_sum, last_ts) = match last_entry {
                Some(e) => (e.seq, e.sum, Some(e.ts)),
                None => (0, GENESIS, None),
            };
            let suspect = match last_repair {
                Some((pos, torn, closed)) if pos.end() == len => {
                    match repair::check(file, torn, closed, pos.offset)? {
                        Verdict::Sound => None,
                        Verdict::Unsummed | Verdict::Unsound(_) => Some(pos.offset),
                    }
                }
                _ => None,
            };
            return Ok(TailState {
                last_seq,
                last_sum,
                last_ts,
                len,
                torn,
                ends_with_newline,
                suspect,
            });
        }
        window = window.saturating_mul(4);
    }
}

#[cfg(test)]
mod tests {
    use crate::channel::store::Role;
    use crate::channel::{Author, Draft, Kind, Store, Theme};

    #[test]
    fn sessions_and_single_appends_share_one_chain() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::create(tmp.path()).unwrap();
        let a = Author::new("a").unwrap();
        let ch = store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("t").unwrap(),
                vec![Role {
                    name: a.clone(),
                    title: None,
                    lane: None,
                }],
            )
            .unwrap();
        let draft = |b: &str| Draft::new(Kind::Note, b);
        let mut w1 = ch.writer(&a, false).unwrap();
        let mut w2 = ch.writer(&a, true).unwrap();
        w2.append(&draft("before")).unwrap();
        let mut s = w1.session().unwrap();
        for i in 0..10 {
            assert_eq!(s.append(&draft(&format!("s{i}"))).unwrap().entry.seq, i + 2);
        }
        s.finish().unwrap();
        // w2's cached end is stale: it re-reads the tail under the lock.
        assert_eq!(w2.append(&draft("after")).unwrap().entry.seq, 12);
        assert_eq!(w1.append(&draft("last")).unwrap().entry.seq, 13);
        let report = crate::channel::verify::verify(&ch).unwrap();
        assert!(report.intact(), "{:?}", report.findings);
        assert_eq!(report.entries, 13);
    }
}
