//! The operator's console on the relay: what the page shows beside the feed.
//!
//! - **State**: observers' state documents ([`crate::state`]) reach clients as
//!   `{"type":"state","channel","role","age_ms","state":{…}}` — from the files when a client
//!   connects (and after it lagged), then live from the follower. `age_ms` is how long ago the
//!   file was written by the relay's clock, so a page can judge staleness without trusting the
//!   observer's clock. A bad state file reaches clients as a store alert (reason `state`).
//! - **Alerts**: the alert and question states of a channel ([`crate::alerts`]) as
//!   `{"type":"alerts","channel","open","alerts":[…],"questions":[…]}`, the whole list each
//!   time an alert, ack, resolved, question or answer arrives. The relay keeps one
//!   [`Book`] per channel (alerts and replies only, never bodies of observations), loaded
//!   from the files the first time it is needed.
//! - REST: `GET /api/channels/{ch}/state`, `PUT /api/channels/{ch}/state/{role}` (a remote
//!   observer with its token), `GET /api/channels/{ch}/alerts`.
//!
//! It never writes entry bytes; a state `PUT` goes through [`crate::state::file::write`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use axum::Json;
use axum::Router;
use axum::extract::ws::Utf8Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Relay;
use super::api::{ApiError, authorize, blocking, channel, check_origin};
use crate::alerts::{self, AlertStatus, Book, QuestionStatus};
use crate::channel::{Author, Channel, Entry};
use crate::state::{StateDoc, file};
use crate::tail::{AlertReason, StoreAlert};

/// Per-channel alert books, shared by the follower thread and the sessions.
#[derive(Default)]
pub struct Console {
    /// A std mutex: it is only held on blocking threads (the follower, `spawn_blocking`),
    /// never across an await, and loading a book under it keeps two loaders from racing.
    books: Mutex<HashMap<String, Book>>,
}

#[derive(Serialize)]
struct AlertsMessage<'a> {
    r#type: &'static str,
    channel: &'a str,
    open: usize,
    alerts: &'a [AlertStatus],
    questions: &'a [QuestionStatus],
}

fn alerts_message(channel: &str, book: &Book) -> Utf8Bytes {
    let list = book.alerts();
    let open = list
        .iter()
        .filter(|a| a.id == a.thread && a.state == alerts::State::Open)
        .count();
    serde_json::to_string(&AlertsMessage {
        r#type: "alerts",
        channel,
        open,
        alerts: &list,
        questions: &book.unanswered(),
    })
    .unwrap_or_else(|_| {
        r#"{"type":"alert","alert":{"message":"alert states could not be encoded"}}"#.into()
    })
    .into()
}

impl Console {
    /// Takes an entry the follower found (blocking: may load the channel's book from its
    /// files). Returns the alerts message to broadcast when the entry changes alert states.
    pub fn entry(&self, relay: &Relay, e: &Entry) -> Option<Utf8Bytes> {
        let mut books = self.books.lock().unwrap_or_else(|p| p.into_inner());
        if !books.contains_key(&e.channel) {
            // Not loaded yet: nobody has asked for it, and the files hold this entry too.
            let ch = relay.store().channel(Some(&e.channel)).ok()?;
            let book = alerts::load(&ch, |_| {}).ok()?;
            books.insert(e.channel.clone(), book);
        }
        let book = books.get_mut(&e.channel)?;
        book.add(e).then(|| alerts_message(&e.channel, book))
    }

    /// The current alerts message of `channel` (blocking: loads the book when first asked).
    pub fn alerts_now(&self, channel: &Channel) -> Result<Utf8Bytes, crate::channel::Error> {
        let name = channel.name().to_string();
        let mut books = self.books.lock().unwrap_or_else(|p| p.into_inner());
        if !books.contains_key(&name) {
            books.insert(name.clone(), alerts::load(channel, |_| {})?);
        }
        Ok(alerts_message(&name, &books[&name]))
    }

    fn book(&self, channel: &Channel) -> Result<Book, crate::channel::Error> {
        let name = channel.name().to_string();
        let mut books = self.books.lock().unwrap_or_else(|p| p.into_inner());
        if !books.contains_key(&name) {
            books.insert(name.clone(), alerts::load(channel, |_| {})?);
        }
        Ok(books[&name].clone())
    }
}

fn age_ms(modified: SystemTime) -> u64 {
    SystemTime::now()
        .duration_since(modified)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[derive(Serialize)]
struct StateMessage<'a> {
    r#type: &'static str,
    channel: &'a str,
    role: &'a Author,
    age_ms: u64,
    state: &'a StateDoc,
}

/// A live-feed message for one state document.
pub fn state_message(channel: &str, doc: &StateDoc, modified: SystemTime) -> Utf8Bytes {
    serde_json::to_string(&StateMessage {
        r#type: "state",
        channel,
        role: &doc.role,
        age_ms: age_ms(modified),
        state: doc,
    })
    .unwrap_or_else(|_| {
        r#"{"type":"alert","alert":{"message":"a state could not be encoded"}}"#.into()
    })
    .into()
}

/// The store alert for a state file that cannot be used.
pub fn bad_state_alert(channel: &str, role: &Author, file: &str, why: &str) -> StoreAlert {
    StoreAlert {
        channel: channel.to_owned(),
        author: Some(role.to_string()),
        reason: AlertReason::State,
        file: file.to_owned(),
        line: None,
        message: format!(
            "{file}: the state of {role} is ignored: {why}. Only warroom observers should write it; the next good write replaces it"
        ),
        gap: None,
    }
}

/// What a client needs besides entries when it (re)connects: the alerts message and every
/// role's state (bad state files as store alerts). Blocking.
pub fn snapshot(relay: &Relay, channel: &Channel) -> Result<Vec<Utf8Bytes>, String> {
    let name = channel.name().to_string();
    let mut out = vec![
        relay
            .console()
            .alerts_now(channel)
            .map_err(|e| e.to_string())?,
    ];
    let files = file::read_all(channel.dir())
        .map_err(|e| format!("cannot read the states of {name}: {e}"))?;
    for f in files {
        let rel = f
            .path
            .strip_prefix(relay.store().root())
            .unwrap_or(&f.path)
            .display()
            .to_string();
        match &f.doc {
            Ok(doc) => out.push(state_message(&name, doc, f.modified)),
            Err(why) => out.push(super::alert_text(&bad_state_alert(
                &name, &f.role, &rel, why,
            ))),
        }
    }
    Ok(out)
}

/// Room for a clear 413 from the handler above the state limit.
const STATE_BODY_LIMIT: usize = 4 * crate::state::MAX_BYTES;

pub fn routes() -> Router<Relay> {
    Router::new()
        .route("/api/channels/{ch}/state", get(get_states))
        .route(
            "/api/channels/{ch}/state/{role}",
            axum::routing::put(put_state)
                .layer(axum::extract::DefaultBodyLimit::max(STATE_BODY_LIMIT)),
        )
        .route("/api/channels/{ch}/alerts", get(get_alerts))
}

async fn get_states(
    State(relay): State<Relay>,
    Path(ch): Path<String>,
) -> Result<Response, ApiError> {
    let channel = channel(&relay, &ch)?;
    let root = relay.store().root().to_owned();
    let body = blocking(move || {
        let files = file::read_all(channel.dir()).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the states of {}: {e}", channel.name()),
            )
        })?;
        let mut states = Vec::new();
        let mut problems = Vec::new();
        for f in files {
            let rel = f
                .path
                .strip_prefix(&root)
                .unwrap_or(&f.path)
                .display()
                .to_string();
            match f.doc {
                Ok(doc) => states.push(json!({
                    "role": f.role, "age_ms": age_ms(f.modified), "state": doc,
                })),
                Err(why) => problems.push(json!({
                    "role": f.role, "file": rel, "message": format!("ignored: {why}"),
                })),
            }
        }
        Ok(json!({ "channel": channel.name().to_string(), "states": states, "problems": problems }))
    })
    .await?;
    Ok(Json(body).into_response())
}

async fn put_state(
    State(relay): State<Relay>,
    Path((ch, role)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    check_origin(&relay, &headers)?;
    let body = super::api::body_or_refusal(body, "a state document", STATE_BODY_LIMIT)?;
    let channel = channel(&relay, &ch)?;
    let role =
        Author::new(&role).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    let record = authorize(&relay, &headers, &channel).await?;
    if record.role != role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this token is for role {}, not {role}: a role publishes only its own state",
                record.role
            ),
        ));
    }
    if body.len() > crate::state::MAX_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "a state is at most {} bytes; this one is {}: publish fewer objects",
                crate::state::MAX_BYTES,
                body.len()
            ),
        ));
    }
    let doc = StateDoc::parse(&body, &role).map_err(|why| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a state document for {role}: {why}"),
        )
    })?;
    blocking(move || {
        file::write(&channel, &doc).map_err(|e| match e {
            file::WriteError::Channel(c) => ApiError::from(c),
            file::WriteError::Invalid { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            file::WriteError::Io { .. } => {
                tracing::error!("{e:#}");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct AlertsQuery {
    state: Option<String>,
}

async fn get_alerts(
    State(relay): State<Relay>,
    Path(ch): Path<String>,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, ApiError> {
    let channel = channel(&relay, &ch)?;
    let wanted = match q.state.as_deref().unwrap_or("all") {
        "all" => None,
        "open" => Some(alerts::State::Open),
        "acked" => Some(alerts::State::Acked),
        "resolved" => Some(alerts::State::Resolved),
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("state={other:?}: use open, acked, resolved or all"),
            ));
        }
    };
    let r = relay.clone();
    let book = blocking(move || Ok(r.console().book(&channel)?)).await?;
    let list: Vec<AlertStatus> = book
        .alerts()
        .into_iter()
        .filter(|a| wanted.is_none_or(|w| a.state == w))
        .collect();
    Ok(Json(json!({
        "channel": ch,
        "open": book.open_threads(),
        "alerts": list,
        "questions": book.unanswered(),
    }))
    .into_response())
}
