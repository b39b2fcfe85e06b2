//! Which AnalysisRuns belong to a Rollout and which of them are current: the newest run of each
//! kind (`rollout-type` Background / Step / PrePromotion / PostPromotion, and `step-index`, the
//! labels Argo's utils/analysis/factory.go puts on every run). An older run of the same kind
//! was replaced (a retry, a new revision): what it says is history. Runs without those labels
//! (hand-written manifests) are each current.

use std::collections::BTreeMap;

use crate::rollout::model::{AnalysisRun, Rollout, Snapshot};

/// Argo's label naming how the Rollout created a run.
pub const ROLLOUT_TYPE_LABEL: &str = "rollout-type";
/// Argo's label carrying a step run's step index.
pub const STEP_INDEX_LABEL: &str = "step-index";

/// The runs owned by the Rollout or by one of its Experiments.
pub fn rollout_runs<'a>(snapshot: &'a Snapshot, ro: &Rollout) -> Vec<&'a AnalysisRun> {
    let uid = &ro.metadata.uid;
    let experiments: Vec<&str> = snapshot
        .experiments
        .iter()
        .filter(|e| e.metadata.is_owned_by(uid))
        .map(|e| e.metadata.uid.as_str())
        .collect();
    snapshot
        .analysis_runs
        .iter()
        .filter(|run| {
            run.metadata.is_owned_by(uid) || experiments.iter().any(|e| run.metadata.is_owned_by(e))
        })
        .collect()
}

/// The newest run of each kind among `runs`.
pub fn current<'a>(runs: &[&'a AnalysisRun]) -> Vec<&'a AnalysisRun> {
    let mut newest: BTreeMap<(String, String), &'a AnalysisRun> = BTreeMap::new();
    let mut unlabeled = Vec::new();
    for run in runs {
        let labels = &run.metadata.labels;
        let Some(kind) = labels.get(ROLLOUT_TYPE_LABEL) else {
            unlabeled.push(*run);
            continue;
        };
        let step = labels.get(STEP_INDEX_LABEL).cloned().unwrap_or_default();
        let order = |r: &AnalysisRun| (r.metadata.creation_timestamp, r.metadata.name.clone());
        newest
            .entry((kind.clone(), step))
            .and_modify(|kept| {
                if order(run) > order(kept) {
                    *kept = run;
                }
            })
            .or_insert(run);
    }
    unlabeled.extend(newest.into_values());
    unlabeled
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    #[test]
    fn a_retry_replaces_the_run_of_its_kind() {
        let run = |name: &str, kind: &str, step: &str, created: &str| -> AnalysisRun {
            yaml(&format!(
                "metadata: {{name: {name}, labels: {{rollout-type: {kind}, step-index: '{step}'}}, creationTimestamp: '{created}'}}\n"
            ))
        };
        let old = run("web-abc-2-1", "Step", "1", "2026-05-04T17:00:00Z");
        let retry = run("web-abc-2-1.1", "Step", "1", "2026-05-04T17:05:00Z");
        let background = run("web-abc-2", "Background", "", "2026-05-04T17:00:00Z");
        let bare: AnalysisRun = yaml("metadata: {name: hand-written}\n");
        let names: Vec<String> = current(&[&old, &retry, &background, &bare])
            .iter()
            .map(|r| r.metadata.name.clone())
            .collect();
        assert_eq!(names, ["hand-written", "web-abc-2", "web-abc-2-1.1"]);
    }
}
