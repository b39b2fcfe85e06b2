//! What an archive says about a channel, computed from its entries: span, per-author and
//! per-kind counts, alerts, decisions, who referred to whom, and a one-line summary.
//!
//! Pure functions over data (entries, roster, seal, verify report); reading the files is
//! [`Record::load`]'s only I/O.

use std::collections::BTreeMap;

use chrono::Duration;

use crate::channel::seal::{SealRecord, read_record};
use crate::channel::verify::{Report, verify};
use crate::channel::{Channel, Entry, Error, Kind, Roster, Timestamp};
use crate::state::{self, file::StateFile};
use crate::timeline::{Filter, Merge};

/// Everything the archive pages are rendered from.
#[derive(Debug, Clone)]
pub struct Record {
    pub channel: String,
    pub roster: Roster,
    pub seal: Option<SealRecord>,
    /// Every good entry in timeline order (entries that fail their checksum are left out and
    /// show up in `report` instead).
    pub entries: Vec<Entry>,
    pub report: Report,
    /// Each observer's last state (`.warroom/state/<role>.json`), by role: the record keeps
    /// what the observers saw last beside what they said.
    pub states: Vec<StateFile>,
}

impl Record {
    /// Reads a channel: verify, then the merged timeline. Holds the channel in memory once,
    /// which the body limit keeps bounded; a channel is a discussion, not a log.
    pub fn load(channel: &Channel) -> Result<Self, Error> {
        let report = verify(channel)?;
        // Problems the merge meets (skipped bytes, bad checksums) are the verify findings
        // already in `report`.
        let entries =
            Merge::open(channel, Filter::default(), |_| {})?.collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            channel: channel.name().to_string(),
            roster: channel.roster()?,
            seal: read_record(channel)?,
            entries,
            report,
            states: state::file::read_all(channel.dir())
                .map_err(Error::io("cannot read", state::file::dir(channel.dir())))?,
        })
    }

    /// First and last entry times.
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        Some((self.entries.first()?.ts, self.entries.last()?.ts))
    }

    /// Entries of one kind, in timeline order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Entry> {
        self.entries
            .iter()
            .filter(move |e| e.kind.effective() == kind)
    }

    /// Per author: per kind counts.
    pub fn counts(&self) -> BTreeMap<String, BTreeMap<Kind, u64>> {
        let mut out: BTreeMap<String, BTreeMap<Kind, u64>> = BTreeMap::new();
        for e in &self.entries {
            *out.entry(e.author.to_string())
                .or_default()
                .entry(e.kind.effective())
                .or_default() += 1;
        }
        out
    }

    /// Per entry id: the entries that refer to it, in timeline order.
    pub fn referenced_by(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &self.entries {
            for r in &e.refs {
                out.entry(r.to_string()).or_default().push(e.id.to_string());
            }
        }
        out
    }

    /// The seal entry's id, when the channel is sealed.
    pub fn seal_entry(&self) -> Option<&str> {
        self.seal.as_ref()?.seal.entry.as_deref()
    }

    /// One line saying what the channel came to: the operator's reason for sealing, else the
    /// last decision, else the first entry.
    pub fn summary(&self) -> String {
        if let Some(reason) = self.seal.as_ref().and_then(|s| s.reason.as_deref())
            && !reason.trim().is_empty()
        {
            return one_line(reason, SUMMARY_CHARS);
        }
        if let Some(d) = self.of_kind(Kind::Decision).last() {
            return format!("{}: {}", d.id, one_line(&d.body, SUMMARY_CHARS));
        }
        match self.entries.first() {
            Some(e) => format!("{}: {}", e.id, one_line(&e.body, SUMMARY_CHARS)),
            None => "no entries".to_owned(),
        }
    }
}

/// How long a one-line summary may be, in characters.
pub const SUMMARY_CHARS: usize = 140;

/// The anchor of an entry id in TIMELINE.md: `pipeline#3` -> `pipeline-3` (a `#` cannot
/// stand in a URL fragment). Unambiguous: the seq is always the part after the last `-`.
pub fn anchor(id: &str) -> String {
    id.replace('#', "-")
}

/// The first line of text of a markdown body, without block markers (heading, quote, list,
/// fence) and without bold markers (the summary is set in bold: `**a **b** c**` would break,
/// and a cut could leave a `**` unclosed), whitespace collapsed, cut at `max` characters, and
/// safe inside a table cell.
pub fn one_line(body: &str, max: usize) -> String {
    let line = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("```") && !l.starts_with("~~~"))
        .map(strip_block_markers)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .replace("**", "")
        .replace("__", "");
    let mut out = String::new();
    let mut chars = 0;
    for word in line.split_whitespace() {
        let extra = word.chars().count() + usize::from(!out.is_empty());
        if chars + extra > max {
            if out.is_empty() {
                // One word longer than the limit.
                out.extend(word.chars().take(max));
            }
            out.push('…');
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
        chars += extra;
    }
    out.replace('|', "\\|")
}

fn strip_block_markers(mut l: &str) -> &str {
    loop {
        let before = l;
        l = l
            .trim_start_matches('#')
            .trim_start_matches('>')
            .trim_start();
        for marker in ["- ", "* ", "+ "] {
            if let Some(rest) = l.strip_prefix(marker) {
                l = rest.trim_start();
            }
        }
        let digits = l.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0
            && let Some(rest) = l[digits..].strip_prefix(". ")
        {
            l = rest.trim_start();
        }
        if l == before {
            return l;
        }
    }
}

/// `2h 38m`, `4m 12s`, `3d 2h`, `0s`.
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    let (days, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if days > 0 {
        format!("{days}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

/// `2026-05-04 17:02:11Z → 19:40:03Z (2h 38m)`; the date is repeated when the span crosses
/// midnight.
pub fn span_text(first: Timestamp, last: Timestamp) -> String {
    let (a, b) = (first.datetime(), last.datetime());
    let end = if a.date_naive() == b.date_naive() {
        b.format("%H:%M:%SZ").to_string()
    } else {
        b.format("%Y-%m-%d %H:%M:%SZ").to_string()
    };
    format!(
        "{} → {end} ({})",
        a.format("%Y-%m-%d %H:%M:%SZ"),
        human_duration(b - a)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_takes_the_first_text_line() {
        assert_eq!(one_line("\n\n## Go: promote\nmore", 80), "Go: promote");
        assert_eq!(one_line("```\ncode\n```", 80), "code");
        assert_eq!(one_line("> - 1. quoted item", 80), "quoted item");
        assert_eq!(one_line("a  b\tc", 80), "a b c");
        assert_eq!(one_line("rate | errors", 80), "rate \\| errors");
        assert_eq!(one_line("one two three", 7), "one two…");
        assert_eq!(one_line("abcdefghij", 4), "abcd…");
        assert_eq!(one_line("", 4), "");
        assert_eq!(one_line("#hashtag-only", 40), "hashtag-only");
        assert_eq!(
            one_line("**Demo: a rehearsal** (scenario `story`).", 80),
            "Demo: a rehearsal (scenario `story`)."
        );
        assert_eq!(one_line("**bold cut short here**", 9), "bold cut…");
    }

    #[test]
    fn anchors_and_spans() {
        assert_eq!(anchor("data-plane#7"), "data-plane-7");
        let t = |s| Timestamp::parse_rfc3339(s).unwrap();
        assert_eq!(
            span_text(t("2026-05-04T17:02:11Z"), t("2026-05-04T19:40:03Z")),
            "2026-05-04 17:02:11Z → 19:40:03Z (2h 37m)"
        );
        assert_eq!(
            span_text(t("2026-05-04T23:59:00Z"), t("2026-05-05T00:01:30Z")),
            "2026-05-04 23:59:00Z → 2026-05-05 00:01:30Z (2m 30s)"
        );
        assert_eq!(
            human_duration(Duration::seconds(3 * 86_400 + 7300)),
            "3d 2h"
        );
        assert_eq!(human_duration(Duration::seconds(9)), "9s");
    }
}
