//! Opening author files: never through a symbolic link, never in a way that can block, and
//! only when the file is a regular file.
//!
//! A `*.md` name in a channel can be anything a user (or an attacker) put there: a FIFO, whose
//! plain `open` blocks until a writer appears; a directory; a dangling symlink; a symlink to a
//! file outside the store, which a writer following it would append to. Every author file is
//! opened here with `O_NOFOLLOW | O_NONBLOCK` and checked with `fstat` on the descriptor it
//! got, so a name swapped between listing and opening cannot slip through. It must not read
//! or write the file's contents.

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::Error;

/// What a directory entry is, when it is not a regular file (`None` when it is one).
pub fn irregular(ft: &FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_symlink() {
        Some("a symbolic link")
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if ft.is_socket() {
        Some("a socket")
    } else if ft.is_block_device() || ft.is_char_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// How an author file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Read,
    /// Read and append (an existing file).
    Append,
    /// Read and append, failing when it exists (`create_new`).
    CreateNew,
}

/// Opens the author file at `path`: `Ok(None)` when it does not exist (and `mode` does not
/// create it), [`Error::NotRegular`] when it is anything but a regular file.
pub fn open(path: &Path, mode: Mode) -> Result<Option<File>, Error> {
    let mut opts = OpenOptions::new();
    opts.read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    match mode {
        Mode::Read => {}
        Mode::Append => {
            opts.append(true);
        }
        Mode::CreateNew => {
            opts.append(true).create_new(true);
        }
    }
    let file = match opts.open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound && mode == Mode::Read => return Ok(None),
        Err(e) => return Err(classify(path, e)),
    };
    let meta = file.metadata().map_err(Error::io("cannot stat", path))?;
    match irregular(&meta.file_type()) {
        None => Ok(Some(file)),
        Some(what) => Err(Error::NotRegular {
            path: path.to_owned(),
            what,
        }),
    }
}

/// [`open`] for reading, as `std::fs::File::open` reports it: `NotFound` when missing, and
/// an error saying what the name is when it is not a regular file.
pub fn open_read(path: &Path) -> io::Result<File> {
    match open(path, Mode::Read) {
        Ok(Some(file)) => Ok(file),
        Ok(None) => Err(io::ErrorKind::NotFound.into()),
        Err(Error::Io { source, .. }) => Err(source),
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Turns an `open` failure into the error that says what is at `path`.
fn classify(path: &Path, e: io::Error) -> Error {
    let action = "cannot open";
    // ELOOP: the last component is a symlink (O_NOFOLLOW); ENXIO: a socket; EISDIR: a
    // directory opened for writing. Say what the name is rather than the errno.
    if matches!(
        e.raw_os_error(),
        Some(libc::ELOOP | libc::ENXIO | libc::EISDIR | libc::EWOULDBLOCK)
    ) && let Ok(meta) = std::fs::symlink_metadata(path)
        && let Some(what) = irregular(&meta.file_type())
    {
        return Error::NotRegular {
            path: path.to_owned(),
            what,
        };
    }
    Error::io(action, path)(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(dir.join("a.md"), b"x").unwrap();
        std::fs::create_dir(dir.join("d.md")).unwrap();
        std::os::unix::fs::symlink(dir.join("a.md"), dir.join("l.md")).unwrap();
        std::os::unix::fs::symlink(dir.join("none"), dir.join("dangling.md")).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("f.md"))
            .status()
            .unwrap();
        assert!(made.success());
        assert!(open(&dir.join("a.md"), Mode::Read).unwrap().is_some());
        assert!(open(&dir.join("missing.md"), Mode::Read).unwrap().is_none());
        for (name, what) in [
            ("d.md", "a directory"),
            ("l.md", "a symbolic link"),
            ("dangling.md", "a symbolic link"),
            ("f.md", "a FIFO (named pipe)"),
        ] {
            for mode in [Mode::Read, Mode::Append] {
                match open(&dir.join(name), mode) {
                    Err(Error::NotRegular { what: w, .. }) => assert_eq!(w, what, "{name}"),
                    other => panic!("{name} {mode:?}: {other:?}"),
                }
            }
        }
        // Nothing was created through the dangling link.
        assert!(!dir.join("none").exists());
    }
}
