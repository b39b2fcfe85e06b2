//! The live feed of one WebSocket client: replay after its cursor, `ready`, then live entries.
//!
//! The order of operations is the whole point: the session subscribes to the relay's broadcast
//! *before* it replays the files, so nothing appended in between is missed, and it drops every
//! entry whose seq is not above the client's cursor for that author, so nothing is sent twice.
//! When the broadcast has moved on without this client (it lagged), the session re-reads the
//! files from the client's cursor: a slow client gets slower, never misses an entry.
//!
//! [`session`] is generic over `Sink`/`Stream` of messages so it can be driven by channels in
//! a unit test and by a real socket in the server. It does not parse HTTP or check tokens.

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, MissedTickBehavior, timeout};

use super::{Live, Relay};
use crate::channel::{Author, Channel, Entry};
use crate::timeline::{Filter, Merge};

/// Close code sent when a client stops answering pings (application range).
pub const CLOSE_SILENT: u16 = 4000;
/// Close code sent when a client does not take its messages in time; it resumes by cursor.
pub const CLOSE_SLOW: u16 = 4001;
/// Close code sent on shutdown ("going away").
pub const CLOSE_SHUTDOWN: u16 = 1001;
/// Close code sent for a message over the size limit.
pub const CLOSE_TOO_BIG: u16 = 1009;

pub use crate::query::Cursor;

/// The JSON of an `entry` message: the entry and its body as sanitized HTML.
#[derive(Serialize)]
struct EntryMessage<'a> {
    r#type: &'static str,
    entry: &'a Entry,
    html: String,
}

/// Serializes an entry as a live-feed message.
pub fn entry_message(entry: &Entry) -> Utf8Bytes {
    let msg = EntryMessage {
        r#type: "entry",
        entry,
        html: super::markdown::to_html(&entry.body),
    };
    serde_json::to_string(&msg)
        .unwrap_or_else(|_| {
            r#"{"type":"alert","alert":{"message":"an entry could not be encoded"}}"#.to_owned()
        })
        .into()
}

fn ready_message(cursor: &Cursor) -> Message {
    Message::Text(
        serde_json::json!({"type": "ready", "cursor": cursor.to_string()})
            .to_string()
            .into(),
    )
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(reason),
    }))
}

/// Why a session ended (for the log).
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    ClientClosed,
    Silent,
    Slow,
    TooBig,
    Shutdown,
    SendFailed,
    Store(String),
}

/// Sends one message, giving up after the write timeout.
async fn send<S>(sink: &mut S, msg: Message, limit: Duration) -> Result<(), End>
where
    S: Sink<Message> + Unpin,
{
    match timeout(limit, sink.send(msg)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(End::SendFailed),
        Err(_) => Err(End::Slow),
    }
}

/// What the client said, as the session sees it: a sign of life, or the end.
fn client_message<E>(msg: Option<Result<Message, E>>) -> Result<(), End> {
    match msg {
        None | Some(Ok(Message::Close(_))) => Err(End::ClientClosed),
        // The transport refuses over-long messages (and other protocol errors).
        Some(Err(_)) => Err(End::TooBig),
        Some(Ok(_)) => Ok(()),
    }
}

/// The client's half of the socket and when it was last heard from. The session keeps
/// listening while it replays, so a client's Close is answered at once, not after the history.
struct Client<'a, R> {
    incoming: &'a mut R,
    heard: Instant,
}

/// What the replay thread hands over: an entry, or a gap in the record at its place.
enum Replayed {
    Entry(Author, u64, Utf8Bytes),
    Gap(Utf8Bytes),
}

/// Sends every entry of `channel` after `cursor` (timeline order) and advances the cursor;
/// damage met in the files (an altered entry, a broken chain, torn or unreadable bytes) is sent
/// at its place as a store alert with a gap marker, so a client that connects after the damage
/// sees it too. The files are read on a blocking thread; a small queue keeps memory bounded
/// however much there is to replay.
async fn replay<S, R, E>(
    sink: &mut S,
    client: &mut Client<'_, R>,
    relay: &Relay,
    channel: &Channel,
    cursor: &mut Cursor,
) -> Result<(), End>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let (tx, mut rx) = mpsc::channel::<Result<Replayed, String>>(64);
    let channel = channel.clone();
    let after = cursor.0.clone();
    let root = relay.store().root().to_owned();
    tokio::task::spawn_blocking(move || {
        let filter = Filter {
            after,
            ..Filter::default()
        };
        let name = channel.name().to_string();
        // Problems come while the merge reads past the entry before them: they are sent after
        // the entry that read returned.
        let found = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let sink = found.clone();
        let on_problem = move |p: crate::timeline::Problem| {
            if let Some(text) = gap_message(&root, &name, p) {
                sink.borrow_mut().push(text);
            }
        };
        let merge = match Merge::open(&channel, filter, on_problem) {
            Ok(m) => m,
            Err(e) => {
                let _ = tx.blocking_send(Err(e.to_string()));
                return;
            }
        };
        for item in merge {
            let msg = item
                .map(|e| Replayed::Entry(e.author.clone(), e.seq, entry_message(&e)))
                .map_err(|e| e.to_string());
            if tx.blocking_send(msg).is_err() {
                return; // the client went away
            }
            for gap in found.borrow_mut().drain(..) {
                if tx.blocking_send(Ok(Replayed::Gap(gap))).is_err() {
                    return;
                }
            }
        }
        for gap in found.borrow_mut().drain(..) {
            let _ = tx.blocking_send(Ok(Replayed::Gap(gap)));
        }
    });
    let limit = relay.config().write_timeout;
    loop {
        let item = tokio::select! {
            // The client first: a Close must not wait behind the rest of the history.
            biased;
            msg = client.incoming.next() => {
                client_message(msg)?;
                client.heard = Instant::now();
                continue;
            }
            item = rx.recv() => item,
        };
        let Some(item) = item else {
            return Ok(());
        };
        match item.map_err(End::Store)? {
            Replayed::Entry(author, seq, text) => {
                if seq <= cursor.get(&author) {
                    continue;
                }
                send(sink, Message::Text(text), limit).await?;
                cursor.set(&author, seq);
            }
            Replayed::Gap(text) => send(sink, Message::Text(text), limit).await?,
        }
    }
}

/// A problem found while replaying, as the store alert the follower would have raised.
fn gap_message(
    root: &std::path::Path,
    channel: &str,
    p: crate::timeline::Problem,
) -> Option<Utf8Bytes> {
    use crate::tail::{AlertReason, StoreAlert};
    use crate::timeline::ProblemKind;
    let gap = p.gap?;
    let reason = match p.kind {
        ProblemKind::Checksum => AlertReason::Checksum,
        ProblemKind::Chain | ProblemKind::Misplaced => AlertReason::Chain,
        ProblemKind::Garbage => AlertReason::Garbage,
        ProblemKind::Tail => AlertReason::TornTail,
        ProblemKind::NotRegular => AlertReason::Follow,
    };
    let file = p
        .path
        .strip_prefix(root)
        .unwrap_or(&p.path)
        .display()
        .to_string();
    Some(super::alert_text(&StoreAlert {
        channel: channel.to_owned(),
        author: Some(p.author.to_string()),
        reason,
        // Line 0: about the file as a whole (a name that is not a regular file).
        message: match p.line {
            0 => format!("skipping {file}: {}", p.message),
            line => format!("{file}:{line}: {}", p.message),
        },
        file,
        line: (p.line > 0).then_some(p.line),
        gap: Some(Box::new(gap)),
    }))
}

/// Sends the channel's alert states and every role's state (see [`super::console`]).
async fn console_snapshot<S>(sink: &mut S, relay: &Relay, channel: &Channel) -> Result<(), End>
where
    S: Sink<Message> + Unpin,
{
    let (r, ch) = (relay.clone(), channel.clone());
    let messages = tokio::task::spawn_blocking(move || super::console::snapshot(&r, &ch))
        .await
        .map_err(|e| End::Store(e.to_string()))?
        .map_err(End::Store)?;
    for text in messages {
        send(sink, Message::Text(text), relay.config().write_timeout).await?;
    }
    Ok(())
}

/// Runs one client's feed until it closes, falls silent, is too slow, or the relay shuts down.
pub async fn session<S, R, E>(
    mut sink: S,
    mut incoming: R,
    relay: Relay,
    channel: Channel,
    mut cursor: Cursor,
) -> End
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let end = run(&mut sink, &mut incoming, &relay, &channel, &mut cursor).await;
    let frame = match &end {
        End::Silent => Some(close(
            CLOSE_SILENT,
            "no pong for 60 s; reconnect with your cursor",
        )),
        End::Slow => Some(close(CLOSE_SLOW, "too slow; reconnect with your cursor")),
        End::TooBig => Some(close(CLOSE_TOO_BIG, "message too big")),
        End::Shutdown => Some(close(CLOSE_SHUTDOWN, "relay shutting down")),
        End::Store(_) => Some(close(1011, "cannot read the channel")),
        End::ClientClosed | End::SendFailed => None,
    };
    if let Some(f) = frame {
        let _ = timeout(Duration::from_secs(1), sink.send(f)).await;
    }
    let _ = timeout(Duration::from_secs(1), sink.close()).await;
    end
}

async fn run<S, R, E>(
    sink: &mut S,
    incoming: &mut R,
    relay: &Relay,
    channel: &Channel,
    cursor: &mut Cursor,
) -> End
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    let cfg = relay.config().clone();
    let name = channel.name().to_string();
    let mut client = Client {
        incoming,
        heard: Instant::now(),
    };
    // Subscribe first: whatever is appended while we replay is waiting in `rx`.
    let mut rx = relay.subscribe();
    let cancel = relay.cancel_token();
    let replayed = tokio::select! {
        r = replay(sink, &mut client, relay, channel, cursor) => r,
        _ = cancel.cancelled() => Err(End::Shutdown),
    };
    if let Err(end) = replayed {
        return end;
    }
    if let Err(end) = console_snapshot(sink, relay, channel).await {
        return end;
    }
    if let Err(end) = send(sink, ready_message(cursor), cfg.write_timeout).await {
        return end;
    }
    let mut ping = tokio::time::interval_at(Instant::now() + cfg.ping_every, cfg.ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The replay may have been long: the socket took it, so the client is alive.
    client.heard = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return End::Shutdown,
            live = rx.recv() => {
                let result = match live {
                    Ok(live) => deliver(sink, &mut client, relay, channel, &name, cursor, &live).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let mut r = replay(sink, &mut client, relay, channel, cursor).await;
                        // States and alert states skipped with the broadcast: send them anew.
                        if r.is_ok() {
                            r = console_snapshot(sink, relay, channel).await;
                        }
                        // Progress on the socket is a sign of life.
                        client.heard = Instant::now();
                        r
                    }
                    Err(broadcast::error::RecvError::Closed) => return End::Shutdown,
                };
                if let Err(end) = result {
                    return end;
                }
            }
            msg = client.incoming.next() => match client_message(msg) {
                Ok(()) => client.heard = Instant::now(),
                Err(end) => return end,
            },
            _ = ping.tick() => {
                if client.heard.elapsed() >= cfg.silence {
                    return End::Silent;
                }
                if let Err(end) = send(sink, Message::Ping(Default::default()), cfg.write_timeout).await {
                    return end;
                }
            }
        }
    }
}

/// Sends one broadcast item if it is for this channel and new to this client.
async fn deliver<S, R, E>(
    sink: &mut S,
    client: &mut Client<'_, R>,
    relay: &Relay,
    channel: &Channel,
    name: &str,
    cursor: &mut Cursor,
    live: &Live,
) -> Result<(), End>
where
    S: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, E>> + Unpin,
{
    if live.channel.as_deref().is_some_and(|c| c != name) {
        return Ok(());
    }
    let limit = relay.config().write_timeout;
    match &live.entry {
        Some((author, seq)) => {
            let have = cursor.get(author);
            if *seq <= have {
                return Ok(()); // already sent by the replay
            }
            if *seq > have + 1 {
                // A gap: the files have what the broadcast skipped.
                replay(sink, client, relay, channel, cursor).await?;
                if *seq <= cursor.get(author) {
                    return Ok(());
                }
            }
            send(sink, Message::Text(live.text.clone()), limit).await?;
            cursor.set(author, *seq);
            Ok(())
        }
        None => send(sink, Message::Text(live.text.clone()), limit).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::store::{PostOptions, Role};
    use crate::channel::{Draft, Kind, Store, Theme};
    use futures::channel::mpsc as fmpsc;

    fn post(ch: &Channel, author: &str, body: &str) -> Entry {
        ch.post(
            &Author::new(author).unwrap(),
            &Draft {
                kind: Kind::Note,
                refs: vec![],
                body: body.to_owned(),
                ..Default::default()
            },
            &PostOptions::default(),
        )
        .unwrap()
        .entry
    }

    fn kind_of(m: &Message) -> (String, Option<String>) {
        let Message::Text(t) = m else {
            return (format!("{m:?}"), None);
        };
        let v: serde_json::Value = serde_json::from_str(t).unwrap();
        (
            v["type"].as_str().unwrap().to_owned(),
            v.pointer("/entry/id")
                .and_then(|i| i.as_str())
                .map(str::to_owned),
        )
    }

    #[tokio::test]
    async fn replays_after_cursor_then_streams_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let ch = store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("x").unwrap(),
                vec![Role {
                    name: Author::new("pipeline").unwrap(),
                    title: None,
                    lane: None,
                }],
            )
            .unwrap();
        for i in 1..=3 {
            post(&ch, "pipeline", &format!("p{i}"));
        }
        let relay = Relay::new(
            super::super::Config::new(dir.path()),
            "127.0.0.1:7700".parse().unwrap(),
        )
        .unwrap();
        let (sink, mut out) = fmpsc::unbounded::<Message>();
        let (client, incoming) = fmpsc::unbounded::<Result<Message, std::convert::Infallible>>();
        let cursor = Cursor::parse("pipeline:1").unwrap();
        let task = tokio::spawn(session(sink, incoming, relay.clone(), ch.clone(), cursor));
        let mut got = Vec::new();
        while let Some(m) = out.next().await {
            let k = kind_of(&m);
            let done = k.0 == "ready";
            got.push(k);
            if done {
                break;
            }
        }
        let ids: Vec<_> = got.iter().filter_map(|(_, id)| id.clone()).collect();
        assert_eq!(ids, ["pipeline#2", "pipeline#3"]);
        // A duplicate from the broadcast (#3, already replayed) is dropped; #4 is delivered.
        let e4 = post(&ch, "pipeline", "p4");
        let e3 = Entry {
            seq: 3,
            id: crate::channel::EntryId::parse("pipeline#3").unwrap(),
            body: "p3".into(),
            ..e4.clone()
        };
        for e in [&e3, &e4] {
            relay.publish(Live {
                channel: Some(e.channel.clone()),
                entry: Some((e.author.clone(), e.seq)),
                text: entry_message(e),
            });
        }
        let next = out.next().await.unwrap();
        assert_eq!(kind_of(&next).1.as_deref(), Some("pipeline#4"));
        drop(client);
        assert_eq!(task.await.unwrap(), End::ClientClosed);
    }

    #[tokio::test(start_paused = true)]
    async fn pings_every_20_s_and_closes_a_silent_client_after_60_s() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let ch = store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("quiet").unwrap(),
                vec![],
            )
            .unwrap();
        let relay = Relay::new(
            super::super::Config::new(dir.path()),
            "127.0.0.1:7700".parse().unwrap(),
        )
        .unwrap();
        let (sink, mut out) = fmpsc::unbounded::<Message>();
        // A client that keeps its connection open and never says anything.
        let (_client, incoming) = fmpsc::unbounded::<Result<Message, std::convert::Infallible>>();
        let end = session(sink, incoming, relay, ch, Cursor::default()).await;
        assert_eq!(end, End::Silent);
        let mut kinds = Vec::new();
        while let Ok(m) = out.try_recv() {
            kinds.push(match m {
                Message::Text(t) => kind_of(&Message::Text(t)).0,
                Message::Ping(_) => "ping".into(),
                Message::Close(Some(f)) => format!("close {}", f.code),
                other => format!("{other:?}"),
            });
        }
        // The alert states (none yet) come before `ready`.
        assert_eq!(kinds, ["alerts", "ready", "ping", "ping", "close 4000"]);
    }

    #[tokio::test]
    async fn a_close_during_replay_ends_the_session_before_the_rest_of_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let ch = store
            .open_channel(
                chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
                Theme::new("long").unwrap(),
                vec![],
            )
            .unwrap();
        let mut w = ch.writer(&Author::operator(), false).unwrap();
        for i in 0..2000 {
            w.append(&Draft {
                kind: Kind::Note,
                refs: vec![],
                body: format!("history {i}"),
                ..Default::default()
            })
            .unwrap();
        }
        let relay = Relay::new(
            super::super::Config::new(dir.path()),
            "127.0.0.1:7700".parse().unwrap(),
        )
        .unwrap();
        let (sink, mut out) = fmpsc::unbounded::<Message>();
        let (client, incoming) = fmpsc::unbounded::<Result<Message, std::convert::Infallible>>();
        // The client says goodbye before the relay has sent anything.
        client.unbounded_send(Ok(close(1000, "bye"))).unwrap();
        let end = session(sink, incoming, relay, ch, Cursor::default()).await;
        assert_eq!(end, End::ClientClosed);
        let mut sent = 0;
        while let Ok(m) = out.try_recv() {
            assert_ne!(kind_of(&m).0, "ready", "the replay did not run to its end");
            sent += 1;
        }
        assert!(sent < 2000, "{sent} history messages sent after the close");
    }

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let c = Cursor::parse("traffic:40,pipeline:12").unwrap();
        assert_eq!(c.to_string(), "pipeline:12,traffic:40");
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        for bad in ["x", "x:y", "../a:1", "A:1", "a:-1"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
    }
}
