//! `rollout_get` over stdio: the `rollout get` view from a directory of manifests and from the
//! cluster of the kubeconfig (the real simulator), and what it says when it cannot find one.

use super::*;

#[test]
fn stdio_rollout_get_reads_a_directory_and_refuses_what_it_cannot_find() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peer/argo-rollouts/fixtures/canary");
    let mut d = Driver::stdio_with(
        &py,
        &env,
        &ch,
        "terminal-1",
        &["--from-dir", fixtures.to_str().unwrap()],
    )
    .expect("connects");
    let got = d.ok(
        "rollout_get",
        json!({"name": "canary-demo", "namespace": "jesse-test"}),
    );
    let text = got["text"].as_str().unwrap();
    assert!(
        text.starts_with("Name:            canary-demo\n") && text.contains("Degraded"),
        "{text}"
    );
    assert_eq!(got["structured"]["name"], "canary-demo", "{got}");
    let r = d.call(
        "rollout_get",
        json!({"name": "nope", "namespace": "jesse-test"}),
    );
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not found"), "{r}");
    // No cluster actions over MCP.
    let tools = d.tools();
    for t in &tools {
        let name = t["name"].as_str().unwrap();
        assert!(
            !["promote", "abort", "retry", "undo", "pause", "resume"]
                .iter()
                .any(|a| name.contains(a)),
            "{name}"
        );
    }
}

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn stdio_rollout_get_reads_the_cluster_of_its_kubeconfig() {
    let Some(py) = python() else { return };
    let env = Env::new();
    let ch = channel_with_agent(&env);
    // The simulator's API as the cluster (the story scenario: Rollout llm/litellm).
    let kubeconfig = env.dir.path().join("kubeconfig");
    let _sim = Killed(
        env.cmd(&[
            "sim",
            "--scenario",
            "story",
            "--port",
            "0",
            "--kubeconfig-out",
        ])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("warroom sim starts"),
    );
    for _ in 0..1200 {
        if kubeconfig.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(kubeconfig.exists(), "no kubeconfig from the simulator");
    let kc = kubeconfig.to_str().unwrap();
    let mut d =
        Driver::stdio_with(&py, &env, &ch, "terminal-1", &["--kubeconfig", kc]).expect("connects");
    // What `warroom rollout get` shows of the same Rollout (the simulator runs on: compare
    // what does not move).
    let cli: Value = serde_json::from_str(&env.ok(&[
        "rollout",
        "get",
        "litellm",
        "-n",
        "llm",
        "--kubeconfig",
        kc,
        "-o",
        "json",
    ]))
    .unwrap();
    let got = d.ok(
        "rollout_get",
        json!({"name": "litellm", "namespace": "llm"}),
    );
    let view = &got["structured"];
    for field in ["name", "namespace", "strategy"] {
        assert_eq!(view[field], cli[field], "{field}: {got}");
    }
    assert_eq!(view["name"], "litellm");
    let text = got["text"].as_str().unwrap();
    assert!(text.starts_with("Name:            litellm\n"), "{text}");
    let r = d.call("rollout_get", json!({"name": "nope", "namespace": "llm"}));
    assert_eq!(r["is_error"], true, "{r}");
    assert!(r["text"].as_str().unwrap().contains("not found"), "{r}");
    assert_eq!(timeline_count(&env, &ch), 0, "reading writes nothing");
}
