//! The fake backend follows the model (issue 9, item 3), end to end with the real binary:
//! `warroom sim` plays a short-form canary whose new image answers 500 on a route, and
//! `warroom agent traffic` tallies the route. While the canary is paused, the failures are
//! the canary's share of the requests — its replica share without traffic routing, its
//! weight with traffic routing, both derived from the objects the simulator serves — and
//! after `warroom rollout abort` they stop.
//!
//! Argo's numbers for the two Rollouts (12 replicas, `setWeight: 10`): without traffic
//! routing the basic canary runs 1 canary and 11 stable pods (8.3 % of the requests, not
//! 10 %); with traffic routing it runs ceil(12 × 10 %) = 2 canary pods beside all 12 stable
//! ones and the router sends 10 % (not 2/14 = 14 %). Real sockets on 127.0.0.1 port 0, kubectl
//! to read the objects back; every wait has a deadline and no test asserts a duration.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_warroom");
const DEADLINE: Duration = Duration::from_secs(90);
const CHANNEL: &str = "2026-05-04--backend";
const ROUTE: &str = "GET /api/orders";
/// Requests per traffic run: enough that 8.3 % and 10 % (20 and 24 failures) are told apart.
const REQUESTS: u64 = 240;

fn scenario(traffic_routing: bool) -> String {
    let routing = if traffic_routing {
        "\n          canaryService: web-canary\n          stableService: web\n          \
         trafficRouting: {istio: {virtualService: {name: web, routes: [primary]}}}"
    } else {
        ""
    };
    let canary_service = if traffic_routing {
        "\n  - apiVersion: v1\n    kind: Service\n    metadata: {name: web-canary, namespace: shop}\n    \
         spec: {selector: {app: web}, ports: [{port: 80}]}"
    } else {
        ""
    };
    format!(
        r#"name: backend-follows
description: a canary answering 500 on one route, paused at 10 %
end: 10m
manifests:
  - apiVersion: argoproj.io/v1alpha1
    kind: Rollout
    metadata: {{name: web, namespace: shop}}
    spec:
      replicas: 12
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec: {{containers: [{{name: web, image: "shop/web:v1"}}]}}
      strategy:
        canary:{routing}
          steps: [{{setWeight: 10}}, {{pause: {{}}}}]
  - apiVersion: v1
    kind: Service
    metadata: {{name: web, namespace: shop}}
    spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}{canary_service}
backend:
  routes:
    - route: "{ROUTE}"
      service: web
      answers: {{"shop/web:v2": 500}}
story:
  - {{at: 3s, release: {{image: "shop/web:v2"}}}}
"#
    )
}

/// A running `warroom sim` with its temp dir (kubeconfig, channel store). Killed when dropped.
struct Sim {
    child: Child,
    dir: tempfile::TempDir,
    backend: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    fn start(text: &str) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("scenario.yaml");
        std::fs::write(&file, text).unwrap();
        let mut child = Command::new(BIN)
            .args(["sim", "--port", "0", "--backend-port", "0", "--speed", "1"])
            .arg("--scenario")
            .arg(&file)
            .arg("--kubeconfig-out")
            .arg(dir.path().join("kubeconfig"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Two lines, the API URL then the backend URL; the sim prints them at once.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = || {
            let mut l = String::new();
            stdout.read_line(&mut l).unwrap();
            l.trim().to_string()
        };
        let api = line();
        let backend = line();
        assert!(api.starts_with("http://127.0.0.1:"), "{api:?}");
        assert!(backend.starts_with("http://127.0.0.1:"), "{backend:?}");
        let sim = Sim {
            child,
            dir,
            backend,
        };
        let out = sim
            .warroom(&["open", "backend", "--date", "2026-05-04"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text_of(&out));
        sim
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("channels")
    }

    fn warroom(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.arg("--root")
            .arg(self.root())
            .args(args)
            .env("KUBECONFIG", self.dir.path().join("kubeconfig"))
            .env("WARROOM_LOOPBACK_ONLY", "1")
            .env_remove("WARROOM_ROOT")
            .env_remove("WARROOM_CHANNEL")
            .env_remove("WARROOM_RELAY")
            .stdin(Stdio::null());
        cmd
    }

    /// An object (or list) in namespace `shop`, as kubectl reads it back.
    fn get(&self, what: &[&str]) -> Value {
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("get")
            .args(what)
            .args(["-n", "shop", "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "kubectl get {what:?}: {}",
            text_of(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits (bounded) until `ready` holds for the Rollout and the namespace's pods.
    fn wait_for(
        &self,
        what: &str,
        ready: impl Fn(&Value, &[Value]) -> bool,
    ) -> (Value, Vec<Value>) {
        let start = Instant::now();
        loop {
            let rollout = self.get(&["rollout", "web"]);
            let pods = self.get(&["pods"])["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if ready(&rollout, &pods) {
                return (rollout, pods);
            }
            assert!(
                start.elapsed() < DEADLINE,
                "{what} not reached in {DEADLINE:?}: status {}\npods: {:?}",
                rollout["status"],
                pods.iter().map(describe_pod).collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Runs `warroom agent traffic` for [`REQUESTS`] requests to [`ROUTE`] and returns its
    /// summary's `(requests, failures, 5xx)` for the route.
    fn traffic(&self) -> (u64, u64, u64) {
        let before = self.summaries().len();
        let out = self
            .warroom(&[
                "agent",
                "traffic",
                "--channel",
                CHANNEL,
                "--url",
                &self.backend,
            ])
            .args([
                "--route", ROUTE, "--rate", "80", "--window", "1s", "--count",
            ])
            .arg(REQUESTS.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "warroom agent traffic: {}",
            text_of(&out)
        );
        let summaries = self.summaries();
        assert_eq!(summaries.len(), before + 1, "one summary per run");
        let body = summaries.last().unwrap();
        let row = body
            .lines()
            .find(|l| l.starts_with(&format!("| `{ROUTE}` |")))
            .unwrap_or_else(|| panic!("no row for {ROUTE}:\n{body}"));
        let cells: Vec<u64> = row
            .split('|')
            .map(|c| c.trim().trim_matches('*'))
            .filter_map(|c| c.parse().ok())
            .collect();
        // requests, 2xx, 3xx, 4xx, 5xx, errors, timeouts, failures, then the latencies.
        let [total, _, _, _, five, errors, timeouts, failures, ..] = cells[..] else {
            panic!("unexpected row: {row}");
        };
        assert_eq!((errors, timeouts), (0, 0), "{body}");
        (total, failures, five)
    }

    /// The bodies of the traffic observer's summaries, oldest first.
    fn summaries(&self) -> Vec<String> {
        let out = self
            .warroom(&["timeline", "--channel", CHANNEL, "--format", "ndjson"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text_of(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|e| e["author"] == "traffic")
            .filter_map(|e| e["body"].as_str().map(str::to_string))
            .filter(|b| b.starts_with("**traffic summary**"))
            .collect()
    }
}

fn text_of(out: &Output) -> String {
    format!(
        "{:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn describe_pod(p: &Value) -> String {
    format!(
        "{} {} ready={}",
        p["metadata"]["name"].as_str().unwrap_or(""),
        image(p),
        is_ready(p)
    )
}

fn image(pod: &Value) -> &str {
    pod["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
}

fn is_ready(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn ready_with(pods: &[Value], img: &str) -> usize {
    pods.iter()
        .filter(|p| image(p) == img && is_ready(p))
        .count()
}

/// Paused at `setWeight: 10` with every pod the step wants Ready.
fn paused_and_ready(rollout: &Value, pods: &[Value], canary: usize, stable: usize) -> bool {
    let s = &rollout["status"];
    s["phase"] == "Paused"
        && s["currentStepIndex"] == 1
        && ready_with(pods, "shop/web:v2") == canary
        && ready_with(pods, "shop/web:v1") == stable
        && pods.iter().all(is_ready)
}

/// Failures within 2 of `share` of the requests (the backend's picks are a smooth weighted
/// round-robin, within one of the exact share per pod).
fn assert_share(what: &str, (total, failures, five): (u64, u64, u64), share: f64) {
    assert_eq!(total, REQUESTS, "{what}");
    assert_eq!(failures, five, "{what}: every failure is the canary's 500");
    let expected = share * total as f64;
    assert!(
        (failures as f64 - expected).abs() <= 2.0,
        "{what}: {failures} failures of {total}, expected {expected:.1} ({:.1} %)",
        share * 100.0
    );
}

fn abort(sim: &Sim) {
    let out = sim
        .warroom(&["rollout", "abort", "web", "-n", "shop"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "warroom rollout abort: {}",
        text_of(&out)
    );
}

#[test]
fn without_traffic_routing_the_canary_fails_its_replica_share_until_aborted() {
    let sim = Sim::start(&scenario(false));
    let (_, pods) = sim.wait_for(
        "paused at 10 % with 1 canary and 11 stable Ready",
        |r, p| paused_and_ready(r, p, 1, 11),
    );
    // The Service selects both versions: the share is the canary's share of Ready endpoints.
    let share = ready_with(&pods, "shop/web:v2") as f64 / pods.len() as f64;
    assert!((share - 1.0 / 12.0).abs() < 1e-9, "{share}");
    assert_share("paused at 10 %", sim.traffic(), share);

    abort(&sim);
    sim.wait_for("aborted, no canary pod Ready", |r, p| {
        r["status"]["abort"] == true && ready_with(p, "shop/web:v2") == 0
    });
    let (total, failures, _) = sim.traffic();
    assert_eq!((total, failures), (REQUESTS, 0), "after the abort");
}

#[test]
fn with_traffic_routing_the_canary_fails_its_weight_and_stops_at_the_abort() {
    let sim = Sim::start(&scenario(true));
    let (rollout, _) = sim.wait_for(
        "paused at 10 % with 2 canary and 12 stable Ready",
        |r, p| {
            paused_and_ready(r, p, 2, 12)
                && r["status"]["canary"]["weights"]["canary"]["weight"] == 10
        },
    );
    // The router's weight decides, not the 2 of 14 pods.
    let weight = rollout["status"]["canary"]["weights"]["canary"]["weight"]
        .as_f64()
        .unwrap();
    assert_share("paused at weight 10", sim.traffic(), weight / 100.0);

    abort(&sim);
    // The weight goes back to 0 at once; the canary pods stay up for
    // abortScaleDownDelaySeconds (30 s), and get no traffic.
    sim.wait_for("aborted", |r, _| r["status"]["abort"] == true);
    let (total, failures, _) = sim.traffic();
    assert_eq!((total, failures), (REQUESTS, 0), "after the abort");
}
