//! The relay's open connections: how many it may hold, what each one is doing, and which one
//! to drop first when it is full.
//!
//! Every accepted TCP connection gets a [`Conn`] handle: the server's connection task holds
//! one, each request carries one in its extensions, and an upgraded WebSocket's session keeps
//! one for as long as the socket lives. The entry leaves the table when the last handle is
//! dropped, so the table counts exactly the sockets the relay holds.
//!
//! A connection is always in one of three states ([`Doing`]): waiting for a request's headers
//! (new, or a keep-alive connection between requests), serving an ordinary request (which has
//! a deadline), or serving a long-lived request or stream (a WebSocket feed, a long wait:
//! no deadline, never shed). Under pressure the oldest connection that is waiting for headers
//! is shed first: it has sent nothing the relay could serve.
//!
//! This module only keeps books and fires cancellation tokens; it never touches a socket
//! ([`super::server`] does).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// File descriptors kept back from connections, at least: the store's files (posts open an
/// author file and its lock, each live client's replay opens every author file of its
/// channel), the follower, the listener, the runtime and stdio.
pub const MIN_RESERVE: u64 = 64;
/// The fewest connections the relay will run with.
pub const MIN_CONNECTIONS: usize = 16;

/// How many connections the relay may hold: its file-descriptor limit minus a reserve for
/// everything else it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The soft `RLIMIT_NOFILE` the relay started with.
    pub nofile: u64,
    /// Descriptors kept back for store files and the relay's own needs.
    pub reserve: u64,
    /// The connection cap: `nofile - reserve`.
    pub cap: usize,
}

impl Budget {
    /// The budget for a descriptor limit: a quarter of it, at least [`MIN_RESERVE`], is kept
    /// back (more connections mean more concurrent replays and posts, so the reserve grows
    /// with the limit). `None` when fewer than [`MIN_CONNECTIONS`] would remain.
    pub fn for_limit(nofile: u64) -> Option<Budget> {
        let reserve = (nofile / 4).max(MIN_RESERVE);
        let cap = nofile.checked_sub(reserve)?;
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        (cap >= MIN_CONNECTIONS).then_some(Budget {
            nofile,
            reserve,
            cap,
        })
    }

    /// Reads the soft `RLIMIT_NOFILE` of this process.
    pub fn nofile_limit() -> std::io::Result<u64> {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes one rlimit into the struct we own.
        let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // RLIM_INFINITY is u64::MAX: the cap is then effectively unbounded.
        Ok(lim.rlim_cur)
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "connection cap {} (RLIMIT_NOFILE {} minus {} kept for files)",
            self.cap, self.nofile, self.reserve
        )
    }
}

/// What a connection is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Doing {
    /// Waiting for a request's headers: a new connection, or a keep-alive one between
    /// requests (`served` requests so far).
    AwaitingHeaders { since: Instant, served: u64 },
    /// An ordinary request, from its headers to the end of its response: it has a deadline.
    Request { what: String, since: Instant },
    /// A long-lived request (a wait, an event stream): no deadline, never shed. It ends when
    /// the relay shuts down.
    LongLived { what: String, since: Instant },
    /// An upgraded connection (a WebSocket feed) until the socket closes.
    Stream { what: String, since: Instant },
}

impl Doing {
    fn since(&self) -> Instant {
        match self {
            Doing::AwaitingHeaders { since, .. }
            | Doing::Request { since, .. }
            | Doing::LongLived { since, .. }
            | Doing::Stream { since, .. } => *since,
        }
    }
}

/// One connection, described for a log line: peer, what it was doing, for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub peer: SocketAddr,
    pub doing: Doing,
    /// How long it had been doing it.
    pub for_: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.for_.as_secs_f64();
        match &self.doing {
            Doing::AwaitingHeaders { served: 0, .. } => write!(
                f,
                "{}: had not sent its request headers after {secs:.1} s",
                self.peer
            ),
            Doing::AwaitingHeaders { served, .. } => write!(
                f,
                "{}: idle keep-alive after {served} request(s), for {secs:.1} s",
                self.peer
            ),
            Doing::Request { what, .. } | Doing::LongLived { what, .. } => {
                write!(f, "{}: {what}, in flight for {secs:.1} s", self.peer)
            }
            Doing::Stream { what, .. } => {
                write!(f, "{}: {what}, open for {secs:.1} s", self.peer)
            }
        }
    }
}

/// The table of open connections: a cheap handle.
#[derive(Clone, Default)]
pub struct Conns {
    /// A std mutex: every critical section is a few map operations, never held across an
    /// await, and the handle's `Drop` (which must not block on an async lock) takes it too.
    table: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    next: u64,
    open: BTreeMap<u64, Slot>,
}

struct Slot {
    peer: SocketAddr,
    doing: Doing,
    /// Fired to drop the connection (shed, deadline, forced shutdown).
    cut: CancellationToken,
    /// Already told to go: not counted against the cap any more.
    cut_fired: bool,
    /// Requests served so far (for the description of an idle keep-alive connection).
    served: u64,
    /// The server has started reading it: bytes already sent are being parsed.
    read_from: bool,
}

impl Slot {
    fn report(&self, now: Instant) -> Report {
        Report {
            peer: self.peer,
            doing: self.doing.clone(),
            for_: now.saturating_duration_since(self.doing.since()),
        }
    }
}

impl Conns {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // A panic while holding the lock leaves a consistent map (no multi-step updates).
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a freshly accepted connection, waiting for its first request's headers.
    pub fn open(&self, peer: SocketAddr) -> Conn {
        let cut = CancellationToken::new();
        let mut t = self.lock();
        let id = t.next;
        t.next += 1;
        t.open.insert(
            id,
            Slot {
                peer,
                doing: Doing::AwaitingHeaders {
                    since: Instant::now(),
                    served: 0,
                },
                cut: cut.clone(),
                cut_fired: false,
                served: 0,
                read_from: false,
            },
        );
        Conn(Arc::new(ConnInner {
            id,
            conns: self.clone(),
            cut,
        }))
    }

    /// Open connections that have not been told to go.
    pub fn len(&self) -> usize {
        self.lock().open.values().filter(|s| !s.cut_fired).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every open connection, oldest activity first.
    pub fn snapshot(&self) -> Vec<Report> {
        let now = Instant::now();
        let mut all: Vec<_> = self.lock().open.values().map(|s| s.report(now)).collect();
        all.sort_by_key(|r| std::cmp::Reverse(r.for_));
        all
    }

    /// Cuts the connection that has waited longest for request headers; `None` when no
    /// connection is waiting. In this order: connections the server has read from that still
    /// have not sent a complete request (a slowloris), then connections not read from yet (an
    /// accept burst can outrun the tasks that would read a real client's request), then idle
    /// keep-alive connections (a client already served: closing it races with its next
    /// request). Oldest first within each.
    pub fn shed_oldest_waiting(&self) -> Option<Report> {
        let now = Instant::now();
        let mut t = self.lock();
        let slot = t
            .open
            .values_mut()
            .filter_map(|s| match s.doing {
                Doing::AwaitingHeaders { since, served } if !s.cut_fired => {
                    let tier = match (served, s.read_from) {
                        (0, true) => 0,
                        (0, false) => 1,
                        _ => 2,
                    };
                    Some(((tier, since), s))
                }
                _ => None,
            })
            .min_by_key(|(key, _)| *key)?
            .1;
        Some(fire(slot, now))
    }

    /// Cuts every connection waiting for request headers (shutdown: they have nothing in
    /// flight).
    pub fn cut_waiting(&self) -> Vec<Report> {
        self.cut_where(|d| matches!(d, Doing::AwaitingHeaders { .. }))
    }

    /// Cuts ordinary requests in flight for longer than `limit`.
    pub fn cut_overdue(&self, limit: Duration) -> Vec<Report> {
        let now = Instant::now();
        self.cut_where(|d| {
            matches!(d, Doing::Request { since, .. } if now.saturating_duration_since(*since) > limit)
        })
    }

    /// Cuts every connection (the end of a shutdown's grace period).
    pub fn cut_all(&self) -> Vec<Report> {
        self.cut_where(|_| true)
    }

    fn cut_where(&self, pick: impl Fn(&Doing) -> bool) -> Vec<Report> {
        let now = Instant::now();
        let mut t = self.lock();
        t.open
            .values_mut()
            .filter(|s| !s.cut_fired && pick(&s.doing))
            .map(|s| fire(s, now))
            .collect()
    }

    fn set(&self, id: u64, f: impl FnOnce(&mut Doing)) {
        if let Some(slot) = self.lock().open.get_mut(&id) {
            f(&mut slot.doing);
        }
    }
}

fn fire(slot: &mut Slot, now: Instant) -> Report {
    slot.cut_fired = true;
    slot.cut.cancel();
    slot.report(now)
}

/// A handle on one open connection; the connection leaves the table when the last clone is
/// dropped. Long-lived handlers find it in the request's extensions.
#[derive(Clone)]
pub struct Conn(Arc<ConnInner>);

struct ConnInner {
    id: u64,
    conns: Conns,
    cut: CancellationToken,
}

impl Drop for ConnInner {
    fn drop(&mut self) {
        self.conns.lock().open.remove(&self.id);
    }
}

impl Conn {
    /// Marks that the server is about to read the connection: from now on, a connection
    /// still waiting for headers has had its chance to send them.
    pub fn reading(&self) {
        if let Some(slot) = self.0.conns.lock().open.get_mut(&self.0.id) {
            slot.read_from = true;
        }
    }

    /// Marks the start of a request (its headers have arrived). The returned guard marks its
    /// end when dropped: the server ties it to the response body, so the request lasts until
    /// its response is written.
    pub fn request(&self, what: String) -> RequestGuard {
        self.0.conns.set(self.0.id, |d| {
            *d = Doing::Request {
                what,
                since: Instant::now(),
            }
        });
        RequestGuard { conn: self.clone() }
    }

    /// Marks the current request as long-lived: no deadline, never shed. Its handler must end
    /// it when the relay shuts down ([`super::Relay::shutting_down`]).
    pub fn long_lived(&self) {
        self.0.conns.set(self.0.id, |d| {
            if let Doing::Request { what, since } = d {
                *d = Doing::LongLived {
                    what: std::mem::take(what),
                    since: *since,
                };
            }
        });
    }

    /// Marks the connection as upgraded (a WebSocket): it stays a stream until it closes.
    pub fn upgraded(&self, what: String) {
        self.0.conns.set(self.0.id, |d| {
            *d = Doing::Stream {
                what,
                since: Instant::now(),
            }
        });
    }

    /// Resolves when the relay decides to drop this connection.
    pub async fn cut(&self) {
        self.0.cut.cancelled().await
    }

    pub fn is_cut(&self) -> bool {
        self.0.cut.is_cancelled()
    }

    fn finish_request(&self) {
        if let Some(slot) = self.0.conns.lock().open.get_mut(&self.0.id)
            && let Doing::Request { .. } | Doing::LongLived { .. } = slot.doing
        {
            slot.served += 1;
            slot.doing = Doing::AwaitingHeaders {
                since: Instant::now(),
                served: slot.served,
            };
        }
    }
}

/// The span of one request; see [`Conn::request`].
pub struct RequestGuard {
    conn: Conn,
}

impl RequestGuard {
    /// The handle of the connection this request came on.
    pub fn conn(&self) -> &Conn {
        &self.conn
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.conn.finish_request();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn the_budget_keeps_a_reserve_that_grows_with_the_limit() {
        let b = Budget::for_limit(1024).unwrap();
        assert_eq!((b.reserve, b.cap), (256, 768));
        let b = Budget::for_limit(128).unwrap();
        assert_eq!((b.reserve, b.cap), (64, 64));
        assert_eq!(Budget::for_limit(79), None);
        assert_eq!(Budget::for_limit(80).unwrap().cap, 16);
        assert!(Budget::for_limit(u64::MAX).unwrap().cap > 1 << 40);
        assert_eq!(
            Budget::for_limit(1024).unwrap().to_string(),
            "connection cap 768 (RLIMIT_NOFILE 1024 minus 256 kept for files)"
        );
        assert!(Budget::nofile_limit().unwrap() > 0);
    }

    #[tokio::test(start_paused = true)]
    async fn sheds_the_connection_waiting_longest_for_headers_and_never_a_busy_one() {
        let conns = Conns::new();
        let oldest_busy = conns.open(peer(1));
        let _req = oldest_busy.request("GET /api/channels".into());
        tokio::time::advance(Duration::from_secs(1)).await;
        let old = conns.open(peer(2));
        old.reading();
        tokio::time::advance(Duration::from_secs(1)).await;
        let young = conns.open(peer(3));
        young.reading();
        let ws = conns.open(peer(4));
        ws.upgraded("WebSocket live feed".into());
        assert_eq!(conns.len(), 4);

        let shed = conns.shed_oldest_waiting().unwrap();
        assert_eq!(shed.peer, peer(2));
        assert!(old.is_cut() && !young.is_cut());
        assert_eq!(
            shed.to_string(),
            "127.0.0.1:2: had not sent its request headers after 1.0 s"
        );
        assert_eq!(conns.len(), 3, "a shed connection no longer counts");
        assert_eq!(conns.shed_oldest_waiting().unwrap().peer, peer(3));
        assert_eq!(conns.shed_oldest_waiting(), None, "busy and streams stay");
        drop((old, young));
        assert_eq!(conns.snapshot().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_senders_go_first_then_unread_connections_then_idle_clients() {
        let conns = Conns::new();
        let client = conns.open(peer(1));
        client.reading();
        drop(client.request("GET /api/channels".into()));
        tokio::time::advance(Duration::from_secs(1)).await;
        let unread = conns.open(peer(2));
        let slow: Vec<_> = (3..6).map(|p| conns.open(peer(p))).collect();
        slow.iter().for_each(Conn::reading);
        let order: Vec<_> = (0..5)
            .map(|_| conns.shed_oldest_waiting().unwrap())
            .collect();
        let ports: Vec<_> = order.iter().map(|r| r.peer.port()).collect();
        assert_eq!(ports, [3, 4, 5, 2, 1]);
        assert_eq!(
            order[4].to_string(),
            "127.0.0.1:1: idle keep-alive after 1 request(s), for 1.0 s"
        );
        drop((unread, slow));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_have_deadlines_long_lived_ones_do_not_and_all_go_back_to_waiting() {
        let conns = Conns::new();
        let plain = conns.open(peer(1));
        let waiter = conns.open(peer(2));
        let g1 = plain.request("POST /api/channels/x/entries".into());
        let g2 = waiter.request("POST /mcp".into());
        waiter.long_lived();
        tokio::time::advance(Duration::from_secs(61)).await;
        let cut = conns.cut_overdue(Duration::from_secs(60));
        assert_eq!(cut.len(), 1);
        assert_eq!(
            cut[0].to_string(),
            "127.0.0.1:1: POST /api/channels/x/entries, in flight for 61.0 s"
        );
        assert!(plain.is_cut() && !waiter.is_cut());
        drop(g2);
        assert!(matches!(
            conns.snapshot()[..],
            [
                ..,
                Report {
                    doing: Doing::AwaitingHeaders { served: 1, .. },
                    ..
                }
            ]
        ));
        // An upgrade outlives the request that asked for it.
        let g3 = waiter.request("GET /live".into());
        waiter.upgraded("WebSocket".into());
        drop(g3);
        assert!(
            conns
                .snapshot()
                .iter()
                .any(|r| matches!(r.doing, Doing::Stream { .. }))
        );
        drop(g1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_entry_lives_until_the_last_handle_and_shutdown_reports_what_it_cut() {
        let conns = Conns::new();
        let a = conns.open(peer(1));
        let a2 = a.clone();
        drop(a);
        assert_eq!(conns.len(), 1);
        let b = conns.open(peer(2));
        let _g = b.request("GET /".into());
        let waiting = conns.cut_waiting();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].peer, peer(1));
        let rest = conns.cut_all();
        assert_eq!(rest.len(), 1, "not reported twice");
        assert_eq!(rest[0].peer, peer(2));
        drop(a2);
        assert_eq!(conns.snapshot().len(), 1);
    }
}
