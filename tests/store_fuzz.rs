//! Property-based fuzzing of everything that parses bytes someone else wrote: the entry scanner
//! (and the readers built on it: verify, the timeline merge, the tail reader the writer uses,
//! lookup by id, and `post` onto whatever is there), and the scenario loader (object form and
//! short form).
//!
//! Inputs are arbitrary bytes, marker-rich fragments, and valid files mutated (bytes flipped,
//! ranges cut, duplicated or moved, marker lines spliced in, truncation). Properties: nothing
//! panics; the scanner accounts for every byte exactly once whatever the read sizes; verify's
//! findings and the loader's errors name their file (and a line inside it). Time is bounded
//! by construction: each case is at most a few KiB, and each reader is linear in its input.
//!
//! CI runs a small number of cases per property (a few seconds in all). For a long local run
//! set `WARROOM_FUZZ_CASES`, e.g. `WARROOM_FUZZ_CASES=100000 cargo test --release --test
//! store_fuzz` (README.md, "Long fuzzing"). A failure prints the minimal input that fails.

use std::io::Read;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::Config;

use warroom::channel::entry::{GENESIS, Header, encode};
use warroom::channel::scan::{Record, Scanner};
use warroom::channel::store::{PostOptions, Role};
use warroom::channel::{Author, Channel, Draft, EntryId, Kind, Store, Sum, Theme, Timestamp};
use warroom::sim::scenario::Scenario;

/// Cases per property: `WARROOM_FUZZ_CASES`, default 48.
fn cases() -> u32 {
    std::env::var("WARROOM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

fn config() -> Config {
    Config {
        cases: cases(),
        // Failures are printed (with the shrunk input), not written next to the sources.
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Entries

const TS: &str = "2026-05-04T17:15:04.123Z";

/// A valid author file of `bodies.len()` entries by `author`, chained from genesis.
fn valid_file(author: &str, bodies: &[String]) -> Vec<u8> {
    let a = Author::new(author).unwrap();
    let refs = [EntryId {
        author: Author::new("traffic").unwrap(),
        seq: 1,
    }];
    let mut out = Vec::new();
    let mut prev = GENESIS;
    for (i, body) in bodies.iter().enumerate() {
        prev = encode(
            &mut out,
            Header {
                author: &a,
                seq: i as u64 + 1,
                ts: Timestamp::parse_exact(TS).unwrap(),
                kind: if i % 3 == 2 {
                    Kind::Alert
                } else {
                    Kind::Observation
                },
                refs: if i % 2 == 1 { &refs } else { &[] },
                to: &[],
                key: None,
            },
            body,
            prev,
        );
    }
    out
}

/// Fragments that make the scanner's edge cases likely: markers whole and cut, escapes, CRs,
/// long runs without a newline.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"<!-- warroom:entry id=pipeline#1 ts=2026-05-04T17:15:04.123Z kind=note -->\n".to_vec()),
        Just(b"<!-- warroom:entry id=pipeline#18446744073709551615 ts=2026-05-04T17:15:04.123Z kind=x -->\n".to_vec()),
        Just(b"<!-- warroom:end id=pipeline#1 prev=0000000000000000 sum=0000000000000000 -->\n".to_vec()),
        Just(b"<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->\n".to_vec()),
        Just(b"<!-- warroom:repair ts=2026-05-04T17:15:04.123Z torn-at=0 torn-bytes=99999999999 torn-sum=ffffffffffffffff -->\n".to_vec()),
        Just(b"<!-- warroom:repair torn-at=18446744073709551615 torn-bytes=18446744073709551615 -->\n".to_vec()),
        Just(b"<!-- warroom:".to_vec()),
        Just(b"#### heading\n\n".to_vec()),
        Just(b"\\<!-- warroom:end".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(vec![0u8; 300]),
        Just(vec![b'x'; 5000]),
        proptest::collection::vec(any::<u8>(), 0..40),
        "\\PC{0,20}".prop_map(String::into_bytes),
    ]
}

fn marker_soup() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(fragment(), 0..24).prop_map(|v| v.concat())
}

/// One change to a file.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Cut { at: usize, len: usize },
    Duplicate { at: usize, len: usize, to: usize },
    Insert { at: usize, bytes: Vec<u8> },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 1u8..=255).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (at, 1usize..400).prop_map(|(at, len)| Mutation::Cut { at, len }),
        (at, 1usize..400, any::<usize>()).prop_map(|(at, len, to)| Mutation::Duplicate {
            at,
            len,
            to
        }),
        (at, fragment()).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        at.prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(file: &mut Vec<u8>, m: &Mutation) {
    let n = file.len();
    let pick = |at: usize| if n == 0 { 0 } else { at % (n + 1) };
    match m {
        Mutation::Flip { at, xor } if n > 0 => file[at % n] ^= xor,
        Mutation::Flip { .. } => {}
        Mutation::Cut { at, len } => {
            let at = pick(*at);
            let end = (at + len).min(n);
            file.drain(at..end);
        }
        Mutation::Duplicate { at, len, to } => {
            let at = pick(*at);
            let end = (at + len).min(n);
            let piece = file[at..end].to_vec();
            let to = pick(*to);
            file.splice(to..to, piece);
        }
        Mutation::Insert { at, bytes } => {
            let at = pick(*at);
            file.splice(at..at, bytes.iter().copied());
        }
        Mutation::Truncate { at } => file.truncate(pick(*at)),
    }
}

fn body() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("<!-- warroom:end id=pipeline#1 -->\n\\<!-- warroom:entry".to_owned()),
        "\\PC{0,60}",
        "[a-z \n]{0,200}",
    ]
}

/// A valid file of 1–6 entries with 0–5 mutations applied.
fn mutated_file() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(body(), 1..6),
        proptest::collection::vec(mutation(), 0..5),
    )
        .prop_map(|(bodies, ms)| {
            let mut file = valid_file("pipeline", &bodies);
            for m in &ms {
                apply(&mut file, m);
            }
            file
        })
}

/// Bytes an author file might hold: anything, marker soup, or a damaged valid file.
fn author_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..2000),
        marker_soup(),
        mutated_file(),
    ]
}

/// A reader that hands out its bytes in the given read sizes (cycled), to drive the scanner's
/// resume logic through every split.
struct Dribble<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.i % self.sizes.len()].max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Checks that `recs` cover `bytes` exactly, in order, with the right line numbers.
fn check_coverage(bytes: &[u8], recs: &[Record]) -> Result<(), TestCaseError> {
    let mut offset = 0u64;
    let mut line = 1u64;
    for r in recs {
        let pos = r.pos();
        prop_assert_eq!(pos.offset, offset, "records are contiguous: {:?}", recs);
        prop_assert_eq!(pos.line, line, "line of the record at {}", pos.offset);
        prop_assert!(pos.len > 0, "empty record {:?}", r);
        let end = pos.end() as usize;
        prop_assert!(end <= bytes.len());
        line += memchr_count(&bytes[offset as usize..end]);
        offset = pos.end();
        if let Record::Entry(e) = r {
            // A record the scanner calls an entry starts with its begin marker and ends with
            // its end marker line.
            let text = &bytes[pos.offset as usize..end];
            prop_assert!(text.starts_with(b"<!-- warroom:entry "));
            prop_assert!(text.ends_with(b" -->\n"));
            prop_assert!(e.seq > 0);
        }
        if matches!(r, Record::Tail { .. }) {
            prop_assert_eq!(end, bytes.len(), "only the last record is a tail");
        }
    }
    prop_assert_eq!(offset as usize, bytes.len(), "every byte accounted for");
    Ok(())
}

fn memchr_count(b: &[u8]) -> u64 {
    b.iter().filter(|&&c| c == b'\n').count() as u64
}

fn scan_all<R: Read>(src: R) -> Vec<Record> {
    Scanner::new(src, 0, 1)
        .map(|r| r.expect("reading from memory"))
        .collect()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_scanner_accounts_for_every_byte_whatever_the_read_sizes(
        bytes in author_bytes(),
        sizes in proptest::collection::vec(1usize..300, 1..6),
    ) {
        let whole = scan_all(&bytes[..]);
        check_coverage(&bytes, &whole)?;
        let dribbled = scan_all(Dribble { bytes: &bytes, sizes, i: 0 });
        prop_assert_eq!(&dribbled, &whole, "the same records whatever the read sizes");
    }

    #[test]
    fn the_scanner_from_mid_line_accounts_for_every_byte(
        bytes in author_bytes(),
        start in any::<usize>(),
    ) {
        let start = if bytes.is_empty() { 0 } else { start % bytes.len() };
        let rest = &bytes[start..];
        let recs: Vec<Record> = Scanner::mid_line(rest, start as u64)
            .map(|r| r.expect("reading from memory"))
            .collect();
        let covered: u64 = recs.iter().map(|r| r.pos().len).sum();
        prop_assert_eq!(covered as usize, rest.len());
        let mut at = start as u64;
        for r in &recs {
            prop_assert_eq!(r.pos().offset, at);
            at = r.pos().end();
        }
    }
}

/// A store with one channel whose roster is pipeline, traffic and operator.
fn store() -> (tempfile::TempDir, Channel) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::create(&tmp.path().join("channels")).unwrap();
    let roles = ["pipeline", "traffic"]
        .iter()
        .map(|n| Role {
            name: Author::new(n).unwrap(),
            title: None,
            lane: None,
        })
        .collect();
    let ch = store
        .open_channel(
            chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
            Theme::new("fuzz").unwrap(),
            roles,
        )
        .unwrap();
    (tmp, ch)
}

fn lines_in(path: &Path) -> u64 {
    memchr_count(&std::fs::read(path).unwrap_or_default()) + 1
}

/// Every finding names a file of the channel and a line inside it.
fn check_findings(
    ch: &Channel,
    report: &warroom::channel::verify::Report,
) -> Result<(), TestCaseError> {
    for f in report.findings.iter().chain(&report.notes) {
        prop_assert!(
            f.path.starts_with(ch.dir()),
            "finding outside the channel: {}",
            f
        );
        prop_assert!(!f.message.is_empty());
        if f.path.extension().is_some_and(|e| e == "md") {
            prop_assert!(f.line <= lines_in(&f.path), "line past the end: {}", f);
        }
    }
    Ok(())
}

/// Runs every reader over `ch` and posts once as pipeline; panics are the failures sought.
fn read_everything(ch: &Channel, file: &PathBuf) -> Result<(), TestCaseError> {
    let report = warroom::channel::verify::verify(ch).expect("verify of a readable channel");
    check_findings(ch, &report)?;
    let mut problems = Vec::new();
    let merged = warroom::timeline::Merge::open(ch, warroom::timeline::Filter::default(), |p| {
        problems.push(p)
    })
    .expect("timeline opens");
    let entries: Vec<_> = merged.collect::<Result<_, _>>().expect("timeline reads");
    for p in &problems {
        prop_assert_eq!(&p.path, file, "a problem names its file: {}", p);
        prop_assert!(p.line >= 1 && p.line <= lines_in(&p.path), "{}", p);
    }
    // Each entry at most once when nothing is wrong (an entry whose chain is broken is still
    // shown, so a duplicated one shows twice, with a problem told).
    let mut seen = std::collections::BTreeSet::new();
    for e in &entries {
        prop_assert!(
            seen.insert(e.id.clone()) || !problems.is_empty(),
            "{} twice",
            e.id
        );
    }
    let len = std::fs::metadata(file).unwrap().len();
    let f = std::fs::File::open(file).unwrap();
    let tail = warroom::channel::append::read_tail(&f, len).expect("read_tail");
    for seq in [1, 2, tail.last_seq.max(1)] {
        let id = EntryId {
            author: Author::new("pipeline").unwrap(),
            seq,
        };
        let _ = warroom::channel::lookup::find_by_id(&f, len, &id).expect("lookup");
        let _ = ch.entry(&id);
    }
    let _ = warroom::channel::heads::current(ch);
    // Posting onto whatever is there: an entry, or an error that names the file.
    let draft = Draft {
        kind: Kind::Note,
        refs: Vec::new(),
        body: "after the fuzz".to_owned(),
        ..Default::default()
    };
    let opts = PostOptions {
        sync: false,
        ..PostOptions::default()
    };
    match ch.post(&Author::new("pipeline").unwrap(), &draft, &opts) {
        Ok(posted) => {
            // What was just written reads back (in an intact file: in a damaged one an earlier
            // copy of an entry with the same id may come first, and verify says so).
            let got = ch.entry(&posted.entry.id).expect("read back");
            if report.intact() {
                prop_assert_eq!(got.map(|e| e.body), Some("after the fuzz".to_owned()));
            }
        }
        Err(e) => {
            let text = e.to_string();
            prop_assert!(
                text.contains("pipeline.md"),
                "error without its file: {}",
                text
            );
        }
    }
    let after = warroom::channel::verify::verify(ch).expect("verify after the post");
    check_findings(ch, &after)?;
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: (cases() / 2).max(1), ..config() })]

    #[test]
    fn every_reader_and_the_writer_survive_any_author_file(bytes in author_bytes()) {
        let (_tmp, ch) = store();
        let file = ch.dir().join("pipeline.md");
        std::fs::write(&file, &bytes).unwrap();
        read_everything(&ch, &file)?;
    }
}

#[test]
fn a_seq_at_the_top_of_the_range_reads_and_refuses_the_next_post() {
    // The largest seq there is, chained from genesis: readable, and the writer refuses to
    // go past it (nothing written).
    let a = Author::new("pipeline").unwrap();
    let mut bytes = Vec::new();
    encode(
        &mut bytes,
        Header {
            author: &a,
            seq: u64::MAX,
            ts: Timestamp::parse_exact(TS).unwrap(),
            kind: Kind::Note,
            refs: &[],
            to: &[],
            key: None,
        },
        "top",
        Sum(0),
    );
    let (_tmp, ch) = store();
    let file = ch.dir().join("pipeline.md");
    std::fs::write(&file, &bytes).unwrap();
    read_everything(&ch, &file).unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "nothing was written");
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// The built-in scenario files, object form and short form.
fn scenario_texts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sim/scenarios");
    let mut out: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(
        out.iter()
            .any(|(_, t)| t.lines().any(|l| l.starts_with("manifests:"))),
        "a short-form scenario among the fixtures"
    );
    assert!(
        out.iter()
            .any(|(_, t)| t.lines().any(|l| l.starts_with("objects:"))),
        "an object-form scenario among the fixtures"
    );
    out
}

/// YAML fragments that tend to break loaders: odd scalars, anchors, deep or empty nesting,
/// tags, durations and weights out of range.
fn yaml_token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("-1".to_owned()),
        Just("0".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("1e309".to_owned()),
        Just(".nan".to_owned()),
        Just("~".to_owned()),
        Just("''".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]".to_owned()),
        Just("&a [*a]".to_owned()),
        Just("*nowhere".to_owned()),
        Just("!!binary aGVsbG8=".to_owned()),
        Just("99999999999h".to_owned()),
        Just("-5s".to_owned()),
        Just("1ms".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        Just("|\n  block\n".to_owned()),
        Just("? complex\n: key".to_owned()),
        "\\PC{0,12}",
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    DropLine(usize),
    DupLine(usize),
    SwapLines(usize, usize),
    /// Replaces the value after the first `:` of a line.
    Value(usize, String),
    Indent(usize, bool),
    Insert(usize, String),
    Truncate(usize),
    Bytes(Mutation),
}

fn edit() -> impl Strategy<Value = Edit> {
    let i = any::<usize>();
    prop_oneof![
        i.prop_map(Edit::DropLine),
        i.prop_map(Edit::DupLine),
        (i, any::<usize>()).prop_map(|(a, b)| Edit::SwapLines(a, b)),
        (i, yaml_token()).prop_map(|(a, t)| Edit::Value(a, t)),
        (i, any::<bool>()).prop_map(|(a, b)| Edit::Indent(a, b)),
        (i, yaml_token()).prop_map(|(a, t)| Edit::Insert(a, t)),
        i.prop_map(Edit::Truncate),
        mutation().prop_map(Edit::Bytes),
    ]
}

fn apply_edit(text: &str, e: &Edit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let n = lines.len().max(1);
    match e {
        Edit::DropLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Edit::DupLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Edit::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
        Edit::Value(i, t) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            if let Some(c) = l.find(':') {
                l.truncate(c + 1);
                l.push(' ');
                l.push_str(t);
            }
        }
        Edit::Indent(i, deeper) if !lines.is_empty() => {
            let l = &mut lines[i % n];
            if *deeper {
                l.insert_str(0, "  ");
            } else if l.starts_with("  ") {
                l.drain(..2);
            }
        }
        Edit::Insert(i, t) => lines.insert(i % (lines.len() + 1), t.clone()),
        Edit::Truncate(i) => {
            let mut s = lines.join("\n");
            let mut at = i % (s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            s.truncate(at);
            return s;
        }
        Edit::Bytes(m) => {
            let mut b = lines.join("\n").into_bytes();
            apply(&mut b, m);
            return String::from_utf8_lossy(&b).into_owned();
        }
        _ => {}
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// The error's whole chain, as the CLI prints it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

/// Loads `text` as the file `name`; an error must name the file, and a line when it is about
/// the YAML itself (not its size).
fn load(text: &str, name: &str) -> Result<(), TestCaseError> {
    use warroom::sim::scenario::ScenarioError;
    match Scenario::parse(text, name) {
        Ok(_) => {}
        Err(e) => {
            let shown = chain(&e);
            prop_assert!(shown.contains(name), "error without its file: {}", shown);
            if let ScenarioError::Yaml { source, .. } = &e {
                let too_large = matches!(source, warroom::yaml::YamlError::TooLarge { .. });
                prop_assert!(
                    too_large || source.line().is_some() || shown.contains("line"),
                    "a YAML error without a line: {}",
                    shown
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_scenario_loader_survives_arbitrary_bytes(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..600),
            proptest::collection::vec(yaml_token(), 0..30)
                .prop_map(|v| v.join("\n").into_bytes()),
            proptest::collection::vec(yaml_token(), 0..30)
                .prop_map(|v| format!("manifests:\n  - {}\n", v.join("\n  - ")).into_bytes()),
        ],
    ) {
        load(&String::from_utf8_lossy(&bytes), "fuzz.yaml")?;
        // From a file, the bytes as they are (not UTF-8, too).
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("fuzz.yaml");
        std::fs::write(&path, &bytes).unwrap();
        if let Err(e) = Scenario::from_file(&path) {
            let shown = chain(&e);
            prop_assert!(shown.contains("fuzz.yaml"), "error without its file: {}", shown);
        }
    }

    #[test]
    fn the_scenario_loader_survives_mutated_scenarios(
        which in any::<usize>(),
        edits in proptest::collection::vec(edit(), 1..6),
    ) {
        let texts = scenario_texts();
        let (name, text) = &texts[which % texts.len()];
        let mut t = text.clone();
        for e in &edits {
            t = apply_edit(&t, e);
        }
        load(&t, name)?;
    }
}

#[test]
fn every_built_in_scenario_file_loads() {
    // The mutations start from files that load: otherwise the fuzz only tests error paths.
    for (name, text) in scenario_texts() {
        if let Err(e) = Scenario::parse(&text, &name) {
            panic!("{}", chain(&e));
        }
    }
}
