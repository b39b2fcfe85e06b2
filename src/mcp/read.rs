//! `read` and `wait` arguments turned into a [`crate::query::Filter`], and `read` itself: a
//! window of the timeline and the cursor to go on from.
//!
//! The cursor a `read` returns covers every entry it went past, matching or not, up to the
//! last one it returned (or the end of the channel): reading on from it with any filter
//! misses nothing and repeats nothing.

use std::collections::VecDeque;

use serde::Serialize;

use super::args::{self, ReadArgs, WaitArgs};
use crate::channel::{Author, Channel, Entry, Error, Kind};
use crate::query::{Cursor, Filter, Grep, Since};
use crate::timeline::Merge;

/// What `read` answers.
#[derive(Debug, Serialize)]
pub struct Read {
    pub entries: Vec<Entry>,
    /// Pass as `since` to read on from here.
    pub cursor: String,
    /// True when `limit` cut the result: read again from `cursor` for the rest.
    pub more: bool,
}

/// The conditions `read` and `wait` share, checked; `Err` is the message for the agent.
fn conditions(
    author: &[String],
    kind: &[String],
    text: Option<&str>,
    to: &[String],
) -> Result<Filter, String> {
    let mut filter = Filter::default();
    for a in author {
        filter
            .authors
            .insert(Author::new(a.trim()).map_err(|e| format!("\"author\": {e}"))?);
    }
    for k in kind {
        filter.kinds.insert(
            k.trim()
                .parse::<Kind>()
                .map_err(|e| format!("\"kind\": {}", super::reply::store_message(&e)))?,
        );
    }
    for r in to {
        filter
            .to
            .insert(Author::new(r.trim()).map_err(|e| format!("\"to\": {e}"))?);
    }
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        filter.grep = Some(Grep::new(t, true).map_err(|e| format!("\"text\": {e}"))?);
    }
    Ok(filter)
}

/// A cursor argument (`name` for the message).
fn cursor(name: &str, raw: &str) -> Result<Cursor, String> {
    Cursor::parse(raw).map_err(|e| format!("\"{name}\": {e}"))
}

/// A validated `read`.
#[derive(Debug)]
pub struct ReadQuery {
    /// Where to start (a cursor in `after`, or a `since`); no other condition.
    start: Filter,
    /// What to keep.
    wanted: Filter,
    limit: usize,
    /// Reading from a point: the first `limit` after it. Else: the last `limit`.
    from_point: bool,
}

impl ReadQuery {
    pub fn new(a: ReadArgs) -> Result<Self, String> {
        let wanted = conditions(&a.author, &a.kind, a.text.as_deref(), &[])?;
        let mut start = Filter::default();
        let since = a.since.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if let Some(since) = since {
            // A cursor has no '#'; a time's "T17:" is no role name, so it is no cursor.
            match Cursor::parse(since) {
                Ok(c) if !since.contains('#') => start = start.after_cursor(&c),
                _ => {
                    start.since = Some(Since::parse(since).map_err(|_| {
                        format!("\"since\" {since:?} is not a cursor (pipeline:12,traffic:40), an entry id (pipeline#3) or an RFC 3339 time (2026-05-04T17:15:04Z)")
                    })?)
                }
            }
        }
        let limit = a.limit.unwrap_or(args::DEFAULT_READ_LIMIT);
        if limit == 0 || limit > args::MAX_READ_LIMIT {
            return Err(format!(
                "\"limit\" {limit} is out of range: give 1 to {}",
                args::MAX_READ_LIMIT
            ));
        }
        Ok(Self {
            start,
            wanted,
            limit,
            from_point: since.is_some(),
        })
    }

    /// Why the query names a role the channel never had (roster and author files), if it
    /// does: a typo there would read nothing and look like a quiet channel.
    pub fn unknown_role(&self, channel: &Channel) -> Result<Option<String>, Error> {
        let known = crate::cli::read::known_roles(channel)?;
        let name = channel.name().to_string();
        for (arg, roles) in [("author", &self.wanted.authors), ("to", &self.wanted.to)] {
            let roles = roles.iter().map(Author::as_str);
            if let Some((_, why)) = crate::cli::suggest::unknown_roles(roles, &known, &name)
                .into_iter()
                .next()
            {
                return Ok(Some(format!("\"{arg}\": {why}")));
            }
        }
        Ok(None)
    }

    pub fn run(self, channel: &Channel) -> Result<Read, Error> {
        let mut cursor = Cursor(self.start.after.clone());
        let mut kept: VecDeque<Entry> = VecDeque::new();
        let mut more = false;
        for e in Merge::open(channel, self.start, |p| tracing::warn!("{p}"))? {
            let e = e?;
            if self.wanted.matches(&e) {
                if self.from_point && kept.len() == self.limit {
                    more = true;
                    break;
                }
                if kept.len() == self.limit {
                    kept.pop_front();
                }
                kept.push_back(e.clone());
            }
            cursor.pass(&e);
        }
        Ok(Read {
            entries: kept.into(),
            cursor: cursor.to_string(),
            more,
        })
    }
}

/// A validated `wait`.
pub fn wait(a: WaitArgs) -> Result<crate::catchup::Wait, String> {
    let filter = conditions(&a.author, &a.kind, a.text.as_deref(), &a.to)?;
    let secs = a.timeout.unwrap_or(args::DEFAULT_WAIT_SECS as f64);
    if !(0.0..=args::MAX_WAIT_SECS as f64).contains(&secs) {
        return Err(format!(
            "\"timeout\" {secs} is out of range: give 0 to {} seconds (0 only checks; call wait again to wait longer)",
            args::MAX_WAIT_SECS
        ));
    }
    let from = match a.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => Some(cursor("cursor", c)?),
        None => None,
    };
    let mut w = crate::catchup::Wait::new(filter, std::time::Duration::from_secs_f64(secs));
    w.from = from;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_timeouts_out_of_range_are_refused_by_name() {
        for bad in [-1.0, 300.5, 1e9, f64::NAN] {
            let e = wait(WaitArgs {
                timeout: Some(bad),
                ..WaitArgs::default()
            })
            .unwrap_err();
            assert!(e.contains("\"timeout\"") && e.contains("0 to 300"), "{e}");
        }
        assert!(
            wait(WaitArgs {
                timeout: Some(300.0),
                ..WaitArgs::default()
            })
            .is_ok()
        );
    }

    #[test]
    fn since_is_a_cursor_an_id_or_a_time() {
        let q = |s: &str| {
            ReadQuery::new(ReadArgs {
                since: Some(s.into()),
                ..ReadArgs::default()
            })
        };
        assert_eq!(q("pipeline:3,traffic:1").unwrap().start.after.len(), 2);
        assert!(matches!(
            q("pipeline#3").unwrap().start.since,
            Some(Since::Entry(_))
        ));
        assert!(matches!(
            q("2026-05-04T17:15:04Z").unwrap().start.since,
            Some(Since::Time(_))
        ));
        assert!(q("yesterday").unwrap_err().contains("\"since\""));
        let limit = ReadQuery::new(ReadArgs {
            limit: Some(501),
            ..ReadArgs::default()
        });
        assert!(limit.unwrap_err().contains("1 to 500"));
    }
}
