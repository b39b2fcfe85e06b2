//! Reading verbs: `timeline`, `catchup`, `verify`.

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;

use clap::Args;

use super::channel::ChannelArg;
use super::output::{self, EntriesOutput, Output, ReportOutput};
use super::{EXIT_FOUND, EXIT_USAGE, Failure};
use crate::catchup::Pending;
use crate::channel::{Author, Entry, Kind, Store, Timestamp};
use crate::query::Grep;
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
    /// Only entries whose body matches this regular expression (Rust regex syntax, e.g.
    /// 'rollout .* (degraded|aborted)').
    #[arg(long, value_name = "PATTERN")]
    pub grep: Option<String>,
    /// With --grep: match letters in either case.
    #[arg(short = 'i', long, requires = "grep")]
    pub ignore_case: bool,
    /// Only entries addressed to this role (`post --to`); repeatable (any of them).
    #[arg(long = "to", value_name = "ROLE")]
    pub to: Vec<String>,
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
    /// The reader: shows what everyone else wrote since ROLE last caught up, entries
    /// addressed to ROLE first.
    #[arg(long = "as", value_name = "ROLE", env = "WARROOM_ROLE")]
    pub role: String,
    /// Only say how much is new (`3 new (1 alert) in CH`, nothing when nothing is), without
    /// moving ROLE's cursor: for shell prompts and agent hooks.
    #[arg(long)]
    pub count: bool,
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
pub(crate) fn parse_since(s: &str) -> anyhow::Result<Since> {
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
    for r in &args.to {
        filter.to.insert(Author::new(r)?);
    }
    if let Some(pattern) = &args.grep {
        filter.grep = Some(Grep::new(pattern, args.ignore_case).map_err(|e| Failure {
            code: EXIT_USAGE,
            message: format!("--grep {e}; nothing was read"),
        })?);
    }
    Ok(filter)
}

/// The `--author` and `--to` roles that the channel has never heard of (not on its roster,
/// no file of theirs): one sentence per role, with a guess when one is close.
pub(super) fn unknown_roles(
    channel: &crate::channel::Channel,
    filter: &Filter,
) -> anyhow::Result<Vec<String>> {
    let known = known_roles(channel)?;
    let name = channel.name().to_string();
    let mut out = Vec::new();
    for (flag, roles) in [("--author", &filter.authors), ("--to", &filter.to)] {
        for (role, why) in
            super::suggest::unknown_roles(roles.iter().map(Author::as_str), &known, &name)
        {
            out.push(format!("{flag} {role}: {why}"));
        }
    }
    Ok(out)
}

/// The roles a channel knows: its roster, then any author file beside it.
pub(crate) fn known_roles(
    channel: &crate::channel::Channel,
) -> Result<Vec<String>, crate::channel::Error> {
    let mut known: Vec<String> = channel
        .roster()?
        .roles
        .iter()
        .map(|r| r.name.to_string())
        .collect();
    for (author, _) in channel.author_files()? {
        if !known.contains(&author.to_string()) {
            known.push(author.to_string());
        }
    }
    Ok(known)
}

/// Reader threads render each entry of a merge (its time and bytes); this thread merges and
/// writes.
fn rendered(
    channel: &crate::channel::Channel,
    filter: Filter,
    format: Format,
    color: bool,
) -> anyhow::Result<Merge<'static, (Timestamp, Vec<u8>)>> {
    Ok(Merge::open_map(channel, filter, warn, move |e| {
        let mut bytes = Vec::with_capacity(256 + e.body.len());
        render_entry(format, color, &e, &mut bytes);
        (e.ts, bytes)
    })?)
}

/// Streams the merged, rendered entries to stdout (only the last `tail` when given).
fn render(
    channel: &crate::channel::Channel,
    filter: Filter,
    format: Format,
    tail: Option<usize>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout().lock();
    let color = super::color::stdout();
    let mut r = Renderer::new(
        std::io::BufWriter::with_capacity(256 * 1024, stdout),
        format,
        color,
    );
    let mut merge = rendered(channel, filter, format, color)?;
    r.begin()?;
    match tail {
        None => {
            while let Some((ts, bytes)) = merge.next_entry()? {
                r.rendered(ts, &bytes)?;
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
            for (ts, bytes) in last {
                r.rendered(ts, &bytes)?;
            }
        }
    }
    r.finish()?;
    Ok(())
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
    let unknown = unknown_roles(&channel, &filter)?;
    if !unknown.is_empty() {
        return Err(Failure {
            code: EXIT_USAGE,
            message: format!("{}; nothing was read", unknown.join("; ")),
        }
        .into());
    }
    render(&channel, filter, format, args.tail)?;
    Ok(0)
}

pub fn catchup(root: &Path, args: CatchupArgs) -> anyhow::Result<u8> {
    let reader = Author::new(&args.role)?;
    let store = Store::open(root)?;
    let channel = args.channel.resolve(&store)?.channel;
    let explain = |e| super::target::explain(&channel, e);
    let output = args.output.output;
    if args.count {
        let count = crate::catchup::count(&channel, &reader).map_err(explain)?;
        let mut out = std::io::stdout().lock();
        match output {
            Output::Json => output::json(&mut out, &count)?,
            Output::Ndjson => output::ndjson(&mut out, std::slice::from_ref(&count))?,
            Output::Yaml => output::yaml(&mut out, &count)?,
            Output::Text | Output::Wide | Output::Md if count.new > 0 => writeln!(out, "{count}")?,
            Output::Text | Output::Wide | Output::Md => {}
        }
        return Ok(0);
    }
    let pending = Pending::open(&channel, &reader).map_err(explain)?;
    let format = output.entries();
    let color = super::color::stdout();
    let mut r = Renderer::new(
        std::io::BufWriter::with_capacity(256 * 1024, std::io::stdout().lock()),
        format,
        color,
    );
    r.begin()?;
    let mut addressed = 0;
    let mut others = 0;
    if !pending.is_empty() {
        // Few by nature: read them all before saying how many.
        let first: Vec<Entry> =
            Merge::open(&channel, pending.addressed(), warn)?.collect::<Result<_, _>>()?;
        if !first.is_empty() {
            addressed = first.len();
            eprintln!(
                "{addressed} {} addressed to {reader}, shown first",
                if addressed == 1 { "entry" } else { "entries" }
            );
            for e in &first {
                r.entry(e)?;
            }
        }
        let mut rest = rendered(&channel, pending.others(), format, color)?;
        while let Some((ts, bytes)) = rest.next_entry()? {
            if others == 0 && addressed > 0 {
                // Said between the two parts, in order with the entries on a terminal.
                r.flush()?;
                eprintln!("then the others' entries:");
            }
            r.rendered(ts, &bytes)?;
            others += 1;
        }
    }
    r.finish()?;
    drop(r);
    let name = channel.name();
    if addressed + others == 0 {
        eprintln!("nothing new for {reader} in {name}");
    } else {
        pending.mark_read()?;
        let to_you = if addressed > 0 {
            format!(" ({addressed} addressed to {reader})")
        } else {
            String::new()
        };
        eprintln!(
            "{reader} caught up on {} {}{to_you} in {name}",
            addressed + others,
            if addressed + others == 1 {
                "entry"
            } else {
                "entries"
            }
        );
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
