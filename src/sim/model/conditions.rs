//! Rollout conditions, pause conditions, phase and message as Argo Rollouts computes them
//! (utils/conditions, rollout/pause.go, utils/rollout's CalculateRolloutPhase), with the
//! reasons and messages of Argo's source.
//!
//! Owns: pure functions over a Rollout's JSON status. It must not write to the store nor
//! emit Events itself: the Rollout controller does, from what these return.

use serde_json::{Value, json};

pub const PROGRESSING: &str = "Progressing";
pub const AVAILABLE: &str = "Available";
pub const HEALTHY: &str = "Healthy";
pub const PAUSED: &str = "Paused";
pub const COMPLETED: &str = "Completed";

pub const REPLICA_SET_UPDATED: &str = "ReplicaSetUpdated";
pub const NEW_REPLICA_SET_CREATED: &str = "NewReplicaSetCreated";
pub const FOUND_NEW_RS: &str = "FoundNewReplicaSet";
pub const NEW_RS_AVAILABLE: &str = "NewReplicaSetAvailable";
pub const TIMED_OUT: &str = "ProgressDeadlineExceeded";
pub const ABORTED: &str = "RolloutAborted";
pub const RETRY: &str = "RolloutRetry";
pub const PAUSED_REASON: &str = "RolloutPaused";
pub const RESUMED: &str = "RolloutResumed";
pub const RS_NOT_AVAILABLE: &str = "ReplicaSetNotAvailable";
pub const AVAILABLE_REASON: &str = "AvailableReason";
pub const HEALTHY_REASON: &str = "RolloutHealthy";
pub const COMPLETED_REASON: &str = "RolloutCompleted";

/// A new condition stamped `now` (RFC 3339).
pub fn condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({
        "type": kind, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now,
    })
}

pub fn get<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// SetRolloutCondition: no change when status and reason are the same; the transition time
/// is kept when only the reason changes. True when it changed.
pub fn set(status: &mut Value, mut condition: Value) -> bool {
    let kind = condition["type"].clone();
    if let Some(current) = get(status, kind.as_str().unwrap_or_default()) {
        if current["status"] == condition["status"] && current["reason"] == condition["reason"] {
            return false;
        }
        if current["status"] == condition["status"] {
            condition["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
    }
    remove(status, kind.as_str().unwrap_or_default());
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    if let Some(list) = status["conditions"].as_array_mut() {
        list.push(condition);
    }
    true
}

pub fn remove(status: &mut Value, kind: &str) {
    if let Some(list) = status["conditions"].as_array_mut() {
        list.retain(|c| c["type"] != kind);
    }
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// RolloutProgressing: something moved between the old and the new status.
pub fn progressing(spec: &Value, old: &Value, new: &Value) -> bool {
    let strategy = if spec["strategy"]["blueGreen"].is_object() {
        old["blueGreen"]["activeSelector"] != new["blueGreen"]["activeSelector"]
            || old["blueGreen"]["previewSelector"] != new["blueGreen"]["previewSelector"]
    } else {
        let step = !old["currentStepIndex"].is_null()
            && !new["currentStepIndex"].is_null()
            && old["currentStepIndex"] != new["currentStepIndex"];
        new["stableRS"] != old["stableRS"]
            || step
            || new["currentStepHash"] != old["currentStepHash"]
    };
    let old_old = int(&old["replicas"]) - int(&old["updatedReplicas"]);
    let new_old = int(&new["replicas"]) - int(&new["updatedReplicas"]);
    new["updatedReplicas"] != old["updatedReplicas"]
        || new_old < old_old
        || int(&new["readyReplicas"]) > int(&old["readyReplicas"])
        || int(&new["availableReplicas"]) > int(&old["availableReplicas"])
        || strategy
}

/// RolloutHealthy: every replica updated and available, the generation observed, and the
/// strategy done.
pub fn healthy(ro: &Value, new: &Value) -> bool {
    let spec = &ro["spec"];
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    let completed = if let Some(bg) = spec["strategy"]["blueGreen"].as_object() {
        let active = new["blueGreen"]["activeSelector"] == new["currentPodHash"];
        let preview = bg
            .get("previewService")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
            || new["blueGreen"]["previewSelector"] == new["currentPodHash"];
        active && preview
    } else {
        let steps = spec["strategy"]["canary"]["steps"]
            .as_array()
            .map_or(0, Vec::len) as i64;
        let all_steps = steps == 0
            || new["currentStepIndex"].is_null()
            || new["currentStepIndex"].as_i64() == Some(steps);
        let stable = new["stableRS"].as_str().is_some_and(|s| !s.is_empty())
            && new["stableRS"] == new["currentPodHash"];
        all_steps && stable && int(&new["replicas"]) == replicas
    };
    int(&new["updatedReplicas"]) == replicas
        && int(&new["availableReplicas"]) == replicas
        && ro["status"]["observedGeneration"].as_str()
            == Some(
                ro["metadata"]["generation"]
                    .as_i64()
                    .unwrap_or(0)
                    .to_string()
                    .as_str(),
            )
        && completed
}

/// RolloutCompleted: the current pod hash is the stable one.
pub fn completed(new: &Value) -> bool {
    new["stableRS"].as_str().is_some_and(|s| !s.is_empty())
        && new["stableRS"] == new["currentPodHash"]
}

/// RolloutTimedOut: the Progressing condition has not been updated for
/// progressDeadlineSeconds (never while paused or aborted).
pub fn timed_out(ro: &Value, status: &Value, now: chrono::DateTime<chrono::Utc>) -> bool {
    let Some(c) = get(status, PROGRESSING) else {
        return false;
    };
    if c["reason"] == ABORTED || c["reason"] == PAUSED_REASON {
        return false;
    }
    if c["reason"] == TIMED_OUT {
        return true;
    }
    let Some(from) = super::world::parse_time(&c["lastUpdateTime"]) else {
        return false;
    };
    let deadline = ro["spec"]["progressDeadlineSeconds"]
        .as_i64()
        .unwrap_or(600);
    from + chrono::Duration::seconds(deadline) < now
}

/// CalculateRolloutPhase: the phase and message from the spec and a status.
pub fn phase(spec: &Value, status: &Value) -> (&'static str, String) {
    for c in status["conditions"].as_array().into_iter().flatten() {
        if c["type"] == "InvalidSpec" {
            return (
                "Degraded",
                format!("InvalidSpec: {}", c["message"].as_str().unwrap_or_default()),
            );
        }
        if c["reason"] == ABORTED || c["reason"] == TIMED_OUT {
            return (
                "Degraded",
                format!(
                    "{}: {}",
                    c["reason"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ),
            );
        }
    }
    if spec["paused"] == true {
        return ("Paused", "manually paused".into());
    }
    if let Some(first) = status["pauseConditions"].as_array().and_then(|p| p.first()) {
        return (
            "Paused",
            first["reason"].as_str().unwrap_or_default().to_string(),
        );
    }
    let replicas = spec["replicas"].as_i64().unwrap_or(1);
    if int(&status["updatedReplicas"]) < replicas {
        return ("Progressing", "more replicas need to be updated".into());
    }
    if int(&status["availableReplicas"]) < int(&status["updatedReplicas"]) {
        return (
            "Progressing",
            "updated replicas are still becoming available".into(),
        );
    }
    let promoted = status["stableRS"].as_str().is_some_and(|s| !s.is_empty())
        && status["stableRS"] == status["currentPodHash"];
    if spec["strategy"]["blueGreen"].is_object() {
        let active = status["blueGreen"]["activeSelector"]
            .as_str()
            .unwrap_or_default();
        if active.is_empty() || status["blueGreen"]["activeSelector"] != status["currentPodHash"] {
            return ("Progressing", "active service cutover pending".into());
        }
        if !promoted {
            let post = &spec["strategy"]["blueGreen"]["postPromotionAnalysis"];
            let done = matches!(
                status["blueGreen"]["postPromotionAnalysisRunStatus"]["status"].as_str(),
                Some("Successful" | "Failed" | "Error" | "Inconclusive")
            );
            if post.is_object() && !done {
                return ("Progressing", "waiting for analysis to complete".into());
            }
            return (
                "Progressing",
                "waiting for post-promotion verification to complete".into(),
            );
        }
    } else {
        if spec["strategy"]["canary"]["trafficRouting"].is_null()
            && int(&status["replicas"]) > int(&status["updatedReplicas"])
        {
            return ("Progressing", "old replicas are pending termination".into());
        }
        if !promoted {
            return ("Progressing", "waiting for all steps to complete".into());
        }
    }
    ("Healthy", String::new())
}

/// What a reconcile asks of the pause and abort state (rollout/pause.go's pauseContext).
#[derive(Debug, Default, Clone)]
pub struct Pause {
    pub add: Vec<&'static str>,
    pub remove: Vec<&'static str>,
    pub clear: bool,
    pub add_abort: bool,
    pub remove_abort: bool,
    pub abort_message: String,
}

impl Pause {
    pub fn is_aborted(&self, ro: &Value) -> bool {
        !self.remove_abort && (self.add_abort || ro["status"]["abort"] == true)
    }

    pub fn abort(&mut self, message: String) {
        self.add_abort = true;
        self.abort_message = message;
    }

    /// CalculatePauseStatus: abort, abortedAt, pauseConditions and controllerPause in `new`.
    pub fn apply(&self, ro: &Value, new: &mut Value, now: &str) {
        let old = &ro["status"];
        if self.add_abort || (!self.remove_abort && old["abort"] == true) {
            new["abort"] = json!(true);
            new["abortedAt"] = if old["abortedAt"].is_string() {
                old["abortedAt"].clone()
            } else {
                json!(now)
            };
            return;
        }
        if let Some(m) = new.as_object_mut() {
            m.remove("abort");
            m.remove("abortedAt");
        }
        if self.clear {
            return;
        }
        let mut controller_pause = old["controllerPause"] == true;
        let mut conditions: Vec<Value> = Vec::new();
        let mut seen = Vec::new();
        for c in old["pauseConditions"].as_array().into_iter().flatten() {
            let reason = c["reason"].as_str().unwrap_or_default();
            if !self.remove.contains(&reason) {
                conditions.push(c.clone());
            }
            seen.push(reason.to_string());
        }
        for reason in &self.add {
            if !seen.iter().any(|s| s == reason) {
                conditions.push(json!({"reason": reason, "startTime": now}));
                controller_pause = true;
            }
        }
        if conditions.is_empty() {
            return;
        }
        new["controllerPause"] = json!(controller_pause);
        new["pauseConditions"] = json!(conditions);
    }
}

/// A pause condition of the stored status, by reason.
pub fn pause_condition<'a>(ro: &'a Value, reason: &str) -> Option<&'a Value> {
    ro["status"]["pauseConditions"]
        .as_array()?
        .iter()
        .find(|c| c["reason"] == reason)
}
