//! Failure detectors (in progress).
