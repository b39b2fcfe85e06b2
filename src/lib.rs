//! warroom: a coordination channel for live operations.
//!
//! # Layout
//!
//! Data flows one way: observers -> [`channel`] (append) -> files -> [`tail`] -> [`relay`] ->
//! clients. [`timeline`], [`archive`] and `verify` only read files. Nothing but [`channel`]
//! writes an entry.
//!
//! - [`channel`]: the store — names, entry format, append, read, verify, seal.
//! - [`timeline`]: k-way merge of author files, renderers.
//! - [`query`]: the one entry filter every reader applies (authors, kinds, grep, addressing,
//!   since an entry, a time or a cursor).
//! - [`catchup`]: what a role has not read yet (addressed entries first), the one-line count,
//!   and waiting for the next matching entry without polling.
//! - [`rollout`]: Argo Rollouts types, the `get rollout` view and the failure detectors.
//! - [`archive`]: seal a channel, render its README.md and TIMELINE.md, the store's index,
//!   and commit the record with git.
//! - [`observe`]: the observer runtime (watch, resync, lost/back, posting) and the three
//!   observers: pipeline, data plane, traffic.
//! - [`sim`]: the embedded Kubernetes API simulator and scenario player.
//! - [`state`]: state beside history — each observer's current view, one JSON file per role,
//!   replaced atomically.
//! - [`gap`]: gaps in the record (altered, missing, torn), told at their place.
//! - [`palette`]: the one colour rule for authors, terminal and page.
//! - [`alerts`]: which alerts are open, acked or resolved, and which questions are unanswered.
//! - [`tail`]: follows a store root as a stream of complete entries, states and store alerts.
//! - [`relay`]: the HTTP/WebSocket server (`warroom serve`), tokens and the operator's page.
//! - [`mcp`]: MCP tools for AI agents (`warroom mcp` over stdio, `/mcp` on the relay).
//! - [`demo`]: `warroom demo` — the simulator, the relay and the three observers in one run.
//! - [`cli`]: clap definitions and the verbs that glue the library together.
//! - [`yaml`]: the one YAML reader, with size and depth limits and located errors.

pub mod alerts;
pub mod archive;
pub mod catchup;
pub mod channel;
pub mod cli;
pub mod demo;
pub mod gap;
pub mod mcp;
pub mod observe;
pub mod palette;
pub mod query;
pub mod relay;
pub mod roles;
pub mod rollout;
pub mod sim;
pub mod state;
pub mod tail;
pub mod templates;
pub mod timeline;
pub mod yaml;
