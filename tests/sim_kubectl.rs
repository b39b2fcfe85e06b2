//! The real `warroom sim` binary against the machine's real `kubectl`.
//!
//! Each test starts the simulator on port 0 with a fresh temp dir (kubeconfig, kubectl's
//! discovery cache, scenario files), and kills it on drop. Every wait has a generous deadline
//! and fails on it; no test asserts how long anything took.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

/// A running `warroom sim` and its temp dir.
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

/// Reads lines from a child's pipe on a thread, so the test can wait with a deadline.
fn lines(pipe: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Sim {
    fn start(scenario: &str, speed: &str) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let mut child = Command::new(env!("CARGO_BIN_EXE_warroom"))
            .args([
                "sim",
                "--scenario",
                scenario,
                "--speed",
                speed,
                "--port",
                "0",
            ])
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = lines(child.stdout.take().unwrap());
        let api_url = out.recv_timeout(DEADLINE).expect("sim printed its API URL");
        let backend_url = out
            .recv_timeout(DEADLINE)
            .expect("sim printed its backend URL");
        assert!(api_url.starts_with("http://127.0.0.1:"), "{api_url}");
        assert!(
            backend_url.starts_with("http://127.0.0.1:"),
            "{backend_url}"
        );
        Sim { child, dir }
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    fn terminate(&mut self) -> std::process::ExitStatus {
        let term = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let deadline = std::time::Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "sim did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kubectl(&self) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.arg("--kubeconfig")
            .arg(self.dir.path().join("kubeconfig"))
            .arg("--cache-dir")
            .arg(self.dir.path().join("cache"))
            .arg("--request-timeout=30s");
        cmd
    }

    fn get(&self, args: &[&str]) -> String {
        let out = self.kubectl().args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn first_columns(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().take(2).map(str::to_string).collect())
        .collect()
}

#[test]
fn kubectl_get_pods_all_namespaces() {
    let sim = Sim::start("story-objects", "1");
    let out = sim.get(&["get", "pods", "-A"]);
    let rows = first_columns(&out);
    assert_eq!(rows[0], ["NAMESPACE", "NAME"], "{out}");
    assert!(
        rows.contains(&vec!["llm".into(), "litellm-7d9f8b6c5d-4xkqp".into()]),
        "{out}"
    );
    // 5 workloadRef Deployment pods + 5 Rollout pods at the start of the story.
    assert_eq!(rows.len(), 11, "{out}");
    assert!(out.contains("Running"), "{out}");
}

#[test]
fn kubectl_get_rollouts_and_argo_kinds() {
    let sim = Sim::start("story-objects", "1");
    let out = sim.get(&["get", "rollouts.argoproj.io", "-A"]);
    assert!(
        out.lines().next().unwrap().split_whitespace().eq([
            "NAMESPACE",
            "NAME",
            "DESIRED",
            "CURRENT",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE"
        ]),
        "{out}"
    );
    assert!(out.contains("litellm"), "{out}");
    let out = sim.get(&["get", "analysistemplates", "-n", "llm", "-o", "name"]);
    assert_eq!(
        out.trim(),
        "analysistemplate.argoproj.io/litellm-error-rate"
    );
    let out = sim.get(&[
        "get",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "-o",
        "jsonpath={.metadata.generation}/{.status.observedGeneration}",
    ]);
    assert_eq!(out, "1/1");
    let out = sim.get(&["auth", "can-i", "watch", "rollouts.argoproj.io"]);
    assert_eq!(out.trim(), "yes");
}

#[test]
fn kubectl_get_pods_watch_sees_the_scenarios_change() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(
        dir.path(),
        "crash.yaml",
        r#"
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: worker, namespace: llm}
    spec: {containers: [{name: c, image: busybox}]}
    status: {phase: Running, containerStatuses: [{name: c, ready: true, restartCount: 0}]}
steps:
  - at: 2s
    patch:
      apiVersion: v1
      kind: Pod
      namespace: llm
      name: worker
      merge: {status: {containerStatuses: [{name: c, ready: false, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff}}}]}}
"#,
    );
    let sim = Sim::start(scenario.to_str().unwrap(), "1");
    let mut kubectl = sim
        .kubectl()
        .args(["get", "pods", "-n", "llm", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(kubectl.stdout.take().unwrap());
    let mut seen = Vec::new();
    let found = loop {
        match out.recv_timeout(DEADLINE) {
            Ok(line) => {
                let hit = line.contains("CrashLoopBackOff");
                seen.push(line);
                if hit {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let _ = kubectl.kill();
    let _ = kubectl.wait();
    assert!(
        found,
        "kubectl -w never printed the change; it printed:\n{seen:#?}"
    );
    assert!(seen[0].starts_with("NAME"), "{seen:#?}");
    let change = seen.last().unwrap();
    assert!(
        change
            .split_whitespace()
            .eq(["worker", "0/1", "CrashLoopBackOff", "3"]
                .into_iter()
                .chain(change.split_whitespace().skip(4))),
        "{change}"
    );
}

#[test]
fn sigterm_shuts_down_cleanly_even_with_a_watch_open() {
    let mut sim = Sim::start("story-objects", "1");
    let mut kubectl = sim
        .kubectl()
        .args(["get", "pods", "-n", "llm", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = lines(kubectl.stdout.take().unwrap());
    out.recv_timeout(DEADLINE)
        .expect("kubectl printed the table header");
    let status = sim.terminate();
    let _ = kubectl.kill();
    let _ = kubectl.wait();
    assert_eq!(status.code(), Some(0));
}

fn run_bad(scenario_text: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.yaml", scenario_text);
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--port", "0", "--scenario"])
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn malformed_yaml_is_a_usage_error_naming_the_file() {
    let (code, stdout, stderr) = run_bad("objects: [\n  - {kind: Pod\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "nothing served: {stdout}");
    assert!(
        stderr.contains("bad.yaml: not a valid scenario"),
        "{stderr}"
    );
    assert!(stderr.contains("line"), "{stderr}");
}

#[test]
fn object_missing_fields_names_step_and_field() {
    let (code, stdout, stderr) = run_bad(
        "objects:\n  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}\nsteps:\n  - at: 10s\n    apply: {apiVersion: v1, kind: Pod, metadata: {namespace: llm}}\n",
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("bad.yaml: steps[0] (at 10s): field `metadata.name`: missing"),
        "{stderr}"
    );
    let (code, _, stderr) = run_bad("objects:\n  - {kind: Pod, metadata: {name: x}}\n");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bad.yaml: objects[0]: field `apiVersion`: missing"),
        "{stderr}"
    );
}

#[test]
fn unknown_scenario_and_bad_speed_are_usage_errors() {
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--scenario", "nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("one of the built-in scenarios: story, "),
        "{stderr}"
    );
    assert!(stderr.contains(", healthy, "), "{stderr}");
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--list-scenarios"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(listed.starts_with("story\t5m 30s\t"), "{listed}");
    assert!(listed.contains("\ndetector-canary-math\t"), "{listed}");
    let out = Command::new(env!("CARGO_BIN_EXE_warroom"))
        .args(["sim", "--speed", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// One object of each kind the simulator added for the controller and traffic routers.
const MORE_KINDS: &str = r#"
objects:
  - {apiVersion: v1, kind: Namespace, metadata: {name: llm}}
  - apiVersion: v1
    kind: Node
    metadata: {name: node-a, labels: {node-role.kubernetes.io/worker: ""}}
    status: {conditions: [{type: Ready, status: "True"}], nodeInfo: {kubeletVersion: v1.32.0}}
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: litellm-config, namespace: llm}, data: {a: "1"}}
  - apiVersion: v1
    kind: Endpoints
    metadata: {name: litellm, namespace: llm}
    subsets: [{addresses: [{ip: 10.8.0.11}], ports: [{port: 4000}]}]
  - apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: litellm-abcde, namespace: llm, labels: {kubernetes.io/service-name: litellm}}
    addressType: IPv4
    ports: [{port: 4000}]
    endpoints: [{addresses: [10.8.0.11]}]
  - apiVersion: autoscaling/v2
    kind: HorizontalPodAutoscaler
    metadata: {name: litellm, namespace: llm}
    spec: {scaleTargetRef: {apiVersion: argoproj.io/v1alpha1, kind: Rollout, name: litellm}, minReplicas: 2, maxReplicas: 10}
  - apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: litellm, namespace: llm}
    spec: {ingressClassName: nginx, rules: [{host: llm.example.com}]}
  - apiVersion: gateway.networking.k8s.io/v1
    kind: HTTPRoute
    metadata: {name: litellm, namespace: llm}
    spec: {hostnames: [llm.example.com]}
  - apiVersion: networking.istio.io/v1beta1
    kind: VirtualService
    metadata: {name: litellm, namespace: llm}
    spec: {hosts: [litellm], http: [{name: primary, route: [{destination: {host: litellm-stable}, weight: 100}]}]}
  - apiVersion: argoproj.io/v1alpha1
    kind: ClusterAnalysisTemplate
    metadata: {name: error-rate}
    spec: {metrics: [{name: error-rate, provider: {prometheus: {query: "vector(0)"}}}]}
"#;

/// Every kind added for issue 9 is listed by kubectl (with its printer columns), and a
/// `kubectl get -w` on it sees a write made with `kubectl label` as a MODIFIED event.
#[test]
fn kubectl_lists_and_watches_every_added_kind() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = write(dir.path(), "kinds.yaml", MORE_KINDS);
    let sim = Sim::start(scenario.to_str().unwrap(), "1");
    let kinds: &[(&str, Option<&str>, &str, &str)] = &[
        ("nodes", None, "node-a", "Ready"),
        ("configmaps", Some("llm"), "litellm-config", "1"),
        ("endpoints", Some("llm"), "litellm", "10.8.0.11:4000"),
        ("endpointslices", Some("llm"), "litellm-abcde", "IPv4"),
        ("hpa", Some("llm"), "litellm", "Rollout/litellm"),
        ("ingresses", Some("llm"), "litellm", "llm.example.com"),
        ("httproutes", Some("llm"), "litellm", "llm.example.com"),
        ("virtualservices", Some("llm"), "litellm", "litellm"),
        ("clusteranalysistemplates", None, "error-rate", "error-rate"),
    ];
    for (kind, ns, name, shows) in kinds {
        let ns_args: Vec<&str> = ns.map(|n| vec!["-n", n]).unwrap_or_default();
        let listed = sim.get(&[&["get", kind][..], &ns_args].concat());
        let row = listed
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("kubectl get {kind} has no row {name}:\n{listed}"));
        assert!(row.contains(shows), "{kind}: {row}");

        let mut watch = sim
            .kubectl()
            .args([&["get", kind, "-w", "--output-watch-events"][..], &ns_args].concat())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = lines(watch.stdout.take().unwrap());
        let mut seen = Vec::new();
        // The header and the initial ADDED row, then the write.
        while !seen.iter().any(|l: &String| l.contains("ADDED")) {
            seen.push(
                out.recv_timeout(DEADLINE)
                    .unwrap_or_else(|_| panic!("{kind}: no initial row: {seen:?}")),
            );
        }
        sim.get(&[&["label", kind, name, "watched=yes"][..], &ns_args].concat());
        let modified = loop {
            match out.recv_timeout(DEADLINE) {
                Ok(line) if line.starts_with("MODIFIED") => break Some(line),
                Ok(line) => seen.push(line),
                Err(_) => break None,
            }
        };
        let _ = watch.kill();
        let _ = watch.wait();
        assert!(
            modified.is_some_and(|l| l.contains(name)),
            "{kind}: kubectl -w never saw the label write: {seen:#?}"
        );
    }
    let labelled = sim.get(&[
        "get",
        "virtualservices.networking.istio.io",
        "-n",
        "llm",
        "-l",
        "watched=yes",
        "-o",
        "name",
    ]);
    assert_eq!(
        labelled.trim(),
        "virtualservice.networking.istio.io/litellm"
    );
}

/// kubectl's writes: merge, strategic-merge and JSON patches, the status subresource, and
/// the refusals the real server gives (strategic merge on a CRD, `/status` of a kind without
/// one, a stale resourceVersion), each leaving the object as it was.
#[test]
fn kubectl_patches_objects_and_their_status() {
    let sim = Sim::start("story-objects", "1");
    let ro = |path: &str| {
        sim.get(&[
            "get",
            "rollout",
            "litellm",
            "-n",
            "llm",
            "-o",
            &format!("jsonpath={path}"),
        ])
    };
    let before = ro("{.metadata.resourceVersion}");
    let generation = ro("{.metadata.generation}");
    sim.get(&[
        "patch",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"paused":true},"status":{"abort":true}}"#,
    ]);
    // The object write changed spec (a new generation) and left status alone.
    assert_eq!(ro("{.spec.paused}/{.status.abort}"), "true/");
    assert_eq!(
        ro("{.metadata.generation}"),
        (generation.parse::<u64>().unwrap() + 1).to_string()
    );
    assert!(ro("{.metadata.resourceVersion}").parse::<u64>().unwrap() > before.parse().unwrap());
    sim.get(&[
        "patch",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"paused":false},"status":{"abort":true}}"#,
    ]);
    assert_eq!(ro("{.spec.paused}/{.status.abort}"), "true/true");
    sim.get(&[
        "patch",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/replicas","value":6}]"#,
    ]);
    assert_eq!(ro("{.spec.replicas}"), "6");
    // A patch that changes nothing is no write: the resourceVersion stays (as on etcd).
    let unchanged = ro("{.metadata.resourceVersion}");
    sim.get(&[
        "patch",
        "rollout",
        "litellm",
        "-n",
        "llm",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"replicas":6}}"#,
    ]);
    assert_eq!(ro("{.metadata.resourceVersion}"), unchanged);
    // Strategic merge on a built-in kind merges containers by name.
    sim.get(&[
        "patch",
        "pod",
        "litellm-6c8d9f7b4f-2n7xw",
        "-n",
        "llm",
        "-p",
        r#"{"spec":{"containers":[{"name":"litellm","image":"ghcr.io/berriai/litellm:v1.41.0"}]}}"#,
    ]);
    let image = sim.get(&[
        "get",
        "pod",
        "litellm-6c8d9f7b4f-2n7xw",
        "-n",
        "llm",
        "-o",
        "jsonpath={.spec.containers[0].image} {.spec.nodeName}",
    ]);
    assert_eq!(image, "ghcr.io/berriai/litellm:v1.41.0 node-a");

    let refused = |args: &[&str], says: &str| {
        let unchanged = ro("{.metadata.resourceVersion}");
        let out = sim.kubectl().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} was accepted");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(
            ro("{.metadata.resourceVersion}"),
            unchanged,
            "{args:?} wrote"
        );
    };
    refused(
        &[
            "patch",
            "rollout",
            "litellm",
            "-n",
            "llm",
            "-p",
            r#"{"spec":{"paused":false}}"#,
        ],
        "application/strategic-merge-patch+json is not supported",
    );
    refused(
        &[
            "patch",
            "analysistemplate",
            "litellm-error-rate",
            "-n",
            "llm",
            "--subresource",
            "status",
            "--type",
            "merge",
            "-p",
            r#"{"status":{}}"#,
        ],
        "has no status subresource",
    );
    refused(
        &[
            "patch",
            "rollout",
            "litellm",
            "-n",
            "llm",
            "--type",
            "merge",
            "-p",
            r#"{"metadata":{"resourceVersion":"1"},"spec":{"paused":false}}"#,
        ],
        "the object has been modified",
    );
    refused(
        &[
            "patch", "rollout", "nosuch", "-n", "llm", "--type", "merge", "-p", "{}",
        ],
        r#"rollouts.argoproj.io "nosuch" not found"#,
    );
}
