//! Object metadata and the small shapes shared by every kind: owner references, conditions,
//! label selectors. Must not hold any one kind's spec or status.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::de::{list, nullable};
use super::{POD_TEMPLATE_HASH_LABEL, REVISION_ANNOTATION};

/// The part of `metadata` we use.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
    #[serde(deserialize_with = "nullable")]
    pub generation: i64,
    pub creation_timestamp: Option<DateTime<Utc>>,
    pub deletion_timestamp: Option<DateTime<Utc>>,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "list")]
    pub owner_references: Vec<OwnerReference>,
    /// Who wrote which fields when (server-side field management).
    #[serde(deserialize_with = "list")]
    pub managed_fields: Vec<ManagedFields>,
}

/// One managedFields entry: only when and through which subresource (the fields themselves are
/// not read).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ManagedFields {
    #[serde(deserialize_with = "nullable")]
    pub manager: String,
    #[serde(deserialize_with = "nullable")]
    pub operation: String,
    #[serde(deserialize_with = "nullable")]
    pub subresource: String,
    pub time: Option<DateTime<Utc>>,
}

impl ObjectMeta {
    /// The last write to the object itself (not its status), from managedFields: when a spec
    /// change can have happened at the latest. None when the server keeps no managedFields.
    pub fn last_spec_write(&self) -> Option<DateTime<Utc>> {
        self.managed_fields
            .iter()
            .filter(|m| m.subresource.is_empty())
            .filter_map(|m| m.time)
            .max()
    }

    /// True when one of the owner references points at `uid`.
    pub fn is_owned_by(&self, uid: &str) -> bool {
        !uid.is_empty() && self.owner_references.iter().any(|o| o.uid == uid)
    }

    /// The `rollout.argoproj.io/revision` annotation; 0 when absent or not a number, as Argo does.
    pub fn revision(&self) -> i64 {
        self.annotations
            .get(REVISION_ANNOTATION)
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }

    /// The `rollouts-pod-template-hash` label, or "".
    pub fn pod_template_hash(&self) -> &str {
        self.labels
            .get(POD_TEMPLATE_HASH_LABEL)
            .map(String::as_str)
            .unwrap_or("")
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
}

/// A status condition (Rollout, ReplicaSet, Experiment share the shape).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Condition {
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub type_: String,
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    pub last_update_time: Option<DateTime<Utc>>,
    pub last_transition_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(deserialize_with = "nullable")]
    pub match_labels: BTreeMap<String, String>,
}
