//! Reads a directory of Kubernetes YAML/JSON manifests (`--from-dir`) into a [`Snapshot`].
//!
//! Files are read in file-name order (the order Argo's own tests use), each may hold several
//! `---` documents or a `kind: List`. Kinds we don't use (Job, ConfigMap, ...) are skipped.
//! A document of a kind we use but with a field of the wrong shape is an error naming the file,
//! the document and the field.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::RolloutError;
use super::model::Snapshot;

/// Loads every `*.yaml`, `*.yml` and `*.json` file directly inside `dir`.
pub fn load_dir(dir: &Path) -> Result<Snapshot, RolloutError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RolloutError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| RolloutError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if manifest && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut snapshot = Snapshot::default();
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|source| RolloutError::Read {
            path: path.clone(),
            source,
        })?;
        load_text(&mut snapshot, path, &text)?;
    }
    Ok(snapshot)
}

/// Adds the objects of one manifest file's text to `snapshot`.
pub fn load_text(snapshot: &mut Snapshot, path: &Path, text: &str) -> Result<(), RolloutError> {
    // Documents are converted one at a time (a big `kubectl get -o yaml` dump stays small); the
    // first is held back until we know whether it is the only one, because a single document is
    // re-read from the text so its errors carry the exact line.
    let mut pending: Option<serde_yaml::Value> = None;
    let mut count = 0;
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let value =
            serde::Deserialize::deserialize(document).map_err(|e| malformed(path, index, e))?;
        if let Some(previous) = pending.take() {
            add_value(snapshot, path, index - 1, previous, None)?;
        }
        pending = Some(value);
        count = index + 1;
    }
    if let Some(last) = pending {
        let source = (count == 1).then_some(text);
        add_value(snapshot, path, count - 1, last, source)?;
    }
    Ok(())
}

fn add_value(
    snapshot: &mut Snapshot,
    path: &Path,
    index: usize,
    value: serde_yaml::Value,
    source: Option<&str>,
) -> Result<(), RolloutError> {
    if value.is_null() {
        return Ok(());
    }
    let Some(kind) = value
        .get("kind")
        .and_then(|k| k.as_str())
        .map(str::to_owned)
    else {
        return Err(RolloutError::Malformed {
            path: path.to_path_buf(),
            document: index + 1,
            detail: "no `kind` field; every manifest needs `kind` and `apiVersion`".into(),
        });
    };
    match kind.as_str() {
        "List" => {
            let mut value = value;
            let items = match value.get_mut("items").map(std::mem::take) {
                Some(serde_yaml::Value::Sequence(items)) => items,
                _ => Vec::new(),
            };
            for item in items {
                add_value(snapshot, path, index, item, None)?;
            }
        }
        "Rollout" => snapshot.rollouts.push(typed(path, index, value, source)?),
        "ReplicaSet" => snapshot
            .replica_sets
            .push(typed(path, index, value, source)?),
        "Pod" => snapshot.pods.push(typed(path, index, value, source)?),
        "Deployment" => snapshot
            .deployments
            .push(typed(path, index, value, source)?),
        "Experiment" => snapshot
            .experiments
            .push(typed(path, index, value, source)?),
        "AnalysisRun" => snapshot
            .analysis_runs
            .push(typed(path, index, value, source)?),
        "AnalysisTemplate" | "ClusterAnalysisTemplate" => snapshot
            .analysis_templates
            .push(typed(path, index, value, source)?),
        "Service" => snapshot.services.push(typed(path, index, value, source)?),
        "Event" => snapshot.events.push(typed(path, index, value, source)?),
        _ => {}
    }
    Ok(())
}

/// Deserializes one document into `T`; on failure re-reads it from YAML text so the error
/// names the field's path (serde_yaml only tracks paths when reading text).
fn typed<T: DeserializeOwned>(
    path: &Path,
    index: usize,
    value: serde_yaml::Value,
    source: Option<&str>,
) -> Result<T, RolloutError> {
    if let Some(text) = source {
        return serde_yaml::from_str(text).map_err(|e| malformed(path, index, e));
    }
    match T::deserialize(&value) {
        Ok(object) => Ok(object),
        Err(err) => {
            let detail = serde_yaml::to_string(&value)
                .ok()
                .and_then(|text| serde_yaml::from_str::<T>(&text).err())
                .map(|e| strip_location(&e.to_string()))
                .unwrap_or_else(|| err.to_string());
            Err(RolloutError::Malformed {
                path: path.to_path_buf(),
                document: index + 1,
                detail,
            })
        }
    }
}

fn malformed(path: &Path, index: usize, err: serde_yaml::Error) -> RolloutError {
    RolloutError::Malformed {
        path: path.to_path_buf(),
        document: index + 1,
        detail: err.to_string(),
    }
}

/// Drops serde_yaml's " at line L column C" suffix when the line refers to re-serialized text.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_unknown_kinds_and_reads_lists_and_multi_documents() {
        let mut s = Snapshot::default();
        let text = "kind: Job\nmetadata: {name: j}\n---\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: p}\n---\nkind: Rollout\nmetadata: {name: r}\nfutureField: {x: 1}\n";
        load_text(&mut s, Path::new("x.yaml"), text).unwrap();
        assert_eq!(s.pods.len(), 1);
        assert_eq!(s.rollouts[0].metadata.name, "r");
    }

    #[test]
    fn a_wrong_field_shape_names_the_file_and_field() {
        let mut s = Snapshot::default();
        let text = "kind: Rollout\nmetadata: {name: r}\nspec:\n  replicas: five\n";
        let err = load_text(&mut s, Path::new("dir/r.yaml"), text).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("dir/r.yaml"), "{msg}");
        assert!(msg.contains("spec.replicas"), "{msg}");
        assert!(msg.contains("line 4"), "{msg}");

        let text = "kind: Rollout\nstatus:\n  conditions:\n  - type: [1]\n";
        let msg = load_text(&mut s, Path::new("c.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("status.conditions[0].type"), "{msg}");

        let text = "kind: Pod\n---\nkind: Rollout\nmetadata: {name: r}\nspec:\n  replicas: five\n";
        let msg = load_text(&mut s, Path::new("m.yaml"), text)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("document 2") && msg.contains("spec.replicas"),
            "{msg}"
        );
    }

    #[test]
    fn observed_generation_may_be_a_number_or_a_hash() {
        let mut s = Snapshot::default();
        let text = "kind: Rollout\nstatus: {observedGeneration: 7}\n---\nkind: Rollout\nstatus: {observedGeneration: 7d66d4485f, conditions: null, pauseConditions: {}}\n";
        load_text(&mut s, Path::new("x.yaml"), text).unwrap();
        assert_eq!(
            s.rollouts[0].status.observed_generation.as_deref(),
            Some("7")
        );
        assert_eq!(
            s.rollouts[1].status.observed_generation.as_deref(),
            Some("7d66d4485f")
        );
    }

    #[test]
    fn a_document_without_kind_is_an_error() {
        let mut s = Snapshot::default();
        let err = load_text(&mut s, Path::new("x.yaml"), "metadata: {name: r}\n").unwrap_err();
        assert!(err.to_string().contains("`kind`"));
    }
}
