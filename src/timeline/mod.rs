//! The merged timeline of a channel.
