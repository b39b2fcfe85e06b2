//! A metric's `successCondition` / `failureCondition`, evaluated over `result` as Argo's
//! utils/evaluate/evaluate.go does: in expr (the expr-lang/expr language), with Argo's
//! helpers `asInt`, `asFloat`, `isNaN`, `isInf`, `isNil` and `default`, through the
//! `expr-lang` crate (a Rust implementation of the same language, checked against Go expr's
//! cases).
//!
//! Owns: compiling conditions (a syntax error or an unknown function is refused when the
//! scenario loads, naming the template and metric) and Argo's verdict rules: no conditions →
//! Successful; only a success condition → Failed when it is false; only a failure condition →
//! Successful when it is false; both false → Inconclusive; an evaluation error → Error with
//! Argo's message ("metric result is nil or empty" when the provider returned no data).
//! It must not know where results come from (`analysis_provider`) nor count them
//! (`analysis_run`).
//!
//! Differences from Argo, documented rather than guessed: Go expr type-checks a condition
//! against the result's Go type before running it; expr-lang checks types while running, so
//! a mistyped condition (`result < 0.05` on a vector) is an Error measurement in both, with
//! a different message.

use expr::{Context, Environment, Program, Value as ExprValue};

use super::analysis_run::Phase;

/// What a provider hands to a condition as `result`.
#[derive(Debug, Clone, PartialEq)]
pub enum MetricValue {
    /// One number (a Prometheus `scalar(...)`, a Datadog query, a web metric's number).
    Scalar(f64),
    /// A list of numbers (a Prometheus instant vector; empty when the query matched nothing).
    Vector(Vec<f64>),
    /// No value at all (a Datadog query with no points).
    Nil,
}

impl MetricValue {
    /// The measurement's `value` as Argo's providers print it: `0.01`, `[0.01,0.02]`, `[]`.
    pub fn display(&self) -> String {
        match self {
            MetricValue::Scalar(v) => go_float(*v),
            MetricValue::Vector(values) => {
                let items: Vec<String> = values.iter().map(|v| go_float(*v)).collect();
                format!("[{}]", items.join(","))
            }
            MetricValue::Nil => String::new(),
        }
    }

    fn is_nil_or_empty(&self) -> bool {
        match self {
            MetricValue::Nil => true,
            MetricValue::Vector(values) => values.is_empty(),
            MetricValue::Scalar(_) => false,
        }
    }

    fn to_expr(&self) -> ExprValue {
        match self {
            MetricValue::Scalar(v) => ExprValue::Float(*v),
            MetricValue::Vector(values) => {
                ExprValue::Array(values.iter().map(|v| ExprValue::Float(*v)).collect())
            }
            MetricValue::Nil => ExprValue::Nil,
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`, as Prometheus prints a sample value.
fn go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

/// A condition refused at load: it does not parse, or calls a function expr and Argo don't
/// have. The message names the fix; the caller adds the template and metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {expression:?} is not a condition the simulator can evaluate: {reason}")]
pub struct ConditionError {
    /// `successCondition` or `failureCondition`.
    pub field: &'static str,
    pub expression: String,
    pub reason: String,
}

/// One compiled condition.
#[derive(Debug, Clone)]
struct Condition {
    field: &'static str,
    expression: String,
    program: Program,
}

/// A metric's two conditions, compiled once.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    success: Option<Condition>,
    failure: Option<Condition>,
}

impl Conditions {
    /// Compiles the conditions (an empty string is no condition). A syntax error or a call
    /// to a function that neither expr nor Argo defines is refused.
    pub fn compile(success: &str, failure: &str) -> Result<Conditions, ConditionError> {
        Ok(Conditions {
            success: compile("successCondition", success)?,
            failure: compile("failureCondition", failure)?,
        })
    }

    /// The measurement's phase for `result` (Argo's `EvaluateResult`); `Err` carries the
    /// Error measurement's message.
    pub fn evaluate(&self, result: &MetricValue) -> Result<Phase, String> {
        let success = self.success.as_ref().map(|c| c.eval(result)).transpose()?;
        let failure = self.failure.as_ref().map(|c| c.eval(result)).transpose()?;
        let (success, failure) = match (success, failure) {
            (None, None) => return Ok(Phase::Successful),
            (Some(s), None) => (s, !s),
            (None, Some(f)) => (!f, f),
            (Some(s), Some(f)) => (s, f),
        };
        Ok(if failure {
            Phase::Failed
        } else if !success {
            Phase::Inconclusive
        } else {
            Phase::Successful
        })
    }
}

fn compile(field: &'static str, expression: &str) -> Result<Option<Condition>, ConditionError> {
    if expression.trim().is_empty() {
        return Ok(None);
    }
    let refuse = |reason: String| ConditionError {
        field,
        expression: expression.to_string(),
        reason,
    };
    let program = expr::compile(expression).map_err(|e| refuse(one_line(&e.to_string())))?;
    let condition = Condition {
        field,
        expression: expression.to_string(),
        program,
    };
    // expr-lang finds an unknown function only when it runs one: try the condition on the
    // shapes a provider returns and refuse it when every try stops at an unknown function.
    let samples = [
        MetricValue::Vector(vec![0.5]),
        MetricValue::Scalar(0.5),
        MetricValue::Vector(vec![]),
        MetricValue::Nil,
    ];
    let mut unknown = None;
    for sample in &samples {
        match condition.run(sample) {
            Err(message) if is_unknown_function(&message) => unknown = Some(message),
            _ => return Ok(Some(condition)),
        }
    }
    match unknown {
        Some(message) => Err(refuse(format!(
            "{message} (Argo adds asInt, asFloat, isNaN, isInf, isNil and default to expr's builtins)"
        ))),
        None => Ok(Some(condition)),
    }
}

fn is_unknown_function(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("unknown function") || lower.contains("undefined function")
}

/// A multi-line parser message on one line (it goes into a status field and a load error).
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Condition {
    /// Evaluates to a bool, or Argo's error message for this condition.
    fn eval(&self, result: &MetricValue) -> Result<bool, String> {
        self.run(result).map_err(|error| {
            if result.is_nil_or_empty() {
                format!(
                    "could not evaluate {} \"{}\": metric result is nil or empty: no data returned from the metric provider",
                    self.field, self.expression
                )
            } else {
                format!(
                    "could not evaluate {} \"{}\": {error}",
                    self.field, self.expression
                )
            }
        })
    }

    fn run(&self, result: &MetricValue) -> Result<bool, String> {
        let mut ctx = Context::default();
        ctx.insert("result", result.to_expr());
        match environment(result).run(&self.program, &ctx) {
            Ok(ExprValue::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("expected bool, but got {}", type_name(&other))),
            Err(e) => Err(one_line(&e.to_string())),
        }
    }
}

fn type_name(value: &ExprValue) -> &'static str {
    match value {
        ExprValue::Integer(_) => "int",
        ExprValue::Float(_) => "float64",
        ExprValue::String(_) => "string",
        ExprValue::Nil => "<nil>",
        ExprValue::Array(_) => "[]interface {}",
        ExprValue::Map(_) | ExprValue::KeyedMap(_) => "map[string]interface {}",
        _ => "value",
    }
}

/// expr's builtins plus Argo's helpers. `isNil` and `default` look at the whole result, as
/// Argo's do (their first argument is only there to read well).
fn environment(result: &MetricValue) -> Environment<'static> {
    let mut env = Environment::new();
    env.add_function("isNaN", |c| Ok(number(&c.args, "isNaN")?.is_nan().into()));
    env.add_function("isInf", |c| {
        Ok(number(&c.args, "isInf")?.is_infinite().into())
    });
    env.add_function("asFloat", |c| Ok(convert(&c.args, "asFloat")?.into()));
    env.add_function("asInt", |c| Ok((convert(&c.args, "asInt")? as i64).into()));
    let nil = *result == MetricValue::Nil;
    env.add_function("isNil", move |_| Ok(nil.into()));
    let value = result.to_expr();
    env.add_function("default", move |c| {
        if nil {
            Ok(c.args.get(1).cloned().unwrap_or_default())
        } else {
            Ok(value.clone())
        }
    });
    env
}

/// The float64 argument Go's `math.IsNaN` / `math.IsInf` take (an int converts, as Go expr
/// converts untyped constants; anything else is the type error Go expr reports).
fn number(args: &[ExprValue], name: &str) -> expr::Result<f64> {
    match args.first() {
        Some(ExprValue::Float(v)) => Ok(*v),
        Some(ExprValue::Integer(v)) => Ok(*v as f64),
        Some(other) => Err(expr::Error::ExprError(format!(
            "cannot use {} as type float64 in argument to {name}",
            type_name(other)
        ))),
        None => Err(expr::Error::ExprError(format!(
            "not enough arguments in call to {name}"
        ))),
    }
}

/// Argo's `asInt` / `asFloat`: a number, or a string holding one.
fn convert(args: &[ExprValue], name: &str) -> expr::Result<f64> {
    match args.first() {
        Some(ExprValue::String(s)) => s.trim().parse::<f64>().map_err(|e| {
            expr::Error::ExprError(format!("{name}(): strconv.ParseFloat: parsing {s:?}: {e}"))
        }),
        Some(other) => number(std::slice::from_ref(other), name),
        None => number(&[], name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(success: &str, failure: &str, result: MetricValue) -> Result<Phase, String> {
        Conditions::compile(success, failure)
            .unwrap()
            .evaluate(&result)
    }

    fn vector(values: &[f64]) -> MetricValue {
        MetricValue::Vector(values.to_vec())
    }

    #[test]
    fn forms_real_templates_use() {
        use Phase::*;
        let cases: &[(&str, &str, MetricValue, Phase)] = &[
            ("result[0] >= 0.95", "", vector(&[0.99]), Successful),
            ("result[0] >= 0.95", "", vector(&[0.5]), Failed),
            ("result < 0.05", "", MetricValue::Scalar(0.01), Successful),
            ("result < 0.05", "", MetricValue::Scalar(0.5), Failed),
            (
                "len(result) == 0 || result[0] < 0.1",
                "",
                vector(&[]),
                Successful,
            ),
            (
                "len(result) == 0 || result[0] < 0.1",
                "",
                vector(&[0.2]),
                Failed,
            ),
            ("", "isNaN(result)", MetricValue::Scalar(f64::NAN), Failed),
            ("", "isNaN(result)", MetricValue::Scalar(1.0), Successful),
            ("all(result, {# < 1})", "", vector(&[0.1, 0.9]), Successful),
            ("all(result, {# < 1})", "", vector(&[0.1, 1.5]), Failed),
            (
                "default(result, 0) < 0.05",
                "",
                MetricValue::Nil,
                Successful,
            ),
            (
                "asInt(result) == 3",
                "",
                MetricValue::Scalar(3.7),
                Successful,
            ),
            ("", "", vector(&[]), Successful),
        ];
        for (success, failure, result, phase) in cases {
            assert_eq!(
                verdict(success, failure, result.clone()),
                Ok(*phase),
                "{success:?} / {failure:?} on {result:?}"
            );
        }
    }

    #[test]
    fn neither_condition_true_is_inconclusive() {
        // The analysis-inconclusive pattern: both conditions guarded, an empty vector
        // satisfies neither.
        let success = "len(result) > 0 && result[0] < 0.05";
        let failure = "len(result) > 0 && result[0] >= 0.05";
        assert_eq!(
            verdict(success, failure, vector(&[])),
            Ok(Phase::Inconclusive)
        );
        assert_eq!(
            verdict(success, failure, vector(&[0.01])),
            Ok(Phase::Successful)
        );
        assert_eq!(verdict(success, failure, vector(&[0.5])), Ok(Phase::Failed));
        // Both true: failure wins.
        assert_eq!(verdict("true", "true", vector(&[])), Ok(Phase::Failed));
    }

    #[test]
    fn an_empty_result_indexed_is_an_error_naming_the_missing_data() {
        let err = verdict("result[0] >= 0.95", "", vector(&[])).unwrap_err();
        assert_eq!(
            err,
            "could not evaluate successCondition \"result[0] >= 0.95\": metric result is nil or empty: no data returned from the metric provider"
        );
    }

    #[test]
    fn a_mistyped_condition_is_an_error_measurement() {
        let err = verdict("result < 0.05", "", vector(&[0.01])).unwrap_err();
        assert!(
            err.starts_with("could not evaluate successCondition \"result < 0.05\": "),
            "{err}"
        );
        let err = verdict("result[0]", "", vector(&[0.01])).unwrap_err();
        assert!(err.ends_with("expected bool, but got float64"), "{err}");
    }

    #[test]
    fn syntax_errors_and_unknown_functions_are_refused_at_compile() {
        let err = Conditions::compile("result[0] >=", "").unwrap_err();
        assert_eq!(err.field, "successCondition");
        let err = Conditions::compile("", "percentile(result, 99) > 1").unwrap_err();
        assert_eq!(err.field, "failureCondition");
        assert!(err.reason.contains("percentile"), "{err}");
    }

    #[test]
    fn values_print_as_argos_providers_print_them() {
        assert_eq!(vector(&[0.01, 2.0]).display(), "[0.01,2]");
        assert_eq!(vector(&[]).display(), "[]");
        assert_eq!(MetricValue::Scalar(f64::NAN).display(), "NaN");
        assert_eq!(MetricValue::Scalar(f64::INFINITY).display(), "+Inf");
        assert_eq!(MetricValue::Scalar(1e-7).display(), "0.0000001");
    }
}
