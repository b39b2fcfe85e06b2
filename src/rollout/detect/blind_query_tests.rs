//! Detector 4 against real-world AnalysisTemplates.
//!
//! Fixtures and their origin:
//! - `ISTIO_SUCCESS_RATE`, `ISTIO_ERROR_RATE`, `ISTIO_4XX_5XX`: Argo Rollouts
//!   docs/features/analysis.md and docs/analysis/prometheus.md (github.com/argoproj/argo-rollouts,
//!   Apache License 2.0), queries as published (the docs' `response_code~"5.*"` typo kept in
//!   `ISTIO_DOCS_TYPO`).
//! - `APPMESH_ENVOY`: Argo Rollouts examples/appmesh/canary-rollout.yaml (Apache License 2.0).
//! - `ENVOY_ERROR_RATIO`, `LINKERD_SUCCESS`, `NGINX_ALL_ERRORS`, `TRAEFIK_5XX`,
//!   `HTTP_2XX_SUCCESS`: written for these tests from the exporters' documented metric and
//!   label names (Envoy cluster stats `envoy_cluster_upstream_rq_xx{envoy_response_code_class}`,
//!   Linkerd proxy `response_total{classification}`, ingress-nginx
//!   `nginx_ingress_controller_requests{status}`, Traefik `traefik_service_requests_total{code}`,
//!   client_golang `http_requests_total{code}`), in the shapes Argo's docs use.
//! - The story's template: DESIGN.md.

use super::*;
use crate::rollout::detect::fixtures::*;

fn template(name: &str, metrics: &str) -> AnalysisTemplate {
    yaml(&format!(
        "metadata: {{name: {name}, namespace: prod}}\nspec:\n  args: [{{name: service-name}}]\n  metrics:\n{metrics}"
    ))
}

fn metric(name: &str, condition: &str, query: &str) -> String {
    format!(
        "  - name: {name}\n    interval: 5m\n    {condition}\n    provider:\n      prometheus:\n        query: '{}'\n",
        query.replace('\'', "''")
    )
}

/// A Rollout whose background analysis runs `templates` with `service-name` set.
fn rollout(templates: &[&str]) -> Rollout {
    let refs: Vec<String> = templates
        .iter()
        .map(|t| format!("{{templateName: {t}}}"))
        .collect();
    yaml(&format!(
        "metadata: {{name: web, namespace: prod}}\nspec:\n  strategy:\n    canary:\n      analysis:\n        templates: [{}]\n        args: [{{name: service-name, value: web-canary.prod.svc.cluster.local}}]\n      steps: [{{setWeight: 20}}]\n",
        refs.join(", ")
    ))
}

fn findings(templates: &[AnalysisTemplate]) -> Vec<Finding> {
    let names: Vec<&str> = templates.iter().map(|t| t.metadata.name.as_str()).collect();
    blind_analysis(&rollout(&names), templates)
}

fn detectors(templates: &[AnalysisTemplate]) -> Vec<Detector> {
    findings(templates).iter().map(|f| f.detector).collect()
}

const ISTIO_SUCCESS_RATE: &str = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code!~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]))"#;
const ISTIO_ERROR_RATE: &str = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code=~"5.*"}[5m])) / sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}"}[5m]))"#;
const ISTIO_4XX: &str = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code=~"4.*"}[5m]))"#;
const ISTIO_5XX: &str = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code=~"5.*"}[5m]))"#;
const ISTIO_DOCS_TYPO: &str = r#"sum(irate(istio_requests_total{reporter="source",destination_service=~"{{args.service-name}}",response_code~"5.*"}[5m]))"#;
const APPMESH_ENVOY: &str = r#"sum(irate(envoy_cluster_upstream_rq_xx{app="wrk-tester",envoy_cluster_name="{{args.service-name}}",envoy_response_code_class!~"5.*"}[5m])) / sum(irate(envoy_cluster_upstream_rq_xx{app="wrk-tester",envoy_cluster_name="{{args.service-name}}"}[5m]))"#;
const ENVOY_ERROR_RATIO: &str = r#"sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="{{args.service-name}}",envoy_response_code_class="5"}[1m])) / sum(rate(envoy_cluster_upstream_rq_xx{envoy_cluster_name="{{args.service-name}}"}[1m]))"#;
const LINKERD_SUCCESS: &str = r#"sum(irate(response_total{deployment="{{args.service-name}}",direction="inbound",classification!="failure"}[1m])) / sum(irate(response_total{deployment="{{args.service-name}}",direction="inbound"}[1m]))"#;
const NGINX_ALL_ERRORS: &str = r#"sum(rate(nginx_ingress_controller_requests{ingress="{{args.service-name}}",status!~"[4-5].*"}[2m])) / sum(rate(nginx_ingress_controller_requests{ingress="{{args.service-name}}"}[2m]))"#;
const TRAEFIK_5XX: &str = r#"(sum(rate(traefik_service_requests_total{service=~"{{args.service-name}}.*",code=~"5.."}[1m])) or vector(0)) / sum(rate(traefik_service_requests_total{service=~"{{args.service-name}}.*"}[1m]))"#;
const HTTP_2XX_SUCCESS: &str = r#"sum(rate(http_requests_total{service="{{args.service-name}}",code=~"2.."}[5m])) / sum(rate(http_requests_total{service="{{args.service-name}}"}[5m]))"#;
const STORY: &str =
    r#"sum(rate(litellm_request_total{status=~"5.."}[5m])) / sum(rate(litellm_request_total[5m]))"#;

// Positive cases: blind.

#[test]
fn argos_istio_success_rate_is_blind_to_4xx() {
    // The issue's first miss: `response_code!~"5.*"` judged by `result[0] >= 0.95`.
    let t = template(
        "success-rate",
        &metric(
            "success-rate",
            "successCondition: result[0] >= 0.95",
            ISTIO_SUCCESS_RATE,
        ),
    );
    let f = findings(&[t]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].detector, Detector::BlindAnalysis);
    assert_eq!(
        f[0].key(),
        "blind-analysis|Rollout prod/web|background analysis"
    );
    assert!(
        f[0].headline.contains("fails only on 5xx"),
        "{}",
        f[0].headline
    );
    assert!(f[0].to_string().contains("fails on 5xx only"));
}

#[test]
fn envoy_class_queries_are_blind_to_4xx() {
    // The issue's second miss, and Argo's own App Mesh example.
    let ratio = template(
        "envoy-errors",
        &metric(
            "error-ratio",
            "successCondition: result[0] < 0.05",
            ENVOY_ERROR_RATIO,
        ),
    );
    assert_eq!(detectors(&[ratio]), [Detector::BlindAnalysis]);
    let appmesh = template(
        "appmesh",
        &metric(
            "success-rate",
            "successCondition: result[0] >= 0.99",
            APPMESH_ENVOY,
        ),
    );
    assert_eq!(detectors(&[appmesh]), [Detector::BlindAnalysis]);
}

#[test]
fn linkerd_traefik_and_the_story_are_blind_to_4xx() {
    for (name, condition, query) in [
        (
            "linkerd",
            "successCondition: result[0] >= 0.99",
            LINKERD_SUCCESS,
        ),
        ("traefik", "failureCondition: result[0] > 0.01", TRAEFIK_5XX),
        ("story", "successCondition: result[0] < 0.05", STORY),
    ] {
        let t = template(name, &metric("m", condition, query));
        assert_eq!(detectors(&[t]), [Detector::BlindAnalysis], "{name}");
    }
}

#[test]
fn two_templates_merged_into_one_run_that_checks_5xx_twice_are_blind() {
    // docs/features/analysis.md "multiple templates": success-rate + error-rate, both 5xx.
    let success = template(
        "success-rate",
        &metric(
            "success-rate",
            "successCondition: result[0] >= 0.95",
            ISTIO_SUCCESS_RATE,
        ),
    );
    let errors = template(
        "error-rate",
        &metric(
            "error-rate",
            "successCondition: result[0] <= 0.95",
            ISTIO_ERROR_RATE,
        ),
    );
    assert_eq!(detectors(&[success, errors]), [Detector::BlindAnalysis]);
}

// Negative cases: not blind.

#[test]
fn a_template_checking_4xx_and_5xx_in_two_metrics_is_not_blind() {
    // The issue's false alarm: docs/features/analysis.md's total-5xx-errors + total-4xx-errors.
    let t = template(
        "errors",
        &format!(
            "{}{}",
            metric(
                "total-5xx-errors",
                "failureCondition: result[0] >= 10",
                ISTIO_5XX
            ),
            metric(
                "total-4xx-errors",
                "failureCondition: result[0] >= 10",
                ISTIO_4XX
            )
        ),
    );
    assert!(findings(&[t]).is_empty());
}

#[test]
fn non_2xx_ratios_and_2xx_success_rates_see_4xx() {
    for (name, condition, query) in [
        (
            "nginx",
            "successCondition: result[0] >= 0.99",
            NGINX_ALL_ERRORS,
        ),
        (
            "http",
            "successCondition: result[0] >= 0.95",
            HTTP_2XX_SUCCESS,
        ),
        (
            "fixed-story",
            "successCondition: result[0] < 0.05",
            r#"sum(rate(litellm_request_total{status!~"2..|3.."}[5m])) / sum(rate(litellm_request_total[5m]))"#,
        ),
    ] {
        let t = template(name, &metric("m", condition, query));
        assert!(findings(&[t]).is_empty(), "{name}");
    }
}

#[test]
fn dry_runs_latency_and_unreferenced_templates_are_not_judged_blind() {
    // A 4xx metric in dry run does not gate: the run is blind again.
    let mut t = template(
        "errors",
        &format!(
            "{}{}",
            metric(
                "total-5xx-errors",
                "failureCondition: result[0] >= 10",
                ISTIO_5XX
            ),
            metric(
                "total-4xx-errors",
                "failureCondition: result[0] >= 10",
                ISTIO_4XX
            )
        ),
    );
    t.spec.dry_run = vec![yaml("{metricName: total-4xx-errors}")];
    assert_eq!(detectors(&[t]), [Detector::BlindAnalysis]);
    // Latency only: not about statuses.
    let latency = template(
        "latency",
        &metric(
            "p99",
            "successCondition: result[0] < 0.5",
            r#"histogram_quantile(0.99, sum(rate(http_request_duration_seconds_bucket{service="{{args.service-name}}"}[5m])) by (le))"#,
        ),
    );
    assert!(findings(&[latency]).is_empty());
    // A blind template no Rollout references.
    let unreferenced = template(
        "unused",
        &metric("m", "successCondition: result[0] < 0.05", STORY),
    );
    assert!(blind_analysis(&rollout(&[]), &[unreferenced]).is_empty());
}

#[test]
fn what_cannot_be_judged_is_one_observation_not_a_verdict() {
    // The docs' `response_code~"5.*"` does not parse: Argo would error on it too.
    let t = template(
        "typo",
        &format!(
            "{}{}",
            metric(
                "total-5xx-errors",
                "failureCondition: result[0] >= 10",
                ISTIO_DOCS_TYPO
            ),
            metric(
                "success-rate",
                "successCondition: result[0] >= 0.95",
                ISTIO_SUCCESS_RATE
            )
        ),
    );
    let f = findings(&[t]);
    assert_eq!(
        f.iter().map(|f| f.detector).collect::<Vec<_>>(),
        [Detector::AnalysisNotJudged],
        "the open metric leaves the run's verdict open: {f:#?}"
    );
    assert!(!f[0].detector.is_alert());
    assert!(
        f[0].headline.contains("does not parse"),
        "{}",
        f[0].headline
    );
    // A web metric is not a traffic ratio: the Prometheus one decides.
    let web: AnalysisTemplate = yaml(
        "metadata: {name: web, namespace: prod}\nspec: {metrics: [{name: webmetric, successCondition: \"result == 'It worked!'\", provider: {web: {url: 'http://x'}}}]}\n",
    );
    let story = template(
        "story",
        &metric("m", "successCondition: result[0] < 0.05", STORY),
    );
    assert_eq!(detectors(&[web, story]), [Detector::BlindAnalysis]);
}

#[test]
fn a_condition_that_compares_the_whole_vector_is_unindexed() {
    let t = template(
        "bad",
        &metric(
            "m",
            "successCondition: result < 0.05",
            r#"sum(rate(x{status!~"2..|3.."}[5m])) / sum(rate(x[5m]))"#,
        ),
    );
    let f = findings(&[t]);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert_eq!(f[0].detector, Detector::UnindexedCondition);
    assert_eq!(
        f[0].key(),
        "unindexed-condition|AnalysisTemplate prod/bad|metric m"
    );
    // Guarded by len(): fine.
    let guarded = template(
        "guarded",
        &metric(
            "m",
            "successCondition: len(result) == 0 || result[0] < 0.05",
            r#"sum(rate(x{status!~"2..|3.."}[5m])) / sum(rate(x[5m]))"#,
        ),
    );
    assert!(findings(&[guarded]).is_empty());
}
