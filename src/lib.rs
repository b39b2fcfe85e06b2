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
//! - [`sim`]: the embedded Kubernetes API simulator and scenario player.
//! - [`cli`]: clap definitions and the verbs that glue the library together.

pub mod channel;
pub mod cli;
pub mod sim;
pub mod timeline;
