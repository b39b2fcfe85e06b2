//! What an entry is: its kind, and the two optional begin-marker attributes that say who it is
//! addressed to and which idempotency key wrote it.
//!
//! Kinds are open for readers and closed for writers. A reader that meets a well-formed kind
//! token it does not know (written by a newer version) keeps it byte-exact in
//! [`Kind::Other`], so the entry parses, verifies and renders (as a note); only writers are
//! held to the kinds this version knows. Pure: no I/O here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Error;

/// What an entry is.
///
/// `Copy` on purpose (kinds are compared and passed around everywhere): an unknown kind's
/// token is held inline in a [`KindToken`], not on the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Observation,
    Alert,
    /// Refs the entry (or entries) it corrects.
    Correction,
    Question,
    Answer,
    /// Go / no-go / promote / abort.
    Decision,
    Note,
    /// Refs the alert(s) it acknowledges. An alert is open until acked or resolved.
    Ack,
    /// An observer says the condition behind its own alert cleared; refs that alert.
    Resolved,
    /// A well-formed kind this version does not know, kept as written. Readers treat it as a
    /// note ([`Kind::effective`]); writers refuse it.
    Other(KindToken),
}

impl Kind {
    /// The kinds this version writes, in the order help texts list them.
    pub const ALL: [Kind; 9] = [
        Kind::Observation,
        Kind::Alert,
        Kind::Correction,
        Kind::Question,
        Kind::Answer,
        Kind::Decision,
        Kind::Note,
        Kind::Ack,
        Kind::Resolved,
    ];

    /// The token as written in the begin marker and in JSON (an unknown kind's own token).
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Observation => "observation",
            Kind::Alert => "alert",
            Kind::Correction => "correction",
            Kind::Question => "question",
            Kind::Answer => "answer",
            Kind::Decision => "decision",
            Kind::Note => "note",
            Kind::Ack => "ack",
            Kind::Resolved => "resolved",
            Kind::Other(t) => t.as_str(),
        }
    }

    /// False for [`Kind::Other`].
    pub fn is_known(&self) -> bool {
        !matches!(self, Kind::Other(_))
    }

    /// The kind readers act on: a kind this version does not know acts as a note.
    pub fn effective(self) -> Kind {
        match self {
            Kind::Other(_) => Kind::Note,
            k => k,
        }
    }

    /// True for kinds that must ref at least one entry (what they correct, acknowledge or
    /// resolve).
    pub fn needs_ref(&self) -> bool {
        matches!(self, Kind::Correction | Kind::Ack | Kind::Resolved)
    }

    /// What readers accept: a known kind, or any other well-formed token as [`Kind::Other`].
    /// `None` when `s` is not a well-formed kind token.
    pub fn from_token(s: &str) -> Option<Kind> {
        match s.parse::<Kind>() {
            Ok(k) => Some(k),
            Err(_) => KindToken::new(s).map(Kind::Other),
        }
    }

    /// The known kinds, comma-separated, for messages.
    pub fn known_list() -> String {
        Kind::ALL.map(|k| k.as_str().to_owned()).join(", ")
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Strict: only the kinds this version knows (what writers and filters accept).
impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::BadKind {
                kind: s.to_owned(),
                suggestion: super::names::did_you_mean(s, Kind::ALL.iter().map(|k| k.as_str())),
            })
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Lenient, like every reader: an entry from a newer writer deserializes with its true kind.
/// Writers check [`Kind::is_known`] (the store refuses unknown kinds in every post).
impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::from_token(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid kind {s:?}: a kind is a lowercase letter, then up to 31 of a-z, 0-9 and '-' (known: {})",
                Kind::known_list()
            ))
        })
    }
}

/// A well-formed kind token: `[a-z][a-z0-9-]{0,31}` (the grammar of author names), held
/// inline so that [`Kind`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KindToken {
    len: u8,
    bytes: [u8; KindToken::MAX],
}

impl KindToken {
    pub const MAX: usize = 32;

    pub fn new(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= Self::MAX
            && b[0].is_ascii_lowercase()
            && b[1..]
                .iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        if !ok {
            return None;
        }
        let mut bytes = [0u8; Self::MAX];
        bytes[..b.len()].copy_from_slice(b);
        Some(Self {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("a kind token is ASCII")
    }
}

impl fmt::Debug for KindToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// An idempotency key (`key=` in the begin marker): 1 to 128 bytes of `A-Z a-z 0-9 . _ : / @
/// + # -`. The same author never writes two entries with the same key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX: usize = 128;
    const RULE: &'static str = "1 to 128 of A-Z, a-z, 0-9 and . _ : / @ + # -";

    pub fn new(s: &str) -> Result<Self, Error> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX
            && s.bytes().all(|b| {
                b.is_ascii_alphanumeric()
                    || matches!(b, b'.' | b'_' | b':' | b'/' | b'@' | b'+' | b'#' | b'-')
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(Error::BadKey {
                key: super::names::shown(s),
                rule: Self::RULE,
            })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for IdempotencyKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdempotencyKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdempotencyKey::new(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_tokens_are_kept() {
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
            assert_eq!(Kind::from_token(k.as_str()), Some(k));
        }
        let future = Kind::from_token("escalation-2").unwrap();
        assert_eq!(future.as_str(), "escalation-2");
        assert!(!future.is_known());
        assert_eq!(future.effective(), Kind::Note);
        assert!("escalation-2".parse::<Kind>().is_err(), "writers refuse it");
        for bad in ["", "Alert", "a b", "1x", "x_y", &"a".repeat(33)] {
            assert_eq!(Kind::from_token(bad), None, "{bad:?}");
        }
        assert_eq!(
            Kind::from_token(&"a".repeat(32)).unwrap().as_str().len(),
            32
        );
        let json = serde_json::to_string(&future).unwrap();
        assert_eq!(json, "\"escalation-2\"");
        assert_eq!(serde_json::from_str::<Kind>(&json).unwrap(), future);
        assert!(serde_json::from_str::<Kind>("\"NOPE\"").is_err());
    }

    #[test]
    fn a_typo_gets_a_suggestion() {
        let e = "alret".parse::<Kind>().unwrap_err().to_string();
        assert!(e.contains("did you mean alert"), "{e}");
        let e = "acknowledge".parse::<Kind>().unwrap_err().to_string();
        assert!(e.contains("resolved"), "lists the kinds: {e}");
    }

    #[test]
    fn keys() {
        for ok in [
            "a",
            "deploy-42/step:3",
            "A.b_c@d+e",
            "ack:pipeline#7",
            &"k".repeat(128),
        ] {
            assert_eq!(IdempotencyKey::new(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a b", "a-->", "é", "a,b", "a=b", &"k".repeat(129)] {
            assert!(IdempotencyKey::new(bad).is_err(), "{bad:?}");
        }
    }
}
