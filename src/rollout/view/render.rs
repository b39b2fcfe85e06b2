//! Text rendering of the views: the header block and the tree laid out like Go's tabwriter
//! (padding 2, widths in chars), icons optionally in ANSI colour. Must not derive anything.

use super::tree::{ExperimentView, Image, RolloutView, Row};
use super::{
    ICON_BAD, ICON_NEUTRAL, ICON_OK, ICON_PAUSED, ICON_PROGRESSING, ICON_UNKNOWN, ICON_WAITING,
    ICON_WARNING,
};

/// How icons are drawn: plain, or wrapped in ANSI colours for a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Never,
    Ansi,
}

pub(super) fn paint(icon: &str, colour: Colour) -> String {
    if colour == Colour::Never {
        return icon.to_string();
    }
    let code = match icon {
        ICON_OK => "32",
        ICON_BAD | ICON_WARNING | ICON_UNKNOWN => "31",
        ICON_PROGRESSING | ICON_WAITING => "33",
        ICON_PAUSED | ICON_NEUTRAL => "90",
        _ => return icon.to_string(),
    };
    format!("\x1b[{code}m{icon}\x1b[0m")
}

fn header(out: &mut String, label: &str, value: &str) {
    let line = format!("{label:<17}{value}");
    out.push_str(line.trim_end());
    out.push('\n');
}

fn images_header(out: &mut String, images: &[Image]) {
    for (i, image) in images.iter().enumerate() {
        header(out, if i == 0 { "Images:" } else { "" }, &image.to_string());
    }
}

/// Lays rows out like Go's tabwriter (min width 0, padding 2, widths in chars), trailing
/// spaces trimmed. Colour codes are added after measuring, so they never shift columns.
pub(super) fn render_tree(out: &mut String, rows: &[Row], colour: Colour) {
    let plain = |r: &Row| -> [String; 4] {
        let status = if r.status_icon.is_empty() && r.status.is_empty() {
            String::new()
        } else {
            format!("{} {}", r.status_icon, r.status)
        };
        [
            format!("{}{} {}", r.prefix, r.icon, r.name),
            r.kind.to_string(),
            status,
            r.age.clone(),
        ]
    };
    let header = ["NAME", "KIND", "STATUS", "AGE"].map(String::from);
    let cells: Vec<[String; 4]> = rows.iter().map(plain).collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: &[String; 4], status_painted: Option<String>, info: &str| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w + 2 - cell.chars().count();
            match (i, &status_painted) {
                (2, Some(painted)) => text.push_str(painted),
                _ => text.push_str(cell),
            }
            text.push_str(&" ".repeat(pad));
        }
        text.push_str(info);
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header, None, "INFO");
    for (row, cell) in rows.iter().zip(&cells) {
        let painted = (colour == Colour::Ansi && !row.status_icon.is_empty())
            .then(|| format!("{} {}", paint(row.status_icon, colour), row.status));
        line(cell, painted, &row.info);
    }
}

/// Renders `get rollout` output.
pub fn render_rollout(view: &RolloutView, colour: Colour) -> String {
    let mut out = String::new();
    header(&mut out, "Name:", &view.name);
    header(&mut out, "Namespace:", &view.namespace);
    header(
        &mut out,
        "Status:",
        &format!("{} {}", paint(view.status_icon, colour), view.status),
    );
    if !view.message.is_empty() {
        header(&mut out, "Message:", &view.message);
    }
    header(&mut out, "Strategy:", view.strategy);
    if view.strategy == "Canary" {
        header(&mut out, "  Step:", &view.step);
        header(&mut out, "  SetWeight:", &view.set_weight.to_string());
        header(&mut out, "  ActualWeight:", &view.actual_weight.to_string());
    }
    images_header(&mut out, &view.images);
    out.push_str("Replicas:\n");
    let r = view.replicas;
    header(&mut out, "  Desired:", &r.desired.to_string());
    header(&mut out, "  Current:", &r.current.to_string());
    header(&mut out, "  Updated:", &r.updated.to_string());
    header(&mut out, "  Ready:", &r.ready.to_string());
    header(&mut out, "  Available:", &r.available.to_string());
    out.push('\n');
    render_tree(&mut out, &view.tree, colour);
    out
}

/// Renders `get experiment` output.
pub fn render_experiment(view: &ExperimentView, colour: Colour) -> String {
    let mut out = String::new();
    header(&mut out, "Name:", &view.name);
    header(&mut out, "Namespace:", &view.namespace);
    header(
        &mut out,
        "Status:",
        &format!("{} {}", paint(view.status_icon, colour), view.status),
    );
    if !view.message.is_empty() {
        header(&mut out, "Message:", &view.message);
    }
    images_header(&mut out, &view.images);
    out.push('\n');
    render_tree(&mut out, &view.tree, colour);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::view::{ICON_PAUSED, ICON_REVISION, ICON_ROLLOUT};

    #[test]
    fn tree_columns_align_in_chars_not_bytes() {
        let rows = vec![
            Row {
                icon: ICON_ROLLOUT,
                name: "r".into(),
                kind: "Rollout",
                status_icon: ICON_PAUSED,
                status: "Paused".into(),
                age: "7d".into(),
                ..Row::default()
            },
            Row {
                prefix: "└──".into(),
                icon: ICON_REVISION,
                name: "revision:1".into(),
                ..Row::default()
            },
        ];
        let mut out = String::new();
        render_tree(&mut out, &rows, Colour::Never);
        assert_eq!(
            out,
            "NAME             KIND     STATUS    AGE  INFO\n⟳ r              Rollout  ॥ Paused  7d\n└──# revision:1\n"
        );
    }
}
