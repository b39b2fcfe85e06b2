//! The fake HTTP backend: routes that answer per the scenario, and exact request counts.
//!
//! The traffic observer's tallies are compared to [`BackendCounts`], so a request is counted
//! exactly when its response is produced (after any latency): a client that gives up first
//! saw no status and is not counted. It must not serve the Kubernetes API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::scenario::{BackendSpec, RouteSpec};

/// Requests answered, per `"METHOD /path"` and status, and per backend name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackendCounts {
    /// `"GET /v1/models" -> {"200": 12, "429": 3}`.
    pub routes: BTreeMap<String, BTreeMap<String, u64>>,
    /// Backend header value -> requests answered by it.
    pub backends: BTreeMap<String, u64>,
    pub total: u64,
}

#[derive(Debug)]
struct Route {
    spec: RouteSpec,
    /// Requests matched so far; picks the next status and backend in their cycles.
    served: u64,
}

#[derive(Debug)]
struct BackendState {
    header: String,
    routes: Vec<Route>,
    counts: BackendCounts,
}

/// Cheap-to-clone handle on the backend's routes and counts.
#[derive(Debug, Clone)]
pub struct Backend {
    /// std Mutex: held only to pick an answer or bump a count, never across an await.
    state: Arc<Mutex<BackendState>>,
}

impl Backend {
    pub fn new(spec: &BackendSpec) -> Backend {
        let backend = Backend {
            state: Arc::new(Mutex::new(BackendState {
                header: spec.header.clone().unwrap_or_else(|| "x-backend".into()),
                routes: Vec::new(),
                counts: BackendCounts::default(),
            })),
        };
        for route in &spec.routes {
            backend.set_route(route.clone());
        }
        backend
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BackendState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a route, or replaces the one with the same method and path.
    pub fn set_route(&self, spec: RouteSpec) {
        let mut state = self.lock();
        match state
            .routes
            .iter_mut()
            .find(|r| r.spec.path == spec.path && r.spec.method == spec.method)
        {
            Some(route) => route.spec = spec,
            None => state.routes.push(Route { spec, served: 0 }),
        }
    }

    pub fn counts(&self) -> BackendCounts {
        self.lock().counts.clone()
    }

    /// Picks status, latency, header and body for one request, advancing the cycles.
    fn pick(&self, method: &Method, path: &str) -> Answer {
        let mut state = self.lock();
        let header = state.header.clone();
        let route = state.routes.iter_mut().find(|r| {
            r.spec.path == path
                && r.spec
                    .method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        });
        let Some(route) = route else {
            return Answer {
                status: 404,
                latency: None,
                backend: None,
                header,
                body: format!("{{\"error\":\"no route {method} {path} in the scenario\"}}"),
            };
        };
        let i = route.served;
        route.served += 1;
        let spec = &route.spec;
        let status = spec.status[(i % spec.status.len() as u64) as usize];
        let backend = (!spec.backends.is_empty())
            .then(|| spec.backends[(i % spec.backends.len() as u64) as usize].clone());
        let body = spec.body.clone().unwrap_or_else(|| {
            serde_json::json!({"path": path, "status": status, "backend": backend}).to_string()
        });
        Answer {
            status,
            latency: spec.latency,
            backend,
            header,
            body,
        }
    }

    fn count(&self, method: &Method, path: &str, answer: &Answer) {
        let mut state = self.lock();
        let counts = &mut state.counts;
        *counts
            .routes
            .entry(format!("{method} {path}"))
            .or_default()
            .entry(answer.status.to_string())
            .or_default() += 1;
        if let Some(b) = &answer.backend {
            *counts.backends.entry(b.clone()).or_default() += 1;
        }
        counts.total += 1;
    }
}

struct Answer {
    status: u16,
    latency: Option<std::time::Duration>,
    backend: Option<String>,
    header: String,
    body: String,
}

/// The backend's router: every path answers per the scenario, plus the counts endpoint.
pub fn router(backend: Backend) -> Router {
    Router::new()
        .route("/__sim/backend/counts", get(counts))
        .fallback(answer)
        .with_state(backend)
}

pub async fn counts(State(backend): State<Backend>) -> Response {
    axum::Json(backend.counts()).into_response()
}

async fn answer(State(backend): State<Backend>, method: Method, uri: Uri) -> Response {
    let path = uri.path().to_string();
    let answer = backend.pick(&method, &path);
    if let Some(latency) = answer.latency {
        tokio::time::sleep(latency).await;
    }
    backend.count(&method, &path, &answer);
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(b) = &answer.backend {
        builder = builder.header(answer.header.as_str(), b.as_str());
    }
    builder
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &str, status: Vec<u16>, backends: &[&str]) -> RouteSpec {
        RouteSpec {
            path: path.into(),
            method: None,
            status,
            latency: None,
            backends: backends.iter().map(|b| b.to_string()).collect(),
            body: None,
        }
    }

    #[test]
    fn cycles_statuses_and_backends_and_counts() {
        let backend = Backend::new(&BackendSpec {
            header: None,
            routes: vec![route("/bad", vec![404, 429], &["pod-a", "pod-b", "pod-c"])],
        });
        let get = Method::GET;
        let picked: Vec<(u16, Option<String>)> = (0..3)
            .map(|_| {
                let a = backend.pick(&get, "/bad");
                backend.count(&get, "/bad", &a);
                (a.status, a.backend)
            })
            .collect();
        assert_eq!(
            picked,
            [
                (404, Some("pod-a".into())),
                (429, Some("pod-b".into())),
                (404, Some("pod-c".into()))
            ]
        );
        let a = backend.pick(&get, "/missing");
        backend.count(&get, "/missing", &a);
        let counts = backend.counts();
        assert_eq!(counts.routes["GET /bad"]["404"], 2);
        assert_eq!(counts.routes["GET /bad"]["429"], 1);
        assert_eq!(counts.routes["GET /missing"]["404"], 1);
        assert_eq!(counts.total, 4);
        backend.set_route(route("/bad", vec![200], &[]));
        assert_eq!(backend.pick(&get, "/bad").status, 200);
    }
}
