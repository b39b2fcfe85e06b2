//! Relay verbs: `serve` and `token add|revoke|ls`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::{Args, Subcommand};

use super::channel::ChannelArg;
use super::output::{self, Table, TableOutput};
use super::{Failure, target};
use crate::channel::entry::DEFAULT_MAX_BODY;
use crate::channel::{Author, Store};
use crate::relay::token::{TokenError, Tokens};
use crate::relay::{Config, RelayError};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port; the URL is printed on stdout.
    #[arg(long, default_value = "127.0.0.1:7700", value_name = "ADDR:PORT", value_parser = parse_bind)]
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
    #[command(after_help = "Examples:
  warroom token add --role pipeline --channel 2026-05-04--litellm-canary
  TOKEN=$(warroom token add --role traffic) && warroom agent traffic --relay http://127.0.0.1:7700 --token \"$TOKEN\" ...")]
    Add {
        /// The role the token posts as; it must be on the channel's roster (`warroom roster
        /// show`), and every entry posted with the token is that role's.
        #[arg(long, value_name = "ROLE")]
        role: String,
        #[command(flatten)]
        channel: ChannelArg,
    },
    /// Revoke a token by its id (see `token ls`) or by the token itself; effective at once.
    #[command(after_help = "Examples:
  warroom token revoke 3f9c0a1b2c4d
  warroom token revoke \"$TOKEN\"")]
    Revoke {
        #[arg(value_name = "ID|TOKEN")]
        id: String,
    },
    /// List tokens (ids, roles, channels; never the tokens).
    #[command(after_help = "Examples:
  warroom token ls
  warroom token ls -o json")]
    Ls {
        #[command(flatten)]
        output: TableOutput,
    },
}

/// Checks an `ADDR:PORT` listening address (a name such as `localhost:7700` is resolved when
/// binding).
pub(super) fn parse_bind(s: &str) -> Result<String, String> {
    let expected =
        "expected ADDR:PORT, e.g. 127.0.0.1:7700 or [::1]:7700 (port 0 picks a free port)";
    if s.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(s.to_owned());
    }
    match s.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && !host.contains(':')
                && !host.contains('/')
                && port.parse::<u16>().is_ok() =>
        {
            Ok(s.to_owned())
        }
        Some((_, port)) if port.parse::<u16>().is_err() => Err(format!(
            "{port:?} is not a port number (0-65535); {expected}"
        )),
        _ => Err(expected.to_owned()),
    }
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

/// Logs go to stderr; `WARROOM_LOG` sets the filter (default: warnings, and the relay's info).
pub(super) fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,warroom=info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::color::stderr())
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
        let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
        let stop = super::signal::listen();
        let shutdown = async move {
            let sig = stop.await;
            let _ = signal_tx.send(sig);
        };
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
        let report = crate::relay::serve(listener, config, shutdown)
            .await
            .map_err(relay_failure)?;
        print_shutdown(&report, grace);
        let sig = signal_rx.await.unwrap_or("a signal");
        super::signal::stopped(sig, &format!("relay on http://{addr}/ closed"));
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
}

pub fn token(root: &Path, cmd: TokenCommand) -> anyhow::Result<u8> {
    let store = Store::open(root)?;
    let tokens = Tokens::new(store.root());
    match cmd {
        TokenCommand::Add { role, channel } => {
            let role = Author::new(&role)?;
            let target = channel.resolve(&store)?;
            let channel = &target.channel;
            let roster = channel.roster()?;
            if !roster.contains(&role) {
                let e = crate::channel::Error::NotOnRoster {
                    author: role.to_string(),
                    channel: channel.name().to_string(),
                    roster: roster.names(),
                };
                return Err(target::explain(channel, e));
            }
            let (token, rec) = tokens
                .add(role, &channel.name().to_string())
                .map_err(token_failure)?;
            println!("{token}");
            target.announce();
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
        TokenCommand::Ls { output } => {
            let list = tokens.list().map_err(token_failure)?;
            let mut out = std::io::stdout().lock();
            let public: Vec<_> = list
                .iter()
                .map(|t| {
                    serde_json::json!({
                        "id": t.id, "role": t.role, "channel": t.channel, "created": t.created
                    })
                })
                .collect();
            if !output::structured(&mut out, output.output, &public)? {
                let mut table = Table::new(&[
                    ("ID", false),
                    ("ROLE", false),
                    ("CHANNEL", false),
                    ("CREATED", false),
                ]);
                for t in &list {
                    table.row(vec![
                        t.id.to_string(),
                        t.role.to_string(),
                        t.channel.to_string(),
                        t.created.to_string(),
                    ]);
                }
                if !list.is_empty() {
                    table.write(&mut out, output.output)?;
                }
            }
            if list.is_empty() {
                eprintln!("no tokens; create one with `warroom token add --role ROLE`");
            }
        }
    }
    Ok(0)
}
