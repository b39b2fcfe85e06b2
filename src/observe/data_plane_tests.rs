use kube::api::DynamicObject;

use super::rows::{pull_duration, row};
use super::*;
use crate::channel::Kind;
use serde_json::json;

fn obj(v: serde_json::Value) -> DynamicObject {
    serde_json::from_value(v).unwrap()
}

fn rs(name: &str, replicas: i32) -> DynamicObject {
    obj(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "ownerReferences": [{"kind": "Rollout", "name": "web"}]},
            "spec": {"replicas": replicas}, "status": {"replicas": replicas, "readyReplicas": replicas}}))
}

fn pod(name: &str, node: &str, ready: bool, waiting: Option<&str>) -> DynamicObject {
    let state = match waiting {
        Some(r) => json!({"waiting": {"reason": r}}),
        None => json!({"running": {}}),
    };
    obj(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-a"}]},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0, "state": state}]}}))
}

fn listed(state: &mut DataPlaneState, tag: Watched, objects: Vec<DynamicObject>) {
    state.apply(Update {
        tag,
        event: WatchEvent::Init,
    });
    for o in objects {
        state.apply(Update {
            tag,
            event: WatchEvent::InitApply(o),
        });
    }
    state.apply(Update {
        tag,
        event: WatchEvent::InitDone,
    });
}

fn baseline_state() -> DataPlaneState {
    let mut s = DataPlaneState::default();
    listed(&mut s, Watched::ReplicaSets, vec![rs("web-a", 5)]);
    listed(&mut s, Watched::Pods, vec![pod("p1", "node-a", true, None)]);
    for w in [Watched::Deployments, Watched::Jobs, Watched::Events] {
        listed(&mut s, w, vec![]);
    }
    s
}

#[test]
fn the_baseline_comes_once_and_first() {
    let mut s = baseline_state();
    let b = s.baseline("shop", None).unwrap();
    assert!(b.body.contains("| `web-a` | 5 | 5 |"), "{}", b.body);
    assert!(b.body.contains("| node-a | 1 | 1 |"), "{}", b.body);
    assert!(s.baseline("shop", None).is_none());
}

#[test]
fn transitions_and_no_duplicates_after_a_relist() {
    let mut s = baseline_state();
    s.baseline("shop", None);
    let rows = s.apply(Update {
        tag: Watched::ReplicaSets,
        event: WatchEvent::Apply(rs("web-a", 4)),
    });
    assert_eq!(rows[0].change, "scaled 5 → 4");
    let rows = s.apply(Update {
        tag: Watched::Pods,
        event: WatchEvent::Apply(pod("p2", "node-b", false, Some("ImagePullBackOff"))),
    });
    assert!(
        rows.iter().any(|r| r.bad && r.change == "ImagePullBackOff"),
        "{rows:?}"
    );
    let rows = s.apply(Update {
        tag: Watched::Pods,
        event: WatchEvent::Apply(pod("p2", "node-b", true, None)),
    });
    assert_eq!(rows[0].change, "Ready on node-b");
    // A relist with the same objects: nothing.
    listed(&mut s, Watched::ReplicaSets, vec![rs("web-a", 4)]);
    listed(
        &mut s,
        Watched::Pods,
        vec![
            pod("p1", "node-a", true, None),
            pod("p2", "node-b", true, None),
        ],
    );
    let mut rows = Vec::new();
    for w in [Watched::ReplicaSets, Watched::Pods] {
        rows.extend(s.apply(Update {
            tag: w,
            event: WatchEvent::Init,
        }));
        rows.extend(s.apply(Update {
            tag: w,
            event: WatchEvent::InitDone,
        }));
    }
    // (the relist above replaced state; an empty relist now deletes)
    assert!(
        rows.iter().all(|r| r.change.starts_with("deleted")),
        "{rows:?}"
    );
}

#[test]
fn busy_windows_count_pod_rows_together() {
    let rows: Vec<Row> = (0..100)
        .map(|i| Row {
            object: format!("Pod `p{i}`"),
            change: "Ready on node-a".into(),
            bad: false,
            group: Some(("ReplicaSet web-a".into(), "Ready".into())),
            supersede: None,
        })
        .collect();
    let text = render_window(&rows);
    assert!(
        text.contains("| 100 pod(s) of ReplicaSet web-a | Ready (e.g. Pod `p0`"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5, "{text}");
}

#[test]
fn a_warning_counting_up_in_one_window_is_one_line() {
    let rows: Vec<Row> = (1..=3)
        .map(|n| Row {
            supersede: Some("Rollout web|ReconcileError".into()),
            ..row(
                "Rollout web".into(),
                format!("Warning ReconcileError ×{n}: x"),
            )
        })
        .collect();
    let text = render_window(&rows);
    assert!(
        text.contains("| Rollout web | Warning ReconcileError ×3: x (3 this window) |"),
        "{text}"
    );
    assert!(!text.contains("×2"), "{text}");
}

#[test]
fn image_pull_durations_come_from_the_pulled_event() {
    assert_eq!(
        pull_duration("Successfully pulled image \"x:1\" in 13.2s (13.2s including waiting)."),
        Some("13.2s")
    );
    assert_eq!(pull_duration("Pulling image \"x\""), None);
}

fn looping(name: &str, restarts: i32, waiting: Option<&str>, ready: bool) -> DynamicObject {
    let state = match waiting {
        Some(r) => json!({"waiting": {"reason": r}}),
        None => json!({"running": {}}),
    };
    obj(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "ownerReferences": [{"kind": "ReplicaSet", "name": "web-b"}]},
            "spec": {"nodeName": "node-a"},
            "status": {"phase": "Running", "containerStatuses": [{"name": "c", "ready": ready, "restartCount": restarts, "state": state}]}}))
}

#[tokio::test(start_paused = true)]
async fn a_crash_looping_pod_is_one_alert_however_often_it_restarts() {
    let mut s = baseline_state();
    s.baseline("shop", None);
    let t = Instant::now();
    let mut alerts = Vec::new();
    let mut restart_rows = 0;
    for n in 1..=6 {
        for (waiting, ready) in [(Some("CrashLoopBackOff"), false), (None, false)] {
            let rows = s.apply(Update {
                tag: Watched::Pods,
                event: WatchEvent::Apply(looping("p2", n, waiting, ready)),
            });
            restart_rows += rows
                .iter()
                .filter(|r| r.change.starts_with("restarted"))
                .count();
            alerts.extend(s.judge("shop", t + Duration::from_secs(u64::try_from(n).unwrap())));
        }
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(
        alerts[0]
            .body
            .starts_with("**pod crash-looping** — **ReplicaSet web-b**")
    );
    assert!(restart_rows <= 1, "restart rows: {restart_rows}");
    // Ready again for longer than the clear time: resolved, once.
    s.apply(Update {
        tag: Watched::Pods,
        event: WatchEvent::Apply(looping("p2", 6, None, true)),
    });
    assert!(s.judge("shop", t + Duration::from_secs(8)).is_empty());
    let done = s.judge("shop", t + Duration::from_secs(30));
    assert_eq!(
        done.iter().map(|o| o.kind).collect::<Vec<_>>(),
        [Kind::Resolved]
    );
    assert!(s.judge("shop", t + Duration::from_secs(40)).is_empty());
}

#[test]
fn a_repeating_warning_is_said_once_until_its_message_changes() {
    let mut s = baseline_state();
    s.baseline("shop", None);
    let event = |count: i32, message: &str| {
        obj(json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "web.1"}, "type": "Warning", "reason": "BackOff",
                "involvedObject": {"kind": "Pod", "name": "p2"}, "message": message, "count": count}))
    };
    let mut rows = Vec::new();
    for n in 1..=4 {
        rows.extend(s.apply(Update {
            tag: Watched::Events,
            event: WatchEvent::Apply(event(n, "Back-off restarting failed container")),
        }));
    }
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(rows[0].change.contains("BackOff ×1"));
    let changed = s.apply(Update {
        tag: Watched::Events,
        event: WatchEvent::Apply(event(5, "Back-off pulling image")),
    });
    assert_eq!(changed.len(), 1);
    assert!(changed[0].change.contains("×5"), "{changed:?}");
}
