//! The object store: current objects, one global resourceVersion counter and a bounded
//! history of changes for watches.
//!
//! Pure data structure: no locks, no channels, no clock (callers pass the time to stamp).
//! Server-managed fields live here: `resourceVersion`, `uid`, `creationTimestamp` when missing,
//! and `generation` (bumped when `spec` changes). It must not know about HTTP.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::resource::{RESOURCES, ResourceId, by_kind};
use owners::OwnerIndex;

mod owners;

/// The kind of a change, as a watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One change to one object, at one resourceVersion.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub change: ChangeType,
    pub resource: ResourceId,
    /// Empty for cluster-scoped objects.
    pub namespace: String,
    /// The object after the change (for a delete: as it was, with the delete's rv).
    pub object: Arc<Value>,
    /// The object before the change, so a watch with a selector can turn a change that stops
    /// matching into DELETED and one that starts matching into ADDED.
    pub previous: Option<Arc<Value>>,
}

/// Where an object lives: resource, namespace (empty when cluster-scoped), name.
pub type ObjectKey = (ResourceId, String, String);

/// The resourceVersion asked for is older than the retained history.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "too old resource version: {requested} (this server retains changes after {oldest}); list again and watch from the list's resourceVersion"
)]
pub struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

/// A change the store refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("{kind} {namespace}/{name} does not exist")]
    NotFound {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    #[error("object has no metadata.name")]
    MissingName,
    #[error("{api_version} {kind} is not a kind the simulator serves")]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} {namespace}/{name} already exists")]
    AlreadyExists {
        kind: &'static str,
        namespace: String,
        name: String,
    },
    /// An update carried a resourceVersion precondition that is no longer current.
    #[error(
        "the object has been modified; please apply your changes to the latest version and try again ({kind} {namespace}/{name} is at resourceVersion {current}, the write expected {expected})"
    )]
    Conflict {
        kind: &'static str,
        namespace: String,
        name: String,
        expected: String,
        current: String,
    },
}

/// The objects and their history.
#[derive(Debug)]
pub struct Store {
    /// The last resourceVersion handed out; the next change gets `rv + 1`.
    rv: u64,
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    /// `objects` by controller uid, so a controller finds what it owns without a scan.
    owners: OwnerIndex,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Changes at or below this rv may have been dropped from `history`.
    compacted: u64,
    /// Counter for generated uids and names.
    serial: u64,
}

impl Store {
    /// An empty store keeping the last `history_limit` changes (at least 1).
    pub fn new(history_limit: usize) -> Store {
        Store {
            rv: 0,
            objects: BTreeMap::new(),
            owners: OwnerIndex::default(),
            history: VecDeque::new(),
            history_limit: history_limit.max(1),
            compacted: 0,
            serial: 0,
        }
    }

    /// The current (collection) resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// A fresh serial number for generated names.
    pub fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn key(resource: ResourceId, object: &Value) -> Result<ObjectKey, StoreError> {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(StoreError::MissingName)?;
        let namespace = if RESOURCES[resource].namespaced {
            object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("default")
        } else {
            ""
        };
        Ok((resource, namespace.to_string(), name.to_string()))
    }

    /// Creates the object, or replaces it when one with the same key exists.
    pub fn apply(
        &mut self,
        resource: ResourceId,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<Arc<Change>, StoreError> {
        let key = Store::key(resource, &object)?;
        let previous = self.objects.get(&key).cloned();
        let object = self.server_fields(resource, &key, object, previous.as_deref(), now);
        Ok(self.commit(key, object, previous))
    }

    /// Creates the object; [`StoreError::AlreadyExists`] when one with the same key exists.
    pub fn create(
        &mut self,
        resource: ResourceId,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<Arc<Change>, StoreError> {
        let key = Store::key(resource, &object)?;
        if self.objects.contains_key(&key) {
            return Err(StoreError::AlreadyExists {
                kind: RESOURCES[resource].kind,
                namespace: key.1,
                name: key.2,
            });
        }
        self.apply(resource, object, now)
    }

    /// Replaces an existing object with `object`, the whole new object (a client's update, or
    /// a patch's result). A `metadata.resourceVersion` in `object` is a precondition: when it
    /// is not the stored one the write is a [`StoreError::Conflict`], as optimistic
    /// concurrency on the real server.
    pub fn update(
        &mut self,
        key: &ObjectKey,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<Arc<Change>, StoreError> {
        let previous = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let expected = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|rv| !rv.is_empty());
        let current = previous
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if let Some(expected) = expected
            && expected != current
        {
            return Err(StoreError::Conflict {
                kind: RESOURCES[key.0].kind,
                namespace: key.1.clone(),
                name: key.2.clone(),
                expected: expected.to_string(),
                current: current.to_string(),
            });
        }
        let object = self.server_fields(key.0, key, object, Some(&previous), now);
        Ok(self.commit(key.clone(), object, Some(previous)))
    }

    /// [`Store::update`], except that a write that changes nothing is no change at all: no new
    /// resourceVersion, no watch event, as the real server (and etcd) skip a no-op update.
    /// Returns the change, or `None` with the stored object left as it was.
    pub fn update_if_changed(
        &mut self,
        key: &ObjectKey,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<Result<Arc<Change>, Arc<Value>>, StoreError> {
        let previous = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let mut normalized = self.server_fields(key.0, key, object.clone(), Some(&previous), now);
        if let Some(rv) = previous.pointer("/metadata/resourceVersion") {
            set_meta(&mut normalized, "resourceVersion", rv.clone());
        }
        let precondition_holds = object
            .pointer("/metadata/resourceVersion")
            .is_none_or(|rv| Some(rv) == previous.pointer("/metadata/resourceVersion"));
        if precondition_holds && normalized == *previous {
            return Ok(Err(previous));
        }
        self.update(key, object, now).map(Ok)
    }

    /// Applies an RFC 7386 JSON merge patch to an existing object.
    pub fn merge_patch(
        &mut self,
        key: &ObjectKey,
        patch: &Value,
        now: DateTime<Utc>,
    ) -> Result<Arc<Change>, StoreError> {
        let previous = self
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| not_found(key))?;
        let mut object = (*previous).clone();
        merge(&mut object, patch);
        let object = self.server_fields(key.0, key, object, Some(&previous), now);
        Ok(self.commit(key.clone(), object, Some(previous)))
    }

    /// Deletes an object.
    pub fn delete(&mut self, key: &ObjectKey) -> Result<Arc<Change>, StoreError> {
        let previous = self.objects.remove(key).ok_or_else(|| not_found(key))?;
        self.owners.remove(key, &previous);
        self.rv += 1;
        let mut object = (*previous).clone();
        set_meta(
            &mut object,
            "resourceVersion",
            Value::from(self.rv.to_string()),
        );
        Ok(self.record(Change {
            rv: self.rv,
            change: ChangeType::Deleted,
            resource: key.0,
            namespace: key.1.clone(),
            object: Arc::new(object),
            previous: Some(previous),
        }))
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.objects.get(key).cloned()
    }

    /// Objects of one resource, in one namespace or all, ordered by namespace then name.
    pub fn list(&self, resource: ResourceId, namespace: Option<&str>) -> Vec<Arc<Value>> {
        let start = (resource, namespace.unwrap_or("").to_string(), String::new());
        self.objects
            .range(start..)
            .take_while(|((r, ns, _), _)| *r == resource && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// True when `seen` is still the stored object under `key` (nobody wrote it since it was
    /// read) and its `status` is already `status`: replacing its status would change
    /// nothing ([`Store::update_if_changed`] would find the object equal), and the caller can
    /// skip cloning and comparing the whole object.
    pub fn status_unchanged(&self, key: &ObjectKey, seen: &Arc<Value>, status: &Value) -> bool {
        self.objects
            .get(key)
            .is_some_and(|stored| Arc::ptr_eq(stored, seen))
            && seen.get("status") == Some(status)
            && !has_unresolved_reference(seen)
    }

    /// Objects of one resource whose controller ownerReference has `uid`, in one namespace
    /// or all, ordered as [`Store::list`] orders them.
    pub fn list_owned(
        &self,
        resource: ResourceId,
        namespace: Option<&str>,
        uid: &str,
    ) -> Vec<Arc<Value>> {
        self.owners
            .owned(resource, uid)
            .filter(|(ns, _)| namespace.is_none_or(|n| n == ns))
            .filter_map(|(ns, name)| {
                self.objects
                    .get(&(resource, ns.clone(), name.clone()))
                    .cloned()
            })
            .collect()
    }

    /// Every retained change newer than `rv`, oldest first; [`Expired`] when some of them
    /// were dropped from the history.
    /// A resourceVersion newer than any handed out (a client of an earlier simulator on the
    /// same port) is expired too: relisting is the only way it can catch up.
    pub fn changes_since(&self, rv: u64) -> Result<Vec<Arc<Change>>, Expired> {
        if rv < self.compacted || rv > self.rv {
            return Err(Expired {
                requested: rv,
                oldest: self.compacted,
            });
        }
        Ok(self.history.iter().filter(|c| c.rv > rv).cloned().collect())
    }

    /// Drops the whole history, as an etcd compaction would: any watch from an older
    /// resourceVersion now gets 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    fn server_fields(
        &mut self,
        resource: ResourceId,
        key: &ObjectKey,
        mut object: Value,
        previous: Option<&Value>,
        now: DateTime<Utc>,
    ) -> Value {
        let r = &RESOURCES[resource];
        if let Some(map) = object.as_object_mut() {
            map.insert("apiVersion".into(), Value::from(r.api_version()));
            map.insert("kind".into(), Value::from(r.kind));
        }
        if r.namespaced {
            set_meta(&mut object, "namespace", Value::from(key.1.clone()));
        }
        self.resolve_references(&key.1, &mut object);
        match previous {
            Some(prev) => {
                // uid and creation are the object's identity: a replace keeps them.
                for field in ["uid", "creationTimestamp"] {
                    if let Some(v) = prev.pointer(&format!("/metadata/{field}")) {
                        set_meta(&mut object, field, v.clone());
                    }
                }
                let generation = prev
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(1);
                let changed = prev.get("spec") != object.get("spec");
                set_meta(
                    &mut object,
                    "generation",
                    Value::from(generation + i64::from(changed)),
                );
            }
            None => {
                if object.pointer("/metadata/uid").is_none() {
                    let serial = self.next_serial();
                    set_meta(
                        &mut object,
                        "uid",
                        Value::from(format!("5e1a0000-0000-4000-8000-{serial:012x}")),
                    );
                }
                if object.pointer("/metadata/creationTimestamp").is_none() {
                    set_meta(
                        &mut object,
                        "creationTimestamp",
                        Value::from(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
                    );
                }
                if object.pointer("/metadata/generation").is_none() {
                    set_meta(&mut object, "generation", Value::from(1));
                }
            }
        }
        object
    }

    /// Fills in the uid of every ownerReference (and of an Event's involvedObject) that names
    /// its object by kind and name only, from the stored object of that kind and name: the
    /// real API server has no such references, but hand-written scenarios do. A reference to
    /// an object not (yet) stored is left as it is; [`Store::link_references`] retries it.
    fn resolve_references(&self, namespace: &str, object: &mut Value) {
        let lookup = |reference: &Value, default_ns: &str| -> Option<Value> {
            let resource = by_kind(
                reference.get("apiVersion")?.as_str()?,
                reference.get("kind")?.as_str()?,
            )?;
            let ns = if RESOURCES[resource].namespaced {
                reference
                    .get("namespace")
                    .and_then(Value::as_str)
                    .unwrap_or(default_ns)
            } else {
                ""
            };
            let name = reference.get("name")?.as_str()?;
            self.objects
                .get(&(resource, ns.to_string(), name.to_string()))?
                .pointer("/metadata/uid")
                .cloned()
        };
        if let Some(refs) = object
            .pointer_mut("/metadata/ownerReferences")
            .and_then(Value::as_array_mut)
        {
            for reference in refs.iter_mut().filter(|r| lacks_uid(r)) {
                if let Some(uid) = lookup(reference, namespace) {
                    reference["uid"] = uid;
                }
            }
        }
        let is_event = object.get("kind").and_then(Value::as_str) == Some("Event");
        if is_event
            && let Some(involved) = object.get("involvedObject")
            && lacks_uid(involved)
            && let Some(uid) = lookup(involved, namespace)
        {
            object["involvedObject"]["uid"] = uid;
        }
    }

    /// Resolves the references [`Store::resolve_references`] could not when their object was
    /// stored (its owner came later in the scenario), in place: the objects read as if created
    /// with them. For loading a scenario's starting objects, before anyone watches.
    pub fn link_references(&mut self) {
        let unresolved: Vec<ObjectKey> = self
            .objects
            .iter()
            .filter(|(_, o)| has_unresolved_reference(o))
            .map(|(k, _)| k.clone())
            .collect();
        for key in unresolved {
            let Some(old) = self.objects.get(&key).cloned() else {
                continue;
            };
            let mut object = (*old).clone();
            self.resolve_references(&key.1, &mut object);
            self.owners.replace(&key, Some(&old), &object);
            let object = Arc::new(object);
            self.objects.insert(key, object.clone());
            for change in self.history.iter_mut() {
                if Arc::ptr_eq(&change.object, &old) {
                    let mut fixed = (**change).clone();
                    fixed.object = object.clone();
                    *change = Arc::new(fixed);
                }
            }
        }
    }

    fn commit(
        &mut self,
        key: ObjectKey,
        mut object: Value,
        previous: Option<Arc<Value>>,
    ) -> Arc<Change> {
        self.rv += 1;
        set_meta(
            &mut object,
            "resourceVersion",
            Value::from(self.rv.to_string()),
        );
        self.owners.replace(&key, previous.as_deref(), &object);
        let object = Arc::new(object);
        self.objects.insert(key.clone(), object.clone());
        self.record(Change {
            rv: self.rv,
            change: if previous.is_some() {
                ChangeType::Modified
            } else {
                ChangeType::Added
            },
            resource: key.0,
            namespace: key.1,
            object,
            previous,
        })
    }

    fn record(&mut self, change: Change) -> Arc<Change> {
        let change = Arc::new(change);
        self.history.push_back(change.clone());
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted = dropped.rv;
            }
        }
        change
    }
}

fn lacks_uid(reference: &Value) -> bool {
    reference
        .get("uid")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
}

fn has_unresolved_reference(object: &Value) -> bool {
    let owners = object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|refs| refs.iter().any(lacks_uid));
    let event = object.get("kind").and_then(Value::as_str) == Some("Event")
        && object.get("involvedObject").is_some_and(lacks_uid);
    owners || event
}

fn not_found(key: &ObjectKey) -> StoreError {
    StoreError::NotFound {
        kind: RESOURCES[key.0].kind,
        namespace: key.1.clone(),
        name: key.2.clone(),
    }
}

/// Sets `metadata.<field>`, creating `metadata` when missing.
pub fn set_meta(object: &mut Value, field: &str, value: Value) {
    if let Some(map) = object.as_object_mut() {
        let meta = map
            .entry("metadata")
            .or_insert_with(|| Value::Object(Map::new()));
        if !meta.is_object() {
            *meta = Value::Object(Map::new());
        }
        if let Some(meta) = meta.as_object_mut() {
            meta.insert(field.to_string(), value);
        }
    }
}

/// RFC 7386 JSON merge patch: objects merge recursively, `null` deletes, anything else replaces.
pub fn merge(target: &mut Value, patch: &Value) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Some(target_map) = target.as_object_mut() {
        for (k, v) in patch_map {
            if v.is_null() {
                target_map.remove(k);
            } else {
                merge(target_map.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests;
