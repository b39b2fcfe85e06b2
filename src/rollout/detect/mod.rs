//! Rollout judgement: detectors as pure functions of objects and the cluster's time. Each
//! returns [`Finding`]s — a condition keyed by (detector, object, aspect) with a headline and
//! its evidence (object, field, value, since when); the pipeline observer turns them into
//! alerts with a lifecycle (said once while they hold, resolved when they clear). Time is the
//! `now` the caller passes (the cluster's clock), never the wall clock.
//!
//! | detector (slug) | title | file | fires when |
//! |---|---|---|---|
//! | `spec-not-observed` | spec not observed | [`spec_observed`] | `observedGeneration < generation`, or for a workloadRef Rollout `workloadObservedGeneration <` the Deployment's generation, for longer than the threshold (cluster time) |
//! | `controller-warning` | controller warning | [`spec_observed`] | the controller emitted a Warning about the Rollout in the last 5 minutes (one per reason) |
//! | `workloadref-leak` | workloadRef leak | [`workload_ref`] | the workloadRef Deployment runs pods Argo will not scale down |
//! | `analysis-errors` | analysis errors | [`analysis_errors`] | a current run's metric has an Error streak (escalates one Error before the abort) |
//! | `analysis-no-data` | analysis: no data | [`analysis_errors`] | the latest Error is an empty result |
//! | `blind-analysis` | blind analysis query | [`blind_query`] | an analysis that gates the rollout fails on 5xx and on no 4xx |
//! | `unindexed-condition` | unindexed analysis condition | [`blind_query`] | a condition does not fit the result's shape: every measurement is Error |
//! | `analysis-not-judged` | analysis not judged | [`blind_query`] | (observation) a query or condition the model cannot follow |
//! | `canary-service-selects-stable` | canary Service selects stable pods | [`canary_service`] | mid-canary, the canary Service has no pod-template hash and selects stable pods |
//! | `active-service-selects-preview` | active Service selects preview pods | [`active_service`] | mid blue-green update, the active Service has no pod-template hash and selects preview pods |
//! | `canary-replica-math` | canary replica math | [`replica_math`] | paused at a step, pod counts differ from Argo's arithmetic ([`canary_replicas`]) |
//! | `rollout-degraded` | rollout degraded | [`phase`] | the rollout is Degraded or aborted |
//! | `analysis-failed` | analysis failed | [`phase`] | a current AnalysisRun ended Failed or Error |
//!
//! Helpers: [`gates`] (which analyses gate a Rollout, merged as Argo merges them), [`promql`]
//! (a query's value under a given status mix), [`condition`] (Argo's expr-lang conditions),
//! [`runs`] (which AnalysisRuns are current).
//!
//! Every detector's tests hold at least three positive and three negative cases taken from
//! Argo's docs, examples, tests and issues. A healthy canary produces no finding.

pub mod active_service;
pub mod analysis_errors;
pub mod blind_query;
pub mod canary_replicas;
pub mod canary_service;
pub mod condition;
pub mod gates;
pub mod phase;
pub mod promql;
pub mod replica_math;
pub mod runs;
pub mod spec_observed;
pub mod workload_ref;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{ObjectMeta, Rollout, Snapshot};

pub use active_service::active_service_selects_preview;
pub use analysis_errors::{DEFAULT_CONSECUTIVE_ERROR_LIMIT, EMPTY_VECTOR_MESSAGE, analysis_errors};
pub use blind_query::blind_analysis;
pub use canary_service::canary_service_selects_stable;
pub use phase::{analysis_failed, rollout_degraded};
pub use replica_math::canary_replica_math;
pub use spec_observed::{
    SpecObservationTracker, controller_warnings, spec_not_observed, workload_not_observed,
};
pub use workload_ref::workload_ref_leak;

/// Which detector produced a finding. Its [`Detector::slug`] names it in condition keys and in
/// scenario expectations; its [`Detector::title`] starts every headline (docs/OBSERVERS.md has
/// the same table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Detector {
    /// 1: `observedGeneration` behind `generation` for longer than the threshold.
    SpecNotObserved,
    /// 1: the controller emitted Warning events about the Rollout.
    ControllerWarning,
    /// 2: the `workloadRef` Deployment still runs pods and will never be scaled down.
    WorkloadRefLeak,
    /// 3: Error measurements counting towards `consecutiveErrorLimit`.
    AnalysisErrors,
    /// 3: the metric source returned no data (an empty result).
    AnalysisNoData,
    /// 4: no metric of an analysis that gates the rollout fails on a 4xx.
    BlindAnalysis,
    /// 4: a success/failure condition that compares the whole result vector.
    UnindexedCondition,
    /// 4: an analysis query that cannot be judged (an observation, never an alert).
    AnalysisNotJudged,
    /// 5: the canary Service also selects the stable pods.
    CanaryServiceSelectsStable,
    /// 5 (blue-green): the active Service also selects the preview pods.
    ActiveServiceSelectsPreview,
    /// 6: canary or stable pods differ from what Argo's replica arithmetic gives.
    CanaryReplicaMath,
    /// The rollout is Degraded or aborted.
    RolloutDegraded,
    /// An AnalysisRun ended Failed or Error.
    AnalysisFailed,
}

impl Detector {
    pub const ALL: [Detector; 13] = [
        Detector::SpecNotObserved,
        Detector::ControllerWarning,
        Detector::WorkloadRefLeak,
        Detector::AnalysisErrors,
        Detector::AnalysisNoData,
        Detector::BlindAnalysis,
        Detector::UnindexedCondition,
        Detector::AnalysisNotJudged,
        Detector::CanaryServiceSelectsStable,
        Detector::ActiveServiceSelectsPreview,
        Detector::CanaryReplicaMath,
        Detector::RolloutDegraded,
        Detector::AnalysisFailed,
    ];

    /// The stable name used in condition keys and scenario expectations.
    pub fn slug(self) -> &'static str {
        match self {
            Detector::SpecNotObserved => "spec-not-observed",
            Detector::ControllerWarning => "controller-warning",
            Detector::WorkloadRefLeak => "workloadref-leak",
            Detector::AnalysisErrors => "analysis-errors",
            Detector::AnalysisNoData => "analysis-no-data",
            Detector::BlindAnalysis => "blind-analysis",
            Detector::UnindexedCondition => "unindexed-condition",
            Detector::AnalysisNotJudged => "analysis-not-judged",
            Detector::CanaryServiceSelectsStable => "canary-service-selects-stable",
            Detector::ActiveServiceSelectsPreview => "active-service-selects-preview",
            Detector::CanaryReplicaMath => "canary-replica-math",
            Detector::RolloutDegraded => "rollout-degraded",
            Detector::AnalysisFailed => "analysis-failed",
        }
    }

    /// The headline's first words (the name in docs/OBSERVERS.md's table).
    pub fn title(self) -> &'static str {
        match self {
            Detector::SpecNotObserved => "spec not observed",
            Detector::ControllerWarning => "controller warning",
            Detector::WorkloadRefLeak => "workloadRef leak",
            Detector::AnalysisErrors => "analysis errors",
            Detector::AnalysisNoData => "analysis: no data",
            Detector::BlindAnalysis => "blind analysis query",
            Detector::UnindexedCondition => "unindexed analysis condition",
            Detector::AnalysisNotJudged => "analysis not judged",
            Detector::CanaryServiceSelectsStable => "canary Service selects stable pods",
            Detector::ActiveServiceSelectsPreview => "active Service selects preview pods",
            Detector::CanaryReplicaMath => "canary replica math",
            Detector::RolloutDegraded => "rollout degraded",
            Detector::AnalysisFailed => "analysis failed",
        }
    }

    /// Whether its findings are alerts (something is wrong) or observations (something could
    /// not be judged, said once).
    pub fn is_alert(self) -> bool {
        self != Detector::AnalysisNotJudged
    }

    pub fn from_slug(slug: &str) -> Option<Detector> {
        Detector::ALL.into_iter().find(|d| d.slug() == slug)
    }
}

impl serde::Serialize for Detector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.slug())
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// One fact backing a finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Evidence {
    /// `Kind namespace/name`.
    pub object: String,
    /// A field path (`status.observedGeneration`) or an event/measurement reference.
    pub field: String,
    pub value: String,
    /// Since when it has been so, when known.
    pub since: Option<DateTime<Utc>>,
}

/// Something wrong (or something that could not be judged), with the evidence an operator
/// needs to check it. A finding is a *condition*: [`Finding::key`] stays the same while it
/// holds, however its numbers move, so an observer says it once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub detector: Detector,
    /// `Kind namespace/name` of the object the finding is about.
    pub subject: String,
    /// What within the subject, when one subject can hold several conditions of a detector
    /// (`metric error-rate`, `background analysis`, `reason ReconcileError`); "" otherwise.
    pub aspect: String,
    /// The finding in a few words (the rest of the headline).
    pub headline: String,
    /// What it means and what to do, in a sentence or two.
    pub detail: String,
    pub evidence: Vec<Evidence>,
    /// How bad: a finding whose level rises above the one first reported may be escalated once.
    pub level: u8,
}

impl Finding {
    /// The condition's identity: detector, subject and aspect.
    pub fn key(&self) -> String {
        if self.aspect.is_empty() {
            format!("{}|{}", self.detector.slug(), self.subject)
        } else {
            format!("{}|{}|{}", self.detector.slug(), self.subject, self.aspect)
        }
    }

    /// The first line: `**title** — **subject**: headline`.
    pub fn headline_line(&self) -> String {
        format!(
            "**{}** — **{}**: {}",
            self.detector.title(),
            self.subject,
            self.headline
        )
    }
}

impl fmt::Display for Finding {
    /// Markdown, ready to post: the headline, the detail, then one bullet per piece of
    /// evidence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.headline_line())?;
        if !self.detail.is_empty() {
            writeln!(f, "\n{}", self.detail)?;
        }
        if !self.evidence.is_empty() {
            writeln!(f)?;
        }
        for e in &self.evidence {
            write!(f, "- {} `{}` = `{}`", e.object, e.field, code(&e.value))?;
            if let Some(since) = e.since {
                write!(f, " (since {})", since.format("%Y-%m-%dT%H:%M:%SZ"))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// A value inside an inline code span: backticks would end it, newlines break the bullet.
fn code(value: &str) -> String {
    value.replace('`', "'").replace('\n', " ")
}

pub(crate) fn object(kind: &str, meta: &ObjectMeta) -> String {
    if meta.namespace.is_empty() {
        format!("{kind} {}", meta.name)
    } else {
        format!("{kind} {}/{}", meta.namespace, meta.name)
    }
}

pub(crate) fn evidence(
    object: &str,
    field: &str,
    value: impl ToString,
    since: Option<DateTime<Utc>>,
) -> Evidence {
    Evidence {
        object: object.to_string(),
        field: field.to_string(),
        value: value.to_string(),
        since,
    }
}

/// Parses a Go duration (`30s`, `1m30s`, `1.5h`, `500ms`), the format Argo uses for intervals.
pub fn parse_go_duration(text: &str) -> Option<TimeDelta> {
    let mut rest = text.trim();
    if rest == "0" {
        return Some(TimeDelta::zero());
    }
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    Some(TimeDelta::milliseconds((total * 1000.0).round() as i64))
}
/// Runs every detector but the time-threshold one for `ro` over a namespace snapshot at cluster
/// time `now` (None while the cluster's clock is unknown: time-bound findings wait). Detector
/// 1's threshold needs history: feed [`SpecObservationTracker::observe`] alongside.
pub fn rollout_findings(
    snapshot: &Snapshot,
    ro: &Rollout,
    now: Option<DateTime<Utc>>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(rollout_degraded(ro));
    if let Some(now) = now {
        findings.extend(controller_warnings(ro, &snapshot.events, now));
    }
    findings.extend(workload_ref_leak(ro, &snapshot.deployments, &snapshot.pods));
    let runs = runs::current(&runs::rollout_runs(snapshot, ro));
    for run in &runs {
        findings.extend(analysis_failed(run));
        findings.extend(analysis_errors(run, now));
    }
    findings.extend(blind_analysis(ro, &snapshot.analysis_templates));
    findings.extend(canary_service_selects_stable(
        ro,
        &snapshot.services,
        &snapshot.pods,
    ));
    findings.extend(active_service_selects_preview(
        ro,
        &snapshot.services,
        &snapshot.pods,
    ));
    findings.extend(canary_replica_math(ro, &snapshot.replica_sets));
    findings
}

/// True when every label of a (non-empty) equality selector is on the object.
pub(crate) fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::rollout::model::ReplicaSet;

    pub fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_saphyr::from_str(text).unwrap()
    }

    pub fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_777_000_000 + secs, 0).unwrap()
    }

    /// A canary at 20% of 5 replicas, paused at its step, everything in order.
    pub const HEALTHY: &str = "
metadata: {name: web, namespace: prod, uid: u1, generation: 3}
spec:
  replicas: 5
  strategy:
    canary:
      canaryService: web-canary
      stableService: web-stable
      steps: [{setWeight: 20}, {pause: {}}, {setWeight: 50}, {pause: {}}]
status:
  observedGeneration: '3'
  currentStepIndex: 1
  currentPodHash: new
  stableRS: old
  replicas: 5
  availableReplicas: 5
  pauseConditions: [{reason: CanaryPauseStep}]
";

    pub fn replica_sets(canary: (i32, i32), stable: (i32, i32)) -> Vec<ReplicaSet> {
        vec![
            yaml(&format!(
                "metadata: {{name: web-new, namespace: prod, labels: {{rollouts-pod-template-hash: new}}, ownerReferences: [{{uid: u1}}]}}\nstatus: {{replicas: {}, availableReplicas: {}}}\n",
                canary.0, canary.1
            )),
            yaml(&format!(
                "metadata: {{name: web-old, namespace: prod, labels: {{rollouts-pod-template-hash: old}}, ownerReferences: [{{uid: u1}}]}}\nstatus: {{replicas: {}, availableReplicas: {}}}\n",
                stable.0, stable.1
            )),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::rollout::model::{AnalysisRun, AnalysisTemplate, Service};

    #[test]
    fn a_healthy_canary_produces_no_finding() {
        let ro: Rollout = yaml(HEALTHY);
        let services: Vec<Service> = vec![yaml(
            "metadata: {name: web-canary, namespace: prod}\nspec: {selector: {app: web, rollouts-pod-template-hash: new}}\n",
        )];
        let template: AnalysisTemplate = yaml(
            r#"
metadata: {name: error-rate, namespace: prod}
spec:
  metrics:
  - name: error-ratio
    interval: 1m
    successCondition: result[0] < 0.05
    provider:
      prometheus:
        query: sum(rate(litellm_request_total{service="{{args.service}}",status!~"2..|3.."}[5m])) / sum(rate(litellm_request_total{service="{{args.service}}"}[5m]))
"#,
        );
        let run: AnalysisRun = yaml(
            "metadata: {name: r, namespace: prod}\nstatus: {phase: Successful, metricResults: [{name: error-ratio, successful: 3, measurements: [{phase: Successful}, {phase: Successful}]}]}\n",
        );
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0), at(0)), None);
        assert_eq!(tracker.observe(&ro, at(600), at(600)), None);
        assert!(controller_warnings(&ro, &[], at(600)).is_empty());
        assert_eq!(workload_ref_leak(&ro, &[], &[]), None);
        assert!(analysis_errors(&run, None).is_empty());
        assert!(blind_analysis(&ro, std::slice::from_ref(&template)).is_empty());
        assert_eq!(canary_service_selects_stable(&ro, &services, &[]), None);
        assert_eq!(
            canary_replica_math(&ro, &replica_sets((1, 1), (4, 4))),
            None
        );
        let snapshot = Snapshot {
            rollouts: vec![ro.clone()],
            replica_sets: replica_sets((1, 1), (4, 4)),
            analysis_runs: vec![run],
            analysis_templates: vec![template],
            services,
            ..Snapshot::default()
        };
        assert!(rollout_findings(&snapshot, &ro, Some(at(600))).is_empty());
    }

    #[test]
    fn rollout_findings_gathers_every_detector() {
        let mut ro: Rollout = yaml(HEALTHY);
        ro.metadata.uid = "u1".into();
        let run: AnalysisRun = yaml(
            "metadata: {name: r, namespace: prod, ownerReferences: [{uid: u1}]}\nstatus: {metricResults: [{name: m, consecutiveError: 2, measurements: [{phase: Error}, {phase: Error}]}]}\n",
        );
        let other: AnalysisRun = yaml(
            "metadata: {name: x, namespace: prod, ownerReferences: [{uid: someone-else}]}\nstatus: {metricResults: [{name: m, consecutiveError: 2}]}\n",
        );
        let snapshot = Snapshot {
            replica_sets: replica_sets((2, 2), (3, 3)),
            analysis_runs: vec![run, other],
            ..Snapshot::default()
        };
        let detectors: Vec<Detector> = rollout_findings(&snapshot, &ro, None)
            .iter()
            .map(|f| f.detector)
            .collect();
        assert_eq!(
            detectors,
            vec![Detector::AnalysisErrors, Detector::CanaryReplicaMath]
        );
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(parse_go_duration("30s"), Some(TimeDelta::seconds(30)));
        assert_eq!(parse_go_duration("1m30s"), Some(TimeDelta::seconds(90)));
        assert_eq!(parse_go_duration("1.5h"), Some(TimeDelta::minutes(90)));
        assert_eq!(
            parse_go_duration("500ms"),
            Some(TimeDelta::milliseconds(500))
        );
        assert_eq!(parse_go_duration("5 minutes"), None);
    }
}
