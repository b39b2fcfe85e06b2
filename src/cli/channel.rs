//! Verbs that change or list channels: `open`, `ls`, `post`, `roster`.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use super::output::{self, Output, Table, TableOutput};
use super::{EXIT_USAGE, Failure, target};
use crate::channel::entry::DEFAULT_MAX_BODY;
use crate::channel::store::{PostOptions, Role};
use crate::channel::{Author, Draft, EntryId, Error, IdempotencyKey, Kind, Posted, Store, Theme};
use crate::roles;

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
    #[command(flatten)]
    pub output: TableOutput,
}

pub use super::target::ChannelArg;

#[derive(Debug, Args)]
pub struct PostArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// The role you post as (must be on the channel's roster).
    #[arg(long = "as", value_name = "ROLE", env = "WARROOM_ROLE")]
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
    #[command(after_help = "Examples:
  warroom roster add terminal-1
  warroom roster add terminal-1 terminal-2 --channel litellm-canary")]
    Add {
        /// Role names.
        #[arg(required = true)]
        roles: Vec<String>,
        #[command(flatten)]
        channel: ChannelArg,
        #[command(flatten)]
        output: TableOutput,
    },
    /// Print a channel's roster.
    #[command(after_help = "Examples:
  warroom roster show
  warroom roster show --channel litellm-canary -o wide   # with each role's title and lane")]
    Show {
        #[command(flatten)]
        channel: ChannelArg,
        #[command(flatten)]
        output: TableOutput,
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
    let channel = match store.open_channel(date, theme.clone(), roles) {
        // Sealed, it takes no new roles: the way on is another channel.
        Err(Error::ChannelExists { name, root }) if is_sealed(&store, &name) => {
            return Err(usage(format!(
                "channel {name} already exists in {} and is sealed (archived): open the next one under another theme (`warroom open {theme}-2`) or another --date",
                root.display()
            )));
        }
        other => other?,
    };
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

fn is_sealed(store: &Store, name: &str) -> bool {
    store
        .channels()
        .ok()
        .and_then(|all| all.into_iter().find(|c| c.name().to_string() == name))
        .and_then(|c| c.seal().ok().flatten())
        .is_some()
}

pub fn ls(root: &Path, args: LsArgs) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let channels = store.channels()?;
    // A `*.md` name that is not a regular file is never opened (a FIFO would block) and its
    // entries are not counted: told, like timeline and the relay tell it, never skipped in
    // silence.
    for channel in &channels {
        for (path, what) in channel.irregular_files()? {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if let Ok(author) = Author::new(stem) {
                eprintln!(
                    "warning: {}",
                    crate::timeline::not_regular(path, author, what)
                );
            }
        }
    }
    let infos = channels
        .iter()
        .map(|c| c.info())
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    if !output::structured(&mut out, args.output.output, &infos)? {
        let mut table = Table::new(&[
            ("NAME", false),
            ("STATE", false),
            ("ENTRIES", false),
            ("AUTHORS", false),
            ("OPENED", true),
            ("DIR", true),
        ]);
        for i in &infos {
            let authors = i
                .authors
                .iter()
                .map(|(a, n)| format!("{a}:{n}"))
                .collect::<Vec<_>>()
                .join(" ");
            table.row(vec![
                i.name.clone(),
                if i.sealed { "sealed" } else { "open" }.into(),
                i.entries.to_string(),
                authors,
                i.opened_at.to_string(),
                root.join(&i.name).display().to_string(),
            ]);
        }
        if !table.is_empty() || args.output.output == Output::Md {
            table.write(&mut out, args.output.output)?;
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
    let target = args.channel.resolve(&store)?;
    let channel = &target.channel;
    // Roster and seal first: a bad role is reported before stdin is read.
    channel
        .check_can_post(&author)
        .map_err(|e| target::explain(channel, e))?;
    if args.bulk {
        let code = bulk(channel, &author, args.max_body)?;
        target.announce();
        return Ok(code);
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
    let posted = channel
        .post(&author, &draft, &opts)
        .map_err(|e| target::explain(channel, e))?;
    println!("{}", posted.entry.id);
    note_replay(&posted);
    target.announce();
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
                .map_err(|e| super::target::explain(channel, e))
                .with_context(|| format!("standard input line {at}"))?;
            return Ok(Some(draft));
        }
    };
    let mut run = || -> anyhow::Result<()> {
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
        Ok(())
    };
    if let Err(e) = run() {
        let broken_pipe = e.chain().any(|c| {
            c.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        });
        if n == 0 || broken_pipe {
            return Err(e);
        }
        // The lines before the bad one are in the file: say so, so a rerun starts after them.
        let _ = writer.sync();
        return Err(Failure {
            code: super::exit_code(&e),
            message: format!(
                "{e:#}; the {n} entries before it were appended (their ids are on stdout) and nothing from that line on: fix it and send the rest again"
            ),
        }
        .into());
    }
    writer.sync()?;
    eprintln!("appended {n} entries as {author}");
    Ok(0)
}

pub fn roster(root: &Path, cmd: RosterCommand) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let (channel, roster, format) = match cmd {
        RosterCommand::Add {
            roles,
            channel,
            output,
        } => {
            let roles = parse_roles(&roles)?;
            let target = channel.resolve(&store)?;
            let roster = target.channel.add_roles(roles)?;
            target.announce();
            (target.channel, roster, output.output)
        }
        RosterCommand::Show { channel, output } => {
            let channel = channel.resolve(&store)?.channel;
            let roster = channel.roster()?;
            (channel, roster, output.output)
        }
    };
    let mut out = std::io::stdout().lock();
    if !output::structured(&mut out, format, &roster.roles)? {
        if format == Output::Text {
            // One name per line: what a shell loop wants.
            for r in &roster.roles {
                writeln!(out, "{}", r.name)?;
            }
        } else {
            let mut table = Table::new(&[("NAME", false), ("TITLE", true), ("LANE", true)]);
            for r in &roster.roles {
                table.row(vec![
                    r.name.to_string(),
                    r.title.clone().unwrap_or_default(),
                    r.lane.clone().unwrap_or_default().replace('\n', " "),
                ]);
            }
            table.write(&mut out, format)?;
        }
    }
    eprintln!("roster of {}: {}", channel.name(), roster.names());
    Ok(0)
}
