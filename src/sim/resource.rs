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
    pub version: &'static str,
    /// Plural name, as it appears in URL paths.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    /// The verbs discovery advertises; `create` only for access reviews.
    pub verbs: &'static [&'static str],
}

/// Kinds in the `all` category (`kubectl get all`), as the real server and the Argo CRDs
/// declare them.
const ALL: &[&str] = &[
    "Pod",
    "Service",
    "Deployment",
    "ReplicaSet",
    "Job",
    "Rollout",
];

const READ: &[&str] = &["get", "list", "watch"];

/// Index into [`RESOURCES`]; cheap to copy and compare.
pub type ResourceId = usize;

/// Every resource the simulator serves. Access reviews are listed so discovery advertises
/// them, but they hold no objects.
pub const RESOURCES: &[Resource] = &[
    Resource {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: READ,
    },
    Resource {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        verbs: READ,
    },
    Resource {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        verbs: READ,
    },
    Resource {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        verbs: READ,
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        verbs: READ,
    },
    Resource {
        group: "apps",
        version: "v1",
        plural: "replicasets",
        singular: "replicaset",
        kind: "ReplicaSet",
        namespaced: true,
        short_names: &["rs"],
        verbs: READ,
    },
    Resource {
        group: "batch",
        version: "v1",
        plural: "jobs",
        singular: "job",
        kind: "Job",
        namespaced: true,
        short_names: &[],
        verbs: READ,
    },
    Resource {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "rollouts",
        singular: "rollout",
        kind: "Rollout",
        namespaced: true,
        short_names: &["ro"],
        verbs: READ,
    },
    Resource {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "analysisruns",
        singular: "analysisrun",
        kind: "AnalysisRun",
        namespaced: true,
        short_names: &["ar"],
        verbs: READ,
    },
    Resource {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "analysistemplates",
        singular: "analysistemplate",
        kind: "AnalysisTemplate",
        namespaced: true,
        short_names: &["at"],
        verbs: READ,
    },
    Resource {
        group: "argoproj.io",
        version: "v1alpha1",
        plural: "experiments",
        singular: "experiment",
        kind: "Experiment",
        namespaced: true,
        short_names: &["exp"],
        verbs: READ,
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
        if ALL.contains(&self.kind) {
            &["all"]
        } else {
            &[]
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
        .position(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The stored resource for an object's `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<ResourceId> {
    RESOURCES
        .iter()
        .position(|r| r.is_stored() && r.kind == kind && r.api_version() == api_version)
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
        .map(legacy_resource)
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
            ["apps", "batch", "argoproj.io", "authorization.k8s.io"]
        );
        assert!(resource_list("apps", "v2").is_none());
        assert_eq!(
            aggregated(true)["items"][0]["versions"][0]["resources"][0]["resource"],
            "namespaces"
        );
    }
}
