//! `timeline --follow`: the history, then new entries as they are appended — locally through
//! [`crate::tail`], or from a relay over WebSocket (`--remote URL`) with reconnect and cursor
//! resume. Entries go to stdout, with a gap marker where the record is damaged (an altered
//! entry, a broken chain, torn bytes, a truncated file); alerts and connection notes go to
//! stderr.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use super::{EXIT_USAGE, Failure};
use crate::channel::{Author, Entry, Store};
use crate::tail::{TailEvent, TailOptions};
use crate::timeline::render::{Format, Renderer};
use crate::timeline::{Filter, Merge, Since};

/// Writes entries that pass the filter and are new (per-author seq), flushing each, and gap
/// markers where the record is damaged (each once). With a tail, the history is held back
/// until [`Printer::release`] prints its last N entries (with the gaps among them).
struct Printer {
    renderer: Renderer<std::io::Stdout>,
    filter: Filter,
    seen: BTreeMap<Author, u64>,
    held: Option<(usize, VecDeque<Held>)>,
    format: Format,
    color: bool,
    /// Gaps already shown (a reconnect replays them).
    gaps: std::collections::BTreeSet<String>,
}

/// What a tail holds back: entries, and the gaps between them.
enum Held {
    Entry(Box<Entry>),
    Gap(String),
}

impl Printer {
    fn new(format: Format, filter: Filter, tail: Option<usize>) -> Self {
        let color = super::color::stdout();
        Self {
            renderer: Renderer::new(std::io::stdout(), format, color),
            filter,
            seen: BTreeMap::new(),
            held: tail.map(|n| (n, VecDeque::new())),
            format,
            color: color && format == Format::Text,
            gaps: Default::default(),
        }
    }

    /// Prints the last N held entries; from now on entries print as they come.
    fn release(&mut self) -> std::io::Result<()> {
        if let Some((_, held)) = self.held.take() {
            for h in held {
                match h {
                    Held::Entry(e) => self.renderer.entry(&e)?,
                    Held::Gap(text) => {
                        self.renderer.flush()?;
                        self.print_gap(&text)?;
                    }
                }
            }
            self.renderer.flush()?;
        }
        Ok(())
    }

    /// A gap marker at this place of the output: on stdout in text and markdown, on stderr
    /// beside ndjson (whose lines are entries only). `key` names the damage: a reconnect that
    /// replays it shows nothing new.
    fn gap(&mut self, key: String, text: &str) -> std::io::Result<()> {
        if !self.gaps.insert(key) {
            return Ok(());
        }
        if let Some((_, held)) = &mut self.held {
            held.push_back(Held::Gap(text.to_owned()));
            return Ok(());
        }
        self.print_gap(text)
    }

    fn print_gap(&mut self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Text if self.color => {
                writeln!(out, "\x1b[1;30;43m GAP \x1b[0m  \x1b[1m{text}\x1b[0m\n")?
            }
            Format::Text => writeln!(out, "GAP  {text}\n")?,
            Format::Md => writeln!(out, "> **gap** — {text}\n")?,
            _ => {
                drop(out);
                eprintln!("GAP: {text}");
                return Ok(());
            }
        }
        out.flush()
    }

    /// A problem met reading the history: a gap marker, or a warning for what is no gap (a
    /// torn write the next writer closed off).
    fn problem(&mut self, p: &crate::timeline::Problem) -> std::io::Result<()> {
        match &p.gap {
            Some(gap) => self.gap(format!("{}:{}", p.path.display(), p.line), &gap.text),
            None => {
                eprintln!("warning: {p}");
                Ok(())
            }
        }
    }

    fn entry(&mut self, e: &Entry) -> std::io::Result<()> {
        let seen = self.seen.entry(e.author.clone()).or_insert(0);
        if e.seq <= *seen {
            return Ok(());
        }
        *seen = e.seq;
        if self.filter.matches(e) {
            if let Some((n, held)) = &mut self.held {
                let entries = held.iter().filter(|h| matches!(h, Held::Entry(_))).count();
                if entries == *n {
                    // Drop the oldest entry and the gaps before it.
                    while let Some(h) = held.pop_front() {
                        if matches!(h, Held::Entry(_)) {
                            break;
                        }
                    }
                }
                if *n > 0 {
                    held.push_back(Held::Entry(Box::new(e.clone())));
                }
                return Ok(());
            }
            self.renderer.entry(e)?;
            self.renderer.flush()?;
        }
        Ok(())
    }

    fn cursor(&self) -> String {
        self.seen
            .iter()
            .map(|(a, s)| format!("{a}:{s}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn check_format(format: Format) -> anyhow::Result<()> {
    if format == Format::Json {
        return Err(Failure {
            code: EXIT_USAGE,
            message: "--follow never ends, so it cannot write one JSON array: use -o ndjson".into(),
        }
        .into());
    }
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Follows a local channel until Ctrl-C or SIGTERM.
pub fn local(
    root: &Path,
    channel: Option<&str>,
    filter: Filter,
    format: Format,
    tail: Option<usize>,
) -> anyhow::Result<u8> {
    check_format(format)?;
    let store = Store::open(root)?;
    let channel = super::target::resolve(&store, channel)?.channel;
    // A role may still join while this follows (`roster add`): a warning, not a refusal.
    for unknown in super::read::unknown_roles(&channel, &filter)? {
        eprintln!("warning: {unknown}; following anyway, in case it joins");
    }
    let name = channel.name().to_string();
    runtime()?.block_on(async move {
        let stop = super::signal::listen();
        let mut events = std::pin::pin!(crate::tail::follow(store.root(), TailOptions::default()));
        // History is read once the follower has its bearings, so nothing falls in between;
        // what both see is printed once (per-author seq).
        let mut early = Vec::new();
        loop {
            match events.next().await {
                Some(Ok(TailEvent::Synced)) | None => break,
                Some(Ok(TailEvent::Entry(e))) => early.push(e),
                Some(Ok(TailEvent::Alert(a))) if a.channel == name => {
                    eprintln!("ALERT: {}", a.message)
                }
                Some(Ok(TailEvent::Alert(_) | TailEvent::State(_))) => {}
                Some(Err(e)) => eprintln!("warning: {e}"),
            }
        }
        let mut printer = Printer::new(format, filter.clone(), tail);
        // Problems come during the read that returned the entry before them.
        let problems = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = problems.clone();
        let mut history = Merge::open(&channel, filter, move |p| sink.borrow_mut().push(p))?;
        while let Some(e) = history.next_entry()? {
            printer.entry(&e)?;
            for p in problems.borrow_mut().drain(..) {
                printer.problem(&p)?;
            }
        }
        for p in problems.borrow_mut().drain(..) {
            printer.problem(&p)?;
        }
        for e in early.into_iter().filter(|e| e.channel == name) {
            printer.entry(&e)?;
        }
        printer.release()?;
        eprintln!(
            "following {name} in {} (Ctrl-C to stop)",
            store.root().display()
        );
        let mut stop = std::pin::pin!(stop);
        loop {
            let ev = tokio::select! {
                sig = &mut stop => {
                    super::signal::stopped(sig, &format!("stopped following {name}"));
                    return Ok(0);
                }
                ev = events.next() => ev,
            };
            match ev {
                None => anyhow::bail!("the follower stopped"),
                Some(Ok(TailEvent::Entry(e))) if e.channel == name => printer.entry(&e)?,
                Some(Ok(TailEvent::Alert(a))) if a.channel == name || a.channel.is_empty() => {
                    match &a.gap {
                        Some(g) => {
                            let key = format!("{}:{}", a.file, a.line.unwrap_or(0));
                            printer.gap(key, &g.text)?
                        }
                        None => eprintln!("ALERT: {}", a.message),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => eprintln!("warning: {e}"),
            }
        }
    })
}

/// Follows a channel on a relay until Ctrl-C or SIGTERM, reconnecting with the cursor.
pub fn remote(
    url: &str,
    channel: Option<&str>,
    filter: Filter,
    format: Format,
    tail: Option<usize>,
) -> anyhow::Result<u8> {
    check_format(format)?;
    if matches!(filter.since, Some(Since::Entry(_))) {
        return Err(Failure {
            code: EXIT_USAGE,
            message: "--since ID is not supported with --remote; use --since TIME".into(),
        }
        .into());
    }
    let base = url.trim_end_matches('/');
    let ws_base = if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if base.starts_with("ws://") {
        base.to_owned()
    } else {
        return Err(Failure {
            code: EXIT_USAGE,
            message: format!(
                "--remote {url:?}: give the relay's http:// URL as `warroom serve` prints it"
            ),
        }
        .into());
    };
    let http_base = ws_base.replacen("ws://", "http://", 1);
    runtime()?.block_on(async move {
        let stop = super::signal::listen();
        let mut stop = std::pin::pin!(stop);
        let channel = match channel {
            Some(c) => c.to_owned(),
            None => newest_channel(&http_base).await?,
        };
        let stopped = |sig: &str| -> anyhow::Result<u8> {
            super::signal::stopped(sig, &format!("stopped following {channel} on {http_base}"));
            Ok(0)
        };
        let mut printer = Printer::new(format, filter, tail);
        let mut backoff = Duration::from_millis(250);
        let mut announced = false;
        loop {
            let cursor = printer.cursor();
            let url = format!("{ws_base}/api/channels/{channel}/live?cursor={cursor}");
            let conn = tokio::select! {
                sig = &mut stop => return stopped(sig),
                c = tokio_tungstenite::connect_async(&url) => c,
            };
            let mut ws = match conn {
                Ok((ws, _)) => ws,
                Err(e) => {
                    if let tokio_tungstenite::tungstenite::Error::Http(resp) = &e
                        && resp.status().is_client_error()
                    {
                        let body = resp
                            .body()
                            .as_ref()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default();
                        anyhow::bail!("the relay refused {url}: {} {body}", resp.status());
                    }
                    eprintln!("cannot reach {ws_base} ({e}); retrying in {backoff:?}");
                    tokio::select! {
                        sig = &mut stop => return stopped(sig),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            loop {
                let msg = tokio::select! {
                    sig = &mut stop => {
                        let _ = ws.close(None).await;
                        return stopped(sig);
                    }
                    m = ws.next() => m,
                };
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(frame))) => {
                        let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                        eprintln!(
                            "relay closed the feed ({}); reconnecting",
                            why.unwrap_or_default()
                        );
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        eprintln!("connection lost ({e}); reconnecting");
                        break;
                    }
                    None => {
                        eprintln!("connection closed; reconnecting");
                        break;
                    }
                };
                let v: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                match v.get("type").and_then(|t| t.as_str()) {
                    Some("entry") => {
                        if let Some(e) = v
                            .get("entry")
                            .and_then(|e| serde_json::from_value::<Entry>(e.clone()).ok())
                        {
                            printer.entry(&e)?;
                        }
                    }
                    Some("ready") => {
                        printer.release()?;
                        backoff = Duration::from_millis(250);
                        if !announced {
                            announced = true;
                            eprintln!("following {channel} on {http_base} (Ctrl-C to stop)");
                        }
                    }
                    Some("alert") => match v.pointer("/alert/gap/text").and_then(|t| t.as_str()) {
                        Some(text) => {
                            let key = format!(
                                "{}:{}",
                                v.pointer("/alert/file")
                                    .and_then(|f| f.as_str())
                                    .unwrap_or(""),
                                v.pointer("/alert/line")
                                    .and_then(|l| l.as_u64())
                                    .unwrap_or(0)
                            );
                            printer.gap(key, text)?;
                        }
                        None => {
                            let m = v
                                .pointer("/alert/message")
                                .and_then(|m| m.as_str())
                                .unwrap_or("store alert");
                            eprintln!("ALERT: {m}");
                        }
                    },
                    _ => {}
                }
            }
            tokio::select! {
                sig = &mut stop => return stopped(sig),
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    })
}

/// The newest unsealed channel the relay lists.
async fn newest_channel(http_base: &str) -> anyhow::Result<String> {
    let url = format!("{http_base}/api/channels");
    let list: Vec<serde_json::Value> = reqwest::get(&url)
        .await
        .and_then(|r| r.error_for_status())
        .with_context(|| format!("cannot list channels at {url}"))?
        .json()
        .await
        .with_context(|| format!("{url} did not answer a channel list"))?;
    list.iter()
        .find(|c| c.get("sealed").and_then(|s| s.as_bool()) == Some(false))
        .and_then(|c| c.get("name").and_then(|n| n.as_str()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Failure {
                code: EXIT_USAGE,
                message: format!("no open channel on {http_base}: pass --channel"),
            }
            .into()
        })
}
