//! Verbs that change or list channels: `open`, `ls`, `post`, `roster`.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::{EXIT_USAGE, Failure};
use crate::channel::entry::DEFAULT_MAX_BODY;
use crate::channel::store::{PostOptions, Role};
use crate::channel::{Author, Draft, EntryId, Error, IdempotencyKey, Kind, Posted, Store, Theme};
use crate::roles;
use crate::timeline::render::Format;

#[derive(Debug, Args)]
pub struct OpenArgs {
    /// What the channel is about: lowercase letters, digits and '-' (e.g. litellm-canary).
    pub theme: String,
    /// The channel's date (default: today, UTC).
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub date: Option<String>,
    /// Roles on the roster, comma-separated; built-in roles (pipeline, data-plane, traffic,
    /// operator) bring their lane. The operator is always on the roster.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "pipeline,data-plane,traffic,operator"
    )]
    pub roles: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ChannelArg {
    /// Channel name or theme (default: WARROOM_CHANNEL, else the newest unsealed channel).
    #[arg(long, env = "WARROOM_CHANNEL")]
    pub channel: Option<String>,
}

#[derive(Debug, Args)]
pub struct PostArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// The role you post as (must be on the channel's roster).
    #[arg(long = "as", value_name = "ROLE")]
    pub role: String,
    /// observation, alert, correction, question, answer, decision, note, ack or resolved.
    /// correction, ack and resolved need --ref (ack and resolved ref alerts).
    #[arg(long, default_value = "observation")]
    pub kind: String,
    /// An entry this one refers to (author#seq); repeatable.
    #[arg(long = "ref", value_name = "ID")]
    pub refs: Vec<String>,
    /// A role this entry is addressed to (on the roster); repeatable.
    #[arg(long = "to", value_name = "ROLE")]
    pub to: Vec<String>,
    /// Idempotency key (1-128 of A-Z a-z 0-9 . _ : / @ + -): makes the post safe to retry.
    /// If this role already posted an entry with this key, its id is printed and nothing is
    /// written; the same key with a different kind, body, refs or --to is refused (exit 2).
    #[arg(long, value_name = "K")]
    pub key: Option<String>,
    /// Largest body accepted, in bytes.
    #[arg(long, env = "WARROOM_MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
    /// Skip the fsync, so a crash may lose this entry (it is never half-written).
    #[arg(long)]
    pub no_sync: bool,
    /// Bulk mode: read one JSON draft per line from standard input
    /// (`{"kind":"note","body":"...","refs":["pipeline#3"],"to":["operator"],"key":"k1"}`;
    /// all but body optional) and append each, printing its id. No fsync per entry, one at
    /// the end: a crash may lose the last entries, never half-write one. Stops at the first
    /// bad line, naming it.
    #[arg(long, conflicts_with_all = ["text", "kind", "refs", "to", "key"])]
    pub bulk: bool,
    /// The body (markdown). Words are joined by spaces; `-` or nothing reads standard input.
    pub text: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Add roles to a channel's roster; prints the roster.
    Add {
        /// Role names.
        #[arg(required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        channel: ChannelArg,
    },
    /// Print a channel's roster.
    Show {
        #[command(flatten)]
        channel: ChannelArg,
    },
}

/// The largest body limit allowed: readers refuse entries over `scan::MAX_ENTRY_BYTES`.
const MAX_BODY_CEILING: usize = crate::channel::scan::MAX_ENTRY_BYTES / 2;

fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
    .into()
}

fn parse_roles(names: &[String]) -> Result<Vec<Role>, Error> {
    let mut out: Vec<Role> = Vec::new();
    for n in names {
        let author = Author::new(n.trim())?;
        if !out.iter().any(|r| r.name == author) {
            out.push(roles::role(author));
        }
    }
    Ok(out)
}

pub fn open(root: &Path, args: OpenArgs) -> anyhow::Result<u8> {
    let theme = Theme::new(&args.theme)?;
    let date = match &args.date {
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map_err(|_| usage(format!("--date {d:?} is not a date like 2026-05-04")))?,
        None => chrono::Utc::now().date_naive(),
    };
    let roles = parse_roles(&args.roles)?;
    let store = Store::create(root)?;
    let channel = store.open_channel(date, theme.clone(), roles)?;
    crate::templates::write_brief(root, &channel)?;
    let roster = channel.roster()?;
    println!("{}", channel.name());
    eprintln!(
        "opened {} with roles {}; post with `warroom post --as ROLE TEXT`",
        channel.dir().display(),
        roster.names()
    );
    Ok(0)
}

pub fn ls(root: &Path, args: LsArgs) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let infos = store
        .channels()?
        .iter()
        .map(|c| c.info())
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &infos)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            for i in &infos {
                serde_json::to_writer(&mut out, i)?;
                writeln!(out)?;
            }
        }
        Format::Text | Format::Md => {
            for i in &infos {
                let authors = i
                    .authors
                    .iter()
                    .map(|(a, n)| format!("{a}:{n}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                writeln!(
                    out,
                    "{}  {:<6}  {:>5} entries  {}",
                    i.name,
                    if i.sealed { "sealed" } else { "open" },
                    i.entries,
                    authors
                )?;
            }
        }
    }
    if infos.is_empty() {
        eprintln!(
            "no channels under {}; open one with `warroom open THEME`",
            root.display()
        );
    }
    Ok(0)
}

/// Reads the body from the arguments or standard input, refusing invalid UTF-8.
fn read_body(text: &[String]) -> anyhow::Result<String> {
    if !(text.is_empty() || text == ["-"]) {
        return Ok(text.join(" "));
    }
    let stdin = std::io::stdin();
    if text.is_empty() && stdin.is_terminal() {
        return Err(usage(
            "no body: give TEXT, or pipe the body in (use - to read standard input)",
        ));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    String::from_utf8(bytes).map_err(|e| {
        Error::NotUtf8 {
            offset: e.utf8_error().valid_up_to(),
        }
        .into()
    })
}

pub fn post(root: &Path, args: PostArgs) -> anyhow::Result<u8> {
    let author = Author::new(&args.role)?;
    if args.max_body > MAX_BODY_CEILING {
        return Err(usage(format!(
            "--max-body {} is over the ceiling of {MAX_BODY_CEILING} bytes that readers accept",
            args.max_body
        )));
    }
    let kind: Kind = args.kind.parse()?;
    let refs = args
        .refs
        .iter()
        .map(|r| EntryId::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let to = args
        .to
        .iter()
        .map(|r| Author::new(r))
        .collect::<Result<Vec<_>, _>>()?;
    let key = args.key.as_deref().map(IdempotencyKey::new).transpose()?;
    let store = Store::open(root)?;
    let channel = store.channel(args.channel.channel.as_deref())?;
    // Roster and seal first: a bad role is reported before stdin is read.
    channel.check_can_post(&author)?;
    if args.bulk {
        return bulk(&channel, &author, args.max_body);
    }
    let body = read_body(&args.text)?;
    let draft = Draft {
        kind,
        refs,
        to,
        key,
        body,
    };
    let opts = PostOptions {
        max_body: args.max_body,
        sync: !args.no_sync,
    };
    let posted = channel.post(&author, &draft, &opts)?;
    println!("{}", posted.entry.id);
    note_replay(&posted);
    Ok(0)
}

/// Says on stderr that a keyed post found its entry already written.
fn note_replay(posted: &Posted) {
    if posted.replayed {
        let key = posted.entry.key.as_ref().map(|k| k.as_str()).unwrap_or("");
        eprintln!(
            "{} was already posted with key {key} at {}; nothing was written",
            posted.entry.id, posted.entry.ts
        );
    }
}

/// One line of `post --bulk` input.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BulkDraft {
    #[serde(default)]
    kind: Option<Kind>,
    body: String,
    #[serde(default)]
    refs: Vec<EntryId>,
    #[serde(default)]
    to: Vec<Author>,
    #[serde(default)]
    key: Option<IdempotencyKey>,
}

/// Appends drafts from standard input. Whatever input is already buffered is appended under one
/// lock (a [`crate::channel::append::Session`]); the lock is released before waiting for more
/// input, so a slow producer never holds other writers of this file up.
fn bulk(channel: &crate::channel::Channel, author: &Author, max_body: usize) -> anyhow::Result<u8> {
    use std::io::BufRead;
    let opts = PostOptions {
        max_body,
        sync: false,
    };
    let mut writer = channel.writer(author, false)?;
    let mut input = std::io::BufReader::with_capacity(1 << 20, std::io::stdin().lock());
    let mut out = std::io::stdout().lock();
    let (mut n, mut line_no) = (0u64, 0usize);
    let mut line = String::new();
    let mut read_draft = |input: &mut std::io::BufReader<_>,
                          line_no: &mut usize|
     -> anyhow::Result<Option<Draft>> {
        loop {
            line.clear();
            *line_no += 1;
            let at = *line_no;
            if input
                .read_line(&mut line)
                .with_context(|| format!("standard input line {at}: cannot read (is it UTF-8?)"))?
                == 0
            {
                return Ok(None);
            }
            if line.trim().is_empty() {
                continue;
            }
            let d: BulkDraft = serde_json::from_str(&line).map_err(|e| {
                usage(format!("standard input line {at}: {e}; expected {{\"body\":\"...\"}} with optional \"kind\", \"refs\", \"to\" and \"key\""))
            })?;
            let draft = Draft {
                kind: d.kind.unwrap_or(Kind::Observation),
                refs: d.refs,
                to: d.to,
                key: d.key,
                body: d.body,
            };
            channel
                .check_draft(author, &draft, &opts)
                .with_context(|| format!("standard input line {at}"))?;
            return Ok(Some(draft));
        }
    };
    // Blocks for the first draft of a burst without holding the lock.
    while let Some(first) = read_draft(&mut input, &mut line_no)? {
        let mut session = writer.session()?;
        let mut next = Some(first);
        while let Some(draft) = next.take() {
            let posted = session.append(&draft)?;
            writeln!(out, "{}", posted.entry.id)?;
            note_replay(&posted);
            n += u64::from(!posted.replayed);
            // Only input already buffered (a whole line) continues the burst.
            if input.buffer().contains(&b'\n') {
                next = read_draft(&mut input, &mut line_no)?;
            }
        }
        session.finish()?;
        // Ids are printed once their entries are in the file.
        out.flush()?;
    }
    writer.sync()?;
    eprintln!("appended {n} entries as {author}");
    Ok(0)
}

pub fn roster(root: &Path, cmd: RosterCommand) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let (channel, roster) = match cmd {
        RosterCommand::Add { roles, channel } => {
            let roles = parse_roles(&roles)?;
            let channel = store.channel(channel.channel.as_deref())?;
            let roster = channel.add_roles(roles)?;
            (channel, roster)
        }
        RosterCommand::Show { channel } => {
            let channel = store.channel(channel.channel.as_deref())?;
            let roster = channel.roster()?;
            (channel, roster)
        }
    };
    let mut out = std::io::stdout().lock();
    for r in &roster.roles {
        writeln!(out, "{}", r.name)?;
    }
    eprintln!("roster of {}: {}", channel.name(), roster.names());
    Ok(0)
}
