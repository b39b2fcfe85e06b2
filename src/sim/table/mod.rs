//! Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//!
//! Pure functions from objects to columns and cells, with ages measured in scenario time.
//! The columns follow the real API server's printers (and the Argo CRDs' printer columns).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

mod network;

use network::{
    endpoints, hpa_targets, ingress_address, ingress_hosts, json_cell, node_address, node_roles,
    node_status, slice_endpoints, slice_ports,
};

use super::resource::RESOURCES;
use super::resource::ResourceId;

/// What each row carries besides its cells (`includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub fn parse(value: Option<&str>) -> IncludeObject {
        match value {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

fn columns(resource: ResourceId) -> Vec<(&'static str, &'static str)> {
    let mut cols = vec![("Name", "string")];
    cols.extend(match RESOURCES[resource].kind {
        "Pod" => vec![
            ("Ready", "string"),
            ("Status", "string"),
            ("Restarts", "integer"),
            ("Age", "string"),
            ("IP", "string"),
            ("Node", "string"),
        ],
        "Service" => vec![
            ("Type", "string"),
            ("Cluster-IP", "string"),
            ("External-IP", "string"),
            ("Port(s)", "string"),
            ("Age", "string"),
            ("Selector", "string"),
        ],
        "Namespace" => vec![("Status", "string"), ("Age", "string")],
        "ReplicaSet" => vec![
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Ready", "integer"),
            ("Age", "string"),
        ],
        "Deployment" => vec![
            ("Ready", "string"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ],
        "Job" => vec![
            ("Status", "string"),
            ("Completions", "string"),
            ("Age", "string"),
        ],
        "Rollout" => vec![
            ("Desired", "integer"),
            ("Current", "integer"),
            ("Up-to-date", "integer"),
            ("Available", "integer"),
            ("Age", "string"),
        ],
        "AnalysisRun" | "Experiment" => vec![("Status", "string"), ("Age", "string")],
        "Endpoints" => vec![("Endpoints", "string"), ("Age", "string")],
        "EndpointSlice" => vec![
            ("AddressType", "string"),
            ("Ports", "string"),
            ("Endpoints", "string"),
            ("Age", "string"),
        ],
        "ConfigMap" => vec![("Data", "integer"), ("Age", "string")],
        "Node" => vec![
            ("Status", "string"),
            ("Roles", "string"),
            ("Age", "string"),
            ("Version", "string"),
            ("Internal-IP", "string"),
            ("External-IP", "string"),
            ("OS-Image", "string"),
            ("Kernel-Version", "string"),
            ("Container-Runtime", "string"),
        ],
        "HorizontalPodAutoscaler" => vec![
            ("Reference", "string"),
            ("Targets", "string"),
            ("MinPods", "string"),
            ("MaxPods", "integer"),
            ("Replicas", "integer"),
            ("Age", "string"),
        ],
        "Ingress" => vec![
            ("Class", "string"),
            ("Hosts", "string"),
            ("Address", "string"),
            ("Ports", "string"),
            ("Age", "string"),
        ],
        "HTTPRoute" => vec![("Hostnames", "string"), ("Age", "string")],
        "VirtualService" => vec![
            ("Gateways", "string"),
            ("Hosts", "string"),
            ("Age", "string"),
        ],
        _ => vec![("Age", "string")],
    });
    cols
}

/// The real server hides some columns unless `-o wide` (priority 1).
fn priority(kind: &str, column: &str) -> u8 {
    u8::from(matches!(
        (kind, column),
        ("Pod", "IP" | "Node")
            | ("Service", "Selector")
            | (
                "Node",
                "Internal-IP" | "External-IP" | "OS-Image" | "Kernel-Version" | "Container-Runtime"
            )
    ))
}

/// Column definitions for a resource.
pub fn column_definitions(resource: ResourceId) -> Value {
    let kind = RESOURCES[resource].kind;
    if kind == "Event" {
        return json!([
            {"name": "Last Seen", "type": "string", "format": "", "description": "", "priority": 0},
            {"name": "Type", "type": "string", "format": "", "description": "", "priority": 0},
            {"name": "Reason", "type": "string", "format": "", "description": "", "priority": 0},
            {"name": "Object", "type": "string", "format": "", "description": "", "priority": 0},
            {"name": "Message", "type": "string", "format": "", "description": "", "priority": 0},
        ]);
    }
    Value::Array(
        columns(resource)
            .into_iter()
            .map(|(name, ty)| {
                json!({
                    "name": name,
                    "type": ty,
                    "format": if name == "Name" { "name" } else { "" },
                    "description": "",
                    "priority": priority(kind, name),
                })
            })
            .collect(),
    )
}

/// A whole Table for a list (or one watch event's object).
pub fn table(
    resource: ResourceId,
    objects: &[&Value],
    resource_version: u64,
    now: DateTime<Utc>,
    include: IncludeObject,
) -> Value {
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| row(resource, o, now, include))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version.to_string()},
        "columnDefinitions": column_definitions(resource),
        "rows": rows,
    })
}

fn row(resource: ResourceId, object: &Value, now: DateTime<Utc>, include: IncludeObject) -> Value {
    let mut row = json!({"cells": cells(resource, object, now)});
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object.get("metadata").cloned().unwrap_or(Value::Null),
            });
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

pub(super) fn s<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

pub(super) fn n(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn or_none(v: &str) -> String {
    if v.is_empty() {
        "<none>".to_string()
    } else {
        v.to_string()
    }
}

fn cells(resource: ResourceId, o: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let name = json!(s(o, "/metadata/name"));
    let created = json!(age(s(o, "/metadata/creationTimestamp"), now));
    match RESOURCES[resource].kind {
        "Pod" => {
            let containers = o
                .pointer("/spec/containers")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let statuses = o
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let ready = statuses
                .iter()
                .filter(|c| c["ready"].as_bool() == Some(true))
                .count();
            let restarts: i64 = statuses
                .iter()
                .map(|c| c["restartCount"].as_i64().unwrap_or(0))
                .sum();
            vec![
                name,
                json!(format!("{ready}/{}", containers.max(statuses.len()))),
                json!(pod_status(o)),
                json!(restarts),
                created.clone(),
                json!(or_none(s(o, "/status/podIP"))),
                json!(or_none(s(o, "/spec/nodeName"))),
            ]
        }
        "Service" => {
            let ports = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .map(|ports| {
                    ports
                        .iter()
                        .map(|p| {
                            let proto = p["protocol"].as_str().unwrap_or("TCP");
                            format!("{}/{proto}", p["port"].as_i64().unwrap_or(0))
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let selector = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            let ty = s(o, "/spec/type");
            vec![
                name,
                json!(if ty.is_empty() { "ClusterIP" } else { ty }),
                json!(or_none(s(o, "/spec/clusterIP"))),
                json!("<none>"),
                json!(or_none(&ports)),
                created.clone(),
                json!(or_none(&selector)),
            ]
        }
        "Namespace" => {
            let phase = s(o, "/status/phase");
            vec![
                name,
                json!(if phase.is_empty() { "Active" } else { phase }),
                created.clone(),
            ]
        }
        "ReplicaSet" => vec![
            name,
            json!(n(o, "/spec/replicas")),
            json!(n(o, "/status/replicas")),
            json!(n(o, "/status/readyReplicas")),
            created.clone(),
        ],
        "Deployment" => vec![
            name,
            json!(format!(
                "{}/{}",
                n(o, "/status/readyReplicas"),
                n(o, "/spec/replicas")
            )),
            json!(n(o, "/status/updatedReplicas")),
            json!(n(o, "/status/availableReplicas")),
            created.clone(),
        ],
        "Job" => {
            let done = o
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter().find(|c| {
                        c["status"] == "True"
                            && matches!(c["type"].as_str(), Some("Complete" | "Failed"))
                    })
                })
                .and_then(|c| c["type"].as_str())
                .unwrap_or("Running");
            let completions = o
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            vec![
                name,
                json!(done),
                json!(format!("{}/{completions}", n(o, "/status/succeeded"))),
                created.clone(),
            ]
        }
        "Rollout" => vec![
            name,
            json!(n(o, "/spec/replicas")),
            json!(n(o, "/status/replicas")),
            json!(n(o, "/status/updatedReplicas")),
            json!(n(o, "/status/availableReplicas")),
            created.clone(),
        ],
        "AnalysisRun" | "Experiment" => vec![name, json!(s(o, "/status/phase")), created.clone()],
        "Event" => {
            let last = [
                "/lastTimestamp",
                "/eventTime",
                "/firstTimestamp",
                "/metadata/creationTimestamp",
            ]
            .iter()
            .map(|p| s(o, p))
            .find(|t| !t.is_empty())
            .unwrap_or("");
            let kind = s(o, "/involvedObject/kind").to_lowercase();
            vec![
                json!(age(last, now)),
                json!(s(o, "/type")),
                json!(s(o, "/reason")),
                json!(format!("{kind}/{}", s(o, "/involvedObject/name"))),
                json!(s(o, "/message")),
            ]
        }
        "Endpoints" => vec![name, json!(endpoints(o)), created.clone()],
        "EndpointSlice" => vec![
            name,
            json!(s(o, "/addressType")),
            json!(slice_ports(o)),
            json!(slice_endpoints(o)),
            created.clone(),
        ],
        "ConfigMap" => {
            let count = |p: &str| {
                o.pointer(p)
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len())
            };
            vec![
                name,
                json!(count("/data") + count("/binaryData")),
                created.clone(),
            ]
        }
        "Node" => {
            let info = |field: &str| {
                let v = s(o, &format!("/status/nodeInfo/{field}"));
                if v.is_empty() {
                    "<unknown>".to_string()
                } else {
                    v.to_string()
                }
            };
            vec![
                name,
                json!(node_status(o)),
                json!(node_roles(o)),
                created.clone(),
                json!(s(o, "/status/nodeInfo/kubeletVersion")),
                json!(or_none(&node_address(o, "InternalIP"))),
                json!(or_none(&node_address(o, "ExternalIP"))),
                json!(info("osImage")),
                json!(info("kernelVersion")),
                json!(info("containerRuntimeVersion")),
            ]
        }
        "HorizontalPodAutoscaler" => {
            let min = o
                .pointer("/spec/minReplicas")
                .and_then(Value::as_i64)
                .map_or("<unset>".to_string(), |m| m.to_string());
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    s(o, "/spec/scaleTargetRef/kind"),
                    s(o, "/spec/scaleTargetRef/name")
                )),
                json!(hpa_targets(o)),
                json!(min),
                json!(n(o, "/spec/maxReplicas")),
                json!(n(o, "/status/currentReplicas")),
                created.clone(),
            ]
        }
        "Ingress" => vec![
            name,
            json!(or_none(s(o, "/spec/ingressClassName"))),
            json!(ingress_hosts(o)),
            json!(ingress_address(o)),
            json!(if o
                .pointer("/spec/tls")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty())
            {
                "80, 443"
            } else {
                "80"
            }),
            created.clone(),
        ],
        "HTTPRoute" => vec![
            name,
            json!(json_cell(o, "/spec/hostnames")),
            created.clone(),
        ],
        "VirtualService" => vec![
            name,
            json!(json_cell(o, "/spec/gateways")),
            json!(json_cell(o, "/spec/hosts")),
            created.clone(),
        ],
        _ => vec![name, created.clone()],
    }
}

/// The STATUS column of a pod: a waiting or terminated reason beats the phase.
pub fn pod_status(o: &Value) -> String {
    if o.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".into();
    }
    let statuses = o
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for c in &statuses {
        for state in ["waiting", "terminated"] {
            if let Some(reason) = c
                .pointer(&format!("/state/{state}/reason"))
                .and_then(Value::as_str)
            {
                return reason.to_string();
            }
        }
    }
    let reason = s(o, "/status/reason");
    if !reason.is_empty() {
        return reason.to_string();
    }
    let phase = s(o, "/status/phase");
    if phase.is_empty() {
        "Pending".into()
    } else {
        phase.into()
    }
}

/// The age of a timestamp the way kubectl prints it (`45s`, `3m12s`, `5h`, `39d`).
pub fn age(timestamp: &str, now: DateTime<Utc>) -> String {
    let Ok(then) = DateTime::parse_from_rfc3339(timestamp) else {
        return "<unknown>".into();
    };
    let secs = (now - then.with_timezone(&Utc)).num_seconds();
    if secs < 0 {
        return "<invalid>".into();
    }
    human_duration(secs as u64)
}

/// Kubernetes' `duration.HumanDuration`.
pub fn human_duration(secs: u64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        let s = secs % 60;
        if s == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{s}s")
        }
    } else if m < 180 {
        format!("{m}m")
    } else if h < 8 {
        let m = m % 60;
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{m}m")
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        let h = h % 24;
        if h == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{h}h")
        }
    } else if h < 24 * 365 * 2 {
        format!("{d}d")
    } else if h < 24 * 365 * 8 {
        let y = d / 365;
        let dd = d % 365;
        if dd == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{dd}d")
        }
    } else {
        format!("{}y", d / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::by_kind;

    #[test]
    fn human_durations_match_kubectl() {
        assert_eq!(human_duration(45), "45s");
        assert_eq!(human_duration(192), "3m12s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(5 * 3600), "5h");
        assert_eq!(human_duration(39 * 86400), "39d");
        assert_eq!(human_duration(3 * 86400 + 7200), "3d2h");
    }

    fn cells_of(api_version: &str, kind: &str, object: Value) -> Value {
        let now: DateTime<Utc> = "2026-05-04T17:05:00Z".parse().unwrap();
        let r = by_kind(api_version, kind).unwrap();
        let t = table(r, &[&object], 1, now, IncludeObject::None);
        assert_eq!(
            t["columnDefinitions"].as_array().unwrap().len(),
            t["rows"][0]["cells"].as_array().unwrap().len(),
            "{kind}: one cell per column"
        );
        t["rows"][0]["cells"].clone()
    }

    #[test]
    fn rows_of_the_networking_and_cluster_kinds() {
        let meta = json!({"name": "x", "creationTimestamp": "2026-05-04T17:00:00Z"});
        let ep = cells_of(
            "v1",
            "Endpoints",
            json!({"metadata": meta, "subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 4000}]}]}),
        );
        assert_eq!(
            ep[1],
            "10.0.0.1:4000,10.0.0.2:4000,10.0.0.3:4000 + 1 more..."
        );
        let node = cells_of(
            "v1",
            "Node",
            json!({"metadata": {"name": "node-a", "creationTimestamp": "2026-05-04T17:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.32.0"},
                       "addresses": [{"type": "InternalIP", "address": "10.1.0.1"}]}}),
        );
        assert_eq!(
            node,
            json!([
                "node-a",
                "Ready,SchedulingDisabled",
                "control-plane",
                "5m",
                "v1.32.0",
                "10.1.0.1",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ])
        );
        let hpa = cells_of(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            json!({"metadata": meta,
            "spec": {"scaleTargetRef": {"kind": "Rollout", "name": "litellm"}, "maxReplicas": 10,
                     "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 5, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 45}}}]}}),
        );
        assert_eq!(
            hpa,
            json!([
                "x",
                "Rollout/litellm",
                "cpu: 45%/80%",
                "<unset>",
                10,
                5,
                "5m"
            ])
        );
        let ing = cells_of(
            "networking.k8s.io/v1",
            "Ingress",
            json!({"metadata": meta,
            "spec": {"ingressClassName": "nginx", "rules": [{"host": "llm.example.com"}], "tls": [{}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}}),
        );
        assert_eq!(
            ing,
            json!([
                "x",
                "nginx",
                "llm.example.com",
                "203.0.113.7",
                "80, 443",
                "5m"
            ])
        );
        let vs = cells_of(
            "networking.istio.io/v1alpha3",
            "VirtualService",
            json!({"metadata": meta,
            "spec": {"hosts": ["litellm"], "gateways": ["mesh"]}}),
        );
        assert_eq!(vs, json!(["x", "[\"mesh\"]", "[\"litellm\"]", "5m"]));
        let cm = cells_of(
            "v1",
            "ConfigMap",
            json!({"metadata": meta, "data": {"a": "1", "b": "2"}}),
        );
        assert_eq!(cm, json!(["x", 2, "5m"]));
        let slice = cells_of(
            "discovery.k8s.io/v1",
            "EndpointSlice",
            json!({"metadata": meta, "addressType": "IPv4",
            "ports": [{"port": 4000}], "endpoints": [{"addresses": ["10.0.0.1"]}]}),
        );
        assert_eq!(slice, json!(["x", "IPv4", "4000", "10.0.0.1", "5m"]));
    }

    #[test]
    fn pod_row() {
        let now: DateTime<Utc> = "2026-05-04T17:05:00Z".parse().unwrap();
        let pod = json!({
            "metadata": {"name": "litellm-abc", "creationTimestamp": "2026-05-04T17:00:00Z"},
            "spec": {"containers": [{"name": "a"}, {"name": "b"}], "nodeName": "node-1"},
            "status": {"phase": "Running", "containerStatuses": [
                {"ready": true, "restartCount": 2},
                {"ready": false, "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}
            ]}
        });
        let pods = by_kind("v1", "Pod").unwrap();
        let t = table(pods, &[&pod], 7, now, IncludeObject::Metadata);
        assert_eq!(
            t["rows"][0]["cells"],
            json!([
                "litellm-abc",
                "1/2",
                "CrashLoopBackOff",
                3,
                "5m",
                "<none>",
                "node-1"
            ])
        );
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 7);
        assert_eq!(t["metadata"]["resourceVersion"], "7");
    }
}
