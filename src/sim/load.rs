//! Synthetic load: many pods, and a steady stream of changes to them, for benchmarks.
//!
//! A scenario's `load:` section asks for N pods (spread over ReplicaSets and nodes) and a rate
//! of changes in scenario time. The objects and each change are pure functions of the spec and
//! the change's number, so a run is reproducible and a bench can predict what an observer
//! should report. It must not touch the network; the simulator applies what it generates.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// The `load:` section of a scenario.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoadSpec {
    /// Namespace of the generated objects (created when the scenario has none by that name).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    pub pods: usize,
    /// ReplicaSets the pods are spread over.
    #[serde(default = "ten")]
    pub replica_sets: usize,
    /// Nodes the pods are spread over (`spec.nodeName`).
    #[serde(default = "ten")]
    pub nodes: usize,
    /// Pod changes per second of scenario time; 0 means no churn.
    #[serde(default)]
    pub changes_per_second: f64,
    /// When the churn starts (scenario time).
    #[serde(default, with = "super::scenario::opt_duration")]
    pub from: Option<Duration>,
    /// How long the churn lasts (scenario time).
    #[serde(default, rename = "for", with = "super::scenario::opt_duration")]
    pub duration: Option<Duration>,
}

fn default_namespace() -> String {
    "load".into()
}

fn ten() -> usize {
    10
}

impl LoadSpec {
    /// Changes in the whole churn.
    pub fn total_changes(&self) -> u64 {
        let secs = self.duration.unwrap_or_default().as_secs_f64();
        (secs * self.changes_per_second).floor() as u64
    }

    /// Scenario time at which the churn is over.
    pub fn churn_end(&self) -> Duration {
        self.from.unwrap_or_default() + self.duration.unwrap_or_default()
    }

    /// Changes due `elapsed` after the churn started.
    pub fn due(&self, elapsed: Duration) -> u64 {
        ((elapsed.as_secs_f64() * self.changes_per_second).floor() as u64).min(self.total_changes())
    }

    fn replica_set_of(&self, pod: usize) -> usize {
        pod % self.replica_sets.max(1)
    }

    fn pod_name(&self, pod: usize) -> String {
        format!("load-{:03}-{pod:05}", self.replica_set_of(pod))
    }

    /// The namespace, ReplicaSets and pods, stamped at `t`.
    pub fn objects(&self, t: DateTime<Utc>) -> Vec<Value> {
        let stamp = t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let ns = &self.namespace;
        let sets = self.replica_sets.max(1);
        let mut out = vec![json!({
            "apiVersion": "v1", "kind": "Namespace",
            "metadata": {"name": ns, "creationTimestamp": stamp},
        })];
        for j in 0..sets {
            let replicas = (0..self.pods).filter(|p| p % sets == j).count();
            let name = format!("load-{j:03}");
            out.push(json!({
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": name, "namespace": ns, "labels": {"app": "load", "set": name}},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "load", "set": name}},
                         "template": {"metadata": {"labels": {"app": "load", "set": name}},
                                      "spec": {"containers": [{"name": "app", "image": "example.com/load:1"}]}}},
                "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas},
            }));
        }
        for p in 0..self.pods {
            let set = format!("load-{:03}", self.replica_set_of(p));
            out.push(json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": self.pod_name(p), "namespace": ns,
                             "labels": {"app": "load", "set": set},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": set, "controller": true}]},
                "spec": {"nodeName": format!("node-{:02}", p % self.nodes.max(1)),
                         "containers": [{"name": "app", "image": "example.com/load:1"}]},
                "status": {"phase": "Running", "podIP": format!("10.{}.{}.{}", 100 + p / 65536, (p / 256) % 256, p % 256),
                           "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": stamp}],
                           "containerStatuses": [{"name": "app", "image": "example.com/load:1", "ready": true,
                                                  "started": true, "restartCount": 0,
                                                  "state": {"running": {"startedAt": stamp}}}]},
            }));
        }
        out
    }

    /// Change number `n` (from 0): the pod it touches and the merge patch. Pods are visited
    /// round-robin; each visit flips readiness, and every second visit (back to Ready) counts
    /// a restart, so every change is one an observer can see.
    pub fn change(&self, n: u64, t: DateTime<Utc>) -> (String, Value) {
        let pods = self.pods.max(1) as u64;
        let pod = (n % pods) as usize;
        let round = n / pods;
        let ready = round % 2 == 1;
        let restarts = round.div_ceil(2);
        let stamp = t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let patch = json!({"status": {
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": stamp}],
            "containerStatuses": [{"name": "app", "image": "example.com/load:1", "ready": ready,
                                   "started": ready, "restartCount": restarts,
                                   "state": if ready { json!({"running": {"startedAt": stamp}}) }
                                            else { json!({"waiting": {"reason": "CrashLoopBackOff"}}) }}],
        }});
        (self.pod_name(pod), patch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> LoadSpec {
        serde_saphyr::from_str(
            "{pods: 5, replicaSets: 2, nodes: 3, changesPerSecond: 4, from: 10s, for: 2500ms}",
        )
        .unwrap()
    }

    #[test]
    fn objects_spread_over_sets_and_nodes() {
        let s = spec();
        let objects = s.objects(DateTime::UNIX_EPOCH);
        assert_eq!(objects.len(), 1 + 2 + 5);
        assert_eq!(objects[1]["spec"]["replicas"], 3);
        assert_eq!(objects[2]["spec"]["replicas"], 2);
        assert_eq!(objects[3]["metadata"]["name"], "load-000-00000");
        assert_eq!(objects[4]["metadata"]["name"], "load-001-00001");
        assert_eq!(objects[6]["spec"]["nodeName"], "node-00");
        assert_eq!(s.namespace, "load");
    }

    #[test]
    fn churn_is_counted_and_flips_readiness() {
        let s = spec();
        assert_eq!(s.total_changes(), 10);
        assert_eq!(s.churn_end(), Duration::from_millis(12_500));
        assert_eq!(s.due(Duration::from_millis(1_300)), 5);
        assert_eq!(s.due(Duration::from_secs(100)), 10);
        let t = DateTime::UNIX_EPOCH;
        let (pod, first) = s.change(0, t);
        assert_eq!(pod, "load-000-00000");
        assert_eq!(first["status"]["containerStatuses"][0]["ready"], false);
        let (pod, again) = s.change(5, t);
        assert_eq!(pod, "load-000-00000");
        assert_eq!(again["status"]["containerStatuses"][0]["ready"], true);
        assert_eq!(again["status"]["containerStatuses"][0]["restartCount"], 1);
    }
}
