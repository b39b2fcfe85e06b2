//! Renderers for a stream of entries: text (coloured on a terminal), markdown, JSON, ndjson,
//! YAML.

use std::io::{self, Write};

use crate::channel::{Entry, Kind, Timestamp};

/// Output format of reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Md,
    Json,
    Ndjson,
    /// A YAML sequence, one item per entry (streams: each item stands alone).
    Yaml,
}

/// Writes entries one at a time in a format.
pub struct Renderer<W: Write> {
    out: W,
    format: Format,
    color: bool,
    count: u64,
    last_date: Option<chrono::NaiveDate>,
}

/// ANSI 256-colour codes that read well on dark and light backgrounds.
const PALETTE: [u8; 8] = [33, 36, 35, 32, 172, 99, 31, 70];

/// A stable colour per author name.
pub fn author_color(author: &str) -> u8 {
    let h = author.bytes().fold(2166136261u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(16777619)
    });
    PALETTE[(h as usize) % PALETTE.len()]
}

impl<W: Write> Renderer<W> {
    pub fn new(out: W, format: Format, color: bool) -> Self {
        Self {
            out,
            format,
            color: color && format == Format::Text,
            count: 0,
            last_date: None,
        }
    }

    /// Writes what comes before the first entry (nothing for most formats).
    pub fn begin(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out.write_all(b"[")?;
        }
        Ok(())
    }

    pub fn entry(&mut self, e: &Entry) -> io::Result<()> {
        let mut buf = Vec::with_capacity(256 + e.body.len());
        render_entry(self.format, self.color, e, &mut buf);
        self.rendered(e.ts, &buf)
    }

    /// Writes an entry already rendered by [`render_entry`] (with this renderer's format and
    /// colour), adding what depends on its place in the output.
    pub fn rendered(&mut self, ts: Timestamp, bytes: &[u8]) -> io::Result<()> {
        match self.format {
            Format::Json => self
                .out
                .write_all(if self.count == 0 { b"\n" } else { b",\n" })?,
            Format::Text => {
                let date = ts.datetime().date_naive();
                if self.last_date != Some(date) {
                    self.last_date = Some(date);
                    let line = format!("── {} ──", date.format("%Y-%m-%d"));
                    if self.color {
                        writeln!(self.out, "\x1b[2m{line}\x1b[0m")?;
                    } else {
                        writeln!(self.out, "{line}")?;
                    }
                }
            }
            Format::Md | Format::Ndjson | Format::Yaml => {}
        }
        self.out.write_all(bytes)?;
        self.count += 1;
        Ok(())
    }

    /// Writes what closes the output and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        if self.format == Format::Yaml && self.count == 0 {
            self.out.write_all(b"[]\n")?;
        }
        self.out.flush()
    }

    /// Flushes what was written so far (for following).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// How text and markdown name a kind: a kind this version does not know reads as a note,
/// with its true token beside it (JSON and ndjson carry the token alone).
pub fn kind_label(kind: &Kind) -> std::borrow::Cow<'_, str> {
    match kind {
        Kind::Other(token) => format!("note ({})", token.as_str()).into(),
        k => k.as_str().into(),
    }
}

fn refs(e: &Entry) -> String {
    join(&e.refs)
}

fn join(items: &[impl ToString]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders the part of one entry that does not depend on its neighbours (no JSON separator,
/// no date header), so reader threads can do it in parallel.
pub fn render_entry(format: Format, color: bool, e: &Entry, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail.
    let _ = match format {
        Format::Ndjson => {
            e.write_json(out);
            out.write_all(b"\n")
        }
        Format::Json => {
            e.write_json(out);
            Ok(())
        }
        Format::Yaml => yaml(out, e),
        Format::Md => markdown(out, e),
        Format::Text => text(out, e, color && format == Format::Text),
    };
}

/// One entry as an item of a YAML sequence.
fn yaml(out: &mut Vec<u8>, e: &Entry) -> io::Result<()> {
    let text = serde_saphyr::to_string(&std::slice::from_ref(e)).map_err(io::Error::other)?;
    out.write_all(text.as_bytes())
}

fn markdown(out: &mut Vec<u8>, e: &Entry) -> io::Result<()> {
    let t = e.ts.datetime();
    write!(
        out,
        "### {} · {} · {}",
        t.format("%Y-%m-%d %H:%M:%S%.3fZ"),
        e.id,
        kind_label(&e.kind)
    )?;
    if !e.refs.is_empty() {
        write!(out, " · re {}", refs(e))?;
    }
    if !e.to.is_empty() {
        write!(out, " · to {}", join(&e.to))?;
    }
    writeln!(out, "\n\n{}\n", e.body.trim_end())
}

fn text(out: &mut Vec<u8>, e: &Entry, color: bool) -> io::Result<()> {
    let ts = e.ts.as_str();
    let time = &ts[11..];
    let mut refs = if e.refs.is_empty() {
        String::new()
    } else {
        format!("  re {}", refs(e))
    };
    if !e.to.is_empty() {
        refs.push_str(&format!("  to {}", join(&e.to)));
    }
    if color {
        let c = author_color(e.author.as_str());
        let kind = match e.kind {
            Kind::Alert => "\x1b[1;97;41m ALERT \x1b[0m".to_owned(),
            Kind::Decision => "\x1b[1;30;43m decision \x1b[0m".to_owned(),
            ref k => format!("\x1b[2m{}\x1b[0m", kind_label(k)),
        };
        writeln!(
            out,
            "\x1b[2m{time}\x1b[0m  \x1b[1;38;5;{c}m{}\x1b[0m  {kind}\x1b[2m{refs}\x1b[0m",
            e.id
        )?;
    } else {
        let kind = match e.kind {
            Kind::Alert => "ALERT".into(),
            ref k => kind_label(k),
        };
        writeln!(out, "{time}  {}  {kind}{refs}", e.id)?;
    }
    for line in e.body.trim_end().lines() {
        // Bodies are untrusted: control characters (escape sequences) never reach a terminal.
        let line: String = line
            .chars()
            .map(|c| {
                if c.is_control() && c != '\t' {
                    '\u{fffd}'
                } else {
                    c
                }
            })
            .collect();
        writeln!(out, "    {line}")?;
    }
    writeln!(out)
}
