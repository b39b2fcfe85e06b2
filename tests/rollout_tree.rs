//! `warroom rollout get` against the real simulator playing every built-in short scenario: the
//! revision tree is whole (ReplicaSets, pods, AnalysisRuns) and follows the Argo plugin's rules
//! at every look, and each scenario shows what Argo would show at its known points (the canary's
//! ActualWeight mid-step, a CrashLoopBackOff pod, a Failed AnalysisRun, …).
//!
//! The rules, from the plugin (get_rollout.go, rollout_info.go) and the controller
//! (utils/replicaset, utils/analysis, controller/util), checked at every sample:
//! - the root is the Rollout; below it one `revision:N` row per revision, newest first;
//! - a revision holds its ReplicaSets (by name), then Experiments, then AnalysisRuns; pods sit
//!   below their ReplicaSet and nowhere else;
//! - a ReplicaSet is named `<rollout>-<pod-template-hash>`, the hash in the alphabet of
//!   `rand.SafeEncodeString`, and kubectl reads back that hash label and that revision;
//! - a pod is named `<replicaset>-<5 characters of the same alphabet>` (generateName);
//! - an AnalysisRun is named `<rollout>-<hash>-<revision>` plus `-<step>` for a step, `-pre` or
//!   `-post` for blue-green promotion analysis, under the revision its name carries;
//! - at most one ReplicaSet is stable and one canary, and the canary is the newest revision.
//!
//! Real binary, real simulator on 127.0.0.1 port 0, real kubectl. Every wait has a deadline;
//! no test asserts a duration.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");
const DEADLINE: Duration = Duration::from_secs(120);
/// The alphabet of Kubernetes' `rand.SafeEncodeString` and `rand.String` (no vowels, no 0/1/3).
const SAFE: &str = "bcdfghjklmnpqrstvwxz2456789";

/// A running `warroom sim` and the temp dir holding its kubeconfig.
struct Sim {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(scenario: &str, speed: u32) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(BIN)
            .args(["sim", "--scenario", scenario, "--port", "0", "--speed"])
            .arg(speed.to_string())
            .arg("--kubeconfig-out")
            .arg(dir.path().join("kubeconfig"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx.recv_timeout(DEADLINE).expect("sim printed its API URL");
        Sim { child, dir }
    }

    fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// `warroom rollout get NAME -n NS -o json`.
    fn view(&self, name: &str, ns: &str) -> Value {
        let out = Command::new(BIN)
            .args(["rollout", "get", name, "-n", ns, "-o", "json"])
            .env("KUBECONFIG", self.kubeconfig())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "rollout get {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The plugin's text for the same rollout, for failure messages.
    fn text(&self, name: &str, ns: &str) -> String {
        let out = Command::new(BIN)
            .args(["rollout", "get", name, "-n", ns])
            .env("KUBECONFIG", self.kubeconfig())
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every ReplicaSet of `ns` as kubectl reads it: name -> (pod-template hash, revision).
    fn replica_sets(&self, ns: &str) -> BTreeMap<String, (String, String)> {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .args(["get", "replicasets", "-n", ns, "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|rs| {
                let meta = &rs["metadata"];
                let text = |v: &Value| v.as_str().unwrap_or("").to_string();
                (
                    text(&meta["name"]),
                    (
                        text(&meta["labels"]["rollouts-pod-template-hash"]),
                        text(&meta["annotations"]["rollout.argoproj.io/revision"]),
                    ),
                )
            })
            .collect()
    }
}

/// One row of the tree with its depth (the prefix is three characters a level).
#[derive(Debug, Clone)]
struct Node {
    depth: usize,
    kind: String,
    name: String,
    status: String,
    info: String,
}

/// The view of one look: header fields and the tree.
#[derive(Debug, Clone)]
struct Look {
    status: String,
    message: String,
    step: String,
    set_weight: i64,
    actual_weight: i64,
    tree: Vec<Node>,
}

impl Look {
    fn from(view: &Value) -> Look {
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        Look {
            status: s(&view["status"]),
            message: s(&view["message"]),
            step: s(&view["step"]),
            set_weight: view["setWeight"].as_i64().unwrap_or(-1),
            actual_weight: view["actualWeight"].as_i64().unwrap_or(-1),
            tree: view["tree"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| Node {
                    depth: s(&r["prefix"]).chars().count() / 3,
                    kind: s(&r["kind"]),
                    name: s(&r["name"]),
                    status: s(&r["status"]),
                    info: s(&r["info"]),
                })
                .collect(),
        }
    }

    /// The ReplicaSets with their info cells and their pods' statuses.
    fn replica_sets(&self) -> Vec<(&Node, Vec<&Node>)> {
        let mut out: Vec<(&Node, Vec<&Node>)> = Vec::new();
        for n in &self.tree {
            match n.kind.as_str() {
                "ReplicaSet" => out.push((n, Vec::new())),
                "Pod" => out.last_mut().unwrap().1.push(n),
                _ => {}
            }
        }
        out
    }

    /// The ReplicaSet tagged `tag` (stable, canary, active, preview) and its pods.
    fn tagged(&self, tag: &str) -> Option<(&Node, Vec<&Node>)> {
        self.replica_sets()
            .into_iter()
            .find(|(rs, _)| rs.info.split(',').any(|c| c == tag))
    }

    fn has(&self, kind: &str, status: &str) -> bool {
        self.tree
            .iter()
            .any(|n| n.kind == kind && n.status == status)
    }

    fn revisions(&self) -> usize {
        self.tree.iter().filter(|n| n.depth == 1).count()
    }
}

fn safe(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| SAFE.contains(c))
}

/// Checks one look against the plugin's and controller's rules (see the module doc).
fn check_rules(
    rollout: &str,
    look: &Look,
    kubectl: &BTreeMap<String, (String, String)>,
) -> Result<(), String> {
    let tree = &look.tree;
    let root = tree.first().ok_or("an empty tree")?;
    if (root.depth, root.kind.as_str(), root.name.as_str()) != (0, "Rollout", rollout) {
        return Err(format!("the root is not Rollout {rollout}: {root:?}"));
    }
    let mut revision: Option<i64> = None;
    let mut last_kind_rank = 0;
    let mut last_rs_name = String::new();
    let mut current_rs: Option<String> = None;
    let mut tagged: BTreeMap<&str, Vec<(i64, &str)>> = BTreeMap::new();
    let mut newest: Option<i64> = None;
    for n in &tree[1..] {
        match n.depth {
            1 => {
                let rev: i64 = n
                    .name
                    .strip_prefix("revision:")
                    .and_then(|r| r.parse().ok())
                    .ok_or_else(|| format!("not a revision row: {n:?}"))?;
                if revision.is_some_and(|prev| prev <= rev) {
                    return Err(format!("revision:{rev} after revision:{revision:?}"));
                }
                newest.get_or_insert(rev);
                revision = Some(rev);
                last_kind_rank = 0;
                last_rs_name.clear();
                current_rs = None;
            }
            2 => {
                let rev = revision.ok_or_else(|| format!("{n:?} before any revision"))?;
                let rank = match n.kind.as_str() {
                    "ReplicaSet" => 0,
                    "Experiment" => 1,
                    "AnalysisRun" => 2,
                    other => return Err(format!("a {other} directly under a revision")),
                };
                if rank < last_kind_rank {
                    return Err(format!("{n:?} out of the plugin's order"));
                }
                last_kind_rank = rank;
                current_rs = None;
                if n.kind == "ReplicaSet" {
                    if n.name <= last_rs_name {
                        return Err(format!("ReplicaSets not sorted by name at {}", n.name));
                    }
                    last_rs_name = n.name.clone();
                    let hash = n
                        .name
                        .strip_prefix(&format!("{rollout}-"))
                        .filter(|h| safe(h) && h.len() <= 10)
                        .ok_or_else(|| format!("{} is not {rollout}-<hash>", n.name))?;
                    if let Some((label, annotation)) = kubectl.get(&n.name)
                        && (label != hash || *annotation != rev.to_string())
                    {
                        return Err(format!(
                            "{} under revision:{rev} but kubectl reads hash {label:?} revision {annotation:?}",
                            n.name
                        ));
                    }
                    for tag in n.info.split(',').filter(|t| !t.is_empty()) {
                        tagged.entry(tag).or_default().push((rev, &n.name));
                    }
                    current_rs = Some(n.name.clone());
                }
                if n.kind == "AnalysisRun" {
                    let rest = n
                        .name
                        .strip_prefix(&format!("{rollout}-"))
                        .ok_or_else(|| format!("AnalysisRun {} is not {rollout}-…", n.name))?;
                    let mut parts = rest.split('-');
                    let hash = parts.next().unwrap_or("");
                    let named_rev = parts.next().unwrap_or("");
                    let suffix: Vec<&str> = parts.collect();
                    let suffix_ok = match suffix.as_slice() {
                        [] => true,
                        ["pre"] | ["post"] => true,
                        [step] => step.parse::<u32>().is_ok(),
                        _ => false,
                    };
                    if !safe(hash) || named_rev != rev.to_string() || !suffix_ok {
                        return Err(format!(
                            "AnalysisRun {} under revision:{rev} is not {rollout}-<hash>-{rev}[-step|-pre|-post]",
                            n.name
                        ));
                    }
                }
            }
            3 => {
                if n.kind == "Pod" {
                    let rs = current_rs
                        .as_deref()
                        .ok_or_else(|| format!("pod {} not under a ReplicaSet", n.name))?;
                    n.name
                        .strip_prefix(&format!("{rs}-"))
                        .filter(|s| s.len() == 5 && safe(s))
                        .ok_or_else(|| format!("pod {} is not {rs}-<5 chars>", n.name))?;
                    if !n.info.starts_with("ready:") {
                        return Err(format!("pod {} without ready:a/b", n.name));
                    }
                } else if n.kind != "Job" && n.kind != "ReplicaSet" && n.kind != "AnalysisRun" {
                    return Err(format!("a {} at depth 3", n.kind));
                }
            }
            _ => {
                if n.kind == "Pod" && current_rs.is_none() {
                    return Err(format!("pod {} outside a ReplicaSet", n.name));
                }
            }
        }
    }
    for (tag, sets) in &tagged {
        if matches!(*tag, "stable" | "canary" | "active" | "preview") && sets.len() > 1 {
            return Err(format!("{} ReplicaSets tagged {tag}: {sets:?}", sets.len()));
        }
    }
    if let (Some(sets), Some(newest)) = (tagged.get("canary"), newest)
        && sets.iter().any(|(rev, _)| *rev != newest)
    {
        return Err(format!(
            "the canary {sets:?} is not the newest revision {newest}"
        ));
    }
    Ok(())
}

/// What a scenario must show at some look (a named check over the look).
type Sighting = (&'static str, fn(&Look) -> bool);

/// Plays `scenario` and looks at the tree until every sighting has been seen, checking the
/// rules at each look.
fn play(scenario: &str, speed: u32, rollout: &str, ns: &str, sightings: &[Sighting]) {
    let sim = Sim::start(scenario, speed);
    let deadline = Instant::now() + DEADLINE;
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut kubectl = BTreeMap::new();
    let mut looks = 0;
    while seen.len() < sightings.len() {
        let look = Look::from(&sim.view(rollout, ns));
        looks += 1;
        // Read back each ReplicaSet once (its hash never changes; no scenario reuses one).
        let names: Vec<&str> = look
            .tree
            .iter()
            .filter(|n| n.kind == "ReplicaSet")
            .map(|n| n.name.as_str())
            .collect();
        if names.iter().any(|n| !kubectl.contains_key(*n)) {
            kubectl = sim.replica_sets(ns);
        }
        if let Err(broken) = check_rules(rollout, &look, &kubectl) {
            panic!("{scenario}: {broken}\n{}", sim.text(rollout, ns));
        }
        for (name, sighted) in sightings {
            if sighted(&look) {
                seen.insert(name);
            }
        }
        if Instant::now() > deadline {
            let missing: Vec<&str> = sightings
                .iter()
                .map(|(n, _)| *n)
                .filter(|n| !seen.contains(n))
                .collect();
            panic!(
                "{scenario}: not seen within {DEADLINE:?} ({looks} looks): {missing:?}\nlast look:\n{}",
                sim.text(rollout, ns)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The canary at its first step: SetWeight and the ActualWeight Argo derives from available
/// replicas without traffic routing (canary available × 100 / all available).
fn canary_at(look: &Look, step: &str, weight: i64, canary: usize, stable: usize) -> bool {
    let ready = |pods: &[&Node]| pods.iter().filter(|p| p.status == "Running").count();
    look.step == step
        && look.set_weight == weight
        && look
            .tagged("canary")
            .is_some_and(|(_, p)| p.len() == canary && ready(&p) == canary)
        && look
            .tagged("stable")
            .is_some_and(|(_, p)| p.len() == stable && ready(&p) == stable)
        && look.actual_weight == (canary * 100 / (canary + stable)) as i64
}

/// Fully promoted: Healthy, the newest revision stable with all pods, the old one scaled down.
fn promoted(look: &Look, replicas: usize) -> bool {
    look.status == "Healthy"
        && look.revisions() >= 2
        && look.tree[2].kind == "ReplicaSet"
        && look.tree[2].info.split(',').any(|c| c == "stable")
        && look
            .tagged("stable")
            .is_some_and(|(_, p)| p.len() == replicas)
        && look
            .replica_sets()
            .iter()
            .filter(|(rs, _)| !rs.info.contains("stable"))
            .all(|(rs, pods)| rs.status == "ScaledDown" && pods.is_empty())
}

#[test]
fn every_short_scenario_is_covered_here() {
    let out = Command::new(BIN).args(["sim", "--list"]).output().unwrap();
    let listed = String::from_utf8(out.stdout).unwrap();
    let covered = [
        "story",
        "story-objects",
        "healthy-canary",
        "healthy-bluegreen",
        "analysis-failed",
        "analysis-inconclusive",
        "crashloop",
        "crashloop-abort",
        "image-pull",
        "manual-pause",
        "controller-lag",
        "workloadref-onsuccess",
        "selector-reset",
        "awkward-weights",
        "blind-4xx",
    ];
    for name in listed.lines() {
        let scenario = warroom::sim::Scenario::resolve(name).unwrap();
        if scenario.model.is_some() {
            assert!(
                covered.contains(&name),
                "short scenario {name} has no tree test"
            );
        }
    }
}

#[test]
fn healthy_canary() {
    play(
        "healthy-canary",
        20,
        "web",
        "shop",
        &[
            ("20 % with 1 canary and 4 stable pods", |l| {
                canary_at(l, "1/4", 20, 1, 4)
            }),
            ("promoted", |l| promoted(l, 5)),
        ],
    );
}

#[test]
fn healthy_bluegreen() {
    play(
        "healthy-bluegreen",
        20,
        "web",
        "shop",
        &[
            ("a preview ReplicaSet beside the active one", |l| {
                l.tagged("preview").is_some() && l.tagged("active").is_some()
            }),
            ("promoted and active", |l| {
                l.status == "Healthy" && l.revisions() >= 2 && l.tree[2].info == "stable,active"
            }),
        ],
    );
}

#[test]
fn analysis_failed() {
    play(
        "analysis-failed",
        20,
        "web",
        "shop",
        &[
            ("a Failed AnalysisRun", |l| l.has("AnalysisRun", "Failed")),
            ("aborted", |l| {
                l.status == "Degraded"
                    && l.message.starts_with("RolloutAborted")
                    && l.tagged("canary").is_none_or(|(_, pods)| pods.is_empty())
            }),
        ],
    );
}

#[test]
fn analysis_inconclusive() {
    play(
        "analysis-inconclusive",
        20,
        "web",
        "shop",
        &[
            ("an Inconclusive AnalysisRun", |l| {
                l.has("AnalysisRun", "Inconclusive")
            }),
            // PauseReasonInconclusiveAnalysis = "InconclusiveAnalysisRun" (v1alpha1/types.go).
            ("paused on it", |l| {
                l.status == "Paused" && l.message == "InconclusiveAnalysisRun"
            }),
        ],
    );
}

#[test]
fn crashloop() {
    play(
        "crashloop",
        30,
        "web",
        "shop",
        &[
            ("a CrashLoopBackOff canary pod", |l| {
                l.tagged("canary").is_some_and(|(_, pods)| {
                    pods.iter()
                        .any(|p| p.status == "CrashLoopBackOff" && p.info.contains("restarts:"))
                })
            }),
            ("ProgressDeadlineExceeded", |l| {
                l.status == "Degraded" && l.message.starts_with("ProgressDeadlineExceeded")
            }),
        ],
    );
}

#[test]
fn crashloop_abort() {
    play(
        "crashloop-abort",
        30,
        "web",
        "shop",
        &[
            ("a CrashLoopBackOff canary pod", |l| {
                l.has("Pod", "CrashLoopBackOff")
            }),
            ("aborted, the canary scaled down", |l| {
                l.status == "Degraded"
                    && l.set_weight == 0
                    && l.replica_sets()
                        .iter()
                        .filter(|(rs, _)| !rs.info.contains("stable"))
                        .all(|(_, pods)| pods.is_empty())
            }),
        ],
    );
}

#[test]
fn image_pull() {
    play(
        "image-pull",
        30,
        "web",
        "shop",
        &[
            ("a pod failing to pull", |l| {
                l.has("Pod", "ErrImagePull") || l.has("Pod", "ImagePullBackOff")
            }),
            ("ProgressDeadlineExceeded", |l| {
                l.status == "Degraded" && l.message.starts_with("ProgressDeadlineExceeded")
            }),
        ],
    );
}

#[test]
fn manual_pause() {
    play(
        "manual-pause",
        300,
        "web",
        "shop",
        &[
            ("paused at 20 %", |l| {
                l.status == "Paused"
                    && l.message == "CanaryPauseStep"
                    && canary_at(l, "1/4", 20, 1, 4)
            }),
            ("promoted after the hour", |l| promoted(l, 5)),
        ],
    );
}

#[test]
fn controller_lag() {
    play(
        "controller-lag",
        20,
        "web",
        "shop",
        &[
            ("20 %", |l| canary_at(l, "1/4", 20, 1, 4)),
            ("promoted", |l| promoted(l, 5)),
        ],
    );
}

#[test]
fn workloadref_onsuccess() {
    play(
        "workloadref-onsuccess",
        20,
        "web",
        "shop",
        &[
            ("25 %", |l| canary_at(l, "1/2", 25, 1, 3)),
            ("promoted", |l| promoted(l, 4)),
        ],
    );
}

#[test]
fn selector_reset() {
    play(
        "selector-reset",
        20,
        "web",
        "shop",
        &[("paused at 20 %", |l| {
            l.status == "Paused" && canary_at(l, "1/2", 20, 1, 4)
        })],
    );
}

#[test]
fn awkward_weights() {
    // 10 % of 12: Argo's canary replica count rounds up to 1; the stable keeps 11.
    play(
        "awkward-weights",
        20,
        "web",
        "shop",
        &[("1 canary and 11 stable pods at 10 %", |l| {
            canary_at(l, "1/2", 10, 1, 11)
        })],
    );
}

#[test]
fn blind_4xx() {
    play(
        "blind-4xx",
        20,
        "web",
        "shop",
        &[
            ("a background AnalysisRun at 20 %", |l| {
                canary_at(l, "1/4", 20, 1, 4) && l.tree.iter().any(|n| n.kind == "AnalysisRun")
            }),
            ("promoted", |l| promoted(l, 5)),
        ],
    );
}

#[test]
fn story_objects() {
    play(
        "story-objects",
        20,
        "litellm",
        "llm",
        &[
            ("the canary at 20 % with its AnalysisRun", |l| {
                l.actual_weight == 20
                    && l.tagged("canary").is_some_and(|(_, p)| p.len() == 1)
                    && l.tagged("stable").is_some_and(|(_, p)| p.len() == 4)
                    && l.tree.iter().any(|n| n.kind == "AnalysisRun")
            }),
            ("aborted by its analysis", |l| {
                l.status == "Degraded" && l.message.starts_with("RolloutAborted")
            }),
        ],
    );
}

#[test]
fn story() {
    play(
        "story",
        20,
        "litellm",
        "llm",
        &[
            ("the canary at 20 % with its AnalysisRun", |l| {
                l.actual_weight == 20
                    && l.tagged("canary").is_some_and(|(_, p)| p.len() == 1)
                    && l.tree.iter().any(|n| n.kind == "AnalysisRun")
            }),
            ("aborted by its analysis", |l| {
                l.status == "Degraded" && l.message.starts_with("RolloutAborted")
            }),
        ],
    );
}
