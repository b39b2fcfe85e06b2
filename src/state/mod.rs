//! State beside history: each observer's *current* view of what it watches, one small JSON
//! document per role at `<channel>/.warroom/state/<role>.json`, replaced atomically.
//!
//! The append-only author files stay the only history; a state document is a snapshot that is
//! overwritten (the pipeline's Rollouts with phase, step, weights, images and analysis; the
//! data plane's pods per ReplicaSet; the traffic routes' success in the last window). It carries
//! its writer's wall time, the observer's own (cluster) time and the heartbeat it promises, so a
//! reader can tell a fresh state from a stale one and a stopped observer from a silent one. The
//! archive keeps the last state of each role (the files are committed with the channel).
//!
//! This module owns the document types ([`StateDoc`]), their validation and the files
//! ([`file`]). It must not talk to Kubernetes (observers fill documents, see
//! [`crate::observe::state`]) or to the network (the relay follows and serves the files).

pub mod file;

use serde::{Deserialize, Serialize};

use crate::channel::{Author, Timestamp};

/// The document format's version; a reader refuses versions it does not know.
pub const VERSION: u32 = 1;
/// Largest state file read or written, in bytes: a state is a glance, not a dump.
pub const MAX_BYTES: usize = 256 * 1024;
/// Default heartbeat: an observer rewrites its state at least this often while it runs.
pub const DEFAULT_HEARTBEAT_MS: u64 = 5_000;

/// One observer's current view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDoc {
    /// [`VERSION`].
    pub version: u32,
    /// The role that owns the file (equals the file's stem).
    pub role: Author,
    /// Counts the writes of one observer run (a restart starts again at 1).
    pub seq: u64,
    /// The writer's wall clock when it wrote this document.
    pub written_at: Timestamp,
    /// The observer's own time for the view (the cluster's clock for the Kubernetes
    /// observers), when it knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<Timestamp>,
    /// The writer rewrites the document at least this often while it runs (milliseconds).
    pub heartbeat_ms: u64,
    /// True in the last document of a run: the observer stopped (cleanly) after writing it.
    #[serde(default)]
    pub stopped: bool,
    /// A word about the view as a whole ("lost the Kubernetes API at 17:15:04Z").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// The pipeline observer: each Rollout it watches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutState>,
    /// The data-plane observer: pods per ReplicaSet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_sets: Vec<ReplicaSetPods>,
    /// The traffic observer: each route in the last window.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteState>,
}

/// A Rollout as `rollout get` shows it, in a few fields.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RolloutState {
    pub namespace: String,
    pub name: String,
    /// `Healthy`, `Progressing`, `Paused`, `Degraded`, … (the `rollout get` status).
    pub status: String,
    pub message: String,
    /// `Canary` or `BlueGreen`.
    pub strategy: String,
    /// `i/n` for a canary (empty otherwise).
    pub step: String,
    pub set_weight: i32,
    pub actual_weight: i32,
    /// `status.abort`: the rollout was aborted.
    pub aborted: bool,
    pub stable_images: Vec<String>,
    pub canary_images: Vec<String>,
    pub replicas: Replicas,
    /// The newest AnalysisRun of the rollout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisState>,
}

/// Replica counts of a Rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Replicas {
    pub desired: i32,
    pub current: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

/// An AnalysisRun's phase and its last measurement.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalysisState {
    pub name: String,
    pub phase: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<MeasurementState>,
}

/// One measurement of a metric.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MeasurementState {
    pub metric: String,
    pub phase: String,
    pub value: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
}

/// Pods of one ReplicaSet.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplicaSetPods {
    pub name: String,
    /// `Rollout litellm`, `Deployment litellm`, or empty.
    pub owner: String,
    pub desired: i32,
    pub ready: i32,
    pub not_ready: i32,
}

/// One route of the synthetic traffic over the last window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RouteState {
    /// `GET /v1/models`.
    pub route: String,
    pub requests: u64,
    pub failures: u64,
    /// Length of the window (milliseconds).
    pub window_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
}

impl StateDoc {
    /// An empty document for `role`, written now.
    pub fn new(role: Author, heartbeat_ms: u64) -> Self {
        Self {
            version: VERSION,
            role,
            seq: 0,
            written_at: Timestamp::now(),
            observed_at: None,
            heartbeat_ms,
            stopped: false,
            note: String::new(),
            rollouts: Vec::new(),
            replica_sets: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Parses and checks a document read from the file of `role`.
    pub fn parse(bytes: &[u8], role: &Author) -> Result<Self, String> {
        if bytes.len() > MAX_BYTES {
            return Err(format!(
                "{} bytes, over the limit of {MAX_BYTES}",
                bytes.len()
            ));
        }
        let doc: StateDoc = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if doc.version != VERSION {
            return Err(format!(
                "format version {} is not {VERSION}: written by another warroom version",
                doc.version
            ));
        }
        if &doc.role != role {
            return Err(format!(
                "it says role \"{}\", but the file belongs to \"{role}\"",
                doc.role
            ));
        }
        if doc.heartbeat_ms == 0 {
            return Err("heartbeat_ms is 0".into());
        }
        Ok(doc)
    }

    /// The document as written to its file: compact JSON and a newline.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut out = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        out.push(b'\n');
        if out.len() > MAX_BYTES {
            return Err(format!(
                "the state is {} bytes, over the limit of {MAX_BYTES}: publish fewer objects",
                out.len()
            ));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(s: &str) -> Author {
        Author::new(s).unwrap()
    }

    #[test]
    fn a_document_round_trips_and_bad_ones_say_why() {
        let mut d = StateDoc::new(role("pipeline"), 5000);
        d.rollouts.push(RolloutState {
            namespace: "llm".into(),
            name: "litellm".into(),
            status: "Degraded".into(),
            step: "1/8".into(),
            set_weight: 20,
            ..RolloutState::default()
        });
        let bytes = d.to_bytes().unwrap();
        assert_eq!(StateDoc::parse(&bytes, &role("pipeline")).unwrap(), d);
        let other = StateDoc::parse(&bytes, &role("traffic")).unwrap_err();
        assert!(other.contains("belongs to \"traffic\""), "{other}");
        assert!(StateDoc::parse(b"{", &role("pipeline")).is_err());
        assert!(StateDoc::parse(b"[]", &role("pipeline")).is_err());
        let v2 = String::from_utf8(bytes.clone())
            .unwrap()
            .replace("\"version\":1", "\"version\":2");
        assert!(
            StateDoc::parse(v2.as_bytes(), &role("pipeline"))
                .unwrap_err()
                .contains("version 2")
        );
        let huge = vec![b' '; MAX_BYTES + 1];
        assert!(
            StateDoc::parse(&huge, &role("pipeline"))
                .unwrap_err()
                .contains("over the limit")
        );
        // Unknown fields from a later writer are ignored.
        let extra = String::from_utf8(bytes)
            .unwrap()
            .replacen('{', "{\"future\":[1,2],", 1);
        assert!(StateDoc::parse(extra.as_bytes(), &role("pipeline")).is_ok());
    }
}
