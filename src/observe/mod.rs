//! The observer runtime and the three built-in observers ([`pipeline`], [`data_plane`],
//! [`traffic`]).
//!
//! Streams in, streams out: an observer consumes kube watch streams (or its own HTTP results)
//! and sends [`Observation`]s into an `mpsc` channel; [`deliver`] posts them, locally through
//! [`crate::channel`] or remotely through the relay ([`Poster`]). Observers never write files
//! themselves and never decide where their words go.
//!
//! What every Kubernetes observer shares lives here:
//! - [`watch`]: a kube-rs `watcher(...).default_backoff()` task per kind; errors are items,
//!   never the end of the loop; 410 Gone is a relist, not an outage.
//! - [`Mirror`]: the objects of one kind as slim values; `Init..InitDone` is a full resync
//!   whose difference with what was known is returned, so nothing is reported twice.
//! - [`ApiHealth`] / [`health`]: says once that the API is lost (an `alert`) and once that it
//!   is back (an `observation`), probing `/version` while it is lost.
//! - [`ClusterClock`] ([`clock`]): the cluster's time, read from the API's own answers
//!   (the simulator's scenario-time header, a real server's `Date`), so thresholds hold at any
//!   simulator speed and on a real cluster.
//! - [`lifecycle`]: alerts as conditions — said once while they hold, escalated once,
//!   resolved when they clear, restored from the observer's own entries after a restart.
//! - [`access_check`]: SelfSubjectAccessReviews for what an observer means to watch.
//!
//! This module must not hold detector logic ([`crate::rollout::detect`] does) and must not
//! render the rollout view.

pub mod clock;
pub mod data_plane;
pub mod lifecycle;
pub mod pipeline;
pub mod report;
pub mod state;
pub mod traffic;

pub use clock::{ClusterClock, ClusterTime};

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, DynamicObject, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::channel::store::PostOptions;
use crate::channel::{Author, Channel, Draft, EntryId, IdempotencyKey, Kind};
use crate::rollout::cluster;

/// One thing an observer has to say: a kind (`observation`, `alert`, `resolved`), a markdown
/// body, the idempotency key that makes a retry or a restart safe, and the entries it refs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub kind: Kind,
    pub body: String,
    /// The store never writes two entries of one author with the same key.
    pub key: Option<String>,
    pub refs: Vec<Ref>,
}

/// An entry an observation refs: by id, or by the key it was posted with (the poster knows the
/// id once that entry is posted; an alert and its resolution may sit in the same queue).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ref {
    Id(String),
    Key(String),
}

impl Observation {
    /// An entry of `kind` with no key and no refs.
    pub fn new(kind: Kind, body: impl Into<String>) -> Self {
        Self {
            kind,
            body: body.into(),
            key: None,
            refs: Vec::new(),
        }
    }

    pub fn report(body: impl Into<String>) -> Self {
        Self {
            kind: Kind::Observation,
            body: body.into(),
            key: None,
            refs: Vec::new(),
        }
    }

    pub fn alert(body: impl Into<String>) -> Self {
        Self {
            kind: Kind::Alert,
            body: body.into(),
            key: None,
            refs: Vec::new(),
        }
    }
}

/// What can go wrong running an observer, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(
        "no usable Kubernetes configuration ({detail}); set KUBECONFIG or ~/.kube/config (as for kubectl)"
    )]
    Config { detail: String },
    #[error(
        "namespace \"{namespace}\" does not exist; check the name with `kubectl get namespaces`"
    )]
    NoNamespace { namespace: String },
    #[error(
        "rollout \"{name}\" not found in namespace \"{namespace}\"; check with `kubectl get rollouts.argoproj.io -n {namespace}`"
    )]
    NoRollout { name: String, namespace: String },
    #[error(
        "Kubernetes API request failed while {what}: {detail}; check that `kubectl version` works with the same kubeconfig"
    )]
    Api { what: String, detail: String },
    #[error("cannot post to channel {channel}")]
    Local {
        channel: String,
        #[source]
        source: crate::channel::Error,
    },
    #[error("the posting task for channel {channel} stopped")]
    Join {
        channel: String,
        #[source]
        source: tokio::task::JoinError,
    },
    #[error(
        "cannot reach the relay at {url}: {detail}; check --relay and that `warroom serve` runs"
    )]
    RelayUnreachable { url: String, detail: String },
    #[error(
        "the relay at {url} refused the entry ({status}): {body}; check --token and the channel"
    )]
    RelayRefused {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{0}")]
    Usage(String),
}

impl ObserveError {
    /// 2 for bad input (names, flags), 3 for environment and I/O.
    pub fn exit_code(&self) -> u8 {
        match self {
            ObserveError::NoNamespace { .. }
            | ObserveError::NoRollout { .. }
            | ObserveError::Usage(_) => 2,
            ObserveError::Local { source, .. } => source.exit_code(),
            _ => 3,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Posting

/// Where observations go: a local channel, or a relay with a bearer token.
#[derive(Debug, Clone)]
pub enum Poster {
    Local {
        channel: Channel,
        author: Author,
    },
    Remote {
        http: reqwest::Client,
        /// `{relay}/api/channels/{ch}/entries`.
        url: String,
        token: String,
    },
}

impl Poster {
    /// A poster appending to `channel` as `author` (checked against the roster now).
    pub fn local(channel: Channel, author: Author) -> Result<Poster, ObserveError> {
        channel
            .check_can_post(&author)
            .map_err(|source| ObserveError::Local {
                channel: channel.name().to_string(),
                source,
            })?;
        Ok(Poster::Local { channel, author })
    }

    /// A poster sending to the relay at `relay` (`http://127.0.0.1:7700`) for `channel`.
    pub fn remote(relay: &str, channel: &str, token: &str) -> Poster {
        Poster::Remote {
            http: reqwest::Client::new(),
            url: format!(
                "{}/api/channels/{channel}/entries",
                relay.trim_end_matches('/')
            ),
            token: token.to_string(),
        }
    }

    /// Posts one observation whose refs are ids; returns the entry id (`pipeline#3`). With a
    /// key the post is safe to retry: an entry already written with it is returned, not
    /// written again.
    pub async fn post(&self, obs: &Observation) -> Result<String, ObserveError> {
        let refs: Vec<String> = obs
            .refs
            .iter()
            .filter_map(|r| match r {
                Ref::Id(id) => Some(id.clone()),
                Ref::Key(_) => None,
            })
            .collect();
        match self {
            Poster::Local { channel, author } => {
                let (channel, author) = (channel.clone(), author.clone());
                let name = channel.name().to_string();
                let local = |source| ObserveError::Local {
                    channel: name.clone(),
                    source,
                };
                let draft = Draft {
                    kind: obs.kind,
                    refs: refs
                        .iter()
                        .map(|r| EntryId::parse(r))
                        .collect::<Result<_, _>>()
                        .map_err(local)?,
                    key: obs
                        .key
                        .as_deref()
                        .map(IdempotencyKey::new)
                        .transpose()
                        .map_err(local)?,
                    body: obs.body.clone(),
                    ..Default::default()
                };
                // Posting is blocking file I/O (lock, write, fsync).
                let posted = tokio::task::spawn_blocking(move || {
                    channel.post(&author, &draft, &PostOptions::default())
                })
                .await
                .map_err(|source| ObserveError::Join {
                    channel: name.clone(),
                    source,
                })?
                .map_err(local)?;
                Ok(posted.entry.id.to_string())
            }
            Poster::Remote { http, url, token } => {
                let mut body = serde_json::json!({
                    "kind": obs.kind.as_str(),
                    "body": obs.body,
                    "refs": refs,
                });
                if let Some(key) = &obs.key {
                    body["key"] = serde_json::Value::String(key.clone());
                }
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| ObserveError::RelayUnreachable {
                        url: url.clone(),
                        detail: e.to_string(),
                    })?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                // 201 written; 200 the entry an earlier post with this key wrote.
                if status != 201 && status != 200 {
                    return Err(ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: text.chars().take(300).collect(),
                    });
                }
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(id)
            }
        }
    }

    /// What `role` has written to the channel so far (for [`lifecycle::Lifecycle::restore`]).
    pub async fn history(&self, role: &str) -> Result<Vec<lifecycle::Said>, ObserveError> {
        let said = |e: crate::channel::Entry| lifecycle::Said {
            id: e.id.to_string(),
            kind: e.kind,
            key: e.key.map(|k| k.to_string()),
            refs: e.refs.iter().map(ToString::to_string).collect(),
        };
        match self {
            Poster::Local { channel, author } => {
                let (channel, author) = (channel.clone(), author.clone());
                let name = channel.name().to_string();
                tokio::task::spawn_blocking(move || {
                    let filter = crate::timeline::Filter {
                        authors: [author].into_iter().collect(),
                        ..Default::default()
                    };
                    let merge = crate::timeline::Merge::open(&channel, filter, |p| {
                        eprintln!("warning: {p}");
                    })?;
                    merge.map(|e| e.map(said)).collect::<Result<Vec<_>, _>>()
                })
                .await
                .map_err(|source| ObserveError::Join {
                    channel: name.clone(),
                    source,
                })?
                .map_err(|source| ObserveError::Local {
                    channel: name,
                    source,
                })
            }
            Poster::Remote { http, url, token } => {
                let response = http.get(url).bearer_auth(token).send().await.map_err(|e| {
                    ObserveError::RelayUnreachable {
                        url: url.clone(),
                        detail: e.to_string(),
                    }
                })?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                if status != 200 {
                    return Err(ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: text.chars().take(300).collect(),
                    });
                }
                let entries: Vec<crate::channel::Entry> =
                    serde_json::from_str(&text).map_err(|e| ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: format!("the entries are not the relay's JSON: {e}"),
                    })?;
                Ok(entries
                    .into_iter()
                    .filter(|e| e.author.as_str() == role)
                    .map(said)
                    .collect())
            }
        }
    }
}

/// A poster that remembers the ids of the keyed entries it posted, so an observation that refs
/// an entry by key (a resolution, an escalation) refs its id. A key posted before this run is
/// looked up in the channel once.
#[derive(Debug, Clone)]
pub struct Delivery {
    poster: Poster,
    ids: BTreeMap<String, String>,
}

impl Delivery {
    pub fn new(poster: Poster) -> Delivery {
        Delivery {
            poster,
            ids: BTreeMap::new(),
        }
    }

    /// Posts `obs` with its refs by key turned into ids; returns the entry id.
    pub async fn post(&mut self, mut obs: Observation) -> Result<String, ObserveError> {
        if obs
            .refs
            .iter()
            .any(|r| matches!(r, Ref::Key(k) if !self.ids.contains_key(k)))
        {
            // Written before this run: look the key up in the channel.
            let role = match &self.poster {
                Poster::Local { author, .. } => author.to_string(),
                Poster::Remote { .. } => String::new(),
            };
            for s in self.poster.history(&role).await? {
                if let Some(k) = s.key {
                    self.ids.entry(k).or_insert(s.id);
                }
            }
        }
        obs.refs = obs
            .refs
            .into_iter()
            .map(|r| match r {
                Ref::Key(k) => self.ids.get(&k).cloned().map_or(Ref::Key(k), Ref::Id),
                id => id,
            })
            .collect();
        let id = self.poster.post(&obs).await?;
        if let Some(k) = obs.key {
            self.ids.insert(k, id.clone());
        }
        Ok(id)
    }
}

/// Posts every observation from `rx` in order until the senders are gone (or `cancel` fires
/// and the queue is drained), through a [`Delivery`]. A failed post is reported on stderr and
/// the run continues: an observer must not stop watching because the relay blinked. Returns
/// how many were posted.
pub async fn deliver(
    mut rx: mpsc::Receiver<Observation>,
    poster: Poster,
    cancel: CancellationToken,
) -> u64 {
    let mut posted = 0;
    let mut delivery = Delivery::new(poster);
    loop {
        let obs = tokio::select! {
            obs = rx.recv() => obs,
            () = cancel.cancelled() => {
                // Drain what is already queued, then stop.
                rx.close();
                rx.recv().await
            }
        };
        let Some(obs) = obs else { break };
        match delivery.post(obs).await {
            Ok(id) => {
                posted += 1;
                // The result of an observer run: the ids of its entries.
                println!("{id}");
            }
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    posted
}

// ---------------------------------------------------------------------------------------------
// Connecting

/// A client for an API served at `url` with no auth (the simulator, a `kubectl proxy`). Built
/// from the URL alone: observers never reach into the simulator's code.
pub async fn connect_url(url: &str) -> Result<Client, ObserveError> {
    let uri: hyper::Uri = url.parse().map_err(|e| ObserveError::Config {
        detail: format!("{url} is not a URL: {e}"),
    })?;
    Client::try_from(kube::Config::new(uri)).map_err(|e| ObserveError::Config {
        detail: e.to_string(),
    })
}

/// Fails with [`ObserveError::NoNamespace`] when `namespace` does not exist. A client that may
/// not read namespaces (403) gets the benefit of the doubt.
pub async fn check_namespace(client: &Client, namespace: &str) -> Result<(), ObserveError> {
    if namespace.is_empty() {
        return Ok(()); // every namespace (-A)
    }
    match Api::<Namespace>::all(client.clone())
        .get_opt(namespace)
        .await
    {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(ObserveError::NoNamespace {
            namespace: namespace.to_string(),
        }),
        Err(kube::Error::Api(status)) if status.code == 403 => Ok(()),
        Err(e) => Err(ObserveError::Api {
            what: format!("reading namespace \"{namespace}\""),
            detail: e.to_string(),
        }),
    }
}

/// Whether a kind is cluster-scoped (watched and reviewed without a namespace).
pub fn cluster_scoped(kind: &cluster::Kind) -> bool {
    kind.plural.starts_with("cluster")
}

/// A kind an observer watches, and the verbs it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access {
    pub kind: cluster::Kind,
    pub verb: &'static str,
}

/// Asks the API (SelfSubjectAccessReview) whether list and watch are allowed on each kind in
/// `namespace`; returns the denied ones. A review that cannot be made is reported as an error.
pub async fn access_check(
    client: &Client,
    namespace: &str,
    kinds: &[cluster::Kind],
) -> Result<Vec<Access>, ObserveError> {
    let api = Api::<SelfSubjectAccessReview>::all(client.clone());
    let mut denied = Vec::new();
    for kind in kinds {
        for verb in ["list", "watch"] {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(ResourceAttributes {
                        group: Some(kind.group.to_string()),
                        // Cluster-scoped kinds, and every namespace (-A), are asked about
                        // without a namespace.
                        namespace: (!cluster_scoped(kind) && !namespace.is_empty())
                            .then(|| namespace.to_string()),
                        resource: Some(kind.plural.to_string()),
                        verb: Some(verb.to_string()),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                ..Default::default()
            };
            let answer = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| ObserveError::Api {
                    what: format!("asking whether it may {verb} {}", kind.plural),
                    detail: e.to_string(),
                })?;
            let allowed = answer.status.as_ref().is_some_and(|s| s.allowed);
            if !allowed {
                denied.push(Access { kind: *kind, verb });
            }
        }
    }
    Ok(denied)
}

/// The alert for what an observer may not watch, naming the RBAC manifest to apply.
pub fn access_alert(role: &str, namespace: &str, denied: &[Access]) -> Option<Observation> {
    if denied.is_empty() {
        return None;
    }
    let mut body = if namespace.is_empty() {
        "**cannot watch everything it needs in every namespace**: the API denies\n\n".to_owned()
    } else {
        format!(
            "**cannot watch everything it needs in namespace `{namespace}`**: the API denies\n\n"
        )
    };
    for a in denied {
        let resource = if a.kind.group.is_empty() {
            a.kind.plural.to_string()
        } else {
            format!("{}.{}", a.kind.plural, a.kind.group)
        };
        body.push_str(&format!("- `{}` on `{resource}`\n", a.verb));
    }
    body.push_str(&format!(
        "\nWhat it cannot watch it cannot report: its silence about these is not evidence. \
         Apply `agents/rbac/{role}.yaml` (get/list/watch only) and restart it.\n"
    ));
    // Keyed by what is denied: a restart that is still denied the same does not say it twice.
    let digest = blake3::hash(body.as_bytes()).to_hex();
    let mut alert = Observation::alert(body);
    alert.key = Some(format!("access/{role}/{namespace}/{}", &digest[..16]));
    Some(alert)
}

// ---------------------------------------------------------------------------------------------
// Watching

/// One watcher event, tagged with the kind it is about.
#[derive(Debug)]
pub struct Update<T> {
    pub tag: T,
    pub event: watcher::Event<DynamicObject>,
}

/// What a watcher tells the health task.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The API could not be reached or failed (not a 410, not a 403).
    Lost { what: String, detail: String },
    /// The API forbids this (403): an access problem, reported once per kind.
    Forbidden { what: String, detail: String },
}

fn status_code(err: &watcher::Error) -> Option<u16> {
    match err {
        watcher::Error::WatchError(status) => Some(status.code),
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => Some(s.code),
        _ => None,
    }
}

/// What one watcher watches.
#[derive(Clone)]
pub struct WatchTarget {
    pub client: Client,
    pub namespace: String,
    pub kind: cluster::Kind,
    pub config: watcher::Config,
}

/// Watches `kind` in `namespace` until `cancel`, forwarding every event as an [`Update`] and
/// every error as a [`Signal`]. The stream never ends on an error (default backoff); a 410 is
/// kube-rs relisting and says nothing about the API's health.
pub async fn watch<T: Copy + Send + 'static>(
    target: WatchTarget,
    tag: T,
    updates: mpsc::Sender<Update<T>>,
    signals: mpsc::Sender<Signal>,
    cancel: CancellationToken,
) {
    let WatchTarget {
        client,
        namespace,
        kind,
        config,
    } = target;
    // No namespace: a cluster-scoped kind, or every namespace (-A).
    let api = if namespace.is_empty() {
        Api::all_with(client.clone(), &kind.api_resource())
    } else {
        kind.api(&client, &namespace)
    };
    let stream = watcher(api, config).default_backoff();
    futures::pin_mut!(stream);
    loop {
        let item = tokio::select! {
            () = cancel.cancelled() => return,
            item = stream.next() => item,
        };
        match item {
            None => return,
            Some(Ok(event)) => {
                if updates.send(Update { tag, event }).await.is_err() {
                    return;
                }
            }
            Some(Err(err)) => {
                let what = format!("watching {}", kind.plural);
                let signal = match status_code(&err) {
                    Some(410) => continue,
                    Some(403) => Signal::Forbidden {
                        what,
                        detail: err.to_string(),
                    },
                    _ => Signal::Lost {
                        what,
                        detail: err.to_string(),
                    },
                };
                let _ = signals.try_send(signal);
            }
        }
    }
}

/// A watcher config with an optional label selector and field selector.
pub fn watch_config(labels: Option<&str>, fields: Option<&str>) -> watcher::Config {
    let mut config = watcher::Config::default();
    if let Some(l) = labels.filter(|l| !l.is_empty()) {
        config = config.labels(l);
    }
    if let Some(f) = fields.filter(|f| !f.is_empty()) {
        config = config.fields(f);
    }
    config
}

/// One object's change, as seen by a [`Mirror`].
#[derive(Debug, Clone, PartialEq)]
pub struct Diff<T> {
    pub key: String,
    pub before: Option<T>,
    pub after: Option<T>,
}

/// The current objects of one kind, as slim values keyed by name. Applying watcher events
/// returns what changed; a resync (`Init..InitDone`) is compared with what was known, so only
/// real differences come out of it (never the whole list again).
#[derive(Debug, Clone)]
pub struct Mirror<T> {
    objects: BTreeMap<String, T>,
    /// Objects of a resync in progress; swapped in at `InitDone`.
    pending: Option<BTreeMap<String, T>>,
    /// True once the first `InitDone` arrived.
    synced: bool,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            pending: None,
            synced: false,
        }
    }
}

impl<T: Clone + PartialEq> Mirror<T> {
    /// Applies one watcher event; `project` turns an object into its key and slim value (None
    /// to ignore it). Returns the differences it makes, unchanged values left out.
    pub fn apply(
        &mut self,
        event: watcher::Event<DynamicObject>,
        project: impl Fn(DynamicObject) -> Option<(String, T)>,
    ) -> Vec<Diff<T>> {
        match event {
            watcher::Event::Init => {
                self.pending = Some(BTreeMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                if let Some((key, value)) = project(obj) {
                    self.pending
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key, value);
                }
                Vec::new()
            }
            watcher::Event::InitDone => {
                let fresh = self.pending.take().unwrap_or_default();
                let old = std::mem::replace(&mut self.objects, fresh);
                self.synced = true;
                let mut diffs = Vec::new();
                for (key, after) in &self.objects {
                    let before = old.get(key);
                    if before != Some(after) {
                        diffs.push(Diff {
                            key: key.clone(),
                            before: before.cloned(),
                            after: Some(after.clone()),
                        });
                    }
                }
                for (key, before) in old {
                    if !self.objects.contains_key(&key) {
                        diffs.push(Diff {
                            key,
                            before: Some(before),
                            after: None,
                        });
                    }
                }
                diffs
            }
            watcher::Event::Apply(obj) => {
                let Some((key, value)) = project(obj) else {
                    return Vec::new();
                };
                let before = self.objects.insert(key.clone(), value.clone());
                if before.as_ref() == Some(&value) {
                    return Vec::new();
                }
                vec![Diff {
                    key,
                    before,
                    after: Some(value),
                }]
            }
            watcher::Event::Delete(obj) => {
                let key = obj.metadata.name.clone().unwrap_or_default();
                match self.objects.remove(&key) {
                    Some(before) => vec![Diff {
                        key,
                        before: Some(before),
                        after: None,
                    }],
                    None => Vec::new(),
                }
            }
        }
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.objects.values()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.objects.iter()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

// ---------------------------------------------------------------------------------------------
// API health

/// Says once that the API is lost and once that it is back. Pure: the caller feeds errors,
/// probe successes and the current instant.
#[derive(Debug, Clone, Default)]
pub struct ApiHealth {
    /// Since when the API is lost, and the first error.
    lost: Option<(DateTime<Utc>, String)>,
    /// When it came back: errors shortly after are the watchers' retries catching up.
    back_at: Option<Instant>,
}

/// How long after "back" a stray error is taken for a retry in flight, not a new outage.
pub const BACK_GRACE: Duration = Duration::from_secs(2);

impl ApiHealth {
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// An error from a watcher at `now` (wall instant) and `at` (for the message). Returns
    /// the alert when this starts an outage.
    pub fn error(
        &mut self,
        what: &str,
        detail: &str,
        now: Instant,
        at: DateTime<Utc>,
    ) -> Option<Observation> {
        if self.lost.is_some() || self.back_at.is_some_and(|b| now - b < BACK_GRACE) {
            return None;
        }
        self.lost = Some((at, format!("{what}: {detail}")));
        Some(Observation::alert(format!(
            "**lost the Kubernetes API** at {}: {what} failed ({detail}). Nothing this observer \
             does not see can be reported until it is back; it keeps retrying.",
            at.format("%H:%M:%SZ")
        )))
    }

    /// The API answered again. Returns the observation when this ends an outage.
    pub fn back(&mut self, now: Instant, at: DateTime<Utc>) -> Option<Observation> {
        let (since, _) = self.lost.take()?;
        self.back_at = Some(now);
        let gap = (at - since).max(TimeDelta::zero());
        Some(Observation::report(format!(
            "**Kubernetes API is back** at {} after {}; watches resume (objects are resynced, \
             only real changes are reported).",
            at.format("%H:%M:%SZ"),
            crate::rollout::view::human_duration(gap)
        )))
    }
}

/// Runs the health side of an observer: turns watcher [`Signal`]s into at most one lost/back
/// pair per outage (probing `/version` every `probe` while lost) and one access alert per
/// forbidden kind.
pub async fn health(
    client: Client,
    role: &'static str,
    mut signals: mpsc::Receiver<Signal>,
    out: mpsc::Sender<Observation>,
    probe: Duration,
    cancel: CancellationToken,
) {
    let mut state = ApiHealth::default();
    let mut forbidden: Vec<String> = Vec::new();
    // The outage alert's key: its resolution ("back") refs it.
    let mut lost_key: Option<String> = None;
    let mut ticker = tokio::time::interval(probe);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            signal = signals.recv() => {
                let Some(signal) = signal else { return };
                let obs = match signal {
                    Signal::Lost { what, detail } => {
                        let at = Utc::now();
                        state.error(&what, &detail, Instant::now(), at).map(|mut obs| {
                            let key = format!("api/{role}/lost@{}", at.timestamp_millis());
                            obs.key = Some(key.clone());
                            lost_key = Some(key);
                            obs
                        })
                    }
                    Signal::Forbidden { what, detail } => {
                        if forbidden.contains(&what) {
                            None
                        } else {
                            forbidden.push(what.clone());
                            Some(Observation::alert(format!(
                                "**forbidden**: {what} is denied ({detail}). Apply \
                                 `agents/rbac/{role}.yaml` (get/list/watch only)."
                            )))
                        }
                    }
                };
                if let Some(obs) = obs {
                    let _ = out.send(obs).await;
                }
            }
            _ = ticker.tick(), if state.is_lost() => {
                if client.apiserver_version().await.is_ok()
                    && let Some(mut obs) = state.back(Instant::now(), Utc::now())
                {
                    // "Back" is the outage alert's resolution.
                    if let Some(key) = lost_key.take() {
                        obs.kind = Kind::Resolved;
                        obs.key = Some(format!("{key}/back"));
                        obs.refs = vec![Ref::Key(key)];
                    }
                    let _ = out.send(obs).await;
                }
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A markdown table cell: pipes and newlines would break the row.
pub fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

#[cfg(test)]
mod tests;
