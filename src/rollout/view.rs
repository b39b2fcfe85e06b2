//! The `get rollout` / `get experiment` / `status` views as pure functions over a [`Snapshot`].
//!
//! Derivations follow `kubectl argo rollouts` (rollout_info.go, rolloututil.go, get_rollout.go at
//! the commit recorded in `shared/peer/argo-rollouts`): status and message, strategy, step,
//! weights, images with tags, replicas and the revision tree, laid out like Go's tabwriter
//! (padding 2, widths in chars). Time comes in as `now`, so callers choose the clock.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::model::{
    AnalysisRun, EXPERIMENT_TEMPLATE_ANNOTATION, Experiment, ObjectMeta, Pod, ReplicaSet, Rollout,
    SCALE_DOWN_DEADLINE_ANNOTATION, Snapshot, WORKLOAD_GENERATION_ANNOTATION,
};

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

// ---------------------------------------------------------------------------------------------
// Status and message

/// True when the controller has observed the current spec generation. A non-numeric
/// observedGeneration (a v0.9 hash) or one above the generation counts as observed.
pub fn is_generation_observed(ro: &Rollout) -> bool {
    match ro
        .status
        .observed_generation
        .as_deref()
        .map(str::parse::<i64>)
    {
        Some(Ok(observed)) => observed >= ro.metadata.generation,
        Some(Err(_)) => true,
        // Absent parses like "" in Go: not a number, so observed.
        None => true,
    }
}

fn is_workload_generation_observed(ro: &Rollout) -> bool {
    let Some(wanted) = ro.metadata.annotations.get(WORKLOAD_GENERATION_ANNOTATION) else {
        return true;
    };
    let observed = ro
        .status
        .workload_observed_generation
        .as_deref()
        .unwrap_or("");
    match (wanted.parse::<i64>(), observed.parse::<i64>()) {
        (Ok(w), Ok(o)) => w == o,
        _ => true,
    }
}

/// The rollout's status (`Healthy`, `Degraded`, `Progressing`, `Paused`, or a controller's
/// `status.phase`) and message, in the order the kubectl plugin checks them. `status.phase` is
/// trusted only once the spec generation has been observed.
pub fn status_and_message(ro: &Rollout) -> (String, String) {
    let progressing = |m: &str| ("Progressing".to_string(), m.to_string());
    if !is_generation_observed(ro) {
        return progressing(SPEC_NOT_OBSERVED);
    }
    if ro.status.controller_pause && ro.status.pause_conditions.is_empty() {
        return progressing("waiting for rollout to unpause");
    }
    if ro.spec.workload_ref.is_some() && !is_workload_generation_observed(ro) {
        return progressing(
            "waiting for rollout spec update to be observed for the reference workload",
        );
    }
    if !ro.status.phase.is_empty() {
        return (ro.status.phase.clone(), ro.status.message.clone());
    }
    for cond in &ro.status.conditions {
        if cond.type_ == "InvalidSpec" {
            return ("Degraded".into(), format!("InvalidSpec: {}", cond.message));
        }
        if cond.reason == "RolloutAborted" || cond.reason == "ProgressDeadlineExceeded" {
            return (
                "Degraded".into(),
                format!("{}: {}", cond.reason, cond.message),
            );
        }
    }
    if ro.spec.paused {
        return ("Paused".into(), "manually paused".into());
    }
    if let Some(cond) = ro.status.pause_conditions.first() {
        return ("Paused".into(), cond.reason.clone());
    }
    if let Some(restart_at) = ro.spec.restart_at
        && ro.status.restarted_at != Some(restart_at)
    {
        return progressing("rollout is restarting");
    }
    let st = &ro.status;
    if st.updated_replicas < ro.desired_replicas() {
        return progressing("more replicas need to be updated");
    }
    if st.available_replicas < st.updated_replicas {
        return progressing("updated replicas are still becoming available");
    }
    if let Some(bg) = &ro.spec.strategy.blue_green {
        let active = &st.blue_green.active_selector;
        if active.is_empty() || *active != st.current_pod_hash {
            return progressing("active service cutover pending");
        }
        if st.stable_rs.is_empty() || st.stable_rs != st.current_pod_hash {
            if bg.post_promotion_analysis.is_some() {
                let done = st
                    .blue_green
                    .post_promotion_analysis_run_status
                    .as_ref()
                    .is_some_and(|r| {
                        matches!(
                            r.status.as_str(),
                            "Successful" | "Failed" | "Error" | "Inconclusive"
                        )
                    });
                if !done {
                    return progressing("waiting for analysis to complete");
                }
            }
            return progressing("waiting for post-promotion verification to complete");
        }
    } else if let Some(canary) = &ro.spec.strategy.canary {
        if canary.traffic_routing.is_none() && st.replicas > st.updated_replicas {
            return progressing("old replicas are pending termination");
        }
        if st.stable_rs.is_empty() || st.stable_rs != st.current_pod_hash {
            return progressing("waiting for all steps to complete");
        }
    }
    ("Healthy".into(), String::new())
}

/// The one-line answer of `rollout status` without watching: `Healthy` or `Degraded` alone,
/// otherwise `<Status> - <Message>`.
pub fn status_line(status: &str, message: &str) -> String {
    if status == "Healthy" || status == "Degraded" || message.is_empty() {
        status.to_string()
    } else {
        format!("{status} - {message}")
    }
}

/// The line `rollout status --watch` prints for each change: `<Status> - <Message>`, or the
/// status alone when there is no message.
pub fn watch_line(status: &str, message: &str) -> String {
    if message.is_empty() {
        status.to_string()
    } else {
        format!("{status} - {message}")
    }
}

fn rollout_icon(status: &str) -> &'static str {
    match status {
        "Progressing" => ICON_PROGRESSING,
        "Paused" => ICON_PAUSED,
        "Healthy" => ICON_OK,
        "Degraded" => ICON_BAD,
        "Unknown" => ICON_UNKNOWN,
        "ScaledDown" => ICON_NEUTRAL,
        "Error" | "InvalidSpec" => ICON_WARNING,
        _ => " ",
    }
}

fn analysis_icon(phase: &str) -> &'static str {
    match phase {
        "Successful" => ICON_OK,
        "Inconclusive" => ICON_UNKNOWN,
        "Failed" => ICON_BAD,
        "Error" => ICON_WARNING,
        "Running" => ICON_PROGRESSING,
        "Pending" => ICON_WAITING,
        _ => " ",
    }
}

// ---------------------------------------------------------------------------------------------
// Strategy, step and weights

/// `Canary`, `BlueGreen` or "".
pub fn strategy(ro: &Rollout) -> &'static str {
    if ro.spec.strategy.canary.is_some() {
        "Canary"
    } else if ro.spec.strategy.blue_green.is_some() {
        "BlueGreen"
    } else {
        ""
    }
}

/// The index of the current canary step, when there is one.
pub fn current_step(ro: &Rollout) -> Option<usize> {
    let steps = &ro.spec.strategy.canary.as_ref()?.steps;
    let index = usize::try_from(ro.status.current_step_index.unwrap_or(0)).ok()?;
    (index < steps.len()).then_some(index)
}

/// 100, or `trafficRouting.maxTrafficWeight` when set.
pub fn max_weight(ro: &Rollout) -> i32 {
    ro.spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref())
        .and_then(|t| t.max_traffic_weight)
        .unwrap_or(100)
}

/// `"<currentStepIndex>/<steps>"`, or "" without an index or steps.
pub fn step(ro: &Rollout) -> String {
    let steps = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .map_or(0, |c| c.steps.len());
    match ro.status.current_step_index {
        Some(index) if steps > 0 => format!("{index}/{steps}"),
        _ => String::new(),
    }
}

/// The desired canary weight: 0 when aborted, the last setWeight at or before the current step,
/// the maximum weight when past the last step.
pub fn set_weight(ro: &Rollout) -> i32 {
    if ro.status.abort {
        return 0;
    }
    let Some(index) = current_step(ro) else {
        return max_weight(ro);
    };
    let steps = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .map_or(&[][..], |c| &c.steps[..]);
    steps
        .get(..=index)
        .unwrap_or_default()
        .iter()
        .rev()
        .find_map(|s| s.set_weight)
        .unwrap_or(0)
}

/// The weight the canary actually gets: from traffic-routing status, or from available
/// replicas without traffic routing.
pub fn actual_weight(ro: &Rollout, owned: &[&ReplicaSet]) -> i32 {
    if current_step(ro).is_none() {
        return max_weight(ro);
    }
    if ro.status.available_replicas <= 0 {
        return 0;
    }
    let routing = ro
        .spec
        .strategy
        .canary
        .as_ref()
        .and_then(|c| c.traffic_routing.as_ref());
    if routing.is_none() {
        let mut weight = 0;
        for rs in owned {
            if tags(ro, &rs.metadata).canary {
                weight =
                    rs.status.available_replicas * max_weight(ro) / ro.status.available_replicas;
            }
        }
        weight
    } else {
        ro.status
            .canary
            .weights
            .as_ref()
            .and_then(|w| w.canary.as_ref())
            .map_or_else(|| set_weight(ro), |c| c.weight)
    }
}

/// What a ReplicaSet is to its rollout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicaSetTags {
    pub stable: bool,
    pub canary: bool,
    pub active: bool,
    pub preview: bool,
    pub ping: bool,
    pub pong: bool,
}

/// Tags a ReplicaSet (by its pod-template hash) as the rollout's stable, canary, active,
/// preview, ping or pong set.
pub fn tags(ro: &Rollout, meta: &ObjectMeta) -> ReplicaSetTags {
    let hash = meta.pod_template_hash();
    let mut t = ReplicaSetTags::default();
    if hash.is_empty() {
        return t;
    }
    let st = &ro.status;
    if let Some(canary) = &ro.spec.strategy.canary {
        let ping_pong = canary.ping_pong.is_some();
        let stable_is_ping = st.canary.stable_ping_pong == "ping";
        if st.stable_rs == hash {
            t.stable = true;
            if ping_pong {
                t.ping = stable_is_ping;
                t.pong = !stable_is_ping;
            }
        } else if st.current_pod_hash == hash {
            t.canary = true;
            if ping_pong {
                t.ping = !stable_is_ping;
                t.pong = stable_is_ping;
            }
        }
    }
    if ro.spec.strategy.blue_green.is_some() {
        if st.stable_rs == hash {
            t.stable = true;
        }
        if st.blue_green.active_selector == hash {
            t.active = true;
        } else if st.blue_green.preview_selector == hash {
            t.preview = true;
        }
    }
    t
}

impl ReplicaSetTags {
    /// Image tags, in the plugin's order.
    fn image_tags(self) -> Vec<String> {
        let mut out = Vec::new();
        for (on, name) in [
            (self.canary, "canary"),
            (self.stable, "stable"),
            (self.active, "active"),
            (self.preview, "preview"),
            (self.ping, "ping"),
            (self.pong, "pong"),
        ] {
            if on {
                out.push(name.to_string());
            }
        }
        out
    }

    /// INFO cells of a ReplicaSet row: stable, then canary/active/preview, then ping/pong.
    fn info_cells(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.stable {
            out.push("stable");
        }
        if self.canary {
            out.push("canary");
        } else if self.active {
            out.push("active");
        } else if self.preview {
            out.push("preview");
        }
        if self.ping {
            out.push("ping");
        } else if self.pong {
            out.push("pong");
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Ages

/// Kubernetes' `HumanDuration` (apimachinery util/duration): `7d`, `3h5m`, `2d21h`, `3h59m`.
pub fn human_duration(d: TimeDelta) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

fn age(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    created.map_or_else(|| "<unknown>".to_string(), |t| human_duration(now - t))
}

// ---------------------------------------------------------------------------------------------
// Object status

fn replica_set_status(rs: &ReplicaSet) -> (&'static str, &'static str) {
    let desired = rs.spec.replicas.unwrap_or(1);
    if rs.metadata.generation > rs.status.observed_generation {
        return ("Progressing", ICON_PROGRESSING);
    }
    if rs
        .status
        .conditions
        .iter()
        .any(|c| c.type_ == "ReplicaFailure" && c.status == "True")
    {
        return ("ReplicaFailure", ICON_BAD);
    }
    if rs.status.available_replicas < desired {
        return ("Progressing", ICON_PROGRESSING);
    }
    if desired == 0 {
        return ("ScaledDown", ICON_NEUTRAL);
    }
    ("Healthy", ICON_OK)
}

/// A pod's status the way kubectl prints it, with its ready and restart counts.
pub fn pod_status(pod: &Pod) -> (String, usize, i32) {
    let mut restarts = 0;
    let mut ready = 0;
    let mut reason = if pod.status.reason.is_empty() {
        pod.status.phase.clone()
    } else {
        pod.status.reason.clone()
    };
    let mut initializing = false;
    let init_total = pod.spec.init_containers.len();
    for (i, c) in pod.status.init_container_statuses.iter().enumerate() {
        restarts += c.restart_count;
        if let Some(t) = &c.state.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = if !t.reason.is_empty() {
                format!("Init:{}", t.reason)
            } else if t.signal != 0 {
                format!("Init:Signal:{}", t.signal)
            } else {
                format!("Init:ExitCode:{}", t.exit_code)
            };
        } else if let Some(w) = c
            .state
            .waiting
            .as_ref()
            .filter(|w| !w.reason.is_empty() && w.reason != "PodInitializing")
        {
            reason = format!("Init:{}", w.reason);
        } else {
            reason = format!("Init:{i}/{init_total}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        restarts = 0;
        let mut has_running = false;
        for c in pod.status.container_statuses.iter().rev() {
            restarts += c.restart_count;
            let waiting = c.state.waiting.as_ref().filter(|w| !w.reason.is_empty());
            if let Some(w) = waiting {
                reason = w.reason.clone();
            } else if let Some(t) = &c.state.terminated {
                reason = if !t.reason.is_empty() {
                    t.reason.clone()
                } else if t.signal != 0 {
                    format!("Signal:{}", t.signal)
                } else {
                    format!("ExitCode:{}", t.exit_code)
                };
            } else if c.ready && c.state.running.is_some() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = if pod.status.reason == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    (reason, ready, restarts)
}

fn pod_icon(status: &str) -> &'static str {
    if status.starts_with("Init:") {
        return ICON_PROGRESSING;
    }
    if status.starts_with("Signal:") || status.starts_with("ExitCode:") {
        return ICON_BAD;
    }
    if status.ends_with("Error") || status.starts_with("Err") {
        return ICON_WARNING;
    }
    match status {
        "Pending" | "Terminating" | "ContainerCreating" => ICON_PROGRESSING,
        "Running" | "Completed" => ICON_OK,
        "Failed" | "InvalidImageName" | "CrashLoopBackOff" => ICON_BAD,
        "ImagePullBackOff" | "RegistryUnavailable" => ICON_WARNING,
        "Unknown" => ICON_UNKNOWN,
        _ => " ",
    }
}

// ---------------------------------------------------------------------------------------------
// The view

/// One image and the roles of the ReplicaSets running it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub image: String,
    pub tags: Vec<String>,
}

impl std::fmt::Display for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.tags.is_empty() {
            f.write_str(&self.image)
        } else {
            write!(f, "{} ({})", self.image, self.tags.join(", "))
        }
    }
}

fn merge_image(images: &mut Vec<Image>, image: &str, tags: Vec<String>) {
    if let Some(existing) = images.iter_mut().find(|i| i.image == image) {
        let merged: BTreeSet<String> = existing.tags.drain(..).chain(tags).collect();
        existing.tags = merged.into_iter().collect();
    } else {
        images.push(Image {
            image: image.to_string(),
            tags,
        });
    }
}

/// Desired/current/updated/ready/available replica counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Replicas {
    pub desired: i32,
    pub current: i32,
    pub updated: i32,
    pub ready: i32,
    pub available: i32,
}

/// One row of the tree: `prefix icon name | kind | status-icon status | age | info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub prefix: String,
    pub icon: &'static str,
    pub name: String,
    pub kind: &'static str,
    pub status_icon: &'static str,
    pub status: String,
    pub age: String,
    pub info: String,
}

/// Everything `get rollout` shows, derived and ready to render.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub name: String,
    pub namespace: String,
    pub status: String,
    pub status_icon: &'static str,
    pub message: String,
    pub strategy: &'static str,
    pub step: String,
    pub set_weight: i32,
    pub actual_weight: i32,
    pub images: Vec<Image>,
    pub replicas: Replicas,
    pub tree: Vec<Row>,
}

/// Everything `get experiment` shows.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentView {
    pub name: String,
    pub namespace: String,
    pub status: String,
    pub status_icon: &'static str,
    pub message: String,
    pub images: Vec<Image>,
    pub tree: Vec<Row>,
}

fn prefixes(is_last: bool, subprefix: &str) -> (String, String) {
    if is_last {
        (format!("{subprefix}└──"), format!("{subprefix}   "))
    } else {
        (format!("{subprefix}├──"), format!("{subprefix}│  "))
    }
}

/// Builds the tree rows below an object: each child adds its own row and its children.
struct TreeBuilder<'a> {
    snapshot: &'a Snapshot,
    now: DateTime<Utc>,
    rows: Vec<Row>,
}

enum Child<'a> {
    ReplicaSet(&'a ReplicaSet, Vec<&'static str>),
    Experiment(&'a Experiment),
    AnalysisRun(&'a AnalysisRun),
}

impl<'a> TreeBuilder<'a> {
    fn children(&mut self, children: &[Child<'a>], subprefix: &str) {
        for (i, child) in children.iter().enumerate() {
            let (prefix, sub) = prefixes(i + 1 == children.len(), subprefix);
            match child {
                Child::ReplicaSet(rs, info) => self.replica_set(rs, info, prefix, &sub),
                Child::Experiment(ex) => self.experiment(ex, prefix, &sub),
                Child::AnalysisRun(ar) => self.analysis_run(ar, prefix, &sub),
            }
        }
    }

    fn replica_set(&mut self, rs: &ReplicaSet, info: &[&str], prefix: String, sub: &str) {
        let (status, icon) = replica_set_status(rs);
        let mut cells: Vec<String> = info.iter().map(|s| s.to_string()).collect();
        if let Some(deadline) = rs.metadata.annotations.get(SCALE_DOWN_DEADLINE_ANNOTATION)
            && let Ok(deadline) = DateTime::parse_from_rfc3339(deadline)
        {
            let deadline = deadline.with_timezone(&Utc);
            cells.push(if deadline < self.now {
                "delay:passed".to_string()
            } else {
                format!("delay:{}", human_duration(deadline - self.now))
            });
        }
        self.rows.push(Row {
            prefix,
            icon: ICON_REPLICA_SET,
            name: rs.metadata.name.clone(),
            kind: "ReplicaSet",
            status_icon: icon,
            status: status.into(),
            age: age(rs.metadata.creation_timestamp, self.now),
            info: cells.join(","),
        });
        let mut pods: Vec<&Pod> = self
            .snapshot
            .pods
            .iter()
            .filter(|p| p.metadata.is_owned_by(&rs.metadata.uid))
            .collect();
        pods.sort_by(|a, b| {
            (a.metadata.creation_timestamp, &a.metadata.name)
                .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
        });
        for (i, pod) in pods.iter().enumerate() {
            let (prefix, _) = prefixes(i + 1 == pods.len(), sub);
            let (status, ready, restarts) = pod_status(pod);
            let mut info = format!("ready:{ready}/{}", pod.spec.containers.len());
            if restarts > 0 {
                info.push_str(&format!(",restarts:{restarts}"));
            }
            self.rows.push(Row {
                prefix,
                icon: ICON_POD,
                name: pod.metadata.name.clone(),
                kind: "Pod",
                status_icon: pod_icon(&status),
                status,
                age: age(pod.metadata.creation_timestamp, self.now),
                info,
            });
        }
    }

    fn experiment(&mut self, ex: &'a Experiment, prefix: String, sub: &str) {
        self.rows.push(Row {
            prefix,
            icon: ICON_EXPERIMENT,
            name: ex.metadata.name.clone(),
            kind: "Experiment",
            status_icon: analysis_icon(&ex.status.phase),
            status: ex.status.phase.clone(),
            age: age(ex.metadata.creation_timestamp, self.now),
            info: String::new(),
        });
        let children = experiment_children(self.snapshot, ex);
        self.children(&children, sub);
    }

    fn analysis_run(&mut self, ar: &AnalysisRun, prefix: String, sub: &str) {
        let mut counts = [0; 4];
        for mr in &ar.status.metric_results {
            counts[0] += mr.successful;
            counts[1] += mr.failed;
            counts[2] += mr.inconclusive;
            counts[3] += mr.error;
        }
        let info: Vec<String> = [ICON_OK, ICON_BAD, ICON_UNKNOWN, ICON_WARNING]
            .iter()
            .zip(counts)
            .filter(|(_, n)| *n > 0)
            .map(|(icon, n)| format!("{icon} {n}"))
            .collect();
        self.rows.push(Row {
            prefix,
            icon: ICON_ANALYSIS_RUN,
            name: ar.metadata.name.clone(),
            kind: "AnalysisRun",
            status_icon: analysis_icon(&ar.status.phase),
            status: ar.status.phase.clone(),
            age: age(ar.metadata.creation_timestamp, self.now),
            info: info.join(","),
        });
        let jobs: Vec<_> = ar
            .status
            .metric_results
            .iter()
            .flat_map(|mr| &mr.measurements)
            .filter_map(|m| m.metadata.get("job-name").map(|job| (job, m)))
            .collect();
        for (i, (job, m)) in jobs.iter().enumerate() {
            let (prefix, _) = prefixes(i + 1 == jobs.len(), sub);
            self.rows.push(Row {
                prefix,
                icon: ICON_JOB,
                name: (*job).clone(),
                kind: "Job",
                status_icon: analysis_icon(&m.phase),
                status: m.phase.clone(),
                age: age(m.started_at, self.now),
                info: String::new(),
            });
        }
    }
}

fn experiment_children<'a>(snapshot: &'a Snapshot, ex: &Experiment) -> Vec<Child<'a>> {
    let uid = &ex.metadata.uid;
    let mut sets: Vec<&ReplicaSet> = snapshot
        .replica_sets
        .iter()
        .filter(|rs| rs.metadata.is_owned_by(uid))
        .collect();
    sets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let runs = owned_analysis_runs(snapshot, uid);
    sets.into_iter()
        .map(|rs| Child::ReplicaSet(rs, Vec::new()))
        .chain(runs.into_iter().map(Child::AnalysisRun))
        .collect()
}

fn owned_analysis_runs<'a>(snapshot: &'a Snapshot, uid: &str) -> Vec<&'a AnalysisRun> {
    let mut runs: Vec<&AnalysisRun> = snapshot
        .analysis_runs
        .iter()
        .filter(|ar| ar.metadata.is_owned_by(uid))
        .collect();
    // Creation time ascending, then name descending, as the plugin sorts them.
    runs.sort_by(|a, b| {
        a.metadata
            .creation_timestamp
            .cmp(&b.metadata.creation_timestamp)
            .then_with(|| b.metadata.name.cmp(&a.metadata.name))
    });
    runs
}

/// The ReplicaSets a rollout owns.
pub fn owned_replica_sets<'a>(snapshot: &'a Snapshot, ro: &Rollout) -> Vec<&'a ReplicaSet> {
    snapshot
        .replica_sets
        .iter()
        .filter(|rs| rs.metadata.is_owned_by(&ro.metadata.uid))
        .collect()
}

fn experiment_images(snapshot: &Snapshot, ex: &Experiment, images: &mut Vec<Image>, tagged: bool) {
    for rs in snapshot
        .replica_sets
        .iter()
        .filter(|rs| rs.metadata.is_owned_by(&ex.metadata.uid))
    {
        if rs.status.replicas <= 0 {
            continue;
        }
        let tags: Vec<String> = match rs.metadata.annotations.get(EXPERIMENT_TEMPLATE_ANNOTATION) {
            Some(template) if tagged => vec![format!("Σ:{template}")],
            _ => Vec::new(),
        };
        for c in &rs.spec.template.spec.containers {
            merge_image(images, &c.image, tags.clone());
        }
    }
}

/// Derives the `get rollout` view of `ro` from the objects in `snapshot` at time `now`.
pub fn rollout_view(snapshot: &Snapshot, ro: &Rollout, now: DateTime<Utc>) -> RolloutView {
    let (status, message) = status_and_message(ro);
    let owned = owned_replica_sets(snapshot, ro);
    let uid = &ro.metadata.uid;
    let mut experiments: Vec<&Experiment> = snapshot
        .experiments
        .iter()
        .filter(|ex| ex.metadata.is_owned_by(uid))
        .collect();
    experiments.sort_by(|a, b| {
        (a.metadata.creation_timestamp, &a.metadata.name)
            .cmp(&(b.metadata.creation_timestamp, &b.metadata.name))
    });
    let runs = owned_analysis_runs(snapshot, uid);

    let mut images = Vec::new();
    for rs in &owned {
        if rs.status.replicas <= 0 {
            continue;
        }
        let t = tags(ro, &rs.metadata).image_tags();
        for c in &rs.spec.template.spec.containers {
            merge_image(&mut images, &c.image, t.clone());
        }
    }
    for ex in &experiments {
        experiment_images(snapshot, ex, &mut images, true);
    }
    images.sort_by(|a, b| a.image.cmp(&b.image));

    let mut builder = TreeBuilder {
        snapshot,
        now,
        rows: Vec::new(),
    };
    builder.rows.push(Row {
        prefix: String::new(),
        icon: ICON_ROLLOUT,
        name: ro.metadata.name.clone(),
        kind: "Rollout",
        status_icon: rollout_icon(&status),
        status: status.clone(),
        age: age(ro.metadata.creation_timestamp, now),
        info: String::new(),
    });
    let revisions: BTreeSet<i64> = owned
        .iter()
        .map(|rs| rs.metadata.revision())
        .chain(experiments.iter().map(|e| e.metadata.revision()))
        .chain(runs.iter().map(|r| r.metadata.revision()))
        .collect();
    for (i, rev) in revisions.iter().rev().enumerate() {
        let (prefix, sub) = prefixes(i + 1 == revisions.len(), "");
        builder.rows.push(Row {
            prefix,
            icon: ICON_REVISION,
            name: format!("revision:{rev}"),
            ..Row::default()
        });
        let mut sets: Vec<&ReplicaSet> = owned
            .iter()
            .copied()
            .filter(|rs| rs.metadata.revision() == *rev)
            .collect();
        sets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let mut children: Vec<Child> = sets
            .into_iter()
            .map(|rs| Child::ReplicaSet(rs, tags(ro, &rs.metadata).info_cells()))
            .collect();
        children.extend(
            experiments
                .iter()
                .filter(|e| e.metadata.revision() == *rev)
                .map(|e| Child::Experiment(e)),
        );
        children.extend(
            runs.iter()
                .filter(|r| r.metadata.revision() == *rev)
                .map(|r| Child::AnalysisRun(r)),
        );
        builder.children(&children, &sub);
    }

    let canary = ro.spec.strategy.canary.is_some();
    let st = &ro.status;
    RolloutView {
        name: ro.metadata.name.clone(),
        namespace: ro.metadata.namespace.clone(),
        status_icon: rollout_icon(&status),
        status,
        message,
        strategy: strategy(ro),
        step: if canary { step(ro) } else { String::new() },
        set_weight: if canary { set_weight(ro) } else { 0 },
        actual_weight: if canary { actual_weight(ro, &owned) } else { 0 },
        images,
        replicas: Replicas {
            desired: ro.desired_replicas(),
            current: st.replicas,
            updated: st.updated_replicas,
            ready: st.ready_replicas,
            available: st.available_replicas,
        },
        tree: builder.rows,
    }
}

/// Derives the `get experiment` view.
pub fn experiment_view(snapshot: &Snapshot, ex: &Experiment, now: DateTime<Utc>) -> ExperimentView {
    let mut images = Vec::new();
    experiment_images(snapshot, ex, &mut images, false);
    images.sort_by(|a, b| a.image.cmp(&b.image));
    let mut builder = TreeBuilder {
        snapshot,
        now,
        rows: Vec::new(),
    };
    builder.rows.push(Row {
        prefix: String::new(),
        icon: ICON_EXPERIMENT,
        name: ex.metadata.name.clone(),
        kind: "Experiment",
        status_icon: analysis_icon(&ex.status.phase),
        status: ex.status.phase.clone(),
        age: age(ex.metadata.creation_timestamp, now),
        info: String::new(),
    });
    let children = experiment_children(snapshot, ex);
    builder.children(&children, "");
    ExperimentView {
        name: ex.metadata.name.clone(),
        namespace: ex.metadata.namespace.clone(),
        status_icon: analysis_icon(&ex.status.phase),
        status: ex.status.phase.clone(),
        message: ex.status.message.clone(),
        images,
        tree: builder.rows,
    }
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// How icons are drawn: plain, or wrapped in ANSI colours for a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Never,
    Ansi,
}

fn paint(icon: &str, colour: Colour) -> String {
    if colour == Colour::Never {
        return icon.to_string();
    }
    let code = match icon {
        ICON_OK => "32",
        ICON_BAD | ICON_WARNING | ICON_UNKNOWN => "31",
        ICON_PROGRESSING | ICON_WAITING => "33",
        ICON_PAUSED | ICON_NEUTRAL => "90",
        _ => return icon.to_string(),
    };
    format!("\x1b[{code}m{icon}\x1b[0m")
}

fn header(out: &mut String, label: &str, value: &str) {
    let line = format!("{label:<17}{value}");
    out.push_str(line.trim_end());
    out.push('\n');
}

fn images_header(out: &mut String, images: &[Image]) {
    for (i, image) in images.iter().enumerate() {
        header(out, if i == 0 { "Images:" } else { "" }, &image.to_string());
    }
}

/// Lays rows out like Go's tabwriter (min width 0, padding 2, widths in chars), trailing
/// spaces trimmed. Colour codes are added after measuring, so they never shift columns.
fn render_tree(out: &mut String, rows: &[Row], colour: Colour) {
    let plain = |r: &Row| -> [String; 4] {
        let status = if r.status_icon.is_empty() && r.status.is_empty() {
            String::new()
        } else {
            format!("{} {}", r.status_icon, r.status)
        };
        [
            format!("{}{} {}", r.prefix, r.icon, r.name),
            r.kind.to_string(),
            status,
            r.age.clone(),
        ]
    };
    let header = ["NAME", "KIND", "STATUS", "AGE"].map(String::from);
    let cells: Vec<[String; 4]> = rows.iter().map(plain).collect();
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut line = |cells: &[String; 4], status_painted: Option<String>, info: &str| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            let pad = w + 2 - cell.chars().count();
            match (i, &status_painted) {
                (2, Some(painted)) => text.push_str(painted),
                _ => text.push_str(cell),
            }
            text.push_str(&" ".repeat(pad));
        }
        text.push_str(info);
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header, None, "INFO");
    for (row, cell) in rows.iter().zip(&cells) {
        let painted = (colour == Colour::Ansi && !row.status_icon.is_empty())
            .then(|| format!("{} {}", paint(row.status_icon, colour), row.status));
        line(cell, painted, &row.info);
    }
}

/// Renders `get rollout` output.
pub fn render_rollout(view: &RolloutView, colour: Colour) -> String {
    let mut out = String::new();
    header(&mut out, "Name:", &view.name);
    header(&mut out, "Namespace:", &view.namespace);
    header(
        &mut out,
        "Status:",
        &format!("{} {}", paint(view.status_icon, colour), view.status),
    );
    if !view.message.is_empty() {
        header(&mut out, "Message:", &view.message);
    }
    header(&mut out, "Strategy:", view.strategy);
    if view.strategy == "Canary" {
        header(&mut out, "  Step:", &view.step);
        header(&mut out, "  SetWeight:", &view.set_weight.to_string());
        header(&mut out, "  ActualWeight:", &view.actual_weight.to_string());
    }
    images_header(&mut out, &view.images);
    out.push_str("Replicas:\n");
    let r = view.replicas;
    header(&mut out, "  Desired:", &r.desired.to_string());
    header(&mut out, "  Current:", &r.current.to_string());
    header(&mut out, "  Updated:", &r.updated.to_string());
    header(&mut out, "  Ready:", &r.ready.to_string());
    header(&mut out, "  Available:", &r.available.to_string());
    out.push('\n');
    render_tree(&mut out, &view.tree, colour);
    out
}

/// Renders `get experiment` output.
pub fn render_experiment(view: &ExperimentView, colour: Colour) -> String {
    let mut out = String::new();
    header(&mut out, "Name:", &view.name);
    header(&mut out, "Namespace:", &view.namespace);
    header(
        &mut out,
        "Status:",
        &format!("{} {}", paint(view.status_icon, colour), view.status),
    );
    if !view.message.is_empty() {
        header(&mut out, "Message:", &view.message);
    }
    images_header(&mut out, &view.images);
    out.push('\n');
    render_tree(&mut out, &view.tree, colour);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(yaml: &str) -> Rollout {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn human_duration_matches_kubernetes() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (4 * 3600 - 1, "3h59m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (69 * 3600, "2d21h"),
            (7 * 86400, "7d"),
            (30 * 86400, "30d"),
            (800 * 86400, "2y70d"),
            (3000 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(TimeDelta::seconds(secs)), want, "{secs}s");
        }
    }

    #[test]
    fn phase_is_not_trusted_before_the_generation_is_observed() {
        let ro = rollout(
            "metadata: {generation: 5}\nstatus: {observedGeneration: '4', phase: Healthy}\n",
        );
        assert_eq!(
            status_and_message(&ro),
            ("Progressing".into(), SPEC_NOT_OBSERVED.into())
        );
        let ro = rollout(
            "metadata: {generation: 5}\nstatus: {observedGeneration: '5', phase: Healthy}\n",
        );
        assert_eq!(status_and_message(&ro), ("Healthy".into(), String::new()));
    }

    #[test]
    fn status_line_omits_the_message_only_for_final_states() {
        assert_eq!(status_line("Healthy", ""), "Healthy");
        assert_eq!(status_line("Degraded", "x: y"), "Degraded");
        assert_eq!(
            status_line("Paused", "BlueGreenPause"),
            "Paused - BlueGreenPause"
        );
        assert_eq!(watch_line("Degraded", "x: y"), "Degraded - x: y");
    }

    #[test]
    fn set_weight_looks_back_to_the_last_set_weight() {
        let ro = rollout(
            "spec: {strategy: {canary: {steps: [{setWeight: 25}, {experiment: {}}]}}}\nstatus: {currentStepIndex: 1}\n",
        );
        assert_eq!(set_weight(&ro), 25);
        assert_eq!(step(&ro), "1/2");
        let ro = rollout(
            "spec: {strategy: {canary: {trafficRouting: {maxTrafficWeight: 1000}, steps: [{setWeight: 25}]}}}\nstatus: {currentStepIndex: 1}\n",
        );
        assert_eq!(set_weight(&ro), 1000);
    }

    #[test]
    fn pod_status_reports_init_and_terminated_containers() {
        let pod: Pod = serde_saphyr::from_str(
            "spec: {initContainers: [{name: a}, {name: b}], containers: [{name: c}]}\nstatus: {phase: Pending, initContainerStatuses: [{state: {terminated: {exitCode: 0}}}, {state: {running: {}}}]}\n",
        )
        .unwrap();
        assert_eq!(pod_status(&pod).0, "Init:1/2");
        let pod: Pod = serde_saphyr::from_str(
            "spec: {containers: [{name: c}]}\nstatus: {phase: Running, containerStatuses: [{restartCount: 3, state: {terminated: {exitCode: 137}}}]}\n",
        )
        .unwrap();
        assert_eq!(pod_status(&pod), ("ExitCode:137".into(), 0, 3));
        assert_eq!(pod_icon("ExitCode:137"), ICON_BAD);
        assert_eq!(pod_icon("CreateContainerConfigError"), ICON_WARNING);
    }

    #[test]
    fn tree_columns_align_in_chars_not_bytes() {
        let rows = vec![
            Row {
                icon: ICON_ROLLOUT,
                name: "r".into(),
                kind: "Rollout",
                status_icon: ICON_PAUSED,
                status: "Paused".into(),
                age: "7d".into(),
                ..Row::default()
            },
            Row {
                prefix: "└──".into(),
                icon: ICON_REVISION,
                name: "revision:1".into(),
                ..Row::default()
            },
        ];
        let mut out = String::new();
        render_tree(&mut out, &rows, Colour::Never);
        assert_eq!(
            out,
            "NAME             KIND     STATUS    AGE  INFO\n⟳ r              Rollout  ॥ Paused  7d\n└──# revision:1\n"
        );
    }
}
