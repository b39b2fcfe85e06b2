use super::*;
use crate::channel::Kind;
use kube::runtime::watcher::Event as WatchEvent;
use serde_json::json;

fn object(v: serde_json::Value) -> DynamicObject {
    serde_json::from_value(v).unwrap()
}

fn init(state: &mut PipelineState, tag: Watched, objects: Vec<serde_json::Value>) {
    state.apply(Update {
        tag,
        event: WatchEvent::Init,
    });
    for o in objects {
        state.apply(Update {
            tag,
            event: WatchEvent::InitApply(object(o)),
        });
    }
    state.apply(Update {
        tag,
        event: WatchEvent::InitDone,
    });
}

fn apply(state: &mut PipelineState, tag: Watched, o: serde_json::Value) {
    state.apply(Update {
        tag,
        event: WatchEvent::Apply(object(o)),
    });
}

fn rollout(name: &str, rv: &str, step: i64) -> serde_json::Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"), "generation": 2, "resourceVersion": rv},
        "spec": {"replicas": 5, "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}]}}},
        "status": {"observedGeneration": "2", "currentStepIndex": step, "replicas": 5, "availableReplicas": 5,
                   "updatedReplicas": 5, "currentPodHash": "a", "stableRS": "a", "phase": "Healthy"}
    })
}

fn synced(config: PipelineConfig, rollouts: Vec<serde_json::Value>) -> PipelineState {
    let mut s = PipelineState::new(config);
    init(&mut s, Watched::Rollouts, rollouts);
    for w in &Watched::ALL[1..] {
        init(&mut s, *w, vec![]);
    }
    s
}

fn synced_state() -> PipelineState {
    synced(
        PipelineConfig::new("web", "shop"),
        vec![rollout("web", "1", 3)],
    )
}

fn alerts(out: &[Observation]) -> Vec<&Observation> {
    out.iter().filter(|o| o.kind == Kind::Alert).collect()
}

#[test]
fn says_nothing_before_every_kind_is_listed() {
    let mut s = PipelineState::new(PipelineConfig::new("web", "shop"));
    init(&mut s, Watched::Rollouts, vec![rollout("web", "1", 3)]);
    assert!(s.evaluate(None, Instant::now()).is_empty());
}

#[test]
fn a_relist_of_the_same_objects_says_nothing_new() {
    let mut s = synced_state();
    let first = s.evaluate(None, Instant::now());
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].body.contains("watching Rollout `shop/web`"));
    assert!(first[0].body.contains("```text\nName:"));
    // A 410 relist delivers the same objects again.
    init(&mut s, Watched::Rollouts, vec![rollout("web", "1", 3)]);
    assert!(s.evaluate(None, Instant::now()).is_empty());
    // A step change is one transition.
    apply(&mut s, Watched::Rollouts, rollout("web", "2", 0));
    let next = s.evaluate(None, Instant::now());
    assert_eq!(next.len(), 1, "{next:?}");
    assert!(next[0].body.contains("step 3/3 → 0/3"), "{}", next[0].body);
}

#[test]
fn a_status_shorter_than_the_settle_time_stays_in_the_line() {
    let mut s = synced_state();
    s.evaluate(None, Instant::now());
    let mut paused = rollout("web", "2", 1);
    paused["status"]["phase"] = json!("Paused");
    paused["status"]["pauseConditions"] = json!([{"reason": "CanaryPauseStep"}]);
    apply(&mut s, Watched::Rollouts, paused);
    let mut healthy = rollout("web", "3", 3);
    healthy["metadata"]["generation"] = json!(2);
    apply(&mut s, Watched::Rollouts, healthy);
    let out = s.evaluate(None, Instant::now());
    assert_eq!(out.len(), 1, "{out:?}");
    assert!(
        out[0].body.contains("Healthy → Paused → **Healthy**"),
        "{}",
        out[0].body
    );
}

/// A run whose `n` measurements are all Errors: Argo counts them in `error`, not `count`
/// (analysis.go runMeasurements: `Count++` only for Successful, Failed and Inconclusive).
fn run(n: usize, rv: &str) -> serde_json::Value {
    let ms: Vec<_> = (0..n)
        .map(|i| {
            json!({"phase": "Error", "message": "reflect: slice index out of range",
                   "startedAt": format!("2026-05-04T17:0{i}:00Z"), "finishedAt": format!("2026-05-04T17:0{i}:01Z")})
        })
        .collect();
    json!({
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": {"name": "web-run", "namespace": "shop", "resourceVersion": rv,
                     "ownerReferences": [{"kind": "Rollout", "name": "web"}]},
        "spec": {"metrics": [{"name": "err", "interval": "30s"}]},
        "status": {"phase": "Running", "metricResults": [{"name": "err", "count": 0, "error": n,
                   "consecutiveError": n, "measurements": ms}]}
    })
}

#[tokio::test(start_paused = true)]
async fn measurements_are_posted_once_each_and_an_error_streak_is_one_alert_escalated_once() {
    let mut s = synced_state();
    s.evaluate(None, Instant::now());
    apply(&mut s, Watched::AnalysisRuns, run(1, "5"));
    let out = s.evaluate(None, Instant::now());
    assert!(out[0].body.contains("measurement 1: **Error**"), "{out:?}");
    assert_eq!(alerts(&out).len(), 2, "errors and no-data: {out:?}");
    assert!(alerts(&out).iter().all(|a| a.key.is_some()));
    for (n, rv) in [(2, "6"), (3, "7")] {
        apply(&mut s, Watched::AnalysisRuns, run(n, rv));
        let out = s.evaluate(None, Instant::now());
        assert!(out[0].body.contains(&format!("measurement {n}")), "{out:?}");
        assert!(alerts(&out).is_empty(), "the same conditions: {out:?}");
    }
    // The 4th Error: the next one aborts. One escalation, refs the first alert.
    apply(&mut s, Watched::AnalysisRuns, run(4, "8"));
    let out = s.evaluate(None, Instant::now());
    let up = alerts(&out);
    assert_eq!(up.len(), 1, "{out:?}");
    assert!(up[0].body.starts_with("**escalated**"), "{}", up[0].body);
    assert!(matches!(&up[0].refs[..], [super::super::Ref::Key(k)] if k.ends_with("#1")));
    assert!(s.evaluate(None, Instant::now()).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_cleared_condition_is_resolved_and_a_restart_posts_no_duplicate() {
    // The canary Service loses its hash mid-canary (selector-reset), then gets it back.
    let mut canary = rollout("web", "1", 1);
    canary["status"]["currentPodHash"] = json!("b");
    canary["status"]["phase"] = json!("Paused");
    let service = |rv: &str, hash: bool| {
        let mut selector = json!({"app": "web"});
        if hash {
            selector["rollouts-pod-template-hash"] = json!("b");
        }
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "web-canary", "namespace": "shop", "resourceVersion": rv},
               "spec": {"selector": selector}})
    };
    canary["spec"]["strategy"]["canary"]["canaryService"] = json!("web-canary");
    let mut s = synced(PipelineConfig::new("web", "shop"), vec![canary.clone()]);
    let t = Instant::now();
    s.evaluate(None, t);
    apply(&mut s, Watched::Services, service("2", false));
    // Shape findings wait for their confirmation time.
    assert!(alerts(&s.evaluate(None, t)).is_empty());
    let out = s.evaluate(None, t + Duration::from_secs(2));
    let alert = alerts(&out);
    assert_eq!(alert.len(), 1, "{out:?}");
    assert!(
        alert[0]
            .body
            .starts_with("**canary Service selects stable pods**")
    );
    let key = alert[0].key.clone().unwrap();

    // A restart: the observer reads its own entries; the condition still holds: nothing.
    let history = vec![Said {
        id: "pipeline#2".into(),
        kind: Kind::Alert,
        key: Some(key.clone()),
        refs: vec![],
    }];
    let mut config = PipelineConfig::new("web", "shop");
    config.history = history.clone();
    let mut restarted = synced(config, vec![canary.clone()]);
    init(&mut restarted, Watched::Services, vec![service("2", false)]);
    let out = restarted.evaluate(None, t + Duration::from_secs(3));
    assert!(alerts(&out).is_empty(), "{out:?}");

    // The CI job puts the selector back: resolved once, refs the alert.
    apply(&mut restarted, Watched::Services, service("3", true));
    assert!(
        restarted
            .evaluate(None, t + Duration::from_secs(3))
            .is_empty()
    );
    let out = restarted.evaluate(None, t + Duration::from_secs(5));
    let resolved: Vec<_> = out.iter().filter(|o| o.kind == Kind::Resolved).collect();
    assert_eq!(resolved.len(), 1, "{out:?}");
    assert_eq!(resolved[0].refs, [super::super::Ref::Key(key.clone())]);
    assert!(
        restarted
            .evaluate(None, t + Duration::from_secs(9))
            .is_empty()
    );

    // Restarted while the selector was fixed: the open alert is resolved at the first look.
    let mut config = PipelineConfig::new("web", "shop");
    config.history = history;
    let mut late = synced(config, vec![canary]);
    init(&mut late, Watched::Services, vec![service("3", true)]);
    let out = late.evaluate(None, t);
    assert_eq!(
        out.iter().filter(|o| o.kind == Kind::Resolved).count(),
        1,
        "{out:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_rollout_of_the_namespace_has_its_own_state_and_lifecycle() {
    let mut degraded = rollout("b", "1", 1);
    degraded["status"]["phase"] = json!("Degraded");
    degraded["status"]["abort"] = json!(true);
    degraded["status"]["message"] = json!("RolloutAborted: Rollout aborted update to revision 2");
    let mut s = synced(
        PipelineConfig::watching(Target::All, "shop"),
        vec![rollout("a", "1", 3), degraded],
    );
    let t = Instant::now();
    let out = s.evaluate(None, t);
    let watching = out
        .iter()
        .filter(|o| o.body.starts_with("**watching Rollout"))
        .count();
    assert_eq!(watching, 2, "{out:?}");
    let alert = alerts(&out);
    assert_eq!(alert.len(), 1, "{out:?}");
    assert!(
        alert[0]
            .body
            .starts_with("**rollout degraded** — **Rollout shop/b**: aborted")
    );
    assert_eq!(s.rollout_states().len(), 2);
    // b is deleted: its alert is resolved; a is untouched.
    s.apply(Update {
        tag: Watched::Rollouts,
        event: WatchEvent::Delete(object(rollout("b", "2", 1))),
    });
    let out = s.evaluate(None, t + Duration::from_secs(2));
    assert_eq!(
        out.iter().map(|o| o.kind).collect::<Vec<_>>(),
        [Kind::Resolved],
        "{out:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_spec_threshold_fires_when_the_cluster_clock_reaches_it_never_before() {
    let mut stalled = rollout("web", "1", 3);
    stalled["metadata"]["generation"] = json!(3);
    let mut s = synced(PipelineConfig::new("web", "shop"), vec![stalled]);
    let at = |secs: i64| {
        let t = DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap();
        ClusterTime {
            earliest: t,
            latest: t,
            speed: 20.0,
        }
    };
    let w = Instant::now();
    assert!(alerts(&s.evaluate(Some(at(0)), w)).is_empty());
    assert_eq!(
        s.next_deadline(&at(0)),
        Some(at(60).earliest),
        "the next look is due at the threshold"
    );
    assert!(alerts(&s.evaluate(Some(at(59)), w)).is_empty());
    let out = s.evaluate(Some(at(60)), w);
    assert_eq!(alerts(&out).len(), 1, "{out:?}");
    assert!(
        alerts(&out)[0].body.contains("for 60s"),
        "{}",
        alerts(&out)[0].body
    );
    assert!(alerts(&s.evaluate(Some(at(200)), w)).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_restart_sums_up_the_analysis_instead_of_replaying_it() {
    let mut config = PipelineConfig::new("web", "shop");
    config.history = vec![Said {
        id: "pipeline#1".into(),
        kind: Kind::Observation,
        key: None,
        refs: vec![],
    }];
    let mut s = synced(config, vec![rollout("web", "1", 3)]);
    init(&mut s, Watched::AnalysisRuns, vec![run(3, "5")]);
    let out = s.evaluate(None, Instant::now());
    assert!(
        out[0]
            .body
            .starts_with("**resumed watching Rollout `shop/web`**"),
        "{out:?}"
    );
    let analysis = out
        .iter()
        .find(|o| o.body.starts_with("**analysis of"))
        .unwrap();
    assert!(
        !analysis.body.contains("measurement 1:"),
        "{}",
        analysis.body
    );
    assert!(
        analysis.body.contains("3 measurement(s) taken"),
        "{}",
        analysis.body
    );
    // The next one is said as it lands.
    apply(&mut s, Watched::AnalysisRuns, run(4, "6"));
    let out = s.evaluate(None, Instant::now());
    assert!(out[0].body.contains("measurement 4: **Error**"), "{out:?}");
    assert!(!out[0].body.contains("measurement 3"), "{out:?}");
}
