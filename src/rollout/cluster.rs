//! Reads one rollout's objects from a live cluster with kube-rs, like kubectl does (kubeconfig
//! or in-cluster config). The only I/O in this module tree besides [`super::load`]; everything
//! it returns is a plain [`Snapshot`] for the pure view and detectors.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::de::DeserializeOwned;

use super::RolloutError;
use super::model::{Rollout, Snapshot};

/// A kind we list: group, version, kind, plural.
struct Kind(&'static str, &'static str, &'static str, &'static str);

const ROLLOUTS: Kind = Kind("argoproj.io", "v1alpha1", "Rollout", "rollouts");
const REPLICA_SETS: Kind = Kind("apps", "v1", "ReplicaSet", "replicasets");
const PODS: Kind = Kind("", "v1", "Pod", "pods");
const EXPERIMENTS: Kind = Kind("argoproj.io", "v1alpha1", "Experiment", "experiments");
const ANALYSIS_RUNS: Kind = Kind("argoproj.io", "v1alpha1", "AnalysisRun", "analysisruns");

impl Kind {
    fn api(&self, client: &Client, namespace: &str) -> Api<DynamicObject> {
        let gvk = GroupVersionKind::gvk(self.0, self.1, self.2);
        let resource = ApiResource::from_gvk_with_plural(&gvk, self.3);
        Api::namespaced_with(client.clone(), namespace, &resource)
    }

    fn kubectl(&self, verb: &str, namespace: &str) -> String {
        let resource = if self.0.is_empty() {
            self.3.to_string()
        } else {
            format!("{}.{}", self.3, self.0)
        };
        format!("{verb} {resource} -n {namespace}")
    }
}

/// Connects with the user's kubeconfig or the in-cluster config; returns the client and the
/// namespace to use (`namespace`, else the context's default).
pub async fn connect(namespace: Option<&str>) -> Result<(Client, String), RolloutError> {
    let client = Client::try_default()
        .await
        .map_err(|e| RolloutError::Config {
            detail: e.to_string(),
        })?;
    let ns = namespace.map_or_else(|| client.default_namespace().to_string(), str::to_string);
    Ok((client, ns))
}

fn decode<T: DeserializeOwned>(
    kind: &'static str,
    object: DynamicObject,
) -> Result<T, RolloutError> {
    let name = object.metadata.name.clone().unwrap_or_default();
    serde_json::to_value(&object)
        .and_then(serde_json::from_value)
        .map_err(|e| RolloutError::Decode {
            kind,
            name,
            detail: e.to_string(),
        })
}

async fn list<T: DeserializeOwned>(
    client: &Client,
    namespace: &str,
    kind: &Kind,
) -> Result<Vec<T>, RolloutError> {
    list_kind(client, namespace, kind, false).await
}

/// Like [`list`], but a kind the server doesn't serve (its CRD is not installed) is empty.
async fn list_optional<T: DeserializeOwned>(
    client: &Client,
    namespace: &str,
    kind: &Kind,
) -> Result<Vec<T>, RolloutError> {
    list_kind(client, namespace, kind, true).await
}

async fn list_kind<T: DeserializeOwned>(
    client: &Client,
    namespace: &str,
    kind: &Kind,
    optional: bool,
) -> Result<Vec<T>, RolloutError> {
    let objects = match kind
        .api(client, namespace)
        .list(&ListParams::default())
        .await
    {
        Ok(objects) => objects,
        Err(kube::Error::Api(status)) if optional && status.is_not_found() => return Ok(Vec::new()),
        Err(source) => {
            return Err(RolloutError::Api {
                what: format!("listing {} in namespace \"{namespace}\"", kind.3),
                kubectl: kind.kubectl("get", namespace),
                detail: source.to_string(),
            });
        }
    };
    objects
        .items
        .into_iter()
        .map(|o| decode(kind.2, o))
        .collect()
}

/// Gets rollout `name`; a missing rollout is [`RolloutError::NotFound`]. Enough for `status`.
pub async fn get_rollout(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Rollout, RolloutError> {
    let rollout = ROLLOUTS
        .api(client, namespace)
        .get_opt(name)
        .await
        .map_err(|source| RolloutError::Api {
            what: format!("getting rollout \"{name}\" in namespace \"{namespace}\""),
            kubectl: ROLLOUTS.kubectl("get", namespace),
            detail: source.to_string(),
        })?
        .ok_or_else(|| RolloutError::NotFound {
            kind: "rollout.argoproj.io",
            name: name.to_string(),
            location: format!(" in namespace \"{namespace}\""),
        })?;
    decode("Rollout", rollout)
}

/// Fetches rollout `name` and the ReplicaSets, Pods, Experiments and AnalysisRuns of its
/// namespace: what `get rollout` shows.
pub async fn fetch_rollout(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Snapshot, RolloutError> {
    let rollout = get_rollout(client, namespace, name).await?;
    // Listed concurrently: one round trip of latency instead of four.
    let (replica_sets, pods, experiments, analysis_runs) = futures::try_join!(
        list(client, namespace, &REPLICA_SETS),
        list(client, namespace, &PODS),
        list_optional(client, namespace, &EXPERIMENTS),
        list_optional(client, namespace, &ANALYSIS_RUNS),
    )?;
    Ok(Snapshot {
        rollouts: vec![rollout],
        replica_sets,
        pods,
        experiments,
        analysis_runs,
        ..Snapshot::default()
    })
}

/// Fetches experiment `name` and the ReplicaSets, Pods and AnalysisRuns of its namespace.
pub async fn fetch_experiment(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Snapshot, RolloutError> {
    let experiment = EXPERIMENTS
        .api(client, namespace)
        .get_opt(name)
        .await
        .map_err(|source| RolloutError::Api {
            what: format!("getting experiment \"{name}\" in namespace \"{namespace}\""),
            kubectl: EXPERIMENTS.kubectl("get", namespace),
            detail: source.to_string(),
        })?
        .ok_or_else(|| RolloutError::NotFound {
            kind: "experiment.argoproj.io",
            name: name.to_string(),
            location: format!(" in namespace \"{namespace}\""),
        })?;
    let experiment = decode("Experiment", experiment)?;
    let (replica_sets, pods, analysis_runs) = futures::try_join!(
        list(client, namespace, &REPLICA_SETS),
        list(client, namespace, &PODS),
        list_optional(client, namespace, &ANALYSIS_RUNS),
    )?;
    Ok(Snapshot {
        experiments: vec![experiment],
        replica_sets,
        pods,
        analysis_runs,
        ..Snapshot::default()
    })
}
