//! Detector 1: the controller has not observed the Rollout's spec (`observedGeneration` behind
//! `generation`) for longer than a threshold of cluster time — the story's 39-day "waiting for
//! rollout spec update to be observed", which looked idle because the stale status still read
//! Healthy — and Warning events the controller keeps emitting about the Rollout.
//!
//! Time: a threshold must never fire before it is reached. The caller passes two readings of
//! the cluster's clock: the earliest the cluster's now can be (thresholds compare against it)
//! and the latest (a stall is dated from it when first seen), so clock uncertainty only ever
//! delays a finding.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use super::{Detector, Finding, evidence, object};
use crate::rollout::model::{Event, Rollout};
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
