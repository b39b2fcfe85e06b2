//! The `get rollout` / `get experiment` views as data: images with their tags, replica counts
//! and the revision tree (revisions, ReplicaSets with their pods, Experiments, AnalysisRuns with
//! their Jobs), found by owner-reference uid and ordered as get_rollout.go orders them. Must not
//! render text (see `render`).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::model::{
    AnalysisRun, EXPERIMENT_TEMPLATE_ANNOTATION, Experiment, Pod, ReplicaSet, Rollout,
    SCALE_DOWN_DEADLINE_ANNOTATION, Snapshot,
};
use super::objects::{age, human_duration, pod_icon, pod_status, replica_set_status};
use super::status::{analysis_icon, rollout_icon, status_and_message};
use super::weights::{actual_weight, set_weight, step, strategy, tags};
use super::{
    ICON_ANALYSIS_RUN, ICON_BAD, ICON_EXPERIMENT, ICON_JOB, ICON_OK, ICON_POD, ICON_REPLICA_SET,
    ICON_REVISION, ICON_ROLLOUT, ICON_UNKNOWN, ICON_WARNING,
};

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

pub(super) fn merge_image(images: &mut Vec<Image>, image: &str, tags: Vec<String>) {
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
