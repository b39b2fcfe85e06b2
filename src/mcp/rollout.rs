//! `rollout_get`: the `warroom rollout get` view of one Rollout, from a cluster or from a
//! directory of manifests — the same reads ([`crate::rollout::cluster`], [`crate::rollout::load`])
//! and the same pure view ([`crate::rollout::view`]). Read only: nothing here acts on a cluster.

use std::path::PathBuf;

use chrono::Utc;

use crate::observe::clock::ClusterClock;
use crate::rollout::view::{self, Colour, RolloutView};
use crate::rollout::{RolloutError, cluster, find_by_name, load};

/// Where `rollout_get` reads Rollouts from (chosen when the server starts).
#[derive(Clone)]
pub enum RolloutSource {
    /// Manifests (*.yaml, *.yml, *.json) in a directory, read on every call.
    Dir(PathBuf),
    /// A cluster; `namespace` is the default for calls that name none.
    Cluster {
        client: kube::Client,
        namespace: String,
    },
}

impl std::fmt::Debug for RolloutSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RolloutSource::Dir(d) => write!(f, "Dir({})", d.display()),
            RolloutSource::Cluster { namespace, .. } => write!(f, "Cluster({namespace})"),
        }
    }
}

impl RolloutSource {
    /// The view of Rollout `name` (in `namespace`, else the default one) and its text.
    pub async fn get(
        &self,
        name: &str,
        namespace: Option<&str>,
    ) -> Result<(RolloutView, String), RolloutError> {
        let (snapshot, ns, location, now) = match self {
            RolloutSource::Dir(dir) => {
                let dir = dir.clone();
                let location = format!(" in {}", dir.display());
                let path = dir.clone();
                let snapshot = tokio::task::spawn_blocking(move || load::load_dir(&dir))
                    .await
                    .map_err(|_| RolloutError::Read {
                        path,
                        source: std::io::Error::other("the reading task failed"),
                    })??;
                (snapshot, namespace.map(str::to_owned), location, Utc::now())
            }
            RolloutSource::Cluster {
                client,
                namespace: default,
            } => {
                let ns = namespace.unwrap_or(default).to_owned();
                let snapshot = cluster::fetch_rollout(client, &ns, name).await?;
                let now = ClusterClock::now_for_view(client).await;
                (snapshot, Some(ns), String::new(), now)
            }
        };
        let ro = find_by_name(
            &snapshot.rollouts,
            |o| &o.metadata,
            "rollout.argoproj.io",
            name,
            ns.as_deref(),
            &location,
        )?;
        let v = view::rollout_view(&snapshot, ro, now);
        let text = view::render_rollout(&v, Colour::Never);
        Ok((v, text))
    }
}
