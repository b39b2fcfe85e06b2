//! Reads one rollout's objects from a live cluster with kube-rs, through a client the caller
//! built (the command line builds it from the kubeconfig as kubectl does, in
//! `cli::kubeconfig`: one loader for every command). The reading I/O of this module tree
//! besides [`super::load`] (the writes are [`super::actions`]'); everything it returns is a
//! plain [`Snapshot`] (or JSON) for the pure view and detectors.

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::de::DeserializeOwned;

use super::RolloutError;
use super::model::{Rollout, Snapshot};

/// A kind we read, by group, version, kind and plural: what an `Api<DynamicObject>` needs.
/// Observers can watch these with the slim [`super::model`] types via [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

const fn kind(
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    plural: &'static str,
) -> Kind {
    Kind {
        group,
        version,
        kind,
        plural,
    }
}

pub const ROLLOUTS: Kind = kind("argoproj.io", "v1alpha1", "Rollout", "rollouts");
pub const EXPERIMENTS: Kind = kind("argoproj.io", "v1alpha1", "Experiment", "experiments");
pub const ANALYSIS_RUNS: Kind = kind("argoproj.io", "v1alpha1", "AnalysisRun", "analysisruns");
pub const ANALYSIS_TEMPLATES: Kind = kind(
    "argoproj.io",
    "v1alpha1",
    "AnalysisTemplate",
    "analysistemplates",
);
pub const REPLICA_SETS: Kind = kind("apps", "v1", "ReplicaSet", "replicasets");
pub const DEPLOYMENTS: Kind = kind("apps", "v1", "Deployment", "deployments");
pub const PODS: Kind = kind("", "v1", "Pod", "pods");
pub const SERVICES: Kind = kind("", "v1", "Service", "services");
pub const EVENTS: Kind = kind("", "v1", "Event", "events");

impl Kind {
    pub fn api_resource(&self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(self.group, self.version, self.kind);
        ApiResource::from_gvk_with_plural(&gvk, self.plural)
    }

    pub fn api(&self, client: &Client, namespace: &str) -> Api<DynamicObject> {
        Api::namespaced_with(client.clone(), namespace, &self.api_resource())
    }

    /// The kubectl command line that does the same read, for error hints.
    fn kubectl(&self, verb: &str, namespace: &str) -> String {
        let resource = if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        };
        format!("{verb} {resource} -n {namespace}")
    }
}

/// The objects of `kind` in `namespace` (every namespace when `None`) matching
/// `label_selector`, as JSON: for code that needs fields the slim model types drop (undo's pod
/// templates, `list`'s whole Rollouts).
pub async fn list_values(
    client: &Client,
    namespace: &str,
    kind: &Kind,
    label_selector: &str,
) -> Result<Vec<serde_json::Value>, RolloutError> {
    list_values_in(client, Some(namespace), kind, label_selector).await
}

/// [`list_values`] in one namespace or, with `None`, in all of them.
pub async fn list_values_in(
    client: &Client,
    namespace: Option<&str>,
    kind: &Kind,
    label_selector: &str,
) -> Result<Vec<serde_json::Value>, RolloutError> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => kind.api(client, ns),
        None => Api::all_with(client.clone(), &kind.api_resource()),
    };
    let params = ListParams::default().labels(label_selector);
    let list = api
        .list(&params)
        .await
        .map_err(|source| RolloutError::Api {
            what: format!(
                "listing {} in {}",
                kind.plural,
                namespace.map_or("all namespaces".to_string(), |ns| format!(
                    "namespace \"{ns}\""
                ))
            ),
            kubectl: match namespace {
                Some(ns) => kind.kubectl("get", ns),
                None => format!("get {}.{} -A", kind.plural, kind.group),
            },
            detail: source.to_string(),
        })?;
    Ok(list
        .items
        .iter()
        .map(|o| serde_json::to_value(o).unwrap_or(serde_json::Value::Null))
        .collect())
}

/// Converts an object read as `DynamicObject` into one of the slim [`super::model`] types.
pub fn decode<T: DeserializeOwned>(
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
                what: format!("listing {} in namespace \"{namespace}\"", kind.plural),
                kubectl: kind.kubectl("get", namespace),
                detail: source.to_string(),
            });
        }
    };
    objects
        .items
        .into_iter()
        .map(|o| decode(kind.kind, o))
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

/// Everything the detectors read in a namespace: Rollouts, ReplicaSets, Pods, Deployments,
/// Experiments, AnalysisRuns, AnalysisTemplates, Services and Events.
pub async fn fetch_namespace(client: &Client, namespace: &str) -> Result<Snapshot, RolloutError> {
    let (rollouts, replica_sets, pods, deployments, experiments) = futures::try_join!(
        list_optional(client, namespace, &ROLLOUTS),
        list(client, namespace, &REPLICA_SETS),
        list(client, namespace, &PODS),
        list(client, namespace, &DEPLOYMENTS),
        list_optional(client, namespace, &EXPERIMENTS),
    )?;
    let (analysis_runs, analysis_templates, services, events) = futures::try_join!(
        list_optional(client, namespace, &ANALYSIS_RUNS),
        list_optional(client, namespace, &ANALYSIS_TEMPLATES),
        list(client, namespace, &SERVICES),
        list(client, namespace, &EVENTS),
    )?;
    Ok(Snapshot {
        rollouts,
        replica_sets,
        pods,
        deployments,
        experiments,
        analysis_runs,
        analysis_templates,
        services,
        events,
    })
}
