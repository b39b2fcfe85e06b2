//! The docs stay true: the command blocks in README.md and docs/*.md that show captured output
//! are run here, against the real binary, and must still print what they show.
//!
//! A fenced block whose lines start with `$ warroom` is a session: each `$ ` line is run with
//! `sh -c` (so pipes and `echo … |` work) and the lines after it, up to the next `$ ` line, are
//! its output, stdout and stderr interleaved as a terminal shows them. `[exit N]` as the last
//! output line is the expected exit status (0 otherwise). A line that is only `…` stands for
//! any number of lines. Times, dates, ports, token ids and ages are replaced by placeholders on
//! both sides, so the docs keep real captured output and the test still compares everything
//! else byte for byte.
//!
//! Every such block carries a marker on the line before its fence:
//! `<!-- doctest -->` (run; the blocks of one file share one fresh store, in order),
//! `<!-- doctest: cwd=PATH -->` (run in PATH, relative to the repository, read-only), or
//! `<!-- doctest: skip REASON -->` (not run, and the reason says why). A block without a
//! marker fails the test: a new example has to be run or explicitly excused.

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");

struct Step {
    command: String,
    expected: Vec<String>,
    exit: i32,
}

struct Block {
    file: String,
    line: usize,
    marker: Option<String>,
    steps: Vec<Step>,
}

/// The command blocks of a markdown file.
fn blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if !lines[i].starts_with("```") {
            i += 1;
            continue;
        }
        let start = i;
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && !lines[i].starts_with("```") {
            body.push(lines[i]);
            i += 1;
        }
        i += 1;
        if !body.first().is_some_and(|l| l.starts_with("$ warroom")) {
            continue;
        }
        let marker = start
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!-- doctest"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|l| l.trim().trim_start_matches(':').trim().to_owned());
        let mut steps: Vec<Step> = Vec::new();
        for l in body {
            if let Some(cmd) = l.strip_prefix("$ ") {
                steps.push(Step {
                    command: cmd.to_owned(),
                    expected: Vec::new(),
                    exit: 0,
                });
            } else if let Some(step) = steps.last_mut() {
                step.expected.push(l.to_owned());
            }
        }
        for step in &mut steps {
            while step.expected.last().is_some_and(|l| l.trim().is_empty()) {
                step.expected.pop();
            }
            if let Some(code) = step
                .expected
                .last()
                .and_then(|l| l.strip_prefix("[exit "))
                .and_then(|l| l.strip_suffix(']'))
            {
                step.exit = code.parse().unwrap();
                step.expected.pop();
            }
        }
        out.push(Block {
            file: file.display().to_string(),
            line: start + 1,
            marker,
            steps,
        });
    }
    out
}

/// Replaces what changes from run to run with placeholders.
fn normalize(text: &str) -> String {
    let rules: &[(&str, &str)] = &[
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TS]"),
        (r"── \d{4}-\d\d-\d\d ──", "── [DATE] ──"),
        (r"\b\d\d:\d\d:\d\d(\.\d{3})?Z", "[TIME]"),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:[PORT]"),
        (r"\b[0-9a-f]{12}\b", "[ID]"),
        // kubectl-style ages of fixtures dated years back; the column after them may shift.
        (r"\b\d+y\d+d\b +", "[AGE] "),
        (r"\b\d+y\d+d\b", "[AGE]"),
    ];
    let mut s = text.to_owned();
    for (pattern, with) in rules {
        s = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&s, *with)
            .into_owned();
    }
    s
}

/// Does `actual` match `expected`, where a `…` line stands for any run of lines?
fn matches(expected: &[String], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "…" => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| a == e && matches(rest, arest)),
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    files.extend(more);
    files
}

/// Runs a block's steps in `cwd`; returns the differences found.
fn run(block: &Block, cwd: &Path, env: &[(&str, &Path)]) -> Vec<String> {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut problems = Vec::new();
    for step in &block.steps {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec 2>&1; {}", step.command))
            .current_dir(cwd)
            .env("PATH", &path)
            .env_remove("WARROOM_ROOT")
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_ROLE")
            .env_remove("CLICOLOR_FORCE")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let actual: Vec<String> = normalize(&String::from_utf8_lossy(&out.stdout))
            .lines()
            .map(str::to_owned)
            .collect();
        let mut actual = actual;
        while actual.last().is_some_and(|l| l.trim().is_empty()) {
            actual.pop();
        }
        let expected: Vec<String> = step.expected.iter().map(|l| normalize(l)).collect();
        let code = out.status.code().unwrap_or(-1);
        if code != step.exit || !matches(&expected, &actual) {
            problems.push(format!(
                "{}:{}: `$ {}` (exit {code}, the doc says {}):\n--- the doc shows ---\n{}\n--- the run printed ---\n{}",
                block.file,
                block.line,
                step.command,
                step.exit,
                expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    problems
}

#[test]
fn every_command_block_in_the_docs_is_run_or_excused() {
    let mut unmarked = Vec::new();
    let mut problems = Vec::new();
    let mut ran = 0;
    for file in docs() {
        let store = tempfile::tempdir().unwrap();
        for block in blocks(&file) {
            let where_ = format!("{}:{}", block.file, block.line);
            match block.marker.as_deref() {
                None => unmarked.push(where_),
                Some(m) if m.starts_with("skip") => {
                    assert!(
                        m.len() > "skip ".len(),
                        "{where_}: a skipped block says why"
                    );
                }
                Some("") => {
                    problems.extend(run(&block, store.path(), &[]));
                    ran += 1;
                }
                Some(m) if m.starts_with("cwd=") => {
                    let cwd = repo().join(&m["cwd=".len()..]);
                    if !cwd.is_dir() {
                        problems.push(format!("{where_}: {} is missing", cwd.display()));
                        continue;
                    }
                    problems.extend(run(&block, &cwd, &[]));
                    ran += 1;
                }
                Some(m) => problems.push(format!("{where_}: unknown doctest marker {m:?}")),
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "command blocks without a `<!-- doctest -->` marker (run them, or `<!-- doctest: skip REASON -->`): {unmarked:?}"
    );
    assert!(ran > 0, "no block ran");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn the_matcher_takes_ellipses_and_placeholders() {
    let v = |s: &[&str]| s.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    assert!(matches(&v(&["a", "…", "d"]), &v(&["a", "b", "c", "d"])));
    assert!(matches(&v(&["a", "…"]), &v(&["a"])));
    assert!(!matches(&v(&["a", "…", "d"]), &v(&["a", "b"])));
    assert!(!matches(&v(&["a"]), &v(&["a", "b"])));
    assert_eq!(
        normalize("01:32:40.567Z  x on http://127.0.0.1:42709/ at 2026-11-22T01:32:40.567Z"),
        "[TIME]  x on http://127.0.0.1:[PORT]/ at [TS]"
    );
    assert_eq!(normalize("── 2026-11-22 ──"), "── [DATE] ──");
}
