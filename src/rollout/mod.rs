//! Argo Rollouts: tolerant serde types ([`model`]), loading manifests from a directory
//! ([`load`]) or a cluster ([`cluster`]), the `get rollout` / `status` view ([`view`]), the
//! failure detectors ([`detect`]) and the operator's actions as the kubectl plugin sends them
//! ([`actions`]).
//!
//! Everything but [`load`] and [`cluster`] is pure: plain functions over a [`Snapshot`] and a
//! `now` the caller supplies (the cluster's clock, from object and Event timestamps), so the
//! pipeline observer, the CLI and the tests share one derivation. Only [`actions`] writes to a
//! cluster, and only when an operator asks; nothing here posts to a channel.
//!
//! # For observers
//! - [`view::rollout_view`] + [`view::render_rollout`]: the snapshot text to post.
//! - [`view::status_and_message`]: the phase/message transitions to post.
//! - [`detect`]: each detector returns [`detect::Finding`]s with their evidence;
//!   [`detect::SpecObservationTracker`] remembers since when a spec has been unobserved.

pub mod actions;
pub mod cluster;
pub mod detect;
pub mod load;
pub mod model;
pub mod view;

use std::path::PathBuf;

pub use model::Snapshot;

/// What can go wrong reading rollouts, with the context needed to fix it.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// A manifest file or directory can't be read.
    #[error("cannot read {path}; check the path given to --from-dir")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A manifest document is not valid YAML or a field has the wrong shape.
    #[error("{path}: document {document}: {detail}; fix the manifest or remove the file")]
    Malformed {
        path: PathBuf,
        document: usize,
        detail: String,
    },
    /// No such object (the wording of the kubectl plugin's error, plus where we looked).
    #[error("{kind} \"{name}\" not found{location}; check the name and namespace (-n)")]
    NotFound {
        kind: &'static str,
        name: String,
        /// " in namespace \"x\"" and/or " in DIR", already formatted.
        location: String,
    },
    /// The same name exists in several namespaces of a `--from-dir` snapshot.
    #[error("{kind} \"{name}\" exists in namespaces {namespaces}; pick one with -n NAMESPACE")]
    Ambiguous {
        kind: &'static str,
        name: String,
        namespaces: String,
    },
    /// The API server could not be reached or refused a request.
    #[error(
        "Kubernetes API request failed while {what}: {detail}; check that `kubectl {kubectl}` works with the same kubeconfig"
    )]
    Api {
        what: String,
        kubectl: String,
        detail: String,
    },
    /// An object from the API did not have the shape we expect.
    #[error("{kind} \"{name}\" from the API could not be read: {detail}")]
    Decode {
        kind: &'static str,
        name: String,
        detail: String,
    },
}

impl RolloutError {
    /// The CLI exit status: 2 for bad input (a wrong name, a malformed file), 3 for I/O and
    /// environment (unreadable files, no kubeconfig, unreachable API).
    pub fn exit_code(&self) -> u8 {
        match self {
            RolloutError::Malformed { .. }
            | RolloutError::NotFound { .. }
            | RolloutError::Ambiguous { .. }
            | RolloutError::Decode { .. } => 2,
            RolloutError::Read { .. } | RolloutError::Api { .. } => 3,
        }
    }
}

/// Picks one object by name (and namespace when given) from a snapshot's list.
pub fn find_by_name<'a, T>(
    objects: &'a [T],
    meta: impl Fn(&T) -> &model::ObjectMeta,
    kind: &'static str,
    name: &str,
    namespace: Option<&str>,
    location: &str,
) -> Result<&'a T, RolloutError> {
    let matches: Vec<&T> = objects
        .iter()
        .filter(|o| meta(o).name == name && namespace.is_none_or(|ns| meta(o).namespace == ns))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(RolloutError::NotFound {
            kind,
            name: name.to_string(),
            location: match namespace {
                Some(ns) => format!(" in namespace \"{ns}\"{location}"),
                None => location.to_string(),
            },
        }),
        many => {
            let namespaces: Vec<String> = many.iter().map(|o| meta(o).namespace.clone()).collect();
            Err(RolloutError::Ambiguous {
                kind,
                name: name.to_string(),
                namespaces: namespaces.join(", "),
            })
        }
    }
}
