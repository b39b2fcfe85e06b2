//! `archive`: seal a channel and write (and with `--commit`, commit) its record.

use std::path::Path;

use clap::Args;

use super::Failure;
use super::channel::ChannelArg;
use crate::archive::{self, Options};
use crate::channel::Store;

#[derive(Debug, Args)]
pub struct ArchiveArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Commit with git, in one commit: the channel's directory, the store's index (its
    /// README.md) and its .gitignore (which keeps locks, cursors and tokens out) — nothing else.
    #[arg(long)]
    pub commit: bool,
    /// Archive even when `warroom verify` finds problems; the findings are recorded in the
    /// channel's README.md and the store's index.
    #[arg(long)]
    pub force: bool,
    /// Why the channel is sealed; the seal entry and the index's summary say it.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub fn archive(root: &Path, args: ArchiveArgs) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let target = args.channel.resolve(&store)?;
    target.announce();
    let channel = target.channel;
    let already = channel.seal()?;
    if let (Some(seal), Some(_)) = (&already, &args.reason) {
        eprintln!(
            "warning: {} was sealed at {} by {}; --reason is ignored (the seal entry stays as it is)",
            channel.name(),
            seal.at,
            seal.by
        );
    }
    let opts = Options {
        force: args.force,
        commit: args.commit,
        reason: args.reason,
        user: std::env::var("USER").ok().filter(|u| !u.is_empty()),
    };
    let outcome = archive::archive(&store, &channel, &opts).map_err(|e| {
        let code = e.exit_code();
        match e {
            archive::Error::Channel(inner) => anyhow::Error::new(inner),
            other => Failure {
                code,
                message: format!("{:#}", anyhow::Error::new(other)),
            }
            .into(),
        }
    })?;

    let report = &outcome.record.report;
    if report.intact() {
        eprintln!(
            "verified {}: {} entries in {} files, intact",
            outcome.channel, report.entries, report.files
        );
    } else {
        eprintln!(
            "archived {} with --force despite {} finding(s), recorded in its README.md and the index:",
            outcome.channel,
            report.findings.len()
        );
        for f in &report.findings {
            eprintln!("  {f}");
        }
    }
    match &outcome.sealed {
        Some(s) => {
            eprintln!(
                "sealed {} with {} at {}; posts are refused from now on",
                outcome.channel, s.entry.id, s.entry.ts
            );
            for late in &s.late {
                eprintln!("warning: {late}");
            }
        }
        None => eprintln!(
            "{} was sealed already; re-rendered its pages",
            outcome.channel
        ),
    }
    for path in &outcome.written {
        eprintln!("wrote {}", path.display());
    }
    match (&outcome.commit, args.commit) {
        (Some(c), _) => eprintln!("committed {} {}", c.id, c.subject),
        (None, true) => eprintln!("nothing to commit: the record is committed already"),
        (None, false) => eprintln!(
            "commit the record with `warroom archive --channel {} --commit`",
            outcome.channel
        ),
    }
    println!("{}", outcome.channel);
    Ok(0)
}
