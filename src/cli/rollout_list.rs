//! `warroom rollout list [-n NS | -A] [--name N] [-o text|wide|json|yaml]`: the plugin's
//! `list rollouts` table (its columns, its cell widths, Go's tabwriter layout) over the
//! rollouts of a namespace, of every namespace, or of a `--from-dir` directory.

use std::io::Write;

use chrono::Utc;

use super::rollout::{ListArgs, Output, Source, output};
use crate::rollout::model::Rollout;
use crate::rollout::view;

/// One row of `list`, as the plugin's `rolloutInfo`.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListRow {
    namespace: String,
    name: String,
    strategy: &'static str,
    status: String,
    step: String,
    set_weight: String,
    ready: String,
    desired: i32,
    up_to_date: i32,
    available: i32,
    message: String,
    age: String,
}

fn list_row(ro: &Rollout, now: chrono::DateTime<Utc>) -> ListRow {
    let canary = ro.spec.strategy.canary.as_ref();
    let strategy = if canary.is_some() {
        "Canary"
    } else if ro.spec.strategy.blue_green.is_some() {
        "BlueGreen"
    } else {
        "unknown"
    };
    let step = match (canary, ro.status.current_step_index) {
        (Some(c), Some(i)) if !c.steps.is_empty() => format!("{i}/{}", c.steps.len()),
        _ => "-".into(),
    };
    let (status, message) = view::status_and_message(ro);
    ListRow {
        namespace: ro.metadata.namespace.clone(),
        name: ro.metadata.name.clone(),
        strategy,
        status,
        step,
        set_weight: if canary.is_some() {
            view::set_weight(ro).to_string()
        } else {
            "-".into()
        },
        ready: format!("{}/{}", ro.status.ready_replicas, ro.status.replicas),
        desired: ro.spec.replicas.unwrap_or(1),
        up_to_date: ro.status.updated_replicas,
        available: ro.status.available_replicas,
        message,
        age: ro
            .metadata
            .creation_timestamp
            .map_or("<unknown>".into(), |t| view::human_duration(now - t)),
    }
}

/// Lays out rows as Go's tabwriter with padding 2 does for the plugin's `list rollouts`: each
/// cell but the last is padded to its column's widest cell plus two spaces.
fn tabulate(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|cell| cell.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(cell);
                let pad = widths[c] + 2 - cell.chars().count();
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

pub fn list(args: ListArgs) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let mut rollouts = source.rollouts(args.all_namespaces)?;
    let now = source.now();
    if let Some(name) = &args.name {
        rollouts.retain(|r| &r.metadata.name == name);
    }
    let rows: Vec<ListRow> = rollouts.iter().map(|r| list_row(r, now)).collect();
    let mut out = std::io::stdout().lock();
    if matches!(args.output, Output::Json | Output::Ndjson | Output::Yaml) {
        out.write_all(output::document(&serde_json::to_value(&rows)?, args.output)?.as_bytes())?;
        return Ok(0);
    }
    if rows.is_empty() {
        eprintln!("No resources found.");
        return Ok(0);
    }
    let wide = args.output == Output::Wide;
    let mut table = Vec::new();
    let mut header: Vec<String> = [
        "NAME",
        "STRATEGY",
        "STATUS",
        "STEP",
        "SET-WEIGHT",
        "READY",
        "DESIRED",
        "UP-TO-DATE",
        "AVAILABLE",
    ]
    .iter()
    .map(|h| h.to_string())
    .collect();
    if wide {
        header.extend(["AGE".to_string(), "MESSAGE".to_string()]);
    }
    if args.all_namespaces {
        header.insert(0, "NAMESPACE".into());
    }
    table.push(header);
    for r in &rows {
        // The plugin's columnFmtString pads each cell to a minimum width before tabwriter.
        let mut cells = vec![
            format!("{:<10}", r.name),
            format!("{:<9}", r.strategy),
            format!("{:<12}", r.status),
            format!("{:<4}", r.step),
            format!("{:<10}", r.set_weight),
            format!("{:<5}", r.ready),
            format!("{:<7}", r.desired),
            format!("{:<10}", r.up_to_date),
            format!("{:<9}", r.available),
        ];
        if wide {
            cells.extend([r.age.clone(), r.message.clone()]);
        }
        if args.all_namespaces {
            cells.insert(0, format!("{:<9}", r.namespace));
        }
        table.push(cells);
    }
    out.write_all(tabulate(&table).as_bytes())?;
    Ok(0)
}
