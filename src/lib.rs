//! warroom: a coordination channel for live operations.
//!
//! # Layout
//!
//! Data flows one way: observers -> [`channel`] (append) -> files -> [`tail`] -> [`relay`] ->
//! clients. [`timeline`], [`archive`] and `verify` only read files. Nothing but [`channel`]
//! writes an entry.
//!
//! - [`channel`]: the store — names, entry format, append, read, verify, seal.
//! - [`timeline`]: k-way merge of author files, filters, renderers.
//! - [`rollout`]: Argo Rollouts types, the `get rollout` view and the failure detectors.
//! - [`archive`]: seal a channel, render its README.md and TIMELINE.md, the store's index,
//!   and commit the record with git.
//! - [`observe`]: the observer runtime (watch, resync, lost/back, posting) and the three
//!   observers: pipeline, data plane, traffic.
//! - [`sim`]: the embedded Kubernetes API simulator and scenario player.
//! - [`tail`]: follows a store root as a stream of complete entries and store alerts.
//! - [`relay`]: the HTTP/WebSocket server (`warroom serve`), tokens and the operator's page.
//! - [`demo`]: `warroom demo` — the simulator, the relay and the three observers in one run.
//! - [`cli`]: clap definitions and the verbs that glue the library together.
//! - [`yaml`]: the one YAML reader, with size and depth limits and located errors.

pub mod archive;
pub mod channel;
pub mod cli;
pub mod demo;
pub mod observe;
pub mod relay;
pub mod roles;
pub mod rollout;
pub mod sim;
pub mod tail;
pub mod templates;
pub mod timeline;
pub mod yaml;
