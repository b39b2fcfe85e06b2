//! What a tool call answers: structured JSON (for programs) beside a short text rendering (for
//! the model reading it), and refusals worded for an agent — tool arguments, not command-line
//! flags — that say what to do next.

use rmcp::ErrorData as McpError;
use rmcp::model::{CallToolResult, ContentBlock};
use serde::Serialize;

use crate::channel::{Entry, Error, Kind};
use crate::timeline::render::{Format, render_entry};

/// A successful result: `value` as structured content, `text` as the content a model reads.
pub fn ok(value: &impl Serialize, text: String) -> Result<CallToolResult, McpError> {
    let value = serde_json::to_value(value)
        .map_err(|e| McpError::internal_error(format!("cannot encode the result: {e}"), None))?;
    let mut result = CallToolResult::structured(value);
    result.content = vec![ContentBlock::text(text)];
    Ok(result)
}

/// A refusal the agent sees (a tool error, not a protocol error: clients show its text).
pub fn refused(message: impl Into<String>) -> CallToolResult {
    let message = message.into();
    let mut result = CallToolResult::structured_error(serde_json::json!({ "error": message }));
    result.content = vec![ContentBlock::text(format!("error: {message}"))];
    result
}

/// Entries as the timeline's plain text (no colour), one after another.
pub fn entries_text(entries: &[Entry]) -> String {
    let mut out = Vec::new();
    for e in entries {
        render_entry(Format::Text, false, e, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A store error worded for a tool call: the arguments by their names, the fix, and whether
/// anything was written. Errors that name no command-line flag keep the store's wording.
pub fn store_message(e: &Error) -> String {
    match e {
        Error::EmptyBody => {
            "\"body\" is empty; give the entry's markdown in \"body\"; nothing was written".into()
        }
        Error::BodyTooLarge { size, limit } => format!(
            "\"body\" is {size} bytes, over the limit of {limit} bytes; split it into several posts; nothing was written"
        ),
        Error::KindNeedsRef { kind } => format!(
            "a `{kind}` entry must name {} in \"refs\" (e.g. [\"pipeline#3\"]); nothing was written",
            match kind {
                Kind::Correction => "the entry it corrects",
                Kind::Ack => "the alert(s) it acknowledges",
                _ => "the alert whose condition cleared",
            }
        ),
        Error::ResolvesOthersAlert { author, id } => format!(
            "{author} cannot resolve {id}: only the author of an alert resolves it ({} raised it); use the ack tool instead; nothing was written",
            id.author
        ),
        Error::BadKind { kind, suggestion } => format!(
            "\"kind\" {kind:?} is not a kind{}: use one of {}; nothing was written",
            suggestion
                .as_ref()
                .map(|s| format!(" (did you mean {s}?)"))
                .unwrap_or_default(),
            Kind::known_list()
        ),
        Error::BadRef(r) => format!(
            "{r:?} is not an entry id: an id looks like author#seq, e.g. pipeline#3; nothing was written"
        ),
        Error::NotOnRoster {
            author,
            channel,
            roster,
        } => format!(
            "your role {author:?} is not on the roster of channel {channel} (roster: {roster}); ask the operator to run `warroom roster add {author} --channel {channel}`, or act as one of those roles (`warroom mcp --as ROLE` over stdio, a token for it over HTTP); nothing was written"
        ),
        other => other.to_string(),
    }
}

/// A refused write, with "did you mean" for a ref to an author the channel does not have (as
/// `post --ref` and the relay's `POST` give it), from the channel's author files.
pub fn write_error(
    channel: &crate::channel::Channel,
    e: Error,
) -> Result<CallToolResult, McpError> {
    if let Error::UnknownRef {
        id,
        channel: name,
        author,
        last,
    } = &e
    {
        let authors: Vec<String> = channel
            .author_files()
            .map(|files| files.into_iter().map(|(a, _)| a.to_string()).collect())
            .unwrap_or_default();
        let guess =
            crate::cli::suggest::closest(id.author.as_str(), authors.iter().map(String::as_str))
                .map(|a| format!("; did you mean {a}#{}?", id.seq))
                .unwrap_or_default();
        return Ok(refused(format!(
            "{id} does not exist in channel {name}: {author} has {last} entries{guess}; nothing was written"
        )));
    }
    store_error(e)
}

/// A store error as a tool result: a tool error, whose text the agent reads (clients show
/// protocol errors as an opaque failure). I/O trouble is logged on the server as well.
pub fn store_error(e: Error) -> Result<CallToolResult, McpError> {
    if e.exit_code() == crate::cli::EXIT_IO {
        tracing::error!("{e:#}");
    }
    Ok(refused(store_message(&e)))
}
