use super::*;
use crate::sim::model::inputs::Exit;

fn s(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn at(b: &PodBehaviour, elapsed: u64) -> (ContainerView, Vec<Happening>) {
    container_at(b, "web", "acme/web:v2", "web-1_shop(u)", s(elapsed))
}

fn waiting_reason(v: &ContainerView) -> Option<&str> {
    match &v.state {
        State::Waiting { reason, .. } => Some(reason),
        _ => None,
    }
}

#[test]
fn back_off_doubles_to_five_minutes() {
    let delays: Vec<u64> = (0..7).map(|k| backoff(k).as_secs()).collect();
    assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
}

#[test]
fn ready_after_the_readiness_delay() {
    let b = PodBehaviour::Ready(s(5));
    assert_eq!(waiting_reason(&at(&b, 0).0), Some("ContainerCreating"));
    let (v, _) = at(&b, 3);
    assert!(matches!(v.state, State::Running { .. }) && !v.ready);
    let (v, log) = at(&b, 6);
    assert!(v.ready);
    assert_eq!(v.ready_changed, s(6));
    let reasons: Vec<&str> = log.iter().map(|h| h.reason).collect();
    assert_eq!(reasons, ["Pulling", "Pulled", "Created", "Started"]);
}

#[test]
fn a_failed_pull_backs_off_between_retries() {
    let b = PodBehaviour::Pull(PullFailure::ErrImagePull);
    assert_eq!(waiting_reason(&at(&b, 1).0), Some("ErrImagePull"));
    assert_eq!(waiting_reason(&at(&b, 5).0), Some("ImagePullBackOff"));
    // Retried 10 s after the first failure, failing again.
    assert_eq!(waiting_reason(&at(&b, 12).0), Some("ErrImagePull"));
    let (v, log) = at(&b, 600);
    assert!(!v.ready && v.restart_count == 0);
    let pulls = log.iter().filter(|h| h.reason == "Pulling").count();
    // Attempts at 0, 11, 32, 73, 154, 315 (back-off 10, 20, 40, 80, 160, then 300).
    assert_eq!(pulls, 6);
    assert!(log.iter().any(|h| h.reason == "BackOff" && !h.warning));
    assert_eq!(
        waiting_reason(&at(&PodBehaviour::Pull(PullFailure::InvalidImageName), 9).0),
        Some("InvalidImageName")
    );
}

#[test]
fn a_crash_loop_restarts_with_back_off() {
    let b = PodBehaviour::Crash(Exit {
        after: s(3),
        exit_code: Some(2),
    });
    // Started at 1 s, ready at 3 s, exits at 4 s.
    assert!(at(&b, 3).0.ready);
    let (v, _) = at(&b, 4);
    assert!(matches!(
        v.state,
        State::Terminated {
            exit_code: 2,
            reason: "Error",
            ..
        }
    ));
    let (v, _) = at(&b, 6);
    assert_eq!(waiting_reason(&v), Some("CrashLoopBackOff"));
    assert!(matches!(v.last_state, Some(State::Terminated { .. })));
    assert_eq!(v.restart_count, 0);
    // Restarted at 14 s (10 s back-off), exits at 17 s, restarted at 37 s (20 s).
    let (v, _) = at(&b, 15);
    assert_eq!((v.restart_count, v.ready), (1, false));
    let (v, log) = at(&b, 40);
    assert_eq!(v.restart_count, 2);
    assert_eq!(log.iter().filter(|h| h.reason == "BackOff").count(), 2);
    assert!(log.iter().all(|h| h.reason != "BackOff"
        || h.message == "Back-off restarting failed container web in pod web-1_shop(u)"));
}

#[test]
fn an_oom_kill_says_so() {
    let b = PodBehaviour::Oom(Exit {
        after: s(20),
        exit_code: None,
    });
    let (v, _) = at(&b, 21);
    assert!(matches!(
        v.state,
        State::Terminated {
            exit_code: 137,
            reason: "OOMKilled",
            ..
        }
    ));
}

#[test]
fn pod_status_parses_as_a_pod() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": "shop", "uid": "u"},
        "spec": {"containers": [{"name": "web", "image": "acme/web:v1"}]},
    });
    let created: chrono::DateTime<chrono::Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let inputs = ModelInputs::default();
    let (status, _) = pod_status(&pod, &inputs, created, s(10));
    assert_eq!(status["phase"], "Running");
    assert_eq!(status["conditions"][3]["status"], "True");
    assert_eq!(
        status["conditions"][3]["lastTransitionTime"],
        "2026-01-01T00:00:03Z"
    );
    let mut full = pod.clone();
    full["status"] = status;
    serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(full).unwrap();
    let (status, _) = pod_status(&pod, &inputs, created, s(0));
    assert_eq!(status["phase"], "Pending");
    assert_eq!(status["conditions"][3]["reason"], "ContainersNotReady");
}
