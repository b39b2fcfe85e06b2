//! The channel store: names, the entry format, append, read, verify.
