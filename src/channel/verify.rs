//! `verify`: reads every author file of a channel and checks each entry's checksum, the hash
//! chain, seq and ts order, and that every stretch of non-entry bytes was closed off by a
//! repair marker. It only reads.

use std::collections::BTreeMap;
use std::fmt;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::Error;
use super::entry::EntryId;
use super::heads::{self, End, Refs};
use super::names::Author;
use super::open::{Mode, open as open_author};
use super::repair::{self, Verdict};
use super::scan::{Break, Chain, Pos, Record, Scanner};
use super::seal::read_record;
use super::store::Channel;

/// One problem (or note) at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: PathBuf,
    /// 1-based; 0 when the finding is about the file as a whole.
    pub line: u64,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0: about the file as a whole.
        match self.line {
            0 => write!(f, "{}: {}", self.path.display(), self.message),
            line => write!(f, "{}:{line}: {}", self.path.display(), self.message),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Problems: any of these makes `verify` exit 1.
    pub findings: Vec<Finding>,
    /// Things worth knowing that lost nothing (repaired tears, files off the roster).
    pub notes: Vec<Finding>,
    pub files: usize,
    pub entries: u64,
}

impl Report {
    pub fn intact(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Verifies every author file of `channel`, then what the files' ends are checked against:
/// the heads in the seal (when sealed), refs between entries and catchup cursors.
pub fn verify(channel: &Channel) -> Result<Report, Error> {
    let mut report = Report::default();
    let roster = channel.roster()?;
    let mut ends = BTreeMap::new();
    let mut refs = Refs::default();
    for (author, path) in channel.author_files()? {
        if !roster.contains(&author) {
            report.notes.push(Finding {
                path: path.clone(),
                line: 1,
                message: format!("{author} is not on the roster ({})", roster.names()),
            });
        }
        if let Some(end) = verify_file(&author, &path, &mut report, &mut refs)? {
            ends.insert(author, end);
        }
        report.files += 1;
    }
    for (path, what) in channel.irregular_files()? {
        report.findings.push(Finding {
            path,
            line: 0,
            message: format!(
                "{what}, not a regular file: it was not read (an author file must be a regular file, not a link); move it out of the channel"
            ),
        });
    }
    refs.check(&ends, &mut report);
    heads::check_cursors(channel, &ends, &mut report)?;
    check_sealed_heads(channel, &ends, &mut report)?;
    Ok(report)
}

/// Checks the files' ends against the heads recorded when the channel was sealed: in the seal
/// marker, and in the archive index (which outlives a removed or rewritten marker).
fn check_sealed_heads(
    channel: &Channel,
    ends: &BTreeMap<Author, End>,
    report: &mut Report,
) -> Result<(), Error> {
    let seal_source = heads::Source::seal(channel);
    let index = match heads::index_heads(channel)? {
        Some((path, Ok(h))) => Some((
            heads::Source {
                name: "the archive index",
                path,
            },
            h,
        )),
        Some((path, Err(why))) => {
            report.findings.push(Finding {
                path,
                line: 0,
                message: format!(
                    "the line that records channel {}'s heads is damaged ({why}): the index was edited after archiving. Restore it from git",
                    channel.name()
                ),
            });
            None
        }
        None => None,
    };
    let seal = read_record(channel)?;
    let seal_heads = seal.as_ref().map(|s| &s.heads).filter(|h| !h.is_empty());
    if let Some(h) = seal_heads {
        heads::check_heads(channel, &seal_source, h, ends, report);
    }
    let Some((source, recorded)) = index else {
        if seal.is_some() && seal_heads.is_none() {
            report.notes.push(Finding {
                path: seal_source.path,
                line: 0,
                message: "sealed by a version that did not record each author's last entry: entries cut off the end of a file, or a file deleted, after sealing cannot be detected".into(),
            });
        }
        return Ok(());
    };
    let show = |h: &heads::Heads| {
        h.iter()
            .map(|(a, h)| format!("{a}#{}", h.seq))
            .collect::<Vec<_>>()
            .join(" ")
    };
    match (&seal, seal_heads) {
        (None, _) => report.findings.push(Finding {
            path: seal_source.path.clone(),
            line: 0,
            message: format!(
                "missing: {} ({}) records channel {} as sealed, with heads {}, but the seal marker is gone: it was removed after archiving, and the channel takes posts again. Restore it from git",
                source.name,
                source.path.display(),
                channel.name(),
                show(&recorded)
            ),
        }),
        (Some(_), Some(h)) if *h != recorded => report.findings.push(Finding {
            path: seal_source.path.clone(),
            line: 0,
            message: format!(
                "records heads {}, but {} ({}) records {}: one of them was rewritten after archiving. Restore both from git",
                show(h),
                source.name,
                source.path.display(),
                show(&recorded)
            ),
        }),
        // Agreeing with the seal, the index adds nothing: its findings would repeat the seal's.
        (Some(_), Some(_)) => return Ok(()),
        (Some(_), None) => {}
    }
    heads::check_heads(channel, &source, &recorded, ends, report);
    Ok(())
}

fn missing(path: &Path, report: &mut Report, why: &str) -> Result<Option<End>, Error> {
    report.findings.push(Finding {
        path: path.to_owned(),
        line: 0,
        message: format!("not read: {why}"),
    });
    Ok(None)
}

/// Verifies one author file, adding to `report` and noting its refs in `refs`. Returns where
/// its chain ends (`None` when it was not read).
pub fn verify_file(
    author: &Author,
    path: &PathBuf,
    report: &mut Report,
    refs: &mut Refs,
) -> Result<Option<End>, Error> {
    let file = match open_author(path, Mode::Read) {
        Ok(Some(file)) => file,
        // Gone since the listing, or swapped for something else: the channel is being changed
        // under us, which is worth a finding rather than an abort.
        Ok(None) => return missing(path, report, "it was removed while verify ran"),
        Err(e @ Error::NotRegular { .. }) => return missing(path, report, &e.to_string()),
        Err(e) => return Err(e),
    };
    // A shared lock waits out a writer in the middle of its one write, so a write in progress
    // is never reported as a tear.
    file.lock_shared().map_err(Error::io("cannot lock", path))?;
    let mut chain = Chain::default();
    let mut pending: Vec<(Pos, &'static str)> = Vec::new();
    let at = |line: u64, message: String| Finding {
        path: path.clone(),
        line,
        message,
    };
    // A marker without torn-sum that ends the file: see below.
    let mut unsummed_last: Option<Pos> = None;
    for rec in Scanner::new(BufReader::new(&file), 0, 1) {
        let rec = rec.map_err(Error::io("cannot read", path))?;
        unsummed_last = None;
        match rec {
            Record::Garbage { pos, why } => pending.push((pos, why)),
            Record::Repair { pos, torn, .. } => {
                let closed = pending
                    .first()
                    .map(|(g, _)| (g.offset, pos.offset - g.offset));
                let verdict = repair::check(&file, torn, closed, pos.offset)
                    .map_err(Error::io("cannot read", path))?;
                let summed = match verdict {
                    Verdict::Unsound(why) => {
                        report.findings.push(at(pos.line, why));
                        pending.clear();
                        continue;
                    }
                    Verdict::Sound => true,
                    Verdict::Unsummed => false,
                };
                unsummed_last = (!summed).then_some(pos);
                for (g, why) in pending.drain(..) {
                    report.notes.push(at(
                        g.line,
                        format!(
                            "{} torn bytes ({why}) closed off by the repair marker at line {}{}; no entry was lost",
                            g.len,
                            pos.line,
                            if summed { "" } else { " (an older marker, without torn-sum)" }
                        ),
                    ));
                }
                continue;
            }
            Record::Tail { pos } => report.findings.push(at(
                pos.line,
                format!(
                    "torn tail: the last {} bytes (from byte offset {}) are not a complete entry (a writer killed mid-write, or zeros left by a power loss); the next post closes it off with a repair marker",
                    pos.len, pos.offset
                ),
            )),
            Record::Entry(e) => {
                for (g, why) in pending.drain(..) {
                    report.findings.push(at(
                        g.line,
                        format!(
                            "{} bytes from byte offset {} that are not an entry ({why}) and were not closed off by a repair marker: history was edited here",
                            g.len, g.offset
                        ),
                    ));
                }
                let id = format!("{}#{}", e.author, e.seq);
                for r in &e.refs {
                    let by = EntryId {
                        author: e.author.clone(),
                        seq: e.seq,
                    };
                    refs.saw(r, by, path, e.pos.line);
                }
                let before = chain.last_seq;
                for b in chain.check(author, &e) {
                    let message = match b {
                        Break::Checksum => format!(
                            "entry {id} does not match its checksum: its bytes were changed after it was written"
                        ),
                        Break::Chain { expected, found } => format!(
                            "entry {id} is not chained to the entry before it (prev={found}, expected {expected}): an entry was deleted, inserted or moved"
                        ),
                        Break::Seq { expected, found } => format!(
                            "entry {id} has seq {found} after seq {before}, expected {expected}: an entry is missing or out of order"
                        ),
                        Break::TimeBackwards { previous } => format!(
                            "entry {id} has ts {} earlier than {previous} before it",
                            e.ts
                        ),
                        Break::WrongAuthor => format!(
                            "entry {id} is in {author}'s file but written by {}",
                            e.author
                        ),
                    };
                    report.findings.push(at(e.pos.line, message));
                }
                report.entries += 1;
            }
        }
    }
    if let Some(pos) = unsummed_last {
        // Every writer writes its marker and its entry in one write: a marker that ends the
        // file, and whose bytes cannot be checked, is how a hidden last entry looks.
        report.findings.push(at(
            pos.line,
            "the file ends with a repair marker without torn-sum and no entry after it: warroom writes one only together with its entry, so it may hide the entry before it; the next post is refused until the file is restored from git".into(),
        ));
    }
    for (g, why) in pending {
        report.findings.push(at(
            g.line,
            format!(
                "{} bytes from byte offset {} that are not an entry ({why}) at the end of the file",
                g.len, g.offset
            ),
        ));
    }
    Ok(Some(End {
        seq: chain.last_seq,
        sum: chain.last_sum,
    }))
}
