//! What a Prometheus query returns as the HTTP status mix of the traffic changes, computed from
//! its syntax tree (promql-parser), never by searching the text.
//!
//! The query is evaluated over a synthetic world: one request counter whose series carry the
//! status of the requests in every label exporters use for it (`code`, `status`,
//! `response_code`, Envoy's `envoy_response_code_class`, Linkerd's `classification`, …), at a
//! steady rate per status. Selectors keep the series their matchers accept (`=`, `!=`, `=~`,
//! `!~`, `or` groups); matchers on any other label are taken to match (the query's own
//! service). Range functions become rates, aggregations and binary operators follow
//! Prometheus' rules (grouping, `on`/`ignoring`, `group_left`, `and`/`or`/`unless`, comparisons
//! with and without `bool`, IEEE division). A construct it cannot follow (`time()`, a
//! `label_replace` onto a status label, `count_values`) is [`NotJudged`] with the reason: the
//! caller reports it, never guesses.
//!
//! Pure: no I/O, no clock.

use std::collections::BTreeMap;

use promql_parser::label::Matcher;
use promql_parser::parser::{
    self, AggregateExpr, BinaryExpr, Call, Expr, LabelModifier, VectorMatchCardinality,
    VectorSelector,
};

/// A query the evaluator cannot follow, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJudged(pub String);

/// Request rates per HTTP status code, per second.
#[derive(Debug, Clone, PartialEq)]
pub struct Traffic(pub Vec<(u16, f64)>);

/// The statuses every synthetic world has a series for (a counter exists for each, possibly at
/// rate 0).
pub const CODES: [u16; 7] = [200, 201, 302, 404, 429, 500, 503];

impl Traffic {
    /// `total` requests per second: `share` of them answered with the codes of `class` (4 or
    /// 5, split evenly), the rest 200.
    pub fn mix(total: f64, class: Option<u16>, share: f64) -> Traffic {
        let bad: Vec<u16> = match class {
            Some(c) => CODES.into_iter().filter(|code| code / 100 == c).collect(),
            None => Vec::new(),
        };
        let share = if bad.is_empty() { 0.0 } else { share };
        Traffic(
            CODES
                .into_iter()
                .map(|code| {
                    let rate = if code == 200 {
                        total * (1.0 - share)
                    } else if bad.contains(&code) {
                        total * share / bad.len() as f64
                    } else {
                        0.0
                    };
                    (code, rate)
                })
                .collect(),
        )
    }
}

/// How a status label writes a request's status, or None when `label` is not one.
pub fn status_label_value(label: &str, code: u16) -> Option<String> {
    let class = code / 100;
    match label {
        "code"
        | "status"
        | "status_code"
        | "response_code"
        | "http_status"
        | "http_status_code"
        | "http_code"
        | "http_response_status_code"
        | "response_status"
        | "status_code_str"
        | "statuscode" => Some(code.to_string()),
        // Envoy: envoy_response_code_class="5".
        "envoy_response_code_class" => Some(class.to_string()),
        "status_class"
        | "response_code_class"
        | "code_class"
        | "http_status_class"
        | "status_code_class" => Some(format!("{class}xx")),
        // Linkerd: a response is a failure when it is a 5xx (or a gRPC error).
        "classification" => Some(if class == 5 { "failure" } else { "success" }.into()),
        _ => None,
    }
}

/// A series: its status labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A query's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Series>),
    Text(String),
}

/// Parses `query` (Argo placeholders already substituted).
pub fn parse(query: &str) -> Result<Expr, NotJudged> {
    parser::parse(query).map_err(|e| NotJudged(format!("the query does not parse: {e}")))
}

/// The status labels a query names anywhere (matchers, grouping, matching).
pub fn status_labels(expr: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    walk_labels(expr, &mut |name: &str| {
        if status_label_value(name, 200).is_some() && !out.iter().any(|l| l == name) {
            out.push(name.to_string());
        }
    });
    out
}

fn walk_labels(expr: &Expr, f: &mut impl FnMut(&str)) {
    let modifier = |m: &Option<LabelModifier>, f: &mut dyn FnMut(&str)| {
        if let Some(m) = m {
            m.labels().labels.iter().for_each(|l| f(l));
        }
    };
    match expr {
        Expr::Aggregate(a) => {
            modifier(&a.modifier, f);
            walk_labels(&a.expr, f);
            if let Some(p) = &a.param {
                walk_labels(p, f);
            }
        }
        Expr::Unary(u) => walk_labels(&u.expr, f),
        Expr::Binary(b) => {
            if let Some(m) = &b.modifier {
                modifier(&m.matching, f);
            }
            walk_labels(&b.lhs, f);
            walk_labels(&b.rhs, f);
        }
        Expr::Paren(p) => walk_labels(&p.expr, f),
        Expr::Subquery(s) => walk_labels(&s.expr, f),
        Expr::VectorSelector(v) => matchers(v).for_each(|m| f(&m.name)),
        Expr::MatrixSelector(m) => matchers(&m.vs).for_each(|m| f(&m.name)),
        Expr::Call(c) => c.args.args.iter().for_each(|a| walk_labels(a, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

fn matchers(v: &VectorSelector) -> impl Iterator<Item = &Matcher> {
    v.matchers
        .matchers
        .iter()
        .chain(v.matchers.or_matchers.iter().flatten())
}

/// Evaluates `expr` in the world of `traffic`.
pub fn evaluate(expr: &Expr, traffic: &Traffic) -> Result<Value, NotJudged> {
    let labels = status_labels(expr);
    Evaluator {
        traffic,
        labels: &labels,
    }
    .eval(expr)
}

struct Evaluator<'a> {
    traffic: &'a Traffic,
    labels: &'a [String],
}

fn not_judged<T>(why: impl Into<String>) -> Result<T, NotJudged> {
    Err(NotJudged(why.into()))
}

impl Evaluator<'_> {
    fn eval(&self, expr: &Expr) -> Result<Value, NotJudged> {
        match expr {
            Expr::NumberLiteral(n) => Ok(Value::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Value::Text(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr),
            Expr::Unary(u) => Ok(map_values(self.eval(&u.expr)?, |v| -v)),
            Expr::VectorSelector(v) => Ok(Value::Vector(self.select(v))),
            Expr::MatrixSelector(m) => Ok(Value::Vector(self.select(&m.vs))),
            Expr::Subquery(s) => self.eval(&s.expr),
            Expr::Aggregate(a) => self.aggregate(a),
            Expr::Binary(b) => self.binary(b),
            Expr::Call(c) => self.call(c),
            Expr::Extension(_) => not_judged("an extension expression"),
        }
    }

    /// The series a selector keeps: one per status code (merged when several codes write the
    /// same labels, as a class label does), valued at the code's rate.
    fn select(&self, v: &VectorSelector) -> Vec<Series> {
        let groups: Vec<Vec<&Matcher>> = if v.matchers.or_matchers.is_empty() {
            vec![v.matchers.matchers.iter().collect()]
        } else {
            v.matchers
                .or_matchers
                .iter()
                .map(|g| g.iter().collect())
                .collect()
        };
        let mut out: Vec<Series> = Vec::new();
        for (code, rate) in &self.traffic.0 {
            let labels: BTreeMap<String, String> = self
                .labels
                .iter()
                .filter_map(|l| status_label_value(l, *code).map(|v| (l.clone(), v)))
                .collect();
            let accepted = groups.iter().any(|group| {
                group.iter().all(|m| match labels.get(&m.name) {
                    Some(value) => m.is_match(value),
                    // Not a status label: taken to match (the query's own service, …).
                    None => true,
                })
            });
            if !accepted {
                continue;
            }
            match out.iter_mut().find(|s| s.labels == labels) {
                Some(s) => s.value += rate,
                None => out.push(Series {
                    labels,
                    value: *rate,
                }),
            }
        }
        out
    }

    fn call(&self, c: &Call) -> Result<Value, NotJudged> {
        let name = c.func.name;
        let arg = |i: usize| -> Result<Value, NotJudged> {
            match c.args.args.get(i) {
                Some(a) => self.eval(a),
                None => not_judged(format!("{name}() without argument {}", i + 1)),
            }
        };
        let scalar_arg = |i: usize| -> Result<f64, NotJudged> {
            match arg(i)? {
                Value::Scalar(s) => Ok(s),
                _ => not_judged(format!("{name}() with a non-scalar argument")),
            }
        };
        match name {
            "rate" | "irate" | "deriv" | "avg_over_time" | "last_over_time" | "max_over_time"
            | "min_over_time" | "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
                arg(0)
            }
            "increase" | "delta" | "idelta" | "sum_over_time" => {
                let seconds = c
                    .args
                    .args
                    .first()
                    .and_then(|a| range_of(a))
                    .unwrap_or(60.0);
                Ok(map_values(arg(0)?, |v| v * seconds))
            }
            "abs" => Ok(map_values(arg(0)?, f64::abs)),
            "ceil" => Ok(map_values(arg(0)?, f64::ceil)),
            "floor" => Ok(map_values(arg(0)?, f64::floor)),
            "sqrt" => Ok(map_values(arg(0)?, f64::sqrt)),
            "exp" => Ok(map_values(arg(0)?, f64::exp)),
            "ln" => Ok(map_values(arg(0)?, f64::ln)),
            "log2" => Ok(map_values(arg(0)?, f64::log2)),
            "log10" => Ok(map_values(arg(0)?, f64::log10)),
            "sgn" => Ok(map_values(arg(0)?, f64::signum)),
            "round" => {
                let to = if c.args.args.len() > 1 {
                    scalar_arg(1)?
                } else {
                    1.0
                };
                Ok(map_values(arg(0)?, |v| (v / to).round() * to))
            }
            "clamp_min" => {
                let lo = scalar_arg(1)?;
                Ok(map_values(arg(0)?, |v| v.max(lo)))
            }
            "clamp_max" => {
                let hi = scalar_arg(1)?;
                Ok(map_values(arg(0)?, |v| v.min(hi)))
            }
            "clamp" => {
                let (lo, hi) = (scalar_arg(1)?, scalar_arg(2)?);
                Ok(map_values(arg(0)?, |v| v.max(lo).min(hi)))
            }
            "scalar" => match arg(0)? {
                Value::Vector(v) if v.len() == 1 => Ok(Value::Scalar(v[0].value)),
                Value::Vector(_) => Ok(Value::Scalar(f64::NAN)),
                other => Ok(other),
            },
            "vector" => Ok(Value::Vector(vec![Series {
                labels: BTreeMap::new(),
                value: scalar_arg(0)?,
            }])),
            "absent" | "absent_over_time" => match arg(0)? {
                Value::Vector(v) if v.is_empty() => Ok(Value::Vector(vec![Series {
                    labels: BTreeMap::new(),
                    value: 1.0,
                }])),
                _ => Ok(Value::Vector(Vec::new())),
            },
            "present_over_time" => Ok(map_values(arg(0)?, |_| 1.0)),
            "count_over_time" => Ok(map_values(arg(0)?, |_| 60.0)),
            // A latency quantile does not move with the status mix in this model.
            "histogram_quantile" | "quantile_over_time" => Ok(map_values(arg(1)?, |_| 0.1)),
            "label_replace" | "label_join" => {
                let target = match c.args.args.get(1).map(|a| self.eval(a)) {
                    Some(Ok(Value::Text(t))) => t,
                    _ => return not_judged(format!("{name}() with a computed label name")),
                };
                if status_label_value(&target, 200).is_some() {
                    return not_judged(format!("{name}() rewrites the status label `{target}`"));
                }
                arg(0)
            }
            other => not_judged(format!("the function {other}()")),
        }
    }

    fn aggregate(&self, a: &AggregateExpr) -> Result<Value, NotJudged> {
        let op = a.op.to_string();
        let inner = match self.eval(&a.expr)? {
            Value::Vector(v) => v,
            _ => return not_judged(format!("{op} over a scalar")),
        };
        let param = match &a.param {
            Some(p) => match self.eval(p)? {
                Value::Scalar(s) => Some(s),
                _ => return not_judged(format!("{op} with a non-numeric parameter")),
            },
            None => None,
        };
        let key = |s: &Series| -> BTreeMap<String, String> {
            match &a.modifier {
                None => BTreeMap::new(),
                Some(LabelModifier::Include(keep)) => s
                    .labels
                    .iter()
                    .filter(|(k, _)| keep.labels.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                Some(LabelModifier::Exclude(drop)) => s
                    .labels
                    .iter()
                    .filter(|(k, _)| !drop.labels.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            }
        };
        let mut groups: Vec<(BTreeMap<String, String>, Vec<Series>)> = Vec::new();
        for s in inner {
            let k = key(&s);
            match groups.iter_mut().find(|(g, _)| *g == k) {
                Some((_, members)) => members.push(s),
                None => groups.push((k, vec![s])),
            }
        }
        let mut out = Vec::new();
        for (labels, members) in groups {
            let values: Vec<f64> = members.iter().map(|s| s.value).collect();
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let value = match op.as_str() {
                "sum" => values.iter().sum(),
                "avg" => mean,
                "min" => values.iter().copied().fold(f64::INFINITY, f64::min),
                "max" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                "count" => n,
                "group" => 1.0,
                "stddev" | "stdvar" => {
                    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                    if op == "stddev" { var.sqrt() } else { var }
                }
                "topk" | "bottomk" => {
                    let k = param.unwrap_or(1.0).max(0.0) as usize;
                    let mut sorted = members;
                    sorted.sort_by(|x, y| {
                        let o = x.value.total_cmp(&y.value);
                        if op == "topk" { o.reverse() } else { o }
                    });
                    out.extend(sorted.into_iter().take(k));
                    continue;
                }
                "quantile" => {
                    let q = param.unwrap_or(0.5);
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    let rank = q * (n - 1.0);
                    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                    let w = rank - rank.floor();
                    sorted[lo] * (1.0 - w) + sorted[hi.min(sorted.len() - 1)] * w
                }
                other => return not_judged(format!("the aggregation {other}")),
            };
            out.push(Series { labels, value });
        }
        Ok(Value::Vector(out))
    }

    fn binary(&self, b: &BinaryExpr) -> Result<Value, NotJudged> {
        let op = b.op.to_string();
        let lhs = self.eval(&b.lhs)?;
        let rhs = self.eval(&b.rhs)?;
        let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
        let comparison = ["==", "!=", "<", "<=", ">", ">="].contains(&op.as_str());
        match (lhs, rhs) {
            (Value::Scalar(l), Value::Scalar(r)) => {
                let v = arith(&op, l, r)?;
                Ok(Value::Scalar(if comparison {
                    f64::from(u8::from(v != 0.0))
                } else {
                    v
                }))
            }
            (Value::Vector(v), Value::Scalar(s)) | (Value::Scalar(s), Value::Vector(v))
                if matches!(op.as_str(), "and" | "or" | "unless") =>
            {
                let _ = (v, s);
                not_judged(format!("`{op}` between a vector and a scalar"))
            }
            (Value::Vector(v), Value::Scalar(s)) => {
                self.vector_scalar(&op, v, s, false, comparison, return_bool)
            }
            (Value::Scalar(s), Value::Vector(v)) => {
                self.vector_scalar(&op, v, s, true, comparison, return_bool)
            }
            (Value::Vector(l), Value::Vector(r)) => {
                self.vector_vector(b, &op, l, r, comparison, return_bool)
            }
            _ => not_judged(format!("`{op}` on a string")),
        }
    }

    fn vector_scalar(
        &self,
        op: &str,
        v: Vec<Series>,
        s: f64,
        scalar_left: bool,
        comparison: bool,
        return_bool: bool,
    ) -> Result<Value, NotJudged> {
        let mut out = Vec::new();
        for series in v {
            let (l, r) = if scalar_left {
                (s, series.value)
            } else {
                (series.value, s)
            };
            let result = arith(op, l, r)?;
            if comparison {
                if return_bool {
                    out.push(Series {
                        value: f64::from(u8::from(result != 0.0)),
                        ..series
                    });
                } else if result != 0.0 {
                    out.push(series);
                }
            } else {
                out.push(Series {
                    value: result,
                    ..series
                });
            }
        }
        Ok(Value::Vector(out))
    }

    fn vector_vector(
        &self,
        b: &BinaryExpr,
        op: &str,
        lhs: Vec<Series>,
        rhs: Vec<Series>,
        comparison: bool,
        return_bool: bool,
    ) -> Result<Value, NotJudged> {
        let matching = b.modifier.as_ref().and_then(|m| m.matching.clone());
        let card = b
            .modifier
            .as_ref()
            .map(|m| m.card.clone())
            .unwrap_or(VectorMatchCardinality::OneToOne);
        let signature = |s: &Series| -> BTreeMap<String, String> {
            s.labels
                .iter()
                .filter(|(k, _)| match &matching {
                    None => true,
                    Some(LabelModifier::Include(on)) => on.labels.contains(k),
                    Some(LabelModifier::Exclude(ignoring)) => !ignoring.labels.contains(k),
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        match op {
            "and" => {
                let keep: Vec<_> = rhs.iter().map(signature).collect();
                return Ok(Value::Vector(
                    lhs.into_iter()
                        .filter(|s| keep.contains(&signature(s)))
                        .collect(),
                ));
            }
            "unless" => {
                let drop: Vec<_> = rhs.iter().map(signature).collect();
                return Ok(Value::Vector(
                    lhs.into_iter()
                        .filter(|s| !drop.contains(&signature(s)))
                        .collect(),
                ));
            }
            "or" => {
                let have: Vec<_> = lhs.iter().map(signature).collect();
                let mut out = lhs;
                out.extend(rhs.into_iter().filter(|s| !have.contains(&signature(s))));
                return Ok(Value::Vector(out));
            }
            _ => {}
        }
        let (many, one, flipped) = match card {
            VectorMatchCardinality::OneToMany(_) => (rhs, lhs, true),
            _ => (lhs, rhs, false),
        };
        let one_to_one = matches!(card, VectorMatchCardinality::OneToOne);
        let mut out = Vec::new();
        let mut used: Vec<BTreeMap<String, String>> = Vec::new();
        for m in many {
            let sig = signature(&m);
            let partners: Vec<&Series> = one.iter().filter(|o| signature(o) == sig).collect();
            let partner = match partners.as_slice() {
                [] => continue,
                [p] => *p,
                _ => return not_judged("a many-to-many match between two vectors"),
            };
            if one_to_one {
                if used.contains(&sig) {
                    return not_judged("a many-to-one match without group_left");
                }
                used.push(sig);
            }
            let (l, r) = if flipped {
                (partner.value, m.value)
            } else {
                (m.value, partner.value)
            };
            let result = arith(op, l, r)?;
            let labels = m.labels.clone();
            if comparison {
                if return_bool {
                    out.push(Series {
                        labels,
                        value: f64::from(u8::from(result != 0.0)),
                    });
                } else if result != 0.0 {
                    out.push(Series { labels, value: l });
                }
            } else {
                out.push(Series {
                    labels,
                    value: result,
                });
            }
        }
        Ok(Value::Vector(out))
    }
}

/// Seconds of a range selector, when `expr` is one.
fn range_of(expr: &Expr) -> Option<f64> {
    match expr {
        Expr::MatrixSelector(m) => Some(m.range.as_secs_f64()),
        Expr::Subquery(s) => Some(s.range.as_secs_f64()),
        Expr::Paren(p) => range_of(&p.expr),
        _ => None,
    }
}

/// An arithmetic operator, or a comparison as 1/0.
fn arith(op: &str, l: f64, r: f64) -> Result<f64, NotJudged> {
    let truth = |b: bool| f64::from(u8::from(b));
    Ok(match op {
        "+" => l + r,
        "-" => l - r,
        "*" => l * r,
        "/" => l / r,
        "%" => l % r,
        "^" => l.powf(r),
        "atan2" => l.atan2(r),
        "==" => truth(l == r),
        "!=" => truth(l != r),
        "<" => truth(l < r),
        "<=" => truth(l <= r),
        ">" => truth(l > r),
        ">=" => truth(l >= r),
        other => return not_judged(format!("the operator `{other}`")),
    })
}

fn map_values(v: Value, f: impl Fn(f64) -> f64) -> Value {
    match v {
        Value::Scalar(s) => Value::Scalar(f(s)),
        Value::Vector(series) => Value::Vector(
            series
                .into_iter()
                .map(|s| Series {
                    value: f(s.value),
                    ..s
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(query: &str, class: Option<u16>, share: f64) -> Value {
        evaluate(&parse(query).unwrap(), &Traffic::mix(100.0, class, share)).unwrap()
    }

    fn first(v: Value) -> f64 {
        match v {
            Value::Vector(s) => s[0].value,
            Value::Scalar(s) => s,
            Value::Text(_) => panic!("text"),
        }
    }

    #[test]
    fn a_5xx_ratio_moves_with_5xx_only() {
        let q = r#"sum(rate(x{status=~"5.."}[5m])) / sum(rate(x[5m]))"#;
        assert_eq!(first(eval(q, None, 0.0)), 0.0);
        assert_eq!(first(eval(q, Some(4), 0.5)), 0.0);
        assert_eq!(first(eval(q, Some(5), 0.5)), 0.5);
    }

    #[test]
    fn class_labels_and_linkerd_classification() {
        let envoy = r#"sum(rate(envoy_cluster_upstream_rq_xx{envoy_response_code_class="5"}[1m])) / sum(rate(envoy_cluster_upstream_rq_xx[1m]))"#;
        assert_eq!(first(eval(envoy, Some(4), 0.25)), 0.0);
        assert_eq!(first(eval(envoy, Some(5), 0.25)), 0.25);
        let linkerd = r#"sum(irate(response_total{classification!="failure"}[1m])) / sum(irate(response_total[1m]))"#;
        assert_eq!(first(eval(linkerd, Some(4), 0.25)), 1.0);
        assert_eq!(first(eval(linkerd, Some(5), 0.25)), 0.75);
    }

    #[test]
    fn grouping_matching_and_set_operators() {
        // Per-code ratio collapsed again by a sum.
        let q = r#"sum(sum by (code) (rate(x{code=~"4..|5.."}[1m]))) / ignoring(code) sum(rate(x[1m]))"#;
        assert_eq!(first(eval(q, Some(4), 0.5)), 0.5);
        // `or vector(0)` fills in an empty side.
        let q = r#"sum(rate(x{code="599"}[1m])) or vector(0)"#;
        assert_eq!(first(eval(q, None, 0.0)), 0.0);
        // `unless` and `and`.
        let q = r#"sum(rate(x[1m])) unless sum(rate(x{code="599"}[1m]))"#;
        assert_eq!(first(eval(q, None, 0.0)), 100.0);
        // A comparison filter with bool.
        let q = r#"sum(rate(x{code=~"5.."}[1m])) > bool 1"#;
        assert_eq!(first(eval(q, Some(5), 0.5)), 1.0);
        // increase over 5m is rate x 300.
        let q = r#"sum(increase(x{code=~"5.."}[5m]))"#;
        assert_eq!(first(eval(q, Some(5), 0.1)), 3000.0);
    }

    #[test]
    fn what_it_cannot_follow_is_said() {
        let e = evaluate(&parse("time() - 5").unwrap(), &Traffic::mix(1.0, None, 0.0));
        assert!(matches!(e, Err(NotJudged(w)) if w.contains("time()")));
        let e = evaluate(
            &parse(r#"label_replace(x, "code", "200", "code", ".*")"#).unwrap(),
            &Traffic::mix(1.0, None, 0.0),
        );
        assert!(matches!(e, Err(NotJudged(w)) if w.contains("status label")));
        assert!(parse("sum(rate(x[5m]").is_err());
    }
}
