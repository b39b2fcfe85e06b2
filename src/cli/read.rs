//! Reading verbs: `timeline`, `catchup`, `verify`.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use clap::Args;

use super::channel::ChannelArg;
use super::output::{self, EntriesOutput, Output, ReportOutput};
use super::{EXIT_FOUND, EXIT_USAGE, Failure};
use crate::channel::{Author, Kind, Store, Timestamp};
use crate::timeline::render::{Format, Renderer, render_entry};
use crate::timeline::{Filter, Merge, Since};

#[derive(Debug, Args)]
pub struct TimelineArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Start after this entry (author#seq), at this time (RFC 3339), or this long ago (5m, 2h,
    /// 1d).
    #[arg(long, value_name = "ID|TIME|DURATION")]
    pub since: Option<String>,
    /// Only these authors; repeatable.
    #[arg(long = "author", value_name = "ROLE")]
    pub authors: Vec<String>,
    /// Only these kinds; repeatable.
    #[arg(long = "kind", value_name = "KIND")]
    pub kinds: Vec<String>,
    /// Only the last N entries (after the other filters); with --follow, the last N, then new
    /// ones.
    #[arg(long, value_name = "N")]
    pub tail: Option<usize>,
    #[command(flatten)]
    pub output: EntriesOutput,
    /// Keep running and print new entries as they are appended (Ctrl-C or SIGTERM stops, exit 0).
    #[arg(short = 'f', long)]
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
    #[command(flatten)]
    pub output: EntriesOutput,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    #[command(flatten)]
    pub output: ReportOutput,
}

/// Parses `--since`: an entry id, an RFC 3339 time, or a duration before now.
pub(super) fn parse_since(s: &str) -> anyhow::Result<Since> {
    if let Ok(since) = Since::parse(s) {
        return Ok(since);
    }
    if !s.contains('#')
        && let Ok(ago) = humantime::parse_duration(s)
    {
        let ago = chrono::Duration::from_std(ago).unwrap_or(chrono::Duration::MAX);
        let at = chrono::Utc::now()
            .checked_sub_signed(ago)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        return Ok(Since::Time(Timestamp::from_datetime(at)));
    }
    let message = match Since::parse(s) {
        Err(m) if s.contains('#') => m,
        _ => format!(
            "--since {s:?} is not an entry id (pipeline#3), an RFC 3339 time (2026-05-04T17:15:04Z) or a duration (5m, 2h, 1d)"
        ),
    };
    Err(Failure {
        code: EXIT_USAGE,
        message,
    }
    .into())
}

fn build_filter(args: &TimelineArgs) -> anyhow::Result<Filter> {
    let mut filter = Filter::default();
    if let Some(s) = &args.since {
        filter.since = Some(parse_since(s)?);
    }
    for a in &args.authors {
        filter.authors.insert(Author::new(a)?);
    }
    for k in &args.kinds {
        filter.kinds.insert(k.parse::<Kind>()?);
    }
    Ok(filter)
}

/// Streams the merged, rendered entries to stdout (only the last `tail` when given); returns
/// per-author highest seq written.
fn render(
    channel: &crate::channel::Channel,
    filter: Filter,
    format: Format,
    tail: Option<usize>,
) -> anyhow::Result<BTreeMap<String, u64>> {
    let stdout = std::io::stdout().lock();
    let color = super::color::stdout();
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
    let mut note = |author: &Author, seq: u64| match seen.get_mut(author.as_str()) {
        Some(s) => *s = seq.max(*s),
        None => {
            seen.insert(author.to_string(), seq);
        }
    };
    r.begin()?;
    match tail {
        None => {
            while let Some((ts, author, seq, bytes)) = merge.next_entry()? {
                r.rendered(ts, &bytes)?;
                note(&author, seq);
            }
        }
        Some(n) => {
            let mut last = VecDeque::with_capacity(n.min(4096));
            while let Some(item) = merge.next_entry()? {
                if last.len() == n {
                    last.pop_front();
                }
                if n > 0 {
                    last.push_back(item);
                }
            }
            for (ts, author, seq, bytes) in last {
                r.rendered(ts, &bytes)?;
                note(&author, seq);
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
    let format = args.output.output.entries();
    match (&args.remote, args.follow) {
        (Some(url), _) => return super::follow::remote(url, ch, filter, format, args.tail),
        (None, true) => return super::follow::local(root, ch, filter, format, args.tail),
        (None, false) => {}
    }
    let store = Store::open(root)?;
    let channel = args.channel.resolve(&store)?.channel;
    render(&channel, filter, format, args.tail)?;
    Ok(0)
}

pub fn catchup(root: &Path, args: CatchupArgs) -> anyhow::Result<u8> {
    let reader = Author::new(&args.role)?;
    let store = Store::open(root)?;
    let channel = args.channel.resolve(&store)?.channel;
    let roster = channel.roster()?;
    if !roster.contains(&reader) {
        let e = crate::channel::Error::NotOnRoster {
            author: reader.to_string(),
            channel: channel.name().to_string(),
            roster: roster.names(),
        };
        return Err(super::target::explain(&channel, e));
    }
    let mut cursor = channel.cursor(&reader)?;
    let mut filter = Filter::default();
    filter.exclude.insert(reader.clone());
    for (a, seq) in &cursor {
        if let Ok(a) = Author::new(a) {
            filter.after.insert(a, *seq);
        }
    }
    let seen = render(&channel, filter, args.output.output.entries(), None)?;
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
    let channel = args.channel.resolve(&store)?.channel;
    let report = crate::channel::verify::verify(&channel)?;
    let mut out = std::io::stdout().lock();
    match args.output.output {
        Output::Json => output::json(&mut out, &report)?,
        Output::Ndjson => output::ndjson(&mut out, std::slice::from_ref(&report))?,
        Output::Yaml => output::yaml(&mut out, &report)?,
        Output::Text | Output::Wide | Output::Md => {
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
