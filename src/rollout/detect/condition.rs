//! Argo's `successCondition` / `failureCondition`: expr-lang expressions over `result`
//! (utils/evaluate/evaluate.go), evaluated here for a given result so a detector can tell which
//! way a metric fails. A subset of expr-lang: literals, `result`, indexing, member access,
//! `! not - +`, `* / % **`, `+ -`, comparisons, `in`, `&& and || or`, `?:`, and the functions
//! conditions use (`len`, `isNaN`, `isInf`, `isNil`, `abs`, `default`, `asInt`, `asFloat`,
//! `int`, `float`, `min`, `max`, `all`, `any`, `none`, `one`, `filter`, `map` with `#`). What
//! it does not know is a [`ConditionError::Unsupported`]; what would fail in Argo (an index out
//! of range, a vector compared with a number) is a [`ConditionError::Eval`], which Argo assesses
//! as Error.
//!
//! Pure: no I/O.

use std::fmt;

/// A value in a condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Num(f64),
    Bool(bool),
    Str(String),
    Nil,
    List(Vec<Val>),
}

/// Why a condition could not be evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConditionError {
    /// Beyond the subset understood here: the caller says so instead of guessing.
    Unsupported(String),
    /// What Argo's evaluation would fail on too (the measurement is Error).
    Eval(String),
}

impl fmt::Display for ConditionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConditionError::Unsupported(w) => write!(f, "not understood: {w}"),
            ConditionError::Eval(w) => write!(f, "fails: {w}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Str(String),
    Ident(String),
    Op(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Tok>, ConditionError> {
    const OPS: [&str; 27] = [
        "**", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "<", ">", "+", "-", "*", "/", "%",
        "!", "(", ")", "[", "]", ",", ".", "?", ":", "{", "}",
    ];
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || chars[i] == '.'
                    || chars[i] == '_'
                    || chars[i] == 'e'
                    || chars[i] == 'E'
                    || ((chars[i] == '-' || chars[i] == '+') && matches!(chars[i - 1], 'e' | 'E')))
            {
                i += 1;
            }
            let s: String = chars[start..i].iter().filter(|c| **c != '_').collect();
            let n = s
                .parse()
                .map_err(|_| ConditionError::Unsupported(format!("the number `{s}`")))?;
            out.push(Tok::Num(n));
        } else if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            while i < chars.len() && chars[i] != quote {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err(ConditionError::Unsupported("an unterminated string".into()));
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_alphabetic() || c == '_' || c == '#' || c == '$' {
            let start = i;
            i += 1;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let op = OPS
                .iter()
                .find(|op| rest.starts_with(**op))
                .ok_or_else(|| ConditionError::Unsupported(format!("the character `{c}`")))?;
            i += op.chars().count();
            out.push(Tok::Op(op));
        }
    }
    Ok(out)
}

/// A parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    Lit(Val),
    Var(String),
    Index(Box<Ast>, Box<Ast>),
    Member(Box<Ast>, String),
    Call(String, Vec<Ast>),
    Unary(&'static str, Box<Ast>),
    Binary(&'static str, Box<Ast>, Box<Ast>),
    Ternary(Box<Ast>, Box<Ast>, Box<Ast>),
    List(Vec<Ast>),
    /// `{ … # … }`: a predicate over `#`.
    Closure(Box<Ast>),
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, op: &str) -> Result<(), ConditionError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            Err(ConditionError::Unsupported(format!(
                "expected `{op}` at token {}",
                self.at + 1
            )))
        }
    }

    fn expr(&mut self) -> Result<Ast, ConditionError> {
        let cond = self.or()?;
        if self.eat_op("?") {
            let yes = self.expr()?;
            self.expect(":")?;
            let no = self.expr()?;
            return Ok(Ast::Ternary(Box::new(cond), Box::new(yes), Box::new(no)));
        }
        Ok(cond)
    }

    fn or(&mut self) -> Result<Ast, ConditionError> {
        let mut lhs = self.and()?;
        loop {
            if self.eat_op("||") || self.eat_word("or") {
                lhs = Ast::Binary("||", Box::new(lhs), Box::new(self.and()?));
            } else if self.eat_op("??") {
                lhs = Ast::Binary("??", Box::new(lhs), Box::new(self.and()?));
            } else {
                return Ok(lhs);
            }
        }
    }

    fn and(&mut self) -> Result<Ast, ConditionError> {
        let mut lhs = self.compare()?;
        while self.eat_op("&&") || self.eat_word("and") {
            lhs = Ast::Binary("&&", Box::new(lhs), Box::new(self.compare()?));
        }
        Ok(lhs)
    }

    fn compare(&mut self) -> Result<Ast, ConditionError> {
        let mut lhs = self.additive()?;
        loop {
            let op = ["==", "!=", "<=", ">=", "<", ">"]
                .into_iter()
                .find(|op| self.eat_op(op));
            let op = match op {
                Some(op) => op,
                None if self.eat_word("in") => "in",
                None => return Ok(lhs),
            };
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(self.additive()?));
        }
    }

    fn additive(&mut self) -> Result<Ast, ConditionError> {
        let mut lhs = self.multiplicative()?;
        loop {
            let op = ["+", "-"].into_iter().find(|op| self.eat_op(op));
            let Some(op) = op else { return Ok(lhs) };
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(self.multiplicative()?));
        }
    }

    fn multiplicative(&mut self) -> Result<Ast, ConditionError> {
        let mut lhs = self.power()?;
        loop {
            let op = ["*", "/", "%"].into_iter().find(|op| self.eat_op(op));
            let Some(op) = op else { return Ok(lhs) };
            lhs = Ast::Binary(op, Box::new(lhs), Box::new(self.power()?));
        }
    }

    fn power(&mut self) -> Result<Ast, ConditionError> {
        let base = self.unary()?;
        if self.eat_op("**") {
            return Ok(Ast::Binary("**", Box::new(base), Box::new(self.power()?)));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<Ast, ConditionError> {
        if self.eat_op("!") || self.eat_word("not") {
            return Ok(Ast::Unary("!", Box::new(self.unary()?)));
        }
        if self.eat_op("-") {
            return Ok(Ast::Unary("-", Box::new(self.unary()?)));
        }
        if self.eat_op("+") {
            return self.unary();
        }
        self.postfix()
    }

    fn postfix(&mut self) -> Result<Ast, ConditionError> {
        let mut e = self.primary()?;
        loop {
            if self.eat_op("[") {
                let i = self.expr()?;
                self.expect("]")?;
                e = Ast::Index(Box::new(e), Box::new(i));
            } else if self.eat_op(".") || self.eat_op("?.") {
                match self.toks.get(self.at).cloned() {
                    Some(Tok::Ident(name)) => {
                        self.at += 1;
                        e = Ast::Member(Box::new(e), name);
                    }
                    _ => return Err(ConditionError::Unsupported("a member access".into())),
                }
            } else {
                return Ok(e);
            }
        }
    }

    fn primary(&mut self) -> Result<Ast, ConditionError> {
        let tok = self
            .toks
            .get(self.at)
            .cloned()
            .ok_or_else(|| ConditionError::Unsupported("an incomplete expression".into()))?;
        self.at += 1;
        match tok {
            Tok::Num(n) => Ok(Ast::Lit(Val::Num(n))),
            Tok::Str(s) => Ok(Ast::Lit(Val::Str(s))),
            Tok::Ident(w) => match w.as_str() {
                "true" => Ok(Ast::Lit(Val::Bool(true))),
                "false" => Ok(Ast::Lit(Val::Bool(false))),
                "nil" => Ok(Ast::Lit(Val::Nil)),
                _ if self.eat_op("(") => {
                    let mut args = Vec::new();
                    if !self.eat_op(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.eat_op(")") {
                                break;
                            }
                            self.expect(",")?;
                        }
                    }
                    Ok(Ast::Call(w, args))
                }
                _ => Ok(Ast::Var(w)),
            },
            Tok::Op("(") => {
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Op("[") => {
                let mut items = Vec::new();
                if !self.eat_op("]") {
                    loop {
                        items.push(self.expr()?);
                        if self.eat_op("]") {
                            break;
                        }
                        self.expect(",")?;
                    }
                }
                Ok(Ast::List(items))
            }
            Tok::Op("{") => {
                let body = self.expr()?;
                self.expect("}")?;
                Ok(Ast::Closure(Box::new(body)))
            }
            Tok::Op(op) => Err(ConditionError::Unsupported(format!("`{op}` here"))),
        }
    }
}

/// Parses a condition.
pub fn parse(text: &str) -> Result<Ast, ConditionError> {
    let mut p = Parser {
        toks: tokenize(text)?,
        at: 0,
    };
    let ast = p.expr()?;
    if p.at != p.toks.len() {
        return Err(ConditionError::Unsupported(format!(
            "trailing input after token {}",
            p.at
        )));
    }
    Ok(ast)
}

fn eval_err<T>(why: impl Into<String>) -> Result<T, ConditionError> {
    Err(ConditionError::Eval(why.into()))
}

fn truthy(v: &Val) -> Result<bool, ConditionError> {
    match v {
        Val::Bool(b) => Ok(*b),
        other => eval_err(format!("expected bool, got {other:?}")),
    }
}

fn num(v: &Val) -> Result<f64, ConditionError> {
    match v {
        Val::Num(n) => Ok(*n),
        other => eval_err(format!("expected a number, got {}", kind(other))),
    }
}

fn kind(v: &Val) -> &'static str {
    match v {
        Val::Num(_) => "a number",
        Val::Bool(_) => "a bool",
        Val::Str(_) => "a string",
        Val::Nil => "nil",
        Val::List(_) => "a list ([]float64)",
    }
}

/// Evaluates `ast` with `result` bound (and `#` inside a closure).
pub fn eval(ast: &Ast, result: &Val) -> Result<Val, ConditionError> {
    Env { result, item: None }.eval(ast)
}

struct Env<'a> {
    result: &'a Val,
    item: Option<&'a Val>,
}

impl Env<'_> {
    fn eval(&self, ast: &Ast) -> Result<Val, ConditionError> {
        match ast {
            Ast::Lit(v) => Ok(v.clone()),
            Ast::Var(name) => match name.as_str() {
                "result" => Ok(self.result.clone()),
                "#" => self
                    .item
                    .cloned()
                    .ok_or_else(|| ConditionError::Unsupported("`#` outside a predicate".into())),
                other => Err(ConditionError::Unsupported(format!(
                    "the variable `{other}`"
                ))),
            },
            Ast::List(items) => Ok(Val::List(
                items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?,
            )),
            Ast::Closure(_) => Err(ConditionError::Unsupported("a predicate here".into())),
            Ast::Index(base, index) => {
                let base = self.eval(base)?;
                let index = num(&self.eval(index)?)?;
                match base {
                    Val::List(items) => {
                        let i = if index < 0.0 {
                            items.len() as f64 + index
                        } else {
                            index
                        };
                        items
                            .get(i as usize)
                            .filter(|_| i >= 0.0)
                            .cloned()
                            .ok_or_else(|| {
                                ConditionError::Eval("reflect: slice index out of range".into())
                            })
                    }
                    other => eval_err(format!("cannot index {}", kind(&other))),
                }
            }
            Ast::Member(_, name) => Err(ConditionError::Unsupported(format!(
                "the field `.{name}` (a structured result)"
            ))),
            Ast::Unary(op, e) => {
                let v = self.eval(e)?;
                match *op {
                    "!" => Ok(Val::Bool(!truthy(&v)?)),
                    _ => Ok(Val::Num(-num(&v)?)),
                }
            }
            Ast::Ternary(c, yes, no) => {
                if truthy(&self.eval(c)?)? {
                    self.eval(yes)
                } else {
                    self.eval(no)
                }
            }
            Ast::Binary(op, l, r) => self.binary(op, l, r),
            Ast::Call(name, args) => self.call(name, args),
        }
    }

    fn binary(&self, op: &str, l: &Ast, r: &Ast) -> Result<Val, ConditionError> {
        match op {
            "&&" => {
                return Ok(Val::Bool(
                    truthy(&self.eval(l)?)? && truthy(&self.eval(r)?)?,
                ));
            }
            "||" => {
                return Ok(Val::Bool(
                    truthy(&self.eval(l)?)? || truthy(&self.eval(r)?)?,
                ));
            }
            "??" => {
                let lv = self.eval(l)?;
                return if lv == Val::Nil { self.eval(r) } else { Ok(lv) };
            }
            _ => {}
        }
        let (lv, rv) = (self.eval(l)?, self.eval(r)?);
        match op {
            "==" => Ok(Val::Bool(lv == rv)),
            "!=" => Ok(Val::Bool(lv != rv)),
            "in" => match rv {
                Val::List(items) => Ok(Val::Bool(items.contains(&lv))),
                other => eval_err(format!("`in` over {}", kind(&other))),
            },
            "+" if matches!((&lv, &rv), (Val::Str(_), Val::Str(_))) => match (lv, rv) {
                (Val::Str(a), Val::Str(b)) => Ok(Val::Str(a + &b)),
                _ => unreachable!(),
            },
            _ => {
                let (a, b) = match (&lv, &rv) {
                    (Val::Num(a), Val::Num(b)) => (*a, *b),
                    _ => {
                        return eval_err(format!(
                            "invalid operation: {} {op} {}",
                            kind(&lv),
                            kind(&rv)
                        ));
                    }
                };
                Ok(match op {
                    "<" => Val::Bool(a < b),
                    "<=" => Val::Bool(a <= b),
                    ">" => Val::Bool(a > b),
                    ">=" => Val::Bool(a >= b),
                    "+" => Val::Num(a + b),
                    "-" => Val::Num(a - b),
                    "*" => Val::Num(a * b),
                    "/" => Val::Num(a / b),
                    "%" => Val::Num(a % b),
                    "**" => Val::Num(a.powf(b)),
                    other => return Err(ConditionError::Unsupported(format!("`{other}`"))),
                })
            }
        }
    }

    fn call(&self, name: &str, args: &[Ast]) -> Result<Val, ConditionError> {
        let arg = |i: usize| -> Result<Val, ConditionError> {
            match args.get(i) {
                Some(a) => self.eval(a),
                None => Err(ConditionError::Unsupported(format!(
                    "{name}() without argument {}",
                    i + 1
                ))),
            }
        };
        let list = |i: usize| -> Result<Vec<Val>, ConditionError> {
            match arg(i)? {
                Val::List(items) => Ok(items),
                other => eval_err(format!("{name}() over {}", kind(&other))),
            }
        };
        let predicate = |i: usize| -> Result<&Ast, ConditionError> {
            match args.get(i) {
                Some(Ast::Closure(body)) => Ok(body),
                Some(body) => Ok(body),
                None => Err(ConditionError::Unsupported(format!(
                    "{name}() without predicate"
                ))),
            }
        };
        let test = |item: &Val, body: &Ast| -> Result<bool, ConditionError> {
            let env = Env {
                result: self.result,
                item: Some(item),
            };
            truthy(&env.eval(body)?)
        };
        match name {
            "len" => match arg(0)? {
                Val::List(items) => Ok(Val::Num(items.len() as f64)),
                Val::Str(s) => Ok(Val::Num(s.chars().count() as f64)),
                other => eval_err(format!("len() of {}", kind(&other))),
            },
            "isNaN" => Ok(Val::Bool(num(&arg(0)?)?.is_nan())),
            "isInf" => Ok(Val::Bool(num(&arg(0)?)?.is_infinite())),
            "isNil" => Ok(Val::Bool(arg(0)? == Val::Nil)),
            "abs" => Ok(Val::Num(num(&arg(0)?)?.abs())),
            "int" | "asInt" => Ok(Val::Num(num(&arg(0)?)?.trunc())),
            "float" | "asFloat" => Ok(Val::Num(num(&arg(0)?)?)),
            "default" => {
                let v = arg(0)?;
                if v == Val::Nil { arg(1) } else { Ok(v) }
            }
            "min" | "max" => {
                let values: Vec<f64> = match args.len() {
                    1 => list(0)?.iter().map(num).collect::<Result<_, _>>()?,
                    _ => (0..args.len())
                        .map(|i| arg(i).and_then(|v| num(&v)))
                        .collect::<Result<_, _>>()?,
                };
                let pick = if name == "min" { f64::min } else { f64::max };
                values
                    .into_iter()
                    .reduce(pick)
                    .map(Val::Num)
                    .ok_or_else(|| ConditionError::Eval(format!("{name}() of nothing")))
            }
            "all" | "any" | "none" | "one" | "filter" | "count" => {
                let items = list(0)?;
                let body = predicate(1)?;
                let mut hits = Vec::new();
                for item in &items {
                    if test(item, body)? {
                        hits.push(item.clone());
                    }
                }
                Ok(match name {
                    "all" => Val::Bool(hits.len() == items.len()),
                    "any" => Val::Bool(!hits.is_empty()),
                    "none" => Val::Bool(hits.is_empty()),
                    "one" => Val::Bool(hits.len() == 1),
                    "count" => Val::Num(hits.len() as f64),
                    _ => Val::List(hits),
                })
            }
            "map" => {
                let items = list(0)?;
                let body = predicate(1)?;
                let mapped = items
                    .iter()
                    .map(|item| {
                        Env {
                            result: self.result,
                            item: Some(item),
                        }
                        .eval(body)
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Val::List(mapped))
            }
            other => Err(ConditionError::Unsupported(format!(
                "the function {other}()"
            ))),
        }
    }
}

/// Argo's assessment of one measurement (utils/evaluate `EvaluateResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assessment {
    Successful,
    Failed,
    Inconclusive,
    Error,
}

/// Assesses `result` against the metric's conditions as Argo does: no conditions is success;
/// only a success condition fails when false; only a failure condition succeeds when false;
/// both false is Inconclusive; an evaluation error is Error.
pub fn assess(
    success: Option<&Ast>,
    failure: Option<&Ast>,
    result: &Val,
) -> Result<Assessment, ConditionError> {
    let test = |ast: &Ast| -> Result<Option<bool>, ConditionError> {
        match eval(ast, result) {
            Ok(v) => truthy(&v).map(Some).or(Ok(None)),
            Err(ConditionError::Eval(_)) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let s = success.map(test).transpose()?;
    let f = failure.map(test).transpose()?;
    // An evaluation error anywhere: Error.
    if s == Some(None) || f == Some(None) {
        return Ok(Assessment::Error);
    }
    let (s, f) = (s.flatten(), f.flatten());
    Ok(match (s, f) {
        (None, None) => Assessment::Successful,
        (Some(s), None) => {
            if s {
                Assessment::Successful
            } else {
                Assessment::Failed
            }
        }
        (None, Some(f)) => {
            if f {
                Assessment::Failed
            } else {
                Assessment::Successful
            }
        }
        (Some(s), Some(f)) => {
            if f {
                Assessment::Failed
            } else if s {
                Assessment::Successful
            } else {
                Assessment::Inconclusive
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(cond: &str, result: Val) -> Result<Val, ConditionError> {
        eval(&parse(cond)?, &result)
    }

    fn list(v: &[f64]) -> Val {
        Val::List(v.iter().map(|x| Val::Num(*x)).collect())
    }

    #[test]
    fn conditions_from_argos_docs_evaluate() {
        // docs/features/analysis.md and docs/analysis/prometheus.md.
        assert_eq!(
            check("result[0] >= 0.95", list(&[0.97])),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            check("result[0] <= 0.01", list(&[0.02])),
            Ok(Val::Bool(false))
        );
        assert_eq!(
            check("len(result) == 0 || result[0] < 0.05", list(&[])),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            check("isNaN(result[0]) || result[0] >= 0.95", list(&[f64::NAN])),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            check("all(result, {# < 0.05})", list(&[0.01, 0.02])),
            Ok(Val::Bool(true))
        );
        assert_eq!(check("result == 1", Val::Num(1.0)), Ok(Val::Bool(true)));
        assert_eq!(
            check("not (result[0] > 1) and true", list(&[0.5])),
            Ok(Val::Bool(true))
        );
        assert_eq!(
            check("result[0] * 100 > 5 ? false : true", list(&[0.01])),
            Ok(Val::Bool(true))
        );
    }

    #[test]
    fn what_argo_would_fail_on_is_an_eval_error() {
        assert!(matches!(
            check("result[0] < 0.05", list(&[])),
            Err(ConditionError::Eval(m)) if m.contains("slice index out of range")
        ));
        assert!(matches!(
            check("result < 0.05", list(&[0.01])),
            Err(ConditionError::Eval(m)) if m.contains("a list")
        ));
        assert!(matches!(
            check("result.data.ok == true", list(&[])),
            Err(ConditionError::Unsupported(_))
        ));
    }

    #[test]
    fn assessment_follows_argo() {
        let s = parse("result[0] >= 0.95").unwrap();
        let f = parse("result[0] < 0.90").unwrap();
        assert_eq!(
            assess(Some(&s), None, &list(&[0.9])),
            Ok(Assessment::Failed)
        );
        assert_eq!(
            assess(None, Some(&f), &list(&[0.92])),
            Ok(Assessment::Successful)
        );
        assert_eq!(
            assess(Some(&s), Some(&f), &list(&[f64::NAN])),
            Ok(Assessment::Inconclusive)
        );
        assert_eq!(assess(Some(&s), None, &list(&[])), Ok(Assessment::Error));
        assert_eq!(assess(None, None, &list(&[])), Ok(Assessment::Successful));
    }
}
