//! The data-plane observer's table rows: what a difference of one object says ([`Row`]), and
//! one readable entry for a window of rows ([`render_window`]), counting pod rows of one owner
//! together when the window is busy.
//!
//! Pure: differences in, rows and markdown out. It must not keep state (the
//! [`super::DataPlaneState`] does) nor post.

use std::collections::BTreeMap;

use super::objects::{DeploymentState, EventState, JobState, PodState, ReplicaSetState};
use crate::observe::{Diff, cell};

/// One line of a window's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// `ReplicaSet web-7f6b8d9c5e`, `Pod web-…`.
    pub object: String,
    pub change: String,
    /// Crash loops, image-pull failures, failed Jobs: also alerted.
    pub bad: bool,
    /// Rows of one burst that can be counted together: (owner, what happened).
    pub group: Option<(String, String)>,
    /// A later row with the same key in the same window supersedes this one (a Warning
    /// event's count going up: only the latest is worth a line).
    pub supersede: Option<String>,
}

pub(super) fn row(object: String, change: String) -> Row {
    Row {
        object,
        change,
        bad: false,
        group: None,
        supersede: None,
    }
}

pub(super) const BAD_WAITING: [&str; 4] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "CreateContainerConfigError",
];

pub(super) fn rs_rows(d: &Diff<ReplicaSetState>, rows: &mut Vec<Row>) {
    let object = format!("ReplicaSet `{}`", d.key);
    match (&d.before, &d.after) {
        (None, Some(a)) => rows.push(row(
            object,
            format!("created at replicas {} ({})", a.desired, a.owner),
        )),
        (Some(b), Some(a)) if b.desired != a.desired => {
            rows.push(row(object, format!("scaled {} → {}", b.desired, a.desired)));
        }
        (Some(b), None) => rows.push(row(object, format!("deleted (was at {})", b.desired))),
        _ => {}
    }
}

pub(super) fn deployment_rows(d: &Diff<DeploymentState>, rows: &mut Vec<Row>) {
    let object = format!("Deployment `{}`", d.key);
    match (&d.before, &d.after) {
        (None, Some(a)) => rows.push(row(object, format!("created at replicas {}", a.desired))),
        (Some(b), Some(a)) => {
            if b.desired != a.desired {
                rows.push(row(
                    object.clone(),
                    format!("scaled {} → {}", b.desired, a.desired),
                ));
            }
            if b.replicas != a.replicas {
                rows.push(row(
                    object,
                    format!("running replicas {} → {}", b.replicas, a.replicas),
                ));
            }
        }
        (Some(_), None) => rows.push(row(object, "deleted".into())),
        _ => {}
    }
}

pub(super) fn pod_rows(d: &Diff<PodState>, rows: &mut Vec<Row>) {
    let object = format!("Pod `{}`", d.key);
    let mut push = |owner: &str, change: String, label: &str, bad: bool| {
        rows.push(Row {
            object: object.clone(),
            change,
            bad,
            group: Some((owner.to_string(), label.to_string())),
            supersede: None,
        });
    };
    match (&d.before, &d.after) {
        (None, Some(a)) => {
            let on = if a.node.is_empty() {
                "not scheduled yet".to_string()
            } else {
                format!("scheduled on {}", a.node)
            };
            push(
                &a.owner,
                format!("created ({}), {on}", a.owner),
                "created",
                false,
            );
            if a.ready {
                push(&a.owner, format!("Ready on {}", a.node), "Ready", false);
            }
            if BAD_WAITING.contains(&a.waiting.as_str()) {
                push(&a.owner, a.waiting.clone(), &a.waiting, true);
            }
        }
        (Some(b), Some(a)) => {
            if b.node.is_empty() && !a.node.is_empty() {
                push(
                    &a.owner,
                    format!("scheduled on {}", a.node),
                    "scheduled",
                    false,
                );
            }
            if !b.ready && a.ready {
                let on = if a.node.is_empty() {
                    String::new()
                } else {
                    format!(" on {}", a.node)
                };
                push(&a.owner, format!("Ready{on}"), "Ready", false);
            }
            if b.ready && !a.ready && a.phase != "Succeeded" {
                let why = if a.waiting.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", a.waiting)
                };
                push(&a.owner, format!("NotReady{why}"), "NotReady", false);
            }
            if a.restarts > b.restarts {
                push(
                    &a.owner,
                    format!("restarted (restarts {} → {})", b.restarts, a.restarts),
                    "restarted",
                    false,
                );
            }
            if a.waiting != b.waiting && BAD_WAITING.contains(&a.waiting.as_str()) {
                let since = a
                    .created
                    .map(|c| format!(" (pod created {})", c.format("%H:%M:%SZ")))
                    .unwrap_or_default();
                push(&a.owner, format!("{}{since}", a.waiting), &a.waiting, true);
            }
            if a.phase != b.phase && (a.phase == "Succeeded" || a.phase == "Failed") {
                push(
                    &a.owner,
                    format!("phase {}", a.phase),
                    &a.phase,
                    a.phase == "Failed",
                );
            }
        }
        (Some(b), None) => push(&b.owner, "deleted".into(), "deleted", false),
        _ => {}
    }
}

pub(super) fn job_rows(d: &Diff<JobState>, rows: &mut Vec<Row>) {
    let object = format!("Job `{}`", d.key);
    let took = |j: &JobState| match (j.start, j.completion) {
        (Some(s), Some(c)) => format!(" in {}", crate::rollout::view::human_duration(c - s)),
        _ => String::new(),
    };
    match (&d.before, &d.after) {
        (None, Some(a)) => {
            rows.push(row(object.clone(), "started".into()));
            if a.succeeded > 0 {
                rows.push(row(object, format!("finished: succeeded{}", took(a))));
            }
        }
        (Some(b), Some(a)) => {
            if a.succeeded > b.succeeded {
                rows.push(row(
                    object.clone(),
                    format!("finished: succeeded{}", took(a)),
                ));
            }
            if a.failed > b.failed {
                rows.push(Row {
                    object,
                    change: format!("pod failed (failures {} → {})", b.failed, a.failed),
                    bad: true,
                    group: None,
                    supersede: None,
                });
            }
        }
        (Some(_), None) => rows.push(row(object, "deleted".into())),
        _ => {}
    }
}

/// "Successfully pulled image "x" in 13.2s (…)" -> "13.2s".
pub(super) fn pull_duration(message: &str) -> Option<&str> {
    let rest = &message[message.find("\" in ")? + 5..];
    rest.split([' ', '(']).next().filter(|s| !s.is_empty())
}

pub(super) fn event_rows(d: &Diff<EventState>, rows: &mut Vec<Row>) {
    let Some(a) = &d.after else { return };
    let before = d.before.as_ref().map_or(0, |b| b.count);
    if a.count <= before {
        return;
    }
    if a.reason == "Pulled" {
        if let Some(took) = pull_duration(&a.message) {
            rows.push(row(a.object.clone(), format!("image pulled in {took}")));
        }
        return;
    }
    rows.push(Row {
        supersede: Some(format!("{}|{}", a.object, a.reason)),
        ..row(
            a.object.clone(),
            format!("Warning {} ×{}: {}", a.reason, a.count, cell(&a.message)),
        )
    });
}

/// How many rows a window shows one by one before it counts pod rows together.
pub const ROWS_SHOWN: usize = 30;

/// One entry for a window's rows: a table, with pod rows of one owner and change counted
/// together when the window is busy.
pub fn render_window(rows: &[Row]) -> String {
    // Superseded rows go; the survivor says how many it stands for.
    let mut last: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(k) = &r.supersede {
            let e = last.entry(k.as_str()).or_insert((i, 0));
            *e = (i, e.1 + 1);
        }
    }
    let kept: Vec<Row> = rows
        .iter()
        .enumerate()
        .filter_map(
            |(i, r)| match r.supersede.as_deref().and_then(|k| last.get(k)) {
                Some((at, _)) if *at != i => None,
                Some((_, n)) if *n > 1 => Some(Row {
                    change: format!("{} ({n} this window)", r.change),
                    ..r.clone()
                }),
                _ => Some(r.clone()),
            },
        )
        .collect();
    let rows = &kept[..];
    let mut lines: Vec<(String, String)> = Vec::new();
    if rows.len() <= ROWS_SHOWN {
        lines.extend(rows.iter().map(|r| (r.object.clone(), r.change.clone())));
    } else {
        let mut groups: BTreeMap<(String, String), Vec<&Row>> = BTreeMap::new();
        for r in rows {
            match &r.group {
                Some(g) => groups.entry(g.clone()).or_default().push(r),
                None => lines.push((r.object.clone(), r.change.clone())),
            }
        }
        for ((owner, label), members) in groups {
            let examples: Vec<&str> = members.iter().take(3).map(|r| r.object.as_str()).collect();
            let more = if members.len() > 3 { ", …" } else { "" };
            lines.push((
                format!(
                    "{} pod(s) of {}",
                    members.len(),
                    if owner.is_empty() {
                        "(no owner)"
                    } else {
                        &owner
                    }
                ),
                format!("{label} (e.g. {}{more})", examples.join(", ")),
            ));
        }
    }
    let mut out = format!(
        "**{} change(s)**\n\n| object | change |\n|---|---|\n",
        rows.len()
    );
    for (object, change) in lines {
        out.push_str(&format!("| {object} | {change} |\n"));
    }
    out
}
