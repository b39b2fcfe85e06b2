//! A metric as Argo's analysis controller reads it from an AnalysisRun: `{{args.x}}`
//! placeholders resolved (Argo's `ResolveMetricArgs`), fields read as Go reads them
//! (int-or-string limits, Go durations), validated as `ValidateMetrics` validates a run, and
//! the `dryRun` / `measurementRetention` rules matched to metric names.
//!
//! Owns: the metric's spec and its checks. It must not measure, count or assess (that is
//! `analysis_run`), nor know where runs come from.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use serde_json::Value;

/// A metric as the controller reads it, `{{args.x}}` resolved.
#[derive(Debug, Clone, Default)]
pub struct MetricSpec {
    pub name: String,
    pub interval: Option<String>,
    pub initial_delay: Option<String>,
    pub count: Option<i64>,
    pub failure_limit: Option<i64>,
    pub inconclusive_limit: Option<i64>,
    pub consecutive_error_limit: Option<i64>,
    pub consecutive_success_limit: Option<i64>,
    pub success_condition: String,
    pub failure_condition: String,
    /// The `provider` object as written (`{"prometheus": {"query": …}}`).
    pub provider: Value,
}

/// Provider names Argo knows; exactly one must be set.
const PROVIDERS: [&str; 11] = [
    "prometheus",
    "job",
    "web",
    "wavefront",
    "kayenta",
    "datadog",
    "newRelic",
    "cloudWatch",
    "graphite",
    "influxdb",
    "skywalking",
];

impl MetricSpec {
    /// Reads a metric (after argument substitution). Int-or-string fields read as Go's
    /// `IntOrString.IntValue()` does: a string that is not a number is 0.
    pub fn from_json(metric: &Value) -> MetricSpec {
        let text = |field: &str| {
            metric
                .get(field)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let int = |field: &str| match metric.get(field) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(n.as_i64().unwrap_or_default()),
            Some(Value::String(s)) => Some(s.trim().parse().unwrap_or(0)),
            Some(_) => Some(0),
        };
        MetricSpec {
            name: text("name").unwrap_or_default(),
            interval: text("interval"),
            initial_delay: text("initialDelay"),
            count: int("count"),
            failure_limit: int("failureLimit"),
            inconclusive_limit: int("inconclusiveLimit"),
            consecutive_error_limit: int("consecutiveErrorLimit"),
            consecutive_success_limit: int("consecutiveSuccessLimit"),
            success_condition: text("successCondition").unwrap_or_default(),
            failure_condition: text("failureCondition").unwrap_or_default(),
            provider: metric.get("provider").cloned().unwrap_or(Value::Null),
        }
    }

    /// The number of measurements after which the metric is done: `count`, or 1 when neither
    /// count nor interval is set, or none (runs until terminated) with only an interval.
    pub fn effective_count(&self) -> Option<i64> {
        match self.count {
            None | Some(0) if self.interval.is_none() => Some(1),
            None | Some(0) => None,
            count => count,
        }
    }

    /// Which provider the metric uses (`prometheus`, `datadog`, `plugin`, …).
    pub fn provider_name(&self) -> &str {
        self.provider
            .as_object()
            .and_then(|p| {
                p.keys()
                    .find(|k| PROVIDERS.contains(&k.as_str()) || *k == "plugin")
            })
            .map_or("", String::as_str)
    }

    pub(super) fn interval(&self) -> Option<Duration> {
        self.interval.as_deref().and_then(|s| go_duration(s).ok())
    }

    pub(super) fn initial_delay(&self) -> Option<Duration> {
        self.initial_delay
            .as_deref()
            .and_then(|s| go_duration(s).ok())
    }
}

/// A Go duration string (`30s`, `5m`, `1h30m`, `1.5h`, `500ms`) as Go's `time.ParseDuration`
/// reads it, with its error messages. Negative durations read as zero (no wait).
pub fn go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration \"{text}\"");
    let mut rest = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let seconds = match unit {
            "" => return Err(format!("time: missing unit in duration \"{text}\"")),
            "ns" => 1e-9,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => {
                return Err(format!(
                    "time: unknown unit \"{unit}\" in duration \"{text}\""
                ));
            }
        };
        total += value * seconds;
        rest = next;
    }
    Ok(if negative {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(total)
    })
}

/// Argo's `ValidateMetric` for one metric.
pub fn validate_metric(metric: &MetricSpec) -> Result<(), String> {
    let count = metric.count.unwrap_or(0);
    let failure_limit = metric.failure_limit.unwrap_or(0);
    let success_limit = metric.consecutive_success_limit.unwrap_or(0);
    let inconclusive_limit = metric.inconclusive_limit.unwrap_or(0);
    if success_limit < 0 {
        return Err("consecutiveSuccessLimit must be >= 0".into());
    }
    if failure_limit < -1 {
        return Err("failureLimit must be >= 0, or -1 to be disabled".into());
    }
    if success_limit == 0 && failure_limit == -1 {
        return Err("failureLimit and consecutiveSuccessLimit cannot both be disabled".into());
    }
    if inconclusive_limit < 0 {
        return Err("inconclusiveLimit must be >= 0".into());
    }
    if metric.consecutive_error_limit.is_some_and(|l| l < 0) {
        return Err("consecutiveErrorLimit must be >= 0".into());
    }
    if count > 0 {
        if failure_limit >= 0 && count < failure_limit + success_limit {
            return Err(format!(
                "count ({count}) must be >= failureLimit + consecutiveSuccessLimit ({failure_limit} + {success_limit}) if both >= 0"
            ));
        }
        if failure_limit < 0 && count < success_limit {
            return Err("count must be >= consecutiveSuccessLimit".into());
        }
        if count < inconclusive_limit {
            return Err("count must be >= inconclusiveLimit".into());
        }
    }
    if count > 1 && metric.interval.is_none() {
        return Err("interval must be specified when count > 1".into());
    }
    if let Some(interval) = &metric.interval {
        go_duration(interval).map_err(|e| format!("invalid interval string: {e}"))?;
    }
    if let Some(delay) = &metric.initial_delay {
        go_duration(delay).map_err(|e| format!("invalid startDelay string: {e}"))?;
    }
    let providers = metric.provider.as_object().map_or(0, |p| {
        p.iter()
            .map(|(name, spec)| match name.as_str() {
                "plugin" => spec.as_object().map_or(0, |m| m.len()),
                n if PROVIDERS.contains(&n) && !spec.is_null() => 1,
                _ => 0,
            })
            .sum::<usize>()
    });
    match providers {
        0 => Err("no provider specified".into()),
        1 => Ok(()),
        _ => Err("multiple providers specified".into()),
    }
}

/// Argo's `ValidateMetrics`: at least one metric, unique names, each valid.
pub fn validate_metrics(metrics: &[MetricSpec]) -> Result<(), String> {
    if metrics.is_empty() {
        return Err("no metrics specified".into());
    }
    for (i, metric) in metrics.iter().enumerate() {
        if metrics[..i].iter().any(|m| m.name == metric.name) {
            return Err(format!("metrics[{i}]: duplicate name '{}'", metric.name));
        }
        validate_metric(metric).map_err(|e| format!("metrics[{i}]: {e}"))?;
    }
    Ok(())
}

/// A `{{args.x}}` placeholder (the tag, spaces included, in group 1).
pub(super) static ARG_PLACEHOLDER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{\{([^}]*)\}\}").expect("valid regex"));

/// Substitutes `{{args.x}}` in each metric (Argo's `ResolveMetricArgs`: through the metric's
/// JSON text, values escaped as Go's `strconv.Quote` escapes them). `secretKeyRef` args have
/// no Secret to read here: they are an error, as a missing Secret is in Argo.
pub fn resolve_metrics(metrics: &[Value], args: &[Value]) -> Result<Vec<Value>, String> {
    let mut values = BTreeMap::new();
    for arg in args {
        let name = arg.get("name").and_then(Value::as_str).unwrap_or_default();
        if let Some(value) = arg.get("value").and_then(Value::as_str) {
            values.insert(format!("args.{name}"), value.to_string());
        } else if let Some(secret) = arg.pointer("/valueFrom/secretKeyRef") {
            let secret = secret
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(format!("secrets \"{secret}\" not found"));
        } else {
            return Err(format!("argument \"{name}\" was not supplied"));
        }
    }
    metrics
        .iter()
        .map(|metric| {
            let text = metric.to_string();
            let mut unresolved = None;
            let replaced = ARG_PLACEHOLDER.replace_all(&text, |caps: &regex::Captures| {
                match values.get(caps[1].trim()) {
                    // JSON-escape the value, drop the quotes: it lands inside a JSON string.
                    Some(value) => {
                        let quoted = Value::from(value.as_str()).to_string();
                        quoted[1..quoted.len() - 1].to_string()
                    }
                    None => {
                        unresolved = Some(format!("failed to resolve {{{{{}}}}}", &caps[1]));
                        String::new()
                    }
                }
            });
            if let Some(err) = unresolved {
                return Err(err);
            }
            serde_json::from_str(&replaced).map_err(|e| e.to_string())
        })
        .collect()
}

/// Metric names matched by `dryRun` or `measurementRetention` rules (Go regexps, unanchored);
/// a rule matching no metric is an error (`dryRun[0]: Rule didn't match any metric name(s)`).
pub(super) fn matching_rules<'r>(
    rules: &'r [Value],
    metrics: &[MetricSpec],
    field: &str,
) -> Result<BTreeMap<String, &'r Value>, String> {
    let mut matched = BTreeMap::new();
    for (i, rule) in rules.iter().enumerate() {
        let pattern = rule
            .get("metricName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let regex = Regex::new(pattern).ok();
        let mut count = 0;
        for metric in metrics {
            if regex.as_ref().is_some_and(|r| r.is_match(&metric.name)) {
                matched.insert(metric.name.clone(), rule);
                count += 1;
            }
        }
        if count == 0 {
            return Err(format!(
                "{field}[{i}]: Rule didn't match any metric name(s)"
            ));
        }
    }
    Ok(matched)
}

#[cfg(test)]
#[path = "analysis_metrics_tests.rs"]
mod tests;
