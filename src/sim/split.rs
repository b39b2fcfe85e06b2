//! The traffic split behind a Service, from the stored objects: which pods a request to the
//! Service can reach, and with what share.
//!
//! Kubernetes semantics: a Service's endpoints are the Ready, not terminating pods its
//! selector matches, and without traffic routing each gets an equal share (so the canary's
//! share is its replica share). With a canary Rollout's traffic routing, the router sends the
//! Rollout's canary weight to the canary Service's endpoints and the rest to the stable
//! Service's (Argo's `status.canary.weights`, or the weight of the step the Rollout is at; 0
//! once aborted). Pure: objects in, shares out. It must not pick a request's answer: that is
//! [`super::backend`].

use std::sync::Arc;

use serde_json::Value;

/// One endpoint and the share of the Service's requests it receives.
#[derive(Debug, Clone, PartialEq)]
pub struct Share {
    pub pod: String,
    /// The image of the pod's first container: the version that answers.
    pub image: String,
    /// Share of requests, summing to 1 over a split (empty when nothing is Ready).
    pub weight: f64,
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn is_ready(pod: &Value) -> bool {
    pod.pointer("/metadata/deletionTimestamp").is_none()
        && pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            })
}

/// The Ready pods the Service selects (a Service without a selector selects none).
fn endpoints<'a>(service: &Value, pods: &'a [Arc<Value>]) -> Vec<&'a Value> {
    let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else {
        return Vec::new();
    };
    if selector.is_empty() {
        return Vec::new();
    }
    pods.iter()
        .map(|p| p.as_ref())
        .filter(|pod| {
            let labels = pod.pointer("/metadata/labels");
            selector
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        })
        .filter(|pod| is_ready(pod))
        .collect()
}

fn equal_shares(pods: &[&Value], total: f64) -> Vec<Share> {
    let n = pods.len() as f64;
    pods.iter()
        .map(|pod| Share {
            pod: str_at(pod, "/metadata/name").unwrap_or("").to_string(),
            image: str_at(pod, "/spec/containers/0/image")
                .unwrap_or("")
                .to_string(),
            weight: total / n,
        })
        .collect()
}

/// The canary weight (0 to 100) a traffic router applies for this Rollout now.
pub fn canary_weight(rollout: &Value) -> f64 {
    let status = &rollout["status"];
    if status.get("abort") == Some(&Value::Bool(true)) {
        return 0.0;
    }
    let max = rollout
        .pointer("/spec/strategy/canary/trafficRouting/maxTrafficWeight")
        .and_then(Value::as_f64)
        .unwrap_or(100.0);
    if let Some(w) = status
        .pointer("/canary/weights/canary/weight")
        .and_then(Value::as_f64)
    {
        return w * 100.0 / max;
    }
    // No weights in the status: the last setWeight before the current step.
    let steps = rollout
        .pointer("/spec/strategy/canary/steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(index) = status.get("currentStepIndex").and_then(Value::as_u64) else {
        return 0.0;
    };
    if index as usize >= steps.len() {
        return 0.0;
    }
    steps[..=index as usize]
        .iter()
        .rev()
        .find_map(|s| s.get("setWeight").and_then(Value::as_f64))
        .map_or(0.0, |w| w * 100.0 / max)
}

/// The split of requests to `service` (namespace `namespace`) given the namespace's Rollouts,
/// Services and pods.
pub fn split(
    service: &Value,
    rollouts: &[Arc<Value>],
    services: &[Arc<Value>],
    pods: &[Arc<Value>],
) -> Vec<Share> {
    let name = str_at(service, "/metadata/name").unwrap_or("");
    let routed = rollouts.iter().find(|r| {
        r.pointer("/spec/strategy/canary/trafficRouting")
            .is_some_and(|t| !t.is_null())
            && str_at(r, "/spec/strategy/canary/stableService") == Some(name)
    });
    let Some(rollout) = routed else {
        return equal_shares(&endpoints(service, pods), 1.0);
    };
    let canary_service = str_at(rollout, "/spec/strategy/canary/canaryService").and_then(|c| {
        services
            .iter()
            .find(|s| str_at(s, "/metadata/name") == Some(c))
    });
    let stable = endpoints(service, pods);
    let canary = canary_service
        .map(|s| endpoints(s, pods))
        .unwrap_or_default();
    let weight = (canary_weight(rollout) / 100.0).clamp(0.0, 1.0);
    match (stable.is_empty(), canary.is_empty()) {
        (_, true) => equal_shares(&stable, 1.0),
        (true, false) => equal_shares(&canary, 1.0),
        (false, false) => {
            let mut shares = equal_shares(&stable, 1.0 - weight);
            shares.extend(equal_shares(&canary, weight));
            shares.retain(|s| s.weight > 0.0);
            shares
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, hash: &str, image: &str, ready: bool) -> Arc<Value> {
        Arc::new(json!({
            "metadata": {"name": name, "labels": {"app": "web", "rollouts-pod-template-hash": hash}},
            "spec": {"containers": [{"name": "web", "image": image}]},
            "status": {"conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]},
        }))
    }

    fn service(name: &str, hash: Option<&str>) -> Arc<Value> {
        let mut selector = json!({"app": "web"});
        if let Some(h) = hash {
            selector["rollouts-pod-template-hash"] = json!(h);
        }
        Arc::new(json!({"metadata": {"name": name}, "spec": {"selector": selector}}))
    }

    fn pods() -> Vec<Arc<Value>> {
        let mut pods: Vec<Arc<Value>> = (0..11)
            .map(|i| pod(&format!("web-a-{i}"), "a", "web:v1", true))
            .collect();
        pods.push(pod("web-b-0", "b", "web:v2", true));
        pods.push(pod("web-b-1", "b", "web:v2", false));
        pods
    }

    fn share_of(shares: &[Share], image: &str) -> f64 {
        shares
            .iter()
            .filter(|s| s.image == image)
            .map(|s| s.weight)
            .sum()
    }

    #[test]
    fn without_traffic_routing_the_replica_share_decides() {
        let shares = split(&service("web", None), &[], &[], &pods());
        assert_eq!(shares.len(), 12, "the unready pod is no endpoint");
        assert!((share_of(&shares, "web:v2") - 1.0 / 12.0).abs() < 1e-9);
    }

    #[test]
    fn with_traffic_routing_the_weight_decides_and_an_abort_ends_it() {
        let mut rollout = json!({
            "spec": {"strategy": {"canary": {
                "stableService": "web", "canaryService": "web-canary",
                "trafficRouting": {"plugins": {}},
                "steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}]}}},
            "status": {"currentStepIndex": 1},
        });
        let services = [service("web", Some("a")), service("web-canary", Some("b"))];
        let at = |rollout: &Value| {
            let shares = split(
                &services[0],
                &[Arc::new(rollout.clone())],
                &services,
                &pods(),
            );
            share_of(&shares, "web:v2")
        };
        assert!((at(&rollout) - 0.2).abs() < 1e-9);
        rollout["status"]["canary"] = json!({"weights": {"canary": {"weight": 50}}});
        assert!((at(&rollout) - 0.5).abs() < 1e-9);
        rollout["status"]["abort"] = json!(true);
        assert_eq!(at(&rollout), 0.0);
    }
}
