//! The HTTP routes of the relay and their guards.
//!
//! Every request passes the `Host` allowlist (a browser on a rebinding DNS name is refused).
//! WebSocket upgrades and posts with a foreign `Origin` are refused. Channel names in URLs are
//! validated before they touch the disk (`..` and friends are a 400). Handlers only parse,
//! check and hand over: file I/O runs on blocking threads, the live feed in [`super::live`].

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::Relay;
use super::conns::Conn;
use super::live::{Cursor, session};
use crate::channel::store::PostOptions;
use crate::channel::{Author, Channel, ChannelName, Draft, EntryId, Error, IdempotencyKey, Kind};
use crate::query::Grep;
use crate::timeline::{Filter, Merge};

/// An HTTP error with a JSON body `{"error": "..."}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// A request body, or the refusal as JSON: axum's own rejection (a body over the route's
/// limit, a body cut off) is plain text that names no fix. `what` is the object the body
/// carries (`an entry`), `limit` the route's byte limit.
pub(super) fn body_or_refusal(
    body: Result<axum::body::Bytes, BytesRejection>,
    what: &str,
    limit: usize,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the request body is over this relay's limit of {limit} bytes for {what}: send less (split a long entry into several); nothing was written"
                ),
            )
        } else {
            ApiError::new(
                status,
                format!(
                    "could not read the request body ({}): send {what} again; nothing was written",
                    rejection.body_text()
                ),
            )
        }
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// Store errors as HTTP statuses: bad input 400, not allowed 403, missing 404, an idempotency
/// key reused for a different entry 409, refs or recipients that don't fit 422, I/O 500.
impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError::from_store(e, None)
    }
}

impl ApiError {
    /// A store error with an optional "did you mean" (the closest id to an unknown ref).
    fn from_store(e: Error, suggestion: Option<String>) -> Self {
        let status = match &e {
            Error::Sealed { .. } | Error::NotOnRoster { .. } => StatusCode::FORBIDDEN,
            Error::UnknownChannel { .. } | Error::NoChannel { .. } => StatusCode::NOT_FOUND,
            Error::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnknownRef { .. }
            | Error::RefNotAlert { .. }
            | Error::ResolvesOthersAlert { .. }
            | Error::UnknownRecipient { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::KeyConflict { .. } => StatusCode::CONFLICT,
            e if e.exit_code() == 2 => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!("{e:#}");
        }
        ApiError::new(status, http_message(&e, suggestion.as_deref()))
    }
}

/// A refused post, with "did you mean" for a ref to an author the channel does not have, from
/// the channel's author files (as `post --ref` on the command line does).
fn post_error(channel: &Channel, e: Error) -> ApiError {
    let suggestion = match &e {
        Error::UnknownRef { id, .. } => {
            let authors: Vec<String> = channel
                .author_files()
                .map(|files| files.into_iter().map(|(a, _)| a.to_string()).collect())
                .unwrap_or_default();
            crate::cli::suggest::closest(id.author.as_str(), authors.iter().map(String::as_str))
                .map(|a| format!("{a}#{}", id.seq))
        }
        _ => None,
    };
    ApiError::from_store(e, suggestion)
}

/// A store error worded for an HTTP client: JSON fields and request parts, not command-line
/// flags. Errors that name no flag keep the store's wording. `suggestion` is a likely meant
/// value for an unknown ref.
fn http_message(e: &Error, suggestion: Option<&str>) -> String {
    match e {
        Error::EmptyBody => {
            "the JSON field \"body\" is empty; send the entry's markdown in \"body\"; nothing was written".into()
        }
        Error::BodyTooLarge { size, limit } => format!(
            "the JSON field \"body\" is {size} bytes, over this relay's limit of {limit} bytes; split it into several entries; nothing was written"
        ),
        Error::KindNeedsRef { kind } => format!(
            "a `{kind}` entry must name {}: put its id in \"refs\" (e.g. [\"pipeline#3\"]); nothing was written",
            match kind {
                Kind::Correction => "the entry it corrects",
                Kind::Ack => "the alert(s) it acknowledges",
                _ => "the alert whose condition cleared",
            }
        ),
        Error::ResolvesOthersAlert { author, id } => format!(
            "{author} cannot resolve {id}: only the author of an alert resolves it ({} raised it); post \"kind\": \"ack\" instead; nothing was written",
            id.author
        ),
        Error::BadKind { kind, suggestion } => format!(
            "the JSON field \"kind\" is {kind:?}{}: use one of {}",
            suggestion
                .as_ref()
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default(),
            Kind::known_list()
        ),
        Error::BadRef(r) => format!(
            "{r:?} in \"refs\" is not an entry id: an id looks like author#seq, e.g. pipeline#3"
        ),
        Error::UnknownRef {
            id,
            channel,
            author,
            last,
        } => format!(
            "{id} in \"refs\" does not exist in channel {channel}: {author} has {last} entries{}; nothing was written",
            suggestion
                .map(|s| format!(" (did you mean \"refs\": [\"{s}\"]?)"))
                .unwrap_or_default()
        ),
        Error::NotOnRoster {
            author, channel, ..
        } => format!(
            "this token's role {author} is no longer on the roster of channel {channel}; the operator can add it back with `warroom roster add {author} --channel {channel}`"
        ),
        other => other.to_string(),
    }
}

impl From<super::token::TokenError> for ApiError {
    fn from(e: super::token::TokenError) -> Self {
        tracing::error!("{e:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot read the token file",
        )
    }
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "task failed",
        ))
    })
}

/// Every route. Ordinary routes must answer within [`super::Config::request_timeout`] (the
/// server cuts them after that). A route whose response may stay open — a WebSocket upgrade,
/// a long wait, an event stream — goes in [`long_lived`] instead: no deadline, never shed
/// under pressure; its handler ends when [`Relay::shutting_down`] resolves and keeps its
/// connection alive itself (pings, keepalive comments).
/// The most bytes a `POST …/entries` may carry: room for a body at `--max-body` escaped in
/// JSON, so that the handler, not the transport, refuses an over-long entry with its size.
fn post_body_limit(relay: &Relay) -> usize {
    relay.config().max_body * 2 + 4096
}

pub fn router(relay: Relay) -> Router {
    let body_limit = post_body_limit(&relay);
    Router::new()
        .route("/", get(page))
        .route("/api/channels", get(channels))
        .route("/api/channels/{ch}/entries", get(entries).post(post_entry))
        .merge(long_lived(&relay))
        .merge(super::console::routes())
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such route") })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(relay.clone(), check_host))
        .with_state(relay)
}

/// The routes exempt from the request deadline (see [`router`]). Add a long-lived route here.
fn long_lived(relay: &Relay) -> Router<Relay> {
    Router::new()
        .route("/api/channels/{ch}/live", get(live))
        // MCP: a `wait` holds its response open (up to 300 s, with SSE keep-alives).
        .merge(crate::mcp::http::routes(relay))
        .route_layer(middleware::from_fn(mark_long_lived))
}

/// Tells the connection table that this request may take as long as it needs.
async fn mark_long_lived(req: Request<Body>, next: Next) -> Response {
    if let Some(conn) = req.extensions().get::<Conn>() {
        conn.long_lived();
    }
    next.run(req).await
}

/// Refuses a `Host` not on the allowlist (DNS rebinding).
async fn check_host(State(relay): State<Relay>, req: Request<Body>, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    match host {
        Some(h) if relay.host_allowed(h) => next.run(req).await,
        Some(h) => ApiError::new(
            StatusCode::FORBIDDEN,
            format!("host {h:?} is not allowed; start the relay with --allow-host {h}"),
        )
        .into_response(),
        None => ApiError::new(StatusCode::BAD_REQUEST, "missing Host header").into_response(),
    }
}

/// An `Origin` header, when present, must be this relay's own page.
pub(crate) fn check_origin(relay: &Relay, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(()); // not a browser: command-line clients send none
    };
    let ok = origin
        .to_str()
        .ok()
        .and_then(|o| {
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
        })
        .is_some_and(|host| relay.host_allowed(host));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross-origin request refused: open the relay's own page",
        ))
    }
}

/// A channel named in a URL: a full, valid name, existing under the root.
pub(super) fn channel(relay: &Relay, name: &str) -> Result<Channel, ApiError> {
    ChannelName::parse(name).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid channel name: use YYYY-MM-DD--theme as listed by /api/channels",
        )
    })?;
    Ok(relay.store().channel(Some(name))?)
}

async fn page(State(relay): State<Relay>) -> Result<Response, ApiError> {
    let root = relay.store().root().to_owned();
    // A fresh nonce per page: only the page's own inline script and style run, never markup
    // that slipped into an entry body.
    let nonce = {
        use rand::RngCore;
        let mut raw = [0u8; 16];
        rand::rng().fill_bytes(&mut raw);
        raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    );
    let html = blocking(move || {
        let page = || {
            // The stylesheet and the script are templates of their own, embedded as is.
            let style = crate::templates::text(&root, "page.css")?;
            let script = crate::templates::text(&root, "page.js")?;
            let palette = crate::palette::page_json();
            crate::templates::render(
                &root,
                "page.html",
                minijinja::context! { nonce, style, script, palette },
            )
        };
        page().map_err(|e| {
            tracing::error!("{e:#}");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        })
    })
    .await?;
    let mut resp = Html(html).into_response();
    // The page runs only its own inline code and talks only to this relay.
    if let Ok(v) = HeaderValue::from_str(&csp) {
        resp.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, v);
    }
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(resp)
}

async fn channels(State(relay): State<Relay>) -> Result<Response, ApiError> {
    let store = relay.store().clone();
    let infos = blocking(move || {
        let mut out = Vec::new();
        for c in store.channels()? {
            out.push(c.info()?);
        }
        Ok(out)
    })
    .await?;
    Ok(Json(infos).into_response())
}

/// `GET /api/channels/{ch}/entries`: the reading filter as query parameters. Lists are
/// comma-separated (`author=pipeline,traffic`); every parameter is optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    /// An entry id (after it, in timeline order) or an RFC 3339 time (from it).
    since: Option<String>,
    /// Per-author seqs already seen: `pipeline:12,traffic:40`.
    cursor: Option<String>,
    author: Option<String>,
    kind: Option<String>,
    /// Entries addressed to any of these roles.
    to: Option<String>,
    /// A regular expression over the body.
    grep: Option<String>,
    /// `i=1` (or `true`, or just `i`): `grep` ignores case.
    i: Option<String>,
}

/// The filter an [`EntriesQuery`] asks for; errors name the parameter and its fix.
fn entries_filter(q: &EntriesQuery) -> Result<Filter, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let list = |v: &Option<String>| -> Vec<String> {
        v.iter()
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut filter = Filter {
        // As `timeline --since` takes it: an entry id, a time or a duration ago (5m).
        since: q
            .since
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(crate::cli::read::parse_since)
            .transpose()
            .map_err(|e| {
                bad(format!("{e:#}").replace("--since", "the query parameter \"since\":"))
            })?,
        ..Filter::default()
    };
    if let Some(c) = q.cursor.as_deref() {
        let cursor =
            Cursor::parse(c).map_err(|e| bad(format!("the query parameter \"cursor\": {e}")))?;
        filter = filter.after_cursor(&cursor);
    }
    for (name, values, into) in [
        ("author", list(&q.author), &mut filter.authors),
        ("to", list(&q.to), &mut filter.to),
    ] {
        for v in values {
            into.insert(
                Author::new(&v)
                    .map_err(|e| bad(format!("the query parameter \"{name}\" has {v:?}: {e}")))?,
            );
        }
    }
    for k in list(&q.kind) {
        filter.kinds.insert(
            k.parse::<Kind>()
                .map_err(|e| bad(format!("the query parameter \"kind\": {e}")))?,
        );
    }
    let ignore_case = match q.i.as_deref() {
        None | Some("0" | "false") => false,
        Some("" | "1" | "true") => true,
        Some(other) => {
            return Err(bad(format!(
                "the query parameter \"i\" is {other:?}: use i=1 to ignore case, or leave it out"
            )));
        }
    };
    if let Some(pattern) = q.grep.as_deref().filter(|p| !p.is_empty()) {
        filter.grep = Some(Grep::new(pattern, ignore_case).map_err(|e| {
            bad(format!(
                "the query parameter \"grep\": {e} (URL-encode the pattern; the syntax is Rust's regex crate)"
            ))
        })?);
    }
    Ok(filter)
}

async fn entries(
    State(relay): State<Relay>,
    Path(ch): Path<String>,
    q: Result<Query<EntriesQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "{}; the parameters are since, cursor, author, kind, to, grep and i",
                e.body_text()
            ),
        )
    })?;
    let channel = channel(&relay, &ch)?;
    let filter = entries_filter(&q)?;
    let list = blocking(move || {
        // A filter on a role the channel never had would answer `[]`, like a quiet channel.
        let known = crate::cli::read::known_roles(&channel)?;
        let name = channel.name().to_string();
        for (param, roles) in [("author", &filter.authors), ("to", &filter.to)] {
            let roles = roles.iter().map(Author::as_str);
            if let Some((_, why)) = crate::cli::suggest::unknown_roles(roles, &known, &name)
                .into_iter()
                .next()
            {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the query parameter \"{param}\": {why}"),
                ));
            }
        }
        let merge = Merge::open(&channel, filter, |_| {})?;
        Ok(merge.collect::<Result<Vec<_>, _>>()?)
    })
    .await?;
    Ok(Json(list).into_response())
}

/// `{"kind","body","refs","to","key"}`: only `body` is required; `kind` defaults to
/// observation; `to` lists roles on the roster; `key` makes the post safe to retry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostBody {
    #[serde(default)]
    kind: Option<String>,
    body: String,
    #[serde(default)]
    refs: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    #[serde(default)]
    key: Option<String>,
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The token of a write request, checked fresh (a revoked token stops working at once) and
/// against the channel.
pub(super) async fn authorize(
    relay: &Relay,
    headers: &HeaderMap,
    channel: &Channel,
) -> Result<super::token::TokenRecord, ApiError> {
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "writing needs a token: create one with `warroom token add --role ROLE --channel CH` and send `Authorization: Bearer TOKEN`",
        ));
    };
    let tokens = relay.tokens().clone();
    let token = token.to_owned();
    let record = blocking(move || Ok(tokens.check(&token)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked token: see `warroom token ls`",
            )
        })?;
    if record.channel != channel.name().to_string() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this token is for channel {}, not {}",
                record.channel,
                channel.name()
            ),
        ));
    }
    Ok(record)
}

async fn post_entry(
    State(relay): State<Relay>,
    Path(ch): Path<String>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_origin(&relay, &headers)?;
    let body = body_or_refusal(body, "an entry", post_body_limit(&relay))?;
    let channel = channel(&relay, &ch)?;
    let Some(token) = bearer(&headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "posting needs a token: create one with `warroom token add --role ROLE --channel CH` and send `Authorization: Bearer TOKEN`",
        ));
    };
    let tokens = relay.tokens().clone();
    let token = token.to_owned();
    // Read fresh on every request: a revoked token stops working at once.
    let record = blocking(move || Ok(tokens.check(&token)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked token: see `warroom token ls`",
            )
        })?;
    if record.channel != channel.name().to_string() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this token is for channel {}, not {}",
                record.channel,
                channel.name()
            ),
        ));
    }
    let req: PostBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "body must be JSON {{\"kind\",\"body\",\"refs\",\"to\",\"key\"}} (only body required): {e}"
            ),
        )
    })?;
    let kind = match req.kind.as_deref() {
        None | Some("") => Kind::Observation,
        Some(k) => k.parse::<Kind>()?,
    };
    let refs = req
        .refs
        .iter()
        .map(|r| EntryId::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let to = req
        .to
        .iter()
        .map(|r| Author::new(r))
        .collect::<Result<Vec<_>, _>>()?;
    let key = req.key.as_deref().map(IdempotencyKey::new).transpose()?;
    let draft = Draft {
        kind,
        refs,
        to,
        key,
        body: req.body,
    };
    let opts = PostOptions {
        max_body: relay.config().max_body,
        sync: true,
    };
    let author: Author = record.role;
    let posted = blocking(move || {
        channel
            .post(&author, &draft, &opts)
            .map_err(|e| post_error(&channel, e))
    })
    .await?;
    // A replayed key answers 200 with the entry written the first time: nothing was created.
    let status = if posted.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(posted.entry)).into_response())
}

#[derive(Deserialize)]
struct LiveQuery {
    cursor: Option<String>,
}

async fn live(
    State(relay): State<Relay>,
    Path(ch): Path<String>,
    Query(q): Query<LiveQuery>,
    headers: HeaderMap,
    conn: Option<Extension<Conn>>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    check_origin(&relay, &headers)?;
    let channel = channel(&relay, &ch)?;
    let cursor = Cursor::parse(q.cursor.as_deref().unwrap_or(""))
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, m.to_string()))?;
    let cfg = relay.config().clone();
    let tasks = relay.tasks().clone();
    Ok(ws
        // Clients send only small control messages: a small read buffer keeps a thousand
        // idle connections cheap (the default is 128 KiB each).
        .read_buffer_size(4096)
        .max_message_size(cfg.max_ws_message)
        .max_frame_size(cfg.max_ws_message)
        .write_buffer_size(0)
        .max_write_buffer_size(cfg.write_buffer)
        .on_upgrade(move |socket| {
            tasks.track_future(async move {
                let (sink, stream) = socket.split();
                let feed = session(sink, stream, relay, channel, cursor);
                // The connection's handle lives as long as the socket: it counts against the
                // cap, and a forced shutdown drops the socket through it.
                match conn {
                    Some(Extension(conn)) => tokio::select! {
                        end = feed => tracing::debug!("live client ended: {end:?}"),
                        _ = conn.cut() => tracing::debug!("live client cut"),
                    },
                    None => tracing::debug!("live client ended: {:?}", feed.await),
                }
            })
        }))
}
