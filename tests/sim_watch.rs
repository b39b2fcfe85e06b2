//! The simulator in-process, driven by kube-rs (list + watch, 410 relist, API restart) and by
//! plain HTTP (Tables, 410 ERROR events, access reviews, the fake backend).
//!
//! Every wait is bounded by a generous deadline and fails on it; nothing asserts durations.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use warroom::sim::{self, Scenario, SimHandle};

const DEADLINE: Duration = Duration::from_secs(60);

struct Running {
    sim: SimHandle,
    url: String,
    backend_url: String,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), sim::SimError>>,
}

impl Running {
    async fn start(yaml: &str, speed: f64) -> Running {
        let scenario = Scenario::parse(yaml, "test.yaml").unwrap();
        let sim = SimHandle::new(scenario, speed).unwrap();
        let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", api.local_addr().unwrap());
        let backend_url = format!("http://{}", backend.local_addr().unwrap());
        let stop = CancellationToken::new();
        let server = tokio::spawn(sim::serve(
            sim.clone(),
            api,
            Some(backend),
            stop.clone().cancelled_owned(),
        ));
        Running {
            sim,
            url,
            backend_url,
            stop,
            server,
        }
    }

    fn client(&self) -> Client {
        Client::try_from(kube::Config::new(self.url.parse().unwrap())).unwrap()
    }

    /// Restarts the API and returns once it refuses connections.
    async fn restart_and_wait_down(&self, down: Duration) {
        self.sim.restart_api(down);
        let addr = self.url.trim_start_matches("http://").to_string();
        tokio::time::timeout(DEADLINE, async {
            while tokio::net::TcpStream::connect(&addr).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .expect("the API refuses connections during a restart");
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(DEADLINE, self.server)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

const PODS: &str = r#"
historyLimit: 3
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}
  - {apiVersion: v1, kind: Pod, metadata: {name: a, namespace: llm, labels: {app: x}}, spec: {containers: [{name: c, image: i}]}}
  - {apiVersion: v1, kind: Pod, metadata: {name: b, namespace: llm, labels: {app: y}}, spec: {containers: [{name: c, image: i}]}}
"#;

fn pod(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": "llm", "labels": {"app": app}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}})
}

type Watch =
    std::pin::Pin<Box<dyn futures::Stream<Item = Result<Event<Pod>, watcher::Error>> + Send>>;

/// The next watcher event that is not an error (errors are items, the loop goes on).
async fn next(stream: &mut Watch) -> Event<Pod> {
    loop {
        let item = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("a watch event before the deadline")
            .expect("the watcher stream never ends");
        if let Ok(event) = item {
            return event;
        }
    }
}

fn name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

/// Reads events until InitDone; returns the names listed.
async fn initial_list(stream: &mut Watch) -> Vec<String> {
    assert!(matches!(next(stream).await, Event::Init));
    let mut names = Vec::new();
    loop {
        match next(stream).await {
            Event::InitApply(p) => names.push(name(&p)),
            Event::InitDone => return names,
            other => panic!("unexpected during init: {other:?}"),
        }
    }
}

fn watch_pods(running: &Running, labels: Option<&str>) -> Watch {
    let api: Api<Pod> = Api::namespaced(running.client(), "llm");
    let mut config = watcher::Config::default();
    if let Some(l) = labels {
        config = config.labels(l);
    }
    watcher::watcher(api, config).boxed()
}

/// The story hand-written in the object form: its exact objects are what these tests check.
fn story_objects() -> &'static str {
    sim::scenario::BUILTIN
        .iter()
        .find(|(n, _)| *n == "story-objects")
        .unwrap()
        .1
}

#[tokio::test]
async fn kube_watcher_lists_then_follows_changes_with_selectors() {
    let running = Running::start(PODS, 1.0).await;
    let mut stream = watch_pods(&running, Some("app=x"));
    assert_eq!(initial_list(&mut stream).await, ["a"]);
    running.sim.apply(pod("c", "x")).unwrap();
    running.sim.apply(pod("d", "y")).unwrap();
    // a stops matching: the watch sees it as deleted.
    running.sim.apply(pod("a", "y")).unwrap();
    match next(&mut stream).await {
        Event::Apply(p) => assert_eq!(name(&p), "c"),
        other => panic!("{other:?}"),
    }
    match next(&mut stream).await {
        Event::Delete(p) => assert_eq!(name(&p), "a"),
        other => panic!("{other:?}"),
    }
    running.stop().await;
}

#[tokio::test]
async fn api_restart_resumes_the_watch_without_relisting() {
    let yaml = PODS.replace("historyLimit: 3", "historyLimit: 100");
    let running = Running::start(&yaml, 1.0).await;
    let mut stream = watch_pods(&running, None);
    assert_eq!(initial_list(&mut stream).await, ["a", "b"]);
    running
        .restart_and_wait_down(Duration::from_millis(300))
        .await;
    running.sim.apply(pod("during-restart", "x")).unwrap();
    // The watcher reconnects from its resourceVersion and gets the change, no relist.
    match next(&mut stream).await {
        Event::Apply(p) => assert_eq!(name(&p), "during-restart"),
        other => panic!("expected the change made while the API was down, got {other:?}"),
    }
    running.stop().await;
}

#[tokio::test]
async fn too_old_resource_version_forces_a_relist() {
    let running = Running::start(PODS, 1.0).await;
    let mut stream = watch_pods(&running, None);
    assert_eq!(initial_list(&mut stream).await, ["a", "b"]);
    // While the API is down, more changes than the history keeps (3): the watcher's
    // resourceVersion is too old when it comes back, so it gets 410 and relists.
    running
        .restart_and_wait_down(Duration::from_millis(500))
        .await;
    for i in 0..5 {
        running.sim.apply(pod(&format!("p{i}"), "x")).unwrap();
    }
    let names = loop {
        match next(&mut stream).await {
            Event::Init => {
                let mut names = Vec::new();
                loop {
                    match next(&mut stream).await {
                        Event::InitApply(p) => names.push(name(&p)),
                        Event::InitDone => break,
                        other => panic!("{other:?}"),
                    }
                }
                break names;
            }
            Event::Apply(p) => panic!("replayed {} from a history that was gone", name(&p)),
            _ => {}
        }
    };
    assert_eq!(names, ["a", "b", "p0", "p1", "p2", "p3", "p4"]);
    running.stop().await;
}

#[tokio::test]
async fn watch_from_a_compacted_version_gets_an_error_event_410() {
    let running = Running::start(PODS, 1.0).await;
    let rv = running.sim.resource_version();
    running.sim.apply(pod("c", "x")).unwrap();
    running.sim.compact();
    let http = reqwest::Client::new();
    let body = http
        .get(format!(
            "{}/api/v1/namespaces/llm/pods?&watch=true&resourceVersion={rv}",
            running.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let event: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(event["object"]["code"], 410);
    assert_eq!(event["object"]["reason"], "Expired");
    running.stop().await;
}

#[tokio::test]
async fn lists_tables_field_selectors_and_access_reviews() {
    let yaml = format!(
        "{PODS}rbac:\n  deny:\n    - {{verb: watch, resource: analysisruns, group: argoproj.io}}\n"
    );
    let running = Running::start(&yaml, 1.0).await;
    let http = reqwest::Client::new();
    let get = |path: String, accept: &'static str| {
        let http = http.clone();
        let url = format!("{}{path}", running.url);
        async move {
            http.get(url)
                .header("accept", accept)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let list = get("/api/v1/pods?limit=1".into(), "application/json").await;
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let token = list["metadata"]["continue"].as_str().unwrap().to_string();
    let rest = get(
        format!("/api/v1/pods?limit=1&continue={token}"),
        "application/json",
    )
    .await;
    assert_eq!(rest["items"][0]["metadata"]["name"], "b");
    assert!(rest["metadata"].get("continue").is_none());

    let by_name = get(
        "/api/v1/namespaces/llm/pods?fieldSelector=metadata.name%3Db".into(),
        "application/json",
    )
    .await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);

    let table = get(
        "/api/v1/namespaces/llm/pods".into(),
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
    )
    .await;
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["columnDefinitions"][0]["name"], "Name");
    assert_eq!(table["rows"][1]["cells"][0], "b");

    let missing = http
        .get(format!("{}/api/v1/namespaces/llm/pods/nope", running.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let status: Value = missing.json().await.unwrap();
    assert_eq!(status["kind"], "Status");

    let review = |verb: &str, resource: &str, group: &str| {
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group, "namespace": "llm"}}});
        let req = http
            .post(format!(
                "{}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                running.url
            ))
            .json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(review("watch", "pods", "").await["status"]["allowed"], true);
    assert_eq!(
        review("watch", "analysisruns", "argoproj.io").await["status"]["allowed"],
        false
    );
    // The API itself enforces the denial, as a real server's RBAC would.
    let runs = format!(
        "{}/apis/argoproj.io/v1alpha1/namespaces/llm/analysisruns",
        running.url
    );
    let watch = http.get(format!("{runs}?watch=true")).send().await.unwrap();
    assert_eq!(watch.status(), 403);
    let status: Value = watch.json().await.unwrap();
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(http.get(&runs).send().await.unwrap().status(), 200);
    running.stop().await;
}

#[tokio::test]
async fn backend_counts_match_the_requests_answered() {
    let running = Running::start(story_objects(), 1.0).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for path in [
        "/v1/chat/completions",
        "/v1/embeddings",
        "/v1/embeddings",
        "/v1/embeddings",
    ] {
        let resp = http
            .post(format!("{}{path}", running.backend_url))
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("x-backend"));
        statuses.push(resp.status().as_u16());
    }
    assert_eq!(statuses, [200, 404, 429, 404]);
    let counts = running.sim.backend_counts();
    assert_eq!(counts.routes["POST /v1/embeddings"]["404"], 2);
    assert_eq!(counts.routes["POST /v1/embeddings"]["429"], 1);
    assert_eq!(counts.routes["POST /v1/chat/completions"]["200"], 1);
    assert_eq!(counts.total, 4);
    let over_http: Value = http
        .get(format!("{}/__sim/backend/counts", running.backend_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(over_http["total"], 4);
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn the_story_plays_in_scenario_time_at_any_speed() {
    let running = Running::start(story_objects(), 50.0).await;
    let sim = running.sim.clone();
    tokio::time::timeout(Duration::from_secs(3600), sim.finished())
        .await
        .expect("the story finishes");
    // 5m30s of scenario time at speed 50 is 6.6 s of (paused, auto-advanced) wall time.
    let clock = sim.clock();
    assert!(
        clock.now() >= clock.at(Duration::from_secs(330)),
        "the story reached its end in scenario time"
    );
    let rollout = sim_get(&sim, "argoproj.io/v1alpha1", "Rollout", "llm", "litellm");
    assert_eq!(rollout["metadata"]["generation"], 2);
    assert_eq!(rollout["status"]["phase"], "Degraded");
    assert_eq!(
        rollout["status"]["abortedAt"],
        json!(
            clock
                .at(Duration::from_secs(262))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    let run = sim_get(
        &sim,
        "argoproj.io/v1alpha1",
        "AnalysisRun",
        "llm",
        "litellm-67b4ccbdb4-2-1",
    );
    assert_eq!(run["status"]["metricResults"][0]["consecutiveError"], 5);
    let stalled = sim_get(&sim, "v1", "Event", "llm", "litellm.18a3f0c2d4e5b601");
    assert_eq!(stalled["count"], 6);
    assert_eq!(stalled["type"], "Warning");
    assert_eq!(
        stalled["lastTimestamp"],
        json!(
            clock
                .at(Duration::from_secs(110))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    );
    running.stop().await;
}

fn sim_get(sim: &SimHandle, api_version: &str, kind: &str, ns: &str, name: &str) -> Value {
    let target = sim::Target {
        resource: sim::resource::by_kind(api_version, kind).unwrap(),
        namespace: ns.into(),
        name: name.into(),
    };
    (*sim.get_object(&target).expect("object exists")).clone()
}

#[tokio::test]
async fn metadata_watcher_and_streaming_lists_work() {
    let running = Running::start(PODS, 1.0).await;
    let api: Api<Pod> = Api::namespaced(running.client(), "llm");
    // Metadata-only: PartialObjectMetadata lists and watch events.
    let meta_api: Api<kube::core::PartialObjectMeta<Pod>> =
        Api::namespaced(running.client(), "llm");
    let mut meta = watcher::watcher(meta_api, watcher::Config::default()).boxed();
    // Streaming list: sendInitialEvents, ended by a bookmark with initial-events-end.
    let mut streaming: Watch =
        watcher::watcher(api, watcher::Config::default().streaming_lists()).boxed();
    assert_eq!(initial_list(&mut streaming).await, ["a", "b"]);
    let mut meta_names = Vec::new();
    loop {
        let event = tokio::time::timeout(DEADLINE, meta.next())
            .await
            .expect("metadata event")
            .expect("stream goes on")
            .expect("no error");
        match event {
            Event::InitApply(p) => meta_names.push(p.metadata.name.unwrap_or_default()),
            Event::InitDone => break,
            _ => {}
        }
    }
    assert_eq!(meta_names, ["a", "b"]);
    running.sim.apply(pod("c", "x")).unwrap();
    match next(&mut streaming).await {
        Event::Apply(p) => assert_eq!(name(&p), "c"),
        other => panic!("{other:?}"),
    }
    let event = tokio::time::timeout(DEADLINE, meta.next())
        .await
        .expect("metadata event")
        .expect("stream goes on")
        .expect("no error");
    assert!(matches!(event, Event::Apply(p) if p.metadata.name.as_deref() == Some("c")));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn watches_send_bookmarks_and_end_at_their_timeout() {
    let running = Running::start(PODS, 1.0).await;
    let rv = running.sim.resource_version();
    let body = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/pods?&watch=true&allowWatchBookmarks=true&timeoutSeconds=12&resourceVersion={rv}",
            running.url
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .expect("the watch ends at its timeout");
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty(), "bookmarks arrive while nothing changes");
    for event in &events {
        assert_eq!(event["type"], "BOOKMARK");
        assert_eq!(event["object"]["kind"], "Pod");
        assert_eq!(
            event["object"]["metadata"]["resourceVersion"],
            rv.to_string()
        );
    }
    running.stop().await;
}

/// The built-in `api-restart` scenario: a restart during which more changes happen than the
/// history keeps, so the watcher relists (410) instead of replaying, and sees each pod once.
#[tokio::test]
async fn api_restart_scenario_forces_one_relist() {
    let yaml = sim::scenario::BUILTIN
        .iter()
        .find(|(n, _)| *n == "api-restart")
        .unwrap()
        .1;
    let running = Running::start(yaml, 4.0).await;
    let api: Api<Pod> = Api::namespaced(running.client(), "demo");
    let mut stream: Watch = watcher::watcher(api, watcher::Config::default()).boxed();
    assert_eq!(initial_list(&mut stream).await.len(), 5);
    let mut errors = 0;
    let relisted = loop {
        let item = tokio::time::timeout(DEADLINE, stream.next())
            .await
            .expect("an event before the deadline")
            .expect("the stream goes on");
        match item {
            Err(_) => errors += 1,
            Ok(Event::Init) => {
                let mut names = Vec::new();
                loop {
                    match next(&mut stream).await {
                        Event::InitApply(p) => names.push(p),
                        Event::InitDone => break,
                        other => panic!("{other:?}"),
                    }
                }
                break names;
            }
            Ok(Event::Apply(p)) => panic!("replayed {} instead of relisting", name(&p)),
            Ok(_) => {}
        }
    };
    assert!(errors >= 1, "the watcher saw the API go away");
    assert_eq!(relisted.len(), 5);
    let probed = relisted
        .iter()
        .filter(|p| {
            p.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("example.com/probe"))
        })
        .count();
    assert_eq!(
        probed, 5,
        "the relist carries the changes made while the API was down"
    );
    running.stop().await;
}

/// kube-rs discovery, legacy and aggregated, finds every served kind (observers resolve the
/// Argo kinds this way for dynamic watches).
#[tokio::test]
async fn kube_discovery_legacy_and_aggregated() {
    let running = Running::start(PODS, 1.0).await;
    for aggregated in [false, true] {
        let discovery = kube::Discovery::new(running.client());
        let discovery = if aggregated {
            discovery.run_aggregated().await
        } else {
            discovery.run().await
        }
        .unwrap_or_else(|e| panic!("discovery (aggregated: {aggregated}): {e}"));
        for (group, kind) in [
            ("", "Pod"),
            ("", "Event"),
            ("apps", "ReplicaSet"),
            ("batch", "Job"),
            ("argoproj.io", "Rollout"),
            ("argoproj.io", "AnalysisRun"),
        ] {
            let gvk = kube::api::GroupVersionKind::gvk(
                group,
                if group == "argoproj.io" {
                    "v1alpha1"
                } else {
                    "v1"
                },
                kind,
            );
            let (resource, caps) = discovery
                .resolve_gvk(&gvk)
                .unwrap_or_else(|| panic!("{kind} found (aggregated: {aggregated})"));
            assert_eq!(resource.kind, kind);
            assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);
        }
    }
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn load_churn_applies_every_change_at_its_rate() {
    let yaml =
        "load: {pods: 20, replicaSets: 2, nodes: 3, changesPerSecond: 50, from: 1s, for: 2s}\n";
    let running = Running::start(yaml, 10.0).await;
    let sim = running.sim.clone();
    let mut changes = sim.subscribe_changes();
    // Namespace + 2 ReplicaSets + 20 pods.
    let created = sim.resource_version();
    assert_eq!(created, 23);
    tokio::time::timeout(Duration::from_secs(3600), sim.finished())
        .await
        .expect("the load finishes");
    assert_eq!(sim.resource_version(), created + 100);
    let mut seen = Vec::new();
    while let Ok(change) = changes.try_recv() {
        seen.push((change.rv, change.change));
    }
    let expected: Vec<_> = (created + 1..=created + 100)
        .map(|rv| (rv, sim::ChangeType::Modified))
        .collect();
    assert_eq!(seen, expected);
    let pods = sim.list_objects("v1", "Pod", Some("load"));
    assert_eq!(pods.len(), 20);
    // 100 changes over 20 pods: 5 visits each, so each ended NotReady with 2 restarts.
    for pod in &pods {
        assert_eq!(pod["status"]["containerStatuses"][0]["ready"], false);
        assert_eq!(pod["status"]["containerStatuses"][0]["restartCount"], 2);
    }
    running.stop().await;
}
