//! The state files: `<channel>/.warroom/state/<role>.json`.
//!
//! A writer replaces a file atomically: it writes the whole document to a temporary file in
//! `<channel>/.warroom/` (named `*.tmp`, which the store's `.gitignore` keeps out of git),
//! fsyncs it, renames it over the old one and fsyncs the directory. So a reader sees the old
//! document or the new one, never a mix, and a crash leaves one of them. Only roles on the
//! roster write, and nobody writes once the channel is sealed: the last state is part of the
//! record.
//!
//! Readers never trust a file: at most [`super::MAX_BYTES`] are read, and a document that does
//! not parse or does not belong to its file is reported, not used.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use super::{MAX_BYTES, StateDoc};
use crate::channel::{Author, Channel, open};

/// Why a state could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Channel(#[from] crate::channel::Error),
    #[error("cannot publish the state of {role} in {channel}: {detail}")]
    Invalid {
        role: String,
        channel: String,
        detail: String,
    },
    #[error("cannot {what} {path}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl WriteError {
    /// 2 for bad input (roster, seal, size), 3 for I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            WriteError::Channel(e) => e.exit_code(),
            WriteError::Invalid { .. } => 2,
            WriteError::Io { .. } => 3,
        }
    }
}

fn io_err(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> WriteError + use<> {
    let path = path.to_owned();
    move |source| WriteError::Io { what, path, source }
}

/// `<channel>/.warroom/state`.
pub fn dir(channel_dir: &Path) -> PathBuf {
    channel_dir.join(".warroom").join("state")
}

/// `<channel>/.warroom/state/<role>.json`.
pub fn path(channel_dir: &Path, role: &Author) -> PathBuf {
    dir(channel_dir).join(format!("{role}.json"))
}

/// The role a path under a state directory belongs to (`None`: not a state file).
pub fn role_of(path: &Path) -> Option<Author> {
    let name = path.file_name()?.to_str()?;
    Author::new(name.strip_suffix(".json")?).ok()
}

/// Replaces the state of `doc.role` in `channel`. Refused (nothing written) when the role is
/// not on the roster, the channel is sealed, or the document is over the size limit.
pub fn write(channel: &Channel, doc: &StateDoc) -> Result<(), WriteError> {
    channel.check_can_post(&doc.role)?;
    let bytes = doc.to_bytes().map_err(|detail| WriteError::Invalid {
        role: doc.role.to_string(),
        channel: channel.name().to_string(),
        detail,
    })?;
    write_bytes(channel.dir(), &doc.role, &bytes)
}

/// The atomic replacement itself (checks done by the caller).
pub fn write_bytes(channel_dir: &Path, role: &Author, bytes: &[u8]) -> Result<(), WriteError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state_dir = dir(channel_dir);
    fs::create_dir_all(&state_dir).map_err(io_err("create", &state_dir))?;
    // Unique per process and call: two writers of one role never share a temporary file.
    let tmp = channel_dir.join(".warroom").join(format!(
        "state.{role}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("fsync", &tmp))?;
        let target = path(channel_dir, role);
        fs::rename(&tmp, &target).map_err(io_err("rename into place", &target))?;
        File::open(&state_dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync directory", &state_dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What identifies one version of a file: a change in any of these means "read it again".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    pub dev: u64,
    pub ino: u64,
    pub len: u64,
    pub mtime_ns: i128,
}

/// One state file as read.
#[derive(Debug, Clone)]
pub struct StateFile {
    pub role: Author,
    pub path: PathBuf,
    pub version: Version,
    pub modified: SystemTime,
    /// The document, or why it cannot be used.
    pub doc: Result<StateDoc, String>,
}

impl Version {
    fn of(m: &fs::Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

/// The version of the name at `path`, not following a symbolic link (`None`: there is none).
pub fn version(path: &Path) -> io::Result<Option<Version>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some(Version::of(&m))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads the state file of `role` at `path`, at most [`MAX_BYTES`] of it (`None`: no file).
///
/// Opened as author files are ([`crate::channel::open`]: never through a symbolic link, never
/// blocking on a FIFO, regular files only): anything else at the name is a state file whose
/// document is the reason it cannot be used, so the caller reports it like a malformed one.
pub fn read(path: &Path, role: &Author) -> io::Result<Option<StateFile>> {
    let f = match open::open(path, open::Mode::Read) {
        Ok(Some(f)) => f,
        Ok(None) => return Ok(None),
        Err(crate::channel::Error::NotRegular { what, .. }) => {
            let Some(m) = fs::symlink_metadata(path).ok() else {
                return Ok(None); // gone since
            };
            return Ok(Some(StateFile {
                role: role.clone(),
                path: path.to_owned(),
                version: Version::of(&m),
                modified: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                doc: Err(format!("it is {what}, not a regular file")),
            }));
        }
        Err(crate::channel::Error::Io { source, .. }) => return Err(source),
        Err(e) => return Err(io::Error::other(e.to_string())),
    };
    let m = f.metadata()?;
    let version = Version::of(&m);
    let modified = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let doc = if m.len() > MAX_BYTES as u64 {
        Err(format!("{} bytes, over the limit of {MAX_BYTES}", m.len()))
    } else {
        let mut bytes = Vec::with_capacity(m.len() as usize);
        f.take(MAX_BYTES as u64 + 1).read_to_end(&mut bytes)?;
        StateDoc::parse(&bytes, role)
    };
    Ok(Some(StateFile {
        role: role.clone(),
        path: path.to_owned(),
        version,
        modified,
        doc,
    }))
}

/// Every state file of the channel in `channel_dir`, by role.
pub fn read_all(channel_dir: &Path) -> io::Result<Vec<StateFile>> {
    let state_dir = dir(channel_dir);
    let rd = match fs::read_dir(&state_dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for ent in rd {
        let p = ent?.path();
        if let Some(role) = role_of(&p)
            && let Some(r) = read(&p, &role)?
        {
            out.push(r);
        }
    }
    out.sort_by(|a, b| a.role.cmp(&b.role));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::store::Role;
    use crate::channel::{Store, Theme};

    fn channel(dir: &Path) -> Channel {
        let store = Store::create(dir).unwrap();
        store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("x").unwrap(),
                vec![Role {
                    name: Author::new("pipeline").unwrap(),
                    title: None,
                    lane: None,
                }],
            )
            .unwrap()
    }

    #[test]
    fn writes_replace_atomically_and_leave_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        let role = Author::new("pipeline").unwrap();
        let mut doc = StateDoc::new(role.clone(), 5000);
        for seq in 1..=3 {
            doc.seq = seq;
            write(&ch, &doc).unwrap();
        }
        let all = read_all(ch.dir()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].doc.as_ref().unwrap().seq, 3);
        let leftovers: Vec<_> = fs::read_dir(ch.dir().join(".warroom"))
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn off_roster_and_oversized_states_are_refused_and_nothing_is_written() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        let stranger = StateDoc::new(Author::new("stranger").unwrap(), 5000);
        let e = write(&ch, &stranger).unwrap_err();
        assert!(e.to_string().contains("not on the roster"), "{e}");
        let mut big = StateDoc::new(Author::new("pipeline").unwrap(), 5000);
        big.note = "x".repeat(super::super::MAX_BYTES);
        let e = write(&ch, &big).unwrap_err();
        assert!(e.to_string().contains("over the limit"), "{e}");
        assert_eq!(e.exit_code(), 2);
        assert!(read_all(ch.dir()).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_or_huge_file_reads_as_a_reason_not_a_document() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        let role = Author::new("pipeline").unwrap();
        fs::create_dir_all(dir(ch.dir())).unwrap();
        let p = path(ch.dir(), &role);
        fs::write(&p, b"{not json").unwrap();
        let r = read(&p, &role).unwrap().unwrap();
        assert!(r.doc.is_err());
        fs::write(&p, vec![b'x'; super::super::MAX_BYTES + 10]).unwrap();
        let r = read(&p, &role).unwrap().unwrap();
        assert!(r.doc.unwrap_err().contains("over the limit"));
        assert!(
            read(&dir(ch.dir()).join("nobody.json"), &role)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_fifo_a_symlink_or_a_directory_is_a_reason_never_a_hang_or_a_read_through() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        let role = Author::new("pipeline").unwrap();
        let mut doc = StateDoc::new(role.clone(), 5000);
        doc.seq = 7;
        let outside = tmp.path().join("outside.json");
        fs::write(&outside, doc.to_bytes().unwrap()).unwrap();
        fs::create_dir_all(dir(ch.dir())).unwrap();
        let p = path(ch.dir(), &role);
        let made = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(made.success());
        let r = read(&p, &role).unwrap().unwrap();
        assert_eq!(
            r.doc.unwrap_err(),
            "it is a FIFO (named pipe), not a regular file"
        );
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(&outside, &p).unwrap();
        let r = read(&p, &role).unwrap().unwrap();
        assert_eq!(
            r.doc.unwrap_err(),
            "it is a symbolic link, not a regular file"
        );
        // A dangling link is there too (its version is the link's own).
        fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("none"), &p).unwrap();
        assert!(version(&p).unwrap().is_some());
        assert!(read(&p, &role).unwrap().unwrap().doc.is_err());
        fs::remove_file(&p).unwrap();
        fs::create_dir(&p).unwrap();
        let all = read_all(ch.dir()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            all[0].doc.as_ref().unwrap_err(),
            "it is a directory, not a regular file"
        );
    }
}
