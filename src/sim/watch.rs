//! Watches: the newline-delimited event stream of one watch request.
//!
//! A watch starts from the current objects (no resourceVersion) or from the history after a
//! resourceVersion (410 `Expired` as an ERROR event when that is gone), then follows the
//! store's broadcast until the client leaves, its timeout passes, or the API restarts. It
//! must not change objects.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use super::api::{Format, ListParams, metadata_only, selected, status_object};
use super::resource::{RESOURCES, ResourceId};
use super::store::{Change, ChangeType};
use super::table;
use super::{SimHandle, WatchStart};

/// How often a watch that allows bookmarks gets one (wall time).
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

/// One watch: its filters and encoding.
struct WatchSpec {
    resource: ResourceId,
    namespace: Option<String>,
    params: ListParams,
    format: Format,
}

impl WatchSpec {
    fn in_scope(&self, change: &Change) -> bool {
        change.resource == self.resource
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| ns == change.namespace)
    }

    /// The event type this watch sees for a change, if any: a change that stops matching the
    /// selectors is DELETED, one that starts matching is ADDED.
    fn translate(&self, change: &Change) -> Option<&'static str> {
        if !self.in_scope(change) {
            return None;
        }
        let now = selected(&self.params, &change.object);
        let before = change
            .previous
            .as_deref()
            .is_some_and(|p| selected(&self.params, p));
        match (change.change, before, now) {
            (ChangeType::Added, _, true) => Some("ADDED"),
            (ChangeType::Deleted, _, true) => Some("DELETED"),
            (ChangeType::Modified, true, true) => Some("MODIFIED"),
            (ChangeType::Modified, false, true) => Some("ADDED"),
            (ChangeType::Modified, true, false) => Some("DELETED"),
            _ => None,
        }
    }

    fn encode(&self, sim: &SimHandle, event_type: &str, object: &Value) -> Bytes {
        let object = match self.format {
            Format::Table(include) => {
                let rv = object
                    .pointer("/metadata/resourceVersion")
                    .and_then(Value::as_str)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0);
                table::table(self.resource, &[object], rv, sim.clock().now(), include)
            }
            Format::Metadata => metadata_only(object),
            Format::Object => object.clone(),
        };
        line(&json!({"type": event_type, "object": object}))
    }

    fn bookmark(&self, rv: u64, initial_end: bool) -> Bytes {
        let r = &RESOURCES[self.resource];
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line(&json!({"type": "BOOKMARK", "object": {
            "kind": r.kind, "apiVersion": r.api_version(), "metadata": metadata,
        }}))
    }
}

fn line(value: &Value) -> Bytes {
    let mut bytes = value.to_string().into_bytes();
    bytes.push(b'\n');
    Bytes::from(bytes)
}

pub(super) fn watch(
    sim: SimHandle,
    resource: ResourceId,
    namespace: Option<String>,
    params: ListParams,
    format: Format,
) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let spec = WatchSpec {
        resource,
        namespace,
        params,
        format,
    };
    let cancel = sim.incarnation();
    sim.tasks().spawn({
        let sim = sim.clone();
        async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = run_watch(&sim, &spec, &tx) => {}
            }
        }
    });
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(body)
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Sends the watch's events until the client goes away or the timeout passes.
async fn run_watch(sim: &SimHandle, spec: &WatchSpec, tx: &mpsc::Sender<Bytes>) {
    // No resourceVersion, "0", or sendInitialEvents: start with the current objects.
    let from = if spec.params.send_initial_events {
        None
    } else {
        spec.params.resource_version.filter(|rv| *rv != 0)
    };
    let (start, mut live) = sim.subscribe(spec.resource, spec.namespace.as_deref(), from);
    let mut seen;
    match start {
        Err(expired) => {
            let status = status_object(410, "Expired", &expired.to_string());
            let _ = tx
                .send(line(&json!({"type": "ERROR", "object": status})))
                .await;
            return;
        }
        Ok(WatchStart::Snapshot { objects, rv }) => {
            seen = rv;
            for object in objects.iter().filter(|o| selected(&spec.params, o)) {
                if tx.send(spec.encode(sim, "ADDED", object)).await.is_err() {
                    return;
                }
            }
            if spec.params.send_initial_events
                && spec.params.bookmarks
                && tx.send(spec.bookmark(rv, true)).await.is_err()
            {
                return;
            }
        }
        Ok(WatchStart::Changes(changes)) => {
            seen = spec.params.resource_version.unwrap_or(0);
            for change in changes {
                seen = seen.max(change.rv);
                if let Some(ty) = spec.translate(&change)
                    && tx.send(spec.encode(sim, ty, &change.object)).await.is_err()
                {
                    return;
                }
            }
        }
    }
    let deadline = spec.params.timeout.map(|t| tokio::time::Instant::now() + t);
    let mut bookmarks =
        tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
    loop {
        let next = tokio::select! {
            () = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            } => return,
            // The client went away: stop now rather than at the next change.
            () = tx.closed() => return,
            _ = bookmarks.tick(), if spec.params.bookmarks => spec.bookmark(seen.max(sim.resource_version()), false),
            change = live.recv() => match change {
                Ok(change) => {
                    if change.rv <= seen {
                        continue;
                    }
                    seen = change.rv;
                    match spec.translate(&change) {
                        Some(ty) => spec.encode(sim, ty, &change.object),
                        None => continue,
                    }
                }
                // Too far behind or shutting down: end the watch; the client re-watches from
                // its last resourceVersion (and relists after a 410).
                Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
            },
        };
        if tx.send(next).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::api::params;
    use crate::sim::resource::by_kind;
    use crate::sim::store::Store;
    use std::collections::HashMap;

    fn spec(label_selector: &str) -> WatchSpec {
        let q: HashMap<String, String> =
            [("labelSelector".to_string(), label_selector.to_string())]
                .into_iter()
                .collect();
        WatchSpec {
            resource: by_kind("v1", "Pod").unwrap(),
            namespace: Some("llm".into()),
            params: params(&q).unwrap(),
            format: Format::Object,
        }
    }

    fn pod(name: &str, ns: &str, app: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": {"app": app}}})
    }

    /// Changes as one watch with `app=x` in `llm` sees them: leaving the selection is a
    /// DELETED, entering it an ADDED, other namespaces and kinds are not seen at all.
    #[test]
    fn selector_transitions() {
        let pods = by_kind("v1", "Pod").unwrap();
        let now = chrono::Utc::now();
        let mut store = Store::new(100);
        let w = spec("app=x");
        let key = (pods, "llm".to_string(), "a".to_string());
        let seen = |c: &Change| w.translate(c);
        assert_eq!(
            seen(&store.apply(pods, pod("a", "llm", "x"), now).unwrap()),
            Some("ADDED")
        );
        assert_eq!(
            seen(&store.apply(pods, pod("a", "llm", "x"), now).unwrap()),
            Some("MODIFIED")
        );
        assert_eq!(
            seen(&store.apply(pods, pod("a", "llm", "y"), now).unwrap()),
            Some("DELETED")
        );
        assert_eq!(
            seen(&store.apply(pods, pod("a", "llm", "y"), now).unwrap()),
            None
        );
        assert_eq!(
            seen(&store.apply(pods, pod("a", "llm", "x"), now).unwrap()),
            Some("ADDED")
        );
        assert_eq!(seen(&store.delete(&key).unwrap()), Some("DELETED"));
        assert_eq!(
            seen(&store.apply(pods, pod("b", "other", "x"), now).unwrap()),
            None
        );
        let rs = by_kind("apps/v1", "ReplicaSet").unwrap();
        let mut other_kind = pod("c", "llm", "x");
        other_kind["apiVersion"] = json!("apps/v1");
        other_kind["kind"] = json!("ReplicaSet");
        assert_eq!(seen(&store.apply(rs, other_kind, now).unwrap()), None);
    }

    #[test]
    fn bookmarks_carry_the_version_and_the_initial_events_end() {
        let w = spec("");
        let line: Value = serde_json::from_slice(&w.bookmark(42, true)).unwrap();
        assert_eq!(line["type"], "BOOKMARK");
        assert_eq!(line["object"]["kind"], "Pod");
        assert_eq!(line["object"]["metadata"]["resourceVersion"], "42");
        assert_eq!(
            line["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
            "true"
        );
    }
}
