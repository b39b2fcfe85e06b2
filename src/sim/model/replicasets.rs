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

/// Pods whose controller is `owner` (by uid).
pub fn pods_of<'a>(pods: &'a [std::sync::Arc<Value>], owner: &Value) -> Vec<&'a Value> {
    let uid = &owner["metadata"]["uid"];
    pods.iter()
        .map(|p| &**p)
        .filter(|p| owned_by(p, uid))
        .collect()
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

/// Reconciles every ReplicaSet. The pods are grouped by controller once per tick: scanning
/// every pod for every ReplicaSet made a tick at 500 Rollouts × 10 pods take over a second.
pub fn tick(world: &World) {
    let pods = by_controller(world.list(Kind::Pod, None));
    for rs in world.list(Kind::ReplicaSet, None) {
        let own = rs["metadata"]["uid"]
            .as_str()
            .and_then(|uid| pods.get(uid))
            .map(Vec::as_slice)
            .unwrap_or_default();
        if let Err(err) = reconcile(world, &rs, own) {
            tracing::debug!("replicaset controller: {err}");
        }
    }
}

fn reconcile(
    world: &World,
    rs: &Value,
    all_pods: &[std::sync::Arc<Value>],
) -> Result<(), crate::sim::StoreError> {
    let namespace = rs["metadata"]["namespace"].as_str().unwrap_or("default");
    let name = rs["metadata"]["name"].as_str().unwrap_or_default();
    let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    let mut pods: Vec<Value> = pods_of(all_pods, rs).into_iter().cloned().collect();
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
            pods.push((*change.object).clone());
        }
    } else if pods.len() > want {
        pods.sort_by_cached_key(deletion_rank);
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
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let available = pods
        .iter()
        .filter(|p| is_available(p, min_ready, world.now))
        .count();
    let labeled = pods
        .iter()
        .filter(|p| selector.as_ref().is_some_and(|s| s.matches_object(p)))
        .count();
    let mut updated = rs.clone();
    updated["status"] = json!({
        "replicas": pods.len(),
        "fullyLabeledReplicas": labeled,
        "readyReplicas": ready,
        "availableReplicas": available,
        "observedGeneration": rs["metadata"]["generation"],
    });
    world.replace(Kind::ReplicaSet, updated)?;
    Ok(())
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
