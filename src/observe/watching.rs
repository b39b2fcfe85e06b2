//! Watching one kind: a kube-rs `watcher(...).default_backoff()` task per kind that forwards
//! events as [`Update`]s and errors as [`Signal`]s (a 410 Gone is a relist, not an outage;
//! a 403 is an access problem), and the watcher config for label and field selectors.
//!
//! It must not interpret objects (the [`super::Mirror`] and the observers do) nor judge the
//! API's health (see `api_health`): it only reports what the stream says.

use futures::StreamExt;
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::rollout::cluster;

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
