//! The Kubernetes API over HTTP: version, discovery, list/get/watch, Tables, access reviews,
//! and the `/__sim/*` controls.
//!
//! Handlers translate requests into [`SimHandle`] calls and encode answers the way the real
//! API server does (Status objects for errors, newline-delimited watch events, an ERROR event
//! with code 410 for a too-old resourceVersion). Reads are here; writes (PATCH, PUT, POST,
//! DELETE, the `/status` subresource) are checked for access here and applied by
//! [`super::write`].

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::SimHandle;
use super::resource::{self, RESOURCES, ResourceId};
use super::selector::{FieldSelector, LabelSelector};
use super::table::{self, IncludeObject};
use super::write::{self, WriteTarget};
use super::{access, watch};

/// The API router. Every response carries the scenario's time ([`super::time_header`]).
pub fn router(sim: SimHandle) -> Router {
    let scenario_clock = sim.clock();
    let router = Router::new()
        .route("/version", get(version))
        .route("/api", get(core_groups))
        .route("/apis", get(named_groups))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            post(access::review),
        )
        .route("/__sim/clock", get(clock))
        .route("/__sim/restart", post(restart))
        .route("/__sim/compact", post(compact))
        .route("/__sim/backend/counts", get(backend_counts))
        .fallback(resources)
        .with_state(sim);
    super::time_header::stamp(router, scenario_clock)
}

/// A `Status` failure answer, as the real server sends.
pub fn status(code: StatusCode, reason: &str, message: impl Into<String>) -> Response {
    (
        code,
        axum::Json(status_object(code.as_u16(), reason, &message.into())),
    )
        .into_response()
}

pub(super) fn status_object(code: u16, reason: &str, message: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    })
}

async fn version() -> Response {
    axum::Json(json!({
        "major": "1",
        "minor": "32",
        "gitVersion": "v1.32.0-warroom-sim",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.23.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }))
    .into_response()
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=APIGroupDiscoveryList") && a.contains("v=v2;"))
}

fn aggregated(doc: Value) -> Response {
    (
        [(header::CONTENT_TYPE, resource::AGGREGATED_CONTENT_TYPE)],
        doc.to_string(),
    )
        .into_response()
}

async fn core_groups(State(sim): State<SimHandle>, headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(resource::aggregated(true));
    }
    let server = sim
        .api_url()
        .map(|u| u.trim_start_matches("http://").to_string())
        .unwrap_or_default();
    axum::Json(resource::legacy_core_versions(&server)).into_response()
}

async fn named_groups(headers: HeaderMap) -> Response {
    if wants_aggregated(&headers) {
        return aggregated(resource::aggregated(false));
    }
    axum::Json(resource::legacy_group_list()).into_response()
}

async fn clock(State(sim): State<SimHandle>) -> Response {
    let clock = sim.clock();
    axum::Json(json!({
        "now": clock.now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "epoch": clock.epoch().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "elapsedSeconds": clock.elapsed().as_secs_f64(),
        "speed": clock.speed(),
        "endSeconds": sim.scenario().end.as_secs_f64(),
        "finished": sim.is_finished(),
        "resourceVersion": sim.resource_version().to_string(),
    }))
    .into_response()
}

async fn restart(
    State(sim): State<SimHandle>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let down = match q.get("down").map(|d| humantime::parse_duration(d)) {
        None => Duration::from_secs(1),
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            return status(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                format!("down: {e} (write it like 2s)"),
            );
        }
    };
    sim.restart_api(down);
    (StatusCode::ACCEPTED, "restarting\n").into_response()
}

async fn compact(State(sim): State<SimHandle>) -> Response {
    sim.compact();
    axum::Json(json!({"compactedAt": sim.resource_version().to_string()})).into_response()
}

async fn backend_counts(State(sim): State<SimHandle>) -> Response {
    axum::Json(sim.backend_counts()).into_response()
}

/// What a resource path names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Discovery {
        group: String,
        version: String,
    },
    Collection {
        resource: ResourceId,
        namespace: Option<String>,
    },
    Object {
        resource: ResourceId,
        namespace: Option<String>,
        name: String,
        /// The path ends in `/status` (the status subresource).
        status: bool,
    },
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let lookup = |plural: &str| resource::by_path(group, version, plural);
    Some(match rest {
        [] => Target::Discovery {
            group: group.into(),
            version: version.into(),
        },
        ["namespaces", ns, plural] => Target::Collection {
            resource: lookup(plural)?,
            namespace: Some(ns.to_string()),
        },
        ["namespaces", ns, plural, name, sub @ ..] if sub.is_empty() || sub == ["status"] => {
            Target::Object {
                resource: lookup(plural)?,
                namespace: Some(ns.to_string()),
                name: name.to_string(),
                status: !sub.is_empty(),
            }
        }
        [plural] => Target::Collection {
            resource: lookup(plural)?,
            namespace: None,
        },
        [plural, name, sub @ ..] if sub.is_empty() || sub == ["status"] => Target::Object {
            resource: lookup(plural)?,
            namespace: None,
            name: name.to_string(),
            status: !sub.is_empty(),
        },
        _ => return None,
    })
}

/// Query parameters that matter to list and watch. kube-rs sends `?&a=b`, which parses fine.
pub(super) struct ListParams {
    pub(super) labels: LabelSelector,
    pub(super) fields: FieldSelector,
    pub(super) watch: bool,
    pub(super) resource_version: Option<u64>,
    pub(super) bookmarks: bool,
    pub(super) send_initial_events: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) limit: Option<usize>,
    pub(super) continue_from: usize,
    pub(super) include: IncludeObject,
}

/// A refused query: status code, reason and message.
type Refusal = (StatusCode, &'static str, String);

pub(super) fn params(q: &HashMap<String, String>) -> Result<ListParams, Refusal> {
    let bad = |msg: String| (StatusCode::BAD_REQUEST, "BadRequest", msg);
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true" || v == "1");
    let labels = LabelSelector::parse(q.get("labelSelector").map_or("", |s| s))
        .map_err(|e| bad(e.to_string()))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").map_or("", |s| s))
        .map_err(|e| bad(e.to_string()))?;
    let resource_version = match q.get("resourceVersion").map(String::as_str) {
        None | Some("") => None,
        Some(rv) => Some(rv.parse::<u64>().map_err(|_| {
            bad(format!(
                "resourceVersion {rv:?} is not one this server handed out"
            ))
        })?),
    };
    let continue_from = match q.get("continue").map(String::as_str) {
        None | Some("") => 0,
        Some(token) => token.parse().map_err(|_| {
            (
                StatusCode::GONE,
                "Expired",
                format!("continue token {token:?} is not valid; list again from the start"),
            )
        })?,
    };
    Ok(ListParams {
        labels,
        fields,
        watch: flag("watch"),
        resource_version,
        bookmarks: flag("allowWatchBookmarks"),
        send_initial_events: flag("sendInitialEvents"),
        timeout: q
            .get("timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map(Duration::from_secs),
        limit: q
            .get("limit")
            .and_then(|l| l.parse().ok())
            .filter(|l| *l > 0),
        continue_from,
        include: IncludeObject::parse(q.get("includeObject").map(String::as_str)),
    })
}

/// How objects are encoded, from the Accept header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    /// The objects themselves.
    Object,
    /// A `meta.k8s.io/v1` Table (kubectl get).
    Table(IncludeObject),
    /// `PartialObjectMetadata` (metadata-only watches, e.g. kube-rs `metadata_watcher`).
    Metadata,
}

fn format(headers: &HeaderMap, include: IncludeObject) -> Format {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("as=Table") {
        Format::Table(include)
    } else if accept.contains("as=PartialObjectMetadata") {
        Format::Metadata
    } else {
        Format::Object
    }
}

/// The PartialObjectMetadata form of an object.
pub(super) fn metadata_only(object: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
    })
}

async fn resources(
    State(sim): State<SimHandle>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(target) = parse_path(uri.path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "the server could not find the requested resource {} (the simulator serves: {})",
                uri.path(),
                resource::known_kinds()
            ),
        );
    };
    let q: HashMap<String, String> = Query::try_from_uri(&uri)
        .map(|Query(q)| q)
        .unwrap_or_default();
    if method != Method::GET {
        return write_request(&sim, &method, target, &q, &headers, &body);
    }
    let p = match params(&q) {
        Ok(p) => p,
        Err((code, reason, message)) => return status(code, reason, message),
    };
    let format = format(&headers, p.include);
    let (verb, resource, namespace) = match &target {
        Target::Discovery { .. } => ("", None, None),
        Target::Object {
            resource,
            namespace,
            ..
        } => ("get", Some(*resource), namespace.as_deref()),
        Target::Collection {
            resource,
            namespace,
        } => (
            if p.watch { "watch" } else { "list" },
            Some(*resource),
            namespace.as_deref(),
        ),
    };
    if let Some(r) = resource.map(|r| &RESOURCES[r])
        && access::is_denied(&sim, verb, r.plural, r.group, namespace.unwrap_or(""))
    {
        return access::forbidden(r, verb, namespace);
    }
    match target {
        Target::Discovery { group, version } => match resource::resource_list(&group, &version) {
            Some(doc) => axum::Json(doc).into_response(),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!(
                    "the server could not find the requested resource {}",
                    uri.path()
                ),
            ),
        },
        Target::Object {
            resource,
            namespace,
            name,
            status: _,
        } => get_object(&sim, resource, namespace, name, format),
        Target::Collection { resource, .. } if !RESOURCES[resource].is_stored() => status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} can only be created", RESOURCES[resource].plural),
        ),
        Target::Collection {
            resource,
            namespace,
        } => {
            if namespace.is_some() && !RESOURCES[resource].namespaced {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{} are cluster-scoped", RESOURCES[resource].plural),
                );
            }
            if p.watch {
                watch::watch(sim, resource, namespace, p, format)
            } else {
                list(&sim, resource, namespace.as_deref(), &p, format)
            }
        }
    }
}

/// A write (`PATCH`, `PUT`, `POST`, `DELETE`) after the access check.
fn write_request(
    sim: &SimHandle,
    method: &Method,
    target: Target,
    q: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let target = match target {
        Target::Discovery { .. } => {
            return status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{method} is not supported on discovery documents"),
            );
        }
        Target::Collection {
            resource,
            namespace,
        } => WriteTarget {
            resource,
            namespace,
            name: None,
            status: false,
        },
        Target::Object {
            resource,
            namespace,
            name,
            status,
        } => WriteTarget {
            resource,
            namespace,
            name: Some(name),
            status,
        },
    };
    let r = &RESOURCES[target.resource];
    if !r.is_stored() {
        return status(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!("{} can only be created", r.plural),
        );
    }
    let verb = match *method {
        Method::PATCH => "patch",
        Method::PUT => "update",
        Method::POST => "create",
        Method::DELETE => "delete",
        _ => "",
    };
    let plural = if target.status {
        format!("{}/status", r.plural)
    } else {
        r.plural.to_string()
    };
    let ns = target.namespace.as_deref();
    if access::is_denied(sim, verb, &plural, r.group, ns.unwrap_or("")) {
        return access::forbidden(r, verb, ns);
    }
    write::write(sim, method, target, q, headers, body)
}

fn get_object(
    sim: &SimHandle,
    resource: ResourceId,
    namespace: Option<String>,
    name: String,
    format: Format,
) -> Response {
    let r = &RESOURCES[resource];
    let ns = if r.namespaced {
        namespace.unwrap_or_default()
    } else {
        String::new()
    };
    if r.namespaced && ns.is_empty() || !r.is_stored() {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} {name} needs a namespace", r.kind),
        );
    }
    match sim.get(&(resource, ns, name.clone())) {
        Some(object) => match format {
            Format::Table(include) => axum::Json(table::table(
                resource,
                &[&object],
                sim.resource_version(),
                sim.clock().now(),
                include,
            ))
            .into_response(),
            Format::Metadata => axum::Json(metadata_only(&object)).into_response(),
            Format::Object => axum::Json(&*object).into_response(),
        },
        None => {
            let mut body = status_object(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", qualified(r)),
            );
            body["details"] = json!({"name": name, "group": r.group, "kind": r.plural});
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
    }
}

pub(super) fn qualified(r: &resource::Resource) -> String {
    if r.group.is_empty() {
        r.plural.to_string()
    } else {
        format!("{}.{}", r.plural, r.group)
    }
}

pub(super) fn selected(p: &ListParams, object: &Value) -> bool {
    p.labels.matches_object(object) && p.fields.matches_object(object)
}

fn list(
    sim: &SimHandle,
    resource: ResourceId,
    namespace: Option<&str>,
    p: &ListParams,
    format: Format,
) -> Response {
    let (objects, rv) = sim.list(resource, namespace);
    let matching: Vec<&Value> = objects
        .iter()
        .map(|o| &**o)
        .filter(|o| selected(p, o))
        .collect();
    let start = p.continue_from.min(matching.len());
    let end = p
        .limit
        .map_or(matching.len(), |l| (start + l).min(matching.len()));
    let page = &matching[start..end];
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if end < matching.len() {
        metadata["continue"] = json!(end.to_string());
        metadata["remainingItemCount"] = json!(matching.len() - end);
    }
    let r = &RESOURCES[resource];
    match format {
        Format::Table(include) => {
            let mut t = table::table(resource, page, rv, sim.clock().now(), include);
            t["metadata"] = metadata;
            axum::Json(t).into_response()
        }
        Format::Metadata => axum::Json(json!({
            "kind": "PartialObjectMetadataList",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": metadata,
            "items": page.iter().map(|o| metadata_only(o)).collect::<Vec<_>>(),
        }))
        .into_response(),
        // Serialized straight from the store's objects: a 5,000-pod list is not copied.
        Format::Object => axum::Json(ObjectList {
            kind: format!("{}List", r.kind),
            api_version: r.api_version(),
            metadata,
            items: page,
        })
        .into_response(),
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ObjectList<'a> {
    kind: String,
    api_version: String,
    metadata: Value,
    items: &'a [&'a Value],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let pods = resource::by_path("", "v1", "pods").unwrap();
        let ro = resource::by_path("argoproj.io", "v1alpha1", "rollouts").unwrap();
        let ns = resource::by_path("", "v1", "namespaces").unwrap();
        assert_eq!(
            parse_path("/api/v1/pods"),
            Some(Target::Collection {
                resource: pods,
                namespace: None
            })
        );
        assert_eq!(
            parse_path("/apis/argoproj.io/v1alpha1/namespaces/llm/rollouts/litellm"),
            Some(Target::Object {
                resource: ro,
                namespace: Some("llm".into()),
                name: "litellm".into(),
                status: false,
            })
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/llm"),
            Some(Target::Object {
                resource: ns,
                namespace: None,
                name: "llm".into(),
                status: false,
            })
        );
        assert_eq!(
            parse_path("/apis/apps/v1"),
            Some(Target::Discovery {
                group: "apps".into(),
                version: "v1".into()
            })
        );
        assert_eq!(
            parse_path("/api/v1/namespaces/llm/pods/p/status"),
            Some(Target::Object {
                resource: pods,
                namespace: Some("llm".into()),
                name: "p".into(),
                status: true,
            })
        );
        assert_eq!(parse_path("/apis/apps/v1/widgets"), None);
        assert_eq!(parse_path("/api/v1/namespaces/llm/pods/p/scale"), None);
        assert_eq!(parse_path("/healthz"), None);
    }

    #[test]
    fn query_with_leading_ampersand() {
        let uri: Uri = "/api/v1/pods?&watch=true&resourceVersion=5&labelSelector=app%3Dx"
            .parse()
            .unwrap();
        let Query(q): Query<HashMap<String, String>> = Query::try_from_uri(&uri).unwrap();
        let p = params(&q).unwrap();
        assert!(p.watch);
        assert_eq!(p.resource_version, Some(5));
        assert!(
            p.labels
                .matches_object(&json!({"metadata": {"labels": {"app": "x"}}}))
        );
    }
}
