//! The `get rollout` / `get experiment` / `status` views as pure functions over a [`model::Snapshot`].
//!
//! Derivations follow `kubectl argo rollouts` (rollout_info.go, rolloututil.go, get_rollout.go at
//! the commit recorded in `shared/peer/argo-rollouts`): status and message, strategy, step,
//! weights, images with tags, replicas and the revision tree, laid out like Go's tabwriter
//! (padding 2, widths in chars). Time comes in as `now`, so callers choose the clock.
//!
//! One file per concern: `status` (status and message), `weights` (strategy, step, weights,
//! ReplicaSet tags), `objects` (ages, ReplicaSet and pod status), `tree` (the views as data),
//! `render` (text). Every public item is re-exported here, so callers write `view::pod_status`.

use super::model;

mod objects;
mod render;
mod status;
mod tree;
mod weights;

pub use objects::*;
pub use render::*;
pub use status::*;
pub use tree::*;
pub use weights::*;

pub const ICON_ROLLOUT: &str = "⟳";
pub const ICON_REVISION: &str = "#";
pub const ICON_REPLICA_SET: &str = "⧉";
pub const ICON_POD: &str = "□";
pub const ICON_EXPERIMENT: &str = "Σ";
pub const ICON_ANALYSIS_RUN: &str = "α";
pub const ICON_JOB: &str = "⊞";

const ICON_WAITING: &str = "◷";
const ICON_PROGRESSING: &str = "◌";
const ICON_WARNING: &str = "⚠";
const ICON_UNKNOWN: &str = "?";
const ICON_OK: &str = "✔";
const ICON_BAD: &str = "✖";
const ICON_PAUSED: &str = "॥";
const ICON_NEUTRAL: &str = "•";

/// The message shown while the controller has not yet seen the latest spec.
pub const SPEC_NOT_OBSERVED: &str = "waiting for rollout spec update to be observed";
