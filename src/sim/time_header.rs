//! The scenario's time on every simulator response: `x-warroom-scenario-time` (RFC 3339 with
//! milliseconds) and `x-warroom-scenario-speed`, so an observer can read the cluster's now
//! precisely at any speed (a real API server's `Date` has a 1 s resolution and a watch stream
//! carries it only at its start).
//!
//! A response layer only: it must not change status, body or any other header.

use axum::Router;
use axum::http::HeaderValue;
use axum::response::Response;

use super::ScenarioClock;

/// Scenario time of the response, RFC 3339 with milliseconds (`2026-05-04T17:15:04.123Z`).
pub const TIME_HEADER: &str = "x-warroom-scenario-time";
/// Scenario seconds per wall second.
pub const SPEED_HEADER: &str = "x-warroom-scenario-speed";

/// Adds both headers to every response of `router`.
pub fn stamp<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    clock: ScenarioClock,
) -> Router<S> {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            let now = clock
                .now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let headers = response.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&now) {
                headers.insert(TIME_HEADER, v);
            }
            if let Ok(v) = HeaderValue::from_str(&clock.speed().to_string()) {
                headers.insert(SPEED_HEADER, v);
            }
            response
        },
    ))
}
