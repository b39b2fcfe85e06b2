//! The docs stay true: the blocks in README.md and docs/*.md that show captured output are
//! checked here, against the real binary, and must still print what they show.
//!
//! A fenced block whose lines start with `$ ` is a session: each `$ ` line is run with `sh -c`
//! (so pipes and `echo … |` work) and the lines after it, up to the next `$ ` line, are its
//! output, stdout and stderr interleaved as a terminal shows them. `[exit N]` as the last output
//! line is the expected exit status (0 otherwise). A line that is only `…` stands for any number
//! of lines. Times, dates, ports, token ids and ages are replaced by placeholders on both sides,
//! so the docs keep real captured output and the test still compares everything else byte for
//! byte.
//!
//! Every session, and every bare block (a fence without a language: captured output, as the
//! docs write it) that is not a synopsis (`warroom CMD [OPTIONS]…`), carries a marker on the
//! line before its fence:
//! - `<!-- doctest -->`: run; the blocks of one file share one fresh store, in order;
//! - `<!-- doctest: cwd=PATH -->`: run in PATH, relative to the repository, read-only (the
//!   example archive under `channels/` is quoted this way);
//! - `<!-- doctest: run=RECIPE -->`: the output of a run that needs servers or time (the demo,
//!   an observer against the simulator, the relay's shutdown), checked by the test named in
//!   [`RECIPES`] against a real run, with numbers as placeholders (see [`masked`]);
//! - `<!-- doctest: skip REASON -->`: not run here because another test runs the same thing,
//!   named in the reason;
//! - `<!-- doctest: illustrative REASON -->`: not run by any test; each one is listed in
//!   [`ILLUSTRATIVE`] with its reason, so a new one is a decision made in this file.
//!
//! A block without a marker fails the test: a new example has to be checked or explicitly
//! excused.

mod docs_recipes;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");

/// The recipes (`run=NAME`) and the test of `tests/docs_recipes` that checks each.
const RECIPES: &[(&str, &str)] = &[
    ("demo-stdout", "demo_output_matches_a_real_run"),
    ("demo-stderr", "demo_output_matches_a_real_run"),
    (
        "pipeline-restart",
        "pipeline_observer_restarted_against_the_story",
    ),
    ("pipeline-rbac-denied", "pipeline_observer_denied_by_rbac"),
    (
        "data-plane-story",
        "data_plane_and_traffic_observers_against_the_story",
    ),
    (
        "traffic-story",
        "data_plane_and_traffic_observers_against_the_story",
    ),
    ("relay-shutdown", "relay_shutdown_matches_a_real_run"),
    ("relay-session", "relay_session_runs_as_shown"),
    (
        "format-entry",
        "the_format_example_is_what_the_writer_writes",
    ),
    (
        "format-json-entry",
        "the_format_json_entries_are_what_timeline_prints",
    ),
    (
        "format-json-files",
        "the_format_roster_and_seal_are_what_the_store_writes",
    ),
    ("format-json-state", "demo_output_matches_a_real_run"),
    ("mcp-stdio-config", "mcp_client_configs_start_a_session"),
    ("mcp-http-config", "mcp_client_configs_start_a_session"),
];

/// Blocks no test runs, by file and the first line of the block, and why.
const ILLUSTRATIVE: &[(&str, &str, &str)] = &[];

pub struct Step {
    pub command: String,
    pub expected: Vec<String>,
    pub exit: i32,
}

pub struct Block {
    pub file: String,
    pub line: usize,
    pub marker: Option<String>,
    /// The fence's info string (`json`, `sh`, or empty).
    pub info: String,
    pub body: Vec<String>,
    pub steps: Vec<Step>,
}

impl Block {
    pub fn at(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Does this block need a marker: a session, bare captured text that is not a synopsis,
    /// or JSON in docs/FORMAT.md (the format is a contract another writer codes against, so
    /// each of its JSON examples is compared with what the binary writes)?
    fn needs_marker(&self) -> bool {
        let first = self.body.first().map(String::as_str).unwrap_or("");
        let synopsis = first.starts_with("warroom ") && first.contains('[');
        !self.steps.is_empty()
            || (self.info.is_empty() && !synopsis)
            || (self.info == "json" && self.file == "docs/FORMAT.md")
    }
}

/// The fenced blocks of a markdown file.
pub fn blocks(file: &Path) -> Vec<Block> {
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
        let fence_len = lines[i].chars().take_while(|c| *c == '`').count();
        let fence = "`".repeat(fence_len);
        let info = lines[i][fence_len..].trim().to_owned();
        let mut body = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != fence {
            body.push(lines[i].to_owned());
            i += 1;
        }
        i += 1;
        let marker = start
            .checked_sub(1)
            .map(|p| lines[p].trim())
            .and_then(|l| l.strip_prefix("<!-- doctest"))
            .and_then(|l| l.strip_suffix("-->"))
            .map(|l| l.trim().trim_start_matches(':').trim().to_owned());
        let mut steps: Vec<Step> = Vec::new();
        if body.first().is_some_and(|l| l.starts_with("$ ")) {
            for l in &body {
                // A command continued with `\` at the end of its line.
                if let Some(step) = steps.last_mut()
                    && step.expected.is_empty()
                    && step.command.ends_with('\\')
                {
                    step.command.push('\n');
                    step.command.push_str(l);
                } else if let Some(cmd) = l.strip_prefix("$ ") {
                    steps.push(Step {
                        command: cmd.to_owned(),
                        expected: Vec::new(),
                        exit: 0,
                    });
                } else if let Some(step) = steps.last_mut() {
                    step.expected.push(l.to_owned());
                }
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
            file: file
                .strip_prefix(repo())
                .unwrap_or(file)
                .display()
                .to_string(),
            line: start + 1,
            marker,
            info,
            body,
            steps,
        });
    }
    out
}

/// Replaces what changes from run to run with placeholders.
pub fn normalize(text: &str) -> String {
    let rules: &[(&str, &str)] = &[
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TS]"),
        (r"── \d{4}-\d\d-\d\d ──", "── [DATE] ──"),
        (r"\b\d\d:\d\d:\d\d(\.\d{3})?Z", "[TIME]"),
        (r"(127\.0\.0\.1|localhost|\[::1\]):\d+", "$1:[PORT]"),
        (r"\bwr_[0-9a-f]{64}\b", "[TOKEN]"),
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

/// [`normalize`], then every number is `N` and every run of spaces one space: what a run of
/// a live system (windows, latencies, entry ids, counts) prints differently each time. What is
/// left — every word, every table's shape, every line's order — must still match.
pub fn masked(text: &str) -> String {
    let s = normalize(text);
    let s = regex::Regex::new(r"\d+(\.\d+)?")
        .unwrap()
        .replace_all(&s, "N");
    regex::Regex::new(r" +")
        .unwrap()
        .replace_all(&s, " ")
        .into_owned()
}

/// Does `actual` match `expected`, where a `…` line stands for any run of lines?
pub fn matches(expected: &[String], actual: &[String]) -> bool {
    matches_by(expected, actual, &|e, a| e == a)
}

/// [`matches`] with a line comparison of the caller's.
pub fn matches_by(
    expected: &[String],
    actual: &[String],
    same: &dyn Fn(&str, &str) -> bool,
) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e.trim() == "…" => {
            (0..=actual.len()).any(|skip| matches_by(rest, &actual[skip..], same))
        }
        Some((e, rest)) => actual
            .split_first()
            .is_some_and(|(a, arest)| same(e, a) && matches_by(rest, arest, same)),
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn docs() -> Vec<PathBuf> {
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

/// The blocks marked `run=RECIPE`, with their text; at least one (a recipe checks something).
pub fn recipe_blocks(recipe: &str) -> Vec<Block> {
    let want = format!("run={recipe}");
    let found: Vec<Block> = docs()
        .iter()
        .flat_map(|f| blocks(f))
        .filter(|b| b.marker.as_deref() == Some(want.as_str()))
        .collect();
    assert!(!found.is_empty(), "no block is marked `{want}`");
    found
}

/// A command for the binary with the variables a doc session must not inherit.
pub fn clean(mut cmd: Command) -> Command {
    cmd.env_remove("WARROOM_ROOT")
        .env_remove("WARROOM_CHANNEL")
        .env_remove("WARROOM_ROLE")
        .env_remove("WARROOM_LOG")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100");
    cmd
}

/// What one step printed (normalized, stdout and stderr interleaved) and its exit status.
pub struct Ran {
    pub lines: Vec<String>,
    /// What it printed, before normalizing.
    pub raw: String,
    pub code: i32,
}

/// Runs one `$ ` command with `sh -c` in `cwd`, the binary first on PATH, with `env` added.
pub fn run_step(command: &str, cwd: &Path, env: &[(&str, &str)]) -> Ran {
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = clean(Command::new("sh"));
    cmd.arg("-c")
        .arg(format!("exec 2>&1; {command}"))
        .current_dir(cwd)
        .env("PATH", &path)
        .envs(env.iter().copied());
    let out = cmd.output().unwrap();
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<String> = normalize(&raw).lines().map(str::to_owned).collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    Ran {
        lines,
        raw,
        code: out.status.code().unwrap_or(-1),
    }
}

/// The difference between what `step` shows and what it printed, if any.
pub fn step_problem(block: &Block, step: &Step, ran: &Ran) -> Option<String> {
    let expected: Vec<String> = step.expected.iter().map(|l| normalize(l)).collect();
    (ran.code != step.exit || !matches(&expected, &ran.lines)).then(|| {
        format!(
            "{}: `$ {}` (exit {}, the doc says {}):\n--- the doc shows ---\n{}\n--- the run printed ---\n{}",
            block.at(),
            step.command,
            ran.code,
            step.exit,
            expected.join("\n"),
            ran.lines.join("\n")
        )
    })
}

/// Runs a block's steps in `cwd`; returns the differences found.
fn run(block: &Block, cwd: &Path) -> Vec<String> {
    block
        .steps
        .iter()
        .filter_map(|step| step_problem(block, step, &run_step(&step.command, cwd, &[])))
        .collect()
}

#[test]
fn every_command_block_in_the_docs_is_run_or_excused() {
    let mut unmarked = Vec::new();
    let mut problems = Vec::new();
    let mut illustrative = Vec::new();
    let mut ran = 0;
    for file in docs() {
        let store = tempfile::tempdir().unwrap();
        for block in blocks(&file) {
            let where_ = block.at();
            if block.info == "json"
                && let Err(e) = serde_json::from_str::<serde_json::Value>(&block.body.join("\n"))
            {
                problems.push(format!("{where_}: the json block does not parse: {e}"));
            }
            match block.marker.as_deref() {
                None if block.needs_marker() => unmarked.push(where_),
                None => {}
                Some(m) if m.starts_with("skip") || m.starts_with("illustrative") => {
                    let (kind, reason) = m.split_once(' ').unwrap_or((m, ""));
                    assert!(
                        !reason.trim().is_empty(),
                        "{where_}: a {kind} block says why"
                    );
                    if kind == "illustrative" {
                        let first = block.body.first().cloned().unwrap_or_default();
                        illustrative.push((block.file.clone(), first, reason.to_owned()));
                    }
                }
                Some("") => {
                    problems.extend(run(&block, store.path()));
                    ran += 1;
                }
                Some(m) if m.starts_with("cwd=") => {
                    let cwd = repo().join(&m["cwd=".len()..]);
                    if !cwd.is_dir() {
                        problems.push(format!("{where_}: {} is missing", cwd.display()));
                        continue;
                    }
                    problems.extend(run(&block, &cwd));
                    ran += 1;
                }
                Some(m)
                    if m.starts_with("run=")
                        && RECIPES.iter().any(|(r, _)| *r == &m["run=".len()..]) => {}
                Some(m) => problems.push(format!("{where_}: unknown doctest marker {m:?}")),
            }
        }
    }
    assert!(
        unmarked.is_empty(),
        "blocks of commands or captured output without a `<!-- doctest -->` marker (check them, or excuse them with `skip`/`illustrative REASON`): {unmarked:?}"
    );
    let listed: Vec<(String, String, String)> = ILLUSTRATIVE
        .iter()
        .map(|(f, l, r)| (f.to_string(), l.to_string(), r.to_string()))
        .collect();
    assert_eq!(
        illustrative, listed,
        "the blocks marked illustrative in the docs and the ILLUSTRATIVE list differ"
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
    assert_eq!(
        masked("pipeline#7      for 69s (observedGeneration 1), 2.5 s"),
        "pipeline#N for Ns (observedGeneration N), N s"
    );
}
