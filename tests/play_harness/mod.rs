//! Playing a scenario as a user runs it, shared by tests/heldout.rs (object-form held-out
//! scenarios) and tests/sim_library_play.rs (the built-in short-form library): the real
//! `warroom sim` and the three real observers (`warroom agent pipeline`, `data-plane` and,
//! when routes are given, `traffic`) posting to a channel in a temp store. While the sim still
//! runs, the caller may read its objects with the real kubectl; then the alerts the observers
//! raised are compared with what was expected:
//!
//! - every expected alert fires (0 misses) and no other alert does (0 false alarms);
//! - every expected resolution is posted, and no other alert is resolved;
//! - no condition is alerted twice while it is open (one alert per condition).
//!
//! An alert is identified by its headline (`**title** — **subject**: …`, docs/OBSERVERS.md):
//! the detector's slug (the title for data-plane alerts, `route-failing` for traffic) and the
//! object as `Kind/namespace/name`; an expected object may end in `*` for a name the
//! controller derives (`ReplicaSet/shop/web-*`). Waits are bounded by a deadline; no duration
//! is asserted.
#![allow(dead_code)] // each test binary uses part of it

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use warroom::rollout::detect::Detector;

pub const BIN: &str = env!("CARGO_BIN_EXE_warroom");
/// Hang guard for every wait, not a speed assertion.
pub const DEADLINE: Duration = Duration::from_secs(240);
/// After the story's end and every expected entry, how long nothing new may be alerted.
pub const QUIET: Duration = Duration::from_secs(4);
const CHANNEL: &str = "2026-05-04--play";

/// (detector slug, object).
pub type Condition = (String, String);

/// What to play and what must be said.
#[derive(Debug, Clone)]
pub struct Plan {
    /// For messages.
    pub name: String,
    /// A scenario file or a built-in scenario's name, as `warroom sim --scenario` takes it.
    pub scenario: String,
    /// The story's end in scenario time.
    pub end: Duration,
    /// The namespace the pipeline and data-plane observers watch (every Rollout in it).
    pub namespace: String,
    pub speed: f64,
    /// Traffic routes (`[METHOD] PATH [BODY]`) against the simulator's backend, if any.
    pub routes: Vec<String>,
    pub rate: String,
    /// Alerts that must fire; every other alert is a false alarm.
    pub alerts: Vec<Condition>,
    /// Alerts that must be resolved before the end; no other alert may be.
    pub resolved: Vec<Condition>,
    /// Text some entry must hold.
    pub said: Vec<String>,
    /// Text no entry may hold.
    pub never_said: Vec<String>,
    /// Text exactly one entry holds.
    pub said_once: Vec<String>,
}

impl Plan {
    pub fn new(name: &str, scenario: &str, end: Duration, namespace: &str, speed: f64) -> Plan {
        Plan {
            name: name.into(),
            scenario: scenario.into(),
            end,
            namespace: namespace.into(),
            speed,
            routes: Vec::new(),
            rate: "10/s".into(),
            alerts: Vec::new(),
            resolved: Vec::new(),
            said: Vec::new(),
            never_said: Vec::new(),
            said_once: Vec::new(),
        }
    }
}

/// A child process killed when dropped (a failing test leaves nothing running).
pub struct Proc {
    child: Child,
    what: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn terminate(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let until = Instant::now() + DEADLINE;
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < until,
                "{} did not stop on SIGTERM",
                self.what
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn warroom(root: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("--root")
        .arg(root)
        .env_remove("WARROOM_CHANNEL")
        .env_remove("WARROOM_ROOT")
        .env_remove("WARROOM_RELAY")
        .env_remove("KUBECONFIG")
        .env("WARROOM_LOOPBACK_ONLY", "1")
        .stdin(Stdio::null());
    cmd
}

fn spawn(mut cmd: Command, what: &str, log: &Path) -> Proc {
    let err = std::fs::File::create(log).unwrap();
    let child = cmd
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    Proc {
        child,
        what: what.into(),
    }
}

/// Every entry of the channel, as `warroom timeline --format ndjson` prints it.
fn entries(root: &Path) -> Vec<Value> {
    let out = warroom(root)
        .args(["timeline", "--channel", CHANNEL, "--format", "ndjson"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "timeline: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The (detector, object) an alert's headline names; `namespace` completes data-plane owners.
pub fn condition_of(body: &str, namespace: &str) -> Condition {
    let first = body.lines().next().unwrap_or_default();
    if let Some(rest) = first.strip_prefix("**route `")
        && let Some((route, _)) = rest.split_once("` is failing**")
    {
        return ("route-failing".into(), format!("route/{route}"));
    }
    let bold: Vec<&str> = first.split("**").collect();
    // "**title** — **subject**: …" splits into ["", title, " — ", subject, ": …"].
    let title = bold.get(1).copied().unwrap_or(first);
    let detector = Detector::ALL
        .iter()
        .find(|d| d.title() == title)
        .map(|d| d.slug().to_string())
        .unwrap_or_else(|| title.replace(' ', "-"));
    let subject = if bold.get(2) == Some(&" — ") {
        bold.get(3).copied().unwrap_or_default()
    } else {
        ""
    };
    let subject = subject.replace('`', "");
    let object = match subject.split_once(' ') {
        Some((kind, name)) if name.contains('/') => format!("{kind}/{name}"),
        Some((kind, name)) => format!("{kind}/{namespace}/{name}"),
        None => subject,
    };
    (detector, object)
}

/// Whether a said condition matches an expected one (an object ending in `*` matches any
/// rest of the name).
pub fn matches(want: &Condition, got: &Condition) -> bool {
    want.0 == got.0
        && match want.1.strip_suffix('*') {
            Some(prefix) => got.1.starts_with(prefix),
            None => want.1 == got.1,
        }
}

/// What the observers said: first alerts per condition, and resolutions per condition.
struct Said {
    alerts: BTreeMap<Condition, usize>,
    resolved: BTreeMap<Condition, usize>,
    bodies: Vec<String>,
}

fn said(entries: &[Value], namespace: &str) -> Said {
    let mut by_id: BTreeMap<&str, &Value> = BTreeMap::new();
    for e in entries {
        by_id.insert(e["id"].as_str().unwrap(), e);
    }
    let mut alerts = BTreeMap::new();
    let mut resolved = BTreeMap::new();
    let mut bodies = Vec::new();
    for e in entries {
        let body = e["body"].as_str().unwrap();
        let refs = e["refs"].as_array().unwrap();
        match e["kind"].as_str().unwrap() {
            // An escalation refs its first alert: the same condition.
            "alert" if refs.is_empty() => {
                *alerts.entry(condition_of(body, namespace)).or_default() += 1;
                bodies.push(format!("{}: {}", e["id"], first_line(body)));
            }
            "resolved" => {
                let first = refs
                    .first()
                    .and_then(|r| by_id.get(r.as_str().unwrap()))
                    .unwrap_or_else(|| panic!("a resolution refs no alert: {e}"));
                let cond = condition_of(first["body"].as_str().unwrap(), namespace);
                *resolved.entry(cond).or_default() += 1;
                bodies.push(format!("{} (resolved): {}", e["id"], first_line(body)));
            }
            _ => {}
        }
    }
    Said {
        alerts,
        resolved,
        bodies,
    }
}

fn first_line(body: &str) -> &str {
    body.lines().next().unwrap_or_default()
}

fn all_matched(want: &[Condition], got: &BTreeMap<Condition, usize>) -> bool {
    want.iter().all(|w| got.keys().any(|g| matches(w, g)))
}

/// A scenario playing: the simulator still runs (for [`Played::kubectl`]) and the
/// observers' entries are collected. [`Played::finish`] stops it and checks what was said.
pub struct Played {
    plan: Plan,
    tmp: tempfile::TempDir,
    kubeconfig: PathBuf,
    sim: Proc,
    all: Vec<Value>,
}

/// Plays `plan` to its end with the observers, until every expected entry is in and nothing
/// new has been said for a while; the observers are stopped, the simulator keeps running.
pub fn play(plan: Plan) -> Played {
    let wall_length = plan.end.div_f64(plan.speed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("channels");
    let kubeconfig = tmp.path().join("kubeconfig");
    let out = warroom(&root)
        .args(["open", "play", "--date", "2026-05-04"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let mut sim_cmd = warroom(&root);
    sim_cmd
        .args(["sim", "--port", "0", "--backend-port", "0", "--speed"])
        .arg(plan.speed.to_string())
        .arg("--scenario")
        .arg(&plan.scenario)
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(
            std::fs::File::create(tmp.path().join("sim.log")).unwrap(),
        ));
    let mut sim_child = sim_cmd.spawn().unwrap();
    let mut stdout = BufReader::new(sim_child.stdout.take().unwrap());
    let sim = Proc {
        child: sim_child,
        what: "warroom sim".into(),
    };
    let mut line = || {
        let mut l = String::new();
        stdout.read_line(&mut l).unwrap();
        l.trim().to_string()
    };
    let _api = line();
    let backend = line();
    assert!(
        backend.starts_with("http://127.0.0.1:"),
        "{}: the sim printed {backend:?}",
        plan.name
    );
    let started = Instant::now();

    let observer = |role: &str, extra: &[&str]| {
        let mut cmd = warroom(&root);
        cmd.args(["agent", role, "--channel", CHANNEL, "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["-n", &plan.namespace])
            .args(extra);
        spawn(
            cmd,
            &format!("warroom agent {role}"),
            &tmp.path().join(format!("{role}.log")),
        )
    };
    let mut pipeline = observer("pipeline", &[]);
    let mut data_plane = observer("data-plane", &["--window", "2s"]);
    // Traffic starts once every route is served (a user points it at a running service; a
    // short-form scenario's initial pods are still starting at time 0).
    for route in &plan.routes {
        wait_serving(&backend, route, &plan.name);
    }
    let mut traffic = (!plan.routes.is_empty()).then(|| {
        let mut cmd = warroom(&root);
        cmd.args(["agent", "traffic", "--channel", CHANNEL, "--url", &backend]);
        for r in &plan.routes {
            cmd.arg("--route").arg(r);
        }
        cmd.args(["--rate", &plan.rate, "--window", "2s", "--duration"])
            .arg(format!("{}ms", wall_length.as_millis().max(2000)));
        spawn(
            cmd,
            "warroom agent traffic",
            &tmp.path().join("traffic.log"),
        )
    });

    // The story plays to its end; then every expected entry must arrive, and after the last
    // new one nothing may be alerted for a while.
    let end = started + wall_length;
    let until = end + DEADLINE;
    let mut last_count = 0;
    let mut last_change = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = Instant::now();
        let all = entries(&root);
        if all.len() != last_count {
            last_count = all.len();
            last_change = now;
        }
        let got = said(&all, &plan.namespace);
        let complete =
            all_matched(&plan.alerts, &got.alerts) && all_matched(&plan.resolved, &got.resolved);
        if (now >= end && complete && now.duration_since(last_change) >= QUIET) || now > until {
            break;
        }
    }
    pipeline.terminate();
    data_plane.terminate();
    if let Some(t) = traffic.as_mut() {
        t.terminate();
    }
    let all = entries(&root);
    Played {
        plan,
        tmp,
        kubeconfig,
        sim,
        all,
    }
}

/// Waits until `route` (`[METHOD] PATH [BODY]`) answers something other than 503 (no Ready
/// pod behind its Service).
fn wait_serving(backend: &str, route: &str, name: &str) {
    use std::io::{Read, Write};
    let addr = backend.trim_start_matches("http://").trim_end_matches('/');
    let mut parts = route.splitn(3, ' ');
    let first = parts.next().unwrap_or("/");
    let (method, path, body) = if first.starts_with('/') {
        ("GET", first, "")
    } else {
        (
            first,
            parts.next().unwrap_or("/"),
            parts.next().unwrap_or(""),
        )
    };
    let until = Instant::now() + DEADLINE;
    loop {
        let status = std::net::TcpStream::connect(addr)
            .ok()
            .and_then(|mut conn| {
                let request = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                conn.write_all(request.as_bytes()).ok()?;
                let mut answer = String::new();
                conn.read_to_string(&mut answer).ok()?;
                answer.split(' ').nth(1).map(str::to_string)
            });
        if status.as_deref().is_some_and(|s| s != "503") {
            return;
        }
        assert!(
            Instant::now() < until,
            "{name}: route {route} never served (last answer {status:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Played {
    /// `kubectl ARGS -o json` against the simulator, parsed.
    pub fn kubectl(&self, args: &[&str]) -> Value {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .args(["-o", "json"])
            .env_remove("KUBECONFIG")
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "{}: kubectl {args:?}: {}",
            self.plan.name,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    pub fn namespace(&self) -> &str {
        &self.plan.namespace
    }

    /// Items of a kind in the plan's namespace.
    pub fn list(&self, kind: &str) -> Vec<Value> {
        let list = self.kubectl(&["get", kind, "-n", &self.plan.namespace]);
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Stops the simulator and checks what the observers said against the plan; `problems`
    /// (from checking the objects) are reported with it.
    pub fn finish(mut self, problems: Vec<String>) {
        self.sim.terminate();
        let plan = &self.plan;
        let name = &plan.name;
        let all = &self.all;
        // A silent run proves nothing unless every observer was watching: each says so first.
        let mut starts = vec![
            ("pipeline", "**watching Rollout `"),
            ("data-plane", "**baseline of namespace"),
        ];
        if !plan.routes.is_empty() {
            starts.push(("traffic", "**traffic summary**"));
        }
        for (author, start) in starts {
            assert!(
                all.iter()
                    .any(|e| e["author"] == author && e["body"].as_str().unwrap().contains(start)),
                "{name}: {author} never said {start:?}"
            );
        }
        let text: Vec<&str> = all.iter().map(|e| e["body"].as_str().unwrap()).collect();
        for want in &plan.said {
            assert!(
                text.iter().any(|b| b.contains(want.as_str())),
                "{name}: no entry says {want:?}:\n{}",
                text.join("\n---\n")
            );
        }
        for once in &plan.said_once {
            let n = text.iter().filter(|b| b.contains(once.as_str())).count();
            assert_eq!(
                n,
                1,
                "{name}: {once:?} said {n} times:\n{}",
                text.join("\n---\n")
            );
        }
        for unwanted in &plan.never_said {
            let found: Vec<&&str> = text
                .iter()
                .filter(|b| b.contains(unwanted.as_str()))
                .collect();
            assert!(found.is_empty(), "{name}: said {unwanted:?}: {found:#?}");
        }
        let got = said(all, &plan.namespace);
        let unmatched = |want: &[Condition], got: &BTreeMap<Condition, usize>| -> Vec<Condition> {
            want.iter()
                .filter(|w| !got.keys().any(|g| matches(w, g)))
                .cloned()
                .collect()
        };
        let unexpected = |got: &BTreeMap<Condition, usize>, want: &[Condition]| -> Vec<Condition> {
            got.keys()
                .filter(|g| !want.iter().any(|w| matches(w, g)))
                .cloned()
                .collect()
        };
        let misses = unmatched(&plan.alerts, &got.alerts);
        let false_alarms = unexpected(&got.alerts, &plan.alerts);
        let missed_resolutions = unmatched(&plan.resolved, &got.resolved);
        let wrong_resolutions = unexpected(&got.resolved, &plan.resolved);
        let duplicates: BTreeSet<_> = got
            .alerts
            .iter()
            .filter(|(c, n)| **n > got.resolved.get(*c).copied().unwrap_or(0) + 1)
            .collect();
        let logs: String = ["pipeline", "data-plane", "traffic", "sim"]
            .iter()
            .filter_map(|r| {
                let log = std::fs::read_to_string(self.tmp.path().join(format!("{r}.log"))).ok()?;
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                Some(format!(
                    "--- {r}.log (last lines)\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ))
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            misses.is_empty()
                && false_alarms.is_empty()
                && missed_resolutions.is_empty()
                && wrong_resolutions.is_empty()
                && duplicates.is_empty()
                && problems.is_empty(),
            "{name}: misses {misses:?}\nfalse alarms {false_alarms:?}\nmissed resolutions \
             {missed_resolutions:?}\nresolved but not expected {wrong_resolutions:?}\nalerted \
             twice while open {duplicates:?}\nobjects against Argo's rules: {problems:#?}\n\
             what was said:\n{}\nobserver logs:\n{logs}",
            got.bodies.join("\n")
        );
    }
}

#[test]
fn headlines_name_detector_and_object() {
    assert_eq!(
        condition_of(
            "**rollout degraded** — **Rollout shop/web**: aborted: x\n\nmore",
            "shop"
        ),
        ("rollout-degraded".into(), "Rollout/shop/web".into())
    );
    assert_eq!(
        condition_of(
            "**pod crash-looping** — **ReplicaSet web-7f6b8d9c5e**: 1 failing",
            "shop"
        ),
        (
            "pod-crash-looping".into(),
            "ReplicaSet/shop/web-7f6b8d9c5e".into()
        )
    );
    assert_eq!(
        condition_of("**route `POST /v1/embeddings` is failing**: 5 of 5", "llm"),
        ("route-failing".into(), "route/POST /v1/embeddings".into())
    );
    let derived = (
        "pod-crash-looping".to_string(),
        "ReplicaSet/shop/web-*".to_string(),
    );
    assert!(matches(
        &derived,
        &(
            "pod-crash-looping".into(),
            "ReplicaSet/shop/web-6c8d".into()
        )
    ));
    assert!(!matches(
        &derived,
        &(
            "image-pull-failing".into(),
            "ReplicaSet/shop/web-6c8d".into()
        )
    ));
}
