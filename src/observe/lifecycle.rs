//! Alerts with a lifecycle. Every alert belongs to a *condition* (detector, object, aspect). While
//! the condition holds it is not re-posted; a worse state posts one escalation that refs the
//! first alert; when the condition clears, the observer that raised it posts a `resolved` entry
//! that refs it. Observations that say something could not be judged are said once.
//!
//! Identity survives restarts: each entry carries an idempotency key derived from its condition
//! (`c/<scope>/<condition>#<n>` for the n-th alert of that condition, `…/up` for its
//! escalation, `…/resolved` for its resolution, `o/<scope>/<condition>` for a once-said
//! observation). An observer that starts reads its own earlier entries ([`Lifecycle::restore`])
//! and so knows which of its alerts are open: a restart or a relist posts no duplicate and loses
//! no resolution (a condition that cleared while it was down is resolved at its first look).
//! The store refuses a second entry with a key, so even two racing observers cannot double-post.
//!
//! Hysteresis (wall time): a condition must hold for its `confirm` time before it is alerted
//! and be gone for its `clear` time before it is resolved, so a half-applied step (watches of
//! different kinds arrive in no common order) neither raises nor clears anything.
//!
//! Pure: conditions and instants in, [`Observation`]s out; no I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::{Observation, Ref};
use crate::channel::Kind;

/// Something that holds now, as an observer reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Stable identity within the scope (`detector|subject|aspect`).
    pub key: String,
    /// An alert (something wrong) or an observation said once (something not judged).
    pub alert: bool,
    /// The markdown body to post when it is first said (headline first).
    pub body: String,
    /// The headline alone, for the escalation and the resolution.
    pub headline: String,
    /// How bad: rising above the level first posted escalates once.
    pub level: u8,
    /// How long it must hold before it is said.
    pub confirm: Duration,
    /// How long it must be gone before it is resolved (at least [`CLEAR_AFTER`]).
    pub clear: Duration,
}

/// One of this observer's earlier entries, as [`Lifecycle::restore`] needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub id: String,
    pub kind: Kind,
    pub key: Option<String>,
    pub refs: Vec<String>,
}

/// An alert that is open.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Open {
    /// The alert entry's idempotency key (its id is looked up by key when posting).
    entry_key: String,
    level: u8,
    escalated: bool,
    headline: String,
    /// When it was last seen holding (wall), for the clear hysteresis; None right after a
    /// restore until it is judged once.
    last_held: Option<Instant>,
    /// How long it must be gone before it is resolved.
    clear: Duration,
}

/// What an observer has said and what is open, per scope (a Rollout, a namespace, a route
/// set).
#[derive(Debug, Clone, Default)]
pub struct Lifecycle {
    /// `scope/condition` (encoded) -> open alert.
    open: BTreeMap<String, Open>,
    /// `scope/condition` (encoded) -> alerts raised so far (the next one is numbered after).
    raised: BTreeMap<String, u32>,
    /// Observations said once, by `scope/condition` (encoded).
    said_once: BTreeSet<String>,
    /// Conditions seen holding but not yet confirmed: since when, and when they will be.
    pending: BTreeMap<String, (Instant, Instant)>,
}

/// Characters an idempotency key may hold besides ASCII letters and digits.
const KEY_PUNCT: &[char] = &['.', '_', ':', '/', '@', '+', '#', '-'];
/// Room for the prefix and the `#n/resolved` suffix within the store's 128 bytes.
const KEY_BODY_MAX: usize = 96;

/// A condition's key in the store's key alphabet: spaces become `_`, `|` becomes `:`, anything
/// else outside it `-`; a long one is cut and completed with a hash of the whole.
pub fn encode(scope: &str, condition: &str) -> String {
    let raw = format!("{scope}/{condition}");
    let mapped: String = raw
        .chars()
        .map(|c| match c {
            ' ' => '_',
            '|' => ':',
            c if c.is_ascii_alphanumeric() || KEY_PUNCT.contains(&c) && c != '#' => c,
            _ => '-',
        })
        .collect();
    if mapped.len() <= KEY_BODY_MAX {
        return mapped;
    }
    let hash = blake3::hash(raw.as_bytes()).to_hex();
    format!("{}+{}", &mapped[..KEY_BODY_MAX - 17], &hash[..16])
}

fn alert_key(code: &str, n: u32) -> String {
    format!("c/{code}#{n}")
}

/// Splits `c/<code>#<n>[/up|/resolved]` into (code, n, suffix).
fn parse_key(key: &str) -> Option<(&str, u32, &str)> {
    let rest = key.strip_prefix("c/")?;
    let (code, tail) = rest.rsplit_once('#')?;
    let (n, suffix) = match tail.split_once('/') {
        Some((n, s)) => (n, s),
        None => (tail, ""),
    };
    Some((code, n.parse().ok()?, suffix))
}

impl Lifecycle {
    pub fn new() -> Lifecycle {
        Lifecycle::default()
    }

    /// The wall instant the first pending condition will have held for its confirm time, if
    /// it still holds then: the observer judges again at that moment, not at its next tick.
    pub fn next_confirm(&self) -> Option<Instant> {
        self.pending.values().map(|(_, due)| *due).min()
    }

    /// Rebuilds what is open from this observer's earlier entries: an alert is open unless a
    /// `resolved` entry refs it (acks do not close anything for the observer: resolved wins).
    pub fn restore(entries: &[Said]) -> Lifecycle {
        let mut lc = Lifecycle::new();
        let resolved: BTreeSet<&str> = entries
            .iter()
            .filter(|e| e.kind == Kind::Resolved)
            .flat_map(|e| e.refs.iter().map(String::as_str))
            .collect();
        let mut ids: BTreeMap<String, &Said> = BTreeMap::new();
        for e in entries {
            let Some(key) = &e.key else { continue };
            if let Some(once) = key.strip_prefix("o/") {
                lc.said_once.insert(once.to_string());
                continue;
            }
            let Some((code, n, suffix)) = parse_key(key) else {
                continue;
            };
            let raised = lc.raised.entry(code.to_string()).or_insert(0);
            *raised = (*raised).max(n);
            if e.kind == Kind::Alert && suffix.is_empty() {
                ids.insert(key.clone(), e);
                if !resolved.contains(e.id.as_str()) {
                    lc.open.insert(
                        code.to_string(),
                        Open {
                            entry_key: key.clone(),
                            level: 0,
                            escalated: false,
                            headline: String::new(),
                            last_held: None,
                            clear: CLEAR_AFTER,
                        },
                    );
                } else {
                    lc.open.remove(code);
                }
            } else if suffix == "up"
                && let Some(open) = lc.open.get_mut(code)
                && open.entry_key == alert_key(code, n)
            {
                open.escalated = true;
                open.level = u8::MAX;
            } else if suffix == "resolved"
                && lc
                    .open
                    .get(code)
                    .is_some_and(|o| o.entry_key == alert_key(code, n))
            {
                lc.open.remove(code);
            }
        }
        lc
    }

    /// Whether `condition` of `scope` has an open alert.
    pub fn is_open(&self, scope: &str, condition: &str) -> bool {
        self.open.contains_key(&encode(scope, condition))
    }

    /// The open alerts of `scope` (encoded keys), for state snapshots and tests.
    pub fn open_in(&self, scope: &str) -> Vec<String> {
        let prefix = encode(scope, "");
        self.open
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect()
    }

    /// Judges everything that holds in `scope` now (the complete list: a condition of the scope
    /// that is not in it has cleared). Returns what to post, in order.
    pub fn judge(&mut self, scope: &str, holding: &[Condition], now: Instant) -> Vec<Observation> {
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for c in holding {
            let code = encode(scope, &c.key);
            seen.insert(code.clone());
            if !c.alert {
                if self.said_once.insert(code.clone()) {
                    out.push(Observation {
                        kind: Kind::Observation,
                        body: c.body.clone(),
                        key: Some(format!("o/{code}")),
                        refs: Vec::new(),
                    });
                }
                continue;
            }
            if let Some(open) = self.open.get_mut(&code) {
                open.last_held = Some(now);
                open.clear = c.clear.max(CLEAR_AFTER);
                if open.headline.is_empty() {
                    open.headline = c.headline.clone();
                    // Restored: the level first posted is unknown; take today's as the base.
                    if open.level != u8::MAX {
                        open.level = c.level;
                    }
                }
                if c.level > open.level && !open.escalated {
                    open.escalated = true;
                    open.level = c.level;
                    out.push(Observation {
                        kind: Kind::Alert,
                        body: format!("**escalated** — {}", c.body),
                        key: Some(format!("{}/up", open.entry_key)),
                        refs: vec![Ref::Key(open.entry_key.clone())],
                    });
                }
                self.pending.remove(&code);
                continue;
            }
            let (since, _) = *self
                .pending
                .entry(code.clone())
                .or_insert((now, now + c.confirm));
            if now.duration_since(since) < c.confirm {
                continue;
            }
            self.pending.remove(&code);
            let n = self.raised.get(&code).copied().unwrap_or(0) + 1;
            self.raised.insert(code.clone(), n);
            let entry_key = alert_key(&code, n);
            out.push(Observation {
                kind: Kind::Alert,
                body: c.body.clone(),
                key: Some(entry_key.clone()),
                refs: Vec::new(),
            });
            self.open.insert(
                code,
                Open {
                    entry_key,
                    level: c.level,
                    escalated: false,
                    headline: c.headline.clone(),
                    last_held: Some(now),
                    clear: c.clear.max(CLEAR_AFTER),
                },
            );
        }
        // Pending sightings that are gone were transient.
        self.pending
            .retain(|k, _| seen.contains(k) || !k.starts_with(&encode(scope, "")));
        let prefix = encode(scope, "");
        let cleared: Vec<String> = self
            .open
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !seen.contains(*k))
            .filter(|(_, o)| {
                // Gone for long enough (an alert restored from the record and not holding at
                // the first look is resolved at once).
                o.last_held.is_none_or(|t| now.duration_since(t) >= o.clear)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for code in cleared {
            let Some(open) = self.open.remove(&code) else {
                continue;
            };
            let what = if open.headline.is_empty() {
                "the condition behind this alert".to_string()
            } else {
                open.headline.clone()
            };
            out.push(Observation {
                kind: Kind::Resolved,
                body: format!("**resolved**: no longer holds — {what}"),
                key: Some(format!("{}/resolved", open.entry_key)),
                refs: vec![Ref::Key(open.entry_key)],
            });
        }
        out
    }
}

/// How long a condition must be gone before it is resolved, at the least: watches of
/// different kinds arrive in no common order, so one look can miss a condition for a moment.
pub const CLEAR_AFTER: Duration = Duration::from_millis(1000);

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(key: &str, level: u8) -> Condition {
        Condition {
            key: key.into(),
            alert: true,
            body: format!("**x** — {key} body"),
            headline: format!("{key} headline"),
            level,
            confirm: Duration::ZERO,
            clear: CLEAR_AFTER,
        }
    }

    fn kinds(out: &[Observation]) -> Vec<Kind> {
        out.iter().map(|o| o.kind).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn an_alert_is_said_once_escalated_once_and_resolved_once() {
        let mut lc = Lifecycle::new();
        let t = Instant::now();
        let out = lc.judge(
            "llm/litellm",
            &[cond("analysis-errors|AnalysisRun x|metric m", 0)],
            t,
        );
        assert_eq!(kinds(&out), [Kind::Alert]);
        let key = out[0].key.clone().unwrap();
        assert_eq!(
            key,
            "c/llm/litellm/analysis-errors:AnalysisRun_x:metric_m#1"
        );
        assert!(
            lc.judge(
                "llm/litellm",
                &[cond("analysis-errors|AnalysisRun x|metric m", 0)],
                t
            )
            .is_empty()
        );
        let up = lc.judge(
            "llm/litellm",
            &[cond("analysis-errors|AnalysisRun x|metric m", 1)],
            t,
        );
        assert_eq!(kinds(&up), [Kind::Alert]);
        assert_eq!(up[0].refs, [Ref::Key(key.clone())]);
        assert!(
            lc.judge(
                "llm/litellm",
                &[cond("analysis-errors|AnalysisRun x|metric m", 2)],
                t
            )
            .is_empty()
        );
        // Gone for less than the clear time: nothing; then resolved, once.
        assert!(
            lc.judge("llm/litellm", &[], t + Duration::from_millis(500))
                .is_empty()
        );
        let done = lc.judge("llm/litellm", &[], t + Duration::from_secs(2));
        assert_eq!(kinds(&done), [Kind::Resolved]);
        assert_eq!(done[0].refs, [Ref::Key(key)]);
        assert!(done[0].body.contains("metric m headline"));
        assert!(
            lc.judge("llm/litellm", &[], t + Duration::from_secs(3))
                .is_empty()
        );
        // Back again: a new alert, numbered 2.
        let again = lc.judge(
            "llm/litellm",
            &[cond("analysis-errors|AnalysisRun x|metric m", 0)],
            t + Duration::from_secs(4),
        );
        assert_eq!(
            again[0].key.as_deref(),
            Some("c/llm/litellm/analysis-errors:AnalysisRun_x:metric_m#2")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn confirmation_keeps_transient_conditions_quiet() {
        let mut lc = Lifecycle::new();
        let t = Instant::now();
        let mut c = cond("canary-replica-math|Rollout a", 0);
        c.confirm = Duration::from_secs(1);
        assert!(lc.judge("s", std::slice::from_ref(&c), t).is_empty());
        // Gone in between: the sighting is forgotten.
        assert!(
            lc.judge("s", &[], t + Duration::from_millis(500))
                .is_empty()
        );
        assert!(
            lc.judge(
                "s",
                std::slice::from_ref(&c),
                t + Duration::from_millis(600)
            )
            .is_empty()
        );
        let out = lc.judge(
            "s",
            std::slice::from_ref(&c),
            t + Duration::from_millis(1700),
        );
        assert_eq!(kinds(&out), [Kind::Alert]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_confirmation_is_due_when_the_first_sighting_has_held_its_time() {
        let mut lc = Lifecycle::new();
        let t = Instant::now();
        assert_eq!(lc.next_confirm(), None);
        let mut a = cond("canary-replica-math|Rollout a", 0);
        a.confirm = Duration::from_secs(1);
        let mut b = cond("canary-replica-math|Rollout b", 0);
        b.confirm = Duration::from_secs(1);
        lc.judge("a", std::slice::from_ref(&a), t);
        lc.judge(
            "b",
            std::slice::from_ref(&b),
            t + Duration::from_millis(300),
        );
        assert_eq!(lc.next_confirm(), Some(t + Duration::from_secs(1)));
        // Judged again at that instant, a is alerted and b is next.
        let out = lc.judge("a", std::slice::from_ref(&a), t + Duration::from_secs(1));
        assert_eq!(kinds(&out), [Kind::Alert]);
        assert_eq!(lc.next_confirm(), Some(t + Duration::from_millis(1300)));
        // b gone before its time: nothing is due.
        lc.judge("b", &[], t + Duration::from_millis(1100));
        assert_eq!(lc.next_confirm(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn scopes_are_judged_apart_and_observations_are_said_once() {
        let mut lc = Lifecycle::new();
        let t = Instant::now();
        lc.judge("a", &[cond("x", 0)], t);
        // Judging scope b does not clear scope a's alert.
        assert!(lc.judge("b", &[], t + Duration::from_secs(5)).is_empty());
        assert!(lc.is_open("a", "x"));
        let mut once = cond("analysis-not-judged|AnalysisTemplate t|metric m", 0);
        once.alert = false;
        let out = lc.judge("b", std::slice::from_ref(&once), t);
        assert_eq!(kinds(&out), [Kind::Observation]);
        assert!(lc.judge("b", std::slice::from_ref(&once), t).is_empty());
        assert!(
            lc.judge("b", &[], t).is_empty(),
            "an observation is never resolved"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_restart_reads_what_is_open_and_resolves_what_cleared_meanwhile() {
        let said = |id: &str, kind: Kind, key: &str, refs: &[&str]| Said {
            id: id.into(),
            kind,
            key: Some(key.into()),
            refs: refs.iter().map(|r| r.to_string()).collect(),
        };
        let entries = vec![
            said("pipeline#1", Kind::Alert, "c/s/x#1", &[]),
            said(
                "pipeline#2",
                Kind::Resolved,
                "c/s/x#1/resolved",
                &["pipeline#1"],
            ),
            said("pipeline#3", Kind::Alert, "c/s/x#2", &[]),
            said("pipeline#4", Kind::Alert, "c/s/y#1", &[]),
            said("pipeline#5", Kind::Alert, "c/s/y#1/up", &["pipeline#4"]),
            said("pipeline#6", Kind::Observation, "o/s/z", &[]),
            Said {
                id: "pipeline#7".into(),
                kind: Kind::Alert,
                key: None,
                refs: vec![],
            },
        ];
        let mut lc = Lifecycle::restore(&entries);
        assert!(lc.is_open("s", "x") && lc.is_open("s", "y"));
        let t = Instant::now();
        // x still holds: nothing new. y holds at a worse level: already escalated, nothing.
        // z again: said already. y is gone… no: y holds; w is new.
        let mut z = cond("z", 0);
        z.alert = false;
        let out = lc.judge("s", &[cond("x", 0), cond("y", 5), z, cond("w", 0)], t);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].key.as_deref(), Some("c/s/w#1"));
        // A restored alert that does not hold at the first look is resolved at once.
        let mut lc = Lifecycle::restore(&entries);
        let out = lc.judge("s", &[cond("y", 0)], t);
        assert_eq!(kinds(&out), [Kind::Resolved]);
        assert_eq!(out[0].key.as_deref(), Some("c/s/x#2/resolved"));
        // And the next x is numbered 3.
        let out = lc.judge("s", &[cond("y", 0), cond("x", 0)], t);
        assert_eq!(out[0].key.as_deref(), Some("c/s/x#3"));
    }

    #[test]
    fn keys_fit_the_store_alphabet_and_length() {
        let k = encode(
            "llm/litellm",
            "blind-analysis|Rollout llm/litellm|analysis step 3",
        );
        assert_eq!(
            k,
            "llm/litellm/blind-analysis:Rollout_llm/litellm:analysis_step_3"
        );
        let long = encode("ns/r", &"x".repeat(300));
        assert!(long.len() <= KEY_BODY_MAX, "{}", long.len());
        assert_ne!(long, encode("ns/r", &format!("{}y", "x".repeat(299))));
        assert!(
            encode("a", "é#|")
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || KEY_PUNCT.contains(&c))
        );
        assert!(!encode("a", "b#c").contains('#'));
    }
}
