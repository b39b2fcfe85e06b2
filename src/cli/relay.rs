//! Relay verbs: `serve` and `token add|revoke|ls`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::Failure;
use super::channel::ChannelArg;
use crate::channel::entry::DEFAULT_MAX_BODY;
use crate::channel::{Author, Store};
use crate::relay::token::{TokenError, Tokens};
use crate::relay::{Config, RelayError};
use crate::timeline::render::Format;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port; the URL is printed on stdout.
    #[arg(long, default_value = "127.0.0.1:7700", value_name = "ADDR:PORT")]
    pub bind: String,
    /// Also accept this Host (a name the page is reached by, e.g. behind a proxy); repeatable.
    #[arg(long = "allow-host", value_name = "HOST[:PORT]")]
    pub allow_hosts: Vec<String>,
    /// Follow files by polling instead of inotify (network filesystems, exhausted limits).
    #[arg(long)]
    pub poll: bool,
    /// Largest entry body accepted from remote posts, in bytes.
    #[arg(long, env = "WARROOM_MAX_BODY", default_value_t = DEFAULT_MAX_BODY)]
    pub max_body: usize,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for ROLE on a channel; prints the token (shown only once).
    Add {
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        channel: ChannelArg,
    },
    /// Revoke a token by its id (see `token ls`) or by the token itself; effective at once.
    Revoke {
        #[arg(value_name = "ID|TOKEN")]
        id: String,
    },
    /// List tokens (ids, roles, channels; never the tokens).
    Ls {
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

fn relay_failure(e: RelayError) -> anyhow::Error {
    let code = e.exit_code();
    Failure {
        code,
        message: format!("{:#}", anyhow::Error::from(e)),
    }
    .into()
}

fn token_failure(e: TokenError) -> anyhow::Error {
    let code = e.exit_code();
    Failure {
        code,
        message: format!("{:#}", anyhow::Error::from(e)),
    }
    .into()
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

/// Logs go to stderr; `WARROOM_LOG` sets the filter (default: warnings, and the relay's info).
pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,warroom=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn serve(root: &Path, args: ServeArgs) -> anyhow::Result<u8> {
    init_logging();
    let store = Store::open(root)?;
    let mut config = Config::new(store.root());
    config.allow_hosts = args.allow_hosts;
    config.max_body = args.max_body;
    config.tail.force_poll = args.poll;
    let budget = config.budget().map_err(relay_failure)?;
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    let result = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.bind)
            .await
            .with_context(|| {
                format!(
                    "cannot listen on {}: pick another address with --bind (port 0 picks a free one)",
                    args.bind
                )
            })?;
        let addr = listener.local_addr().context("cannot read the listening address")?;
        if !addr.ip().is_loopback() {
            eprintln!(
                "warning: listening on {addr}, reachable from other machines; reads need no token. Prefer 127.0.0.1 behind an authenticating proxy"
            );
        }
        // The URL is the command's result; it goes out before serving so scripts can use it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "http://{addr}/")?;
        out.flush()?;
        drop(out);
        eprintln!(
            "relay for {} on http://{addr}/; {budget}; headers within {} s (Ctrl-C to stop)",
            store.root().display(),
            config.header_timeout.as_secs(),
        );
        let grace = config.shutdown_grace;
        let report = crate::relay::serve(listener, config, shutdown_signal())
            .await
            .map_err(relay_failure)?;
        print_shutdown(&report, grace);
        Ok(0)
    });
    // Blocking work still running (a replay reading files) must not hold the exit: the
    // relay has already closed every connection.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Says on stderr what the shutdown closed and cut, one connection per line.
fn print_shutdown(report: &crate::relay::server::Shutdown, grace: std::time::Duration) {
    for r in &report.closed {
        eprintln!("stopping: closed {r}");
    }
    if report.told > 0 {
        eprintln!(
            "stopping: told {} live client(s) to reconnect later (close 1001)",
            report.told
        );
    }
    for r in &report.cut {
        eprintln!(
            "stopping: cut {r} (still busy after the {} s grace)",
            grace.as_secs()
        );
    }
    eprintln!("relay stopped");
}

pub fn token(root: &Path, cmd: TokenCommand) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let tokens = Tokens::new(store.root());
    match cmd {
        TokenCommand::Add { role, channel } => {
            let role = Author::new(&role)?;
            let channel = store.channel(channel.channel.as_deref())?;
            let roster = channel.roster()?;
            if !roster.contains(&role) {
                return Err(crate::channel::Error::NotOnRoster {
                    author: role.to_string(),
                    channel: channel.name().to_string(),
                    roster: roster.names(),
                }
                .into());
            }
            let (token, rec) = tokens
                .add(role, &channel.name().to_string())
                .map_err(token_failure)?;
            println!("{token}");
            eprintln!(
                "token {} for {} on {}; it is shown only once. Revoke it with `warroom token revoke {}`",
                rec.id, rec.role, rec.channel, rec.id
            );
        }
        TokenCommand::Revoke { id } => {
            let rec = tokens.revoke(&id).map_err(token_failure)?;
            println!("{}", rec.id);
            eprintln!("revoked token {} ({} on {})", rec.id, rec.role, rec.channel);
        }
        TokenCommand::Ls { format } => {
            let list = tokens.list().map_err(token_failure)?;
            let mut out = std::io::stdout().lock();
            match format {
                Format::Json | Format::Ndjson => {
                    let public: Vec<_> = list
                        .iter()
                        .map(|t| {
                            serde_json::json!({
                                "id": t.id, "role": t.role, "channel": t.channel, "created": t.created
                            })
                        })
                        .collect();
                    serde_json::to_writer_pretty(&mut out, &public)?;
                    writeln!(out)?;
                }
                Format::Text | Format::Md => {
                    for t in &list {
                        writeln!(out, "{}  {}  {}  {}", t.id, t.role, t.channel, t.created)?;
                    }
                }
            }
            if list.is_empty() {
                eprintln!("no tokens; create one with `warroom token add --role ROLE`");
            }
        }
    }
    Ok(0)
}
