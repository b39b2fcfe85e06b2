use super::*;

/// Every built-in scenario plays to its end without a refused step.
#[test]
fn builtin_scenarios_play_cleanly() {
    for (name, _) in scenario::BUILTIN {
        let sim = SimHandle::new(Scenario::resolve(name).unwrap(), 1.0).unwrap();
        let clock = sim.clock();
        for step in &sim.scenario().steps.clone() {
            if let Err(err) = sim.perform(step, clock.at(step.at)) {
                panic!("{name}: steps[{}]: {err}", step.index);
            }
        }
    }
}

#[test]
fn kubeconfig_loads_in_kube_rs() {
    let text = kubeconfig("http://127.0.0.1:6443", Some("llm"));
    let config = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let cluster = config.clusters[0].cluster.as_ref().unwrap();
    assert_eq!(cluster.server.as_deref(), Some("http://127.0.0.1:6443"));
    let context = config.contexts[0].context.as_ref().unwrap();
    assert_eq!(context.namespace.as_deref(), Some("llm"));
    assert_eq!(config.current_context.as_deref(), Some("warroom-sim"));
}

#[test]
fn default_start_meets_wall_time_at_the_end() {
    let now: DateTime<Utc> = "2026-05-04T17:00:00Z".parse().unwrap();
    let end = Duration::from_secs(300);
    assert_eq!(default_start(now, end, 1.0), now);
    let start = default_start(now, end, 20.0);
    // 300 s of scenario time take 15 s of wall time at speed 20.
    assert_eq!(
        start + chrono::Duration::seconds(300),
        now + chrono::Duration::seconds(15)
    );
    assert_eq!(default_start(now, end, 0.5), now);
}

#[test]
fn story_ends_aborted_with_the_leak_still_running() {
    let sim = SimHandle::new(Scenario::resolve("story-objects").unwrap(), 1.0).unwrap();
    let clock = sim.clock();
    let mut generation_at_stall = None;
    for step in &sim.scenario().steps.clone() {
        sim.perform(step, clock.at(step.at)).unwrap();
        // 0:35, after the release: the spec changed, the controller has not seen it.
        if step.at == Duration::from_secs(35) {
            let ro = &sim.list_objects("argoproj.io/v1alpha1", "Rollout", Some("llm"))[0];
            generation_at_stall = Some((
                ro["metadata"]["generation"].clone(),
                ro["status"]["observedGeneration"].clone(),
            ));
        }
    }
    assert_eq!(generation_at_stall, Some((json!(2), json!("1"))));
    let pods: Vec<_> = sim
        .list_objects("v1", "Pod", Some("llm"))
        .into_iter()
        .filter(|p| p["status"]["phase"] == "Running")
        .collect();
    let deployment_pods = pods
        .iter()
        .filter(|p| p["metadata"]["labels"].get("pod-template-hash").is_some())
        .count();
    assert_eq!((pods.len(), deployment_pods), (10, 5));
    let ro = &sim.list_objects("argoproj.io/v1alpha1", "Rollout", Some("llm"))[0];
    assert_eq!(ro["status"]["phase"], "Degraded");
    assert_eq!(ro["status"]["abort"], true);
}
