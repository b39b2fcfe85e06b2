//! The archive's pages: the channel's README.md, its merged TIMELINE.md, and the store's
//! README.md index. Each is a template (`templates/archive-readme.md`, `timeline.md`,
//! `index.md`, user-overridable under `<root>/templates/`) rendered from a context built here.
//!
//! Output depends only on the files, never on the clock, so rendering twice gives the same
//! bytes (archiving a sealed channel again changes nothing).

use std::path::Path;

use serde::Serialize;

use super::record::{Record, SUMMARY_CHARS, anchor, one_line, span_text};
use crate::channel::verify::Finding;
use crate::channel::{Entry, Kind};
use crate::templates::{TemplateError, render};

/// A link to an entry in TIMELINE.md.
#[derive(Debug, Serialize)]
struct EntryRef {
    id: String,
    anchor: String,
}

impl EntryRef {
    fn new(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            anchor: anchor(id),
        }
    }
}

/// An alert or decision as README.md lists it.
#[derive(Debug, Serialize)]
struct EntryLine {
    id: String,
    anchor: String,
    time: String,
    author: String,
    kind: String,
    line: String,
}

impl EntryLine {
    fn of(e: &Entry) -> Self {
        Self {
            id: e.id.to_string(),
            anchor: anchor(&e.id.to_string()),
            time: e.ts.datetime().format("%Y-%m-%d %H:%M:%SZ").to_string(),
            author: e.author.to_string(),
            kind: e.kind.as_str().to_owned(),
            line: one_line(&e.body, SUMMARY_CHARS),
        }
    }
}

#[derive(Debug, Serialize)]
struct Participant {
    name: String,
    title: Option<String>,
    lane: Option<String>,
    on_roster: bool,
    /// The author file, when the role posted.
    file: Option<String>,
    entries: u64,
    first: Option<EntryRef>,
    last: Option<EntryRef>,
}

#[derive(Debug, Serialize)]
struct CountRow {
    author: String,
    cells: Vec<u64>,
    total: u64,
}

#[derive(Debug, Serialize)]
struct SealCtx {
    at: String,
    by: String,
    entry: Option<EntryRef>,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
struct Integrity {
    entries: u64,
    files: usize,
    findings: Vec<String>,
    notes: Vec<String>,
}

fn finding_lines(findings: &[Finding], dir: &Path) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            let path = f.path.strip_prefix(dir).unwrap_or(&f.path);
            format!("{}:{}: {}", path.display(), f.line, f.message)
        })
        .collect()
}

fn integrity(record: &Record, dir: &Path) -> Integrity {
    Integrity {
        entries: record.report.entries,
        files: record.report.files,
        findings: finding_lines(&record.report.findings, dir),
        notes: finding_lines(&record.report.notes, dir),
    }
}

/// One observer's last state as README.md shows it.
#[derive(Debug, Serialize)]
struct LastState {
    role: String,
    /// The state file, relative to the channel.
    file: String,
    written_at: Option<String>,
    stopped: bool,
    /// One markdown line per Rollout, ReplicaSet and route, then the note.
    lines: Vec<String>,
    /// Why the file cannot be used (it is kept, but says nothing).
    problem: Option<String>,
}

fn rollout_line(r: &crate::state::RolloutState) -> String {
    let mut parts = vec![format!(
        "Rollout `{}/{}`: **{}**{}",
        r.namespace,
        r.name,
        r.status,
        if r.aborted { " (aborted)" } else { "" }
    )];
    if !r.step.is_empty() {
        parts.push(format!("step {}", r.step));
    }
    if r.strategy == "Canary" {
        parts.push(format!(
            "setWeight {} · actualWeight {}",
            r.set_weight, r.actual_weight
        ));
    }
    let images = |label: &str, list: &[String]| {
        (!list.is_empty()).then(|| {
            let quoted: Vec<String> = list.iter().map(|i| format!("`{i}`")).collect();
            format!("{label} {}", quoted.join(", "))
        })
    };
    parts.extend(images("stable", &r.stable_images));
    let preview = if r.strategy == "BlueGreen" {
        "preview"
    } else {
        "canary"
    };
    parts.extend(images(preview, &r.canary_images));
    parts.push(format!("ready {}/{}", r.replicas.ready, r.replicas.desired));
    if let Some(a) = &r.analysis {
        let mut t = format!("analysis `{}` {}", a.name, a.phase);
        if let Some(m) = &a.last {
            t.push_str(&format!(" (last: {} {}", m.metric, m.phase));
            if !m.value.is_empty() {
                t.push_str(&format!(" {}", m.value));
            }
            t.push(')');
        }
        parts.push(t);
    }
    let mut line = parts.join(" · ");
    if !r.message.is_empty() {
        line.push_str(&format!(" — {}", one_line(&r.message, SUMMARY_CHARS)));
    }
    line
}

fn last_states(record: &Record) -> Vec<LastState> {
    record
        .states
        .iter()
        .map(|f| {
            let file = format!(".warroom/state/{}.json", f.role);
            let role = f.role.to_string();
            match &f.doc {
                Ok(doc) => {
                    let mut lines: Vec<String> = doc.rollouts.iter().map(rollout_line).collect();
                    lines.extend(doc.replica_sets.iter().map(|rs| {
                        format!(
                            "ReplicaSet `{}`{}: {}/{} ready{}",
                            rs.name,
                            if rs.owner.is_empty() {
                                String::new()
                            } else {
                                format!(" ({})", rs.owner)
                            },
                            rs.ready,
                            rs.desired,
                            if rs.not_ready > 0 {
                                format!(", **{} not ready**", rs.not_ready)
                            } else {
                                String::new()
                            }
                        )
                    }));
                    lines.extend(doc.routes.iter().map(|r| {
                        let window = format!("{:.1} s", r.window_ms as f64 / 1000.0);
                        if r.requests == 0 {
                            format!("`{}`: no requests in the last {window}", r.route)
                        } else {
                            format!(
                                "`{}`: {} of {} requests failed in the last {window}",
                                r.route, r.failures, r.requests
                            )
                        }
                    }));
                    if !doc.note.is_empty() {
                        lines.push(one_line(&doc.note, SUMMARY_CHARS));
                    }
                    LastState {
                        role,
                        file,
                        written_at: Some(doc.written_at.to_string()),
                        stopped: doc.stopped,
                        lines,
                        problem: None,
                    }
                }
                Err(why) => LastState {
                    role,
                    file,
                    written_at: None,
                    stopped: false,
                    lines: Vec::new(),
                    problem: Some(one_line(why, SUMMARY_CHARS)),
                },
            }
        })
        .collect()
}

fn span(record: &Record) -> String {
    record
        .span()
        .map(|(a, b)| span_text(a, b))
        .unwrap_or_else(|| "no entries".to_owned())
}

/// The channel's README.md. `brief` is the file holding the brief as it was when the
/// channel was sealed, if there is one.
pub fn readme(
    record: &Record,
    root: &Path,
    dir: &Path,
    brief: Option<&str>,
) -> Result<String, TemplateError> {
    let counts = record.counts();
    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| counts.values().any(|c| c.contains_key(k)))
        .collect();
    let row = |author: String, c: &std::collections::BTreeMap<Kind, u64>| CountRow {
        author,
        cells: kinds
            .iter()
            .map(|k| c.get(k).copied().unwrap_or(0))
            .collect(),
        total: c.values().sum(),
    };
    let mut all = std::collections::BTreeMap::new();
    for c in counts.values() {
        for (k, n) in c {
            *all.entry(*k).or_insert(0) += n;
        }
    }
    let rows: Vec<CountRow> = counts.iter().map(|(a, c)| row(a.clone(), c)).collect();
    let totals = row("all".to_owned(), &all);

    let mut participants: Vec<Participant> = record
        .roster
        .roles
        .iter()
        .map(|r| {
            participant(
                record,
                r.name.as_str(),
                r.title.clone(),
                r.lane.clone(),
                true,
            )
        })
        .collect();
    for author in counts.keys() {
        if !participants.iter().any(|p| &p.name == author) {
            participants.push(participant(record, author, None, None, false));
        }
    }

    let seal = record.seal.as_ref().map(|s| SealCtx {
        at: s.seal.at.to_string(),
        by: s.seal.by.clone(),
        entry: s.seal.entry.as_deref().map(EntryRef::new),
        // The template ends the sentence.
        reason: s
            .reason
            .as_deref()
            .map(|r| r.trim().trim_end_matches('.').to_owned())
            .filter(|r| !r.is_empty()),
    });
    let (theme, date) = record
        .channel
        .split_once("--")
        .map(|(d, t)| (t.to_owned(), d.to_owned()))
        .unwrap_or_else(|| (record.channel.clone(), String::new()));
    render(
        root,
        "archive-readme.md",
        minijinja::context! {
            channel => &record.channel,
            theme => theme,
            date => date,
            opened_at => record.roster.opened_at.to_string(),
            summary => record.summary(),
            brief => brief,
            seal => seal,
            span => span(record),
            entries => record.entries.len(),
            participants => participants,
            kinds => kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            counts => rows,
            totals => totals,
            alerts => record.of_kind(Kind::Alert).map(EntryLine::of).collect::<Vec<_>>(),
            decisions => record.of_kind(Kind::Decision).map(EntryLine::of).collect::<Vec<_>>(),
            integrity => integrity(record, dir),
            states => last_states(record),
        },
    )
}

fn participant(
    record: &Record,
    name: &str,
    title: Option<String>,
    lane: Option<String>,
    on_roster: bool,
) -> Participant {
    let mine = || record.entries.iter().filter(|e| e.author.as_str() == name);
    let entries = mine().count() as u64;
    Participant {
        name: name.to_owned(),
        title,
        lane: lane.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")),
        on_roster,
        file: (entries > 0).then(|| format!("{name}.md")),
        entries,
        first: mine().next().map(|e| EntryRef::new(&e.id.to_string())),
        last: mine().next_back().map(|e| EntryRef::new(&e.id.to_string())),
    }
}

#[derive(Debug, Serialize)]
struct TimelineEntry {
    id: String,
    anchor: String,
    ts: String,
    time: String,
    author: String,
    kind: String,
    /// Alerts and decisions stand out, as in the author files.
    kind_label: String,
    refs: Vec<EntryRef>,
    referenced_by: Vec<EntryRef>,
    /// The body as a blockquote: whatever markdown it holds (an unclosed fence, a heading,
    /// raw HTML) ends with the quote and cannot swallow the entries after it.
    quoted: String,
}

#[derive(Debug, Serialize)]
struct Day {
    date: String,
    entries: Vec<TimelineEntry>,
}

/// Prefixes every line with `> ` (a bare `>` for blank lines).
fn quote(body: &str) -> String {
    let body = body.trim_end();
    if body.is_empty() {
        return ">".to_owned();
    }
    body.lines()
        .map(|l| {
            if l.trim().is_empty() {
                ">".to_owned()
            } else {
                format!("> {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The channel's TIMELINE.md.
pub fn timeline(record: &Record, root: &Path) -> Result<String, TemplateError> {
    let back = record.referenced_by();
    let mut days: Vec<Day> = Vec::new();
    for e in &record.entries {
        let date = e.ts.datetime().format("%Y-%m-%d").to_string();
        if days.last().is_none_or(|d| d.date != date) {
            days.push(Day {
                date: date.clone(),
                entries: Vec::new(),
            });
        }
        let id = e.id.to_string();
        let kind_label = match e.kind {
            Kind::Alert => "**ALERT**".to_owned(),
            Kind::Decision => "**decision**".to_owned(),
            ref k => crate::timeline::render::kind_label(k).into_owned(),
        };
        let entry = TimelineEntry {
            anchor: anchor(&id),
            ts: e.ts.to_string(),
            time: e.ts.datetime().format("%H:%M:%S%.3fZ").to_string(),
            author: e.author.to_string(),
            kind: e.kind.as_str().to_owned(),
            kind_label,
            refs: e
                .refs
                .iter()
                .map(|r| EntryRef::new(&r.to_string()))
                .collect(),
            referenced_by: back
                .get(&id)
                .map(|v| v.iter().map(|r| EntryRef::new(r)).collect())
                .unwrap_or_default(),
            quoted: quote(&e.body),
            id,
        };
        days.last_mut()
            .expect("a day was pushed")
            .entries
            .push(entry);
    }
    let authors = record.counts().len();
    render(
        root,
        "timeline.md",
        minijinja::context! {
            channel => &record.channel,
            span => span(record),
            entries => record.entries.len(),
            authors => authors,
            days => days,
            seal_entry => record.seal_entry().map(EntryRef::new),
        },
    )
}

/// One channel in the store's index.
#[derive(Debug, Serialize)]
pub struct IndexRow {
    pub name: String,
    pub span: String,
    pub entries: usize,
    pub alerts: usize,
    pub decisions: usize,
    pub summary: String,
    pub findings: Vec<String>,
}

impl IndexRow {
    pub fn of(record: &Record, dir: &Path) -> Self {
        Self {
            name: record.channel.clone(),
            span: span(record),
            entries: record.entries.len(),
            alerts: record.of_kind(Kind::Alert).count(),
            decisions: record.of_kind(Kind::Decision).count(),
            summary: record.summary(),
            findings: finding_lines(&record.report.findings, dir),
        }
    }

    /// The row of a channel that could not be read.
    pub fn unreadable(name: &str, error: &crate::channel::Error) -> Self {
        Self {
            name: name.to_owned(),
            span: "unknown".to_owned(),
            entries: 0,
            alerts: 0,
            decisions: 0,
            summary: "could not be read when this index was written".to_owned(),
            findings: vec![error.to_string()],
        }
    }
}

/// The store's README.md: every sealed channel, newest first.
pub fn index(rows: &[IndexRow], root: &Path) -> Result<String, TemplateError> {
    render(root, "index.md", minijinja::context! { channels => rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::entry::Timestamp;
    use crate::channel::seal::SealRecord;
    use crate::channel::store::{Role, Seal};
    use crate::channel::verify::Report;
    use crate::channel::{Author, EntryId, Roster};

    fn entry(author: &str, seq: u64, ts: &str, kind: Kind, refs: &[&str], body: &str) -> Entry {
        let author = Author::new(author).unwrap();
        Entry {
            id: EntryId {
                author: author.clone(),
                seq,
            },
            channel: "2026-05-04--canary".into(),
            author,
            seq,
            ts: Timestamp::parse_rfc3339(ts).unwrap(),
            kind,
            refs: refs.iter().map(|r| EntryId::parse(r).unwrap()).collect(),
            to: vec![],
            key: None,
            body: body.into(),
        }
    }

    fn record() -> Record {
        let at = Timestamp::parse_rfc3339("2026-05-04T17:20:00Z").unwrap();
        Record {
            channel: "2026-05-04--canary".into(),
            roster: Roster {
                channel: "2026-05-04--canary".into(),
                opened_at: Timestamp::parse_rfc3339("2026-05-04T17:00:00Z").unwrap(),
                roles: vec![Role {
                    name: Author::new("pipeline").unwrap(),
                    title: Some("Rollout pipeline".into()),
                    lane: Some("Watches\nthe rollout.".into()),
                }],
            },
            seal: Some(SealRecord {
                seal: Seal {
                    at,
                    by: "operator".into(),
                    entry: Some("operator#2".into()),
                },
                reason: Some("Aborted.".into()),
                heads: Default::default(),
            }),
            entries: vec![
                entry(
                    "pipeline",
                    1,
                    "2026-05-04T17:01:00Z",
                    Kind::Alert,
                    &[],
                    "## Stuck\nmore",
                ),
                entry(
                    "operator",
                    1,
                    "2026-05-04T17:02:00Z",
                    Kind::Decision,
                    &["pipeline#1"],
                    "abort",
                ),
                entry(
                    "operator",
                    2,
                    "2026-05-04T17:20:00Z",
                    Kind::Note,
                    &[],
                    "sealed",
                ),
            ],
            report: Report::default(),
            states: Vec::new(),
        }
    }

    #[test]
    fn timeline_anchors_every_entry_and_links_refs_both_ways() {
        let md = timeline(&record(), Path::new("/nonexistent")).unwrap();
        assert!(md.contains(
            "#### <a id=\"operator-1\"></a>17:02:00.000Z · operator#1 · **decision** · re [pipeline#1](#pipeline-1)\n\n> abort\n"
        ), "{md}");
        assert!(md.contains("> ## Stuck\n> more\n"), "{md}");
        assert!(
            md.contains("Referenced by [operator#1](#operator-1)."),
            "{md}"
        );
        assert!(md.contains("Sealed by [operator#2](#operator-2)."), "{md}");
        assert!(md.contains("\n## 2026-05-04\n"), "{md}");
    }

    #[test]
    fn readme_links_alerts_decisions_and_the_seal() {
        let r = record();
        let md = readme(
            &r,
            Path::new("/nonexistent"),
            Path::new("/x"),
            Some("BRIEF.md"),
        )
        .unwrap();
        assert!(
            md.contains("- [pipeline#1](TIMELINE.md#pipeline-1) · 2026-05-04 17:01:00Z · Stuck\n"),
            "{md}"
        );
        assert!(
            md.contains("- [operator#1](TIMELINE.md#operator-1) · 2026-05-04 17:02:00Z · abort\n"),
            "{md}"
        );
        assert!(
            md.contains("([operator#2](TIMELINE.md#operator-2)): Aborted."),
            "{md}"
        );
        assert!(md.contains("**Aborted.**"), "{md}");
        assert!(md.contains("Watches the rollout."), "{md}");
        assert!(md.contains("[BRIEF.md](BRIEF.md)"), "{md}");
        assert!(
            md.contains("| **all** | **1** | **1** | **1** | **3** |"),
            "{md}"
        );
    }

    #[test]
    fn quote_contains_the_body() {
        assert_eq!(quote("a\n\n```\nb"), "> a\n>\n> ```\n> b");
        assert_eq!(quote("  \n"), ">");
    }
}
