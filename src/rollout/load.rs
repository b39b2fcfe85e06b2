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
use crate::yaml;

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
        let text = yaml::read_file(path, yaml::Limits::MANIFESTS)
            .map_err(|source| RolloutError::Read {
                path: path.clone(),
                source,
            })?
            .map_err(|e| malformed(path, 0, e))?;
        load_text(&mut snapshot, path, &text)?;
    }
    Ok(snapshot)
}

/// Adds the objects of one manifest file's text to `snapshot`.
pub fn load_text(snapshot: &mut Snapshot, path: &Path, text: &str) -> Result<(), RolloutError> {
    let documents =
        yaml::documents(text, yaml::Limits::MANIFESTS).map_err(|e| malformed(path, 0, e))?;
    for document in &documents {
        add_value(snapshot, path, text, document, &document.value, true)?;
    }
    Ok(())
}

fn add_value(
    snapshot: &mut Snapshot,
    path: &Path,
    text: &str,
    document: &yaml::Document,
    value: &serde_json::Value,
    whole: bool,
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
            document: document.index + 1,
            detail: format!(
                "line {}: no `kind` field; every manifest needs `kind` and `apiVersion`",
                document.line
            ),
        });
    };
    match kind.as_str() {
        "List" => {
            let items = value.get("items").and_then(|i| i.as_array());
            for item in items.into_iter().flatten() {
                add_value(snapshot, path, text, document, item, false)?;
            }
        }
        "Rollout" => snapshot
            .rollouts
            .push(typed(path, text, document, value, whole)?),
        "ReplicaSet" => snapshot
            .replica_sets
            .push(typed(path, text, document, value, whole)?),
        "Pod" => snapshot
            .pods
            .push(typed(path, text, document, value, whole)?),
        "Deployment" => snapshot
            .deployments
            .push(typed(path, text, document, value, whole)?),
        "Experiment" => snapshot
            .experiments
            .push(typed(path, text, document, value, whole)?),
        "AnalysisRun" => snapshot
            .analysis_runs
            .push(typed(path, text, document, value, whole)?),
        "AnalysisTemplate" | "ClusterAnalysisTemplate" => snapshot
            .analysis_templates
            .push(typed(path, text, document, value, whole)?),
        "Service" => snapshot
            .services
            .push(typed(path, text, document, value, whole)?),
        "Event" => snapshot
            .events
            .push(typed(path, text, document, value, whole)?),
        _ => {}
    }
    Ok(())
}

/// Deserializes one object into `T`; the error names the field's path, and its exact line
/// for a whole document (re-read from its text); a `kind: List` item gives its document's line.
fn typed<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    document: &yaml::Document,
    value: &serde_json::Value,
    whole: bool,
) -> Result<T, RolloutError> {
    if whole {
        return yaml::typed(text, document, yaml::Limits::MANIFESTS)
            .map_err(|e| malformed(path, document.index, e));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| RolloutError::Malformed {
        path: path.to_path_buf(),
        document: document.index + 1,
        detail: format!(
            "line {}: field `{}`: {}",
            document.line,
            e.path(),
            e.inner()
        ),
    })
}

fn malformed(path: &Path, index: usize, err: yaml::YamlError) -> RolloutError {
    RolloutError::Malformed {
        path: path.to_path_buf(),
        document: index + 1,
        detail: err.to_string(),
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
