//! A rollout's status and message as the plugin derives them (rolloututil.go), the one-line
//! `status` answers, and the status icons of rollouts and analysis. Must not look past the
//! Rollout object itself.

use super::model::{Rollout, WORKLOAD_GENERATION_ANNOTATION};
use super::{
    ICON_BAD, ICON_NEUTRAL, ICON_OK, ICON_PAUSED, ICON_PROGRESSING, ICON_UNKNOWN, ICON_WAITING,
    ICON_WARNING, SPEC_NOT_OBSERVED,
};

/// True when the controller has observed the current spec generation. A non-numeric
/// observedGeneration (a v0.9 hash) or one above the generation counts as observed.
pub fn is_generation_observed(ro: &Rollout) -> bool {
    match ro
        .status
        .observed_generation
        .as_deref()
        .map(str::parse::<i64>)
    {
        Some(Ok(observed)) => observed >= ro.metadata.generation,
        Some(Err(_)) => true,
        // Absent parses like "" in Go: not a number, so observed.
        None => true,
    }
}

fn is_workload_generation_observed(ro: &Rollout) -> bool {
    let Some(wanted) = ro.metadata.annotations.get(WORKLOAD_GENERATION_ANNOTATION) else {
        return true;
    };
    let observed = ro
        .status
        .workload_observed_generation
        .as_deref()
        .unwrap_or("");
    match (wanted.parse::<i64>(), observed.parse::<i64>()) {
        (Ok(w), Ok(o)) => w == o,
        _ => true,
    }
}

/// The rollout's status (`Healthy`, `Degraded`, `Progressing`, `Paused`, or a controller's
/// `status.phase`) and message, in the order the kubectl plugin checks them. `status.phase` is
/// trusted only once the spec generation has been observed.
pub fn status_and_message(ro: &Rollout) -> (String, String) {
    let progressing = |m: &str| ("Progressing".to_string(), m.to_string());
    if !is_generation_observed(ro) {
        return progressing(SPEC_NOT_OBSERVED);
    }
    if ro.status.controller_pause && ro.status.pause_conditions.is_empty() {
        return progressing("waiting for rollout to unpause");
    }
    if ro.spec.workload_ref.is_some() && !is_workload_generation_observed(ro) {
        return progressing(
            "waiting for rollout spec update to be observed for the reference workload",
        );
    }
    if !ro.status.phase.is_empty() {
        return (ro.status.phase.clone(), ro.status.message.clone());
    }
    for cond in &ro.status.conditions {
        if cond.type_ == "InvalidSpec" {
            return ("Degraded".into(), format!("InvalidSpec: {}", cond.message));
        }
        if cond.reason == "RolloutAborted" || cond.reason == "ProgressDeadlineExceeded" {
            return (
                "Degraded".into(),
                format!("{}: {}", cond.reason, cond.message),
            );
        }
    }
    if ro.spec.paused {
        return ("Paused".into(), "manually paused".into());
    }
    if let Some(cond) = ro.status.pause_conditions.first() {
        return ("Paused".into(), cond.reason.clone());
    }
    if let Some(restart_at) = ro.spec.restart_at
        && ro.status.restarted_at != Some(restart_at)
    {
        return progressing("rollout is restarting");
    }
    let st = &ro.status;
    if st.updated_replicas < ro.desired_replicas() {
        return progressing("more replicas need to be updated");
    }
    if st.available_replicas < st.updated_replicas {
        return progressing("updated replicas are still becoming available");
    }
    if let Some(bg) = &ro.spec.strategy.blue_green {
        let active = &st.blue_green.active_selector;
        if active.is_empty() || *active != st.current_pod_hash {
            return progressing("active service cutover pending");
        }
        if st.stable_rs.is_empty() || st.stable_rs != st.current_pod_hash {
            if bg.post_promotion_analysis.is_some() {
                let done = st
                    .blue_green
                    .post_promotion_analysis_run_status
                    .as_ref()
                    .is_some_and(|r| {
                        matches!(
                            r.status.as_str(),
                            "Successful" | "Failed" | "Error" | "Inconclusive"
                        )
                    });
                if !done {
                    return progressing("waiting for analysis to complete");
                }
            }
            return progressing("waiting for post-promotion verification to complete");
        }
    } else if let Some(canary) = &ro.spec.strategy.canary {
        if canary.traffic_routing.is_none() && st.replicas > st.updated_replicas {
            return progressing("old replicas are pending termination");
        }
        if st.stable_rs.is_empty() || st.stable_rs != st.current_pod_hash {
            return progressing("waiting for all steps to complete");
        }
    }
    ("Healthy".into(), String::new())
}

/// The one-line answer of `rollout status` without watching: `Healthy` or `Degraded` alone,
/// otherwise `<Status> - <Message>`.
pub fn status_line(status: &str, message: &str) -> String {
    if status == "Healthy" || status == "Degraded" || message.is_empty() {
        status.to_string()
    } else {
        format!("{status} - {message}")
    }
}

/// The line `rollout status --watch` prints for each change: `<Status> - <Message>`, or the
/// status alone when there is no message.
pub fn watch_line(status: &str, message: &str) -> String {
    if message.is_empty() {
        status.to_string()
    } else {
        format!("{status} - {message}")
    }
}

pub(super) fn rollout_icon(status: &str) -> &'static str {
    match status {
        "Progressing" => ICON_PROGRESSING,
        "Paused" => ICON_PAUSED,
        "Healthy" => ICON_OK,
        "Degraded" => ICON_BAD,
        "Unknown" => ICON_UNKNOWN,
        "ScaledDown" => ICON_NEUTRAL,
        "Error" | "InvalidSpec" => ICON_WARNING,
        _ => " ",
    }
}

pub(super) fn analysis_icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => ICON_OK,
        "Inconclusive" => ICON_UNKNOWN,
        "Failed" => ICON_BAD,
        "Error" => ICON_WARNING,
        "Running" => ICON_PROGRESSING,
        "Pending" => ICON_WAITING,
        _ => " ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(yaml: &str) -> Rollout {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn phase_is_not_trusted_before_the_generation_is_observed() {
        let ro = rollout(
            "metadata: {generation: 5}\nstatus: {observedGeneration: '4', phase: Healthy}\n",
        );
        assert_eq!(
            status_and_message(&ro),
            ("Progressing".into(), SPEC_NOT_OBSERVED.into())
        );
        let ro = rollout(
            "metadata: {generation: 5}\nstatus: {observedGeneration: '5', phase: Healthy}\n",
        );
        assert_eq!(status_and_message(&ro), ("Healthy".into(), String::new()));
    }

    #[test]
    fn status_line_omits_the_message_only_for_final_states() {
        assert_eq!(status_line("Healthy", ""), "Healthy");
        assert_eq!(status_line("Degraded", "x: y"), "Degraded");
        assert_eq!(
            status_line("Paused", "BlueGreenPause"),
            "Paused - BlueGreenPause"
        );
        assert_eq!(watch_line("Degraded", "x: y"), "Degraded - x: y");
    }
}
