//! The data-plane observer's slim per-object values ([`PodState`] and friends: a few strings
//! and numbers per object) and the projections that turn a watched object into one, naming
//! objects `namespace/name` when the watch spans namespaces.
//!
//! It must not judge or render (see `rows` and [`super::DataPlaneState`]) and must not keep
//! more of an object than a row or a condition reads: a 5,000-pod namespace stays small.

use chrono::{DateTime, Utc};
use kube::api::DynamicObject;
use serde::Deserialize;

use crate::rollout::cluster;
use crate::rollout::model::{Deployment, Event, Pod, ReplicaSet};

/// The part of a ReplicaSet this observer reports on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSetState {
    pub desired: i32,
    pub ready: i32,
    pub owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentState {
    pub desired: i32,
    pub replicas: i32,
    pub ready: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodState {
    pub owner: String,
    pub node: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    /// A container's waiting reason (ContainerCreating, CrashLoopBackOff, ImagePullBackOff…).
    pub waiting: String,
    pub created: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState {
    pub active: i32,
    pub succeeded: i32,
    pub failed: i32,
    pub start: Option<DateTime<Utc>>,
    pub completion: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventState {
    pub type_: String,
    pub reason: String,
    pub object: String,
    pub message: String,
    pub count: i32,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Job {
    metadata: crate::rollout::model::ObjectMeta,
    status: JobStatus,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct JobStatus {
    active: i32,
    succeeded: i32,
    failed: i32,
    start_time: Option<DateTime<Utc>>,
    completion_time: Option<DateTime<Utc>>,
}

fn decode<T: serde::de::DeserializeOwned>(kind: &'static str, obj: DynamicObject) -> Option<T> {
    match cluster::decode::<T>(kind, obj) {
        Ok(v) => Some(v),
        Err(e) => {
            eprintln!("warning: {e}");
            None
        }
    }
}

/// An object of a watch across namespaces, with its name, its owners' names and (for an Event)
/// the name of the object it is about as `namespace/name`: two namespaces may hold the same
/// names, and every row and key then says which one it means.
pub(super) fn qualify(mut obj: DynamicObject) -> DynamicObject {
    let Some(ns) = obj.metadata.namespace.clone() else {
        return obj; // cluster-scoped
    };
    if let Some(name) = &mut obj.metadata.name {
        *name = format!("{ns}/{name}");
    }
    for o in obj.metadata.owner_references.iter_mut().flatten() {
        o.name = format!("{ns}/{}", o.name);
    }
    if let Some(name) = obj
        .data
        .get_mut("involvedObject")
        .and_then(|i| i.get_mut("name"))
        && let Some(n) = name.as_str()
    {
        *name = serde_json::Value::String(format!("{ns}/{n}"));
    }
    obj
}

pub(super) fn owner(meta: &crate::rollout::model::ObjectMeta) -> String {
    meta.owner_references
        .first()
        .map(|o| format!("{} {}", o.kind, o.name))
        .unwrap_or_default()
}

pub(super) fn project_rs(obj: DynamicObject) -> Option<(String, ReplicaSetState)> {
    let rs: ReplicaSet = decode("ReplicaSet", obj)?;
    Some((
        rs.metadata.name.clone(),
        ReplicaSetState {
            desired: rs.spec.replicas.unwrap_or(rs.status.replicas),
            ready: rs.status.ready_replicas,
            owner: owner(&rs.metadata),
        },
    ))
}

pub(super) fn project_deployment(obj: DynamicObject) -> Option<(String, DeploymentState)> {
    let d: Deployment = decode("Deployment", obj)?;
    Some((
        d.metadata.name.clone(),
        DeploymentState {
            desired: d.spec.replicas.unwrap_or(d.status.replicas),
            replicas: d.status.replicas,
            ready: d.status.ready_replicas,
        },
    ))
}

pub(super) fn project_pod(obj: DynamicObject) -> Option<(String, PodState)> {
    let p: Pod = decode("Pod", obj)?;
    let statuses = p
        .status
        .init_container_statuses
        .iter()
        .chain(&p.status.container_statuses);
    let mut waiting = String::new();
    let mut restarts = 0;
    for c in statuses {
        restarts += c.restart_count;
        if let Some(w) = &c.state.waiting
            && waiting.is_empty()
        {
            waiting = w.reason.clone();
        }
    }
    let ready = !p.status.container_statuses.is_empty()
        && p.status.container_statuses.iter().all(|c| c.ready);
    Some((
        p.metadata.name.clone(),
        PodState {
            owner: owner(&p.metadata),
            node: p.spec.node_name.clone(),
            phase: p.status.phase.clone(),
            ready,
            restarts,
            waiting,
            created: p.metadata.creation_timestamp,
        },
    ))
}

pub(super) fn project_job(obj: DynamicObject) -> Option<(String, JobState)> {
    let j: Job = decode("Job", obj)?;
    Some((
        j.metadata.name.clone(),
        JobState {
            active: j.status.active,
            succeeded: j.status.succeeded,
            failed: j.status.failed,
            start: j.status.start_time,
            completion: j.status.completion_time,
        },
    ))
}

pub(super) fn project_event(obj: DynamicObject) -> Option<(String, EventState)> {
    let e: Event = decode("Event", obj)?;
    if e.type_ != "Warning" && e.reason != "Pulled" {
        return None;
    }
    Some((
        e.metadata.name.clone(),
        EventState {
            type_: e.type_.clone(),
            reason: e.reason.clone(),
            object: format!("{} `{}`", e.involved_object.kind, e.involved_object.name),
            message: e.message.clone(),
            count: e.count.max(1),
            at: e.last_seen(),
        },
    ))
}
