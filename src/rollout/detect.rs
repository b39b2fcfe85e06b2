//! Detectors for the failures of the story (DESIGN.md "Detectors" 1–6), as pure functions over
//! the objects. Each returns [`Finding`]s carrying their evidence (object, field, value, since
//! when); the pipeline observer posts them as alerts. Time is whatever `now` the caller passes
//! (the cluster's clock, read from object and Event timestamps), never the wall clock.
//!
//! A healthy canary produces no finding from any detector.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use promql_parser::label::Matcher;
use promql_parser::parser::{self, Expr};

use super::model::Snapshot;
use super::model::{
    AnalysisRun, AnalysisTemplate, Deployment, Event, Metric, ObjectMeta, POD_TEMPLATE_HASH_LABEL,
    Pod, ReplicaSet, Rollout, Service,
};
use super::view;

/// Which detector produced a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Detector {
    /// 1: `observedGeneration` behind `generation` for longer than the threshold.
    SpecNotObserved,
    /// 1: the controller emitted Warning events about the Rollout.
    ControllerWarning,
    /// 2: the `workloadRef` Deployment still runs pods and will never be scaled down.
    WorkloadRefLeak,
    /// 3: Error measurements counting towards `consecutiveErrorLimit`.
    AnalysisErrors,
    /// 3: the metric query returned an empty vector.
    AnalysisNoData,
    /// 4: an error-ratio query that only counts 5xx.
    BlindAnalysisQuery,
    /// 4: a query Argo will fail to run because it does not parse.
    InvalidAnalysisQuery,
    /// 4: a success/failure condition that compares the whole result vector.
    UnindexedCondition,
    /// 5: the canary Service also selects the stable pods.
    CanaryServiceSelectsStable,
    /// 6: canary pod count or traffic share doesn't match the step's weight.
    CanaryReplicaMath,
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

/// Something wrong, with the evidence an operator needs to check it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    pub detector: Detector,
    /// `Kind namespace/name` of the object the finding is about.
    pub subject: String,
    /// One or two sentences: what is wrong and what it means.
    pub summary: String,
    pub evidence: Vec<Evidence>,
}

impl fmt::Display for Finding {
    /// Markdown, ready to post: the summary, then one bullet per piece of evidence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "**{}**: {}", self.subject, self.summary)?;
        for e in &self.evidence {
            write!(f, "- {} `{}` = `{}`", e.object, e.field, e.value)?;
            if let Some(since) = e.since {
                write!(f, " (since {})", since.format("%Y-%m-%dT%H:%M:%SZ"))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

fn object(kind: &str, meta: &ObjectMeta) -> String {
    if meta.namespace.is_empty() {
        format!("{kind} {}", meta.name)
    } else {
        format!("{kind} {}/{}", meta.namespace, meta.name)
    }
}

fn evidence(
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

// ---------------------------------------------------------------------------------------------
// 1. Spec not observed

/// Finding for a rollout whose spec has gone unobserved since `since` for at least `threshold`.
/// This is how the story's 39-day "waiting for rollout spec update to be observed" hid: the
/// status still showed the old, healthy-looking phase.
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
    let observed = ro.status.observed_generation.clone().unwrap_or_default();
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
        summary: format!(
            "the controller has not observed spec generation {} for {} (observedGeneration {observed}); \
             nothing of this rollout is executing. Check that the Argo Rollouts controller runs and watches this namespace.",
            ro.metadata.generation,
            view::human_duration(now - since),
        ),
        evidence: ev,
    })
}

/// Remembers since when each rollout's spec has been unobserved, so a caller that sees a
/// stream of updates can ask [`spec_not_observed`] with the right `since`.
#[derive(Debug, Clone)]
pub struct SpecObservationTracker {
    threshold: TimeDelta,
    /// `namespace/name` -> (first time seen unobserved, already reported).
    unobserved: BTreeMap<String, (DateTime<Utc>, bool)>,
}

impl SpecObservationTracker {
    pub fn new(threshold: TimeDelta) -> Self {
        Self {
            threshold,
            unobserved: BTreeMap::new(),
        }
    }

    /// Feeds one look at a rollout at cluster time `now`. Returns a finding once per stall: the
    /// first time the threshold is crossed. Observing the spec again resets the rollout.
    pub fn observe(&mut self, ro: &Rollout, now: DateTime<Utc>) -> Option<Finding> {
        let key = format!("{}/{}", ro.metadata.namespace, ro.metadata.name);
        if view::is_generation_observed(ro) {
            self.unobserved.remove(&key);
            return None;
        }
        let (since, reported) = self.unobserved.entry(key).or_insert((now, false));
        if *reported {
            return None;
        }
        let finding = spec_not_observed(ro, *since, now, self.threshold)?;
        *reported = true;
        Some(finding)
    }

    /// Since when `namespace/name` has been unobserved, if it is.
    pub fn unobserved_since(&self, namespace: &str, name: &str) -> Option<DateTime<Utc>> {
        self.unobserved
            .get(&format!("{namespace}/{name}"))
            .map(|(t, _)| *t)
    }
}

/// One finding per Warning reason the controller emitted about the rollout.
pub fn controller_warnings(ro: &Rollout, events: &[Event]) -> Vec<Finding> {
    let subject = object("Rollout", &ro.metadata);
    let mut by_reason: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for e in events {
        let about = &e.involved_object;
        let same = about.kind == "Rollout"
            && about.name == ro.metadata.name
            && (about.namespace.is_empty() || about.namespace == ro.metadata.namespace)
            && (about.uid.is_empty() || ro.metadata.uid.is_empty() || about.uid == ro.metadata.uid);
        if same && e.type_ == "Warning" {
            by_reason.entry(&e.reason).or_default().push(e);
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, events)| {
            let count: i32 = events.iter().map(|e| e.count.max(1)).sum();
            let first = events
                .iter()
                .filter_map(|e| e.first_timestamp.or(e.last_seen()))
                .min();
            let latest = events.iter().max_by_key(|e| e.last_seen()).copied();
            let message = latest.map(|e| e.message.clone()).unwrap_or_default();
            Finding {
                detector: Detector::ControllerWarning,
                subject: subject.clone(),
                summary: format!("controller warning {reason} ×{count}: {message}"),
                evidence: vec![evidence(
                    &subject,
                    &format!("event {reason}"),
                    &message,
                    first,
                )],
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 2. workloadRef leak

fn labels_match(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// The Deployment named by `spec.workloadRef` still runs pods while `workloadRef.scaleDown` is
/// absent or `never`: it will serve traffic beside the Rollout's pods forever.
pub fn workload_ref_leak(
    ro: &Rollout,
    deployments: &[Deployment],
    pods: &[Pod],
) -> Option<Finding> {
    let wref = ro.spec.workload_ref.as_ref()?;
    if wref.kind != "Deployment" {
        return None;
    }
    let scale_down = wref.scale_down.as_deref().unwrap_or("never");
    if scale_down != "never" {
        return None;
    }
    let deploy = deployments
        .iter()
        .find(|d| d.metadata.name == wref.name && d.metadata.namespace == ro.metadata.namespace)?;
    // The Rollout's pods copy the Deployment's labels; its own carry the rollouts hash. Pods of
    // other controllers that share the labels (a migration Job's, say) are not the Deployment's:
    // only ReplicaSet-owned pods (or unowned ones, as in hand-written fixtures) count.
    let deploy_pods = pods
        .iter()
        .filter(|p| {
            p.metadata.namespace == deploy.metadata.namespace
                && p.metadata.deletion_timestamp.is_none()
                && !p.metadata.labels.contains_key(POD_TEMPLATE_HASH_LABEL)
                && (p.metadata.owner_references.is_empty()
                    || p.metadata
                        .owner_references
                        .iter()
                        .any(|o| o.kind == "ReplicaSet"))
                && labels_match(&deploy.spec.selector.match_labels, &p.metadata.labels)
        })
        .count();
    let running = if pods.is_empty() {
        usize::try_from(deploy.status.replicas).unwrap_or(0)
    } else {
        deploy_pods
    };
    if running == 0 {
        return None;
    }
    let subject = object("Rollout", &ro.metadata);
    let deploy_obj = object("Deployment", &deploy.metadata);
    Some(Finding {
        detector: Detector::WorkloadRefLeak,
        subject: subject.clone(),
        summary: format!(
            "workloadRef Deployment {} still runs {running} pod(s) beside the Rollout's {} and \
             workloadRef.scaleDown is `{scale_down}`, so it is never scaled down: both serve traffic. \
             Set workloadRef.scaleDown to onsuccess or progressively, or scale the Deployment to 0.",
            deploy.metadata.name, ro.status.replicas,
        ),
        evidence: vec![
            evidence(
                &subject,
                "spec.workloadRef.scaleDown",
                wref.scale_down.as_deref().unwrap_or("(absent: never)"),
                None,
            ),
            evidence(&deploy_obj, "status.replicas", deploy.status.replicas, None),
            evidence(&deploy_obj, "pods running", running, None),
            evidence(&subject, "status.replicas", ro.status.replicas, None),
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// 3. Analysis errors vs inconclusive

/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i32 = 4;
/// The message Argo's expression evaluation gives when `result[0]` meets an empty vector.
pub const EMPTY_VECTOR_MESSAGE: &str = "reflect: slice index out of range";

fn metric_spec<'a>(run: &'a AnalysisRun, name: &str) -> Option<&'a Metric> {
    run.spec.metrics.iter().find(|m| m.name == name)
}

/// Error measurements against `consecutiveErrorLimit` (default 4: the run errors on the 5th),
/// with the time left before the abort, and empty-vector errors named for what they are.
pub fn analysis_errors(run: &AnalysisRun) -> Vec<Finding> {
    let subject = object("AnalysisRun", &run.metadata);
    let mut findings = Vec::new();
    for mr in &run.status.metric_results {
        let spec = metric_spec(run, &mr.name);
        let limit = spec
            .and_then(|m| m.consecutive_error_limit.as_deref())
            .and_then(|l| l.parse().ok())
            .unwrap_or(DEFAULT_CONSECUTIVE_ERROR_LIMIT);
        let interval = spec
            .and_then(|m| m.interval.as_deref())
            .and_then(parse_go_duration);
        // The current streak: trailing Error measurements (the status counter when it is set).
        let streak: Vec<_> = mr
            .measurements
            .iter()
            .rev()
            .take_while(|m| m.phase == "Error")
            .collect();
        let consecutive = mr
            .consecutive_error
            .max(i32::try_from(streak.len()).unwrap_or(i32::MAX));
        let metric_field = format!("status.metricResults[{}]", mr.name);
        let last = streak.first();
        let first_of_streak = streak.last().and_then(|m| m.started_at.or(m.finished_at));
        if consecutive > 0 {
            let tripped = consecutive > limit;
            let left = limit + 1 - consecutive;
            let summary = if tripped {
                format!(
                    "metric `{}` errored {consecutive} times in a row (> consecutiveErrorLimit {limit}): the analysis is Error and the rollout aborts",
                    mr.name
                )
            } else {
                let eta = interval
                    .map(|i| format!(", in ~{}", view::human_duration(i * left)))
                    .unwrap_or_default();
                format!(
                    "metric `{}` errored {consecutive} time(s) in a row; {left} more and the analysis errors and aborts the rollout (consecutiveErrorLimit {limit}){eta}",
                    mr.name
                )
            };
            let mut ev = vec![evidence(
                &subject,
                &format!("{metric_field}.consecutiveError"),
                consecutive,
                first_of_streak,
            )];
            if let Some(m) = last {
                ev.push(evidence(
                    &subject,
                    &format!("{metric_field}.measurements[-1].message"),
                    &m.message,
                    m.finished_at,
                ));
            }
            if let Some(i) = interval {
                ev.push(evidence(
                    &subject,
                    &format!("spec.metrics[{}].interval", mr.name),
                    view::human_duration(i),
                    None,
                ));
            }
            findings.push(Finding {
                detector: Detector::AnalysisErrors,
                subject: subject.clone(),
                summary,
                evidence: ev,
            });
        }
        let no_data: Vec<_> = mr
            .measurements
            .iter()
            .filter(|m| m.message.contains(EMPTY_VECTOR_MESSAGE))
            .collect();
        if let (Some(first), Some(latest)) = (no_data.first(), no_data.last()) {
            findings.push(Finding {
                detector: Detector::AnalysisNoData,
                subject: subject.clone(),
                summary: format!(
                    "metric `{}`: the metric source returns no data (empty result vector, {} measurement(s)); \
                     `result[0]` fails, so each is assessed Error, not Inconclusive. Check the query's metric and labels exist.",
                    mr.name,
                    no_data.len()
                ),
                evidence: vec![evidence(
                    &subject,
                    &format!("{metric_field}.measurements[].message"),
                    &latest.message,
                    first.started_at.or(first.finished_at),
                )],
            });
        }
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// 4. Blind analysis queries and conditions

/// Labels that carry an HTTP status code or class.
const STATUS_LABELS: &[&str] = &[
    "status",
    "code",
    "status_code",
    "response_code",
    "http_status",
    "http_status_code",
    "http_code",
    "response_code_class",
    "status_class",
];

/// Replaces Argo `{{args.x}}` placeholders so the PromQL parses (they sit inside strings or
/// stand for numbers; a plain number fits both).
fn without_placeholders(query: &str) -> String {
    let mut out = String::with_capacity(query.len());
    let mut rest = query;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push('1');
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn selectors<'a>(expr: &'a Expr, out: &mut Vec<&'a promql_parser::parser::VectorSelector>) {
    match expr {
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Subquery(s) => selectors(&s.expr, out),
        Expr::VectorSelector(v) => out.push(v),
        Expr::MatrixSelector(m) => out.push(&m.vs),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Numerators of every division in the expression (the "errors" side of an error ratio).
fn numerators<'a>(expr: &'a Expr, out: &mut Vec<&'a Expr>) {
    match expr {
        Expr::Binary(b) => {
            if b.op.to_string() == "/" {
                out.push(&b.lhs);
            }
            numerators(&b.lhs, out);
            numerators(&b.rhs, out);
        }
        Expr::Aggregate(a) => numerators(&a.expr, out),
        Expr::Unary(u) => numerators(&u.expr, out),
        Expr::Paren(p) => numerators(&p.expr, out),
        Expr::Subquery(s) => numerators(&s.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| numerators(a, out)),
        _ => {}
    }
}

fn all_matchers(v: &promql_parser::parser::VectorSelector) -> impl Iterator<Item = &Matcher> {
    v.matchers
        .matchers
        .iter()
        .chain(v.matchers.or_matchers.iter().flatten())
}

/// A status matcher that lets 5xx through but no 4xx: it only sees server errors.
fn only_5xx(m: &Matcher) -> bool {
    if !STATUS_LABELS.contains(&m.name.as_str()) {
        return false;
    }
    let class = m.name.ends_with("_class");
    let (four, five): (&[&str], &[&str]) = if class {
        (&["4", "4xx"], &["5", "5xx"])
    } else {
        (
            &["400", "401", "403", "404", "429"],
            &["500", "502", "503", "504"],
        )
    };
    five.iter().any(|v| m.is_match(v)) && !four.iter().any(|v| m.is_match(v))
}

/// Finds the whole-vector uses of `result` in a condition (`result < 0.05` rather than
/// `result[0] < 0.05`); guards such as `len(result)` are fine.
fn unindexed_result(condition: &str) -> bool {
    let bytes = condition.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut from = 0;
    while let Some(pos) = condition[from..].find("result") {
        let start = from + pos;
        let end = start + "result".len();
        from = end;
        if (start > 0 && ident(bytes[start - 1])) || (end < bytes.len() && ident(bytes[end])) {
            continue;
        }
        let before = condition[..start].trim_end();
        if [
            "len(", "default(", "isNil(", "isNaN(", "all(", "any(", "filter(", "map(",
        ]
        .iter()
        .any(|f| before.ends_with(f))
        {
            continue;
        }
        if !condition[end..].trim_start().starts_with('[') {
            return true;
        }
    }
    false
}

/// Flags metrics of a template whose error ratio only counts 5xx (404s and 429s then look like
/// success), whose query doesn't parse, or whose conditions compare a whole result vector.
pub fn blind_analysis_query(template: &AnalysisTemplate) -> Vec<Finding> {
    let subject = object("AnalysisTemplate", &template.metadata);
    let mut findings = Vec::new();
    for metric in &template.spec.metrics {
        let field = format!("spec.metrics[{}]", metric.name);
        let Some(prom) = &metric.provider.prometheus else {
            continue;
        };
        match parser::parse(&without_placeholders(&prom.query)) {
            Err(err) => findings.push(Finding {
                detector: Detector::InvalidAnalysisQuery,
                subject: subject.clone(),
                summary: format!("metric `{}`: the Prometheus query does not parse ({err}); every measurement will be Error", metric.name),
                evidence: vec![evidence(&subject, &format!("{field}.provider.prometheus.query"), &prom.query, None)],
            }),
            Ok(expr) => {
                let mut tops = Vec::new();
                numerators(&expr, &mut tops);
                if tops.is_empty() {
                    tops.push(&expr);
                }
                let mut blind: Vec<String> = Vec::new();
                for top in tops {
                    let mut vs = Vec::new();
                    selectors(top, &mut vs);
                    for v in vs {
                        for m in all_matchers(v).filter(|m| only_5xx(m)) {
                            blind.push(format!("{}{{{}}}", v.name.as_deref().unwrap_or(""), m));
                        }
                    }
                }
                if !blind.is_empty() {
                    findings.push(Finding {
                        detector: Detector::BlindAnalysisQuery,
                        subject: subject.clone(),
                        summary: format!(
                            // Matchers in code spans: a bare `=~"5.."` pair of tildes
                            // renders as strikethrough on GitHub and on the page.
                            "metric `{}` counts only 5xx as errors ({}): 404s and 429s count as success, so a route failing with 4xx passes analysis. \
                             Count everything that is not 2xx/3xx, e.g. `status!~\"2..|3..\"`.",
                            metric.name,
                            blind.iter().map(|b| format!("`{b}`")).collect::<Vec<_>>().join(", ")
                        ),
                        evidence: vec![evidence(&subject, &format!("{field}.provider.prometheus.query"), &prom.query, None)],
                    });
                }
            }
        }
        for (name, condition) in [
            ("successCondition", &metric.success_condition),
            ("failureCondition", &metric.failure_condition),
        ] {
            if unindexed_result(condition) {
                findings.push(Finding {
                    detector: Detector::UnindexedCondition,
                    subject: subject.clone(),
                    summary: format!(
                        "metric `{}` {name} compares the whole result vector; a Prometheus vector needs `result[0]`, otherwise every measurement is Error. \
                         Note also that an empty result makes `result[0]` fail: that is assessed Error (counted against consecutiveErrorLimit), not Inconclusive.",
                        metric.name
                    ),
                    evidence: vec![evidence(&subject, &format!("{field}.{name}"), condition, None)],
                });
            }
        }
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// 5. Canary Service selecting stable pods

/// Without traffic routing, the canary Service must select only canary pods; with no
/// `rollouts-pod-template-hash` in its selector it also selects the stable ones.
pub fn canary_service_selects_stable(
    ro: &Rollout,
    services: &[Service],
    pods: &[Pod],
) -> Option<Finding> {
    let canary = ro.spec.strategy.canary.as_ref()?;
    if canary.traffic_routing.is_some() || canary.canary_service.is_empty() {
        return None;
    }
    let svc = services.iter().find(|s| {
        s.metadata.name == canary.canary_service && s.metadata.namespace == ro.metadata.namespace
    })?;
    if svc.spec.selector.contains_key(POD_TEMPLATE_HASH_LABEL) {
        return None;
    }
    let stable = &ro.status.stable_rs;
    let stable_pods = pods
        .iter()
        .filter(|p| {
            p.metadata.namespace == svc.metadata.namespace
                && !stable.is_empty()
                && p.metadata.pod_template_hash() == stable
                && labels_match(&svc.spec.selector, &p.metadata.labels)
        })
        .count();
    let subject = object("Rollout", &ro.metadata);
    let svc_obj = object("Service", &svc.metadata);
    let selector: Vec<String> = svc
        .spec
        .selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    Some(Finding {
        detector: Detector::CanaryServiceSelectsStable,
        subject: subject.clone(),
        summary: format!(
            "canary Service {} has no {POD_TEMPLATE_HASH_LABEL} in its selector, so it also selects the stable pods{}; \
             what it measures is not the canary. The controller adds the hash when it reconciles: check it observes this rollout.",
            svc.metadata.name,
            if pods.is_empty() {
                String::new()
            } else {
                format!(" ({stable_pods} stable pod(s) now)")
            }
        ),
        evidence: vec![
            evidence(&svc_obj, "spec.selector", selector.join(","), None),
            evidence(
                &subject,
                "spec.strategy.canary.trafficRouting",
                "(absent)",
                None,
            ),
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// 6. Replica-count canary math

/// Traffic share (percentage points) a replica-based canary may be off its weight before it is
/// reported.
pub const SHARE_TOLERANCE: i32 = 10;

/// For a replica-based canary (no traffic routing) mid-rollout: the expected canary pods
/// `ceil(weight × replicas / 100)` against the canary ReplicaSet once the step is reached
/// (paused), and the share of pods the canary really has against the weight once all of them
/// are available.
pub fn canary_replica_math(ro: &Rollout, replica_sets: &[ReplicaSet]) -> Option<Finding> {
    let canary = ro.spec.strategy.canary.as_ref()?;
    if canary.traffic_routing.is_some() || ro.status.abort || view::current_step(ro).is_none() {
        return None;
    }
    let st = &ro.status;
    if st.current_pod_hash.is_empty() || st.current_pod_hash == st.stable_rs {
        return None;
    }
    let owned: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| rs.metadata.is_owned_by(&ro.metadata.uid))
        .collect();
    let canary_rs = owned
        .iter()
        .find(|rs| view::tags(ro, &rs.metadata).canary)?;
    let stable_rs = owned.iter().find(|rs| view::tags(ro, &rs.metadata).stable);
    let weight = view::set_weight(ro);
    let replicas = ro.desired_replicas();
    let expected = (i64::from(weight) * i64::from(replicas) + 99) / 100;
    let observed = i64::from(canary_rs.status.replicas);
    let canary_available = canary_rs.status.available_replicas;
    let stable_available = stable_rs.map_or(0, |rs| rs.status.available_replicas);
    let total = canary_available + stable_available;
    // Only once every pod is available: a canary still pulling its image is an availability
    // problem (the view shows it), not replica math.
    let settled = canary_available == canary_rs.status.replicas
        && stable_rs.is_none_or(|rs| rs.status.available_replicas == rs.status.replicas);
    let share = (settled && total > 0).then(|| canary_available * 100 / total);
    let paused = !st.pause_conditions.is_empty() || ro.spec.paused;
    let count_off = paused && observed != expected;
    let share_off = share.is_some_and(|s| (s - weight).abs() > SHARE_TOLERANCE);
    if !count_off && !share_off {
        return None;
    }
    let subject = object("Rollout", &ro.metadata);
    let rs_obj = object("ReplicaSet", &canary_rs.metadata);
    let mut problems = Vec::new();
    if count_off {
        problems.push(format!(
            "{observed} canary pod(s) where ceil({weight}% × {replicas}) = {expected} are expected"
        ));
    }
    if let Some(share) = share.filter(|_| share_off) {
        problems.push(format!(
            "the canary has {share}% of available pods ({canary_available} of {total}) for SetWeight {weight}%"
        ));
    }
    Some(Finding {
        detector: Detector::CanaryReplicaMath,
        subject: subject.clone(),
        summary: format!(
            "replica-based canary math is off: {}. Without traffic routing the weight is only as fine as the replica count; raise spec.replicas or use trafficRouting.",
            problems.join("; ")
        ),
        evidence: vec![
            evidence(&subject, "spec.replicas", replicas, None),
            evidence(&subject, "setWeight (current step)", weight, None),
            evidence(&rs_obj, "status.replicas", observed, None),
            evidence(&rs_obj, "status.availableReplicas", canary_available, None),
            evidence(&subject, "stable availableReplicas", stable_available, None),
        ],
    })
}

// ---------------------------------------------------------------------------------------------
// All at once

/// Runs every stateless detector for `ro` over a namespace snapshot: controller warnings,
/// workloadRef leak, analysis errors of the rollout's AnalysisRuns (and its Experiments'),
/// the snapshot's AnalysisTemplates, the canary Service and the replica math. Detector 1's
/// time threshold needs history: feed [`SpecObservationTracker::observe`] alongside.
pub fn rollout_findings(snapshot: &Snapshot, ro: &Rollout) -> Vec<Finding> {
    let uid = &ro.metadata.uid;
    let experiments: Vec<&str> = snapshot
        .experiments
        .iter()
        .filter(|e| e.metadata.is_owned_by(uid))
        .map(|e| e.metadata.uid.as_str())
        .collect();
    let mut findings = controller_warnings(ro, &snapshot.events);
    findings.extend(workload_ref_leak(ro, &snapshot.deployments, &snapshot.pods));
    for run in &snapshot.analysis_runs {
        let ours = run.metadata.is_owned_by(uid)
            || experiments.iter().any(|e| run.metadata.is_owned_by(e));
        if ours {
            findings.extend(analysis_errors(run));
        }
    }
    for template in &snapshot.analysis_templates {
        findings.extend(blind_analysis_query(template));
    }
    findings.extend(canary_service_selects_stable(
        ro,
        &snapshot.services,
        &snapshot.pods,
    ));
    findings.extend(canary_replica_math(ro, &snapshot.replica_sets));
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml<T: serde::de::DeserializeOwned>(text: &str) -> T {
        serde_saphyr::from_str(text).unwrap()
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_777_000_000 + secs, 0).unwrap()
    }

    /// A canary at 20% of 5 replicas, paused at its step, everything in order.
    const HEALTHY: &str = "
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

    fn replica_sets(canary: (i32, i32), stable: (i32, i32)) -> Vec<ReplicaSet> {
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
        assert_eq!(tracker.observe(&ro, at(0)), None);
        assert_eq!(tracker.observe(&ro, at(600)), None);
        assert!(controller_warnings(&ro, &[]).is_empty());
        assert_eq!(workload_ref_leak(&ro, &[], &[]), None);
        assert!(analysis_errors(&run).is_empty());
        assert!(
            blind_analysis_query(&template).is_empty(),
            "{:?}",
            blind_analysis_query(&template)
        );
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
        assert!(rollout_findings(&snapshot, &ro).is_empty());
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
        let detectors: Vec<Detector> = rollout_findings(&snapshot, &ro)
            .iter()
            .map(|f| f.detector)
            .collect();
        assert_eq!(
            detectors,
            vec![Detector::AnalysisErrors, Detector::CanaryReplicaMath]
        );
    }

    #[test]
    fn spec_not_observed_fires_once_after_the_threshold_in_cluster_time() {
        let mut ro: Rollout = yaml(HEALTHY);
        ro.metadata.generation = 4;
        ro.status.phase = "Healthy".into();
        let mut tracker = SpecObservationTracker::new(TimeDelta::seconds(60));
        assert_eq!(tracker.observe(&ro, at(0)), None);
        assert_eq!(tracker.observe(&ro, at(59)), None);
        let finding = tracker
            .observe(&ro, at(60))
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
        assert_eq!(
            tracker.observe(&ro, at(120)),
            None,
            "reported once per stall"
        );
        ro.status.observed_generation = Some("4".into());
        assert_eq!(tracker.observe(&ro, at(130)), None);
        assert_eq!(tracker.unobserved_since("prod", "web"), None);
    }

    #[test]
    fn controller_warnings_are_grouped_by_reason() {
        let ro: Rollout = yaml(HEALTHY);
        let events: Vec<Event> = vec![
            yaml(
                "involvedObject: {kind: Rollout, name: web, namespace: prod}\ntype: Warning\nreason: InvalidSpec\nmessage: bad\ncount: 3\nfirstTimestamp: '2026-05-04T17:00:00Z'\nlastTimestamp: '2026-05-04T17:05:00Z'\n",
            ),
            yaml(
                "involvedObject: {kind: Rollout, name: web, namespace: prod}\ntype: Normal\nreason: RolloutUpdated\n",
            ),
            yaml(
                "involvedObject: {kind: Rollout, name: other, namespace: prod}\ntype: Warning\nreason: X\n",
            ),
        ];
        let findings = controller_warnings(&ro, &events);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].summary.contains("InvalidSpec ×3: bad"),
            "{}",
            findings[0].summary
        );
    }

    #[test]
    fn workload_ref_leak_fires_only_when_scale_down_is_never() {
        let mut ro: Rollout = yaml(HEALTHY);
        let deploy: Deployment = yaml(
            "metadata: {name: web, namespace: prod}\nspec: {replicas: 5, selector: {matchLabels: {app: web}}}\nstatus: {replicas: 5}\n",
        );
        let pods: Vec<Pod> = vec![
            yaml(
                "metadata: {name: d1, namespace: prod, labels: {app: web, pod-template-hash: abc}}\n",
            ),
            yaml(
                "metadata: {name: r1, namespace: prod, labels: {app: web, rollouts-pod-template-hash: new}}\n",
            ),
            // A migration Job's pod shares the app label but is not the Deployment's.
            yaml(
                "metadata: {name: migrate-1, namespace: prod, labels: {app: web, job-name: migrate}, ownerReferences: [{kind: Job, name: migrate}]}\n",
            ),
        ];
        ro.spec.workload_ref = Some(yaml("{apiVersion: apps/v1, kind: Deployment, name: web}"));
        let finding = workload_ref_leak(&ro, std::slice::from_ref(&deploy), &pods).expect("leak");
        assert!(
            finding
                .evidence
                .iter()
                .any(|e| e.field == "pods running" && e.value == "1")
        );
        ro.spec.workload_ref = Some(yaml("{kind: Deployment, name: web, scaleDown: onsuccess}"));
        assert_eq!(workload_ref_leak(&ro, &[deploy], &pods), None);
    }

    #[test]
    fn analysis_errors_count_towards_the_limit_with_time_left() {
        let run: AnalysisRun = yaml(
            r#"
metadata: {name: web-abc-2, namespace: prod}
spec: {metrics: [{name: error-ratio, interval: 30s}]}
status:
  phase: Running
  metricResults:
  - name: error-ratio
    error: 3
    consecutiveError: 3
    measurements:
    - {phase: Successful}
    - {phase: Error, startedAt: '2026-05-04T17:00:00Z', message: 'reflect: slice index out of range'}
    - {phase: Error, message: 'reflect: slice index out of range'}
    - {phase: Error, finishedAt: '2026-05-04T17:01:00Z', message: 'reflect: slice index out of range'}
"#,
        );
        let findings = analysis_errors(&run);
        let errors = findings
            .iter()
            .find(|f| f.detector == Detector::AnalysisErrors)
            .unwrap();
        assert!(
            errors.summary.contains("3 time(s) in a row; 2 more"),
            "{}",
            errors.summary
        );
        assert!(errors.summary.contains("~60s"), "{}", errors.summary);
        assert_eq!(
            errors.evidence[0].since,
            Some("2026-05-04T17:00:00Z".parse().unwrap())
        );
        let no_data = findings
            .iter()
            .find(|f| f.detector == Detector::AnalysisNoData)
            .unwrap();
        assert!(no_data.summary.contains("returns no data"));

        let tripped: AnalysisRun = yaml(
            "metadata: {name: r}\nstatus: {metricResults: [{name: m, consecutiveError: 5, measurements: [{phase: Error, message: timeout}]}]}\n",
        );
        let findings = analysis_errors(&tripped);
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].summary.contains("aborts"),
            "{}",
            findings[0].summary
        );
    }

    #[test]
    fn a_5xx_only_error_ratio_is_blind_but_not_2xx_3xx() {
        let template = |query: &str, condition: &str| -> AnalysisTemplate {
            let mut t: AnalysisTemplate = yaml(
                "metadata: {name: t, namespace: prod}\nspec: {metrics: [{name: m, provider: {prometheus: {query: x}}}]}\n",
            );
            t.spec.metrics[0]
                .provider
                .prometheus
                .as_mut()
                .unwrap()
                .query = query.into();
            t.spec.metrics[0].success_condition = condition.into();
            t
        };
        let story = r#"sum(rate(litellm_request_total{status=~"5.."}[5m])) / sum(rate(litellm_request_total[5m]))"#;
        let findings = blind_analysis_query(&template(story, "result[0] < 0.05"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].detector, Detector::BlindAnalysisQuery);
        assert!(findings[0].summary.contains("404s and 429s"));

        let fixed = r#"sum(rate(litellm_request_total{status!~"2..|3.."}[5m])) / sum(rate(litellm_request_total[5m]))"#;
        assert!(blind_analysis_query(&template(fixed, "result[0] < 0.05")).is_empty());
        // A success ratio selecting 2xx is not an error count.
        let success = r#"sum(rate(x{code=~"2.."}[5m])) / sum(rate(x[5m]))"#;
        assert!(blind_analysis_query(&template(success, "result[0] >= 0.95")).is_empty());

        let unindexed = blind_analysis_query(&template(fixed, "result < 0.05"));
        assert_eq!(unindexed.len(), 1);
        assert_eq!(unindexed[0].detector, Detector::UnindexedCondition);
        assert!(unindexed[0].summary.contains("Error"));
        assert!(
            blind_analysis_query(&template(fixed, "len(result) == 0 || result[0] < 0.05"))
                .is_empty()
        );

        let broken = blind_analysis_query(&template("sum(rate(x[5m]", ""));
        assert_eq!(broken[0].detector, Detector::InvalidAnalysisQuery);
    }

    #[test]
    fn a_canary_service_without_the_hash_selects_stable_pods() {
        let ro: Rollout = yaml(HEALTHY);
        let services: Vec<Service> = vec![yaml(
            "metadata: {name: web-canary, namespace: prod}\nspec: {selector: {app: web}}\n",
        )];
        let pods: Vec<Pod> = vec![
            yaml(
                "metadata: {name: s1, namespace: prod, labels: {app: web, rollouts-pod-template-hash: old}}\n",
            ),
            yaml(
                "metadata: {name: c1, namespace: prod, labels: {app: web, rollouts-pod-template-hash: new}}\n",
            ),
        ];
        let finding = canary_service_selects_stable(&ro, &services, &pods).expect("fires");
        assert!(
            finding.summary.contains("1 stable pod(s)"),
            "{}",
            finding.summary
        );
        let mut routed = ro.clone();
        routed
            .spec
            .strategy
            .canary
            .as_mut()
            .unwrap()
            .traffic_routing = Some(Default::default());
        assert_eq!(
            canary_service_selects_stable(&routed, &services, &pods),
            None
        );
    }

    #[test]
    fn replica_math_flags_counts_and_shares_off_the_weight() {
        let ro: Rollout = yaml(HEALTHY);
        // Paused at 20% of 5 but two canary pods run.
        let finding = canary_replica_math(&ro, &replica_sets((2, 2), (3, 3))).expect("count off");
        assert!(
            finding
                .summary
                .contains("2 canary pod(s) where ceil(20% × 5) = 1"),
            "{}",
            finding.summary
        );
        // The story: 20% of 1 replica is one canary pod beside one stable pod: half the traffic.
        let mut one: Rollout = yaml(HEALTHY);
        one.spec.replicas = Some(1);
        let finding = canary_replica_math(&one, &replica_sets((1, 1), (1, 1))).expect("share off");
        assert!(
            finding.summary.contains("50% of available pods"),
            "{}",
            finding.summary
        );
        assert!(
            !finding.summary.contains("where ceil"),
            "the count itself is right"
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
