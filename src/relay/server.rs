//! The relay's accept loop and the life of each connection: HTTP/1.1 through hyper with a
//! header read timeout, a connection cap with shedding, deadlines for ordinary requests, and
//! the shutdown sequence (graceful first, then forced).
//!
//! `axum::serve` has none of these knobs, so the relay accepts connections itself and hands
//! each to hyper's HTTP/1 connection builder with a Tokio timer:
//! - A connection that has not sent a request's complete headers within
//!   [`super::Config::header_timeout`] is closed by hyper. That covers a new connection and a
//!   keep-alive one between requests (hyper starts the same timer when it waits for the next
//!   request), so it is also the idle timeout of plain HTTP.
//! - An ordinary request must be answered, body and all, within
//!   [`super::Config::request_timeout`]; routes marked long-lived (see [`super::api`]) and
//!   upgraded WebSockets have no deadline and keep themselves alive (pings).
//! - At the connection cap ([`super::conns::Budget`]) a new connection sheds the one that has
//!   waited longest for its headers; if none is waiting, the new one is answered 503.
//!
//! This module owns sockets and hyper; it does not know routes (it only marks an upgraded
//! connection as a stream when a response switches protocols) and never touches the store.

use std::convert::Infallible;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, Response, StatusCode};
use hyper::body::{Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::Relay;
use super::conns::{Budget, Conn, Conns, Report, RequestGuard};

/// What a shutdown did to the connections still open, for the operator.
#[derive(Debug, Default)]
pub struct Shutdown {
    /// Closed at once because they had no request in flight (waiting for headers, idle
    /// keep-alive).
    pub closed: Vec<Report>,
    /// Still busy when the grace period ended, cut without finishing.
    pub cut: Vec<Report>,
    /// Live feeds told to reconnect later (close code 1001) that ended in time.
    pub told: usize,
}

/// How often ordinary requests are checked against their deadline.
const REAP_EVERY: Duration = Duration::from_secs(1);
/// How long the shedding and refusal counts are gathered before they are logged again.
const PRESSURE_LOG_EVERY: Duration = Duration::from_secs(10);
/// After an accept error that is not about descriptors, before accepting again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown` resolves, then shuts down within
/// `relay.config().shutdown_grace` plus a second.
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    relay: &Relay,
    budget: Budget,
    shutdown: impl Future<Output = ()>,
) -> Shutdown {
    let cfg = relay.config().clone();
    let conns = Conns::new();
    let tasks = TaskTracker::new();
    let stopping = CancellationToken::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout)
        .keep_alive(true);

    let reaper = tokio::spawn(reap(conns.clone(), cfg.request_timeout));
    let mut pressure = Pressure::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            _ = &mut shutdown => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((tcp, peer)) => {
                if conns.len() >= budget.cap {
                    if let Some(r) = conns.shed_oldest_waiting() {
                        tracing::debug!("shed {r}");
                        pressure.shed += 1;
                    } else {
                        pressure.refused += 1;
                        refuse(&tcp, budget.cap);
                        pressure.log(budget.cap);
                        continue;
                    }
                }
                pressure.log(budget.cap);
                // Small live messages must not wait for Nagle.
                let _ = tcp.set_nodelay(true);
                let conn = conns.open(peer);
                tasks.spawn(connection(
                    tcp,
                    conn,
                    app.clone(),
                    http.clone(),
                    stopping.clone(),
                ));
                // Let connection tasks read what their clients sent before accepting more: a
                // burst of accepts must not make a real client's connection look idle.
                tokio::task::yield_now().await;
            }
            Err(e) if out_of_descriptors(&e) => {
                // Descriptors ran out below the cap (store files, replays): make room by
                // shedding, or wait a little rather than spin.
                pressure.exhausted += 1;
                pressure.log(budget.cap);
                if conns.shed_oldest_waiting().is_none() {
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            }
            // A connection that failed between SYN and accept: nothing to do.
            Err(e) => {
                tracing::debug!("accept: {e}");
                tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
            }
        }
    }
    drop(listener);
    tracing::debug!("stopping: {} connection(s) open", conns.len());

    // Graceful: nothing in flight on connections waiting for headers; live feeds get a close
    // frame (1001) and long-lived handlers end; hyper finishes each request in flight.
    let mut report = Shutdown {
        closed: conns.cut_waiting(),
        ..Shutdown::default()
    };
    let feeds = relay.tasks().len();
    relay.shared.cancel.cancel();
    stopping.cancel();
    tasks.close();
    relay.tasks().close();
    let all_done = || async {
        tasks.wait().await;
        relay.tasks().wait().await;
    };
    if tokio::time::timeout(cfg.shutdown_grace, all_done())
        .await
        .is_err()
    {
        // Forced: whatever is still open is cut (its task drops the socket).
        report.cut = conns.cut_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), all_done()).await;
    }
    reaper.abort();
    report.told = feeds.saturating_sub(
        report
            .cut
            .iter()
            .filter(|r| matches!(r.doing, super::conns::Doing::Stream { .. }))
            .count(),
    );
    report
}

/// Serves one connection until it ends, is cut, or finishes after a graceful shutdown.
async fn connection(
    tcp: TcpStream,
    conn: Conn,
    app: Router,
    http: http1::Builder,
    stopping: CancellationToken,
) {
    // hyper reads and parses whatever the client already sent in the first poll below, with
    // no await in between: a connection still waiting for headers after this is slow.
    conn.reading();
    let for_service = conn.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let app = app.clone();
        let conn = for_service.clone();
        async move { Ok::<_, Infallible>(handle(app, conn, req).await) }
    });
    let mut serving = pin!(
        http.serve_connection(TokioIo::new(tcp), service)
            .with_upgrades()
    );
    let mut graceful = false;
    loop {
        tokio::select! {
            r = serving.as_mut() => {
                if let Err(e) = r {
                    // Header timeouts, resets, malformed requests: the client's business.
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = conn.cut() => return,
            _ = stopping.cancelled(), if !graceful => {
                graceful = true;
                serving.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Runs one request through the router, keeping the connection's books: the request lasts
/// until its response body is dropped (written or abandoned).
async fn handle(app: Router, conn: Conn, mut req: Request<Incoming>) -> Response<Tracked> {
    let what = describe(&req);
    let guard = conn.request(what.clone());
    req.extensions_mut().insert(conn.clone());
    let resp = app
        .oneshot(req.map(Body::new))
        .await
        .unwrap_or_else(|e| match e {});
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        conn.upgraded(format!("WebSocket ({what})"));
    }
    resp.map(|body| Tracked {
        body,
        _guard: guard,
    })
}

/// `METHOD /path` for logs, bounded (the path is the client's).
fn describe<B>(req: &Request<B>) -> String {
    let path = req.uri().path();
    let mut end = path.len().min(120);
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < path.len() { "…" } else { "" };
    format!("{} {}{more}", req.method(), &path[..end])
}

/// A response body that ends its request's span when hyper is done with it.
pub(super) struct Tracked {
    body: Body,
    _guard: RequestGuard,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Cuts ordinary requests past their deadline (slow uploads, clients that do not read).
async fn reap(conns: Conns, limit: Duration) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for r in conns.cut_overdue(limit) {
            tracing::warn!(
                "cut {r}: an ordinary request must be answered within {} s",
                limit.as_secs()
            );
        }
    }
}

/// Best effort: tells a client the relay is full, without waiting on it.
fn refuse(tcp: &TcpStream, cap: usize) {
    let body = format!(
        "{{\"error\":\"the relay is at its connection cap ({cap}); retry shortly, or raise its descriptor limit (ulimit -n)\"}}"
    );
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tcp.try_write(resp.as_bytes());
}

fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Counts of what the cap did, logged at most every [`PRESSURE_LOG_EVERY`].
#[derive(Default)]
struct Pressure {
    shed: u64,
    refused: u64,
    exhausted: u64,
    last_log: Option<Instant>,
}

impl Pressure {
    fn log(&mut self, cap: usize) {
        if self.shed + self.refused + self.exhausted == 0 {
            return;
        }
        let now = Instant::now();
        if self
            .last_log
            .is_some_and(|t| now.duration_since(t) < PRESSURE_LOG_EVERY)
        {
            return;
        }
        self.last_log = Some(now);
        tracing::warn!(
            "at the connection cap ({cap}): dropped {} connection(s) that had not sent their request headers (oldest first), refused {} (nothing to drop), {} accept(s) out of descriptors; raise `ulimit -n` if these are real clients",
            self.shed,
            self.refused,
            self.exhausted
        );
        self.shed = 0;
        self.refused = 0;
        self.exhausted = 0;
    }
}
