//! An embedded Kubernetes API simulator and scenario player, for the demo, rehearsals and
//! tests.
//!
//! Owns: serving the Kubernetes API on loopback over plain HTTP (discovery, list, get and
//! watch with resourceVersion semantics, selectors, bookmarks, 410 Gone, Tables,
//! SelfSubjectAccessReview, and the writes kubectl and the Argo Rollouts plugin make: PATCH,
//! PUT, POST, DELETE and the `/status` subresource), a fake HTTP backend, and playing a
//! [`Scenario`] in its own scaled clock. Objects change when the scenario, an in-process
//! caller or an API client changes them. It must not write channel entries.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use warroom::sim::{Scenario, SimHandle};
//! let sim = SimHandle::new(Scenario::resolve("story")?, 20.0)?;
//! let api = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = tokio::spawn(warroom::sim::serve(sim.clone(), api, Some(backend), async {
//!     tokio::signal::ctrl_c().await.ok();
//! }));
//! sim.finished().await;
//! println!("{:?}", sim.backend_counts());
//! # server.await??; Ok(()) }
//! ```
//!
//! # Layout
//! - [`resource`]: the served kinds and discovery documents.
//! - [`selector`]: label and field selectors.
//! - [`store`]: objects, the resourceVersion counter and the watch history.
//! - [`table`]: server-side printing for kubectl.
//! - [`scenario`]: the scenario file format, validated at load.
//! - [`template`]: time templates in scenario strings and the `{{{{` escape.
//! - [`clock`]: scenario time.
//! - [`load`]: generated pods and churn for benchmarks.
//! - [`api`]: the HTTP handlers of the Kubernetes API.
//! - [`watch`]: one watch's event stream.
//! - [`write`]: PATCH, PUT, POST and DELETE, and the `/status` subresource.
//! - [`patch`]: merge, strategic merge and JSON patches.
//! - [`operator`]: operator actions (promote, abort, …) in process, through the write path.
//! - [`access`]: access reviews and the scenario's denials.
//! - [`backend`]: the fake HTTP backend.

pub mod access;
pub mod api;
pub mod backend;
pub mod clock;
pub mod load;
pub mod operator;
pub mod patch;
pub mod resource;
pub mod scenario;
pub mod selector;
pub mod store;
pub mod table;
pub mod template;
pub mod time_header;
pub mod watch;
pub mod write;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use backend::{Backend, BackendCounts};
pub use clock::ScenarioClock;
pub use scenario::{Action, EventSpec, Scenario, ScenarioError, Step, Target};
pub use store::{Change, ChangeType, Expired, StoreError};

use resource::{RESOURCES, ResourceId};
use store::{ObjectKey, Store};

/// How many changes a slow watch may fall behind before it is closed (the client re-watches
/// from its last resourceVersion, or relists after a 410).
const WATCH_BUFFER: usize = 4096;
/// How long shutdown or a restart waits for open connections before dropping them.
const DRAIN_DEADLINE: Duration = Duration::from_secs(2);

/// Why the simulator could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{object} was refused")]
    Load {
        /// `file: starting object Kind name`.
        object: String,
        #[source]
        source: Box<StoreError>,
    },
    #[error("cannot listen on {addr} again after an API restart (is something else bound to it?)")]
    Rebind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the listener's address")]
    LocalAddr(#[source] std::io::Error),
}

/// Cheap-to-clone handle on a running simulator: its store, clock, backend and controls.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

struct Inner {
    /// std Mutex: every access is a short, non-async critical section, and a change must be
    /// stored and broadcast under the same lock so a new watch sees each change exactly once.
    store: Mutex<Store>,
    changes: broadcast::Sender<Arc<Change>>,
    clock: ScenarioClock,
    scenario: Arc<Scenario>,
    backend: Backend,
    /// Cancelled when the current API incarnation stops (restart or shutdown): ends watches.
    /// std Mutex: replaced at each restart, read when a watch starts.
    incarnation: Mutex<CancellationToken>,
    /// Restart requests for the serve loop (downtime in wall time).
    restart_tx: mpsc::UnboundedSender<Duration>,
    restart_rx: Mutex<Option<mpsc::UnboundedReceiver<Duration>>>,
    /// True once the scenario's `end` has been reached.
    finished: tokio::sync::watch::Sender<bool>,
    /// Watch tasks, so shutdown can wait for them.
    tasks: TaskTracker,
    api_addr: OnceLock<SocketAddr>,
    backend_addr: OnceLock<SocketAddr>,
}

impl SimHandle {
    /// Loads the scenario's starting objects and starts its clock (scenario time zero is now,
    /// or the scenario's `start`). `speed` must be positive and finite.
    pub fn new(scenario: Scenario, speed: f64) -> Result<SimHandle, SimError> {
        let start = scenario
            .start
            .unwrap_or_else(|| default_start(Utc::now(), scenario.end, speed));
        let clock = ScenarioClock::start(start, speed);
        let mut store = Store::new(scenario.history_limit);
        for object in &scenario.objects {
            let rendered = scenario::render(&object.template, start, start);
            store
                .apply(object.resource, rendered, start)
                .map_err(|source| SimError::Load {
                    object: format!(
                        "{}: starting object {} {}",
                        scenario.source,
                        RESOURCES[object.resource].kind,
                        object.template["metadata"]["name"]
                            .as_str()
                            .unwrap_or_default()
                    ),
                    source: Box::new(source),
                })?;
        }
        if let Some(load) = &scenario.load {
            for object in load.objects(start) {
                let resource = object_resource(&object).ok_or_else(|| SimError::Load {
                    object: format!("{}: load", scenario.source),
                    source: Box::new(StoreError::MissingName),
                })?;
                // The scenario may define the namespace itself.
                let exists = RESOURCES[resource].kind == "Namespace"
                    && store
                        .get(&(resource, String::new(), load.namespace.clone()))
                        .is_some();
                if !exists {
                    store
                        .apply(resource, object, start)
                        .map_err(|source| SimError::Load {
                            object: format!("{}: load", scenario.source),
                            source: Box::new(source),
                        })?;
                }
            }
        }
        // Hand-written ownerReferences name their owner; the owner may come later in the file.
        store.link_references();
        let (changes, _) = broadcast::channel(WATCH_BUFFER);
        let (restart_tx, restart_rx) = mpsc::unbounded_channel();
        Ok(SimHandle {
            inner: Arc::new(Inner {
                store: Mutex::new(store),
                changes,
                clock,
                backend: Backend::new(&scenario.backend),
                scenario: Arc::new(scenario),
                incarnation: Mutex::new(CancellationToken::new()),
                restart_tx,
                restart_rx: Mutex::new(Some(restart_rx)),
                finished: tokio::sync::watch::Sender::new(false),
                tasks: TaskTracker::new(),
                api_addr: OnceLock::new(),
                backend_addr: OnceLock::new(),
            }),
        })
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn clock(&self) -> ScenarioClock {
        self.inner.clock
    }

    pub fn scenario(&self) -> &Scenario {
        &self.inner.scenario
    }

    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// The backend's request counts so far.
    pub fn backend_counts(&self) -> BackendCounts {
        self.inner.backend.counts()
    }

    /// `http://127.0.0.1:PORT` once [`serve`] runs.
    pub fn api_url(&self) -> Option<String> {
        self.inner.api_addr.get().map(|a| format!("http://{a}"))
    }

    pub fn backend_url(&self) -> Option<String> {
        self.inner.backend_addr.get().map(|a| format!("http://{a}"))
    }

    /// The current collection resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.store().resource_version()
    }

    /// Every change from now on, as the store commits it (for in-process users that want to
    /// know exactly what the scenario did, e.g. to compare with an observer's report). A slow
    /// receiver gets `Lagged`, as any broadcast receiver.
    pub fn subscribe_changes(&self) -> broadcast::Receiver<Arc<Change>> {
        self.inner.changes.subscribe()
    }

    /// Resolves once the scenario's last step (or its `end`) has played.
    pub async fn finished(&self) {
        let mut rx = self.inner.finished.subscribe();
        let _ = rx.wait_for(|done| *done).await;
    }

    pub fn is_finished(&self) -> bool {
        *self.inner.finished.borrow()
    }

    /// Drops every watch and refuses connections for `down` (wall time), then listens again
    /// on the same address. A no-op when [`serve`] is not running.
    pub fn restart_api(&self, down: Duration) {
        let _ = self.inner.restart_tx.send(down);
    }

    /// Drops the retained history: a watch from any older resourceVersion now gets 410 Gone.
    pub fn compact(&self) {
        self.store().compact();
    }

    fn commit<E>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<Arc<Change>, E>,
    ) -> Result<Arc<Change>, E> {
        let mut store = self.store();
        let change = f(&mut store)?;
        // No receivers is fine: nobody is watching yet.
        let _ = self.inner.changes.send(change.clone());
        Ok(change)
    }

    /// Creates or replaces an object (any served kind), stamped at the current scenario time.
    pub fn apply(&self, object: Value) -> Result<Arc<Change>, StoreError> {
        let resource = object_resource(&object).ok_or_else(|| StoreError::UnknownKind {
            api_version: object["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            kind: object["kind"].as_str().unwrap_or_default().to_string(),
        })?;
        let now = self.clock().now();
        self.commit(|s| s.apply(resource, object, now))
    }

    /// Applies a JSON merge patch to an object.
    pub fn merge_patch(&self, target: &Target, patch: &Value) -> Result<Arc<Change>, StoreError> {
        let now = self.clock().now();
        self.commit(|s| s.merge_patch(&target_key(target), patch, now))
    }

    /// The current state of one object.
    pub fn get_object(&self, target: &Target) -> Option<Arc<Value>> {
        self.store().get(&target_key(target))
    }

    /// Every object of a kind (`apiVersion`, `kind`), in one namespace or all.
    pub fn list_objects(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Vec<Arc<Value>> {
        resource::by_kind(api_version, kind)
            .map(|r| self.store().list(r, namespace))
            .unwrap_or_default()
    }

    pub fn delete(&self, target: &Target) -> Result<Arc<Change>, StoreError> {
        self.commit(|s| s.delete(&target_key(target)))
    }

    /// Emits (or, for a known `name`, bumps) a core/v1 Event stamped at scenario time `t`.
    pub fn emit_event(
        &self,
        spec: &EventSpec,
        t: DateTime<Utc>,
    ) -> Result<Arc<Change>, StoreError> {
        let events = resource::by_kind("v1", "Event").ok_or_else(|| StoreError::UnknownKind {
            api_version: "v1".into(),
            kind: "Event".into(),
        })?;
        let epoch = self.clock().epoch();
        let stamp = t.to_rfc3339_opts(SecondsFormat::Secs, true);
        let message =
            scenario::render_str(&spec.message, t, epoch).unwrap_or_else(|_| spec.message.clone());
        let involved = &spec.involved_object;
        let namespace = spec
            .namespace
            .clone()
            .or_else(|| involved.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let involved_ns = involved
            .namespace
            .clone()
            .unwrap_or_else(|| namespace.clone());
        self.commit(|store| {
            let uid = resource::by_kind(&involved.api_version, &involved.kind)
                .and_then(|r| {
                    let ns = if RESOURCES[r].namespaced {
                        involved_ns.clone()
                    } else {
                        String::new()
                    };
                    store.get(&(r, ns, involved.name.clone()))
                })
                .and_then(|o| o.pointer("/metadata/uid").cloned())
                .unwrap_or(Value::Null);
            if let Some(name) = &spec.name {
                let key = (events, namespace.clone(), name.clone());
                if let Some(existing) = store.get(&key) {
                    let count = spec
                        .count
                        .unwrap_or_else(|| existing["count"].as_u64().unwrap_or(1) + 1);
                    let patch = json!({
                        "count": count, "lastTimestamp": stamp, "message": message,
                        "reason": spec.reason, "type": spec.event_type,
                    });
                    return store.merge_patch(&key, &patch, t);
                }
            }
            let name = spec.name.clone().unwrap_or_else(|| {
                format!(
                    "{}.{:016x}",
                    involved.name,
                    0x1890_0000_0000_0000u64 + store.next_serial()
                )
            });
            let source = spec
                .source
                .clone()
                .unwrap_or_else(|| default_source(&involved.kind));
            let event = json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": stamp},
                "involvedObject": {
                    "apiVersion": involved.api_version, "kind": involved.kind,
                    "name": involved.name, "namespace": involved_ns, "uid": uid,
                },
                "reason": spec.reason,
                "message": message,
                "type": spec.event_type,
                "count": spec.count.unwrap_or(1),
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "source": {"component": source},
                "reportingComponent": source,
            });
            store.apply(events, event, t)
        })
    }

    /// Plays one step at scenario time `t`.
    pub fn perform(&self, step: &Step, t: DateTime<Utc>) -> Result<(), StoreError> {
        let epoch = self.clock().epoch();
        match &step.action {
            Action::Apply(object) => {
                let rendered = scenario::render(&object.template, t, epoch);
                self.commit(|s| s.apply(object.resource, rendered, t))?;
            }
            Action::Patch { target, merge } => {
                let rendered = scenario::render(merge, t, epoch);
                self.commit(|s| s.merge_patch(&target_key(target), &rendered, t))?;
            }
            Action::Delete(target) => {
                self.delete(target)?;
            }
            Action::Event(spec) => {
                self.emit_event(spec, t)?;
            }
            Action::RestartApi { down } => self.restart_api(self.clock().wall(*down)),
            Action::Compact => self.compact(),
            Action::Backend(route) => self.inner.backend.set_route(route.clone()),
        }
        Ok(())
    }

    /// Objects of one resource (and namespace) with the collection resourceVersion.
    pub(crate) fn list(
        &self,
        resource: ResourceId,
        namespace: Option<&str>,
    ) -> (Vec<Arc<Value>>, u64) {
        let store = self.store();
        (store.list(resource, namespace), store.resource_version())
    }

    pub(crate) fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.store().get(key)
    }

    /// Starts a watch: what to send first, and the live changes after it, cut atomically.
    pub(crate) fn subscribe(
        &self,
        resource: ResourceId,
        namespace: Option<&str>,
        from: Option<u64>,
    ) -> (
        Result<WatchStart, Expired>,
        broadcast::Receiver<Arc<Change>>,
    ) {
        let store = self.store();
        let start = match from {
            None => Ok(WatchStart::Snapshot {
                objects: store.list(resource, namespace),
                rv: store.resource_version(),
            }),
            Some(rv) => store.changes_since(rv).map(WatchStart::Changes),
        };
        (start, self.inner.changes.subscribe())
    }

    /// The token that ends watches of the current API incarnation.
    pub(crate) fn incarnation(&self) -> CancellationToken {
        self.inner
            .incarnation
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn tasks(&self) -> &TaskTracker {
        &self.inner.tasks
    }
}

/// The first part of a watch.
pub(crate) enum WatchStart {
    /// No resourceVersion given: every current object as ADDED, then changes after `rv`.
    Snapshot { objects: Vec<Arc<Value>>, rv: u64 },
    /// Changes after the given resourceVersion, from the history.
    Changes(Vec<Arc<Change>>),
}

/// Scenario time zero when the scenario gives none: early enough that scenario time reaches
/// wall time exactly at the scenario's end, so no timestamp is ever in the future for a
/// client comparing with its own clock (kubectl describe's ages). At speed 1 that is now.
/// Whole seconds, as Kubernetes timestamps are.
fn default_start(wall_now: DateTime<Utc>, end: Duration, speed: f64) -> DateTime<Utc> {
    let ahead = end.mul_f64(1.0 - 1.0 / speed.max(1.0));
    let start = wall_now - chrono::Duration::from_std(ahead).unwrap_or_default();
    DateTime::from_timestamp(start.timestamp(), 0).unwrap_or(start)
}

fn default_source(kind: &str) -> String {
    match kind {
        "Rollout" | "AnalysisRun" | "Experiment" => "rollouts-controller".into(),
        "Pod" => "kubelet".into(),
        "Deployment" => "deployment-controller".into(),
        "ReplicaSet" => "replicaset-controller".into(),
        "Job" => "job-controller".into(),
        _ => "warroom-sim".into(),
    }
}

fn object_resource(object: &Value) -> Option<ResourceId> {
    resource::by_kind(object["apiVersion"].as_str()?, object["kind"].as_str()?)
}

fn target_key(target: &Target) -> ObjectKey {
    (
        target.resource,
        target.namespace.clone(),
        target.name.clone(),
    )
}

/// A kubeconfig that points kubectl and kube-rs at the simulator (plain HTTP, no auth).
pub fn kubeconfig(api_url: &str, namespace: Option<&str>) -> String {
    let ns = namespace
        .map(|n| format!("\n    namespace: {n}"))
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: warroom-sim\n  cluster:\n    server: {api_url}\ncontexts:\n- name: warroom-sim\n  context:\n    cluster: warroom-sim\n    user: warroom-sim{ns}\ncurrent-context: warroom-sim\nusers:\n- name: warroom-sim\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Serves the API (and the backend, when given a listener) and plays the scenario until
/// `shutdown` resolves. The scenario's clock started at [`SimHandle::new`].
pub async fn serve(
    sim: SimHandle,
    api: TcpListener,
    backend: Option<TcpListener>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), SimError> {
    let addr = api.local_addr().map_err(SimError::LocalAddr)?;
    let _ = sim.inner.api_addr.set(addr);
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();

    if let Some(listener) = backend {
        let backend_addr = listener.local_addr().map_err(SimError::LocalAddr)?;
        let _ = sim.inner.backend_addr.set(backend_addr);
        let router = time_header::stamp(backend::router(sim.inner.backend.clone()), sim.clock());
        let stop = cancel.clone().cancelled_owned();
        tasks.spawn(async move {
            if let Err(err) = axum::serve(listener, router)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!("fake backend stopped: {err}");
            }
        });
    }
    tasks.spawn(play(sim.clone(), cancel.clone()));

    let restart_rx = sim
        .inner
        .restart_rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    // A second `serve` on the same handle gets no restart channel; restarts then go to the first.
    let mut restart_rx = restart_rx.unwrap_or_else(|| mpsc::unbounded_channel().1);
    let router = api::router(sim.clone());
    let mut listener = Some(api);
    let mut shutdown = std::pin::pin!(shutdown);
    let result = loop {
        let Some(current) = listener.take() else {
            break Ok(());
        };
        let incarnation = cancel.child_token();
        *sim.inner
            .incarnation
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = incarnation.clone();
        let server = tokio::spawn(
            axum::serve(current, router.clone())
                .with_graceful_shutdown(incarnation.clone().cancelled_owned())
                .into_future(),
        );
        let down = tokio::select! {
            () = &mut shutdown => None,
            down = restart_rx.recv() => down,
        };
        incarnation.cancel();
        drain(server).await;
        let Some(down) = down else {
            break Ok(());
        };
        tracing::info!("API restart: refusing connections for {down:?}");
        tokio::select! {
            () = &mut shutdown => break Ok(()),
            () = tokio::time::sleep(down) => {}
        }
        match rebind(addr).await {
            Ok(l) => listener = Some(l),
            Err(source) => break Err(SimError::Rebind { addr, source }),
        }
    };
    cancel.cancel();
    tasks.close();
    sim.inner.tasks.close();
    let _ = tokio::time::timeout(DRAIN_DEADLINE, async {
        tasks.wait().await;
        sim.inner.tasks.wait().await;
    })
    .await;
    result
}

async fn drain(server: tokio::task::JoinHandle<std::io::Result<()>>) {
    let abort = server.abort_handle();
    if tokio::time::timeout(DRAIN_DEADLINE, server).await.is_err() {
        abort.abort();
    }
}

async fn rebind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let mut last = None;
    for _ in 0..50 {
        match TcpListener::bind(addr).await {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("rebind failed")))
}

/// Applies the scenario's load churn at its rate (scenario time), in 10 ms wall-time batches.
async fn churn(sim: SimHandle, load: load::LoadSpec, cancel: CancellationToken) {
    let total = load.total_changes();
    let Some(pods) = resource::by_kind("v1", "Pod") else {
        return;
    };
    if total == 0 {
        return;
    }
    let clock = sim.clock();
    let from = load.from.unwrap_or_default();
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep_until(clock.instant_at(from)) => {}
    }
    let mut done = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while done < total {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let due = load.due(clock.elapsed().saturating_sub(from));
        while done < due {
            let at = from + Duration::from_secs_f64(done as f64 / load.changes_per_second);
            let (name, patch) = load.change(done, clock.at(at));
            let target = Target {
                resource: pods,
                namespace: load.namespace.clone(),
                name,
            };
            if let Err(err) = sim.merge_patch(&target, &patch) {
                tracing::warn!("load change {done}: {err}");
            }
            done += 1;
        }
    }
    tracing::info!("load: {total} changes applied");
}

/// Plays the steps and the load at their scenario times, then marks the scenario finished at
/// its end (never before the last step and the last load change).
async fn play(sim: SimHandle, cancel: CancellationToken) {
    let clock = sim.clock();
    let scenario = sim.inner.scenario.clone();
    let steps = async {
        for step in &scenario.steps {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(clock.instant_at(step.at)) => {}
            }
            match sim.perform(step, clock.at(step.at)) {
                Ok(()) => tracing::info!("{}", step.describe()),
                Err(err) => tracing::warn!("{}: {}: {err}", scenario.source, step.describe()),
            }
        }
    };
    let load = async {
        if let Some(load) = &scenario.load {
            churn(sim.clone(), load.clone(), cancel.clone()).await;
        }
    };
    tokio::join!(steps, load);
    tokio::select! {
        () = cancel.cancelled() => return,
        () = tokio::time::sleep_until(clock.instant_at(scenario.end)) => {}
    }
    tracing::info!(
        "{} scenario {} finished; still serving",
        humantime::format_duration(scenario.end),
        scenario.name
    );
    sim.inner.finished.send_replace(true);
}

#[cfg(test)]
mod tests {
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
        let sim = SimHandle::new(Scenario::resolve("story").unwrap(), 1.0).unwrap();
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
}

#[cfg(test)]
mod typed_tests {
    use super::*;
    use k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, core::v1 as core};

    fn check<K: serde::de::DeserializeOwned>(scenario: &str, object: &Value) {
        if let Err(err) = serde_json::from_value::<K>(object.clone()) {
            panic!(
                "{scenario}: {} {} does not parse as k8s-openapi's type: {err}",
                object["kind"], object["metadata"]["name"]
            );
        }
    }

    /// Observers decode core kinds with k8s-openapi: every object of every built-in
    /// scenario, at every step, must parse.
    #[test]
    fn builtin_objects_parse_as_k8s_openapi_types() {
        for (name, _) in scenario::BUILTIN {
            let sim = SimHandle::new(Scenario::resolve(name).unwrap(), 1.0).unwrap();
            let clock = sim.clock();
            let mut steps = sim.scenario().steps.clone().into_iter();
            loop {
                for (av, kind) in [
                    ("v1", "Pod"),
                    ("v1", "Service"),
                    ("v1", "Event"),
                    ("v1", "Namespace"),
                    ("apps/v1", "ReplicaSet"),
                    ("apps/v1", "Deployment"),
                    ("batch/v1", "Job"),
                ] {
                    for o in sim.list_objects(av, kind, None) {
                        match kind {
                            "Pod" => check::<core::Pod>(name, &o),
                            "Service" => check::<core::Service>(name, &o),
                            "Event" => check::<core::Event>(name, &o),
                            "Namespace" => check::<core::Namespace>(name, &o),
                            "ReplicaSet" => check::<apps::ReplicaSet>(name, &o),
                            "Deployment" => check::<apps::Deployment>(name, &o),
                            _ => check::<batch::Job>(name, &o),
                        }
                    }
                }
                let Some(step) = steps.next() else { break };
                sim.perform(&step, clock.at(step.at)).unwrap();
            }
        }
    }
}
