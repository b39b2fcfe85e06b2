//! Access: SelfSubjectAccessReviews and the scenario's `rbac.deny` rules.
//!
//! Answers reviews from kube-rs (JSON) and kubectl (protobuf, which it does not fall back from),
//! and tells the API handlers when a request is denied. It must not decide anything else.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::SimHandle;
use super::api::{qualified, status};
use super::resource;

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`.
pub async fn review(State(sim): State<SimHandle>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    // kubectl's typed client posts protobuf; kube-rs posts JSON. Both get JSON back.
    let parsed = if content_type.starts_with("application/vnd.kubernetes.protobuf") {
        protobuf_review(&body)
    } else {
        serde_json::from_slice::<Value>(&body).ok()
    };
    let Some(mut review) = parsed else {
        return status(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            format!("body is not a SelfSubjectAccessReview ({content_type})"),
        );
    };
    let attrs = review
        .pointer("/spec/resourceAttributes")
        .cloned()
        .unwrap_or(Value::Null);
    let field = |name: &str| attrs[name].as_str().unwrap_or("").to_string();
    let (verb, res, group, ns) = (
        field("verb"),
        field("resource"),
        field("group"),
        field("namespace"),
    );
    let denied = is_denied(&sim, &verb, &res, &group, &ns);
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    review["status"] = if denied {
        json!({"allowed": false, "denied": true,
               "reason": format!("the scenario denies {verb} on {res}")})
    } else {
        json!({"allowed": true, "reason": "the simulator allows it"})
    };
    (StatusCode::CREATED, axum::Json(review)).into_response()
}

/// Whether a scenario `rbac.deny` rule matches (every field it gives matches; `*` matches all).
pub fn is_denied(
    sim: &SimHandle,
    verb: &str,
    resource: &str,
    group: &str,
    namespace: &str,
) -> bool {
    let matches =
        |rule: &Option<String>, value: &str| rule.as_deref().is_none_or(|r| r == "*" || r == value);
    sim.scenario().deny.iter().any(|rule| {
        matches(&rule.verb, verb)
            && matches(&rule.resource, resource)
            && matches(&rule.group, group)
            && matches(&rule.namespace, namespace)
    })
}

/// The 403 the real server answers when RBAC denies a request.
pub fn forbidden(r: &resource::Resource, verb: &str, namespace: Option<&str>) -> Response {
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    status(
        StatusCode::FORBIDDEN,
        "Forbidden",
        format!(
            "{} is forbidden: User \"warroom-sim\" cannot {verb} resource \"{}\" in API group \"{}\" {scope} (the scenario's rbac.deny)",
            qualified(r),
            r.plural,
            r.group
        ),
    )
}

/// Decodes the resource attributes of a protobuf SelfSubjectAccessReview (the `k8s\0`
/// envelope around `runtime.Unknown{raw}`; spec = 2, resourceAttributes = 1) into JSON.
fn protobuf_review(body: &[u8]) -> Option<Value> {
    let unknown = body.strip_prefix(b"k8s\0")?;
    let raw = proto_field(unknown, 2)?;
    let spec = proto_field(raw, 2)?;
    let attrs = proto_field(spec, 1).unwrap_or_default();
    let text = |n: u64| {
        proto_field(attrs, n)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
            .to_string()
    };
    Some(json!({"spec": {"resourceAttributes": {
        "namespace": text(1), "verb": text(2), "group": text(3), "version": text(4),
        "resource": text(5), "subresource": text(6), "name": text(7),
    }}}))
}

/// The first length-delimited field `number` of a protobuf message.
fn proto_field(mut msg: &[u8], number: u64) -> Option<&[u8]> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = buf.split_first()?;
            *buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    while !msg.is_empty() {
        let key = varint(&mut msg)?;
        match key & 7 {
            0 => {
                varint(&mut msg)?;
            }
            1 => msg = msg.get(8..)?,
            5 => msg = msg.get(4..)?,
            2 => {
                let len = usize::try_from(varint(&mut msg)?).ok()?;
                let (value, rest) = (msg.get(..len)?, msg.get(len..)?);
                if key >> 3 == number {
                    return Some(value);
                }
                msg = rest;
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protobuf_access_review() {
        // k8s\0 + Unknown{raw(2): SSAR{spec(2): {resourceAttributes(1): {verb(2)="watch",
        // resource(5)="pods"}}}}
        let attrs = [&[0x12, 5][..], b"watch", &[0x2a, 4], b"pods"].concat();
        let spec = [&[0x0a, attrs.len() as u8][..], &attrs].concat();
        let ssar = [&[0x12, spec.len() as u8][..], &spec].concat();
        let unknown = [&[0x0a, 0][..], &[0x12, ssar.len() as u8], &ssar].concat();
        let body = [&b"k8s\0"[..], &unknown].concat();
        let review = protobuf_review(&body).unwrap();
        assert_eq!(review["spec"]["resourceAttributes"]["verb"], "watch");
        assert_eq!(review["spec"]["resourceAttributes"]["resource"], "pods");
        assert!(protobuf_review(b"nope").is_none());
    }
}
