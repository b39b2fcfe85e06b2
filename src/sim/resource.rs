//! The catalog of resources the simulator serves and the discovery documents built from it.
//!
//! Owns which group/version/plural maps to which kind, whether it is namespaced, and how
//! discovery (legacy and aggregated v2) describes it. It must not hold objects: that is
//! [`super::store`].

use serde_json::{Value, json};

/// One resource type served by the simulator.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    /// API group; empty for the core group.
    pub group: &'static str,
    /// The served (and stored) version.
    pub version: &'static str,
    /// Plural name, as it appears in URL paths.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// The verbs discovery advertises; `create` only for access reviews.
    pub verbs: &'static [&'static str],
    /// Whether writes to `status` go through the `/status` subresource (and writes to the
    /// object itself leave `status` alone), as the real server does for built-in kinds with a
    /// status and for CRDs that declare `subresources.status`.
    pub status: bool,
    /// Other versions of the same group whose objects have the same schema: a scenario or a
    /// client may use them, and the object is stored under [`Resource::version`].
    pub aliases: &'static [&'static str],
    /// Discovery categories (`kubectl get all`, `kubectl get istio-io`).
    pub categories: &'static [&'static str],
}

const ALL: &[&str] = &["all"];

/// What a stored kind supports: reads, watches and the writes kubectl and the Argo plugin make.
const RW: &[&str] = &[
    "create", "delete", "get", "list", "patch", "update", "watch",
];

/// Index into [`RESOURCES`]; cheap to copy and compare.
pub type ResourceId = usize;

/// A stored resource with the common defaults (no aliases, no categories).
#[allow(clippy::too_many_arguments)]
const fn stored(
    group: &'static str,
    version: &'static str,
    plural: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    short_names: &'static [&'static str],
    status: bool,
) -> Resource {
    Resource {
        group,
        version,
        plural,
        singular,
        kind,
        namespaced,
        short_names,
        verbs: RW,
        status,
        aliases: &[],
        categories: &[],
    }
}

const fn in_all(r: Resource) -> Resource {
    Resource {
        categories: ALL,
        ..r
    }
}

/// Every resource the simulator serves. Access reviews are listed so discovery advertises
/// them, but they hold no objects. Scopes, short names, categories and status subresources are
/// those of the real API server and of the projects' CRDs (Argo Rollouts, Gateway API, Istio).
pub const RESOURCES: &[Resource] = &[
    stored(
        "",
        "v1",
        "namespaces",
        "namespace",
        "Namespace",
        false,
        &["ns"],
        true,
    ),
    in_all(stored("", "v1", "pods", "pod", "Pod", true, &["po"], true)),
    in_all(stored(
        "",
        "v1",
        "services",
        "service",
        "Service",
        true,
        &["svc"],
        true,
    )),
    stored("", "v1", "events", "event", "Event", true, &["ev"], false),
    stored(
        "",
        "v1",
        "endpoints",
        "endpoints",
        "Endpoints",
        true,
        &["ep"],
        false,
    ),
    stored(
        "",
        "v1",
        "configmaps",
        "configmap",
        "ConfigMap",
        true,
        &["cm"],
        false,
    ),
    stored("", "v1", "nodes", "node", "Node", false, &["no"], true),
    in_all(stored(
        "apps",
        "v1",
        "deployments",
        "deployment",
        "Deployment",
        true,
        &["deploy"],
        true,
    )),
    in_all(stored(
        "apps",
        "v1",
        "replicasets",
        "replicaset",
        "ReplicaSet",
        true,
        &["rs"],
        true,
    )),
    in_all(stored("batch", "v1", "jobs", "job", "Job", true, &[], true)),
    in_all(stored(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        true,
    )),
    stored(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "endpointslice",
        "EndpointSlice",
        true,
        &[],
        false,
    ),
    stored(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "ingress",
        "Ingress",
        true,
        &["ing"],
        true,
    ),
    in_all(stored(
        "argoproj.io",
        "v1alpha1",
        "rollouts",
        "rollout",
        "Rollout",
        true,
        &["ro"],
        true,
    )),
    stored(
        "argoproj.io",
        "v1alpha1",
        "analysisruns",
        "analysisrun",
        "AnalysisRun",
        true,
        &["ar"],
        false,
    ),
    stored(
        "argoproj.io",
        "v1alpha1",
        "analysistemplates",
        "analysistemplate",
        "AnalysisTemplate",
        true,
        &["at"],
        false,
    ),
    stored(
        "argoproj.io",
        "v1alpha1",
        "clusteranalysistemplates",
        "clusteranalysistemplate",
        "ClusterAnalysisTemplate",
        false,
        &["cat"],
        false,
    ),
    stored(
        "argoproj.io",
        "v1alpha1",
        "experiments",
        "experiment",
        "Experiment",
        true,
        &["exp"],
        false,
    ),
    Resource {
        aliases: &["v1beta1"],
        categories: &["gateway-api"],
        ..stored(
            "gateway.networking.k8s.io",
            "v1",
            "httproutes",
            "httproute",
            "HTTPRoute",
            true,
            &[],
            true,
        )
    },
    // Argo Rollouts reads VirtualServices as v1alpha3 by default; Istio serves the same schema
    // as v1beta1 and v1 too.
    Resource {
        aliases: &["v1beta1", "v1"],
        categories: &["istio-io", "networking-istio-io"],
        ..stored(
            "networking.istio.io",
            "v1alpha3",
            "virtualservices",
            "virtualservice",
            "VirtualService",
            true,
            &["vs"],
            true,
        )
    },
    Resource {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
        short_names: &[],
        verbs: &["create"],
        status: false,
        aliases: &[],
        categories: &[],
    },
];

impl Resource {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn categories(&self) -> &'static [&'static str] {
        self.categories
    }

    /// Whether `version` names this resource (its served version or an alias).
    pub fn has_version(&self, version: &str) -> bool {
        self.version == version || self.aliases.contains(&version)
    }

    /// Whether `api_version` (`v1`, `group/version`) names this resource.
    pub fn has_api_version(&self, api_version: &str) -> bool {
        match api_version.split_once('/') {
            Some((group, version)) => self.group == group && self.has_version(version),
            None => self.group.is_empty() && self.has_version(api_version),
        }
    }

    /// Whether the resource stores objects (access reviews don't).
    pub fn is_stored(&self) -> bool {
        self.verbs.contains(&"list")
    }
}

/// The resource served at `group/version/plural`.
pub fn by_path(group: &str, version: &str, plural: &str) -> Option<ResourceId> {
    RESOURCES
        .iter()
        .position(|r| r.group == group && r.has_version(version) && r.plural == plural)
}

/// The stored resource for an object's `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<ResourceId> {
    RESOURCES
        .iter()
        .position(|r| r.is_stored() && r.kind == kind && r.has_api_version(api_version))
}

/// The kinds a scenario may use, for error messages.
pub fn known_kinds() -> String {
    RESOURCES
        .iter()
        .filter(|r| r.is_stored())
        .map(|r| format!("{} {}", r.api_version(), r.kind))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Groups other than core, in catalog order, without duplicates.
fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        if !out.contains(&(r.group, r.version)) {
            out.push((r.group, r.version));
        }
    }
    out
}

fn legacy_resource(r: &Resource) -> Value {
    json!({
        "name": r.plural,
        "singularName": r.singular,
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": r.verbs,
        "shortNames": r.short_names,
        "categories": r.categories(),
    })
}

/// `GET /api` in the legacy form.
pub fn legacy_core_versions(server: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
    })
}

/// `GET /apis` in the legacy form.
pub fn legacy_group_list() -> Value {
    let groups: Vec<Value> = groups()
        .into_iter()
        .map(|(g, v)| {
            let gv = json!({"groupVersion": format!("{g}/{v}"), "version": v});
            json!({"name": g, "versions": [gv.clone()], "preferredVersion": gv})
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /api/v1` or `GET /apis/{group}/{version}`; `None` for an unknown group version.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .flat_map(|r| {
            let status = r.status.then(|| {
                json!({
                    "name": format!("{}/status", r.plural),
                    "singularName": "",
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["get", "patch", "update"],
                })
            });
            std::iter::once(legacy_resource(r)).chain(status)
        })
        .collect();
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }))
}

/// The content type of an aggregated discovery answer (kubectl checks it to pick the parser).
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// `GET /api` (core) or `GET /apis` (named groups) in the aggregated v2 form.
pub fn aggregated(core: bool) -> Value {
    let group_names: Vec<(&str, &str)> = if core { vec![("", "v1")] } else { groups() };
    let items: Vec<Value> = group_names
        .into_iter()
        .map(|(g, v)| {
            let resources: Vec<Value> = RESOURCES
                .iter()
                .filter(|r| r.group == g && r.version == v)
                .map(|r| {
                    json!({
                        "resource": r.plural,
                        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                        "shortNames": r.short_names,
                        "categories": r.categories(),
                        "subresources": if r.status {
                            json!([{
                                "subresource": "status",
                                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                                "verbs": ["get", "patch", "update"],
                            }])
                        } else {
                            json!([])
                        },
                    })
                })
                .collect();
            json!({
                "metadata": {"name": g},
                "versions": [{"version": v, "resources": resources, "freshness": "Current"}],
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_agree() {
        let id = by_path("argoproj.io", "v1alpha1", "rollouts").unwrap();
        assert_eq!(by_kind("argoproj.io/v1alpha1", "Rollout"), Some(id));
        assert_eq!(by_kind("v1", "Pod"), by_path("", "v1", "pods"));
        assert_eq!(by_kind("apps/v1", "Pod"), None);
        assert_eq!(
            by_kind("authorization.k8s.io/v1", "SelfSubjectAccessReview"),
            None
        );
    }

    #[test]
    fn aliases_resolve_to_the_served_version() {
        let vs = by_kind("networking.istio.io/v1alpha3", "VirtualService").unwrap();
        assert_eq!(
            by_kind("networking.istio.io/v1beta1", "VirtualService"),
            Some(vs)
        );
        assert_eq!(
            by_path("networking.istio.io", "v1", "virtualservices"),
            Some(vs)
        );
        assert_eq!(by_kind("networking.istio.io/v2", "VirtualService"), None);
        let cat = by_kind("argoproj.io/v1alpha1", "ClusterAnalysisTemplate").unwrap();
        assert!(!RESOURCES[cat].namespaced);
    }

    #[test]
    fn status_subresources_are_advertised() {
        let list = resource_list("argoproj.io", "v1alpha1").unwrap();
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"rollouts/status"), "{names:?}");
        assert!(!names.contains(&"analysisruns/status"), "{names:?}");
    }

    #[test]
    fn discovery_lists_every_group() {
        let list = legacy_group_list();
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "apps",
                "batch",
                "autoscaling",
                "discovery.k8s.io",
                "networking.k8s.io",
                "argoproj.io",
                "gateway.networking.k8s.io",
                "networking.istio.io",
                "authorization.k8s.io"
            ]
        );
        assert!(resource_list("apps", "v2").is_none());
        assert_eq!(
            aggregated(true)["items"][0]["versions"][0]["resources"][0]["resource"],
            "namespaces"
        );
    }
}
