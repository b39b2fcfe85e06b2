//! Time templates in scenario strings: `{{t}}`, `{{t-90s}}`, `{{start+1m}}`, and the `{{{{`
//! escape for a literal `{{`.
//!
//! A scenario stamps times relative to when a step plays, so the same file tells the same
//! story whenever (and at whatever speed) it runs. Other tools use `{{…}}` too — Argo's
//! AnalysisTemplates write `{{args.service-name}}` — so a literal `{{` is written `{{{{`:
//! `{{{{args.service-name}}` renders as `{{args.service-name}}`. Anything else inside `{{…}}`
//! is an error naming the template and the escape. This module only renders text; it must
//! not know about objects or the store.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Replaces time templates in every string of `value`: `{{t}}` is the step's scenario time,
/// `{{t-90s}}`/`{{t+2m}}` offsets from it, `{{start}}`/`{{start+1m}}` offsets from the
/// scenario's start, `{{{{` is a literal `{{`. Rendered as RFC 3339 with seconds, as
/// Kubernetes stamps times. Strings that do not render (validated at load) stay as they are.
pub fn render(value: &Value, t: DateTime<Utc>, start: DateTime<Utc>) -> Value {
    match value {
        Value::String(s) if s.contains("{{") => {
            Value::String(render_str(s, t, start).unwrap_or_else(|_| s.clone()))
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| render(v, t, start)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render(v, t, start)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Renders the templates in one string; the error says which template is wrong and how to
/// keep it literal.
pub fn render_str(s: &str, t: DateTime<Utc>, start: DateTime<Utc>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        if let Some(literal) = after.strip_prefix("{{") {
            out.push_str("{{");
            rest = literal;
            continue;
        }
        let close = after.find("}}").ok_or_else(|| {
            format!("unclosed template in {s:?} (write {{{{{{{{ for a literal {{{{)")
        })?;
        let expr = after[..close].trim();
        out.push_str(&render_expr(expr, t, start)?);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether a string holds a template or an escape (strings without one need no rendering).
pub fn has_template(s: &str) -> bool {
    s.contains("{{")
}

fn render_expr(expr: &str, t: DateTime<Utc>, start: DateTime<Utc>) -> Result<String, String> {
    let bad = || {
        format!(
            "unknown template {{{{{expr}}}}}: time templates are {{{{t}}}}, {{{{t-90s}}}}, {{{{t+2m}}}} and {{{{start+1m}}}}; write {{{{{{{{{expr}}}}} for a literal {{{{{expr}}}}} (as in Argo's {{{{args.name}}}})"
        )
    };
    let (base, rest) = if let Some(rest) = expr.strip_prefix("start") {
        (start, rest)
    } else if let Some(rest) = expr.strip_prefix('t') {
        (t, rest)
    } else {
        return Err(bad());
    };
    let rest = rest.trim();
    let time = if rest.is_empty() {
        base
    } else {
        let (sign, amount) = rest.split_at(1);
        let d = super::scenario::parse_duration(amount.trim()).map_err(|_| bad())?;
        let d = chrono::Duration::from_std(d).map_err(|_| bad())?;
        match sign {
            "+" => base + d,
            "-" => base - d,
            _ => return Err(bad()),
        }
    };
    Ok(time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_render_in_scenario_time() {
        let start: DateTime<Utc> = "2026-05-04T17:00:00Z".parse().unwrap();
        let t = start + chrono::Duration::seconds(90);
        assert_eq!(
            render_str("{{t}}", t, start).unwrap(),
            "2026-05-04T17:01:30Z"
        );
        assert_eq!(
            render_str("a {{ t-90s }} b", t, start).unwrap(),
            "a 2026-05-04T17:00:00Z b"
        );
        assert_eq!(
            render_str("{{start+1h}}", t, start).unwrap(),
            "2026-05-04T18:00:00Z"
        );
        assert!(render_str("{{t*2}}", t, start).is_err());
        assert!(render_str("{{t", t, start).is_err());
    }

    #[test]
    fn a_doubled_brace_pair_is_a_literal_brace_pair() {
        let start: DateTime<Utc> = "2026-05-04T17:00:00Z".parse().unwrap();
        let query = r#"sum(rate(x{service="{{{{args.service-name}}"}[5m]))"#;
        assert_eq!(
            render_str(query, start, start).unwrap(),
            r#"sum(rate(x{service="{{args.service-name}}"}[5m]))"#
        );
        assert_eq!(
            render_str("{{{{t}} at {{t}}", start, start).unwrap(),
            "{{t}} at 2026-05-04T17:00:00Z"
        );
        assert_eq!(render_str("{{{{", start, start).unwrap(), "{{");
        let err = render_str("{{args.service-name}}", start, start).unwrap_err();
        assert!(
            err.contains("unknown template {{args.service-name}}")
                && err.contains("write {{{{args.service-name}} for a literal"),
            "{err}"
        );
    }
}
