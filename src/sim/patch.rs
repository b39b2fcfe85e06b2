//! Patches as the API server applies them: JSON merge patch (RFC 7386), strategic merge patch
//! (built-in kinds only, as on the real server) and JSON patch (RFC 6902).
//!
//! Pure functions from (object, patch body) to the patched object; no store, no HTTP. What
//! the server does around a patch (the `/status` subresource, resourceVersion preconditions,
//! server-managed fields) is [`super::write`]'s and [`super::store`]'s.

use serde_json::{Map, Value};

use super::store::merge;

/// The patch formats, by their `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/merge-patch+json` (RFC 7386): what the Argo Rollouts plugin sends.
    Merge,
    /// `application/strategic-merge-patch+json`: kubectl's default for built-in kinds.
    Strategic,
    /// `application/json-patch+json` (RFC 6902): the plugin's `undo`.
    Json,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        match media {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/json-patch+json" => Some(PatchType::Json),
            _ => None,
        }
    }
}

/// A patch body that cannot be applied; the message says why, in the server's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not the JSON the patch type needs (400 Bad Request).
    #[error("error decoding patch: {0}")]
    Decode(String),
    /// The patch is well-formed but does not apply to this object (422 Unprocessable).
    #[error("the patch could not be applied: {0}")]
    Apply(String),
}

/// Applies `body` (of `patch_type`) to `target` and returns the patched object.
pub fn apply(patch_type: PatchType, target: &Value, body: &[u8]) -> Result<Value, PatchError> {
    let mut object = target.clone();
    match patch_type {
        PatchType::Merge => {
            let patch: Value = decode(body)?;
            if !patch.is_object() {
                return Err(PatchError::Decode(
                    "a merge patch must be a JSON object".into(),
                ));
            }
            merge(&mut object, &patch);
        }
        PatchType::Strategic => {
            let patch: Value = decode(body)?;
            let Some(patch) = patch.as_object() else {
                return Err(PatchError::Decode(
                    "a strategic merge patch must be a JSON object".into(),
                ));
            };
            strategic_object(&mut object, patch)?;
        }
        PatchType::Json => {
            let patch: json_patch::Patch = decode(body)?;
            json_patch::patch(&mut object, &patch).map_err(|e| PatchError::Apply(e.to_string()))?;
        }
    }
    Ok(object)
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PatchError> {
    serde_json::from_slice(body).map_err(|e| PatchError::Decode(e.to_string()))
}

/// The merge key of a list field in the built-in kinds (`patchMergeKey` in the Kubernetes API
/// types), chosen by the field's name and, for `ports`, by what its items carry. `None`: the
/// list is replaced whole.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        // Container ports merge by containerPort, Service ports by port.
        "ports" if items.iter().any(|i| i.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    })
}

/// Lists of scalars whose strategy is `merge` (a set union) rather than replace.
fn is_merged_scalar_list(field: &str) -> bool {
    field == "finalizers"
}

fn strategic_object(target: &mut Value, patch: &Map<String, Value>) -> Result<(), PatchError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut replacement = patch.clone();
            replacement.remove("$patch");
            *target = Value::Object(replacement);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Object(Map::new());
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Apply(format!(
                "unknown patch directive $patch: {other:?}"
            )));
        }
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(map) = target.as_object_mut() else {
        return Ok(());
    };
    for (key, value) in patch {
        if key == "$patch" || key.starts_with("$setElementOrder/") || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(list), Some(remove)) = (
                map.get_mut(field).and_then(Value::as_array_mut),
                value.as_array(),
            ) {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        match value {
            Value::Null => {
                map.remove(key);
            }
            Value::Object(inner) => {
                if inner.get("$patch").and_then(Value::as_str) == Some("delete") {
                    map.remove(key);
                } else {
                    strategic_object(map.entry(key.clone()).or_insert(Value::Null), inner)?;
                }
            }
            Value::Array(items) => {
                let slot = map.entry(key.clone()).or_insert(Value::Null);
                strategic_list(slot, items, key)?;
            }
            other => {
                map.insert(key.clone(), other.clone());
            }
        }
    }
    if let Some(retain) = patch.get("$retainKeys").and_then(Value::as_array) {
        map.retain(|k, _| retain.iter().any(|r| r.as_str() == Some(k)));
    }
    Ok(())
}

fn strategic_list(target: &mut Value, items: &[Value], field: &str) -> Result<(), PatchError> {
    let replace = items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"));
    let items_without_directives: Vec<Value> = items
        .iter()
        .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("replace"))
        .cloned()
        .collect();
    if replace || !target.is_array() {
        *target = Value::Array(items_without_directives);
        return Ok(());
    }
    let Some(list) = target.as_array_mut() else {
        return Ok(());
    };
    if is_merged_scalar_list(field) {
        for item in items_without_directives {
            if !list.contains(&item) {
                list.push(item);
            }
        }
        return Ok(());
    }
    let Some(key) = merge_key(field, items) else {
        *target = Value::Array(items_without_directives);
        return Ok(());
    };
    for item in items_without_directives {
        let Some(patch) = item.as_object() else {
            return Err(PatchError::Apply(format!(
                "{field}: items must be objects carrying their merge key `{key}`"
            )));
        };
        let Some(id) = patch.get(key) else {
            return Err(PatchError::Apply(format!(
                "{field}: an item has no merge key `{key}`"
            )));
        };
        let position = list
            .iter()
            .position(|existing| existing.get(key) == Some(id));
        let delete = patch.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                list.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_object(&mut list[i], patch)?,
            (None, false) => {
                let mut fresh = Value::Object(Map::new());
                strategic_object(&mut fresh, patch)?;
                list.push(fresh);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(patch_type: PatchType, target: Value, patch: Value) -> Result<Value, PatchError> {
        apply(patch_type, &target, patch.to_string().as_bytes())
    }

    #[test]
    fn content_types() {
        assert_eq!(
            PatchType::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchType::Merge)
        );
        assert_eq!(
            PatchType::from_content_type("application/json-patch+json"),
            Some(PatchType::Json)
        );
        assert_eq!(PatchType::from_content_type("application/json"), None);
    }

    #[test]
    fn merge_patch_as_the_argo_plugin_sends_it() {
        let ro = json!({"spec": {"paused": true}, "status": {"pauseConditions": [{"reason": "CanaryPauseStep"}], "currentStepIndex": 1}});
        let out = run(
            PatchType::Merge,
            ro,
            json!({"spec": {"paused": false}, "status": {"pauseConditions": null}}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"spec": {"paused": false}, "status": {"currentStepIndex": 1}})
        );
        assert!(matches!(
            run(PatchType::Merge, json!({}), json!([1])),
            Err(PatchError::Decode(_))
        ));
        assert!(matches!(
            apply(PatchType::Merge, &json!({}), b"{nope"),
            Err(PatchError::Decode(_))
        ));
    }

    #[test]
    fn strategic_merge_merges_containers_by_name() {
        let pod = json!({"spec": {"containers": [
            {"name": "app", "image": "a:1", "env": [{"name": "X", "value": "1"}]},
            {"name": "sidecar", "image": "s:1"}
        ]}, "metadata": {"finalizers": ["a"]}});
        let out = run(
            PatchType::Strategic,
            pod,
            json!({
                "spec": {"containers": [
                    {"name": "app", "image": "a:2", "env": [{"name": "Y", "value": "2"}]},
                    {"name": "sidecar", "$patch": "delete"},
                    {"name": "new", "image": "n:1"}
                ]},
                "metadata": {"finalizers": ["b", "a"]}
            }),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([
                {"name": "app", "image": "a:2", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                {"name": "new", "image": "n:1"}
            ])
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    }

    #[test]
    fn strategic_merge_directives_and_plain_lists() {
        let svc = json!({"spec": {"selector": {"app": "x", "hash": "1"}, "ports": [{"port": 80, "name": "http"}], "externalIPs": ["1.1.1.1"]}});
        let out = run(
            PatchType::Strategic,
            svc,
            json!({"spec": {
                "selector": {"$patch": "replace", "app": "y"},
                "ports": [{"port": 80, "targetPort": 8080}],
                "externalIPs": ["2.2.2.2"],
                "$setElementOrder/ports": [{"port": 80}]
            }}),
        )
        .unwrap();
        assert_eq!(out["spec"]["selector"], json!({"app": "y"}));
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "name": "http", "targetPort": 8080}])
        );
        assert_eq!(out["spec"]["externalIPs"], json!(["2.2.2.2"]));
        let err = run(
            PatchType::Strategic,
            json!({"spec": {"containers": [{"name": "a"}]}}),
            json!({"spec": {"containers": [{"image": "x"}]}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("merge key `name`"), "{err}");
    }

    #[test]
    fn json_patch_replaces_the_template_as_undo_does() {
        let ro = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}}});
        let out = run(
            PatchType::Json,
            ro,
            json!([{"op": "replace", "path": "/spec/template", "value": {"spec": {"containers": [{"name": "a", "image": "a:1"}]}}}]),
        )
        .unwrap();
        assert_eq!(
            out["spec"]["template"]["spec"]["containers"][0]["image"],
            "a:1"
        );
        let failed = run(
            PatchType::Json,
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 2}]),
        );
        assert!(matches!(failed, Err(PatchError::Apply(_))), "{failed:?}");
        assert!(matches!(
            run(PatchType::Json, json!({}), json!({"op": "add"})),
            Err(PatchError::Decode(_))
        ));
    }
}
