//! Which alerts are open, acknowledged or resolved, and which questions wait for an answer:
//! pure functions from a channel's entries to their states, shared by the command line
//! (`warroom alerts`), the relay (the page's open-alerts panel and title), MCP and the
//! observers (what they raised that is still open).
//!
//! The rules (docs/FORMAT.md says the same):
//! - An `alert` is **open** until an `ack` refs it (**acked**: by whom, when, with what text) or
//!   its own author posts a `resolved` that refs it (**resolved**; resolved wins over acked). A
//!   `resolved` by any other role does not resolve it.
//! - An alert that refs an earlier alert is an **escalation** of it: the two are one *thread*,
//!   named by the first alert. Acking or resolving any alert of a thread covers the whole thread,
//!   escalations posted later included.
//! - A `question` is unanswered until an `answer` refs it.
//!
//! [`Book`] takes entries in any order (live delivery is arrival order, not timeline order),
//! each id at most once, and keeps only what these rules need — never whole bodies of
//! observations. It does no I/O; [`load`] reads a channel into one.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::channel::{Author, Channel, Entry, EntryId, Error, Kind, Timestamp};
use crate::timeline::{Filter, Merge, Problem};

/// Longest headline kept, in characters (the body's first line; cut at a word).
pub const HEADLINE_CHARS: usize = 160;

/// The body of an `ack` posted without words (`warroom ack ID`, the page's ack button): a body
/// is never empty. Shown as no text.
pub const DEFAULT_ACK_TEXT: &str = "acknowledged";

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Open,
    Acked,
    Resolved,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acked => "acked",
            State::Resolved => "resolved",
        }
    }
}

/// An `ack` or `resolved` entry, as the alerts it covers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Response {
    /// The ack or resolved entry.
    pub id: EntryId,
    pub author: Author,
    pub ts: Timestamp,
    /// Its body's first line (may be empty: an ack needs no text).
    pub text: String,
}

/// One alert and where its thread stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertStatus {
    pub id: EntryId,
    pub author: Author,
    pub ts: Timestamp,
    /// The first line of the alert's body, as plain as markdown allows.
    pub headline: String,
    pub state: State,
    /// The first alert of its thread (itself unless it escalates an earlier alert).
    pub thread: EntryId,
    /// The alert it escalates (refs), when it is an escalation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub escalates: Option<EntryId>,
    /// Later alerts of the same thread (only on the thread's first alert).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub escalations: Vec<EntryId>,
    /// Acks of any alert of the thread, oldest first.
    pub acks: Vec<Response>,
    /// The `resolved` entry that closed the thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Response>,
}

/// A question nobody has answered yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuestionStatus {
    pub id: EntryId,
    pub author: Author,
    pub ts: Timestamp,
    pub headline: String,
    /// Roles it is addressed to (empty: everyone).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Author>,
}

#[derive(Debug, Clone)]
struct Raised {
    author: Author,
    ts: Timestamp,
    headline: String,
    /// Every ref of the alert (which of them are alerts is known only once all have arrived).
    refs: Vec<EntryId>,
}

#[derive(Debug, Clone)]
struct Reply {
    response: Response,
    refs: Vec<EntryId>,
}

/// The alert and question states of one channel, fed entry by entry.
#[derive(Debug, Clone, Default)]
pub struct Book {
    alerts: BTreeMap<EntryId, Raised>,
    acks: Vec<Reply>,
    resolutions: Vec<Reply>,
    questions: BTreeMap<EntryId, QuestionStatus>,
    answered: BTreeSet<EntryId>,
    /// Every id taken, so a replay or a duplicate delivery changes nothing.
    seen: BTreeSet<EntryId>,
}

impl Book {
    pub fn new() -> Self {
        Self::default()
    }

    /// A book of `entries` (any order).
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        let mut b = Self::new();
        for e in entries {
            b.add(e);
        }
        b
    }

    /// Takes one entry. Returns true when it can change an alert's or a question's state
    /// (an alert, ack, resolved, question or answer seen for the first time).
    pub fn add(&mut self, e: &Entry) -> bool {
        let kind = e.kind.effective();
        let relevant = matches!(
            kind,
            Kind::Alert | Kind::Ack | Kind::Resolved | Kind::Question | Kind::Answer
        );
        if !relevant || !self.seen.insert(e.id.clone()) {
            return false;
        }
        match kind {
            Kind::Alert => {
                self.alerts.insert(
                    e.id.clone(),
                    Raised {
                        author: e.author.clone(),
                        ts: e.ts,
                        headline: headline(&e.body),
                        refs: e.refs.clone(),
                    },
                );
            }
            Kind::Ack | Kind::Resolved => {
                let text = if e.body.trim() == DEFAULT_ACK_TEXT {
                    String::new()
                } else {
                    headline(&e.body)
                };
                let reply = Reply {
                    response: Response {
                        id: e.id.clone(),
                        author: e.author.clone(),
                        ts: e.ts,
                        text,
                    },
                    refs: e.refs.clone(),
                };
                if kind == Kind::Ack {
                    self.acks.push(reply);
                } else {
                    self.resolutions.push(reply);
                }
            }
            Kind::Question => {
                self.questions.insert(
                    e.id.clone(),
                    QuestionStatus {
                        id: e.id.clone(),
                        author: e.author.clone(),
                        ts: e.ts,
                        headline: headline(&e.body),
                        to: e.to.clone(),
                    },
                );
            }
            Kind::Answer => self.answered.extend(e.refs.iter().cloned()),
            _ => {}
        }
        true
    }

    /// The first alert of `id`'s thread: follow the first ref to an earlier alert.
    fn thread_of(&self, id: &EntryId) -> EntryId {
        let mut cur = id.clone();
        // Each step goes to an earlier alert, so this ends; the bound guards odd files.
        for _ in 0..=self.alerts.len() {
            match self.escalates(&cur) {
                Some(up) => cur = up,
                None => break,
            }
        }
        cur
    }

    /// The alert `id` escalates: its first ref to an alert placed before it.
    fn escalates(&self, id: &EntryId) -> Option<EntryId> {
        let a = self.alerts.get(id)?;
        a.refs
            .iter()
            .find(|r| {
                self.alerts
                    .get(*r)
                    .is_some_and(|up| (up.ts, &up.author, r.seq) < (a.ts, &a.author, id.seq))
            })
            .cloned()
    }

    /// Every alert with its state, in timeline order.
    pub fn alerts(&self) -> Vec<AlertStatus> {
        let thread: BTreeMap<&EntryId, EntryId> = self
            .alerts
            .keys()
            .map(|id| (id, self.thread_of(id)))
            .collect();
        let mut acks: BTreeMap<EntryId, Vec<Response>> = BTreeMap::new();
        for r in &self.acks {
            let mut covered = BTreeSet::new();
            for id in &r.refs {
                if let Some(t) = thread.get(id) {
                    covered.insert(t.clone());
                }
            }
            for t in covered {
                acks.entry(t).or_default().push(r.response.clone());
            }
        }
        let mut resolved: BTreeMap<EntryId, Response> = BTreeMap::new();
        for r in &self.resolutions {
            for id in &r.refs {
                // Only the alert's own author resolves it.
                let Some(a) = self.alerts.get(id) else {
                    continue;
                };
                if a.author != r.response.author {
                    continue;
                }
                let t = thread[id].clone();
                let slot = resolved.entry(t).or_insert_with(|| r.response.clone());
                if (r.response.ts, &r.response.id) < (slot.ts, &slot.id) {
                    *slot = r.response.clone();
                }
            }
        }
        let mut escalations: BTreeMap<EntryId, Vec<EntryId>> = BTreeMap::new();
        for (id, t) in &thread {
            if *id != t {
                escalations
                    .entry(t.clone())
                    .or_default()
                    .push((*id).clone());
            }
        }
        let mut out: Vec<AlertStatus> = self
            .alerts
            .iter()
            .map(|(id, a)| {
                let t = &thread[id];
                let mut thread_acks = acks.get(t).cloned().unwrap_or_default();
                thread_acks.sort_by(|x, y| (x.ts, &x.id).cmp(&(y.ts, &y.id)));
                let res = resolved.get(t).cloned();
                let state = if res.is_some() {
                    State::Resolved
                } else if thread_acks.is_empty() {
                    State::Open
                } else {
                    State::Acked
                };
                let mut esc = if id == t {
                    escalations.get(t).cloned().unwrap_or_default()
                } else {
                    Vec::new()
                };
                esc.sort_by_key(|e| self.alerts.get(e).map(|a| (a.ts, a.author.clone(), e.seq)));
                AlertStatus {
                    id: id.clone(),
                    author: a.author.clone(),
                    ts: a.ts,
                    headline: a.headline.clone(),
                    state,
                    thread: t.clone(),
                    escalates: self.escalates(id),
                    escalations: esc,
                    acks: thread_acks,
                    resolved: res,
                }
            })
            .collect();
        out.sort_by(|x, y| (x.ts, &x.author, x.id.seq).cmp(&(y.ts, &y.author, y.id.seq)));
        out
    }

    /// Questions no `answer` refs, in timeline order.
    pub fn unanswered(&self) -> Vec<QuestionStatus> {
        let mut out: Vec<QuestionStatus> = self
            .questions
            .values()
            .filter(|q| !self.answered.contains(&q.id))
            .cloned()
            .collect();
        out.sort_by(|x, y| (x.ts, &x.author, x.id.seq).cmp(&(y.ts, &y.author, y.id.seq)));
        out
    }

    /// How many threads are open (what the page's title counts).
    pub fn open_threads(&self) -> usize {
        self.alerts()
            .iter()
            .filter(|a| a.id == a.thread && a.state == State::Open)
            .count()
    }
}

/// Reads every entry of `channel` into a [`Book`]; problems in the files (torn or altered
/// entries, which are skipped) go to `on_problem`.
pub fn load(channel: &Channel, on_problem: impl FnMut(Problem)) -> Result<Book, Error> {
    let mut book = Book::new();
    for e in Merge::open(channel, Filter::default(), on_problem)? {
        book.add(&e?);
    }
    Ok(book)
}

/// The first non-empty line of a markdown body as plain text, cut at a word near
/// [`HEADLINE_CHARS`]: what a list or a notification shows of an entry.
pub fn headline(body: &str) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line = line.trim_start_matches(['#', '>', '-', '*', ' ']);
    let plain: String = line.replace("**", "").replace("__", "").replace('`', "");
    let plain = plain.trim();
    if plain.chars().count() <= HEADLINE_CHARS {
        return plain.to_owned();
    }
    let cut: String = plain.chars().take(HEADLINE_CHARS).collect();
    let at = cut.rfind(' ').filter(|&i| i > HEADLINE_CHARS / 2);
    format!("{} …", &cut[..at.unwrap_or(cut.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, ts: &str, kind: &str, refs: &[&str], body: &str) -> Entry {
        let id = EntryId::parse(id).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": id.to_string(),
            "channel": "2026-05-04--x",
            "author": id.author.to_string(),
            "seq": id.seq,
            "ts": format!("2026-05-04T17:{ts}.000Z"),
            "kind": kind,
            "refs": refs,
            "body": body,
        }))
        .unwrap()
    }

    fn states(b: &Book) -> Vec<(String, State)> {
        b.alerts()
            .into_iter()
            .map(|a| (a.id.to_string(), a.state))
            .collect()
    }

    fn s(id: &str, st: State) -> (String, State) {
        (id.to_owned(), st)
    }

    #[test]
    fn an_alert_is_open_until_acked_or_resolved_and_resolved_wins() {
        let mut b = Book::new();
        b.add(&entry(
            "pipeline#1",
            "00:00",
            "alert",
            &[],
            "**spec not observed** — x",
        ));
        b.add(&entry("traffic#1", "00:01", "alert", &[], "route failing"));
        b.add(&entry(
            "data-plane#1",
            "00:02",
            "alert",
            &[],
            "pods failing",
        ));
        assert_eq!(
            states(&b),
            [
                s("pipeline#1", State::Open),
                s("traffic#1", State::Open),
                s("data-plane#1", State::Open)
            ]
        );
        b.add(&entry(
            "operator#1",
            "00:03",
            "ack",
            &["pipeline#1", "traffic#1"],
            "looking\nmore",
        ));
        b.add(&entry(
            "traffic#2",
            "00:04",
            "resolved",
            &["traffic#1"],
            "route recovered",
        ));
        let all = b.alerts();
        assert_eq!(
            states(&b),
            [
                s("pipeline#1", State::Acked),
                s("traffic#1", State::Resolved),
                s("data-plane#1", State::Open)
            ]
        );
        assert_eq!(all[0].headline, "spec not observed — x");
        assert_eq!(all[0].acks[0].id.to_string(), "operator#1");
        assert_eq!(all[0].acks[0].text, "looking");
        let r = all[1].resolved.as_ref().unwrap();
        assert_eq!(
            (r.id.to_string(), r.text.as_str()),
            ("traffic#2".into(), "route recovered")
        );
        assert_eq!(all[1].acks.len(), 1, "the ack is still shown");
        assert_eq!(b.open_threads(), 1);
    }

    #[test]
    fn only_the_alerts_author_resolves_it() {
        let b = Book::of(&[
            entry("pipeline#1", "00:00", "alert", &[], "x"),
            entry(
                "operator#1",
                "00:01",
                "resolved",
                &["pipeline#1"],
                "I say it is fine",
            ),
            entry(
                "data-plane#1",
                "00:02",
                "resolved",
                &["pipeline#1"],
                "not yours",
            ),
        ]);
        assert_eq!(states(&b), [s("pipeline#1", State::Open)]);
    }

    #[test]
    fn escalations_are_covered_by_the_first_alert_of_their_thread() {
        let mut b = Book::of(&[
            entry("pipeline#1", "00:00", "alert", &[], "analysis errors 1"),
            entry("pipeline#2", "00:01", "observation", &[], "step"),
            entry(
                "pipeline#3",
                "00:02",
                "alert",
                &["pipeline#2", "pipeline#1"],
                "errors 4",
            ),
            entry(
                "pipeline#4",
                "00:03",
                "alert",
                &["pipeline#3"],
                "errors 5: aborted",
            ),
            entry(
                "traffic#1",
                "00:04",
                "alert",
                &["pipeline#2"],
                "refs a non-alert: own thread",
            ),
        ]);
        let all = b.alerts();
        assert_eq!(all[0].escalations.len(), 2);
        assert_eq!(all[1].thread.to_string(), "pipeline#1");
        assert_eq!(all[1].escalates.as_ref().unwrap().to_string(), "pipeline#1");
        assert_eq!(all[2].thread.to_string(), "pipeline#1");
        assert_eq!(all[3].thread.to_string(), "traffic#1");
        assert_eq!(b.open_threads(), 2);
        // An ack of the first covers escalations, those posted later too.
        b.add(&entry("operator#1", "00:05", "ack", &["pipeline#1"], ""));
        b.add(&entry(
            "pipeline#5",
            "00:06",
            "alert",
            &["pipeline#4"],
            "still worse",
        ));
        assert!(
            b.alerts()
                .iter()
                .filter(|a| a.thread.to_string() == "pipeline#1")
                .all(|a| a.state == State::Acked)
        );
        // Resolving an escalation (by its author) resolves the thread.
        b.add(&entry(
            "pipeline#6",
            "00:07",
            "resolved",
            &["pipeline#4"],
            "recovered",
        ));
        assert!(
            b.alerts()
                .iter()
                .filter(|a| a.thread.to_string() == "pipeline#1")
                .all(|a| a.state == State::Resolved)
        );
        assert_eq!(b.open_threads(), 1);
    }

    #[test]
    fn arrival_order_and_duplicates_do_not_matter() {
        let es = [
            entry("pipeline#1", "00:00", "alert", &[], "a"),
            entry("pipeline#2", "00:01", "alert", &["pipeline#1"], "b"),
            entry("operator#1", "00:02", "ack", &["pipeline#2"], "seen"),
            entry(
                "operator#2",
                "00:03",
                "question",
                &[],
                "is analysis running?",
            ),
            entry("pipeline#3", "00:04", "answer", &["operator#2"], "no"),
            entry(
                "operator#3",
                "00:05",
                "question",
                &[],
                "who owns the canary?",
            ),
        ];
        let forward = Book::of(&es);
        let mut backward = Book::new();
        for e in es.iter().rev().chain(es.iter()) {
            backward.add(e);
        }
        assert_eq!(forward.alerts(), backward.alerts());
        assert_eq!(
            states(&forward),
            [s("pipeline#1", State::Acked), s("pipeline#2", State::Acked)]
        );
        let q: Vec<_> = forward
            .unanswered()
            .iter()
            .map(|q| q.id.to_string())
            .collect();
        assert_eq!(q, ["operator#3"]);
        assert_eq!(forward.unanswered(), backward.unanswered());
    }

    #[test]
    fn unknown_kinds_are_notes_and_acks_of_unknown_ids_change_nothing() {
        let b = Book::of(&[
            entry("pipeline#1", "00:00", "alert", &[], "a"),
            entry(
                "pipeline#2",
                "00:01",
                "escalation-2",
                &["pipeline#1"],
                "future kind",
            ),
            entry("operator#1", "00:02", "ack", &["pipeline#9"], "not there"),
        ]);
        assert_eq!(states(&b), [s("pipeline#1", State::Open)]);
    }

    #[test]
    fn headlines_are_plain_and_short() {
        assert_eq!(
            headline("\n\n**spec not observed** — `Rollout`\nmore"),
            "spec not observed — Rollout"
        );
        assert_eq!(headline("#### Title"), "Title");
        assert_eq!(headline(""), "");
        let long = "word ".repeat(100);
        let h = headline(&long);
        assert!(
            h.ends_with(" …") && h.chars().count() <= HEADLINE_CHARS + 2,
            "{h}"
        );
        let unbroken = "x".repeat(500);
        assert_eq!(headline(&unbroken).chars().count(), HEADLINE_CHARS + 2);
    }
}
