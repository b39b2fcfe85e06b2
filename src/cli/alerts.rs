//! `warroom ack` (acknowledge alerts) and `warroom alerts` (which are open, acked, resolved;
//! which questions wait for an answer). Glue over [`crate::alerts`] and the store.

use std::io::Write;
use std::path::Path;

use clap::{Args, ValueEnum};

use super::channel::ChannelArg;
use super::output::{self, Output};
use crate::alerts::{self, AlertStatus, QuestionStatus, State};
use crate::channel::store::PostOptions;
use crate::channel::{Author, Draft, EntryId, Kind, Store};
use crate::palette;

#[derive(Debug, Args)]
pub struct AckArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Acknowledge as this role (must be on the roster).
    #[arg(
        long = "as",
        value_name = "ROLE",
        env = "WARROOM_ROLE",
        default_value = "operator"
    )]
    pub role: String,
    /// The alerts to acknowledge (author#seq); acking an alert covers its escalations.
    #[arg(value_name = "ID", required = true)]
    pub ids: Vec<String>,
    /// What you are doing about it ("looking", "expected: CI replaces it").
    #[arg(short = 'm', long = "message", value_name = "TEXT")]
    pub message: Option<String>,
}

/// Which alerts `warroom alerts` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    Open,
    Acked,
    Resolved,
    All,
}

#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Which alerts: open (neither acked nor resolved), acked, resolved or all.
    #[arg(long, value_enum, default_value_t = Which::Open)]
    pub state: Which,
    /// List the questions nobody has answered instead.
    #[arg(long)]
    pub questions: bool,
    /// Output format: text (a line per alert, then who acked it and what resolved it), json,
    /// ndjson (one alert per line) or yaml.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "format",
        value_name = "FORMAT",
        default_value = "text",
        value_parser = output::parser(&["text", "json", "ndjson", "yaml"]),
    )]
    pub format: Output,
}

/// Posts one `ack` entry that refs the alerts; prints its id.
pub fn ack(root: &Path, args: AckArgs) -> anyhow::Result<u8> {
    let author = Author::new(&args.role)?;
    let refs = args
        .ids
        .iter()
        .map(|r| EntryId::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let store = Store::open(root)?;
    let target = args.channel.resolve(&store)?;
    let channel = target.channel.clone();
    // The store refuses (nothing written) an off-roster role, a sealed channel, an unknown id
    // and an id that is not an alert.
    let draft = Draft {
        kind: Kind::Ack,
        refs,
        body: args
            .message
            .filter(|m| !m.trim().is_empty())
            .unwrap_or_else(|| alerts::DEFAULT_ACK_TEXT.to_owned()),
        ..Draft::default()
    };
    let posted = channel
        .post(&author, &draft, &PostOptions::default())
        .map_err(|e| super::target::explain(&channel, e))?;
    target.announce();
    println!("{}", posted.entry.id);
    eprintln!(
        "{} acknowledged {} in {}",
        author,
        args.ids.join(", "),
        channel.name()
    );
    Ok(0)
}

/// Lists alerts (or unanswered questions) with their state.
pub fn list(root: &Path, args: AlertsArgs) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let channel = args.channel.resolve(&store)?.channel;
    let book = alerts::load(&channel, |p| eprintln!("warning: {p}"))?;
    let mut out = std::io::stdout().lock();
    let color = super::color::stdout();
    if args.questions {
        let qs = book.unanswered();
        write_list(&mut out, args.format, &qs, |out, q| {
            question_text(out, q, color)
        })?;
        eprintln!("{} unanswered question(s) in {}", qs.len(), channel.name());
        return Ok(0);
    }
    let all = book.alerts();
    let wanted: Vec<AlertStatus> = all
        .iter()
        .filter(|a| match args.state {
            Which::All => true,
            Which::Open => a.state == State::Open,
            Which::Acked => a.state == State::Acked,
            Which::Resolved => a.state == State::Resolved,
        })
        .cloned()
        .collect();
    write_list(&mut out, args.format, &wanted, |out, a| {
        alert_text(out, a, color)
    })?;
    let count = |s: State| all.iter().filter(|a| a.state == s).count();
    eprintln!(
        "{} alert(s) in {}: {} open, {} acked, {} resolved",
        all.len(),
        channel.name(),
        count(State::Open),
        count(State::Acked),
        count(State::Resolved)
    );
    Ok(0)
}

fn write_list<T: serde::Serialize>(
    out: &mut impl Write,
    format: Output,
    items: &[T],
    text: impl Fn(&mut dyn Write, &T) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    match format {
        Output::Json => output::json(out, items)?,
        Output::Ndjson => output::ndjson(out, items)?,
        Output::Yaml => output::yaml(out, items)?,
        _ => {
            for i in items {
                text(out, i)?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn time(ts: &crate::channel::Timestamp) -> String {
    format!("{}Z", &ts.as_str()[11..19])
}

fn alert_text(out: &mut dyn Write, a: &AlertStatus, color: bool) -> std::io::Result<()> {
    let state = match a.state {
        State::Open => "OPEN",
        State::Acked => "acked",
        State::Resolved => "resolved",
    };
    let id = a.id.to_string();
    let (id, state) = if color {
        (
            palette::paint_author(a.author.as_str(), &id),
            match a.state {
                State::Open => format!("\x1b[1;31m{state:<8}\x1b[0m"),
                _ => format!("\x1b[2m{state:<8}\x1b[0m"),
            },
        )
    } else {
        (id.clone(), format!("{state:<8}"))
    };
    let pad = 14usize.saturating_sub(a.id.to_string().len());
    writeln!(
        out,
        "{id}{:pad$}  {state}  {}  {}",
        "",
        time(&a.ts),
        a.headline
    )?;
    let indent = " ".repeat(16);
    if let Some(up) = &a.escalates {
        writeln!(out, "{indent}escalates {up} (its thread: {})", a.thread)?;
    }
    for k in &a.acks {
        let text = if k.text.is_empty() {
            String::new()
        } else {
            format!(": {}", k.text)
        };
        writeln!(
            out,
            "{indent}acked by {} ({}, {}){text}",
            k.author,
            k.id,
            time(&k.ts)
        )?;
    }
    if let Some(r) = &a.resolved {
        let text = if r.text.is_empty() {
            String::new()
        } else {
            format!(": {}", r.text)
        };
        writeln!(out, "{indent}resolved by {} ({}){text}", r.id, time(&r.ts))?;
    }
    Ok(())
}

fn question_text(out: &mut dyn Write, q: &QuestionStatus, color: bool) -> std::io::Result<()> {
    let id = q.id.to_string();
    let pad = 14usize.saturating_sub(id.len());
    let shown = if color {
        palette::paint_author(q.author.as_str(), &id)
    } else {
        id
    };
    let to = if q.to.is_empty() {
        String::new()
    } else {
        format!(
            "  (to {})",
            q.to.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    writeln!(
        out,
        "{shown}{:pad$}  {}  {}{to}",
        "",
        time(&q.ts),
        q.headline
    )
}
