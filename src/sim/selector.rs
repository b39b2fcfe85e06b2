//! Label and field selectors: parsing the query-string forms and matching objects.
//!
//! Pure functions over `serde_json::Value`; no I/O. Field selectors resolve any dotted path
//! (`metadata.name`, `involvedObject.kind`, `status.phase`) against the object, which covers
//! the fields the real API server supports for the kinds we serve.

use std::collections::BTreeMap;

use serde_json::Value;

/// A selector string that could not be parsed; the message says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {which} selector {input:?}: {reason}")]
pub struct SelectorError {
    pub which: &'static str,
    pub input: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
    Gt(i64),
    Lt(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),h notin (i),j,!k,l>3`.
    pub fn parse(input: &str) -> Result<LabelSelector, SelectorError> {
        let err = |reason: &str| SelectorError {
            which: "label",
            input: input.to_string(),
            reason: reason.to_string(),
        };
        let mut requirements = Vec::new();
        for part in split_top_level(input).map_err(|r| err(&r))? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part).map_err(|r| err(&r))?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether `labels` satisfies every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|req| {
            let value = labels.get(&req.key);
            match &req.op {
                Op::Eq(v) => value == Some(v),
                Op::NotEq(v) => value != Some(v),
                Op::In(vs) => value.is_some_and(|x| vs.contains(x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.contains(x)),
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
                Op::Gt(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x > *n),
                Op::Lt(n) => value
                    .and_then(|x| x.parse::<i64>().ok())
                    .is_some_and(|x| x < *n),
            }
        })
    }

    /// Whether the object's `metadata.labels` satisfy the selector.
    pub fn matches_object(&self, object: &Value) -> bool {
        if self.requirements.is_empty() {
            return true;
        }
        self.matches(&labels_of(object))
    }
}

/// An object's labels as a map (missing labels are an empty map).
pub fn labels_of(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(input: &str) -> Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in input.chars() {
        match c {
            '(' => {
                depth += 1;
                current.push(c);
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or("unbalanced ')'")?;
                current.push(c);
            }
            ',' if depth == 0 => parts.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_string());
    }
    parts.push(current);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: checked_key(key.trim())?,
            op: Op::NotExists,
        });
    }
    for (token, build) in [
        ("==", Op::Eq as fn(String) -> Op),
        ("!=", Op::NotEq),
        ("=", Op::Eq),
    ] {
        if let Some((key, value)) = part.split_once(token) {
            return Ok(Requirement {
                key: checked_key(key.trim())?,
                op: build(value.trim().to_string()),
            });
        }
    }
    for (token, is_gt) in [(">", true), ("<", false)] {
        if let Some((key, value)) = part.split_once(token) {
            let n: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("{token} needs an integer, got {:?}", value.trim()))?;
            return Ok(Requirement {
                key: checked_key(key.trim())?,
                op: if is_gt { Op::Gt(n) } else { Op::Lt(n) },
            });
        }
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = checked_key(words.next().unwrap_or_default())?;
    let Some(rest) = words.next().map(str::trim) else {
        return Ok(Requirement {
            key,
            op: Op::Exists,
        });
    };
    let (is_in, list) = if let Some(list) = rest.strip_prefix("notin") {
        (false, list)
    } else if let Some(list) = rest.strip_prefix("in") {
        (true, list)
    } else {
        return Err(format!(
            "expected =, ==, !=, in or notin after {key:?}, got {rest:?}"
        ));
    };
    let list = list
        .trim()
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesised list after {key:?}"))?;
    let values: Vec<String> = list
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    Ok(Requirement {
        key,
        op: if is_in {
            Op::In(values)
        } else {
            Op::NotIn(values)
        },
    })
}

fn checked_key(key: &str) -> Result<String, String> {
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err(format!("bad key {key:?}"));
    }
    Ok(key.to_string())
}

/// A parsed field selector: `path=value`, `path==value`, `path!=value`, comma-separated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    pub fn parse(input: &str) -> Result<FieldSelector, SelectorError> {
        let mut terms = Vec::new();
        for part in input.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, equal, value) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(SelectorError {
                    which: "field",
                    input: input.to_string(),
                    reason: format!("{part:?} is not path=value or path!=value"),
                });
            };
            terms.push((key.trim().to_string(), equal, value.trim().to_string()));
        }
        Ok(FieldSelector { terms })
    }

    pub fn matches_object(&self, object: &Value) -> bool {
        self.terms
            .iter()
            .all(|(path, equal, value)| (field_value(object, path) == *value) == *equal)
    }
}

/// The string form of a dotted path in an object; missing fields read as "".
pub fn field_value(object: &Value, path: &str) -> String {
    let mut current = object;
    for segment in path.split('.') {
        match current.get(segment) {
            Some(next) => current = next,
            None => return String::new(),
        }
    }
    match current {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_and_inequality() {
        let s = LabelSelector::parse("app=litellm,tier==web,track!=canary").unwrap();
        assert!(s.matches(&labels(&[("app", "litellm"), ("tier", "web")])));
        assert!(!s.matches(&labels(&[
            ("app", "litellm"),
            ("tier", "web"),
            ("track", "canary")
        ])));
        assert!(!s.matches(&labels(&[("app", "other"), ("tier", "web")])));
    }

    #[test]
    fn set_based() {
        let s = LabelSelector::parse("env in (prod, staging),track notin (canary),app").unwrap();
        assert!(s.matches(&labels(&[("env", "prod"), ("app", "x")])));
        assert!(!s.matches(&labels(&[("env", "dev"), ("app", "x")])));
        assert!(!s.matches(&labels(&[
            ("env", "prod"),
            ("app", "x"),
            ("track", "canary")
        ])));
        assert!(!s.matches(&labels(&[("env", "prod")])));
        let not = LabelSelector::parse("!pod-template-hash").unwrap();
        assert!(not.matches(&labels(&[])));
        assert!(!not.matches(&labels(&[("pod-template-hash", "abc")])));
        let gt = LabelSelector::parse("weight>10").unwrap();
        assert!(gt.matches(&labels(&[("weight", "20")])));
        assert!(!gt.matches(&labels(&[("weight", "5")])));
    }

    #[test]
    fn empty_matches_all_and_errors_are_clear() {
        assert!(LabelSelector::parse("").unwrap().matches(&labels(&[])));
        let err = LabelSelector::parse("env in (a").unwrap_err();
        assert!(err.to_string().contains("unbalanced"), "{err}");
        let err = LabelSelector::parse("env maybe (a)").unwrap_err();
        assert!(err.to_string().contains("notin"), "{err}");
    }

    #[test]
    fn field_selector_on_events() {
        let event = json!({
            "metadata": {"name": "litellm.1", "namespace": "llm"},
            "involvedObject": {"kind": "Rollout", "name": "litellm"},
            "count": 3
        });
        let s = FieldSelector::parse("involvedObject.kind=Rollout,involvedObject.name=litellm")
            .unwrap();
        assert!(s.matches_object(&event));
        assert!(
            !FieldSelector::parse("metadata.namespace!=llm")
                .unwrap()
                .matches_object(&event)
        );
        assert!(
            FieldSelector::parse("count=3")
                .unwrap()
                .matches_object(&event)
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn labels_strategy() -> impl Strategy<Value = BTreeMap<String, String>> {
            proptest::collection::btree_map("[a-c]", "[x-z]", 0..3)
        }

        proptest! {
            /// Set-based and equality forms agree, and each operator is the negation of its
            /// opposite, for any labels.
            #[test]
            fn operators_agree(labels in labels_strategy(), key in "[a-c]", value in "[x-z]") {
                let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&labels);
                prop_assert_eq!(m(&format!("{key}={value}")), m(&format!("{key} in ({value})")));
                prop_assert_eq!(m(&format!("{key}!={value}")), m(&format!("{key} notin ({value})")));
                prop_assert_eq!(m(&format!("{key}={value}")), !m(&format!("{key}!={value}")));
                prop_assert_eq!(m(&key), !m(&format!("!{key}")));
                prop_assert_eq!(m(&key), labels.contains_key(&key));
                // A conjunction matches exactly when both parts do.
                let both = format!("{key},{key}!={value}");
                prop_assert_eq!(m(&both), m(&key) && m(&format!("{key}!={value}")));
            }
        }
    }
}
