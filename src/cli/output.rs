//! The output flag every printing command shares: `-o/--output FORMAT` (`--format` is an alias),
//! the structured writers behind it (JSON, NDJSON, YAML) and the aligned tables that `text`,
//! `wide` and `md` print.
//!
//! A command flattens the one of [`EntriesOutput`], [`TableOutput`] or [`ReportOutput`] that
//! fits what it prints, so `--help` and the completions list only the formats it accepts. This
//! module only formats: it must not read the store or decide what a command prints.

use std::io::{self, Write};

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use serde::Serialize;

/// Every output format a command may accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// For people: aligned columns, or entries as readable blocks.
    Text,
    /// A table with more columns (as kubectl's `-o wide`).
    Wide,
    /// Markdown: entries as headed sections, tables as pipe tables.
    Md,
    /// One JSON document (an array for lists), pretty-printed.
    Json,
    /// One JSON value per line: a stream a script can read as it comes.
    Ndjson,
    /// One YAML document (a sequence for lists).
    Yaml,
}

impl Output {
    pub fn name(self) -> &'static str {
        match self {
            Output::Text => "text",
            Output::Wide => "wide",
            Output::Md => "md",
            Output::Json => "json",
            Output::Ndjson => "ndjson",
            Output::Yaml => "yaml",
        }
    }

    fn parse(s: &str) -> Output {
        match s {
            "wide" => Output::Wide,
            "md" => Output::Md,
            "json" => Output::Json,
            "ndjson" => Output::Ndjson,
            "yaml" => Output::Yaml,
            _ => Output::Text,
        }
    }

    /// The renderer format of the timeline for an entry-printing output.
    pub fn entries(self) -> crate::timeline::render::Format {
        use crate::timeline::render::Format;
        match self {
            Output::Md => Format::Md,
            Output::Json => Format::Json,
            Output::Ndjson => Format::Ndjson,
            Output::Yaml => Format::Yaml,
            Output::Text | Output::Wide => Format::Text,
        }
    }
}

/// A clap parser accepting exactly `allowed` (so help and completions list them).
pub fn parser(allowed: &'static [&'static str]) -> impl TypedValueParser<Value = Output> {
    PossibleValuesParser::new(allowed).map(|s| Output::parse(&s))
}

/// `-o` for commands that print entries (timeline, catchup).
#[derive(Debug, Clone, Args)]
pub struct EntriesOutput {
    /// Output format: text (coloured on a terminal), md, json (one array), ndjson (one entry
    /// per line) or yaml.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "format",
        value_name = "FORMAT",
        default_value = "text",
        value_parser = parser(&["text", "md", "json", "ndjson", "yaml"]),
    )]
    pub output: Output,
}

/// `-o` for commands that print a table (ls, token ls).
#[derive(Debug, Clone, Args)]
pub struct TableOutput {
    /// Output format: text (aligned columns), wide (more columns), md (a pipe table), json,
    /// ndjson (one object per line) or yaml.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "format",
        value_name = "FORMAT",
        default_value = "text",
        value_parser = parser(&["text", "wide", "md", "json", "ndjson", "yaml"]),
    )]
    pub output: Output,
}

/// `-o` for commands that print one report (verify, version).
#[derive(Debug, Clone, Args)]
pub struct ReportOutput {
    /// Output format: text, json, ndjson (the report on one line) or yaml.
    #[arg(
        short = 'o',
        long = "output",
        visible_alias = "format",
        value_name = "FORMAT",
        default_value = "text",
        value_parser = parser(&["text", "md", "json", "ndjson", "yaml"]),
    )]
    pub output: Output,
}

/// Writes `value` as pretty JSON, a newline after it.
pub fn json<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// Writes each item as one line of JSON.
pub fn ndjson<T: Serialize>(out: &mut impl Write, items: &[T]) -> io::Result<()> {
    for item in items {
        serde_json::to_writer(&mut *out, item)?;
        writeln!(out)?;
    }
    Ok(())
}

/// Writes `value` as one YAML document.
pub fn yaml<T: Serialize + ?Sized>(out: &mut impl Write, value: &T) -> io::Result<()> {
    let text = serde_saphyr::to_string(&value).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}

/// One value as a structured document: pretty JSON, one line of JSON (`ndjson`) or YAML; the
/// text formats get JSON (a command prints its own text before it gets here).
pub fn document<T: Serialize + ?Sized>(value: &T, output: Output) -> io::Result<String> {
    let mut buf = Vec::new();
    match output {
        Output::Yaml => yaml(&mut buf, value)?,
        Output::Ndjson => {
            serde_json::to_writer(&mut buf, value)?;
            buf.push(b'\n');
        }
        Output::Json | Output::Text | Output::Wide | Output::Md => json(&mut buf, value)?,
    }
    String::from_utf8(buf).map_err(io::Error::other)
}

/// The formats of the `rollout` commands: the plugin's text, `wide`, or the derived data as
/// JSON or YAML (in the order their `--help` has always listed them).
pub const ROLLOUT_FORMATS: &[&str] = &["text", "json", "yaml", "wide"];

/// Writes a list in a structured format (`json`, `ndjson`, `yaml`); false for the others,
/// which the command prints itself.
pub fn structured<T: Serialize>(
    out: &mut impl Write,
    output: Output,
    items: &[T],
) -> io::Result<bool> {
    match output {
        Output::Json => json(out, items)?,
        Output::Ndjson => ndjson(out, items)?,
        Output::Yaml => yaml(out, items)?,
        Output::Text | Output::Wide | Output::Md => return Ok(false),
    }
    Ok(true)
}

/// A table of text cells; `wide` columns show only with `-o wide` (and in markdown).
#[derive(Debug, Default)]
pub struct Table {
    columns: Vec<(&'static str, bool)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Columns by header; `wide` ones only print with `-o wide` or `-o md`.
    pub fn new(columns: &[(&'static str, bool)]) -> Self {
        Self {
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (one cell per column, in order).
    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Prints the table: `text` aligns the narrow columns, `wide` all of them (headers in
    /// capitals, two spaces between columns, the last column unpadded), `md` a pipe table.
    pub fn write(&self, out: &mut impl Write, output: Output) -> io::Result<()> {
        let shown: Vec<usize> = (0..self.columns.len())
            .filter(|&i| !self.columns[i].1 || matches!(output, Output::Wide | Output::Md))
            .collect();
        if output == Output::Md {
            let head: Vec<&str> = shown.iter().map(|&i| self.columns[i].0).collect();
            writeln!(out, "| {} |", head.join(" | "))?;
            writeln!(out, "|{}", "---|".repeat(shown.len()))?;
            for row in &self.rows {
                let cells: Vec<String> = shown
                    .iter()
                    .map(|&i| row[i].replace('|', "\\|").replace('\n', " "))
                    .collect();
                writeln!(out, "| {} |", cells.join(" | "))?;
            }
            return Ok(());
        }
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([self.columns[i].0.len()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = shown.iter().map(|&i| width(i)).collect();
        let line = |out: &mut dyn Write, cells: Vec<&str>| -> io::Result<()> {
            let mut text = String::new();
            for (n, cell) in cells.iter().enumerate() {
                if n + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    let pad = widths[n].saturating_sub(cell.chars().count());
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad + 2));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(out, shown.iter().map(|&i| self.columns[i].0).collect())?;
        for row in &self.rows {
            line(out, shown.iter().map(|&i| row[i].as_str()).collect())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_whatever_the_widths() {
        let mut t = Table::new(&[("NAME", false), ("STATE", false), ("DIR", true)]);
        t.row(vec!["a-long-name".into(), "open".into(), "x".into()]);
        t.row(vec!["b".into(), "sealed".into(), "y".into()]);
        let mut out = Vec::new();
        t.write(&mut out, Output::Text).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME         STATE\na-long-name  open\nb            sealed\n"
        );
        let mut out = Vec::new();
        t.write(&mut out, Output::Wide).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME         STATE   DIR\na-long-name  open    x\nb            sealed  y\n"
        );
        let mut out = Vec::new();
        t.write(&mut out, Output::Md).unwrap();
        assert!(
            String::from_utf8(out)
                .unwrap()
                .starts_with("| NAME | STATE | DIR |\n|---|---|---|\n")
        );
    }

    #[test]
    fn parser_maps_names_to_formats() {
        for name in ["text", "wide", "md", "json", "ndjson", "yaml"] {
            assert_eq!(Output::parse(name).name(), name);
        }
    }
}
