//! The fake HTTP backend: routes that answer per the scenario, and exact request counts.
//!
//! Two kinds of route. An object-form route cycles its statuses. A short-form route
//! ([`ModelRoute`]) follows the model: each request goes to a pod behind the route's Service
//! by the current traffic split ([`super::split`]: the canary weight with traffic routing,
//! the replica share without), and that pod's image decides the answer, so a canary answering
//! 404 shows in the tallies in proportion to its weight and stops when the rollout aborts.
//! Picks are deterministic (smooth weighted round-robin, as nginx balances), so a test can
//! count on exact proportions.
//!
//! The traffic observer's tallies are compared to [`BackendCounts`], so a request is counted
//! exactly when its response is produced (after any latency): a client that gives up first
//! saw no status and is not counted. It must not serve the Kubernetes API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::scenario::{BackendSpec, RouteSpec};
use super::split::Share;

/// A short-form route: its answers come from the versions behind a Service.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRoute {
    /// Any method when `None`.
    pub method: Option<String>,
    pub path: String,
    pub namespace: String,
    /// The Service the route's traffic goes through (the stable Service, with traffic
    /// routing).
    pub service: String,
    /// Image -> its answers; an image not listed answers 200.
    pub answers: BTreeMap<String, StatusMix>,
    /// Wall-clock latency added before answering.
    pub latency: Option<Duration>,
}

/// Statuses and their shares (adding up to 1): `404: 0.7, 429: 0.3`.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusMix(pub Vec<(u16, f64)>);

/// The split behind `(namespace, service)` now; set by the simulator when it serves.
pub type SplitFn = dyn Fn(&str, &str) -> Vec<Share> + Send + Sync;

/// Smooth weighted round-robin: each pick adds every weight to its running score, takes the
/// highest and takes the total off it. Over any run of picks each key's count stays within
/// one of its exact share.
#[derive(Debug)]
struct Smooth<K> {
    score: BTreeMap<K, f64>,
}

impl<K> Default for Smooth<K> {
    fn default() -> Self {
        Smooth {
            score: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Smooth<K> {
    fn pick(&mut self, weights: &[(K, f64)]) -> Option<K> {
        self.score
            .retain(|k, _| weights.iter().any(|(w, _)| w == k));
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        let mut best: Option<(&K, f64)> = None;
        for (key, weight) in weights {
            let score = self.score.entry(key.clone()).or_default();
            *score += weight;
            if best.is_none_or(|(_, b)| *score > b) {
                best = Some((key, *score));
            }
        }
        let key = best?.0.clone();
        *self.score.get_mut(&key)? -= total;
        Some(key)
    }
}

#[derive(Debug)]
struct FollowingRoute {
    spec: ModelRoute,
    /// Which pod gets the next request.
    pods: Smooth<String>,
    /// Per image: which status the next request gets.
    statuses: BTreeMap<String, Smooth<u16>>,
}

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
    following: Vec<FollowingRoute>,
    counts: BackendCounts,
}

/// Cheap-to-clone handle on the backend's routes and counts.
#[derive(Clone)]
pub struct Backend {
    /// std Mutex: held only to pick an answer or bump a count, never across an await.
    state: Arc<Mutex<BackendState>>,
    /// How the model's routes find their split; unset, they answer 503 (no endpoints).
    split: Arc<OnceLock<Arc<SplitFn>>>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Backend {
    pub fn new(spec: &BackendSpec) -> Backend {
        let backend = Backend {
            state: Arc::new(Mutex::new(BackendState {
                header: spec.header.clone().unwrap_or_else(|| "x-backend".into()),
                routes: Vec::new(),
                following: spec
                    .model_routes
                    .iter()
                    .map(|r| FollowingRoute {
                        spec: r.clone(),
                        pods: Smooth::default(),
                        statuses: BTreeMap::new(),
                    })
                    .collect(),
                counts: BackendCounts::default(),
            })),
            split: Arc::new(OnceLock::new()),
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

    /// Lets the model's routes see the traffic split (the simulator sets it once).
    pub fn follow(&self, split: Arc<SplitFn>) {
        let _ = self.split.set(split);
    }

    /// Picks status, latency, header and body for one request, advancing the cycles.
    fn pick(&self, method: &Method, path: &str) -> Answer {
        let matches = |m: &Option<String>| {
            m.as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        };
        let following = {
            let state = self.lock();
            state
                .following
                .iter()
                .position(|r| r.spec.path == path && matches(&r.spec.method))
                .map(|i| (i, state.following[i].spec.clone()))
        };
        if let Some((i, spec)) = following {
            // The split reads the store: taken before this backend's lock, never under it.
            let shares = self
                .split
                .get()
                .map(|split| split(&spec.namespace, &spec.service))
                .unwrap_or_default();
            return self.pick_following(i, &spec, &shares, path);
        }
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

    fn pick_following(&self, i: usize, spec: &ModelRoute, shares: &[Share], path: &str) -> Answer {
        let mut state = self.lock();
        let header = state.header.clone();
        let route = &mut state.following[i];
        let weights: Vec<(String, f64)> =
            shares.iter().map(|s| (s.pod.clone(), s.weight)).collect();
        let Some(pod) = route.pods.pick(&weights) else {
            return Answer {
                status: 503,
                latency: spec.latency,
                backend: None,
                header,
                body: format!(
                    "{{\"error\":\"no Ready endpoint behind Service {}/{}\"}}",
                    spec.namespace, spec.service
                ),
            };
        };
        let image = shares
            .iter()
            .find(|s| s.pod == pod)
            .map(|s| s.image.clone())
            .unwrap_or_default();
        let status = match spec.answers.get(&image) {
            None => 200,
            Some(mix) => route
                .statuses
                .entry(image.clone())
                .or_default()
                .pick(&mix.0)
                .unwrap_or(200),
        };
        let body =
            serde_json::json!({"path": path, "status": status, "backend": pod, "image": image})
                .to_string();
        Answer {
            status,
            latency: spec.latency,
            backend: Some(pod),
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
            model_routes: Vec::new(),
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
