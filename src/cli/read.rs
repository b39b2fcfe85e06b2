//! Reading verbs: `timeline`, `catchup`, `verify`.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::Path;

use clap::Args;

use super::channel::ChannelArg;
use super::{EXIT_FOUND, EXIT_USAGE, Failure};
use crate::channel::{Author, Kind, Store};
use crate::timeline::render::{Format, Renderer, render_entry};
use crate::timeline::{Filter, Merge, Since};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Start after this entry (author#seq) or at this time (RFC 3339).
    #[arg(long, value_name = "ID|TIME")]
    pub since: Option<String>,
    /// Only these authors; repeatable.
    #[arg(long = "author", value_name = "ROLE")]
    pub authors: Vec<String>,
    /// Only these kinds; repeatable.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Keep running and print new entries as they are appended (Ctrl-C stops).
    #[arg(long)]
    pub follow: bool,
    /// With --follow: read from a relay (`warroom serve` URL) instead of local files.
    #[arg(long, value_name = "URL", requires = "follow")]
    pub remote: Option<String>,
}

#[derive(Debug, Args)]
pub struct CatchupArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// The reader: shows what everyone else wrote since ROLE last caught up.
    #[arg(long = "as", value_name = "ROLE")]
    pub role: String,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Colour only for a terminal, and never with NO_COLOR set.
fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn build_filter(args: &TimelineArgs) -> anyhow::Result<Filter> {
    let mut filter = Filter::default();
    if let Some(s) = &args.since {
        filter.since = Some(Since::parse(s).map_err(|message| Failure {
            code: EXIT_USAGE,
            message,
        })?);
    }
    for a in &args.authors {
        filter.authors.insert(Author::new(a)?);
    }
    for k in &args.kinds {
        filter.kinds.insert(k.parse::<Kind>()?);
    }
    Ok(filter)
}

/// Streams the merged, rendered entries to stdout; returns per-author highest seq written.
fn render(
    channel: &crate::channel::Channel,
    filter: Filter,
    format: Format,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let stdout = std::io::stdout().lock();
    let color = use_color();
    let mut r = Renderer::new(
        std::io::BufWriter::with_capacity(256 * 1024, stdout),
        format,
        color,
    );
    // Reader threads render; this thread merges and writes.
    let mut merge = Merge::open_map(channel, filter, warn, move |e| {
        let mut bytes = Vec::with_capacity(256 + e.body.len());
        render_entry(format, color, &e, &mut bytes);
        (e.ts, e.author, e.seq, bytes)
    })?;
    let mut seen = BTreeMap::new();
    r.begin()?;
    while let Some((ts, author, seq, bytes)) = merge.next_entry()? {
        r.rendered(ts, &bytes)?;
        match seen.get_mut(author.as_str()) {
            Some(s) => *s = seq.max(*s),
            None => {
                seen.insert(author.to_string(), seq);
            }
        }
    }
    r.finish()?;
    Ok(seen)
}

fn warn(p: crate::timeline::Problem) {
    eprintln!("warning: {p}");
}

pub fn timeline(root: &Path, args: TimelineArgs) -> anyhow::Result<u8> {
    let filter = build_filter(&args)?;
    let ch = args.channel.channel.as_deref();
    match (&args.remote, args.follow) {
        (Some(url), _) => return super::follow::remote(url, ch, filter, args.format),
        (None, true) => return super::follow::local(root, ch, filter, args.format),
        (None, false) => {}
    }
    let store = Store::open(root)?;
    let channel = store.channel(ch)?;
    render(&channel, filter, args.format)?;
    Ok(0)
}

pub fn catchup(root: &Path, args: CatchupArgs) -> anyhow::Result<u8> {
    let reader = Author::new(&args.role)?;
    let store = Store::open(root)?;
    let channel = store.channel(args.channel.channel.as_deref())?;
    let roster = channel.roster()?;
    if !roster.contains(&reader) {
        return Err(crate::channel::Error::NotOnRoster {
            author: reader.to_string(),
            channel: channel.name().to_string(),
            roster: roster.names(),
        }
        .into());
    }
    let mut cursor = channel.cursor(&reader)?;
    let mut filter = Filter::default();
    filter.exclude.insert(reader.clone());
    for (a, seq) in &cursor {
        if let Ok(a) = Author::new(a) {
            filter.after.insert(a, *seq);
        }
    }
    let seen = render(&channel, filter, args.format)?;
    if seen.is_empty() {
        eprintln!("nothing new for {reader} in {}", channel.name());
    } else {
        let n: usize = seen.len();
        for (a, s) in seen {
            cursor.insert(a, s);
        }
        channel.set_cursor(&reader, &cursor)?;
        eprintln!("{reader} caught up on {n} author(s) in {}", channel.name());
    }
    Ok(0)
}

pub fn verify(root: &Path, args: VerifyArgs) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let channel = store.channel(args.channel.channel.as_deref())?;
    let report = crate::channel::verify::verify(&channel)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json | Format::Ndjson => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text | Format::Md => {
            for f in &report.findings {
                writeln!(out, "{f}")?;
            }
            for n in &report.notes {
                writeln!(out, "note: {n}")?;
            }
        }
    }
    eprintln!(
        "{}: {} entries in {} files, {} finding(s), {} note(s)",
        channel.name(),
        report.entries,
        report.files,
        report.findings.len(),
        report.notes.len()
    );
    Ok(if report.intact() { 0 } else { EXIT_FOUND })
}
