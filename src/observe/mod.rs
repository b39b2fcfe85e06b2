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

mod access;
mod api_health;
pub mod clock;
pub mod data_plane;
mod delivery;
pub mod lifecycle;
mod mirror;
pub mod pipeline;
pub mod report;
pub mod state;
pub mod traffic;
mod watching;

pub use access::{
    Access, access_alert, access_check, check_namespace, cluster_scoped, connect_url,
};
pub use api_health::{ApiHealth, BACK_GRACE, health};
pub use clock::{ClusterClock, ClusterTime};
pub use delivery::{Delivery, Poster, deliver};
pub use mirror::{Diff, Mirror};
pub use watching::{Signal, Update, WatchTarget, watch, watch_config};

use crate::channel::Kind;

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
