//! The analyses that gate a Rollout, each with its templates merged into one run as Argo merges
//! them (rollout/analysis.go `getAnalysisTemplatesFromRefs`, utils/analysis
//! `NewAnalysisRunFromTemplates`): the referenced AnalysisTemplates (in the Rollout's namespace)
//! and ClusterAnalysisTemplates, nested `templates` followed recursively, duplicates dropped by
//! name, metrics concatenated, arguments merged (the Rollout's values win over template
//! defaults; `valueFrom` is only known at run time), `{{args.NAME}}` substituted in each
//! metric, dry-run metrics (Rollout's and templates' `dryRun`, regexes on the metric name)
//! marked — they are measured but never fail the run.
//!
//! Pure: objects in, gates out. ClusterAnalysisTemplates are the templates of the list with no
//! namespace.

use std::collections::BTreeMap;

use crate::rollout::model::{
    AnalysisArgument, AnalysisTemplate, AnalysisTemplateRef, DryRun, Metric, Rollout,
    RolloutAnalysis,
};

/// Where in the Rollout an analysis runs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum GateKind {
    Background,
    /// A canary analysis step, by its index in `steps`.
    Step(usize),
    PrePromotion,
    PostPromotion,
}

impl GateKind {
    /// How it is named in headlines and condition keys.
    pub fn label(&self) -> String {
        match self {
            GateKind::Background => "background analysis".into(),
            GateKind::Step(i) => format!("analysis step {i}"),
            GateKind::PrePromotion => "prePromotionAnalysis".into(),
            GateKind::PostPromotion => "postPromotionAnalysis".into(),
        }
    }
}

/// One metric of a gate's merged run.
#[derive(Debug, Clone)]
pub struct GatedMetric {
    /// The metric with `{{args.…}}` substituted where the value is known.
    pub metric: Metric,
    /// `AnalysisTemplate ns/name` or `ClusterAnalysisTemplate name`.
    pub template: String,
    pub dry_run: bool,
    /// Arguments the metric uses whose value is only known at run time (valueFrom, or none).
    pub unresolved: Vec<String>,
}

/// An analysis that gates the Rollout, merged.
#[derive(Debug, Clone)]
pub struct Gate {
    pub kind: GateKind,
    pub templates: Vec<String>,
    pub metrics: Vec<GatedMetric>,
    /// Referenced templates that do not exist (Argo cannot create the run).
    pub missing: Vec<String>,
    /// Why Argo would refuse to merge (two metrics with one name, conflicting argument values).
    pub invalid: Option<String>,
}

/// Every analysis of the Rollout, in spec order.
pub fn gates(ro: &Rollout, templates: &[AnalysisTemplate]) -> Vec<Gate> {
    let mut out = Vec::new();
    if let Some(canary) = &ro.spec.strategy.canary {
        if let Some(a) = &canary.analysis {
            out.push(merge(GateKind::Background, a, ro, templates));
        }
        for (i, step) in canary.steps.iter().enumerate() {
            if let Some(a) = &step.analysis {
                out.push(merge(GateKind::Step(i), a, ro, templates));
            }
        }
    }
    if let Some(bg) = &ro.spec.strategy.blue_green {
        if let Some(a) = &bg.pre_promotion_analysis {
            out.push(merge(GateKind::PrePromotion, a, ro, templates));
        }
        if let Some(a) = &bg.post_promotion_analysis {
            out.push(merge(GateKind::PostPromotion, a, ro, templates));
        }
    }
    out.retain(|g| !g.templates.is_empty() || !g.missing.is_empty());
    out
}

fn find<'a>(
    r: &AnalysisTemplateRef,
    namespace: &str,
    templates: &'a [AnalysisTemplate],
) -> Option<&'a AnalysisTemplate> {
    let ns = if r.cluster_scope { "" } else { namespace };
    templates
        .iter()
        .find(|t| t.metadata.name == r.template_name && t.metadata.namespace == ns)
}

fn describe(t: &AnalysisTemplate) -> String {
    if t.metadata.namespace.is_empty() {
        format!("ClusterAnalysisTemplate {}", t.metadata.name)
    } else {
        format!(
            "AnalysisTemplate {}/{}",
            t.metadata.namespace, t.metadata.name
        )
    }
}

/// Collects the templates a list of references names, depth first, nested ones after their
/// parent; `seen` stops cycles.
fn collect<'a>(
    refs: &[AnalysisTemplateRef],
    namespace: &str,
    templates: &'a [AnalysisTemplate],
    seen: &mut Vec<String>,
    found: &mut Vec<&'a AnalysisTemplate>,
    missing: &mut Vec<String>,
) {
    for r in refs {
        let Some(t) = find(r, namespace, templates) else {
            let kind = if r.cluster_scope {
                "ClusterAnalysisTemplate"
            } else {
                "AnalysisTemplate"
            };
            missing.push(format!("{kind} {}", r.template_name));
            continue;
        };
        let id = describe(t);
        if seen.contains(&id) {
            continue;
        }
        seen.push(id);
        found.push(t);
        collect(
            &t.spec.templates,
            namespace,
            templates,
            seen,
            found,
            missing,
        );
    }
}

fn merge(
    kind: GateKind,
    analysis: &RolloutAnalysis,
    ro: &Rollout,
    templates: &[AnalysisTemplate],
) -> Gate {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    collect(
        &analysis.templates,
        &ro.metadata.namespace,
        templates,
        &mut Vec::new(),
        &mut found,
        &mut missing,
    );
    // Argo puts namespaced templates before cluster ones.
    found.sort_by_key(|t| t.metadata.namespace.is_empty());
    let mut invalid = None;
    // Template arguments: a later default never replaces an earlier value; two values differ:
    // Argo refuses.
    let mut args: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for t in &found {
        for a in &t.spec.args {
            match args.get(&a.name) {
                None => {
                    order.push(a.name.clone());
                    args.insert(a.name.clone(), a.value.clone());
                }
                Some(Some(prev)) => {
                    if let Some(v) = &a.value
                        && v != prev
                    {
                        invalid = Some(format!(
                            "argument `{}` is given the values '{prev}' and '{v}'",
                            a.name
                        ));
                    }
                }
                Some(None) => {
                    args.insert(a.name.clone(), a.value.clone());
                }
            }
        }
    }
    // The Rollout's arguments win; a valueFrom is a value only known at run time.
    let mut runtime: Vec<String> = Vec::new();
    for a in &analysis.args {
        apply_rollout_arg(a, &mut args, &mut runtime);
    }
    let dry_runs: Vec<&DryRun> = analysis
        .dry_run
        .iter()
        .chain(found.iter().flat_map(|t| &t.spec.dry_run))
        .collect();
    let mut metrics = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for t in &found {
        for m in &t.spec.metrics {
            if names.contains(&m.name) {
                invalid = Some(format!("two metrics are named '{}'", m.name));
            }
            names.push(m.name.clone());
            let mut unresolved = Vec::new();
            let metric = substitute(m, &args, &runtime, &mut unresolved);
            metrics.push(GatedMetric {
                dry_run: dry_runs
                    .iter()
                    .any(|d| name_matches(&d.metric_name, &m.name)),
                metric,
                template: describe(t),
                unresolved,
            });
        }
    }
    Gate {
        kind,
        templates: found.iter().map(|t| describe(t)).collect(),
        metrics,
        missing,
        invalid,
    }
}

fn apply_rollout_arg(
    a: &AnalysisArgument,
    args: &mut BTreeMap<String, Option<String>>,
    runtime: &mut Vec<String>,
) {
    if a.value_from.is_some() {
        runtime.push(a.name.clone());
        args.insert(a.name.clone(), None);
    } else if a.value.is_some() {
        args.insert(a.name.clone(), a.value.clone());
    }
}

/// Go's `regexp.MatchString` on a dryRun `metricName` (a partial match); an invalid pattern
/// matches nothing, as Argo's validation rejects it.
fn name_matches(pattern: &str, name: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(name))
}

/// Replaces `{{args.NAME}}` (spaces allowed inside the braces) in the metric's query and
/// conditions by the argument's value; an argument without a known value becomes the marker
/// `__arg_NAME__` and is listed in `unresolved`.
fn substitute(
    m: &Metric,
    args: &BTreeMap<String, Option<String>>,
    _runtime: &[String],
    unresolved: &mut Vec<String>,
) -> Metric {
    let mut fill = |text: &str| -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let Some(len) = rest[start..].find("}}") else {
                rest = &rest[start..];
                break;
            };
            let inner = rest[start + 2..start + len].trim();
            match inner.strip_prefix("args.") {
                Some(name) => match args.get(name) {
                    Some(Some(v)) => out.push_str(v),
                    _ => {
                        if !unresolved.iter().any(|u| u == name) {
                            unresolved.push(name.to_string());
                        }
                        out.push_str(&format!("__arg_{}__", name.replace('-', "_")));
                    }
                },
                None => out.push_str(&rest[start..start + len + 2]),
            }
            rest = &rest[start + len + 2..];
        }
        out.push_str(rest);
        out
    };
    let mut metric = m.clone();
    metric.success_condition = fill(&m.success_condition);
    metric.failure_condition = fill(&m.failure_condition);
    if let Some(p) = &mut metric.provider.prometheus {
        p.query = fill(&p.query);
    }
    if let Some(d) = &mut metric.provider.datadog {
        d.query = fill(&d.query);
        d.formula = fill(&d.formula);
        for q in d.queries.values_mut() {
            *q = fill(q);
        }
    }
    if let Some(n) = &mut metric.provider.new_relic {
        n.query = fill(&n.query);
    }
    metric
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::detect::fixtures::*;

    #[test]
    fn templates_merge_as_argo_merges_them() {
        // Argo's examples/rollout-template-ref.yaml shape: a background analysis referencing a
        // template that nests another, plus a ClusterAnalysisTemplate; the Rollout passes
        // `service-name`, a valueFrom and a dry run.
        let ro: Rollout = yaml(
            r#"
metadata: {name: web, namespace: prod}
spec:
  strategy:
    canary:
      analysis:
        templates: [{templateName: success-rate}, {templateName: latency, clusterScope: true}, {templateName: gone}]
        args:
        - {name: service-name, value: web-canary}
        - {name: hash, valueFrom: {podTemplateHashValue: Latest}}
        dryRun: [{metricName: lat.*}]
      steps: [{setWeight: 20}, {analysis: {templates: [{templateName: success-rate}]}}]
"#,
        );
        let templates: Vec<AnalysisTemplate> = vec![
            yaml(
                r#"
metadata: {name: success-rate, namespace: prod}
spec:
  args: [{name: service-name}, {name: hash}]
  templates: [{templateName: errors}]
  metrics:
  - name: success-rate
    successCondition: result[0] >= 0.95
    provider: {prometheus: {query: 'sum(rate(x{svc="{{args.service-name}}",hash="{{ args.hash }}"}[1m]))'}}
"#,
            ),
            yaml(
                "metadata: {name: errors, namespace: prod}\nspec: {metrics: [{name: errors, provider: {prometheus: {query: x}}}]}\n",
            ),
            yaml(
                "metadata: {name: latency}\nspec: {metrics: [{name: latency, provider: {prometheus: {query: y}}}]}\n",
            ),
        ];
        let gates = gates(&ro, &templates);
        assert_eq!(gates.len(), 2);
        let bg = &gates[0];
        assert_eq!(bg.kind, GateKind::Background);
        assert_eq!(
            bg.templates,
            [
                "AnalysisTemplate prod/success-rate",
                "AnalysisTemplate prod/errors",
                "ClusterAnalysisTemplate latency"
            ]
        );
        assert_eq!(bg.missing, ["AnalysisTemplate gone"]);
        let names: Vec<_> = bg.metrics.iter().map(|m| m.metric.name.as_str()).collect();
        assert_eq!(names, ["success-rate", "errors", "latency"]);
        let query = &bg.metrics[0]
            .metric
            .provider
            .prometheus
            .as_ref()
            .unwrap()
            .query;
        assert_eq!(
            query,
            r#"sum(rate(x{svc="web-canary",hash="__arg_hash__"}[1m]))"#
        );
        assert_eq!(bg.metrics[0].unresolved, ["hash"]);
        assert!(bg.metrics[2].dry_run && !bg.metrics[0].dry_run);
        assert_eq!(gates[1].kind, GateKind::Step(1));
        assert!(bg.invalid.is_none());
    }

    #[test]
    fn blue_green_gates_and_duplicate_metrics() {
        let ro: Rollout = yaml(
            r#"
metadata: {name: web, namespace: prod}
spec:
  strategy:
    blueGreen:
      activeService: web
      prePromotionAnalysis: {templates: [{templateName: a}, {templateName: b}]}
      postPromotionAnalysis: {templates: [{templateName: a}]}
"#,
        );
        let t = |name: &str| -> AnalysisTemplate {
            yaml(&format!(
                "metadata: {{name: {name}, namespace: prod}}\nspec: {{metrics: [{{name: m, provider: {{prometheus: {{query: x}}}}}}]}}\n"
            ))
        };
        let gates = gates(&ro, &[t("a"), t("b")]);
        assert_eq!(gates[0].kind, GateKind::PrePromotion);
        assert_eq!(
            gates[0].invalid.as_deref(),
            Some("two metrics are named 'm'")
        );
        assert_eq!(gates[1].kind, GateKind::PostPromotion);
        assert!(gates[1].invalid.is_none());
    }
}
