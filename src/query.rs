//! Which entries a reader wants: the one entry filter shared by every reader — `timeline`
//! (files and `--follow`), `catchup`, the REST `entries` route, the live feed's replay, and the
//! MCP `read` and `wait` tools.
//!
//! A [`Filter`] keeps entries by author, kind, a text pattern over the body ([`Grep`]), the
//! roles they are addressed to, and a starting point: a [`Since`] (an entry id or a time) or a
//! per-author [`Cursor`]. It also defines the two textual forms readers exchange: the cursor
//! `pipeline:12,traffic:40` and the entry id `pipeline#12`.
//!
//! This module is pure: it never reads files or talks to the network. Applying `since ID`
//! needs the entry's place in the timeline, which the merge ([`crate::timeline::Merge`])
//! looks up; every other condition is [`Filter::matches`] on one entry.
//!
//! ```
//! use warroom::query::{Filter, Grep};
//! let mut filter = Filter::default();
//! filter.grep = Some(Grep::new("rollout .* degraded", true).unwrap());
//! assert!(Grep::new("(", false).is_err());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::channel::{Author, Entry, EntryId, Kind, Timestamp};

/// A problem with what a reader asked for. The messages are neutral (no flag or parameter
/// names): the command line and the HTTP API each say which input was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `detail` is the regex engine's reason on one line (e.g. "unclosed group").
    #[error("{pattern:?} is not a valid regular expression: {detail}")]
    BadPattern { pattern: String, detail: String },
    #[error("bad cursor part {part:?}: a cursor looks like pipeline:12,traffic:40")]
    BadCursor { part: String },
}

/// Where a reading starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Entries after this one in timeline order.
    Entry(EntryId),
    /// Entries at or after this time.
    Time(Timestamp),
}

impl Since {
    /// Parses `author#seq` or an RFC 3339 time.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.contains('#') {
            return EntryId::parse(s)
                .map(Since::Entry)
                .map_err(|e| e.to_string());
        }
        Timestamp::parse_rfc3339(s).map(Since::Time).ok_or_else(|| {
            format!("--since {s:?} is neither an entry id (author#seq) nor an RFC 3339 time (2026-05-04T17:15:04Z)")
        })
    }
}

/// Per author, the highest seq a reader has: `pipeline:12,traffic:40`. A reader resumes after
/// it; an author it does not name is read from its first entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(pub BTreeMap<Author, u64>);

impl Cursor {
    /// Parses `pipeline:12,traffic:40` (empty: from the beginning).
    pub fn parse(s: &str) -> Result<Self, QueryError> {
        let mut map = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || QueryError::BadCursor {
                part: part.to_owned(),
            };
            let (a, seq) = part.split_once(':').ok_or_else(bad)?;
            let author = Author::new(a).map_err(|_| bad())?;
            let seq: u64 = seq.parse().map_err(|_| bad())?;
            map.insert(author, seq);
        }
        Ok(Self(map))
    }

    /// The highest seq of `author` the reader has (0: none).
    pub fn get(&self, author: &Author) -> u64 {
        self.0.get(author).copied().unwrap_or(0)
    }

    /// Moves the cursor forward to `seq` for `author` (never back).
    pub fn set(&mut self, author: &Author, seq: u64) {
        let s = self.0.entry(author.clone()).or_insert(0);
        *s = (*s).max(seq);
    }

    /// Moves forward past `entry`.
    pub fn pass(&mut self, entry: &Entry) {
        self.set(&entry.author, entry.seq);
    }

    /// Each author's seq, the later of the two cursors.
    pub fn merge(&mut self, other: &Cursor) {
        for (a, s) in &other.0 {
            self.set(a, *s);
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (a, s)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{a}:{s}")?;
        }
        Ok(())
    }
}

impl serde::Serialize for Cursor {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A regular expression over entry bodies (Rust `regex` syntax: no look-around or
/// back-references, linear time whatever the input).
#[derive(Debug, Clone)]
pub struct Grep {
    regex: regex::Regex,
    pattern: String,
    ignore_case: bool,
}

/// The compiled program may take this much memory: a pattern over it is refused instead of
/// slowing every reader.
const GREP_SIZE_LIMIT: usize = 1 << 20;

impl Grep {
    /// Compiles `pattern`; `ignore_case` matches letters in either case (Unicode-aware).
    pub fn new(pattern: &str, ignore_case: bool) -> Result<Self, QueryError> {
        let regex = regex::RegexBuilder::new(pattern)
            .case_insensitive(ignore_case)
            .size_limit(GREP_SIZE_LIMIT)
            .build()
            .map_err(|e| QueryError::BadPattern {
                pattern: pattern.to_owned(),
                detail: one_line(&e),
            })?;
        Ok(Self {
            regex,
            pattern: pattern.to_owned(),
            ignore_case,
        })
    }

    /// True when the body has a match.
    pub fn is_match(&self, body: &str) -> bool {
        self.regex.is_match(body)
    }

    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    pub fn ignore_case(&self) -> bool {
        self.ignore_case
    }
}

/// The regex engine's reason without its multi-line picture of the pattern.
fn one_line(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or(text.lines().last().unwrap_or("syntax error"))
            .to_owned(),
        regex::Error::CompiledTooBig(limit) => {
            format!("it compiles to more than {limit} bytes; use a simpler pattern")
        }
        other => other.to_string(),
    }
}

/// Which entries to keep. The default keeps everything; each field narrows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Entries after this entry (timeline order) or from this time.
    pub since: Option<Since>,
    /// Only these authors (empty: all).
    pub authors: BTreeSet<Author>,
    /// Only these kinds, compared by [`Kind::effective`] (empty: all).
    pub kinds: BTreeSet<Kind>,
    /// Per author: only entries with seq above this (a [`Cursor`]'s map).
    pub after: BTreeMap<Author, u64>,
    /// Per author: only entries with seq at or below this (a snapshot: catchup reads up to
    /// what existed when it started). An author not named here is not bounded.
    pub until: BTreeMap<Author, u64>,
    /// Authors left out (catchup leaves out the reader's own entries).
    pub exclude: BTreeSet<Author>,
    /// Only entries whose body matches.
    pub grep: Option<Grep>,
    /// Only entries addressed (`to`) to at least one of these roles (empty: all).
    pub to: BTreeSet<Author>,
    /// Leave out entries addressed to any of these roles.
    pub not_to: BTreeSet<Author>,
}

impl Filter {
    /// Starts after `cursor` (per author), keeping the other conditions.
    pub fn after_cursor(mut self, cursor: &Cursor) -> Self {
        for (a, s) in &cursor.0 {
            let at = self.after.entry(a.clone()).or_insert(0);
            *at = (*at).max(*s);
        }
        self
    }

    /// True when entries by `author` may pass (readers skip other files entirely).
    pub fn wants_author(&self, author: &Author) -> bool {
        (self.authors.is_empty() || self.authors.contains(author)) && !self.exclude.contains(author)
    }

    /// Every condition on `entry` but a [`Since::Entry`] (which needs the timeline position of
    /// that entry; the merge applies it).
    pub fn matches(&self, e: &Entry) -> bool {
        self.wants_author(&e.author)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind.effective()))
            && self.after.get(&e.author).is_none_or(|&s| e.seq > s)
            && self.until.get(&e.author).is_none_or(|&s| e.seq <= s)
            && (self.to.is_empty() || e.to.iter().any(|r| self.to.contains(r)))
            && !e.to.iter().any(|r| self.not_to.contains(r))
            && match &self.since {
                Some(Since::Time(t)) => e.ts >= *t,
                _ => true,
            }
            // Last: the only costly test.
            && self.grep.as_ref().is_none_or(|g| g.is_match(&e.body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(author: &str, seq: u64, kind: Kind, to: &[&str], body: &str) -> Entry {
        let author = Author::new(author).unwrap();
        Entry {
            id: EntryId {
                author: author.clone(),
                seq,
            },
            channel: "2026-05-04--t".into(),
            author,
            seq,
            ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
            kind,
            refs: vec![],
            to: to.iter().map(|r| Author::new(r).unwrap()).collect(),
            key: None,
            body: body.into(),
        }
    }

    fn roles(names: &[&str]) -> BTreeSet<Author> {
        names.iter().map(|n| Author::new(n).unwrap()).collect()
    }

    #[test]
    fn grep_is_a_regex_with_an_ignore_case_option() {
        let e = entry(
            "pipeline",
            1,
            Kind::Alert,
            &[],
            "Rollout litellm DEGRADED at step 2",
        );
        let mut f = Filter {
            grep: Some(Grep::new("litellm .* step [0-9]", false).unwrap()),
            ..Filter::default()
        };
        assert!(f.matches(&e));
        f.grep = Some(Grep::new("degraded", false).unwrap());
        assert!(!f.matches(&e));
        f.grep = Some(Grep::new("degraded", true).unwrap());
        assert!(f.matches(&e));
        assert!(f.grep.as_ref().unwrap().ignore_case());
        assert_eq!(f.grep.as_ref().unwrap().pattern(), "degraded");
    }

    #[test]
    fn a_bad_pattern_says_why_on_one_line() {
        let err = Grep::new("(unclosed", false).unwrap_err();
        assert_eq!(
            err,
            QueryError::BadPattern {
                pattern: "(unclosed".into(),
                detail: "unclosed group".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "\"(unclosed\" is not a valid regular expression: unclosed group"
        );
        let huge = Grep::new("\\w{1000}{1000}", false).unwrap_err();
        assert!(huge.to_string().contains("simpler pattern"), "{huge}");
    }

    #[test]
    fn authors_kinds_cursor_and_addressing_narrow() {
        let alert = entry("pipeline", 3, Kind::Alert, &["traffic"], "a");
        let note = entry("data-plane", 1, Kind::Note, &[], "b");
        let all = Filter::default();
        assert!(all.matches(&alert) && all.matches(&note));

        let f = Filter {
            authors: roles(&["pipeline"]),
            ..Filter::default()
        };
        assert!(f.matches(&alert) && !f.matches(&note));
        let f = Filter {
            exclude: roles(&["pipeline"]),
            ..Filter::default()
        };
        assert!(!f.matches(&alert) && f.matches(&note));
        let f = Filter {
            kinds: [Kind::Alert].into_iter().collect(),
            ..Filter::default()
        };
        assert!(f.matches(&alert) && !f.matches(&note));
        let f = Filter {
            to: roles(&["traffic", "operator"]),
            ..Filter::default()
        };
        assert!(f.matches(&alert) && !f.matches(&note));
        let f = Filter {
            not_to: roles(&["traffic"]),
            ..Filter::default()
        };
        assert!(!f.matches(&alert) && f.matches(&note));

        let f = Filter::default().after_cursor(&Cursor::parse("pipeline:3").unwrap());
        assert!(!f.matches(&alert) && f.matches(&note));
        let f = Filter::default().after_cursor(&Cursor::parse("pipeline:2").unwrap());
        assert!(f.matches(&alert));
        let f = Filter {
            until: [(Author::new("pipeline").unwrap(), 2)]
                .into_iter()
                .collect(),
            ..Filter::default()
        };
        assert!(!f.matches(&alert) && f.matches(&note));

        let later = Timestamp::parse_exact("2026-05-04T17:15:05.000Z").unwrap();
        let f = Filter {
            since: Some(Since::Time(later)),
            ..Filter::default()
        };
        assert!(!f.matches(&alert));
    }

    #[test]
    fn cursors_parse_print_and_only_move_forward() {
        let mut c = Cursor::parse("traffic:40, pipeline:12").unwrap();
        assert_eq!(c.to_string(), "pipeline:12,traffic:40");
        assert_eq!(Cursor::parse("").unwrap(), Cursor::default());
        for bad in ["pipeline", "pipeline:x", "Bad:1", "a:-1"] {
            assert!(Cursor::parse(bad).is_err(), "{bad}");
        }
        let pipeline = Author::new("pipeline").unwrap();
        c.set(&pipeline, 3);
        assert_eq!(c.get(&pipeline), 12);
        c.merge(&Cursor::parse("pipeline:20,data-plane:1").unwrap());
        assert_eq!(c.to_string(), "data-plane:1,pipeline:20,traffic:40");
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            "\"data-plane:1,pipeline:20,traffic:40\""
        );
    }
}
