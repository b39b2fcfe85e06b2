//! Per-object cells of the tree: ages (Kubernetes' HumanDuration), a ReplicaSet's status, a
//! pod's status as kubectl prints it (CrashLoopBackOff, ErrImagePull, Init:1/2, …) and its icon.
//! Must not know which rollout an object belongs to.

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{Pod, ReplicaSet};
use super::{ICON_BAD, ICON_NEUTRAL, ICON_OK, ICON_PROGRESSING, ICON_UNKNOWN, ICON_WARNING};

/// Kubernetes' `HumanDuration` (apimachinery util/duration): `7d`, `3h5m`, `2d21h`, `3h59m`.
pub fn human_duration(d: TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

pub(super) fn age(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    created.map_or_else(|| "<unknown>".to_string(), |t| human_duration(now - t))
}

pub(super) fn replica_set_status(rs: &ReplicaSet) -> (&'static str, &'static str) {
    let desired = rs.spec.replicas.unwrap_or(1);
    if rs.metadata.generation > rs.status.observed_generation {
        return ("Progressing", ICON_PROGRESSING);
    }
    if rs
        .status
        .conditions
        .iter()
        .any(|c| c.type_ == "ReplicaFailure" && c.status == "True")
    {
        return ("ReplicaFailure", ICON_BAD);
    }
    if rs.status.available_replicas < desired {
        return ("Progressing", ICON_PROGRESSING);
    }
    if desired == 0 {
        return ("ScaledDown", ICON_NEUTRAL);
    }
    ("Healthy", ICON_OK)
}

/// A pod's status the way kubectl prints it, with its ready and restart counts.
pub fn pod_status(pod: &Pod) -> (String, usize, i32) {
    let mut restarts = 0;
    let mut ready = 0;
    let mut reason = if pod.status.reason.is_empty() {
        pod.status.phase.clone()
    } else {
        pod.status.reason.clone()
    };
    let mut initializing = false;
    let init_total = pod.spec.init_containers.len();
    for (i, c) in pod.status.init_container_statuses.iter().enumerate() {
        restarts += c.restart_count;
        if let Some(t) = &c.state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = if !t.reason.is_empty() {
                format!("Init:{}", t.reason)
            } else if t.signal != 0 {
                format!("Init:Signal:{}", t.signal)
            } else {
                format!("Init:ExitCode:{}", t.exit_code)
            };
        } else if let Some(w) = c
            .state
            .waiting
            .as_ref()
            .filter(|w| !w.reason.is_empty() && w.reason != "PodInitializing")
        {
            reason = format!("Init:{}", w.reason);
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for c in pod.status.container_statuses.iter().rev() {
            restarts += c.restart_count;
            let waiting = c.state.waiting.as_ref().filter(|w| !w.reason.is_empty());
            if let Some(w) = waiting {
                reason = w.reason.clone();
            } else if let Some(t) = &c.state.terminated {
                reason = if !t.reason.is_empty() {
                    t.reason.clone()
                } else if t.signal != 0 {
                    format!("Signal:{}", t.signal)
                } else {
                    format!("ExitCode:{}", t.exit_code)
                };
            } else if c.ready && c.state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if pod.status.reason == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    (reason, ready, restarts)
}

pub(super) fn pod_icon(status: &str) -> &'static str {
    if status.starts_with("Init:") {
        return ICON_PROGRESSING;
    }
    if status.starts_with("Signal:") || status.starts_with("ExitCode:") {
        return ICON_BAD;
    }
    if status.ends_with("Error") || status.starts_with("Err") {
        return ICON_WARNING;
    }
    match status {
        "Pending" | "Terminating" | "ContainerCreating" => ICON_PROGRESSING,
        "Running" | "Completed" => ICON_OK,
        "Failed" | "InvalidImageName" | "CrashLoopBackOff" => ICON_BAD,
        "ImagePullBackOff" | "RegistryUnavailable" => ICON_WARNING,
        "Unknown" => ICON_UNKNOWN,
        _ => " ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_kubernetes() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (4 * 3600 - 1, "3h59m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (69 * 3600, "2d21h"),
            (7 * 86400, "7d"),
            (30 * 86400, "30d"),
            (800 * 86400, "2y70d"),
            (3000 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(TimeDelta::seconds(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn pod_status_reports_init_and_terminated_containers() {
        let pod: Pod = serde_saphyr::from_str(
            "spec: {initContainers: [{name: a}, {name: b}], containers: [{name: c}]}\nstatus: {phase: Pending, initContainerStatuses: [{state: {terminated: {exitCode: 0}}}, {state: {running: {}}}]}\n",
        )
        .unwrap();
        assert_eq!(pod_status(&pod).0, "Init:1/2");
        let pod: Pod = serde_saphyr::from_str(
            "spec: {containers: [{name: c}]}\nstatus: {phase: Running, containerStatuses: [{restartCount: 3, state: {terminated: {exitCode: 137}}}]}\n",
        )
        .unwrap();
        assert_eq!(pod_status(&pod), ("ExitCode:137".into(), 0, 3));
        assert_eq!(pod_icon("ExitCode:137"), ICON_BAD);
        assert_eq!(pod_icon("CreateContainerConfigError"), ICON_WARNING);
    }
}
