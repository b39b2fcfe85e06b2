//! The ReplicaSet controller: keeps each ReplicaSet's pods at `spec.replicas` — pods named
//! `RS-xxxxx` from its template, with a controller ownerReference carrying the ReplicaSet's
//! uid — deleting the least useful pods first on a scale-down (unscheduled, pending,
//! not ready, ready for less time, more restarts, newest), and writes its status
//! (replicas, fullyLabeledReplicas, readyReplicas, availableReplicas after minReadySeconds,
//! observedGeneration) with the `SuccessfulCreate` / `SuccessfulDelete` Events.
//!
//! Owns: pods' existence and ReplicaSet status. It must not scale ReplicaSets (the
//! Deployment and Rollout controllers do) nor write pod status (the kubelet does).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::world::{Kind, World, fnv64, owned_by, owner_reference, parse_time, selector_of};

const COMPONENT: &str = "replicaset-controller";

/// Pod name suffixes: five of Kubernetes' safe characters.
fn suffix(seed: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut n = fnv64(seed);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize] as char;
            n /= ALPHABET.len() as u64;
            c
        })
        .collect()
}

/// True when the pod's Ready condition is True.
pub fn is_ready(pod: &Value) -> bool {
    ready_since(pod).is_some()
}

/// When the pod became ready, if it is.
pub fn ready_since(pod: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let c = pod["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready" && c["status"] == "True")?;
    parse_time(&c["lastTransitionTime"]).or(Some(chrono::DateTime::<chrono::Utc>::MIN_UTC))
}

/// Ready for at least `min_ready_seconds` at `now`.
pub fn is_available(
    pod: &Value,
    min_ready_seconds: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    ready_since(pod).is_some_and(|t| {
        min_ready_seconds == 0 || now - t >= chrono::Duration::seconds(min_ready_seconds)
    })
}

/// Pods by the uid of their controller (a pod without one is in no group).
fn by_controller(pods: Vec<Arc<Value>>) -> HashMap<String, Vec<Arc<Value>>> {
    let mut groups: HashMap<String, Vec<Arc<Value>>> = HashMap::new();
    for pod in pods {
        let controller = pod["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
            .and_then(|r| r["uid"].as_str())
            .map(str::to_string);
        if let Some(uid) = controller {
            groups.entry(uid).or_default().push(pod);
        }
    }
    groups
}

/// The ReplicaSet controller's memory between ticks.
#[derive(Debug, Default)]
pub struct Controller {
    /// Per ReplicaSet (by uid) whose last reconcile wrote nothing and whose status does not
    /// depend on the time (no minReadySeconds): the resourceVersions of it and of its pods
    /// then. While they are the same, a reconcile would find the same nothing to do.
    quiet: HashMap<String, Vec<String>>,
}

/// The resourceVersions of a ReplicaSet and of its pods, in order.
fn versions(rs: &Value, pods: &[Arc<Value>]) -> Vec<String> {
    std::iter::once(rs)
        .chain(pods.iter().map(|p| &**p))
        .map(|o| {
            o["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

impl Controller {
    /// Reconciles every ReplicaSet. The pods are grouped by controller once per tick:
    /// scanning every pod for every ReplicaSet made a tick at 500 Rollouts × 10 pods take
    /// over a second. A ReplicaSet found quiet before, with it and its pods unchanged, is
    /// not reconciled again.
    pub fn tick(&mut self, world: &World) {
        let pods = by_controller(world.list(Kind::Pod, None));
        let mut quiet = HashMap::new();
        for rs in world.list(Kind::ReplicaSet, None) {
            let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
            let own = pods.get(uid).map(Vec::as_slice).unwrap_or_default();
            let timeless = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0) == 0;
            let before = timeless.then(|| versions(&rs, own));
            if before.is_some() && self.quiet.get(uid) == before.as_ref() {
                quiet.insert(uid.to_string(), before.unwrap_or_default());
                continue;
            }
            match reconcile(world, &rs, own) {
                Ok(false) => {
                    if let Some(before) = before {
                        quiet.insert(uid.to_string(), before);
                    }
                }
                Ok(true) => {}
                Err(err) => tracing::debug!("replicaset controller: {err}"),
            }
        }
        self.quiet = quiet;
    }
}

/// One ReplicaSet's pods and status; true when it wrote anything.
fn reconcile(
    world: &World,
    rs: &Arc<Value>,
    all_pods: &[Arc<Value>],
) -> Result<bool, crate::sim::StoreError> {
    let namespace = rs["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = rs["metadata"]["name"].as_str().unwrap_or_default();
    let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let uid = &rs["metadata"]["uid"];
    let mut pods: Vec<Arc<Value>> = all_pods
        .iter()
        .filter(|p| owned_by(p, uid))
        .cloned()
        .collect();
    let pods_changed = pods.len() != want;
    if pods.len() < want {
        for i in 0..want - pods.len() {
            let uid = rs["metadata"]["uid"].as_str().unwrap_or_default();
            let mut serial = i;
            let pod = loop {
                let pod_name = format!(
                    "{name}-{}",
                    suffix(&format!("{uid}/{}/{serial}", world.stamp()))
                );
                if world.get(Kind::Pod, namespace, &pod_name).is_none() {
                    break pod_name;
                }
                serial += 1000;
            };
            let template = &rs["spec"]["template"];
            let mut metadata = template["metadata"].clone();
            if !metadata.is_object() {
                metadata = json!({});
            }
            metadata["name"] = json!(pod);
            metadata["namespace"] = json!(namespace);
            metadata["generateName"] = json!(format!("{name}-"));
            metadata["ownerReferences"] = json!([owner_reference(rs)]);
            let object = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": metadata,
                "spec": template["spec"],
                "status": {"phase": "Pending"},
            });
            let change = world.create(Kind::Pod, object)?;
            world.event(
                rs,
                "Normal",
                "SuccessfulCreate",
                &format!("Created pod: {pod}"),
                COMPONENT,
            )?;
            pods.push(change.object.clone());
        }
    } else if pods.len() > want {
        pods.sort_by_cached_key(|p| deletion_rank(p));
        let extra = pods.len() - want;
        for pod in pods.drain(..extra) {
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or_default();
            world.delete(Kind::Pod, namespace, pod_name)?;
            world.event(
                rs,
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {pod_name}"),
                COMPONENT,
            )?;
        }
    }
    let min_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
    let selector = selector_of(&rs["spec"]["selector"]);
    // is_ready and is_available, with each pod's Ready condition read once.
    let since: Vec<_> = pods.iter().map(|p| ready_since(p)).collect();
    let ready = since.iter().filter(|t| t.is_some()).count();
    let available = since
        .iter()
        .filter(|t| {
            t.is_some_and(|t| {
                min_ready == 0 || world.now - t >= chrono::Duration::seconds(min_ready)
            })
        })
        .count();
    let labeled = pods
        .iter()
        .filter(|p| selector.as_ref().is_some_and(|s| s.matches_object(p)))
        .count();
    let status = json!({
        "replicas": pods.len(),
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": rs["metadata"]["generation"],
    });
    let wrote = pods_changed | world.replace_status(Kind::ReplicaSet, rs, status)?;
    Ok(wrote)
}

/// Sort key: the pods to delete first come first (Kubernetes' ActivePods ordering).
#[allow(clippy::type_complexity)]
fn deletion_rank(
    pod: &Value,
) -> (
    bool,
    u8,
    bool,
    Reverse<Option<chrono::DateTime<chrono::Utc>>>,
    Reverse<i64>,
    Reverse<String>,
    String,
) {
    let scheduled = !pod["spec"]["nodeName"].is_null();
    let phase = match pod["status"]["phase"].as_str() {
        Some("Pending") => 0,
        Some("Running") => 2,
        _ => 1,
    };
    let ready = ready_since(pod);
    let restarts: i64 = pod["status"]["containerStatuses"]
        .as_array()
        .map_or(0, |cs| {
            cs.iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum()
        });
    let created = pod["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (
        scheduled,
        phase,
        ready.is_some(),
        Reverse(ready),
        Reverse(restarts),
        Reverse(created),
        pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}
