//! Following the state files of one channel (`.warroom/state/<role>.json`, see
//! [`crate::state`]): a file is read again whenever its version (inode, size, mtime) changes,
//! and yields the new document, or — when it is malformed, huge or not its role's — one store
//! alert per version, never a crash and never the bad document.
//!
//! Like [`super::file`], this only reads and does no waiting; the follower loop drives it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use super::{AlertReason, StoreAlert, TailEvent};
use crate::channel::Author;
use crate::state::StateDoc;
use crate::state::file::{self, Version};

/// A new state document of one role.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    pub channel: String,
    pub role: Author,
    pub doc: StateDoc,
    /// When the file was last written (the reader's clock), for the document's age.
    pub modified: SystemTime,
}

/// The state files of one channel: the version of each last looked at.
#[derive(Debug, Default)]
pub struct StateFiles {
    seen: BTreeMap<Author, Version>,
}

impl StateFiles {
    /// Looks at every state file of the channel in `dir`. With `quiet`, versions are recorded
    /// without events (what exists when following starts is not news).
    pub fn sweep(&mut self, channel: &str, dir: &Path, quiet: bool, out: &mut Vec<TailEvent>) {
        let state_dir = file::dir(dir);
        let Ok(rd) = std::fs::read_dir(&state_dir) else {
            return; // no states yet
        };
        for ent in rd.flatten() {
            let path = ent.path();
            if let Some(role) = file::role_of(&path) {
                self.look(channel, &role, &path, quiet, out);
            }
        }
    }

    /// Looks at one state file (a notify hint).
    pub fn hint(&mut self, channel: &str, path: &Path, out: &mut Vec<TailEvent>) {
        if let Some(role) = file::role_of(path) {
            self.look(channel, &role, path, false, out);
        }
    }

    fn look(
        &mut self,
        channel: &str,
        role: &Author,
        path: &Path,
        quiet: bool,
        out: &mut Vec<TailEvent>,
    ) {
        let Ok(Some(version)) = file::version(path) else {
            return;
        };
        if self.seen.get(role) == Some(&version) {
            return;
        }
        let read = match file::read(path, role) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                self.seen.insert(role.clone(), version);
                out.push(bad(channel, role, path, format!("cannot be read ({e})")));
                return;
            }
        };
        // The version read, which may be newer than the one looked at.
        self.seen.insert(role.clone(), read.version);
        if quiet {
            return;
        }
        match read.doc {
            Ok(doc) => out.push(TailEvent::State(Box::new(StateUpdate {
                channel: channel.to_owned(),
                role: role.clone(),
                doc,
                modified: read.modified,
            }))),
            Err(why) => out.push(bad(channel, role, path, why)),
        }
    }
}

fn bad(channel: &str, role: &Author, path: &Path, why: String) -> TailEvent {
    TailEvent::Alert(StoreAlert {
        channel: channel.to_owned(),
        author: Some(role.to_string()),
        reason: AlertReason::State,
        file: path.display().to_string(),
        line: None,
        message: format!(
            "{}: the state of {role} is ignored: {why}. Only warroom observers should write it; the next good write replaces it",
            path.display()
        ),
        gap: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reasons(out: &[TailEvent]) -> Vec<String> {
        out.iter()
            .map(|e| match e {
                TailEvent::State(s) => format!("state {}", s.doc.seq),
                TailEvent::Alert(a) => format!("alert {:?}", a.reason),
                _ => "other".into(),
            })
            .collect()
    }

    #[test]
    fn each_new_version_is_read_once_and_bad_ones_alert_once() {
        let dir = tempfile::tempdir().unwrap();
        let role = Author::new("pipeline").unwrap();
        let mut files = StateFiles::default();
        let mut out = Vec::new();
        files.sweep("c", dir.path(), false, &mut out);
        assert!(out.is_empty());
        let mut doc = StateDoc::new(role.clone(), 1000);
        doc.seq = 1;
        file::write_bytes(dir.path(), &role, &doc.to_bytes().unwrap()).unwrap();
        files.sweep("c", dir.path(), false, &mut out);
        files.sweep("c", dir.path(), false, &mut out);
        assert_eq!(reasons(&out), ["state 1"]);
        out.clear();
        file::write_bytes(dir.path(), &role, b"{\"version\":1,").unwrap();
        let p = file::path(dir.path(), &role);
        files.hint("c", &p, &mut out);
        files.hint("c", &p, &mut out);
        files.sweep("c", dir.path(), false, &mut out);
        assert_eq!(reasons(&out), ["alert State"]);
        out.clear();
        doc.seq = 2;
        file::write_bytes(dir.path(), &role, &doc.to_bytes().unwrap()).unwrap();
        files.hint("c", &p, &mut out);
        assert_eq!(reasons(&out), ["state 2"]);
    }

    #[test]
    fn a_fifo_in_a_state_file_place_is_an_alert_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let role = Author::new("pipeline").unwrap();
        let p = file::path(dir.path(), &role);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let made = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(made.success());
        let mut files = StateFiles::default();
        let mut out = Vec::new();
        files.sweep("c", dir.path(), false, &mut out);
        files.hint("c", &p, &mut out);
        assert_eq!(reasons(&out), ["alert State"]);
        let TailEvent::Alert(a) = &out[0] else {
            unreachable!()
        };
        assert!(a.message.contains("a FIFO (named pipe)"), "{}", a.message);
    }
}
