//! `/mcp` on the relay: MCP over streamable HTTP, stateless (no session kept between requests,
//! so nothing piles up in a long-running relay), behind a guard that turns the bearer token
//! into the call's [`Seat`].
//!
//! The guard reads the token file on every request, as posting does: a revoked token stops
//! working at once. A missing, unknown or revoked token is an HTTP 401 that says how to get
//! one; a foreign `Origin` is a 403 (the relay's `Host` check runs before all of this). The
//! route is long-lived: a `wait` may hold its response open for up to five minutes.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::{Seat, Warroom};
use crate::relay::Relay;
use crate::relay::api::{ApiError, bearer, check_origin};

/// The path the relay serves MCP at.
pub const PATH: &str = "/mcp";

/// The `/mcp` route with its guard, for the relay's router.
pub fn routes(relay: &Relay) -> Router<Relay> {
    let max_body = relay.config().max_body;
    // No cancellation token from the relay: cancelling it would end the response streams at
    // once, so a `wait` in progress would get no answer. The relay's shutdown ends the waits
    // (the server's own token, below), each answers, and the relay's graceful stop (with its
    // deadline) covers whatever is still in flight.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        // The relay checks `Host` itself, against its own allowlist (--allow-host).
        .disable_allowed_hosts()
        // A body at the limit, JSON-escaped, inside a JSON-RPC envelope.
        .with_max_request_body_bytes(max_body * 6 + 64 * 1024);
    let server = Warroom::per_request(max_body, relay.cancel_token());
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .route_service(PATH, service)
        .route_layer(middleware::from_fn_with_state(relay.clone(), guard))
}

/// Checks the origin and the token, and hands the token's seat to the tools.
async fn guard(State(relay): State<Relay>, mut req: Request<Body>, next: Next) -> Response {
    let headers = req.headers().clone();
    match seat(&relay, &headers).await {
        Ok(seat) => {
            req.extensions_mut().insert(seat);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

async fn seat(relay: &Relay, headers: &HeaderMap) -> Result<Seat, ApiError> {
    check_origin(relay, headers)?;
    let Some(token) = bearer(headers) else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "MCP here needs a token: create one with `warroom token add --role ROLE --channel CH` and configure your MCP client to send `Authorization: Bearer TOKEN`",
        ));
    };
    let tokens = relay.tokens().clone();
    let token = token.to_owned();
    let record = crate::relay::api::blocking(move || Ok(tokens.check(&token)?))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unknown or revoked token: see `warroom token ls`, or ask the operator for a new one (`warroom token add --role ROLE --channel CH`)",
            )
        })?;
    let store = relay.store().clone();
    let name = record.channel.clone();
    let channel = crate::relay::api::blocking(move || Ok(store.channel(Some(&name))?)).await?;
    Ok(Seat {
        channel,
        role: record.role,
    })
}
