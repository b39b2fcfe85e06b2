//! Gaps in the record: where an entry failed its checksum, the chain broke, bytes are torn or
//! unreadable, or a file was truncated, replaced or removed — told at the place they happened,
//! so a reader of the live timeline (the page, `timeline --follow [--remote]`) sees a marker
//! there instead of a silent omission.
//!
//! A [`Gap`] carries its sentence ("pipeline#7 failed its checksum: run `warroom verify`") and
//! where it goes in the timeline: right after the entry at (`ts`, author, `seq`) — the altered
//! entry itself for a checksum failure (it is not shown, the gap takes its place), the last
//! good entry before the damage otherwise — or at the end when the place is unknown (a
//! truncated file). Pure: the readers ([`crate::timeline`], [`crate::tail`]) find the damage,
//! this module only describes it.

use serde::Serialize;

use crate::channel::{Author, Timestamp};

/// One gap, as readers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// What is missing or altered, and what to run.
    pub text: String,
    /// The entry concerned (`pipeline#7`), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// Timeline place: right after the entry of the file's author at this time and seq.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ts: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

const VERIFY: &str = "run `warroom verify`";

/// The last good entry before the damage, if any: (ts, seq).
pub type After = Option<(Timestamp, u64)>;

fn after_text(author: &Author, after: After) -> String {
    match after {
        Some((_, seq)) => format!("after {author}#{seq}"),
        None => format!("before {author}'s first entry"),
    }
}

fn placed(text: String, entry: Option<String>, after: After) -> Gap {
    Gap {
        text,
        entry,
        ts: after.map(|(ts, _)| ts),
        seq: after.map(|(_, seq)| seq),
    }
}

/// An entry whose bytes do not match its checksum; it takes its own place.
pub fn checksum(author: &Author, seq: u64, ts: Timestamp) -> Gap {
    let id = format!("{author}#{seq}");
    placed(
        format!("{id} failed its checksum (its bytes were changed): {VERIFY}"),
        Some(id),
        Some((ts, seq)),
    )
}

/// An entry that does not continue its file's chain (seq, prev sum or time).
pub fn chain(author: &Author, seq: u64, expected_seq: u64, after: After) -> Gap {
    let id = format!("{author}#{seq}");
    let what = if seq > expected_seq {
        let missing = if seq - expected_seq == 1 {
            format!("{author}#{expected_seq} is missing")
        } else {
            format!("{author}#{expected_seq}…{} are missing", seq - 1)
        };
        format!("{missing} before {id}")
    } else {
        format!(
            "{id} breaks the chain {}: an entry was removed, inserted or moved",
            after_text(author, after)
        )
    };
    placed(format!("{what}: {VERIFY}"), Some(id), after)
}

/// An entry in a file that is not its author's.
pub fn misplaced(author: &Author, id: &str, file: &str, after: After) -> Gap {
    placed(
        format!("{id} in {file} is not {author}'s: {VERIFY}"),
        Some(id.to_owned()),
        after,
    )
}

/// Bytes between entries that are not an entry.
pub fn garbage(author: &Author, file: &str, len: u64, after: After) -> Gap {
    placed(
        format!(
            "{len} unreadable bytes in {file} {}: {VERIFY}",
            after_text(author, after)
        ),
        None,
        after,
    )
}

/// Bytes at the end of a file that are not a complete entry.
pub fn torn(author: &Author, file: &str, len: u64, after: After) -> Gap {
    placed(
        format!(
            "{file} ends in a torn write of {len} bytes {}: {VERIFY}",
            after_text(author, after)
        ),
        None,
        after,
    )
}

/// A file that shrank, was replaced or removed: history was rewritten; placed at the end.
pub fn rewritten(file: &str, how: &str, shown: u64, author: &Author) -> Gap {
    let shown = if shown > 0 {
        format!(" (entries up to {author}#{shown} were shown)")
    } else {
        String::new()
    };
    Gap {
        text: format!("{file} was {how}: history was rewritten{shown}; {VERIFY}"),
        entry: None,
        ts: None,
        seq: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_entry_and_the_fix() {
        let a = Author::new("pipeline").unwrap();
        let ts = Timestamp::parse_exact("2026-05-04T17:15:04.123Z").unwrap();
        let g = checksum(&a, 7, ts);
        assert_eq!(
            g.text,
            "pipeline#7 failed its checksum (its bytes were changed): run `warroom verify`"
        );
        assert_eq!((g.entry.as_deref(), g.seq), (Some("pipeline#7"), Some(7)));
        assert_eq!(
            chain(&a, 9, 8, Some((ts, 7))).text,
            "pipeline#8 is missing before pipeline#9: run `warroom verify`"
        );
        assert!(
            chain(&a, 9, 7, Some((ts, 6)))
                .text
                .contains("pipeline#7…8 are missing")
        );
        assert!(
            chain(&a, 3, 3, Some((ts, 2)))
                .text
                .contains("breaks the chain after pipeline#2")
        );
        assert!(
            torn(&a, "pipeline.md", 30, None)
                .text
                .contains("before pipeline's first entry")
        );
        let r = rewritten("pipeline.md", "truncated", 4, &a);
        assert_eq!(r.ts, None);
        assert!(r.text.contains("up to pipeline#4"), "{}", r.text);
    }
}
