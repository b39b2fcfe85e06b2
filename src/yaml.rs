//! Reading YAML: the one parser for everything the crate loads from files (scenarios,
//! manifest directories), with its limits and its error locations.
//!
//! Owns: the size limit (checked before any parsing: a file is read at most one byte past
//! it), the structural budget handed to serde-saphyr (depth, nodes, documents; enforced as the
//! parser streams events, so a file nested 100,000 deep is refused at the first level past
//! the limit instead of after building 100,000 levels), and errors that carry the line, the
//! column and the field's path (`spec.strategy.canary.steps[2].setWeight`). It must not know
//! what the documents mean: callers turn values into scenarios or snapshots.
//!
//! serde-saphyr replaced serde_yaml 0.9 (unmaintained); it is already in the dependency tree
//! through kube, and its budgets are what make the limits cheap.

use std::cell::RefCell;
use std::io::Read;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// What a caller accepts from one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of mappings and sequences. Real manifests stay under 40 (Argo's
    /// AnalysisTemplate CRD schema is 38 deep). The value is built recursively: a debug
    /// build needs about 20 KiB of stack per level, and 64 levels fit a 2 MiB thread.
    pub max_depth: usize,
    /// Most `---` documents in one file.
    pub max_documents: usize,
}

impl Limits {
    /// A scenario file: one document, 16 MiB.
    pub const SCENARIO: Limits = Limits {
        max_bytes: 16 << 20,
        max_depth: 64,
        max_documents: 1,
    };
    /// A manifest file of a `--from-dir` snapshot (a `kubectl get -o yaml` dump of a big
    /// namespace fits): 256 MiB, many documents.
    pub const MANIFESTS: Limits = Limits {
        max_bytes: 256 << 20,
        max_depth: 64,
        max_documents: 1_000_000,
    };

    fn options(&self) -> serde_saphyr::Options {
        // Nodes and events are bounded by the size already (a node takes at least a byte or
        // two); the parser's own defaults (250,000 nodes) would refuse big dumps.
        let nodes = self.max_bytes.saturating_add(16);
        serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_depth: self.max_depth,
                flow_nesting_limit: self.max_depth,
                max_documents: self.max_documents,
                max_nodes: nodes,
                max_events: nodes.saturating_mul(2),
                max_total_scalar_bytes: self.max_bytes,
            },
            // YAML 1.2 booleans only, as serde_yaml read them: `on`/`yes` stay strings in
            // untyped values (label values, annotations).
            strict_booleans: true,
        }
    }
}

/// Why a YAML text was refused. The caller adds the file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum YamlError {
    #[error(
        "{bytes} bytes is over the limit of {limit} bytes for this kind of file; split it or trim it"
    )]
    TooLarge { bytes: u64, limit: usize },
    #[error("{}", describe(*line, *column, path, message))]
    Invalid {
        /// 1-based; 0 when the parser could not say.
        line: u64,
        column: u64,
        /// The field's path from the document's root (`spec.replicas`, `items[3].kind`);
        /// empty at the root.
        path: String,
        message: String,
    },
}

fn describe(line: u64, column: u64, path: &str, message: &str) -> String {
    let at = if line > 0 {
        format!("line {line} column {column}: ")
    } else {
        String::new()
    };
    if path.is_empty() || path == "." {
        format!("{at}{message}")
    } else {
        format!("{at}field `{path}`: {message}")
    }
}

impl YamlError {
    /// The 1-based line, when known.
    pub fn line(&self) -> Option<u64> {
        match self {
            YamlError::Invalid { line, .. } if *line > 0 => Some(*line),
            _ => None,
        }
    }

    /// Moves the error's line down by `lines` (for a document re-read from a slice).
    fn shifted(mut self, lines: u64) -> YamlError {
        if let YamlError::Invalid { line, .. } = &mut self
            && *line > 0
        {
            *line += lines;
        }
        self
    }

    fn from_saphyr(err: &serde_saphyr::Error, path: String, limits: Limits) -> YamlError {
        let (line, column) = err
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        let mut message = err.without_snippet().to_string();
        // The location is ours to print, once.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
        if message.contains("budget breached: Depth") || message.contains("recursion limit") {
            message = format!(
                "nested deeper than {} levels, the limit for this kind of file",
                limits.max_depth
            );
        }
        YamlError::Invalid {
            line,
            column,
            path,
            message,
        }
    }
}

/// Reads a file, refusing it (without reading the rest) once it is over `limits.max_bytes`.
pub fn read_file(path: &Path, limits: Limits) -> std::io::Result<Result<String, YamlError>> {
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    let read = file
        .take(limits.max_bytes as u64 + 1)
        .read_to_string(&mut text)?;
    if read > limits.max_bytes {
        let bytes = std::fs::metadata(path)
            .map(|m| m.len())
            .unwrap_or(read as u64);
        return Ok(Err(YamlError::TooLarge {
            bytes,
            limit: limits.max_bytes,
        }));
    }
    Ok(Ok(text))
}

fn check_size(text: &str, limits: Limits) -> Result<(), YamlError> {
    if text.len() > limits.max_bytes {
        return Err(YamlError::TooLarge {
            bytes: text.len() as u64,
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// Deserializes one document into `T`; an error names the line, column and field path.
pub fn from_str<T: DeserializeOwned>(text: &str, limits: Limits) -> Result<T, YamlError> {
    check_size(text, limits)?;
    let path = RefCell::new(String::new());
    serde_saphyr::with_deserializer_from_str_with_options(text, limits.options(), |de| {
        serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
            *path.borrow_mut() = e.path().to_string();
            e.into_inner()
        })
    })
    .map_err(|e| YamlError::from_saphyr(&e, path.into_inner(), limits))
}

/// One document of a multi-document text.
#[derive(Debug, Clone)]
pub struct Document {
    /// 0-based position among the file's non-empty documents.
    pub index: usize,
    /// 1-based line of the document's root node.
    pub line: u64,
    pub value: Value,
    /// Byte range of the document's text, for re-reading it with exact error lines.
    start: usize,
    end: usize,
}

/// Every non-empty document of a `---`-separated text, as untyped values.
pub fn documents(text: &str, limits: Limits) -> Result<Vec<Document>, YamlError> {
    check_size(text, limits)?;
    let spanned: Vec<serde_saphyr::Spanned<Value>> =
        serde_saphyr::from_multiple_with_options(text, limits.options())
            .map_err(|e| YamlError::from_saphyr(&e, String::new(), limits))?;
    let starts: Vec<(u64, usize)> = spanned
        .iter()
        .map(|s| {
            let line = s.referenced.line();
            let offset = s
                .referenced
                .span()
                .byte_offset()
                .map(|o| o as usize)
                .unwrap_or(0)
                .min(text.len());
            // From the start of the root node's line (a root on a `--- ` line keeps it).
            (line, text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0))
        })
        .collect();
    Ok(spanned
        .into_iter()
        .enumerate()
        .map(|(index, s)| {
            let (line, start) = starts[index];
            let end = starts.get(index + 1).map(|n| n.1).unwrap_or(text.len());
            Document {
                index,
                line,
                value: s.value,
                start,
                end: end.max(start),
            }
        })
        .collect())
}

/// Converts a document's value into `T`. On failure the document is re-read from its own
/// text, so the error has the exact line in the file, not only the field's path.
pub fn typed<T: DeserializeOwned>(
    text: &str,
    document: &Document,
    limits: Limits,
) -> Result<T, YamlError> {
    let path = RefCell::new(String::new());
    let err = match serde_path_to_error::deserialize::<_, T>(&document.value) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let fallback = YamlError::Invalid {
        line: document.line,
        column: 0,
        path: err.path().to_string(),
        message: err.into_inner().to_string(),
    };
    let Some(slice) = text.get(document.start..document.end) else {
        return Err(fallback);
    };
    let slice = trim_trailing_separators(slice);
    let lines_before = text[..document.start].matches('\n').count() as u64;
    let reread =
        serde_saphyr::with_deserializer_from_str_with_options(slice, limits.options(), |de| {
            serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
                *path.borrow_mut() = e.path().to_string();
                e.into_inner()
            })
        });
    match reread {
        Ok(_) => Err(fallback),
        Err(e) => Err(YamlError::from_saphyr(&e, path.into_inner(), limits).shifted(lines_before)),
    }
}

/// Drops the next document's `---` (and the comments and blank lines around it) from the end
/// of a document's text.
fn trim_trailing_separators(slice: &str) -> &str {
    let mut end = slice.len();
    loop {
        let body = &slice[..end];
        let trimmed = body.strip_suffix('\n').unwrap_or(body);
        let line_start = trimmed.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let line = trimmed[line_start..].trim();
        let separator = line == "---" || line == "..." || line.starts_with("--- #");
        if line_start < end && (separator || line.is_empty() || line.starts_with('#')) {
            if line_start == 0 {
                return &slice[..0];
            }
            end = line_start;
            continue;
        }
        return body;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        kind: String,
        #[serde(default)]
        spec: Option<Spec>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Spec {
        replicas: u32,
    }

    #[test]
    fn errors_carry_line_column_and_field_path() {
        let err = from_str::<Doc>("kind: R\nspec:\n  replicas: five\n", Limits::SCENARIO)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 3 column 13: field `spec.replicas`: invalid u32");
        let err = from_str::<Doc>("kind: R\nspec: {replicaz: 1}\n", Limits::SCENARIO)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("line 2 column 8: field `spec.replicaz`: unknown field `replicaz`"),
            "{err}"
        );
        let err = from_str::<Doc>("kind: [\n", Limits::SCENARIO).unwrap_err();
        assert_eq!(err.line(), Some(1), "{err}");
    }

    #[test]
    fn deep_nesting_and_size_are_refused_before_deep_parsing() {
        for deep in [
            "[".repeat(100_000),
            "- ".repeat(100_000),
            "{a: ".repeat(100_000),
        ] {
            let err = from_str::<Value>(&deep, Limits::SCENARIO).unwrap_err();
            assert!(matches!(err, YamlError::Invalid { .. }), "{err}");
        }
        let nested = (0..100).fold(String::from("x"), |acc, _| format!("[{acc}]"));
        let err = from_str::<Value>(&nested, Limits::SCENARIO)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nested deeper than 64 levels"), "{err}");
        let ok = (0..60).fold(String::from("x"), |acc, _| format!("[{acc}]"));
        from_str::<Value>(&ok, Limits::SCENARIO).unwrap();

        let small = Limits {
            max_bytes: 10,
            ..Limits::SCENARIO
        };
        let err = from_str::<Value>("a: 123456789\n", small).unwrap_err();
        assert_eq!(
            err,
            YamlError::TooLarge {
                bytes: 13,
                limit: 10
            }
        );
    }

    #[test]
    fn read_file_stops_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, "a: 1\n".repeat(100)).unwrap();
        let limits = Limits {
            max_bytes: 64,
            ..Limits::SCENARIO
        };
        let err = read_file(&path, limits).unwrap().unwrap_err();
        assert_eq!(
            err,
            YamlError::TooLarge {
                bytes: 500,
                limit: 64
            }
        );
        assert_eq!(
            read_file(&path, Limits::SCENARIO).unwrap().unwrap().len(),
            500
        );
    }

    #[test]
    fn documents_keep_their_lines_and_typed_errors_point_into_the_file() {
        let text = "# a comment\nkind: A\n---\n\nkind: B\nspec:\n  replicas: 2\n---\n--- {kind: C}\n---\n# last\nkind: D\nspec:\n  replicas: many\n";
        let docs = documents(text, Limits::MANIFESTS).unwrap();
        let kinds: Vec<&Value> = docs.iter().map(|d| &d.value["kind"]).collect();
        assert_eq!(kinds, ["A", "B", "C", "D"], "{docs:#?}");
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 5);
        assert_eq!(docs[3].line, 12);
        let limits = Limits::MANIFESTS;
        typed::<Doc>(text, &docs[1], limits).unwrap();
        typed::<Doc>(text, &docs[2], limits).unwrap();
        let err = typed::<Doc>(text, &docs[3], limits)
            .unwrap_err()
            .to_string();
        assert_eq!(err, "line 14 column 13: field `spec.replicas`: invalid u32");
    }

    #[test]
    fn untyped_values_read_as_yaml_1_2() {
        let v: Value = from_str(
            "a: on\nb: yes\nc: true\nd: '5'\ne: 5\nf: 2026-05-04T17:00:00Z\ng: 0.5\n",
            Limits::SCENARIO,
        )
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": "on", "b": "yes", "c": true, "d": "5", "e": 5,
                               "f": "2026-05-04T17:00:00Z", "g": 0.5})
        );
    }
}
