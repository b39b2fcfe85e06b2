//! The MCP tools' arguments: what an agent may send, with the JSON Schema its client shows.
//!
//! Every struct denies unknown fields, so a misspelt argument is an `invalid_params` error that
//! lists the known ones instead of being silently ignored. Checks that need no store (a timeout
//! in range, a well-formed id) live here too; checks against the channel stay in the store.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::channel::{Author, Draft, EntryId, Error, IdempotencyKey, Kind};

/// The longest `wait` an agent may ask for.
pub const MAX_WAIT_SECS: u64 = 300;
/// `wait`'s timeout when none is given.
pub const DEFAULT_WAIT_SECS: u64 = 60;
/// Entries `read` returns when no limit is given.
pub const DEFAULT_READ_LIMIT: usize = 50;
/// The most entries one `read` returns.
pub const MAX_READ_LIMIT: usize = 500;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PostArgs {
    /// The entry's markdown.
    pub body: String,
    /// observation (default), alert, correction, question, answer, decision, note, ack or
    /// resolved. correction, answer, ack and resolved name what they reply to in `refs`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Entries this one refers to, as ids like "pipeline#3".
    #[serde(default)]
    pub refs: Vec<String>,
    /// Roles this entry is addressed to (each on the roster).
    #[serde(default)]
    pub to: Vec<String>,
    /// Idempotency key (1-128 of A-Z a-z 0-9 . _ : / @ + -): posting again with the same key
    /// returns the first entry and writes nothing, so a retry is safe.
    #[serde(default)]
    pub key: Option<String>,
}

impl PostArgs {
    /// The draft, or the store's error for a bad kind, id, role or key.
    pub fn draft(self) -> Result<Draft, Error> {
        let kind = match self.kind.as_deref().map(str::trim) {
            None | Some("") => Kind::Observation,
            Some(k) => k.parse::<Kind>()?,
        };
        Ok(Draft {
            kind,
            refs: ids(&self.refs)?,
            to: self
                .to
                .iter()
                .map(|r| Author::new(r.trim()))
                .collect::<Result<_, _>>()?,
            key: self.key.as_deref().map(IdempotencyKey::new).transpose()?,
            body: self.body,
        })
    }
}

/// Parses entry ids ("pipeline#3").
pub fn ids(raw: &[String]) -> Result<Vec<EntryId>, Error> {
    raw.iter().map(|r| EntryId::parse(r.trim())).collect()
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadArgs {
    /// Start after this point: a cursor from an earlier result ("pipeline:12,traffic:40"), an
    /// entry id ("pipeline#3") or an RFC 3339 time. Without it: the last `limit` entries.
    #[serde(default)]
    pub since: Option<String>,
    /// Only entries by these roles.
    #[serde(default)]
    pub author: Vec<String>,
    /// Only entries of these kinds (alert, question, ...).
    #[serde(default)]
    pub kind: Vec<String>,
    /// Only entries whose body matches this regular expression (case-insensitive).
    #[serde(default)]
    pub text: Option<String>,
    /// At most this many entries (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<usize>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitArgs {
    /// Entries after this cursor (from an earlier read or wait) count, even ones already
    /// written. Without it only entries appended after the call count.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only entries by these roles.
    #[serde(default)]
    pub author: Vec<String>,
    /// Only entries of these kinds (alert, question, ...).
    #[serde(default)]
    pub kind: Vec<String>,
    /// Only entries whose body matches this regular expression (case-insensitive).
    #[serde(default)]
    pub text: Option<String>,
    /// Only entries addressed to these roles.
    #[serde(default)]
    pub to: Vec<String>,
    /// Seconds to wait, 0 to 300 (default 60); 0 only checks.
    #[serde(default)]
    pub timeout: Option<f64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AckArgs {
    /// The alerts to acknowledge, as ids like "pipeline#7".
    pub ids: Vec<String>,
    /// What you are doing about it ("looking", "expected: CI replaces it").
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertsArgs {
    /// open (default), acked, resolved or all.
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RolloutGetArgs {
    /// The Rollout's name.
    pub name: String,
    /// Its namespace (default: the kubeconfig context's; from a directory: any).
    #[serde(default)]
    pub namespace: Option<String>,
}

/// Arguments of tools that take none: anything sent is refused.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}
