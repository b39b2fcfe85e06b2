//! Detector 4: an analysis that gates the rollout but cannot see 4xx failures.
//!
//! For each analysis the Rollout runs ([`super::gates`]: background, each analysis step,
//! pre/postPromotionAnalysis, templates merged as Argo merges them), each metric that is not a
//! dry run is judged: which HTTP status classes make it fail. A Prometheus query is evaluated
//! over synthetic traffic ([`super::promql`]) — all 2xx, then 5 % to 75 % of the requests
//! answered 4xx (404/429), then the same shares of 5xx (500/503) — and the result is assessed
//! with the metric's own successCondition / failureCondition ([`super::condition`]), as Argo
//! assesses a measurement. So the direction comes from the condition: a success-rate query
//! counting `response_code!~"5.*"` judged by `result[0] >= 0.95` fails on 5xx only, exactly
//! like an error ratio counting `status=~"5.."` judged by `result[0] < 0.05`.
//!
//! Findings:
//! - `blind analysis query` (alert): some metric of the run fails on 5xx and none on 4xx. A
//!   run that checks 4xx in another metric is not blind; a run that does not look at HTTP
//!   statuses at all is not this detector's business.
//! - `unindexed analysis condition` (alert): a condition that does not fit the result's shape
//!   (`result < 0.05` on a Prometheus vector, `result[0]` on a scalar): every measurement is
//!   Error.
//! - `analysis not judged` (observation, once): a metric whose query or condition the model
//!   does not follow; the run's verdict is then left open rather than guessed.
//!
//! Templates no Rollout references are never judged.

use std::collections::BTreeSet;

use super::condition::{self, Assessment, ConditionError, Val};
use super::gates::{Gate, GatedMetric, gates};
use super::promql::{self, NotJudged, Traffic, Value};
use super::{Detector, Finding, evidence, object};
use crate::rollout::model::{AnalysisTemplate, Rollout};

/// Shares of bad responses tried for each class.
const SHARES: [f64; 5] = [0.05, 0.1, 0.25, 0.5, 0.75];
/// Requests per second in the synthetic world.
const RATE: f64 = 100.0;

/// What a metric fails on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Judged: whether 4xx and 5xx make it fail (or stop: Inconclusive, Error).
    Fails { on_4xx: bool, on_5xx: bool },
    /// Its query does not look at HTTP statuses (latency, saturation, …).
    NoStatus,
    /// Every measurement is Error: the condition does not fit the result's shape.
    Broken(String),
    /// Not followed by the model, with the reason.
    NotJudged(String),
    /// A provider that does not measure traffic by status (web, job, …).
    Other(&'static str),
}

/// One metric's judgement, for evidence.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub metric: String,
    pub template: String,
    pub query: String,
    pub conditions: String,
    pub verdict: Verdict,
}

fn to_val(v: &Value) -> Result<Val, NotJudged> {
    match v {
        Value::Scalar(s) => Ok(Val::Num(*s)),
        Value::Vector(series) => {
            let first = series.first().map(|s| s.value);
            if series.len() > 1
                && series
                    .iter()
                    .any(|s| s.value.to_bits() != first.unwrap_or(0.0).to_bits())
            {
                return Err(NotJudged(format!(
                    "the result has {} series with different values; which one is result[0] depends on Prometheus' order",
                    series.len()
                )));
            }
            Ok(Val::List(
                series.iter().map(|s| Val::Num(s.value)).collect(),
            ))
        }
        Value::Text(_) => Err(NotJudged("the query returns a string".into())),
    }
}

fn parse_condition(text: &str) -> Result<Option<condition::Ast>, ConditionError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    condition::parse(text).map(Some)
}

/// Judges a Prometheus metric.
fn judge_prometheus(m: &GatedMetric, query: &str) -> Verdict {
    let metric = &m.metric;
    let (success, failure) = match (
        parse_condition(&metric.success_condition),
        parse_condition(&metric.failure_condition),
    ) {
        (Ok(s), Ok(f)) => (s, f),
        (Err(e), _) | (_, Err(e)) => return Verdict::NotJudged(format!("a condition is {e}")),
    };
    if [&metric.success_condition, &metric.failure_condition]
        .iter()
        .any(|c| c.contains("__arg_"))
    {
        return Verdict::NotJudged(format!(
            "a condition uses an argument known only at run time ({})",
            m.unresolved.join(", ")
        ));
    }
    let expr = match promql::parse(query) {
        Ok(e) => e,
        Err(NotJudged(why)) => {
            let args = if m.unresolved.is_empty() {
                String::new()
            } else {
                format!(
                    " (with run-time arguments {} left open)",
                    m.unresolved.join(", ")
                )
            };
            return Verdict::NotJudged(format!("{why}{args}"));
        }
    };
    let outcome = |traffic: &Traffic| -> Result<Assessment, Verdict> {
        let value =
            promql::evaluate(&expr, traffic).map_err(|NotJudged(w)| Verdict::NotJudged(w))?;
        let result = to_val(&value).map_err(|NotJudged(w)| Verdict::NotJudged(w))?;
        condition::assess(success.as_ref(), failure.as_ref(), &result)
            .map_err(|e| Verdict::NotJudged(format!("a condition is {e}")))
    };
    let healthy = match outcome(&Traffic::mix(RATE, None, 0.0)) {
        Ok(a) => a,
        Err(v) => return v,
    };
    match healthy {
        Assessment::Successful => {}
        Assessment::Error => {
            // Argo would fail the same way on every measurement: find out why.
            let value = promql::evaluate(&expr, &Traffic::mix(RATE, None, 0.0));
            let shape = match value {
                Ok(Value::Scalar(_)) => "a scalar",
                Ok(Value::Vector(v)) if v.is_empty() => {
                    return Verdict::NotJudged(
                        "the query selects nothing when all requests are answered 2xx, so \
                         `result[0]` fails on the empty result"
                            .into(),
                    );
                }
                _ => "a vector ([]float64)",
            };
            return Verdict::Broken(format!(
                "the query returns {shape} and the condition does not fit it (`result[0]` on a vector, `result` on a scalar)"
            ));
        }
        other => {
            return Verdict::NotJudged(format!(
                "with all requests answered 2xx the model assesses it {other:?}, so it does not read the query as an error or success ratio"
            ));
        }
    }
    if promql::status_labels(&expr).is_empty() {
        return Verdict::NoStatus;
    }
    let fails = |class: u16| -> Result<bool, Verdict> {
        for share in SHARES {
            if outcome(&Traffic::mix(RATE, Some(class), share))? != Assessment::Successful {
                return Ok(true);
            }
        }
        Ok(false)
    };
    match (fails(4), fails(5)) {
        (Ok(on_4xx), Ok(on_5xx)) => Verdict::Fails { on_4xx, on_5xx },
        (Err(v), _) | (_, Err(v)) => v,
    }
}

/// Judges one metric of a merged run.
pub fn judge(m: &GatedMetric) -> Judgement {
    let metric = &m.metric;
    let conditions = [
        ("successCondition", &metric.success_condition),
        ("failureCondition", &metric.failure_condition),
    ]
    .iter()
    .filter(|(_, c)| !c.is_empty())
    .map(|(n, c)| format!("{n}: {c}"))
    .collect::<Vec<_>>()
    .join("; ");
    let (query, verdict) = if let Some(p) = &metric.provider.prometheus {
        (
            p.query.trim().to_string(),
            judge_prometheus(m, p.query.trim()),
        )
    } else {
        match metric.provider.name() {
            "" => (
                String::new(),
                Verdict::NotJudged("no metric provider is set".into()),
            ),
            name @ ("web" | "job") => (String::new(), Verdict::Other(name)),
            name => (
                String::new(),
                Verdict::NotJudged(format!(
                    "the {name} provider's queries are not read by this detector"
                )),
            ),
        }
    };
    Judgement {
        metric: metric.name.clone(),
        template: m.template.clone(),
        query,
        conditions,
        verdict,
    }
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Fails { on_4xx, on_5xx } => match (on_4xx, on_5xx) {
            (true, true) => "fails on 4xx and 5xx".into(),
            (false, true) => "fails on 5xx only".into(),
            (true, false) => "fails on 4xx only".into(),
            (false, false) => "fails on neither 4xx nor 5xx".into(),
        },
        Verdict::NoStatus => "does not look at HTTP statuses".into(),
        Verdict::Broken(w) => format!("every measurement is Error: {w}"),
        Verdict::NotJudged(w) => format!("not judged: {w}"),
        Verdict::Other(p) => format!("a {p} metric, not a traffic status ratio"),
    }
}

fn blind_finding(ro: &Rollout, gate: &Gate, judged: &[Judgement]) -> Finding {
    let subject = object("Rollout", &ro.metadata);
    let fives: Vec<&Judgement> = judged
        .iter()
        .filter(|j| matches!(j.verdict, Verdict::Fails { on_5xx: true, .. }))
        .collect();
    let mut ev = Vec::new();
    for j in judged {
        let field = format!("metric {} ({})", j.metric, j.template);
        let value = if j.query.is_empty() {
            verdict_text(&j.verdict)
        } else {
            format!(
                "{} — {} — {}",
                verdict_text(&j.verdict),
                j.query,
                j.conditions
            )
        };
        ev.push(evidence(&subject, &field, value, None));
    }
    Finding {
        detector: Detector::BlindAnalysis,
        subject,
        aspect: gate.kind.label(),
        headline: format!(
            "the {} ({}) fails only on 5xx: 404s and 429s count as success",
            gate.kind.label(),
            fives
                .iter()
                .map(|j| format!("metric `{}`", j.metric))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        detail: format!(
            "No metric of this run fails when requests are answered 4xx, so a route failing with \
             404 or 429 passes analysis and the rollout proceeds. Count everything that is not \
             2xx/3xx as an error, e.g. `status!~\"2..|3..\"`, or add a metric for 4xx. Templates: {}.",
            gate.templates.join(", ")
        ),
        evidence: ev,
        level: 0,
    }
}

/// Every detector-4 finding for the Rollout's analyses.
pub fn blind_analysis(ro: &Rollout, templates: &[AnalysisTemplate]) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    let mut keys = BTreeSet::new();
    let mut push = |f: Finding, out: &mut Vec<Finding>| {
        if keys.insert(f.key()) {
            out.push(f);
        }
    };
    for gate in gates(ro, templates) {
        let judged: Vec<Judgement> = gate
            .metrics
            .iter()
            .filter(|m| !m.dry_run)
            .map(judge)
            .collect();
        for j in &judged {
            match &j.verdict {
                Verdict::Broken(why) => push(
                    Finding {
                        detector: Detector::UnindexedCondition,
                        subject: j.template.clone(),
                        aspect: format!("metric {}", j.metric),
                        headline: format!(
                            "metric `{}`: every measurement will be Error ({})",
                            j.metric, j.conditions
                        ),
                        detail: format!(
                            "{why}. Errors count towards consecutiveErrorLimit and abort the \
                             rollout; a Prometheus vector needs `result[0]`. An empty result \
                             makes `result[0]` fail too: that is assessed Error, not Inconclusive."
                        ),
                        evidence: vec![
                            evidence(
                                &j.template,
                                &format!("spec.metrics[{}] conditions", j.metric),
                                &j.conditions,
                                None,
                            ),
                            evidence(
                                &j.template,
                                &format!("spec.metrics[{}].provider.prometheus.query", j.metric),
                                &j.query,
                                None,
                            ),
                        ],
                        level: 0,
                    },
                    &mut out,
                ),
                Verdict::NotJudged(why) => push(
                    Finding {
                        detector: Detector::AnalysisNotJudged,
                        subject: j.template.clone(),
                        aspect: format!("metric {}", j.metric),
                        headline: format!(
                            "metric `{}` is not judged for blind spots: {why}",
                            j.metric
                        ),
                        detail: format!(
                            "Whether the {} fails on 4xx is left open rather than guessed.",
                            gate.kind.label()
                        ),
                        evidence: vec![evidence(
                            &j.template,
                            &format!("spec.metrics[{}]", j.metric),
                            if j.query.is_empty() {
                                j.conditions.clone()
                            } else {
                                j.query.clone()
                            },
                            None,
                        )],
                        level: 0,
                    },
                    &mut out,
                ),
                _ => {}
            }
        }
        let catches_4xx = judged
            .iter()
            .any(|j| matches!(j.verdict, Verdict::Fails { on_4xx: true, .. }));
        let catches_5xx = judged
            .iter()
            .any(|j| matches!(j.verdict, Verdict::Fails { on_5xx: true, .. }));
        let open = judged
            .iter()
            .any(|j| matches!(j.verdict, Verdict::NotJudged(_)));
        if catches_5xx && !catches_4xx && !open && gate.invalid.is_none() {
            push(blind_finding(ro, &gate, &judged), &mut out);
        }
    }
    out
}

#[cfg(test)]
#[path = "blind_query_tests.rs"]
mod tests;
