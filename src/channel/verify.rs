//! `verify`: reads every author file of a channel and checks each entry's checksum, the hash
//! chain, seq and ts order, and that every stretch of non-entry bytes was closed off by a
//! repair marker. It only reads.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use serde::Serialize;

use super::Error;
use super::names::Author;
use super::scan::{Break, Chain, Pos, Record, Scanner};
use super::store::Channel;

/// One problem (or note) at a place in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub path: PathBuf,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.path.display(), self.line, self.message)
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

/// Verifies every author file of `channel`.
pub fn verify(channel: &Channel) -> Result<Report, Error> {
    let mut report = Report::default();
    let roster = channel.roster()?;
    for (author, path) in channel.author_files()? {
        if !roster.contains(&author) {
            report.notes.push(Finding {
                path: path.clone(),
                line: 1,
                message: format!("{author} is not on the roster ({})", roster.names()),
            });
        }
        verify_file(&author, &path, &mut report)?;
        report.files += 1;
    }
    Ok(report)
}

/// Verifies one author file, adding to `report`.
pub fn verify_file(author: &Author, path: &PathBuf, report: &mut Report) -> Result<(), Error> {
    let file = File::open(path).map_err(Error::io("cannot open", path))?;
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
    for rec in Scanner::new(BufReader::new(&file), 0, 1) {
        match rec.map_err(Error::io("cannot read", path))? {
            Record::Garbage { pos, why } => pending.push((pos, why)),
            Record::Repair { pos, .. } => {
                for (g, why) in pending.drain(..) {
                    report.notes.push(at(
                        g.line,
                        format!(
                            "{} torn bytes ({why}) closed off by the repair marker at line {}; no entry was lost",
                            g.len, pos.line
                        ),
                    ));
                }
            }
            Record::Tail { pos } => report.findings.push(at(
                pos.line,
                format!(
                    "torn tail: the last {} bytes are not a complete entry (a writer was killed mid-write); the next post closes it off with a repair marker",
                    pos.len
                ),
            )),
            Record::Entry(e) => {
                for (g, why) in pending.drain(..) {
                    report.findings.push(at(
                        g.line,
                        format!(
                            "{} bytes that are not an entry ({why}) and were not closed off by a repair marker: history was edited here",
                            g.len
                        ),
                    ));
                }
                let id = format!("{}#{}", e.author, e.seq);
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
    for (g, why) in pending {
        report.findings.push(at(
            g.line,
            format!(
                "{} bytes that are not an entry ({why}) at the end of the file",
                g.len
            ),
        ));
    }
    Ok(())
}
