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
//! - [`short`]: the short form (manifests, the kubelet's behaviour, metrics, a story, the
//!   expectation), validated at load.
//! - [`release`]: a short-form story's release, as the user's write.
//! - [`split`]: the traffic split behind a Service, for the backend's model routes.
//! - [`template`]: time templates in scenario strings and the `{{{{` escape.
//! - [`clock`]: scenario time.
//! - [`load`]: generated pods and churn for benchmarks.
//! - [`model`]: the model of the Argo Rollouts controller and the kubelet (short form only).
//! - [`server`]: serving the API and the backend, API restarts, shutdown.
//! - [`player`]: playing the steps, the load and the model's ticks in scenario time.
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
pub mod model;
pub mod operator;
pub mod patch;
mod player;
pub mod release;
pub mod resource;
pub mod scenario;
pub mod selector;
mod server;
pub mod short;
pub mod split;
pub mod store;
pub mod table;
pub mod template;
pub mod time_header;
pub mod watch;
pub mod write;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use backend::{Backend, BackendCounts};
pub use clock::ScenarioClock;
pub use scenario::{Action, EventSpec, Scenario, ScenarioError, Step, Target};
pub use server::serve;
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
    /// The controller model, for short-form scenarios only (object-form ones play as
    /// written). std Mutex: a tick is a short, non-async critical section.
    model: Option<Mutex<model::Model>>,
}

impl SimHandle {
    /// Loads the scenario's starting objects and starts its clock (scenario time zero is now,
    /// or the scenario's `start`). `speed` must be positive and finite.
    /// A short-form scenario (with model inputs) runs the controller model.
    pub fn new(scenario: Scenario, speed: f64) -> Result<SimHandle, SimError> {
        let model = scenario.model.clone().map(model::Model::new);
        SimHandle::build(scenario, speed, model)
    }

    /// As [`SimHandle::new`], with the controller model running on `inputs` (a short-form
    /// scenario): the player ticks it every [`model::TICK`] of scenario time.
    pub fn with_model(
        scenario: Scenario,
        speed: f64,
        inputs: model::inputs::ModelInputs,
    ) -> Result<SimHandle, SimError> {
        SimHandle::build(scenario, speed, Some(model::Model::new(inputs)))
    }

    fn build(
        scenario: Scenario,
        speed: f64,
        model: Option<model::Model>,
    ) -> Result<SimHandle, SimError> {
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
                model: model.map(Mutex::new),
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

    /// Replaces a stored object with `object`, stamped at `now`, unless nothing would change
    /// (no new resourceVersion, no watch event). True when written.
    pub(crate) fn update_if_changed(
        &self,
        key: &ObjectKey,
        object: Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut store = self.store();
        match store.update_if_changed(key, object, now)? {
            Ok(change) => {
                let _ = self.inner.changes.send(change);
                Ok(true)
            }
            Err(_) => Ok(false),
        }
    }

    /// True when the controller model runs (a short-form scenario).
    pub fn has_model(&self) -> bool {
        self.inner.model.is_some()
    }

    /// Runs the controller model once at scenario time `now` (the player does this every
    /// [`model::TICK`]; tests call it to step through a story). A no-op without a model.
    pub fn tick_model(&self, now: DateTime<Utc>) {
        if let Some(model) = &self.inner.model {
            model
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .tick(self, now);
        }
    }

    /// Plays a story action aimed at the model at scenario time `t` (a no-op without one).
    pub fn model_action(
        &self,
        action: &model::inputs::ModelAction,
        t: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.inner.model {
            Some(model) => model
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .act(self, action, t),
            None => Ok(()),
        }
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
            Action::Operator { rollout, action } => {
                match self.operator_action(&rollout.namespace, &rollout.name, *action) {
                    Ok(outcome) => tracing::info!(
                        "{}{}",
                        outcome.message,
                        outcome.note.map(|n| format!(" ({n})")).unwrap_or_default()
                    ),
                    // Answered as the plugin answers it: the story goes on.
                    Err(err) => tracing::warn!("{action} {}: {err}", rollout.describe()),
                }
            }
            Action::Model(model::inputs::ModelAction::Release(release)) => {
                self.release(release, t)?;
            }
            Action::Model(action) => model::react(self, action, t),
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

#[cfg(test)]
mod tests;
#[cfg(test)]
mod typed_tests;
