//! Detector 1: the controller has not observed the Rollout's spec (`observedGeneration` behind
//! `generation`) for longer than a threshold of cluster time — the story's 39-day "waiting for
//! rollout spec update to be observed", which looked idle because the stale status still read
//! Healthy — and Warning events the controller keeps emitting about the Rollout.
//!
//! A Rollout with `workloadRef` is released by changing the Deployment's template, which
//! moves the Deployment's `metadata.generation` and not the Rollout's: Argo records the one it
//! acted on in `status.workloadObservedGeneration` (rollout/sync.go persistRolloutStatus, from
//! the workload-generation annotation its resolver keeps, rollout/templateref.go). A
//! controller that stops observing leaves it behind the Deployment's generation, and
//! [`workload_not_observed`] catches that as the same detector (aspect `workloadRef`).
//!
//! Time: a threshold must never fire before it is reached. The caller passes two readings of
//! the cluster's clock: the earliest the cluster's now can be (thresholds compare against it)
//! and the latest (a stall is dated from it when first seen), so clock uncertainty only ever
//! delays a finding.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Detector, Finding, evidence, object};
use crate::rollout::model::{Deployment, Event, Rollout};
use crate::rollout::view;

/// Finding for a rollout whose spec has gone unobserved since `since` for at least `threshold`
/// at cluster time `now`.
pub fn spec_not_observed(
    ro: &Rollout,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    threshold: TimeDelta,
) -> Option<Finding> {
    if view::is_generation_observed(ro) || now - since < threshold {
        return None;
    }
    let subject = object("Rollout", &ro.metadata);
    let observed = ro
        .status
        .observed_generation
        .clone()
        .unwrap_or_else(|| "(none)".into());
    let mut ev = vec![
        evidence(
            &subject,
            "metadata.generation",
            ro.metadata.generation,
            None,
        ),
        evidence(
            &subject,
            "status.observedGeneration",
            &observed,
            Some(since),
        ),
    ];
    if !ro.status.phase.is_empty() {
        ev.push(evidence(
            &subject,
            "status.phase (stale)",
            &ro.status.phase,
            None,
        ));
    }
    Some(Finding {
        detector: Detector::SpecNotObserved,
        subject,
        aspect: String::new(),
        headline: format!(
            "the controller has not observed spec generation {} for {} (observedGeneration {observed})",
            ro.metadata.generation,
            view::human_duration(now - since),
        ),
        detail: "Nothing of this rollout is executing, whatever its stale status says. Check that \
                 the Argo Rollouts controller runs and watches this namespace."
            .into(),
        evidence: ev,
        level: 0,
    })
}

/// The Deployment a Rollout's `workloadRef` names, among `deployments`.
pub fn workload_of<'a>(ro: &Rollout, deployments: &'a [Deployment]) -> Option<&'a Deployment> {
    let reference = ro.spec.workload_ref.as_ref()?;
    if !reference.kind.is_empty() && reference.kind != "Deployment" {
        return None;
    }
    deployments.iter().find(|d| {
        d.metadata.name == reference.name && d.metadata.namespace == ro.metadata.namespace
    })
}

/// The Deployment's generation the controller has not acted on yet, if any: its
/// `metadata.generation` above the Rollout's `status.workloadObservedGeneration`. A Rollout
/// without that field (never reconciled with its reference, or a controller older than
/// v1.1 that does not write it) is not judged, as Argo's isWorkloadGenerationObserved reads
/// an unparsable value as observed.
pub fn unobserved_workload_generation(ro: &Rollout, deployment: &Deployment) -> Option<i64> {
    let observed: i64 = ro
        .status
        .workload_observed_generation
        .as_deref()?
        .parse()
        .ok()?;
    (deployment.metadata.generation > observed).then_some(deployment.metadata.generation)
}

/// Finding for a workloadRef rollout whose Deployment's generation has gone unobserved since
/// `since` for at least `threshold` at cluster time `now`.
pub fn workload_not_observed(
    ro: &Rollout,
    deployment: &Deployment,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    threshold: TimeDelta,
) -> Option<Finding> {
    let generation = unobserved_workload_generation(ro, deployment)?;
    if now - since < threshold {
        return None;
    }
    let subject = object("Rollout", &ro.metadata);
    let workload = object("Deployment", &deployment.metadata);
    let observed = ro
        .status
        .workload_observed_generation
        .clone()
        .unwrap_or_default();
    let mut ev = vec![
        evidence(&workload, "metadata.generation", generation, None),
        evidence(
            &subject,
            "status.workloadObservedGeneration",
            &observed,
            Some(since),
        ),
    ];
    if !ro.status.phase.is_empty() {
        ev.push(evidence(
            &subject,
            "status.phase (stale)",
            &ro.status.phase,
            None,
        ));
    }
    Some(Finding {
        detector: Detector::SpecNotObserved,
        subject,
        aspect: "workloadRef".into(),
        headline: format!(
            "the controller has not observed {workload} generation {generation} for {} (workloadObservedGeneration {observed})",
            view::human_duration(now - since),
        ),
        detail: "The release changed the workloadRef Deployment's template and the Rollout has \
                 not acted on it: nothing of it is executing, whatever its stale status says. \
                 Check that the Argo Rollouts controller runs and watches this namespace."
            .into(),
        evidence: ev,
        level: 0,
    })
}

/// Remembers since when each rollout's spec has been unobserved, so a caller that sees a
/// stream of updates can ask [`spec_not_observed`] with the right `since`.
#[derive(Debug, Clone)]
pub struct SpecObservationTracker {
    threshold: TimeDelta,
    /// `namespace/name` -> the latest cluster time it can have been first seen unobserved.
    unobserved: BTreeMap<String, DateTime<Utc>>,
}

impl SpecObservationTracker {
    pub fn new(threshold: TimeDelta) -> Self {
        Self {
            threshold,
            unobserved: BTreeMap::new(),
        }
    }

    pub fn threshold(&self) -> TimeDelta {
        self.threshold
    }

    /// Feeds one look at a rollout: `earliest` and `latest` bound the cluster's now. Returns the
    /// finding while the stall has lasted the threshold (the caller's lifecycle says it once).
    /// Observing the spec again forgets the rollout.
    pub fn observe(
        &mut self,
        ro: &Rollout,
        earliest: DateTime<Utc>,
        latest: DateTime<Utc>,
    ) -> Option<Finding> {
        let key = format!("{}/{}", ro.metadata.namespace, ro.metadata.name);
        if view::is_generation_observed(ro) {
            self.unobserved.remove(&key);
            return None;
        }
        // The stall began at the latest when first seen, or at the object's last write
        // (managedFields, when the server keeps them): the earlier of the two bounds an
        // observer that started late.
        let first = ro
            .metadata
            .last_spec_write()
            .map_or(latest, |w| w.min(latest));
        let since = *self.unobserved.entry(key).or_insert(first);
        spec_not_observed(ro, since, earliest, self.threshold)
    }

    /// Feeds one look at a workloadRef rollout and the Deployments of its namespace, as
    /// [`Self::observe`] does for the Rollout's own generation: the finding while the
    /// Deployment's generation has gone unobserved for the threshold. A Rollout without
    /// `workloadRef`, or whose Deployment is not among `deployments`, gives nothing.
    pub fn observe_workload(
        &mut self,
        ro: &Rollout,
        deployments: &[Deployment],
        earliest: DateTime<Utc>,
        latest: DateTime<Utc>,
    ) -> Option<Finding> {
        let key = workload_key(&ro.metadata.namespace, &ro.metadata.name);
        let Some(deployment) = workload_of(ro, deployments)
            .filter(|d| unobserved_workload_generation(ro, d).is_some())
        else {
            self.unobserved.remove(&key);
            return None;
        };
        let first = deployment
            .metadata
            .last_spec_write()
            .map_or(latest, |w| w.min(latest));
        let since = *self.unobserved.entry(key).or_insert(first);
        workload_not_observed(ro, deployment, since, earliest, self.threshold)
    }

    /// Since when `namespace/name`'s workloadRef Deployment has been unobserved, if it is.
    pub fn workload_unobserved_since(&self, namespace: &str, name: &str) -> Option<DateTime<Utc>> {
        self.unobserved.get(&workload_key(namespace, name)).copied()
    }

    /// Since when `namespace/name` has been unobserved, if it is.
    pub fn unobserved_since(&self, namespace: &str, name: &str) -> Option<DateTime<Utc>> {
        self.unobserved.get(&format!("{namespace}/{name}")).copied()
    }

    /// The earliest cluster time at which a stall now under way reaches the threshold: when the
    /// caller should look again.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        self.unobserved.values().map(|t| *t + self.threshold).min()
    }
}

fn workload_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name} workloadRef")
}

/// How long after its last occurrence a controller Warning stops being current.
pub const WARNING_QUIET: TimeDelta = TimeDelta::minutes(5);

/// Warning reasons other detectors already judge: the abort is `rollout degraded`, an
/// AnalysisRun's end is `analysis failed`.
fn covered_elsewhere(reason: &str) -> bool {
    reason == "RolloutAborted" || reason.starts_with("AnalysisRun")
}

/// One finding per Warning reason the controller emitted about the rollout within
/// [`WARNING_QUIET`] of `now`: a repeating Warning is one condition with a count.
pub fn controller_warnings(ro: &Rollout, events: &[Event], now: DateTime<Utc>) -> Vec<Finding> {
    let subject = object("Rollout", &ro.metadata);
    let mut by_reason: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        let about = &e.involved_object;
        let same = about.kind == "Rollout"
            && about.name == ro.metadata.name
            && (about.namespace.is_empty() || about.namespace == ro.metadata.namespace)
            && (about.uid.is_empty() || ro.metadata.uid.is_empty() || about.uid == ro.metadata.uid);
        if same && e.type_ == "Warning" && !covered_elsewhere(&e.reason) {
            by_reason.entry(&e.reason).or_default().push(e);
        }
    }
    by_reason
        .into_iter()
        .filter_map(|(reason, events)| {
            let latest = events.iter().max_by_key(|e| e.last_seen()).copied()?;
            let last = latest.last_seen()?;
            if now - last >= WARNING_QUIET {
                return None;
            }
            let count: i32 = events.iter().map(|e| e.count.max(1)).sum();
            let first = events
                .iter()
                .filter_map(|e| e.first_timestamp.or(e.last_seen()))
                .min();
            Some(Finding {
                detector: Detector::ControllerWarning,
                subject: subject.clone(),
                aspect: format!("reason {reason}"),
                headline: format!("{reason} ×{count}: {}", latest.message),
                detail:
                    "The controller reports a problem reconciling this Rollout; it clears once \
                         the Warning has not recurred for 5 minutes."
                        .into(),
                evidence: vec![
                    evidence(&subject, &format!("event {reason}"), &latest.message, first),
                    evidence(
                        &subject,
                        &format!("event {reason} count"),
                        count,
                        Some(last),
                    ),
                ],
                level: 0,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    fn stalled() -> Rollout {
        let mut ro: Rollout = yaml(HEALTHY);
        ro.metadata.generation = 4;
        ro.status.phase = "Healthy".into();
        ro
    }

    // Positive cases (spec not observed).

    #[test]
    fn fires_at_the_threshold_in_cluster_time_with_evidence() {
        let ro = stalled();
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0), at(0)), None);
        assert_eq!(tracker.observe(&ro, at(59), at(59)), None);
        assert_eq!(tracker.next_deadline(), Some(at(60)));
        let finding = tracker
            .observe(&ro, at(60), at(60))
            .expect("fires at the threshold");
        assert_eq!(finding.detector, Detector::SpecNotObserved);
        assert!(
            finding
                .evidence
                .iter()
                .any(|e| e.field == "status.observedGeneration"
                    && e.value == "3"
                    && e.since == Some(at(0)))
        );
        assert!(finding.to_string().contains("status.phase (stale)"));
        // Still holding: still the same condition.
        let later = tracker.observe(&ro, at(120), at(120)).unwrap();
        assert_eq!(later.key(), finding.key());
    }

    #[test]
    fn the_story_39_days_unobserved() {
        // "waiting for rollout spec update to be observed" for 39 days, status still Healthy.
        let ro = stalled();
        let f = spec_not_observed(&ro, at(0), at(39 * 86_400), TimeDelta::seconds(60)).unwrap();
        assert!(f.headline.contains("for 39d"), "{}", f.headline);
    }

    #[test]
    fn an_observed_generation_written_as_a_number_is_compared_too() {
        // Older controllers wrote observedGeneration as an integer, the CRD types it a string.
        let ro: Rollout = yaml(
            "metadata: {name: web, namespace: prod, generation: 7}\nstatus: {observedGeneration: 6}\n",
        );
        let f = spec_not_observed(&ro, at(0), at(61), TimeDelta::seconds(60)).unwrap();
        assert!(
            f.headline.contains("observedGeneration 6"),
            "{}",
            f.headline
        );
    }

    // Negative cases.

    #[test]
    fn a_controller_lag_shorter_than_the_threshold_is_not_a_fault() {
        // The controller-lag scenario: observed 5 s after each spec change.
        let mut ro = stalled();
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0), at(0)), None);
        assert_eq!(tracker.observe(&ro, at(5), at(5)), None);
        ro.status.observed_generation = Some("4".into());
        assert_eq!(tracker.observe(&ro, at(65), at(65)), None);
        assert_eq!(tracker.unobserved_since("prod", "web"), None);
    }

    #[test]
    fn clock_uncertainty_delays_never_advances() {
        // First seen when the cluster's now is somewhere in [0, 20]: dated 20.
        let ro = stalled();
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0), at(20)), None);
        assert_eq!(tracker.observe(&ro, at(70), at(75)), None);
        assert!(tracker.observe(&ro, at(80), at(80)).is_some());
    }

    #[test]
    fn an_observer_started_late_dates_the_stall_from_managed_fields() {
        // Real API servers record when each manager last wrote the object: the spec change
        // happened no later than the last write of the object itself (status writes aside).
        let mut ro = stalled();
        ro.metadata.managed_fields = vec![
            yaml(&format!(
                "{{manager: kubectl, operation: Update, time: '{}'}}",
                at(10).to_rfc3339()
            )),
            yaml(&format!(
                "{{manager: rollouts-controller, operation: Update, subresource: status, time: '{}'}}",
                at(50).to_rfc3339()
            )),
        ];
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(40), at(40)), None);
        assert_eq!(tracker.unobserved_since("prod", "web"), Some(at(10)));
        assert!(tracker.observe(&ro, at(70), at(70)).is_some());
    }

    #[test]
    fn an_observed_rollout_is_fine() {
        let ro: Rollout = yaml(HEALTHY);
        assert_eq!(
            spec_not_observed(&ro, at(0), at(86_400), TimeDelta::zero()),
            None
        );
    }

    // workloadRef: the release is a change of the Deployment's generation.

    /// The story's Rollout: workloadRef to Deployment `web`, the controller having acted on
    /// the Deployment's generation `observed`.
    fn referencing(observed: Option<&str>) -> Rollout {
        let mut ro: Rollout = yaml(HEALTHY);
        ro.spec.workload_ref = Some(yaml("{apiVersion: apps/v1, kind: Deployment, name: web}"));
        ro.status.workload_observed_generation = observed.map(str::to_string);
        ro.status.phase = "Healthy".into();
        ro
    }

    fn deployment(name: &str, namespace: &str, generation: i64) -> Deployment {
        yaml(&format!(
            "metadata: {{name: {name}, namespace: {namespace}, generation: {generation}}}\nspec: {{replicas: 5}}\n"
        ))
    }

    #[test]
    fn a_release_to_the_deployment_unobserved_fires_at_the_threshold() {
        // The story: the release edits the Deployment (generation 2 -> 3) while the controller
        // is stopped; workloadObservedGeneration stays at 2, the Rollout's own generation does
        // not move, and its stale status still reads Healthy.
        let ro = referencing(Some("2"));
        let deployments = [deployment("web", "prod", 3)];
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0), at(0)), None);
        assert_eq!(
            tracker.observe_workload(&ro, &deployments, at(0), at(0)),
            None
        );
        assert_eq!(tracker.next_deadline(), Some(at(60)));
        assert_eq!(
            tracker.observe_workload(&ro, &deployments, at(59), at(59)),
            None
        );
        let f = tracker
            .observe_workload(&ro, &deployments, at(60), at(60))
            .expect("fires at the threshold");
        assert_eq!(f.detector, Detector::SpecNotObserved);
        assert_eq!(f.key(), "spec-not-observed|Rollout prod/web|workloadRef");
        assert!(
            f.headline.contains("Deployment prod/web generation 3"),
            "{}",
            f.headline
        );
        assert!(
            f.evidence
                .iter()
                .any(|e| e.field == "status.workloadObservedGeneration"
                    && e.value == "2"
                    && e.since == Some(at(0)))
        );
        assert!(f.to_string().contains("status.phase (stale)"));
    }

    #[test]
    fn the_pure_function_dates_the_stall_as_told() {
        // Released twice through the Deployment while nothing observed it, for 39 days.
        let ro = referencing(Some("1"));
        let d = deployment("web", "prod", 3);
        let f =
            workload_not_observed(&ro, &d, at(0), at(39 * 86_400), TimeDelta::seconds(60)).unwrap();
        assert!(f.headline.contains("for 39d"), "{}", f.headline);
        assert_eq!(unobserved_workload_generation(&ro, &d), Some(3));
    }

    #[test]
    fn a_workload_stall_is_its_own_condition_beside_the_rollouts() {
        // Both the Rollout's spec (a steps change) and the Deployment's template changed while
        // the controller was down: two conditions of one detector, told apart by aspect.
        let mut ro = referencing(Some("2"));
        ro.metadata.generation = 4;
        let deployments = [deployment("web", "prod", 3)];
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        let spec = tracker.observe(&ro, at(0), at(0));
        let work = tracker.observe_workload(&ro, &deployments, at(0), at(0));
        assert_eq!((spec, work), (None, None));
        let spec = tracker.observe(&ro, at(61), at(61)).unwrap();
        let work = tracker
            .observe_workload(&ro, &deployments, at(61), at(61))
            .unwrap();
        assert_ne!(spec.key(), work.key());
        assert_eq!(
            tracker.workload_unobserved_since("prod", "web"),
            Some(at(0))
        );
    }

    #[test]
    fn a_controller_that_catches_up_clears_the_workload_stall() {
        // controller-lag: the Deployment edit observed 5 s later.
        let mut ro = referencing(Some("2"));
        let deployments = [deployment("web", "prod", 3)];
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(
            tracker.observe_workload(&ro, &deployments, at(0), at(0)),
            None
        );
        ro.status.workload_observed_generation = Some("3".into());
        assert_eq!(
            tracker.observe_workload(&ro, &deployments, at(65), at(65)),
            None
        );
        assert_eq!(tracker.workload_unobserved_since("prod", "web"), None);
    }

    #[test]
    fn a_rollout_without_workload_ref_or_without_its_deployment_is_not_judged() {
        let mut tracker = SpecObservationTracker::new(TimeDelta::zero());
        // Its own template: the Deployment of the same name is not its workload.
        let own: Rollout = yaml(HEALTHY);
        let deployments = [deployment("web", "prod", 9)];
        assert_eq!(
            tracker.observe_workload(&own, &deployments, at(100), at(100)),
            None
        );
        // The reference names a Deployment in another namespace, or none is listed.
        let ro = referencing(Some("1"));
        assert_eq!(
            tracker.observe_workload(&ro, &[deployment("web", "other", 9)], at(100), at(100)),
            None
        );
        assert_eq!(tracker.observe_workload(&ro, &[], at(100), at(100)), None);
        assert_eq!(tracker.next_deadline(), None);
    }

    #[test]
    fn no_workload_observed_generation_is_not_judged() {
        // Argo's isWorkloadGenerationObserved reads an unparsable value as observed: a
        // controller older than v1.1 never writes the field, a new Rollout has none yet.
        let d = deployment("web", "prod", 5);
        for observed in [None, Some(""), Some("abc")] {
            let ro = referencing(observed);
            assert_eq!(
                unobserved_workload_generation(&ro, &d),
                None,
                "{observed:?}"
            );
            assert_eq!(
                workload_not_observed(&ro, &d, at(0), at(86_400), TimeDelta::zero()),
                None
            );
        }
        // Observed at or past the Deployment's generation.
        assert_eq!(
            unobserved_workload_generation(&referencing(Some("5")), &d),
            None
        );
        assert_eq!(
            unobserved_workload_generation(&referencing(Some("6")), &d),
            None
        );
    }

    // Controller warnings.

    fn warning(reason: &str, count: i32, last: i64) -> Event {
        let mut e: Event = yaml(&format!(
            "involvedObject: {{kind: Rollout, name: web, namespace: prod}}\ntype: Warning\nreason: {reason}\nmessage: bad\ncount: {count}\n"
        ));
        e.last_timestamp = Some(at(last));
        e.first_timestamp = Some(at(0));
        e
    }

    #[test]
    fn a_repeating_warning_is_one_condition_with_a_count() {
        let ro: Rollout = yaml(HEALTHY);
        let mut events = vec![warning("ReconcileError", 3, 100)];
        let other: Event = yaml(
            "involvedObject: {kind: Rollout, name: other, namespace: prod}\ntype: Warning\nreason: X\nlastTimestamp: '2026-04-24T03:06:40Z'\n",
        );
        events.push(other);
        let findings = controller_warnings(&ro, &events, at(110));
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].key(),
            "controller-warning|Rollout prod/web|reason ReconcileError"
        );
        assert!(findings[0].headline.contains("ReconcileError ×3: bad"));
        let later = controller_warnings(&ro, &[warning("ReconcileError", 7, 200)], at(210));
        assert_eq!(later[0].key(), findings[0].key());
    }

    #[test]
    fn warnings_other_detectors_judge_and_old_ones_are_left_out() {
        let ro: Rollout = yaml(HEALTHY);
        // RolloutAborted is `rollout degraded`; AnalysisRunFailed is `analysis failed`
        // (rollout/sync.go, rollout/analysis.go emit them as Warnings).
        let covered = [
            warning("RolloutAborted", 1, 100),
            warning("AnalysisRunFailed", 1, 100),
        ];
        assert!(controller_warnings(&ro, &covered, at(110)).is_empty());
        // Quiet for 5 minutes: history, not a current condition.
        assert!(controller_warnings(&ro, &[warning("ReconcileError", 3, 100)], at(400)).is_empty());
    }
}
