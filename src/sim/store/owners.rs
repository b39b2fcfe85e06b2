//! The store's index of objects by the uid of their controller: for each resource, which
//! objects carry an ownerReference with `controller: true` and a given uid, kept in step with
//! every write so that "the ReplicaSets this Rollout owns" is a lookup, not a scan of every
//! ReplicaSet (the model asks it several times per Rollout per tick).
//!
//! Owns: the index only, updated by the store as it inserts, replaces and removes objects.
//! It must not hold objects (the store's map does) nor decide what ownership means beyond
//! the controller ownerReference's uid.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::ObjectKey;
use crate::sim::resource::ResourceId;

/// (resource, controller uid) -> the owned objects' (namespace, name), in the store's order.
#[derive(Debug, Default)]
pub struct OwnerIndex {
    owned: HashMap<(ResourceId, String), BTreeSet<(String, String)>>,
}

/// The uids of `object`'s controller ownerReferences (a uid that is not a string is none).
fn controllers(object: &Value) -> impl Iterator<Item = &str> {
    object
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| r["controller"] == true)
        .filter_map(|r| r["uid"].as_str())
}

impl OwnerIndex {
    /// Records `object`, stored under `key`.
    pub fn insert(&mut self, key: &ObjectKey, object: &Value) {
        for uid in controllers(object) {
            self.owned
                .entry((key.0, uid.to_string()))
                .or_default()
                .insert((key.1.clone(), key.2.clone()));
        }
    }

    /// Forgets `object`, which was stored under `key`.
    pub fn remove(&mut self, key: &ObjectKey, object: &Value) {
        for uid in controllers(object) {
            let slot = (key.0, uid.to_string());
            if let Some(set) = self.owned.get_mut(&slot) {
                set.remove(&(key.1.clone(), key.2.clone()));
                if set.is_empty() {
                    self.owned.remove(&slot);
                }
            }
        }
    }

    /// `object` replaces `previous` under `key`.
    pub fn replace(&mut self, key: &ObjectKey, previous: Option<&Value>, object: &Value) {
        if let Some(previous) = previous {
            if controllers(previous).eq(controllers(object)) {
                return;
            }
            self.remove(key, previous);
        }
        self.insert(key, object);
    }

    /// The (namespace, name) of the objects of `resource` whose controller has `uid`, ordered
    /// by namespace then name.
    pub fn owned(
        &self,
        resource: ResourceId,
        uid: &str,
    ) -> impl Iterator<Item = &(String, String)> {
        self.owned
            .get(&(resource, uid.to_string()))
            .into_iter()
            .flatten()
    }
}
