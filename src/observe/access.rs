//! Connecting to the Kubernetes API and asking what an observer may watch: a client for a
//! bare URL, the namespace check, SelfSubjectAccessReviews per kind and verb, and the alert
//! naming the RBAC manifest for what is denied.
//!
//! It must not watch (see `watching`) and must not reach into the simulator: a URL is all it
//! knows of one.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, PostParams};

use super::{Observation, ObserveError};
use crate::rollout::cluster;

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
