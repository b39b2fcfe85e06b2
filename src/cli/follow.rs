//! `timeline --follow`: the history, then new entries as they are appended — locally through
//! [`crate::tail`], or from a relay over WebSocket (`--remote URL`) with reconnect and cursor
//! resume. Entries go to stdout; alerts and connection notes to stderr.

use std::collections::BTreeMap;
use std::io::IsTerminal;
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

fn use_color() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes entries that pass the filter and are new (per-author seq), flushing each, and gap
/// markers where the record is damaged (each once).
struct Printer {
    renderer: Renderer<std::io::Stdout>,
    filter: Filter,
    seen: BTreeMap<Author, u64>,
    format: Format,
    color: bool,
    /// Gaps already shown (a reconnect replays them).
    gaps: std::collections::BTreeSet<String>,
}

impl Printer {
    fn new(format: Format, filter: Filter) -> Self {
        let color = use_color();
        Self {
            renderer: Renderer::new(std::io::stdout(), format, color),
            filter,
            seen: BTreeMap::new(),
            format,
            color: color && format == Format::Text,
            gaps: Default::default(),
        }
    }

    /// A gap marker at this place of the output: on stdout in text and markdown, on stderr
    /// beside ndjson (whose lines are entries only).
    fn gap(&mut self, key: String, gap: &crate::gap::Gap) -> std::io::Result<()> {
        if !self.gaps.insert(key) {
            return Ok(());
        }
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        match self.format {
            Format::Text if self.color => writeln!(
                out,
                "\x1b[1;30;43m GAP \x1b[0m  \x1b[1m{}\x1b[0m\n",
                gap.text
            )?,
            Format::Text => writeln!(out, "GAP  {}\n", gap.text)?,
            Format::Md => writeln!(out, "> **gap** — {}\n", gap.text)?,
            Format::Json | Format::Ndjson => {
                drop(out);
                eprintln!("GAP: {}", gap.text);
                return Ok(());
            }
        }
        out.flush()
    }

    fn problem(&mut self, p: &crate::timeline::Problem) -> std::io::Result<()> {
        match &p.gap {
            Some(gap) => self.gap(format!("{}:{}", p.path.display(), p.line), gap),
            None => {
                eprintln!("warning: {p}");
                Ok(())
            }
        }
    }

    fn wants(&self, e: &Entry) -> bool {
        (self.filter.authors.is_empty() || self.filter.authors.contains(&e.author))
            && (self.filter.kinds.is_empty() || self.filter.kinds.contains(&e.kind))
            && match &self.filter.since {
                Some(Since::Time(t)) => e.ts >= *t,
                _ => true,
            }
    }

    fn entry(&mut self, e: &Entry) -> std::io::Result<()> {
        let seen = self.seen.entry(e.author.clone()).or_insert(0);
        if e.seq <= *seen {
            return Ok(());
        }
        *seen = e.seq;
        if self.wants(e) {
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
            message: "--follow never ends, so it cannot write one JSON array: use --format ndjson"
                .into(),
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

/// Follows a local channel until Ctrl-C.
pub fn local(
    root: &Path,
    channel: Option<&str>,
    filter: Filter,
    format: Format,
) -> anyhow::Result<u8> {
    check_format(format)?;
    let store = Store::open(root)?;
    let channel = store.channel(channel)?;
    let name = channel.name().to_string();
    runtime()?.block_on(async move {
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
        let mut printer = Printer::new(format, filter.clone());
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
        loop {
            let ev = tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(0),
                ev = events.next() => ev,
            };
            match ev {
                None => anyhow::bail!("the follower stopped"),
                Some(Ok(TailEvent::Entry(e))) if e.channel == name => printer.entry(&e)?,
                Some(Ok(TailEvent::Alert(a))) if a.channel == name || a.channel.is_empty() => {
                    match &a.gap {
                        Some(g) => printer.gap(format!("{}:{}", a.file, a.line.unwrap_or(0)), g)?,
                        None => eprintln!("ALERT: {}", a.message),
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => eprintln!("warning: {e}"),
            }
        }
    })
}

/// Follows a channel on a relay until Ctrl-C, reconnecting with the cursor.
pub fn remote(
    url: &str,
    channel: Option<&str>,
    filter: Filter,
    format: Format,
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
        let channel = match channel {
            Some(c) => c.to_owned(),
            None => newest_channel(&http_base).await?,
        };
        let mut printer = Printer::new(format, filter);
        let mut backoff = Duration::from_millis(250);
        let mut announced = false;
        loop {
            let cursor = printer.cursor();
            let url = format!("{ws_base}/api/channels/{channel}/live?cursor={cursor}");
            let conn = tokio::select! {
                _ = tokio::signal::ctrl_c() => return Ok(0),
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
                        _ = tokio::signal::ctrl_c() => return Ok(0),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            };
            loop {
                let msg = tokio::select! {
                    _ = tokio::signal::ctrl_c() => {
                        let _ = ws.close(None).await;
                        return Ok(0);
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
                        backoff = Duration::from_millis(250);
                        if !announced {
                            announced = true;
                            eprintln!("following {channel} on {http_base} (Ctrl-C to stop)");
                        }
                    }
                    Some("alert") => {
                        let gap = v
                            .pointer("/alert/gap")
                            .and_then(|g| serde_json::from_value::<RemoteGap>(g.clone()).ok());
                        match gap {
                            Some(g) => {
                                let key = format!(
                                    "{}:{}",
                                    v.pointer("/alert/file")
                                        .and_then(|f| f.as_str())
                                        .unwrap_or(""),
                                    v.pointer("/alert/line")
                                        .and_then(|l| l.as_u64())
                                        .unwrap_or(0)
                                );
                                printer.gap(
                                    key,
                                    &crate::gap::Gap {
                                        text: g.text,
                                        entry: None,
                                        ts: None,
                                        seq: None,
                                    },
                                )?;
                            }
                            None => {
                                let m = v
                                    .pointer("/alert/message")
                                    .and_then(|m| m.as_str())
                                    .unwrap_or("store alert");
                                eprintln!("ALERT: {m}");
                            }
                        }
                    }
                    _ => {}
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    })
}

/// The part of a relay's gap marker the terminal shows.
#[derive(serde::Deserialize)]
struct RemoteGap {
    text: String,
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
