//! Sealing a channel: the seal is an operator entry (who, when, why) followed by the
//! `.warroom/sealed.json` marker that every writer checks under its file lock. The marker also
//! records each author's last entry (its heads, [`super::heads`]), read under the locks, so
//! `verify` can tell entries cut off after sealing.
//!
//! Race-free against other writers: the sealer holds the roster lock (no role is added while
//! it seals) and the exclusive lock of every other author file while it posts the seal entry
//! and writes the marker, so no entry of another author lands after the seal. The operator's
//! own file is locked by the operator's writer itself (a second `flock` from this process
//! would deadlock), so a concurrent operator post can still land between the seal entry and
//! the marker; [`Sealed::late`] reports it rather than hiding it.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::Error;
use super::append::read_tail;
use super::entry::{Draft, Entry, Timestamp};
use super::heads::{self, Heads};
use super::names::Author;
use super::open::{Mode, open as open_author};
use super::store::{Channel, PostOptions, Seal, write_atomic};

/// The seal marker as the sealer writes it: the store's [`Seal`] plus why it was sealed.
/// Readers that only know [`Seal`] ignore the extra field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealRecord {
    #[serde(flatten)]
    pub seal: Seal,
    /// The operator's reason, as given to `warroom archive --reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Each author's last entry when the channel was sealed (the seal entry included), so
    /// `verify` can tell entries cut off the end of a file, or a file deleted, after sealing.
    /// Empty in seals written before heads were recorded.
    #[serde(default, skip_serializing_if = "Heads::is_empty")]
    pub heads: Heads,
}

/// What [`seal`] did.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub record: SealRecord,
    /// The seal entry (an operator entry).
    pub entry: Entry,
    /// Author files that appeared while sealing (a role's first post racing the seal), and
    /// operator entries that landed after the seal entry: their entries were written before
    /// the marker, so they are part of the record, but they follow the seal in the timeline.
    pub late: Vec<String>,
}

/// The seal marker with its reason, if the channel is sealed.
pub fn read_record(channel: &Channel) -> Result<Option<SealRecord>, Error> {
    super::store::read_marker(&marker_path(channel))
}

fn marker_path(channel: &Channel) -> PathBuf {
    channel.dir().join(".warroom").join("sealed.json")
}

/// Seals `channel`: posts `draft` as the operator, then writes the marker naming that entry.
/// Fails with [`Error::Sealed`] when the channel is sealed already.
pub fn seal(channel: &Channel, draft: &Draft, reason: Option<String>) -> Result<Sealed, Error> {
    let operator = Author::operator();
    let state = channel.dir().join(".warroom");
    let roster_lock = state.join("roster.lock");
    let roster_file = lock_file(&roster_lock)?;
    let files = channel.author_files()?;
    // Held until the end of this function: dropping a File releases its flock.
    let mut held: Vec<File> = vec![roster_file];
    for (author, path) in &files {
        if *author != operator {
            let file = open_author(path, Mode::Append)?.expect("an existing author file");
            file.lock().map_err(Error::io("cannot lock", path))?;
            held.push(file);
        }
    }
    if let Some(seal) = channel.seal()? {
        return Err(Error::Sealed {
            channel: channel.name().to_string(),
            at: seal.at.to_string(),
            by: seal.by,
        });
    }
    channel.check_draft(&operator, draft, &PostOptions::default())?;
    wait_past_last_entry(&files, &held[1..])?;
    let mut record = None;
    // The marker is written, and every author file made read-only, while the operator file's
    // lock is still held: no post can land between the seal entry and the marker.
    let entry = channel
        .writer(&operator, true)?
        .append_then(draft, |entry| {
            let r = SealRecord {
                seal: Seal {
                    at: entry.ts,
                    by: operator.to_string(),
                    entry: Some(entry.id.to_string()),
                },
                reason,
                // Read under every author file's lock: nothing can land after these.
                heads: heads::current(channel)?,
            };
            let mut json = serde_json::to_vec_pretty(&r).expect("a seal record serializes");
            json.push(b'\n');
            write_atomic(&marker_path(channel), &json)?;
            for (_, path) in channel.author_files()? {
                make_read_only(&path)?;
            }
            record = Some(r);
            Ok(())
        })?
        .entry;
    let record = record.expect("the seal record is written with the entry");
    drop(held);

    let mut late = Vec::new();
    for (author, _) in channel.author_files()? {
        if author != operator && !files.iter().any(|(a, _)| *a == author) {
            late.push(format!(
                "{author}.md appeared while sealing: its entries follow the seal entry"
            ));
        }
    }
    let last = channel.last_seq(&operator)?;
    if last > entry.seq {
        late.push(format!(
            "operator#{}..operator#{last} landed between the seal entry and the seal marker",
            entry.seq + 1
        ));
    }
    Ok(Sealed {
        record,
        entry,
        late,
    })
}

/// Longest wait for the clock to pass the other authors' last entry (a file stamped in the
/// future by a skewed clock must not stall the seal).
const MAX_CLOCK_WAIT: Duration = Duration::from_secs(2);

/// Waits until the clock is past the last entry of every locked file, so the seal entry's ts
/// is strictly the latest and it sorts last in the timeline (ties on ts sort by author, and
/// `pipeline` sorts after `operator`).
fn wait_past_last_entry(files: &[(Author, PathBuf)], held: &[File]) -> Result<(), Error> {
    let others = files.iter().filter(|(a, _)| *a != Author::operator());
    let mut latest: Option<Timestamp> = None;
    for ((_, path), file) in others.zip(held) {
        let len = file
            .metadata()
            .map_err(Error::io("cannot stat", path))?
            .len();
        let tail = read_tail(file, len).map_err(Error::io("cannot read", path))?;
        latest = latest.max(tail.last_ts);
    }
    let Some(latest) = latest else {
        return Ok(());
    };
    let start = Instant::now();
    while Timestamp::now() <= latest && start.elapsed() < MAX_CLOCK_WAIT {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Clears the write bits of a sealed author file: writers see it in the fstat they make under
/// the lock anyway, so the seal costs a running writer nothing until it matters.
fn make_read_only(path: &PathBuf) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(Error::io("cannot stat", path))?;
    let mut perms = meta.permissions();
    perms.set_mode(perms.mode() & !0o222);
    std::fs::set_permissions(path, perms).map_err(Error::io("cannot make read-only", path))
}

/// Opens the lock file at `path` (creating it) and takes its exclusive lock. Author files are
/// opened by [`open_author`] instead, and never created here, so a role that never posted
/// leaves no empty file behind.
fn lock_file(path: &PathBuf) -> Result<File, Error> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(Error::io("cannot open", path))?;
    file.lock().map_err(Error::io("cannot lock", path))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::store::Role;
    use crate::channel::{Kind, Store, Theme};

    fn channel(dir: &std::path::Path) -> Channel {
        let store = Store::create(dir).unwrap();
        let roles = vec![Role {
            name: Author::new("pipeline").unwrap(),
            title: None,
            lane: None,
        }];
        store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("canary").unwrap(),
                roles,
            )
            .unwrap()
    }

    fn draft(kind: Kind, body: &str) -> Draft {
        Draft {
            kind,
            refs: vec![],
            body: body.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn seal_posts_an_operator_entry_then_refuses_posts() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        let pipeline = Author::new("pipeline").unwrap();
        // A long-lived writer (an observer) opened before the seal.
        let mut running = ch.writer(&pipeline, false).unwrap();
        running.append(&draft(Kind::Observation, "x")).unwrap();
        let sealed = seal(&ch, &draft(Kind::Note, "sealed"), Some("done".into())).unwrap();
        let err = running
            .append(&draft(Kind::Observation, "late"))
            .unwrap_err();
        assert!(matches!(err, Error::Sealed { .. }), "{err}");
        assert_eq!(sealed.entry.id.to_string(), "operator#1");
        assert!(sealed.late.is_empty());
        let rec = read_record(&ch).unwrap().unwrap();
        assert_eq!(rec.reason.as_deref(), Some("done"));
        assert_eq!(rec.seal.entry.as_deref(), Some("operator#1"));
        // The store's own reader still understands the extended marker.
        assert_eq!(ch.seal().unwrap().unwrap(), rec.seal);
        let err = ch
            .post(
                &pipeline,
                &draft(Kind::Observation, "y"),
                &PostOptions::default(),
            )
            .unwrap_err();
        assert!(matches!(err, Error::Sealed { .. }), "{err}");
        let again = seal(&ch, &draft(Kind::Note, "again"), None).unwrap_err();
        assert!(matches!(again, Error::Sealed { .. }), "{again}");
        assert_eq!(ch.last_seq(&Author::operator()).unwrap(), 1);
    }

    #[test]
    fn posts_racing_the_seal_land_before_it_or_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let ch = channel(tmp.path());
        ch.add_roles(
            ["traffic", "data-plane"]
                .into_iter()
                .map(|n| Role {
                    name: Author::new(n).unwrap(),
                    title: None,
                    lane: None,
                })
                .collect(),
        )
        .unwrap();
        let opts = PostOptions {
            sync: false,
            ..PostOptions::default()
        };
        // Every role has a file before the race: a first post racing the seal is the
        // documented `late` case, not this one.
        for n in ["pipeline", "traffic", "data-plane"] {
            ch.post(
                &Author::new(n).unwrap(),
                &draft(Kind::Observation, "hi"),
                &opts,
            )
            .unwrap();
        }
        let writers: Vec<_> = ["pipeline", "traffic", "data-plane"]
            .into_iter()
            .map(|n| {
                let ch = ch.clone();
                std::thread::spawn(move || {
                    let author = Author::new(n).unwrap();
                    loop {
                        match ch.post(&author, &draft(Kind::Observation, "tick"), &opts) {
                            Ok(_) => {}
                            Err(Error::Sealed { .. }) => return,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        // Let the writers get going (not a timing assertion: any interleaving must pass).
        while ch.last_seq(&Author::new("pipeline").unwrap()).unwrap() < 20 {
            std::thread::yield_now();
        }
        let sealed = seal(&ch, &draft(Kind::Note, "sealed"), None).unwrap();
        for w in writers {
            w.join().unwrap();
        }
        assert!(sealed.late.is_empty(), "{:?}", sealed.late);
        let merged: Vec<Entry> =
            crate::timeline::Merge::open(&ch, crate::timeline::Filter::default(), |p| {
                panic!("{p}")
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            merged.last().unwrap().id,
            sealed.entry.id,
            "the seal is last"
        );
        assert!(crate::channel::verify::verify(&ch).unwrap().intact());
    }
}
