//! The manifests of a short-form scenario, checked as Argo Rollouts checks them before it
//! reconciles: the Rollout spec rules of Argo's `pkg/apis/rollouts/validation` (strategy,
//! steps, setWeight within the maximum weight, pause durations, maxSurge/maxUnavailable,
//! services and traffic routing) and its referenced resources (Services, AnalysisTemplates
//! and ClusterAnalysisTemplates, the workloadRef Deployment, arguments a template needs).
//!
//! Pure: values in, the first [`Problem`] out, with the field's path. It must not build
//! objects or steps: [`super`] does.

use std::collections::BTreeSet;

use serde_json::Value;

/// What is wrong with one manifest, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field's path (`spec.strategy.canary.steps[2].setWeight`).
    pub field: String,
    pub message: String,
}

fn problem(field: impl Into<String>, message: impl Into<String>) -> Problem {
    Problem {
        field: field.into(),
        message: message.into(),
    }
}

/// `(Kind, namespace, name)` of every manifest, for reference checks.
pub type Catalog = BTreeSet<(String, String, String)>;

/// The label Argo adds to pods, ReplicaSets and the Services it manages.
pub const POD_TEMPLATE_HASH: &str = "rollouts-pod-template-hash";

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

fn present(v: &Value, pointer: &str) -> bool {
    v.pointer(pointer).is_some_and(|x| !x.is_null())
}

/// Argo's maximum traffic weight: `trafficRouting.maxTrafficWeight`, 100 by default.
pub fn max_traffic_weight(rollout: &Value) -> i64 {
    rollout
        .pointer("/spec/strategy/canary/trafficRouting/maxTrafficWeight")
        .and_then(Value::as_i64)
        .unwrap_or(100)
}

/// Checks one Rollout against Argo's spec validation and its references against `catalog`.
pub fn check_rollout(rollout: &Value, namespace: &str, catalog: &Catalog) -> Result<(), Problem> {
    let spec = rollout.get("spec").unwrap_or(&Value::Null);
    if !spec.is_object() {
        return Err(problem("spec", "missing: a Rollout needs a spec"));
    }
    if let Some(replicas) = spec.get("replicas")
        && replicas.as_i64().is_none_or(|r| r < 0)
    {
        return Err(problem(
            "spec.replicas",
            format!("{replicas} must be a whole number, 0 or more"),
        ));
    }
    let workload_ref = spec.get("workloadRef").filter(|w| !w.is_null());
    let template_given = spec
        .get("template")
        .is_some_and(|t| t.as_object().is_some_and(|o| !o.is_empty()));
    match workload_ref {
        Some(w) => {
            if template_given {
                return Err(problem(
                    "spec.template",
                    "template must be empty for workload reference rollout (Argo): drop it, the Deployment's template is used",
                ));
            }
            check_workload_ref(w, namespace, catalog)?;
        }
        None => {
            check_selector(spec)?;
            check_pod_template(spec)?;
        }
    }
    let int = |name: &str, default: i64| spec.get(name).and_then(Value::as_i64).unwrap_or(default);
    let min_ready = int("minReadySeconds", 0);
    if min_ready < 0 {
        return Err(problem("spec.minReadySeconds", "must be 0 or more"));
    }
    let deadline = int("progressDeadlineSeconds", 600);
    if deadline <= min_ready {
        return Err(problem(
            "spec.progressDeadlineSeconds",
            format!("{deadline} must be greater than minReadySeconds ({min_ready})"),
        ));
    }
    let canary = spec.pointer("/strategy/canary").filter(|c| !c.is_null());
    let blue_green = spec.pointer("/strategy/blueGreen").filter(|c| !c.is_null());
    match (canary, blue_green) {
        (None, None) => Err(problem(
            "spec.strategy",
            "Rollout has missing field '.spec.strategy.canary or .spec.strategy.blueGreen'",
        )),
        (Some(_), Some(_)) => Err(problem(
            "spec.strategy",
            "Multiple Strategies can not be listed: keep canary or blueGreen",
        )),
        (Some(canary), None) => {
            check_canary(rollout, canary)?;
            check_references(rollout, namespace, catalog)
        }
        (None, Some(bg)) => {
            let active = bg
                .get("activeService")
                .and_then(Value::as_str)
                .unwrap_or("");
            if active.is_empty() {
                return Err(problem(
                    "spec.strategy.blueGreen.activeService",
                    "missing: a blue-green Rollout needs the Service that receives live traffic",
                ));
            }
            if bg.get("previewService").and_then(Value::as_str) == Some(active) {
                return Err(problem(
                    "spec.strategy.blueGreen.activeService",
                    "This rollout uses the same service for the active and preview services, but two different services are required.",
                ));
            }
            // ValidateRolloutStrategyBlueGreen: revisionHistoryLimit defaults to 10.
            let history = rollout["spec"]["revisionHistoryLimit"]
                .as_i64()
                .unwrap_or(10);
            if let Some(limit) = bg
                .get("scaleDownDelayRevisionLimit")
                .and_then(Value::as_i64)
                && history < limit
            {
                return Err(problem(
                    "spec.strategy.blueGreen.scaleDownDelayRevisionLimit",
                    format!(
                        "This rollout's revision history limit can not be smaller than the rollout's scale down limit ({limit} > revisionHistoryLimit {history}): lower it or raise spec.revisionHistoryLimit"
                    ),
                ));
            }
            check_references(rollout, namespace, catalog)
        }
    }
}

fn check_selector(spec: &Value) -> Result<(), Problem> {
    let Some(selector) = spec.get("selector").filter(|s| !s.is_null()) else {
        return Err(problem(
            "spec.selector",
            "Rollout has missing field '.spec.selector' (match the pod template's labels)",
        ));
    };
    let labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .map_or(0, |m| m.len());
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .map_or(0, |e| e.len());
    if labels + expressions == 0 {
        return Err(problem(
            "spec.selector",
            "empty selector is invalid for deployment",
        ));
    }
    Ok(())
}

/// The pod template must run something and carry the selector's labels (Kubernetes'
/// ValidatePodTemplateSpecForReplicaSet, which Argo calls).
fn check_pod_template(spec: &Value) -> Result<(), Problem> {
    check_containers(spec, "spec.template.spec.containers")?;
    let labels = spec.pointer("/template/metadata/labels");
    if let Some(match_labels) = spec
        .pointer("/selector/matchLabels")
        .and_then(Value::as_object)
    {
        for (key, value) in match_labels {
            if labels.and_then(|l| l.get(key)) != Some(value) {
                return Err(problem(
                    "spec.template.metadata.labels",
                    format!("selector does not match template labels: {key}={value} is missing"),
                ));
            }
        }
    }
    Ok(())
}

/// At least one container, each with a name and an image.
pub fn check_containers(spec: &Value, field: &str) -> Result<(), Problem> {
    let containers = spec
        .pointer("/template/spec/containers")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| problem(field, "the pod template needs at least one container"))?;
    for (i, c) in containers.iter().enumerate() {
        for key in ["name", "image"] {
            if c.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(problem(format!("{field}[{i}].{key}"), "required"));
            }
        }
    }
    Ok(())
}

fn check_workload_ref(w: &Value, namespace: &str, catalog: &Catalog) -> Result<(), Problem> {
    let kind = w.get("kind").and_then(Value::as_str).unwrap_or("");
    let name = w.get("name").and_then(Value::as_str).unwrap_or("");
    if kind != "Deployment" {
        return Err(problem(
            "spec.workloadRef.kind",
            format!(
                "{kind:?}: the simulator's model follows a Deployment (apiVersion apps/v1, kind Deployment)"
            ),
        ));
    }
    if !catalog.contains(&(kind.into(), namespace.into(), name.into())) {
        return Err(problem(
            "spec.workloadRef.name",
            format!("Deployment {namespace}/{name} is not among the manifests: add it"),
        ));
    }
    Ok(())
}

fn int_or_percent(v: Option<&Value>, default: i64) -> i64 {
    match v {
        None | Some(Value::Null) => default,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(default),
        Some(Value::String(s)) => s.strip_suffix('%').unwrap_or(s).parse().unwrap_or(default),
        Some(_) => default,
    }
}

/// Routers for which Argo needs both the canary and the stable Service.
const ROUTERS_NEEDING_SERVICES: &[&str] = &[
    "alb",
    "smi",
    "apisix",
    "ambassador",
    "nginx",
    "appMesh",
    "traefik",
];

fn check_canary(rollout: &Value, canary: &Value) -> Result<(), Problem> {
    let base = "spec.strategy.canary";
    let surge = int_or_percent(canary.get("maxSurge"), 25);
    let unavailable = int_or_percent(canary.get("maxUnavailable"), 25);
    if surge == 0 && unavailable == 0 {
        return Err(problem(
            format!("{base}.maxSurge"),
            "MaxSurge and MaxUnavailable both can not be zero",
        ));
    }
    let canary_svc = canary
        .get("canaryService")
        .and_then(Value::as_str)
        .unwrap_or("");
    let stable_svc = canary
        .get("stableService")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !canary_svc.is_empty() && canary_svc == stable_svc {
        return Err(problem(
            format!("{base}.stableService"),
            "This rollout uses the same service for the stable and canary services, but two different services are required.",
        ));
    }
    let routing = canary.get("trafficRouting").filter(|t| !t.is_null());
    if let Some(routing) = routing {
        let istio_without_rule =
            present(routing, "/istio") && !present(routing, "/istio/destinationRule");
        let needs = ROUTERS_NEEDING_SERVICES
            .iter()
            .any(|r| present(routing, &format!("/{r}")))
            || istio_without_rule;
        if needs && !present(canary, "/pingPong") {
            for (field, svc) in [("stableService", stable_svc), ("canaryService", canary_svc)] {
                if svc.is_empty() {
                    return Err(problem(
                        format!("{base}.{field}"),
                        "Canary service and Stable service must to be set to use Traffic Routing",
                    ));
                }
            }
        }
        if present(canary, "/scaleDownDelaySeconds")
            && canary.get("dynamicStableScale") == Some(&Value::Bool(true))
        {
            return Err(problem(
                format!("{base}.dynamicStableScale"),
                "Canary dynamicStableScale cannot be used with scaleDownDelaySeconds",
            ));
        }
    } else {
        if present(canary, "/scaleDownDelaySeconds") {
            return Err(problem(
                format!("{base}.scaleDownDelaySeconds"),
                "Canary scaleDownDelaySeconds can only be used with traffic routing",
            ));
        }
        if canary.get("dynamicStableScale") == Some(&Value::Bool(true)) {
            return Err(problem(
                format!("{base}.dynamicStableScale"),
                "Canary dynamicStableScale can only be used with traffic routing",
            ));
        }
    }
    let max_weight = max_traffic_weight(rollout);
    let steps = canary
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, step) in steps.iter().enumerate() {
        let at = format!("{base}.steps[{i}]");
        let kinds = [
            "setWeight",
            "pause",
            "experiment",
            "analysis",
            "setCanaryScale",
            "setHeaderRoute",
            "setMirrorRoute",
            "plugin",
        ];
        if !step.is_object() || !kinds.iter().any(|k| present(step, &format!("/{k}"))) {
            return Err(problem(
                at,
                "Step must have one of the following set: experiment, setWeight, setCanaryScale, plugin or pause",
            ));
        }
        let exclusive = ["setWeight", "pause", "experiment", "analysis"]
            .iter()
            .filter(|k| present(step, &format!("/{k}")))
            .count();
        if exclusive > 1 {
            return Err(problem(
                at,
                "a step sets one of setWeight, pause, experiment, analysis (Argo: InvalidStepMessage); split it into steps",
            ));
        }
        if let Some(w) = step.get("setWeight")
            && w.as_i64().is_none_or(|w| !(0..=max_weight).contains(&w))
        {
            return Err(problem(
                format!("{at}.setWeight"),
                format!("{w}: SetWeight needs to be between 0 and {max_weight}"),
            ));
        }
        if let Some(duration) = step.pointer("/pause/duration")
            && pause_seconds(duration).is_none()
        {
            return Err(problem(
                format!("{at}.pause.duration"),
                format!(
                    "{duration}: Duration needs to be greater than 0 (seconds, or 30s, 5m, 1h)"
                ),
            ));
        }
        if present(step, "/setCanaryScale") {
            if routing.is_none() {
                return Err(problem(
                    format!("{base}.trafficRouting"),
                    format!("steps[{i}]: SetCanaryScale requires TrafficRouting to be set"),
                ));
            }
            if let Some(w) = step.pointer("/setCanaryScale/weight")
                && w.as_i64().is_none_or(|w| !(0..=100).contains(&w))
            {
                return Err(problem(
                    format!("{at}.setCanaryScale.weight"),
                    format!("{w}: a percentage of spec.replicas, 0 to 100"),
                ));
            }
        }
        for route in ["setHeaderRoute", "setMirrorRoute"] {
            if present(step, &format!("/{route}")) && routing.is_none() {
                return Err(problem(
                    format!("{at}.{route}"),
                    format!("{route} requires TrafficRouting"),
                ));
            }
        }
    }
    Ok(())
}

/// Seconds of a pause's duration as Argo reads it (`RolloutPause.DurationSeconds`): an integer,
/// or a string that is an integer or a Go duration (`30s`, `1.5m`, `1h30m`, `500ms` — Go's
/// `time.ParseDuration`, so `2 days` or `1 hour` are not durations), truncated to whole
/// seconds; None when Argo would refuse it (negative or not a duration).
pub fn pause_seconds(duration: &Value) -> Option<u64> {
    match duration {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            if let Ok(n) = s.parse::<i64>() {
                return u64::try_from(n).ok();
            }
            let d = crate::sim::model::analysis_metrics::go_duration(s).ok()?;
            // go_duration reads a negative duration as zero; Argo's int32 of it is negative.
            let magnitude = match s.strip_prefix('-') {
                Some(unsigned) => {
                    crate::sim::model::analysis_metrics::go_duration(unsigned).ok()?
                }
                None => d,
            };
            (!s.starts_with('-') || magnitude.as_secs() == 0).then_some(d.as_secs())
        }
        _ => None,
    }
}

/// Every analysis of the Rollout: (field path, templates, whether it runs in the background).
fn analyses(spec: &Value) -> Vec<(String, &Value, bool)> {
    let mut out = Vec::new();
    let canary = "/strategy/canary";
    if let Some(t) = spec.pointer(&format!("{canary}/analysis/templates")) {
        out.push(("spec.strategy.canary.analysis.templates".into(), t, true));
    }
    if let Some(steps) = spec
        .pointer(&format!("{canary}/steps"))
        .and_then(Value::as_array)
    {
        for (i, step) in steps.iter().enumerate() {
            if let Some(t) = step.pointer("/analysis/templates") {
                out.push((
                    format!("spec.strategy.canary.steps[{i}].analysis.templates"),
                    t,
                    false,
                ));
            }
        }
    }
    for which in ["prePromotionAnalysis", "postPromotionAnalysis"] {
        if let Some(t) = spec.pointer(&format!("/strategy/blueGreen/{which}/templates")) {
            out.push((
                format!("spec.strategy.blueGreen.{which}.templates"),
                t,
                false,
            ));
        }
    }
    out
}

/// The Services, AnalysisTemplates and ClusterAnalysisTemplates a Rollout names must exist.
fn check_references(rollout: &Value, namespace: &str, catalog: &Catalog) -> Result<(), Problem> {
    let spec = &rollout["spec"];
    let services = [
        "/strategy/canary/canaryService",
        "/strategy/canary/stableService",
        "/strategy/canary/pingPong/pingService",
        "/strategy/canary/pingPong/pongService",
        "/strategy/blueGreen/activeService",
        "/strategy/blueGreen/previewService",
    ];
    for pointer in services {
        let Some(name) = str_at(spec, pointer).filter(|n| !n.is_empty()) else {
            continue;
        };
        if !catalog.contains(&("Service".into(), namespace.into(), name.into())) {
            return Err(problem(
                format!("spec{}", pointer.replace('/', ".")),
                format!("Service {namespace}/{name} is not among the manifests: add it"),
            ));
        }
    }
    for (field, templates, _) in analyses(spec) {
        let Some(templates) = templates.as_array() else {
            return Err(problem(field, "must be a list of {templateName: NAME}"));
        };
        for (i, t) in templates.iter().enumerate() {
            let name = t.get("templateName").and_then(Value::as_str).unwrap_or("");
            let cluster = t.get("clusterScope") == Some(&Value::Bool(true));
            let found = if cluster {
                catalog.contains(&("ClusterAnalysisTemplate".into(), String::new(), name.into()))
            } else {
                catalog.contains(&("AnalysisTemplate".into(), namespace.into(), name.into()))
            };
            if !found {
                let what = if cluster {
                    format!("ClusterAnalysisTemplate {name}")
                } else {
                    format!("AnalysisTemplate {namespace}/{name}")
                };
                return Err(problem(
                    format!("{field}[{i}].templateName"),
                    format!("{what} is not among the manifests: add it (or fix the name)"),
                ));
            }
        }
    }
    Ok(())
}

/// Checks what Argo checks of the templates a Rollout's analyses use, once every template is
/// known: an inline or pre/post-promotion analysis must end (no metric that runs
/// indefinitely), and a background analysis's arguments without a value must come from the
/// Rollout.
pub fn check_analysis_templates(
    rollout: &Value,
    namespace: &str,
    template: &dyn Fn(bool, &str, &str) -> Option<Value>,
) -> Result<(), Problem> {
    let spec = &rollout["spec"];
    let rollout_args: BTreeSet<&str> = spec
        .pointer("/strategy/canary/analysis/args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    for (field, templates, background) in analyses(spec) {
        for t in templates.as_array().map(Vec::as_slice).unwrap_or_default() {
            let name = t.get("templateName").and_then(Value::as_str).unwrap_or("");
            let cluster = t.get("clusterScope") == Some(&Value::Bool(true));
            let Some(tpl) = template(cluster, namespace, name) else {
                continue;
            };
            if background {
                let args = tpl.pointer("/spec/args").and_then(Value::as_array);
                for arg in args.map(Vec::as_slice).unwrap_or_default() {
                    let has_value = present(arg, "/value") || present(arg, "/valueFrom");
                    let arg_name = arg.get("name").and_then(Value::as_str).unwrap_or("");
                    if !has_value && !rollout_args.contains(arg_name) {
                        return Err(problem(
                            "spec.strategy.canary.analysis.args",
                            format!(
                                "missing analysis argument {arg_name:?} that template {name} needs"
                            ),
                        ));
                    }
                }
                continue;
            }
            let metrics = tpl.pointer("/spec/metrics").and_then(Value::as_array);
            for m in metrics.map(Vec::as_slice).unwrap_or_default() {
                if present(m, "/interval") && !present(m, "/count") {
                    let metric = m.get("name").and_then(Value::as_str).unwrap_or("");
                    return Err(problem(
                        field.clone(),
                        format!(
                            "AnalysisTemplate {name} has metric {metric} which runs indefinitely. Invalid value for count: <nil> (give count:, or use it as background analysis)"
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A Service a canary or blue-green Rollout names must select its pods: every selector label
/// but the pod-template hash must be one of the template's (Argo's ValidateService).
pub fn check_service_selects(
    service: &Value,
    template_labels: Option<&Value>,
) -> Result<(), Problem> {
    let name = str_at(service, "/metadata/name").unwrap_or("");
    let Some(selector) = service.pointer("/spec/selector").and_then(Value::as_object) else {
        return Ok(());
    };
    for (key, value) in selector {
        if key == POD_TEMPLATE_HASH {
            continue;
        }
        if template_labels.and_then(|l| l.get(key)) != Some(value) {
            return Err(problem(
                "spec.selector",
                format!(
                    "Service {name:?} has unmatch label {key:?} in rollout (the pods carry no {key}={value})"
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn catalog(items: &[(&str, &str, &str)]) -> Catalog {
        items
            .iter()
            .map(|(k, n, m)| (k.to_string(), n.to_string(), m.to_string()))
            .collect()
    }

    fn rollout(strategy: Value) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {
                "replicas": 5,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                             "spec": {"containers": [{"name": "web", "image": "web:v1"}]}},
                "strategy": strategy,
            }
        })
    }

    fn field_of(r: &Value, cat: &Catalog) -> String {
        check_rollout(r, "shop", cat).unwrap_err().field
    }

    #[test]
    fn accepts_a_plain_canary_and_refuses_what_argo_refuses() {
        let cat = catalog(&[
            ("Service", "shop", "web"),
            ("Service", "shop", "web-canary"),
        ]);
        let ok = rollout(json!({"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}}));
        check_rollout(&ok, "shop", &cat).unwrap();
        let bad = rollout(json!({"canary": {"steps": [{"setWeight": 120}]}}));
        assert_eq!(
            field_of(&bad, &cat),
            "spec.strategy.canary.steps[0].setWeight"
        );
        let both = rollout(json!({"canary": {"steps": [{"setWeight": 20, "pause": {}}]}}));
        assert_eq!(field_of(&both, &cat), "spec.strategy.canary.steps[0]");
        let empty = rollout(json!({"canary": {"steps": [{}]}}));
        assert!(
            check_rollout(&empty, "shop", &cat)
                .unwrap_err()
                .message
                .contains("Step must have one of")
        );
        let zero = rollout(json!({"canary": {"maxSurge": 0, "maxUnavailable": "0%"}}));
        assert_eq!(field_of(&zero, &cat), "spec.strategy.canary.maxSurge");
        let pause = rollout(json!({"canary": {"steps": [{"pause": {"duration": "soon"}}]}}));
        assert_eq!(
            field_of(&pause, &cat),
            "spec.strategy.canary.steps[0].pause.duration"
        );
        let scale = rollout(json!({"canary": {"steps": [{"setCanaryScale": {"weight": 10}}]}}));
        assert_eq!(
            field_of(&scale, &cat),
            "spec.strategy.canary.trafficRouting"
        );
        let none = rollout(json!({}));
        assert_eq!(field_of(&none, &cat), "spec.strategy");
        let capped = rollout(json!({"canary": {
            "canaryService": "web-canary", "stableService": "web",
            "trafficRouting": {"maxTrafficWeight": 1000, "plugins": {}},
            "steps": [{"setWeight": 500}]}}));
        check_rollout(&capped, "shop", &cat).unwrap();
    }

    #[test]
    fn references_must_exist() {
        let cat = catalog(&[("Service", "shop", "web")]);
        let r = rollout(json!({"canary": {"canaryService": "web-canary", "stableService": "web"}}));
        let p = check_rollout(&r, "shop", &cat).unwrap_err();
        assert_eq!(p.field, "spec.strategy.canary.canaryService");
        assert!(p.message.contains("Service shop/web-canary"), "{p:?}");
        let r = rollout(
            json!({"canary": {"steps": [{"analysis": {"templates": [{"templateName": "rate"}]}}]}}),
        );
        let p = check_rollout(&r, "shop", &cat).unwrap_err();
        assert_eq!(
            p.field,
            "spec.strategy.canary.steps[0].analysis.templates[0].templateName"
        );
        let r =
            rollout(json!({"canary": {"trafficRouting": {"nginx": {}}, "stableService": "web"}}));
        assert_eq!(field_of(&r, &cat), "spec.strategy.canary.canaryService");
        let mut w = rollout(json!({"canary": {}}));
        w["spec"]["template"] = json!(null);
        w["spec"]["workloadRef"] =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"});
        assert_eq!(field_of(&w, &cat), "spec.workloadRef.name");
        check_rollout(&w, "shop", &catalog(&[("Deployment", "shop", "web")])).unwrap();
        let bg = rollout(json!({"blueGreen": {"activeService": "web", "previewService": "web"}}));
        assert_eq!(field_of(&bg, &cat), "spec.strategy.blueGreen.activeService");
        // validation.go ScaleDownLimitLargerThanRevisionLimit (revisionHistoryLimit default 10).
        let over = rollout(
            json!({"blueGreen": {"activeService": "web", "scaleDownDelayRevisionLimit": 11}}),
        );
        assert_eq!(
            field_of(&over, &cat),
            "spec.strategy.blueGreen.scaleDownDelayRevisionLimit"
        );
        let mut raised = over.clone();
        raised["spec"]["revisionHistoryLimit"] = json!(12);
        check_rollout(&raised, "shop", &catalog(&[("Service", "shop", "web")])).unwrap();
    }

    #[test]
    fn inline_analysis_must_end_and_background_args_must_be_given() {
        let r = rollout(json!({"canary": {
            "analysis": {"templates": [{"templateName": "bg"}]},
            "steps": [{"analysis": {"templates": [{"templateName": "step"}]}}]}}));
        let templates = |_: bool, _: &str, name: &str| -> Option<Value> {
            Some(match name {
                "bg" => json!({"spec": {"args": [{"name": "svc"}], "metrics": []}}),
                _ => json!({"spec": {"metrics": [{"name": "rate", "interval": "1m"}]}}),
            })
        };
        let p = check_analysis_templates(&r, "shop", &templates).unwrap_err();
        assert!(p.message.contains("\"svc\""), "{p:?}");
        let mut r = r;
        r["spec"]["strategy"]["canary"]["analysis"]["args"] =
            json!([{"name": "svc", "value": "web"}]);
        let p = check_analysis_templates(&r, "shop", &templates).unwrap_err();
        assert!(p.message.contains("runs indefinitely"), "{p:?}");
    }

    #[test]
    fn pause_durations_read_as_argo_reads_them() {
        assert_eq!(pause_seconds(&json!(30)), Some(30));
        assert_eq!(pause_seconds(&json!("30")), Some(30));
        assert_eq!(pause_seconds(&json!("5m")), Some(300));
        assert_eq!(pause_seconds(&json!("1h")), Some(3600));
        assert_eq!(pause_seconds(&json!(-1)), None);
        assert_eq!(pause_seconds(&json!("soon")), None);
        // Go's time.ParseDuration, as Argo reads a string duration: fractions and compound
        // units are durations, humantime's words and spaces are not.
        assert_eq!(pause_seconds(&json!("1.5m")), Some(90));
        assert_eq!(pause_seconds(&json!("1h30m")), Some(5400));
        assert_eq!(pause_seconds(&json!("500ms")), Some(0));
        assert_eq!(pause_seconds(&json!("2 days")), None);
        assert_eq!(pause_seconds(&json!("1hour")), None);
        assert_eq!(pause_seconds(&json!("-5s")), None);
        assert_eq!(pause_seconds(&json!("-5")), None);
    }
}
