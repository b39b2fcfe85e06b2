//! Writes through the API: PATCH (merge, strategic merge, JSON patch), PUT, POST and DELETE,
//! on objects and on the `/status` subresource — what kubectl and the Argo Rollouts plugin
//! send for `patch`, `apply`, `replace`, `create`, `delete`, `promote`, `abort`, `retry`,
//! `pause` and `undo`.
//!
//! Each write is read-modify-commit under the store's lock, so it bumps the resourceVersion
//! once and reaches every watch as one event. The subresource rules are the real server's: a
//! write to `/status` changes only `status`; a write to the object leaves `status` alone for a
//! kind that has a status subresource; `/status` of a kind without one is 404 (which the Argo
//! plugin takes as "no status subresource" and falls back to a patch of the object). It must
//! not react to what was written: the controller model does that from the stored object.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SimHandle;
use super::api::{qualified, status_object};
use super::patch::{self, PatchError, PatchType};
use super::resource::{RESOURCES, ResourceId};
use super::store::{ObjectKey, StoreError, set_meta};

/// Kinds of the core and Kubernetes groups: the only ones the real server strategic-merges.
fn is_builtin(resource: ResourceId) -> bool {
    match RESOURCES[resource].group {
        "" => true,
        // Gateway API is installed as CRDs.
        "gateway.networking.k8s.io" => false,
        group => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// A refused write, answered as a `Status` object (and returned as is to in-process callers).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl Refusal {
    pub(super) fn new(
        code: StatusCode,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Refusal {
        Refusal {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    fn into_response(self) -> Response {
        let mut body = status_object(self.code.as_u16(), self.reason, &self.message);
        if let Some(details) = self.details {
            body["details"] = details;
        }
        (self.code, axum::Json(body)).into_response()
    }
}

fn details(resource: ResourceId, name: &str) -> Value {
    let r = &RESOURCES[resource];
    json!({"name": name, "group": r.group, "kind": r.plural})
}

fn not_found(resource: ResourceId, name: &str) -> Refusal {
    Refusal {
        details: Some(details(resource, name)),
        ..Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(&RESOURCES[resource])),
        )
    }
}

fn from_store(resource: ResourceId, name: &str, err: StoreError) -> Refusal {
    let what = qualified(&RESOURCES[resource]);
    match err {
        StoreError::NotFound { .. } => not_found(resource, name),
        StoreError::AlreadyExists { .. } => Refusal {
            details: Some(details(resource, name)),
            ..Refusal::new(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{what} \"{name}\" already exists"),
            )
        },
        StoreError::Conflict { .. } => Refusal {
            details: Some(details(resource, name)),
            ..Refusal::new(
                StatusCode::CONFLICT,
                "Conflict",
                format!("Operation cannot be fulfilled on {what} \"{name}\": {err}"),
            )
        },
        StoreError::MissingName => Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!(
                "{what} is invalid: metadata.name: Required value: name or generateName is required"
            ),
        ),
        StoreError::UnknownKind { .. } => {
            Refusal::new(StatusCode::BAD_REQUEST, "BadRequest", err.to_string())
        }
    }
}

fn from_patch(err: PatchError) -> Refusal {
    match err {
        PatchError::Decode(_) => {
            Refusal::new(StatusCode::BAD_REQUEST, "BadRequest", err.to_string())
        }
        PatchError::Apply(_) => {
            Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, "Invalid", err.to_string())
        }
    }
}

/// What one write request names.
pub(super) struct WriteTarget {
    pub(super) resource: ResourceId,
    pub(super) namespace: Option<String>,
    /// `None` for a POST to the collection.
    pub(super) name: Option<String>,
    /// The request is on the `/status` subresource.
    pub(super) status: bool,
}

/// Handles a write method (`PATCH`, `PUT`, `POST`, `DELETE`) on a resource path.
pub(super) fn write(
    sim: &SimHandle,
    method: &Method,
    target: WriteTarget,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        // client-go's typed clients send protobuf first and switch to JSON on a 415.
        return Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!("the simulator reads JSON bodies, not {content_type}"),
        )
        .into_response();
    }
    let dry_run = query.get("dryRun").is_some_and(|d| d == "All");
    let result = match (method.as_str(), &target.name) {
        ("PATCH", Some(name)) => patch_object(sim, &target, name, headers, body, dry_run),
        ("PUT", Some(name)) => update_object(sim, &target, name, body, dry_run),
        ("DELETE", Some(name)) if !target.status => delete_object(sim, &target, name, dry_run),
        ("POST", None) => create_object(sim, &target, body, dry_run),
        _ => Err(Refusal::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            format!(
                "{method} is not supported on this path of {} (the simulator serves get, list, watch, create, update, patch and delete)",
                qualified(&RESOURCES[target.resource])
            ),
        )),
    };
    match result {
        Ok((code, object)) => (code, axum::Json(object)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

fn key(target: &WriteTarget, name: &str) -> Result<ObjectKey, Refusal> {
    let r = &RESOURCES[target.resource];
    match (&target.namespace, r.namespaced) {
        (Some(ns), true) => Ok((target.resource, ns.clone(), name.to_string())),
        (None, false) => Ok((target.resource, String::new(), name.to_string())),
        (None, true) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} {name} needs a namespace", r.kind),
        )),
        (Some(_), false) => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!("{} are cluster-scoped", r.plural),
        )),
    }
}

fn status_subresource(target: &WriteTarget, name: &str) -> Result<(), Refusal> {
    if target.status && !RESOURCES[target.resource].status {
        // The Argo plugin relies on exactly this 404 to fall back to patching the object.
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "NotFound",
            format!(
                "the server could not find the requested resource ({} {name}/status: {} has no status subresource)",
                RESOURCES[target.resource].plural, RESOURCES[target.resource].kind
            ),
        ));
    }
    Ok(())
}

/// The stored object after a write of `written` over `current`, by the subresource rules.
fn combine(target: &WriteTarget, current: &Value, mut written: Value) -> Value {
    if target.status {
        let mut object = current.clone();
        match written.get_mut("status").map(Value::take) {
            Some(status) if !status.is_null() => object["status"] = status,
            _ => {
                if let Some(map) = object.as_object_mut() {
                    map.remove("status");
                }
            }
        }
        // A resourceVersion in the written object is still a precondition.
        match written.pointer("/metadata/resourceVersion") {
            Some(rv) => set_meta(&mut object, "resourceVersion", rv.clone()),
            None => {
                if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.remove("resourceVersion");
                }
            }
        }
        return object;
    }
    if RESOURCES[target.resource].status {
        match current.get("status") {
            Some(status) => written["status"] = status.clone(),
            None => {
                if let Some(map) = written.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    written
}

/// Refuses a written object that renames itself or moves namespace.
fn same_identity(target: &WriteTarget, name: &str, written: &Value) -> Result<(), Refusal> {
    let written_name = written.pointer("/metadata/name").and_then(Value::as_str);
    if written_name.is_some_and(|n| n != name) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                written_name.unwrap_or_default()
            ),
        ));
    }
    namespace_matches(target, written)
}

fn namespace_matches(target: &WriteTarget, written: &Value) -> Result<(), Refusal> {
    let written_ns = written
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty());
    match (written_ns, &target.namespace) {
        (Some(w), Some(url)) if w != url => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!(
                "the namespace of the provided object ({w}) does not match the namespace sent on the request ({url})"
            ),
        )),
        _ => Ok(()),
    }
}

/// Reads the current object, computes the new one with `f`, and commits it (or, for a dry
/// run, returns it uncommitted) — all under the store's lock.
fn read_modify_commit(
    sim: &SimHandle,
    target: &WriteTarget,
    name: &str,
    dry_run: bool,
    f: impl FnOnce(&Value) -> Result<Value, Refusal>,
) -> Result<(StatusCode, Value), Refusal> {
    let key = key(target, name)?;
    status_subresource(target, name)?;
    let now = sim.clock().now();
    let resource = target.resource;
    if dry_run {
        let current = sim.get(&key).ok_or_else(|| not_found(resource, name))?;
        return Ok((StatusCode::OK, f(&current)?));
    }
    // The store's lock, held while the change is broadcast, as `SimHandle::commit` does; a
    // write that changes nothing is answered with the object as it is, and broadcast nowhere.
    let mut store = sim.store();
    let current = store.get(&key).ok_or_else(|| not_found(resource, name))?;
    let object = f(&current)?;
    match store
        .update_if_changed(&key, object, now)
        .map_err(|e| from_store(resource, name, e))?
    {
        Ok(change) => {
            let _ = sim.inner.changes.send(change.clone());
            Ok((StatusCode::OK, (*change.object).clone()))
        }
        Err(unchanged) => Ok((StatusCode::OK, (*unchanged).clone())),
    }
}

fn patch_object(
    sim: &SimHandle,
    target: &WriteTarget,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
    dry_run: bool,
) -> Result<(StatusCode, Value), Refusal> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let patch_type = patch_type(target, content_type)?;
    patch_with(sim, target, name, patch_type, body, dry_run)
}

/// The patch type of a `Content-Type`, or the 415 the real server answers.
fn patch_type(target: &WriteTarget, content_type: &str) -> Result<PatchType, Refusal> {
    let r = &RESOURCES[target.resource];
    let patch_type = match PatchType::from_content_type(content_type) {
        Some(PatchType::Strategic) if !is_builtin(target.resource) => None,
        other => other,
    };
    let Some(patch_type) = patch_type else {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json{} (got {content_type:?} for {})",
                if is_builtin(target.resource) {
                    ", application/strategic-merge-patch+json"
                } else {
                    ""
                },
                qualified(r)
            ),
        ));
    };
    Ok(patch_type)
}

/// Applies a patch of `patch_type` to the object (or its status) under the store's lock.
pub(super) fn patch_with(
    sim: &SimHandle,
    target: &WriteTarget,
    name: &str,
    patch_type: PatchType,
    body: &[u8],
    dry_run: bool,
) -> Result<(StatusCode, Value), Refusal> {
    read_modify_commit(sim, target, name, dry_run, |current| {
        let patched = patch::apply(patch_type, current, body).map_err(from_patch)?;
        same_identity(target, name, &patched)?;
        // A patch keeps the current resourceVersion unless it names one (a precondition).
        let mut written = combine(target, current, patched);
        if written.pointer("/metadata/resourceVersion")
            == current.pointer("/metadata/resourceVersion")
            && let Some(meta) = written.get_mut("metadata").and_then(Value::as_object_mut)
        {
            meta.remove("resourceVersion");
        }
        Ok(written)
    })
}

fn decode_object(body: &Bytes) -> Result<Value, Refusal> {
    let object: Value = serde_json::from_slice(body).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("the object is not valid JSON: {e}"),
        )
    })?;
    if !object.is_object() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the body must be a JSON object",
        ));
    }
    Ok(object)
}

fn update_object(
    sim: &SimHandle,
    target: &WriteTarget,
    name: &str,
    body: &Bytes,
    dry_run: bool,
) -> Result<(StatusCode, Value), Refusal> {
    let written = decode_object(body)?;
    same_identity(target, name, &written)?;
    read_modify_commit(sim, target, name, dry_run, |current| {
        Ok(combine(target, current, written))
    })
}

fn create_object(
    sim: &SimHandle,
    target: &WriteTarget,
    body: &Bytes,
    dry_run: bool,
) -> Result<(StatusCode, Value), Refusal> {
    let mut object = decode_object(body)?;
    namespace_matches(target, &object)?;
    let r = &RESOURCES[target.resource];
    if let Some(ns) = &target.namespace {
        set_meta(&mut object, "namespace", json!(ns));
    }
    // The server decides identity, versions and creation time.
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        for field in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
            meta.remove(field);
        }
    }
    let now = sim.clock().now();
    let resource = target.resource;
    let generate = object
        .pointer("/metadata/generateName")
        .and_then(Value::as_str)
        .map(str::to_string);
    let has_name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| !n.is_empty());
    if dry_run {
        return Ok((StatusCode::CREATED, object));
    }
    let change = sim.commit(|store| {
        if !has_name && let Some(prefix) = &generate {
            let suffix = format!("{:05x}", store.next_serial() & 0xfffff);
            set_meta(&mut object, "name", json!(format!("{prefix}{suffix}")));
        }
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        store
            .create(resource, object, now)
            .map_err(|e| from_store(resource, &name, e))
    })?;
    tracing::debug!(
        "created {} {}",
        r.kind,
        change.object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
    );
    Ok((StatusCode::CREATED, (*change.object).clone()))
}

fn delete_object(
    sim: &SimHandle,
    target: &WriteTarget,
    name: &str,
    dry_run: bool,
) -> Result<(StatusCode, Value), Refusal> {
    let key = key(target, name)?;
    let resource = target.resource;
    if dry_run {
        let current = sim.get(&key).ok_or_else(|| not_found(resource, name))?;
        return Ok((StatusCode::OK, (*current).clone()));
    }
    // No garbage collector: dependents stay until the scenario or the model removes them.
    let change = sim.commit(|store| {
        store
            .delete(&key)
            .map_err(|e| from_store(resource, name, e))
    })?;
    Ok((StatusCode::OK, (*change.object).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::by_kind;

    #[test]
    fn strategic_merge_is_for_builtin_kinds_only() {
        assert!(is_builtin(by_kind("v1", "Pod").unwrap()));
        assert!(is_builtin(by_kind("apps/v1", "Deployment").unwrap()));
        assert!(is_builtin(
            by_kind("networking.k8s.io/v1", "Ingress").unwrap()
        ));
        assert!(is_builtin(
            by_kind("autoscaling/v2", "HorizontalPodAutoscaler").unwrap()
        ));
        assert!(!is_builtin(
            by_kind("argoproj.io/v1alpha1", "Rollout").unwrap()
        ));
        assert!(!is_builtin(
            by_kind("gateway.networking.k8s.io/v1", "HTTPRoute").unwrap()
        ));
        assert!(!is_builtin(
            by_kind("networking.istio.io/v1alpha3", "VirtualService").unwrap()
        ));
    }

    fn target(status: bool) -> WriteTarget {
        WriteTarget {
            resource: by_kind("argoproj.io/v1alpha1", "Rollout").unwrap(),
            namespace: Some("llm".into()),
            name: Some("ro".into()),
            status,
        }
    }

    #[test]
    fn status_writes_change_only_status_and_object_writes_keep_it() {
        let current = json!({"metadata": {"name": "ro", "resourceVersion": "5"}, "spec": {"paused": true}, "status": {"abort": false}});
        let written = json!({"metadata": {"name": "ro"}, "spec": {"paused": false}, "status": {"abort": true}});
        let status = combine(&target(true), &current, written.clone());
        assert_eq!(status["spec"]["paused"], true);
        assert_eq!(status["status"]["abort"], true);
        assert!(status.pointer("/metadata/resourceVersion").is_none());
        let object = combine(&target(false), &current, written);
        assert_eq!(object["spec"]["paused"], false);
        assert_eq!(object["status"]["abort"], false);
    }
}
