//! The relay (`warroom serve`): REST, the WebSocket live feed with cursor resume, bearer-token
//! writes, and the operator's web page.
//!
//! Data flows one way: [`crate::tail`] follows the store and, on its own thread, feeds one
//! broadcast; each WebSocket client ([`live::session`]) replays the files after its cursor and
//! then takes the broadcast. Writes (`POST`) go through [`crate::channel::Channel::post`] exactly like a local
//! writer; the relay never writes entry bytes itself and keeps no entries in memory beyond the
//! bounded broadcast ring.
//!
//! Safe by default: it binds 127.0.0.1, checks `Host` against an allowlist (DNS rebinding),
//! refuses WebSocket upgrades and posts from a foreign `Origin`, needs a token to write, and
//! bounds message sizes and per-client buffers.
//!
//! Bounded in connections and time: [`server`] accepts connections itself (hyper with a header
//! read timeout, deadlines for ordinary requests, a connection cap from `RLIMIT_NOFILE` that
//! sheds the oldest connection still waiting for its headers) and shuts down within
//! [`Config::shutdown_grace`] plus a second, reporting what it had to cut.
//!
//! # Layout
//! - [`server`]: the accept loop, each connection's life, shutdown.
//! - [`conns`]: the table of open connections, the cap and what to shed.
//! - [`api`]: the HTTP routes and their guards.
//! - [`live`]: one client's live feed.
//! - [`token`]: the token file.
//! - [`markdown`]: bodies as sanitized HTML.

pub mod api;
pub mod conns;
pub mod live;
pub mod markdown;
pub mod server;
pub mod token;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::channel::{Author, Store};
use crate::tail::{StoreAlert, TailEvent, TailOptions};

/// Errors that stop the relay.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] crate::channel::Error),
    #[error("cannot read the listening address")]
    Addr(#[source] std::io::Error),
    #[error("cannot start the thread that follows the store")]
    Follow(#[source] std::io::Error),
    #[error(
        "the descriptor limit (RLIMIT_NOFILE) is {nofile}: the relay keeps {reserve} for files and needs room for at least {min} connections; raise it with `ulimit -n 1024`",
        reserve = conns::MIN_RESERVE,
        min = conns::MIN_CONNECTIONS
    )]
    TooFewDescriptors { nofile: u64 },
}

impl RelayError {
    pub fn exit_code(&self) -> u8 {
        match self {
            RelayError::Store(e) => e.exit_code(),
            _ => 3,
        }
    }
}

/// How the relay runs. [`Config::new`] gives the defaults of DESIGN.md.
#[derive(Debug, Clone)]
pub struct Config {
    pub root: PathBuf,
    /// Extra `Host` values accepted besides loopback names with the bound port (e.g. a
    /// reverse proxy's name).
    pub allow_hosts: Vec<String>,
    /// Largest entry body accepted by `POST`.
    pub max_body: usize,
    /// Largest WebSocket message a client may send (clients only send small control text).
    pub max_ws_message: usize,
    /// Broadcast ring size: the memory shared by all clients for live entries.
    pub broadcast: usize,
    /// Bytes a client may have queued in its socket writer before sends wait.
    pub write_buffer: usize,
    /// How long one send may wait on a client before it is closed (it resumes by cursor).
    pub write_timeout: Duration,
    pub ping_every: Duration,
    /// Close a client not heard from for this long.
    pub silence: Duration,
    /// How long a connection may take to send a request's complete headers; also how long a
    /// keep-alive connection may sit idle between requests.
    pub header_timeout: Duration,
    /// How long an ordinary request may take, from its headers to the end of its response.
    /// Long-lived routes (the live feed; see [`api`]) have no such deadline.
    pub request_timeout: Duration,
    /// The soft `RLIMIT_NOFILE` the connection cap derives from ([`conns::Budget`]).
    pub nofile: u64,
    /// How long shutdown waits for requests in flight and clients to be told, before it cuts
    /// what is left.
    pub shutdown_grace: Duration,
    pub tail: TailOptions,
}

impl Config {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            allow_hosts: Vec::new(),
            max_body: crate::channel::entry::DEFAULT_MAX_BODY,
            max_ws_message: 64 * 1024,
            broadcast: 1024,
            write_buffer: 256 * 1024,
            write_timeout: Duration::from_secs(30),
            ping_every: Duration::from_secs(20),
            silence: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            // Linux always answers; 1024 is the usual soft limit should it not.
            nofile: conns::Budget::nofile_limit().unwrap_or(1024),
            shutdown_grace: Duration::from_secs(5),
            tail: TailOptions::default(),
        }
    }

    /// The connection cap for [`Config::nofile`], or why the relay cannot run with it.
    pub fn budget(&self) -> Result<conns::Budget, RelayError> {
        conns::Budget::for_limit(self.nofile).ok_or(RelayError::TooFewDescriptors {
            nofile: self.nofile,
        })
    }
}

/// One item of the broadcast: a pre-serialized message, shared by every client.
#[derive(Debug, Clone)]
pub struct Live {
    /// The channel it belongs to (`None`: every channel, e.g. a follower problem).
    pub channel: Option<String>,
    /// For entries, (author, seq): what cursors and duplicate checks need.
    pub entry: Option<(Author, u64)>,
    pub text: Utf8Bytes,
}

/// The relay's shared state: a cheap handle around Arcs.
#[derive(Clone)]
pub struct Relay {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    store: Store,
    tokens: token::Tokens,
    /// Entries and alerts from the follower to every client. A tokio broadcast because each
    /// client reads at its own pace and a lagging one must be told (it then re-reads files).
    live: broadcast::Sender<Arc<Live>>,
    /// `Host` values accepted (lowercase).
    hosts: Vec<String>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl Relay {
    /// The shared state for a relay reachable at `addr` (no tasks started).
    pub fn new(config: Config, addr: SocketAddr) -> Result<Self, RelayError> {
        let store = Store::open(&config.root)?;
        let (live, _) = broadcast::channel(config.broadcast.max(16));
        Ok(Relay {
            shared: Arc::new(Shared {
                hosts: allowed_hosts(addr, &config.allow_hosts),
                tokens: token::Tokens::new(store.root()),
                store,
                live,
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
                config,
            }),
        })
    }

    /// Sends an item to every live client (the follower's job; tests use it directly).
    pub fn publish(&self, live: Live) {
        // No receivers is fine: nobody is watching right now.
        let _ = self.shared.live.send(Arc::new(live));
    }

    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn tokens(&self) -> &token::Tokens {
        &self.shared.tokens
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Live>> {
        self.shared.live.subscribe()
    }

    pub fn cancel_token(&self) -> CancellationToken {
        self.shared.cancel.clone()
    }

    /// Resolves when the relay starts shutting down. A long-lived handler (a wait, an event
    /// stream) selects on it and ends its response: after [`Config::shutdown_grace`] the
    /// connection is cut anyway.
    pub fn shutting_down(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.shared.cancel.clone().cancelled_owned()
    }

    pub fn tasks(&self) -> &TaskTracker {
        &self.shared.tasks
    }

    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.shared.hosts.contains(&host)
    }
}

#[derive(Serialize)]
struct AlertMessage<'a> {
    r#type: &'static str,
    alert: &'a StoreAlert,
}

/// Runs the relay on `listener` until `shutdown` resolves, then shuts down: it stops
/// accepting, closes connections that have nothing in flight, tells live clients (close 1001),
/// lets requests in flight finish for up to [`Config::shutdown_grace`], cuts what is left, and
/// returns what it closed and cut.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7700").await?;
/// let config = warroom::relay::Config::new(std::path::Path::new("channels"));
/// let ctrl_c = async {
///     let _ = tokio::signal::ctrl_c().await;
/// };
/// let report = warroom::relay::serve(listener, config, ctrl_c).await?;
/// for cut in &report.cut {
///     eprintln!("cut {cut}");
/// }
/// # Ok(())
/// # }
/// ```
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<server::Shutdown, RelayError> {
    let budget = config.budget()?;
    let addr = listener.local_addr().map_err(RelayError::Addr)?;
    let relay = Relay::new(config, addr)?;
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let root = relay.store().root().to_owned();
    let publisher = Publisher {
        relay: relay.clone(),
        root: root.canonicalize().unwrap_or_else(|_| root.clone()),
        synced: Some(synced_tx),
    };
    crate::tail::spawn(&root, relay.config().tail.clone(), publisher)
        .map_err(RelayError::Follow)?;
    let mut shutdown = Box::pin(shutdown);
    // Clients are accepted once the follower has its bearings: an entry appended before that
    // would otherwise be history to the follower yet missing from a client's replay.
    tokio::select! {
        _ = synced_rx => {}
        _ = &mut shutdown => {
            relay.shared.cancel.cancel();
            return Ok(server::Shutdown::default());
        }
    }
    let app = api::router(relay.clone());
    let report = server::run(listener, app, &relay, budget, shutdown).await;
    Ok(report)
}

/// Loopback names with the bound port, the bound address itself, and the configured extras.
fn allowed_hosts(addr: SocketAddr, extra: &[String]) -> Vec<String> {
    let port = addr.port();
    let mut hosts = vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        addr.to_string(),
    ];
    for h in extra {
        let h = h.to_ascii_lowercase();
        if h.contains(':') && !h.ends_with(']') {
            hosts.push(h);
        } else {
            hosts.push(format!("{h}:{port}"));
            hosts.push(h);
        }
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// Turns what the follower finds into broadcast items, on the follower's own thread: rendering
/// and `broadcast::send` never block, and skipping a hop to an async task keeps the
/// append-to-client latency down.
struct Publisher {
    relay: Relay,
    /// The follower reports canonical paths; clients see them relative to the store.
    root: PathBuf,
    synced: Option<tokio::sync::oneshot::Sender<()>>,
}

impl crate::tail::Consumer for Publisher {
    fn take(&mut self, item: Result<TailEvent, crate::tail::TailError>) -> bool {
        let live = match item {
            Ok(TailEvent::Synced) => {
                if let Some(tx) = self.synced.take() {
                    let _ = tx.send(());
                }
                return true;
            }
            Ok(TailEvent::Entry(e)) => Live {
                channel: Some(e.channel.clone()),
                entry: Some((e.author.clone(), e.seq)),
                text: live::entry_message(&e),
            },
            Ok(TailEvent::Alert(mut a)) => {
                tracing::warn!("{}", a.message);
                if let Ok(rel) = Path::new(&a.file).strip_prefix(&self.root) {
                    a.file = rel.display().to_string();
                    a.message = a.message.replace(&format!("{}/", self.root.display()), "");
                }
                alert_live(Some(a.channel.clone()), &a)
            }
            Err(e) => {
                tracing::warn!("{e}");
                let a = StoreAlert {
                    channel: String::new(),
                    author: None,
                    reason: crate::tail::AlertReason::Follow,
                    file: String::new(),
                    line: None,
                    message: e.to_string(),
                };
                alert_live(None, &a)
            }
        };
        self.relay.publish(live);
        !self.gone()
    }

    fn gone(&self) -> bool {
        self.relay.shared.cancel.is_cancelled()
    }
}

fn alert_live(channel: Option<String>, a: &StoreAlert) -> Live {
    let text = serde_json::to_string(&AlertMessage {
        r#type: "alert",
        alert: a,
    })
    .unwrap_or_else(|_| r#"{"type":"alert","alert":{"message":"store alert"}}"#.to_owned());
    Live {
        channel,
        entry: None,
        text: text.into(),
    }
}
