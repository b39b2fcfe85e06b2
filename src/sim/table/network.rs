//! Cells of the networking, scaling and cluster kinds (Endpoints, EndpointSlices, Nodes,
//! HorizontalPodAutoscalers, Ingresses) and of CRD printer columns over lists, as the real
//! server's printers and the CRDs' `additionalPrinterColumns` print them. Pure functions.

use serde_json::Value;

use super::{n, s};

/// A CRD printer column over a JSONPath that names a list or object: the server prints its
/// JSON (`["a.example.com"]`); missing is an empty cell.
pub(super) fn json_cell(o: &Value, pointer: &str) -> String {
    match o.pointer(pointer) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    }
}

/// At most `max` items joined by `sep`, then ` + N more...`, as kubectl's printers list.
fn at_most(items: &[String], max: usize, sep: &str) -> String {
    if items.len() > max {
        format!("{} + {} more...", items[..max].join(sep), items.len() - max)
    } else {
        items.join(sep)
    }
}

pub(super) fn list<'a>(o: &'a Value, pointer: &str) -> &'a [Value] {
    o.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The ENDPOINTS column of an Endpoints object: `ip:port` per port and address.
pub(super) fn endpoints(o: &Value) -> String {
    let subsets = list(o, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = list(subset, "/addresses");
        let ports = list(subset, "/ports");
        if ports.is_empty() {
            all.extend(addresses.iter().map(|a| s(a, "/ip").to_string()));
        }
        for port in ports {
            for a in addresses {
                all.push(format!("{}:{}", s(a, "/ip"), n(port, "/port")));
            }
        }
    }
    at_most(&all, 3, ",")
}

pub(super) fn slice_ports(o: &Value) -> String {
    let ports: Vec<String> = list(o, "/ports")
        .iter()
        .map(|p| n(p, "/port").to_string())
        .collect();
    if ports.is_empty() {
        return "<unset>".into();
    }
    at_most(&ports, 3, ",")
}

pub(super) fn slice_endpoints(o: &Value) -> String {
    let addresses: Vec<String> = list(o, "/endpoints")
        .iter()
        .flat_map(|e| list(e, "/addresses").iter())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    if addresses.is_empty() {
        return "<unset>".into();
    }
    at_most(&addresses, 3, ",")
}

/// Ready / NotReady / Unknown from the Ready condition, plus SchedulingDisabled.
pub(super) fn node_status(o: &Value) -> String {
    let ready = list(o, "/status/conditions")
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| match c["status"].as_str() {
            Some("True") => "Ready",
            Some("False") => "NotReady",
            _ => "Unknown",
        })
        .unwrap_or("Unknown");
    if o.pointer("/spec/unschedulable") == Some(&Value::Bool(true)) {
        format!("{ready},SchedulingDisabled")
    } else {
        ready.to_string()
    }
}

pub(super) fn node_roles(o: &Value) -> String {
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|(k, v)| {
                    if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                        (!role.is_empty()).then(|| role.to_string())
                    } else if k == "kubernetes.io/role" {
                        v.as_str().map(str::to_string)
                    } else {
                        None
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        "<none>".into()
    } else {
        roles.join(",")
    }
}

pub(super) fn node_address(o: &Value, kind: &str) -> String {
    list(o, "/status/addresses")
        .iter()
        .find(|a| a["type"] == kind)
        .map(|a| s(a, "/address").to_string())
        .unwrap_or_default()
}

/// The TARGETS column: `cpu: 45%/80%` per metric (current `<unknown>` until measured).
pub(super) fn hpa_targets(o: &Value) -> String {
    let current = list(o, "/status/currentMetrics");
    let targets: Vec<String> = list(o, "/spec/metrics")
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let ty = s(metric, "/type");
            let source = match ty {
                "Resource" => "resource",
                "ContainerResource" => "containerResource",
                "Pods" => "pods",
                "Object" => "object",
                "External" => "external",
                _ => "",
            };
            let name = match ty {
                "Resource" | "ContainerResource" => {
                    s(metric, &format!("/{source}/name")).to_string()
                }
                _ => s(metric, &format!("/{source}/metric/name")).to_string(),
            };
            let status = current.get(i).and_then(|c| c.get(source));
            let fmt = |v: &Value, percent: bool| match v {
                Value::Number(num) if percent => format!("{num}%"),
                Value::Number(num) => num.to_string(),
                Value::String(text) => text.clone(),
                _ => "<unknown>".into(),
            };
            let (target, current) =
                match metric.pointer(&format!("/{source}/target/averageUtilization")) {
                    Some(u) => (
                        fmt(u, true),
                        status
                            .and_then(|s| s.pointer("/current/averageUtilization"))
                            .map_or("<unknown>".into(), |v| fmt(v, true)),
                    ),
                    None => {
                        let target = metric
                            .pointer(&format!("/{source}/target/averageValue"))
                            .or_else(|| metric.pointer(&format!("/{source}/target/value")))
                            .map_or("<auto>".into(), |v| fmt(v, false));
                        let current = status
                            .and_then(|s| {
                                s.pointer("/current/averageValue")
                                    .or_else(|| s.pointer("/current/value"))
                            })
                            .map_or("<unknown>".into(), |v| fmt(v, false));
                        (target, current)
                    }
                };
            format!("{name}: {current}/{target}")
        })
        .collect();
    if targets.is_empty() {
        return "<none>".into();
    }
    at_most(&targets, 2, ", ")
}

pub(super) fn ingress_hosts(o: &Value) -> String {
    let hosts: Vec<String> = list(o, "/spec/rules")
        .iter()
        .map(|r| s(r, "/host").to_string())
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        return "*".into();
    }
    at_most(&hosts, 3, ",")
}

pub(super) fn ingress_address(o: &Value) -> String {
    let addresses: Vec<String> = list(o, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| {
            let ip = s(i, "/ip");
            if ip.is_empty() {
                s(i, "/hostname").to_string()
            } else {
                ip.to_string()
            }
        })
        .filter(|a| !a.is_empty())
        .collect();
    addresses.join(",")
}
