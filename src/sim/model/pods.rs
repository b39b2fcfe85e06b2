//! The kubelet: each pod's lifecycle from its containers' images and the scenario's `pods:`
//! behaviours — Pending (ContainerCreating) → Running → Ready after the readiness delay;
//! an image that fails to pull (ErrImagePull, then ImagePullBackOff between retries); a
//! container that exits and is restarted with the kubelet's back-off (10 s doubling to 5 m,
//! `CrashLoopBackOff`), terminated as Error or OOMKilled — and the Events the kubelet and
//! the scheduler record on the way (Scheduled, Pulling, Pulled, Created, Started, Failed,
//! BackOff).
//!
//! Owns: pod `status` and kubelet Events, derived purely from the pod's creation time, its
//! images' behaviours and the scenario time, so a pod's state at any moment is reproducible.
//! It must not create or delete pods (the ReplicaSet controller does) nor touch any other
//! kind. Pods are scheduled at once to one node; deletion is immediate (no grace period).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::inputs::{ModelInputs, PodBehaviour, PullFailure};
use super::world::{Kind, World, fnv64, parse_time, stamp};

/// Time from a pod's creation to its containers' start (scheduling, pulling, creating).
pub const START_DELAY: Duration = Duration::from_secs(1);
/// The kubelet's back-off: first delay and cap (crash restarts and image pulls alike).
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
pub const BACKOFF_CAP: Duration = Duration::from_secs(300);
/// How long a just-exited container shows as terminated before it waits in back-off.
const TERMINATED_FOR: Duration = Duration::from_secs(1);
/// How long a failed pull shows ErrImagePull before ImagePullBackOff.
const ERR_PULL_FOR: Duration = Duration::from_secs(2);
/// The node every pod is scheduled to.
pub const NODE: &str = "sim-node-1";

/// The back-off before the (k+1)th retry: 10 s, 20 s, 40 s, … capped at 5 m.
pub fn backoff(k: u32) -> Duration {
    BACKOFF_INITIAL
        .saturating_mul(1u32 << k.min(16))
        .min(BACKOFF_CAP)
}

/// One container's state at an offset from its pod's creation.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerView {
    /// `running` | `waiting` | `terminated`, as the status writes it (times are offsets).
    pub state: State,
    pub last_state: Option<State>,
    pub ready: bool,
    /// When `ready` last changed (offset), for the pod's conditions.
    pub ready_changed: Duration,
    pub restart_count: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Running {
        started: Duration,
    },
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Terminated {
        reason: &'static str,
        exit_code: i32,
        started: Duration,
        finished: Duration,
    },
}

/// Something the kubelet records at an offset from the pod's creation.
#[derive(Debug, Clone, PartialEq)]
pub struct Happening {
    pub at: Duration,
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

fn happening(at: Duration, warning: bool, reason: &'static str, message: String) -> Happening {
    Happening {
        at,
        warning,
        reason,
        message,
    }
}

/// The container's state `elapsed` after its pod's creation, and what the kubelet recorded
/// up to then.
pub fn container_at(
    behaviour: &PodBehaviour,
    name: &str,
    image: &str,
    pod: &str,
    elapsed: Duration,
) -> (ContainerView, Vec<Happening>) {
    let mut log = vec![happening(
        Duration::ZERO,
        false,
        "Pulling",
        format!("Pulling image \"{image}\""),
    )];
    let creating = State::Waiting {
        reason: "ContainerCreating".into(),
        message: None,
    };
    let not_ready = |state| ContainerView {
        state,
        last_state: None,
        ready: false,
        ready_changed: Duration::ZERO,
        restart_count: 0,
    };
    if elapsed < START_DELAY {
        return (not_ready(creating), log);
    }
    let started = |log: &mut Vec<Happening>, at: Duration, first: bool| {
        let pulled = if first {
            format!("Successfully pulled image \"{image}\" in 1s (1s including waiting)")
        } else {
            format!("Container image \"{image}\" already present on machine")
        };
        log.push(happening(at, false, "Pulled", pulled));
        log.push(happening(
            at,
            false,
            "Created",
            format!("Created container {name}"),
        ));
        log.push(happening(
            at,
            false,
            "Started",
            format!("Started container {name}"),
        ));
    };
    match behaviour {
        PodBehaviour::Ready(delay) => {
            started(&mut log, START_DELAY, true);
            let ready_at = START_DELAY + *delay;
            let ready = elapsed >= ready_at;
            let view = ContainerView {
                state: State::Running {
                    started: START_DELAY,
                },
                last_state: None,
                ready,
                ready_changed: if ready { ready_at } else { Duration::ZERO },
                restart_count: 0,
            };
            (view, log)
        }
        PodBehaviour::Pull(PullFailure::InvalidImageName) => {
            log.clear();
            let message = format!(
                "Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format"
            );
            log.push(happening(
                START_DELAY,
                true,
                "InspectFailed",
                message.clone(),
            ));
            log.push(happening(
                START_DELAY,
                true,
                "Failed",
                "Error: InvalidImageName".into(),
            ));
            let state = State::Waiting {
                reason: "InvalidImageName".into(),
                message: Some(message),
            };
            (not_ready(state), log)
        }
        PodBehaviour::Pull(PullFailure::ErrImagePull) => {
            let mut attempt = Duration::ZERO;
            let mut k = 0;
            let state = loop {
                let failed = attempt + START_DELAY;
                let pull_error = format!(
                    "rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": not found"
                );
                log.push(happening(
                    failed,
                    true,
                    "Failed",
                    format!("Failed to pull image \"{image}\": {pull_error}"),
                ));
                log.push(happening(
                    failed,
                    true,
                    "Failed",
                    "Error: ErrImagePull".into(),
                ));
                if elapsed < failed + ERR_PULL_FOR {
                    break State::Waiting {
                        reason: "ErrImagePull".into(),
                        message: Some(pull_error),
                    };
                }
                let back_off = failed + ERR_PULL_FOR;
                log.push(happening(
                    back_off,
                    false,
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                ));
                log.push(happening(
                    back_off,
                    true,
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                ));
                let next = failed + backoff(k);
                if elapsed < next.max(back_off) {
                    break State::Waiting {
                        reason: "ImagePullBackOff".into(),
                        message: Some(format!("Back-off pulling image \"{image}\"")),
                    };
                }
                attempt = next.max(back_off);
                log.push(happening(
                    attempt,
                    false,
                    "Pulling",
                    format!("Pulling image \"{image}\""),
                ));
                k += 1;
            };
            (not_ready(state), log)
        }
        PodBehaviour::Crash(exit) | PodBehaviour::Oom(exit) => {
            let oom = matches!(behaviour, PodBehaviour::Oom(_));
            let (reason, default_code) = if oom {
                ("OOMKilled", 137)
            } else {
                ("Error", 1)
            };
            let code = exit.exit_code.unwrap_or(default_code);
            let ready_delay = super::inputs::DEFAULT_READINESS_DELAY;
            let mut start = START_DELAY;
            let mut k: u32 = 0;
            let mut last_state = None;
            let mut ready_changed = Duration::ZERO;
            loop {
                started(&mut log, start, k == 0);
                let finish = start + exit.after;
                let ready_at = start + ready_delay;
                let ever_ready = ready_at < finish;
                if elapsed < finish {
                    let ready = ever_ready && elapsed >= ready_at;
                    if ready {
                        ready_changed = ready_at;
                    }
                    let view = ContainerView {
                        state: State::Running { started: start },
                        last_state,
                        ready,
                        ready_changed,
                        restart_count: k,
                    };
                    return (view, log);
                }
                if ever_ready {
                    ready_changed = finish;
                }
                let terminated = State::Terminated {
                    reason,
                    exit_code: code,
                    started: start,
                    finished: finish,
                };
                let delay = backoff(k);
                let restart = finish + delay;
                if elapsed < restart {
                    let state = if elapsed < finish + TERMINATED_FOR {
                        terminated.clone()
                    } else {
                        State::Waiting {
                            reason: "CrashLoopBackOff".into(),
                            message: Some(format!(
                                "back-off {} restarting failed container={name} pod={pod}",
                                humantime::format_duration(delay)
                            )),
                        }
                    };
                    if elapsed >= finish + TERMINATED_FOR {
                        log.push(happening(
                            finish + TERMINATED_FOR,
                            true,
                            "BackOff",
                            format!("Back-off restarting failed container {name} in pod {pod}"),
                        ));
                    }
                    let view = ContainerView {
                        state,
                        last_state: (elapsed >= finish + TERMINATED_FOR)
                            .then_some(terminated)
                            .or(last_state),
                        ready: false,
                        ready_changed,
                        restart_count: k,
                    };
                    return (view, log);
                }
                log.push(happening(
                    finish + TERMINATED_FOR,
                    true,
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod {pod}"),
                ));
                last_state = Some(terminated);
                start = restart;
                k += 1;
            }
        }
    }
}

fn state_json(state: &State, created: chrono::DateTime<chrono::Utc>, container_id: &str) -> Value {
    let at = |d: &Duration| stamp(created + chrono::Duration::from_std(*d).unwrap_or_default());
    match state {
        State::Running { started } => json!({"running": {"startedAt": at(started)}}),
        State::Waiting { reason, message } => match message {
            Some(m) => json!({"waiting": {"reason": reason, "message": m}}),
            None => json!({"waiting": {"reason": reason}}),
        },
        State::Terminated {
            reason,
            exit_code,
            started,
            finished,
        } => json!({"terminated": {
            "reason": reason, "exitCode": exit_code,
            "startedAt": at(started), "finishedAt": at(finished), "containerID": container_id,
        }}),
    }
}

/// When a container with `behaviour` stops changing: from then on its view and the kubelet's
/// log are the same at every later moment. `None` for one that never does (pull retries,
/// restarts on the back-off).
fn settles_at(behaviour: &PodBehaviour) -> Option<Duration> {
    match behaviour {
        PodBehaviour::Ready(delay) => Some(START_DELAY + *delay),
        PodBehaviour::Pull(PullFailure::InvalidImageName) => Some(START_DELAY),
        PodBehaviour::Pull(PullFailure::ErrImagePull)
        | PodBehaviour::Crash(_)
        | PodBehaviour::Oom(_) => None,
    }
}

/// When a pod's status (and log) stops changing: when its last container settles.
fn pod_settles_at(pod: &Value, inputs: &ModelInputs) -> Option<Duration> {
    let mut at = Duration::ZERO;
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let image = c["image"].as_str().unwrap_or_default();
        at = at.max(settles_at(&inputs.pod_behaviour(image))?);
    }
    Some(at)
}

/// The kubelet's memory between ticks: how far each pod's Events have been recorded, and
/// which pods are settled.
#[derive(Debug, Default)]
pub struct Kubelet {
    recorded: HashMap<String, Duration>,
    /// Pods (by uid) found with the status they keep from now on, at this resourceVersion,
    /// and from which offset after their creation that holds. Until someone else writes
    /// such a pod, a tick has nothing to compute, write or record for it: at 5,000 pods
    /// recomputing every status each second was most of an idle tick.
    settled: HashMap<String, (String, Duration)>,
}

impl Kubelet {
    /// Brings every pod's status up to `world.now` and records the Events since last time.
    pub fn tick(&mut self, world: &World, inputs: &ModelInputs) {
        let pods = world.list(Kind::Pod, None);
        let mut live = HashMap::new();
        let mut settled = HashMap::new();
        for pod in pods {
            let uid = pod["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let Some(created) = parse_time(&pod["metadata"]["creationTimestamp"]) else {
                continue;
            };
            let elapsed = (world.now - created).to_std().unwrap_or_default();
            let rv = pod["metadata"]["resourceVersion"]
                .as_str()
                .unwrap_or_default();
            if let Some((seen_rv, since)) = self.settled.remove(&uid)
                && seen_rv == rv
                && elapsed >= since
            {
                // Its status is already the one computed here, and every Event of its log
                // (all at or before `since`) is recorded.
                live.insert(uid.clone(), Some(elapsed));
                settled.insert(uid, (seen_rv, since));
                continue;
            }
            let (status, log) = pod_status(&pod, inputs, created, elapsed);
            let written = if pod["spec"]["nodeName"].is_null() {
                let mut updated = (*pod).clone();
                updated["status"] = status;
                updated["spec"]["nodeName"] = json!(NODE);
                world.replace(Kind::Pod, updated)
            } else {
                world.replace_status(Kind::Pod, &pod, status)
            };
            match written {
                Err(err) => {
                    tracing::debug!("kubelet: {err}");
                    live.insert(uid.clone(), self.recorded.get(&uid).copied());
                    continue;
                }
                Ok(false) => {
                    if let Some(since) = pod_settles_at(&pod, inputs).filter(|s| elapsed >= *s) {
                        settled.insert(uid.clone(), (rv.to_string(), since));
                    }
                }
                Ok(true) => {}
            }
            let done = self.recorded.get(&uid).copied();
            for h in log
                .iter()
                .filter(|h| done.is_none_or(|d| h.at > d) && h.at <= elapsed)
            {
                let component = if h.reason == "Scheduled" {
                    "default-scheduler"
                } else {
                    "kubelet"
                };
                let kind = if h.warning { "Warning" } else { "Normal" };
                if let Err(err) = world.event(&pod, kind, h.reason, &h.message, component) {
                    tracing::debug!("kubelet event: {err}");
                }
            }
            live.insert(uid, Some(elapsed));
        }
        self.settled = settled;
        self.recorded = live
            .into_iter()
            .filter_map(|(uid, d)| d.map(|d| (uid, d)))
            .collect();
    }
}

/// A pod's status `elapsed` after its creation, and the kubelet's log up to then.
pub fn pod_status(
    pod: &Value,
    inputs: &ModelInputs,
    created: chrono::DateTime<chrono::Utc>,
    elapsed: Duration,
) -> (Value, Vec<Happening>) {
    let name = pod["metadata"]["name"].as_str().unwrap_or_default();
    let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let pod_ref = format!("{name}_{namespace}({uid})");
    let at = |d: Duration| stamp(created + chrono::Duration::from_std(d).unwrap_or_default());
    let node = pod["spec"]["nodeName"].as_str().unwrap_or(NODE);
    let mut log = vec![happening(
        Duration::ZERO,
        false,
        "Scheduled",
        format!("Successfully assigned {namespace}/{name} to {node}"),
    )];
    let mut statuses = Vec::new();
    let (mut all_ready, mut all_started) = (true, true);
    let mut ready_changed = Duration::ZERO;
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &containers {
        let cname = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let behaviour = inputs.pod_behaviour(image);
        let (view, mut happenings) = container_at(&behaviour, cname, image, &pod_ref, elapsed);
        log.append(&mut happenings);
        let digest = fnv64(image);
        let container_id = format!("containerd://{:016x}{:016x}", fnv64(uid), fnv64(cname));
        let running = matches!(view.state, State::Running { .. });
        let mut status = json!({
            "name": cname,
            "image": image,
            "imageID": "",
            "ready": view.ready,
            "restartCount": view.restart_count,
            "started": running,
            "state": state_json(&view.state, created, &container_id),
            "lastState": view.last_state.as_ref().map_or(json!({}), |s| state_json(s, created, &container_id)),
        });
        if running || view.restart_count > 0 {
            status["containerID"] = json!(container_id);
            status["imageID"] = json!(format!(
                "{image}@sha256:{digest:016x}{digest:016x}{digest:016x}{digest:016x}"
            ));
        }
        all_ready &= view.ready;
        all_started &= running || view.restart_count > 0 || view.last_state.is_some();
        ready_changed = ready_changed.max(view.ready_changed);
        statuses.push(status);
    }
    let started_any = all_started && !containers.is_empty();
    let ready = if all_ready && !containers.is_empty() {
        "True"
    } else {
        "False"
    };
    let mut ready_condition = json!({"type": "Ready", "status": ready, "lastTransitionTime": at(ready_changed), "lastProbeTime": null});
    let mut containers_ready = json!({"type": "ContainersReady", "status": ready, "lastTransitionTime": at(ready_changed), "lastProbeTime": null});
    if ready == "False" {
        let waiting: Vec<&str> = statuses
            .iter()
            .filter(|s| s["ready"] != true)
            .filter_map(|s| s["name"].as_str())
            .collect();
        let message = format!("containers with unready status: [{}]", waiting.join(" "));
        for c in [&mut ready_condition, &mut containers_ready] {
            c["reason"] = json!("ContainersNotReady");
            c["message"] = json!(message);
        }
    }
    let host = fnv64(node) % 250 + 2;
    let ip = fnv64(uid) % 60000 + 2;
    let status = json!({
        "phase": if started_any { "Running" } else { "Pending" },
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": at(Duration::ZERO), "lastProbeTime": null},
            {"type": "Initialized", "status": "True", "lastTransitionTime": at(Duration::ZERO), "lastProbeTime": null},
            containers_ready,
            ready_condition,
        ],
        "hostIP": format!("10.0.0.{host}"),
        "podIP": format!("10.244.{}.{}", ip / 250, ip % 250 + 1),
        "startTime": at(Duration::ZERO),
        "qosClass": "BestEffort",
        "containerStatuses": statuses,
    });
    (status, log)
}

#[cfg(test)]
#[path = "pods_tests.rs"]
mod tests;
