//! The model's view of the store at one tick: listing objects of a kind, and the writes a
//! controller makes — create, replace (skipped when nothing changed, as the API server skips
//! a no-op update), merge patch, delete, and Events (aggregated by the recorder's key, as
//! client-go's EventRecorder bumps `count`).
//!
//! Owns: stamping every write at the tick's scenario time and broadcasting it to watches
//! through the simulator's one commit path. It must not decide anything: controllers do.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::sim::SimHandle;
use crate::sim::resource::{self, RESOURCES, ResourceId};
use crate::sim::store::{Change, ObjectKey, StoreError};

/// The kinds the model reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    ReplicaSet,
    Deployment,
    Rollout,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    Service,
    Event,
}

impl Kind {
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Pod | Kind::Service | Kind::Event => "v1",
            Kind::ReplicaSet | Kind::Deployment => "apps/v1",
            _ => "argoproj.io/v1alpha1",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::Deployment => "Deployment",
            Kind::Rollout => "Rollout",
            Kind::AnalysisRun => "AnalysisRun",
            Kind::AnalysisTemplate => "AnalysisTemplate",
            Kind::ClusterAnalysisTemplate => "ClusterAnalysisTemplate",
            Kind::Service => "Service",
            Kind::Event => "Event",
        }
    }

    pub fn resource(self) -> ResourceId {
        resource::by_kind(self.api_version(), self.name())
            .expect("the simulator serves every kind the model uses")
    }
}

/// One tick's access to the store, at scenario time `now`.
pub struct World<'a> {
    pub sim: &'a SimHandle,
    pub now: DateTime<Utc>,
}

/// The key of a stored object.
pub fn key_of(kind: Kind, object: &Value) -> ObjectKey {
    let namespace = if RESOURCES[kind.resource()].namespaced {
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    } else {
        ""
    };
    (
        kind.resource(),
        namespace.to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

impl World<'_> {
    /// RFC 3339 at whole seconds, as Kubernetes writes times.
    pub fn stamp(&self) -> String {
        stamp(self.now)
    }

    pub fn list(&self, kind: Kind, namespace: Option<&str>) -> Vec<Arc<Value>> {
        self.sim.store().list(kind.resource(), namespace)
    }

    /// The objects of `kind` in `namespace` whose controller is `owner` (by uid), as
    /// [`World::list`] filtered by [`owned_by`] would give them, from the store's index.
    pub fn owned(&self, kind: Kind, namespace: &str, owner: &Value) -> Vec<Arc<Value>> {
        let uid = &owner["metadata"]["uid"];
        match uid.as_str() {
            Some(uid) => self
                .sim
                .store()
                .list_owned(kind.resource(), Some(namespace), uid),
            None => self
                .list(kind, Some(namespace))
                .into_iter()
                .filter(|o| owned_by(o, uid))
                .collect(),
        }
    }

    pub fn get(&self, kind: Kind, namespace: &str, name: &str) -> Option<Arc<Value>> {
        self.sim
            .store()
            .get(&(kind.resource(), namespace.to_string(), name.to_string()))
    }

    /// Creates an object; refused when one of that name exists.
    pub fn create(&self, kind: Kind, object: Value) -> Result<Arc<Change>, StoreError> {
        let now = self.now;
        self.sim.commit(|s| s.create(kind.resource(), object, now))
    }

    /// Replaces an object with `object` (read earlier this tick): a conflict when someone
    /// wrote it since, nothing when it is unchanged. True when it was written.
    pub fn replace(&self, kind: Kind, object: Value) -> Result<bool, StoreError> {
        let key = key_of(kind, &object);
        self.sim.update_if_changed(&key, object, self.now)
    }

    /// [`World::replace`] of `stored` (read earlier this tick) with its status set to
    /// `status`. Most ticks change no status: when nobody wrote the object since and the
    /// status is the same, that is known without cloning and comparing the whole object.
    pub fn replace_status(
        &self,
        kind: Kind,
        stored: &Arc<Value>,
        status: Value,
    ) -> Result<bool, StoreError> {
        let key = key_of(kind, stored);
        if self.sim.store().status_unchanged(&key, stored, &status) {
            return Ok(false);
        }
        let mut updated = (**stored).clone();
        updated["status"] = status;
        self.replace(kind, updated)
    }

    pub fn merge_patch(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Arc<Change>, StoreError> {
        let key = (kind.resource(), namespace.to_string(), name.to_string());
        let now = self.now;
        self.sim.commit(|s| s.merge_patch(&key, patch, now))
    }

    pub fn delete(
        &self,
        kind: Kind,
        namespace: &str,
        name: &str,
    ) -> Result<Arc<Change>, StoreError> {
        let key = (kind.resource(), namespace.to_string(), name.to_string());
        self.sim.commit(|s| s.delete(&key))
    }

    /// Records an Event about `involved` from `component`: a new Event, or the same reason
    /// and message again bumps its count and lastTimestamp (the recorder's aggregation).
    pub fn event(
        &self,
        involved: &Value,
        event_type: &str,
        reason: &str,
        message: &str,
        component: &str,
    ) -> Result<(), StoreError> {
        let namespace = involved["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let involved_name = involved["metadata"]["name"].as_str().unwrap_or_default();
        let uid = involved["metadata"]["uid"].as_str().unwrap_or_default();
        let name = format!(
            "{involved_name}.{:016x}",
            fnv64(&[uid, event_type, reason, message, component].join("\u{0}"))
        );
        let stamp = self.stamp();
        let events = Kind::Event.resource();
        let key = (events, namespace.clone(), name.clone());
        let now = self.now;
        self.sim.commit(|store| {
            if let Some(existing) = store.get(&key) {
                let count = existing["count"].as_u64().unwrap_or(1) + 1;
                return store.merge_patch(
                    &key,
                    &json!({"count": count, "lastTimestamp": stamp}),
                    now,
                );
            }
            let event = json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp},
                "involvedObject": {
                    "apiVersion": involved["apiVersion"], "kind": involved["kind"],
                    "name": involved_name, "namespace": namespace, "uid": uid,
                    "resourceVersion": involved["metadata"]["resourceVersion"],
                },
                "reason": reason,
                "message": message,
                "type": event_type,
                "count": 1,
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": component},
                "reportingComponent": component,
            });
            store.apply(events, event, now)
        })?;
        Ok(())
    }
}

/// RFC 3339 at whole seconds.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Parses an RFC 3339 time field.
pub fn parse_time(value: &Value) -> Option<DateTime<Utc>> {
    value.as_str()?.parse().ok()
}

/// FNV-1a, 64 bits: stable names for Events.
pub fn fnv64(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// FNV-1a, 32 bits: the hash of both pod-template hashes below.
pub fn fnv32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(*b)).wrapping_mul(0x0100_0193)
    })
}

/// Kubernetes' SafeEncodeString: a hash as the letters and digits that cannot spell words.
pub fn safe_encode(n: u32) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    n.to_string()
        .bytes()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

/// The collision count as both hashes append it: `binary.LittleEndian.PutUint32` into an
/// 8-byte buffer, all 8 bytes written.
fn collision_bytes(collision_count: Option<i64>) -> Vec<u8> {
    let Some(c) = collision_count else {
        return Vec::new();
    };
    let mut bytes = (c as u32).to_le_bytes().to_vec();
    bytes.extend([0; 4]);
    bytes
}

/// Argo Rollouts' `rollouts-pod-template-hash` (utils/hash/hash.go
/// ComputePodTemplateHash): FNV-1a 32 over the template's JSON (`json.Marshal`), then the
/// collision count. Our JSON is serde's, not Go's, so the values differ from a real
/// cluster's while the form is the same.
pub fn template_hash(template: &Value, collision_count: Option<i64>) -> String {
    let mut bytes = serde_json::to_vec(template).unwrap_or_default();
    bytes.extend(collision_bytes(collision_count));
    safe_encode(fnv32(&bytes))
}

/// The Deployment controller's `pod-template-hash` (kubernetes pkg/controller/
/// controller_utils.go ComputeHash): FNV-1a 32 over go-spew's `%#v` dump of the template
/// (pkg/util/hash DeepHashObject: sorted keys, typed, nested), then the collision count.
/// Kubernetes and Argo hash different texts of the same template, so a Deployment and the
/// Rollout that references it (`workloadRef`, often of the same name) get different
/// ReplicaSet names for the same template; the model hashes its own dump-like rendering,
/// not Go's, to keep that difference.
pub fn deployment_template_hash(template: &Value, collision_count: Option<i64>) -> String {
    fn dump(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                out.push('{');
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    out.push_str(k);
                    out.push(':');
                    dump(&map[k], out);
                    out.push_str(",\n ");
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push_str("([]){");
                for item in items {
                    dump(item, out);
                    out.push_str(",\n ");
                }
                out.push('}');
            }
            Value::String(s) => {
                out.push_str("(string) ");
                out.push_str(&format!("{s:?}"));
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::from("(v1.PodTemplateSpec)");
    dump(template, &mut text);
    let mut bytes = text.into_bytes();
    bytes.extend(collision_bytes(collision_count));
    safe_encode(fnv32(&bytes))
}

/// The controller ownerReference to `owner`.
pub fn owner_reference(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// True when `object`'s controller ownerReference has `uid`.
pub fn owned_by(object: &Value, uid: &Value) -> bool {
    object["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| {
            refs.iter()
                .any(|r| r["uid"] == *uid && r["controller"] == true)
        })
}

/// A LabelSelector object's matchLabels (and matchExpressions' In / NotIn / Exists /
/// DoesNotExist) as a selector.
pub fn selector_of(selector: &Value) -> Option<crate::sim::selector::LabelSelector> {
    let mut parts: Vec<String> = selector["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    for e in selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or_default();
        let values: Vec<&str> = e["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match e["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    crate::sim::selector::LabelSelector::parse(&parts.join(",")).ok()
}
