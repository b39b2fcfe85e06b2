//! The scanner's tests: round trips, torn and overlong input, slow reads.

use super::*;
use crate::channel::entry::{GENESIS, Header, encode};

fn one(author: &str, seq: u64, body: &str, prev: Sum) -> (Vec<u8>, Sum) {
    let a = Author::new(author).unwrap();
    let mut out = Vec::new();
    let sum = encode(
        &mut out,
        Header {
            author: &a,
            seq,
            ts: Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap(),
            kind: Kind::Observation,
            refs: &[],
            to: &[],
            key: None,
        },
        body,
        prev,
    );
    (out, sum)
}

fn records(bytes: &[u8]) -> Vec<Record> {
    Scanner::new(bytes, 0, 1).map(Result::unwrap).collect()
}

#[test]
fn round_trip_and_chain() {
    let (mut file, s1) = one("a", 1, "hello\n<!-- warroom:end id=a#1 -->", GENESIS);
    let (e2, _) = one("a", 2, "", s1);
    file.extend_from_slice(&e2);
    let recs = records(&file);
    assert_eq!(recs.len(), 2, "{recs:?}");
    let mut chain = Chain::default();
    let a = Author::new("a").unwrap();
    for (i, r) in recs.iter().enumerate() {
        let Record::Entry(e) = r else { panic!("{r:?}") };
        assert!(chain.check(&a, e).is_empty());
        assert_eq!(e.seq, i as u64 + 1);
    }
    let Record::Entry(e) = &recs[0] else { panic!() };
    assert_eq!(e.body, "hello\n<!-- warroom:end id=a#1 -->");
    assert_eq!(e.pos.line, 1);
    let Record::Entry(e) = &recs[1] else { panic!() };
    assert_eq!(e.body, "");
    assert_eq!(e.pos.line, 8);
}

#[test]
fn every_prefix_yields_no_partial_entry() {
    let (mut file, s1) = one("a", 1, "first", GENESIS);
    let (e2, _) = one("a", 2, "second\nline", s1);
    let whole = file.len();
    file.extend_from_slice(&e2);
    for cut in 0..file.len() {
        let recs = records(&file[..cut]);
        let entries = recs
            .iter()
            .filter(|r| matches!(r, Record::Entry(_)))
            .count();
        let expect = usize::from(cut >= whole);
        assert_eq!(entries, expect, "cut {cut}: {recs:?}");
        let covered: u64 = recs.iter().map(|r| r.pos().len).sum();
        assert_eq!(covered, cut as u64);
    }
}

#[test]
fn resyncs_after_garbage() {
    let (e1, s1) = one("a", 1, "first", GENESIS);
    let (e2, _) = one("a", 2, "second", s1);
    let mut file = e1[..e1.len() / 2].to_vec();
    file.extend_from_slice(b"\n<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->\n");
    file.extend_from_slice(&e1);
    file.extend_from_slice(&e2);
    let recs = records(&file);
    assert!(matches!(recs[0], Record::Garbage { .. }), "{recs:?}");
    assert!(matches!(recs[1], Record::Repair { .. }), "{recs:?}");
    assert!(matches!(recs[2], Record::Entry(_)));
    assert!(matches!(recs[3], Record::Entry(_)));
}

fn body_strategy() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        Just("<!-- warroom:entry id=a#2 ts=2026-05-04T17:15:04.123Z kind=note -->".to_owned()),
        Just("<!-- warroom:end id=a#1 prev=0000000000000000 sum=0000000000000000 -->".to_owned()),
        Just("<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->".to_owned()),
        Just("\\".to_owned()),
        Just("<!-- a comment -->".to_owned()),
        Just("```".to_owned()),
        Just("#### heading".to_owned()),
        Just("\r\n".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("  \t ".to_owned()),
        "\\PC{0,12}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

proptest::proptest! {
    #[test]
    fn encode_then_scan_round_trips_any_body(body in body_strategy(), next in body_strategy()) {
        let (mut file, s1) = one("a", 1, &body, GENESIS);
        let (e2, _) = one("a", 2, &next, s1);
        file.extend_from_slice(&e2);
        let recs = records(&file);
        proptest::prop_assert_eq!(recs.len(), 2);
        let Record::Entry(e) = &recs[0] else { panic!("{recs:?}") };
        proptest::prop_assert_eq!(&e.body, &body);
        proptest::prop_assert!(e.sum_ok);
        let Record::Entry(e) = &recs[1] else { panic!("{recs:?}") };
        proptest::prop_assert_eq!(&e.body, &next);
    }
}

proptest::proptest! {
    #[test]
    fn fast_json_equals_serde_json(
        body in body_strategy(),
        seq in 1u64..u64::MAX,
        refs in 0usize..3,
        to in 0usize..3,
        key in proptest::option::of("[A-Za-z0-9._:/@+-]{1,128}"),
        kind in proptest::sample::select(vec!["alert", "ack", "resolved", "future-kind"]),
    ) {
        use crate::channel::entry::{Entry, EntryId};
        let author = Author::new("data-plane").unwrap();
        let refs = (1..=refs as u64)
            .map(|s| EntryId { author: Author::new("pipeline").unwrap(), seq: s })
            .collect();
        let e = Entry {
            id: EntryId { author: author.clone(), seq },
            channel: "2026-05-04--litellm-canary".into(),
            author,
            seq,
            ts: Timestamp::now(),
            kind: Kind::from_token(kind).unwrap(),
            refs,
            to: ["operator", "traffic"].iter().take(to).map(|a| Author::new(a).unwrap()).collect(),
            key: key.map(|k| crate::channel::IdempotencyKey::new(&k).unwrap()),
            body,
        };
        let mut fast = Vec::new();
        e.write_json(&mut fast);
        proptest::prop_assert_eq!(&fast, &serde_json::to_vec(&e).unwrap());
        proptest::prop_assert_eq!(serde_json::from_slice::<Entry>(&fast).unwrap(), e);
    }
}

/// Hands out at most `step` bytes per read, so the scanner sees the file arrive slowly.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

proptest::proptest! {
    #[test]
    fn slow_reads_yield_the_same_records(
        body in body_strategy(),
        junk in "\\PC{0,40}",
        cut in 0usize..400,
        step in 1usize..64,
    ) {
        let (mut file, s1) = one("a", 1, &body, GENESIS);
        file.extend_from_slice(junk.as_bytes());
        file.extend_from_slice(b"\n<!-- warroom:repair ts=2026-05-04T17:15:04.123Z -->\n");
        let (e2, _) = one("a", 2, "second", s1);
        file.extend_from_slice(&e2);
        let file = &file[..file.len().saturating_sub(cut)];
        let slow: Vec<Record> = Scanner::new(Trickle { bytes: file, step }, 0, 1)
            .map(Result::unwrap)
            .collect();
        proptest::prop_assert_eq!(slow, records(file));
    }
}

#[test]
fn an_overlong_line_is_passed_over_in_bounded_memory() {
    let (e1, s1) = one("a", 1, "first", GENESIS);
    let (e2, _) = one("a", 2, "second", s1);
    let zeros = 3 * MAX_ENTRY_BYTES as u64 + 5;
    let e1_lines = memchr::memchr_iter(b'\n', &e1).count() as u64;
    // In the middle of the file: garbage up to the line's end, then the next entry.
    let src = e1
        .as_slice()
        .chain(io::repeat(0).take(zeros))
        .chain(&b"\n"[..])
        .chain(e2.as_slice());
    let mut scanner = Scanner::new(src, 0, 1);
    let mut recs = Vec::new();
    while let Some(r) = scanner.next_record().unwrap() {
        recs.push(r);
        assert!(scanner.buf.len() <= MAX_ENTRY_BYTES + 2 * CHUNK);
    }
    assert!(
        matches!(&recs[0], Record::Entry(e) if e.seq == 1),
        "{recs:?}"
    );
    let want = Pos {
        offset: e1.len() as u64,
        line: e1_lines + 1,
        len: zeros + 1,
    };
    assert_eq!(
        recs[1],
        Record::Garbage {
            pos: want,
            why: OVERLONG
        }
    );
    assert!(matches!(&recs[2], Record::Entry(e) if e.seq == 2 && e.pos.line == e1_lines + 2));
    assert_eq!(recs.len(), 3);
    // At the end of the file: one torn tail covering all of it.
    let src = e1.as_slice().chain(io::repeat(0).take(zeros));
    let recs: Vec<_> = Scanner::new(src, 0, 1).map(Result::unwrap).collect();
    assert_eq!(
        recs[1],
        Record::Tail {
            pos: Pos { len: zeros, ..want }
        }
    );
    assert_eq!(recs.len(), 2);
    // A marker line without an end: the entry before it is torn, the line passed over.
    let mut file = e1[..e1.len() - 30].to_vec();
    file.extend(std::iter::repeat_n(b'x', 2 * MAX_ENTRY_BYTES));
    file.extend_from_slice(b"\n");
    file.extend_from_slice(&e2);
    let recs = records(&file);
    assert!(
        matches!(&recs[0], Record::Garbage { why, .. } if why.contains("end marker")),
        "{:?}",
        recs[0]
    );
    assert!(matches!(&recs[1], Record::Garbage { why: OVERLONG, .. }));
    assert!(matches!(&recs[2], Record::Entry(e) if e.seq == 2));
}

#[test]
fn a_read_from_mid_line_skips_to_the_next_line() {
    let (e1, _) = one("a", 1, "first", GENESIS);
    let mut file = b"dy <!-- warroom:entry id=a#9 -->\n".to_vec();
    file.extend_from_slice(&e1);
    let recs: Vec<_> = Scanner::mid_line(file.as_slice(), 100)
        .map(Result::unwrap)
        .collect();
    assert!(matches!(&recs[0], Record::Garbage { pos, .. } if pos.offset == 100 && pos.len == 33));
    assert!(matches!(&recs[1], Record::Entry(e) if e.pos.offset == 133 && e.pos.line == 2));
}

#[test]
fn edited_byte_fails_checksum() {
    let (mut file, _) = one("a", 1, "the canary is healthy", GENESIS);
    let i = memchr::memmem::find(&file, b"healthy").unwrap();
    file[i] = b'H';
    let recs = records(&file);
    let Record::Entry(e) = &recs[0] else { panic!() };
    assert!(!e.sum_ok);
}
