//! `warroom demo` end to end: the real binary at high speed, a temp store root, the relay on
//! port 0. Every wait is bounded by a generous deadline; no test asserts a duration.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(180);

fn warroom(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warroom"));
    cmd.arg("--root").arg(root).env_remove("WARROOM_CHANNEL");
    cmd
}

/// A running demo, its channel and URL (the two lines of its stdout).
struct Run {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    stderr: std::thread::JoinHandle<String>,
    channel: String,
    url: String,
}

fn start_demo(root: &Path, speed: &str) -> Run {
    let mut child = warroom(root)
        .args(["demo", "--speed", speed, "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warroom demo starts");
    // Read stderr as it comes, so a full pipe never stalls the demo.
    let mut err = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = || {
        let mut l = String::new();
        stdout.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    };
    let channel = line();
    let url = line();
    Run {
        child,
        stdout,
        stderr,
        channel,
        url,
    }
}

/// Waits for the demo within the deadline (kills it and fails past it); checks that stdout
/// held nothing but the channel and the URL.
fn wait(run: Run) -> (ExitStatus, String) {
    let Run {
        mut child,
        mut stdout,
        stderr,
        ..
    } = run;
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = stderr.join().unwrap();
            let mut rest = String::new();
            stdout.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "", "stdout holds only the channel and the URL");
            return (status, err);
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("warroom demo did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn entries(root: &Path, channel: &str) -> Vec<Value> {
    let out = warroom(root)
        .args(["timeline", "--channel", channel, "--format", "ndjson"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn verify(root: &Path, channel: &str) {
    let out = warroom(root)
        .args(["verify", "--channel", channel])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A plain HTTP/1.1 GET on loopback; returns the whole response.
fn get(url: &str, path: &str) -> String {
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let mut tcp = TcpStream::connect(&host).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_demo_catches_every_failure_of_the_story_and_ends_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let run = start_demo(&root, "50");
    let (channel, url) = (run.channel.clone(), run.url.clone());
    assert!(channel.ends_with("--litellm-canary-demo"), "{channel}");
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with(&format!("/?channel={channel}")),
        "{url}"
    );
    // The relay serves while the demo runs.
    let page = get(&url, "/api/channels");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains(&channel), "{page}");

    let (status, stderr) = wait(run);
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(stderr.contains("verify: intact"), "{stderr}");
    assert!(stderr.contains("alerts:"), "{stderr}");
    assert!(
        stderr.contains(&format!("timeline --channel {channel}")),
        "{stderr}"
    );

    let all = entries(&root, &channel);
    let by =
        |author: &str| -> Vec<&Value> { all.iter().filter(|e| e["author"] == author).collect() };
    for author in ["pipeline", "data-plane", "traffic"] {
        assert!(
            !by(author).is_empty(),
            "no entries from {author}:\n{all:#?}"
        );
    }
    let alert = |author: &str, needles: &[&str]| {
        let found = by(author).iter().any(|e| {
            e["kind"] == "alert"
                && needles
                    .iter()
                    .all(|n| e["body"].as_str().unwrap_or("").contains(n))
        });
        assert!(
            found,
            "no {author} alert with {needles:?}; alerts:\n{}",
            all.iter()
                .filter(|e| e["kind"] == "alert")
                .map(|e| format!("{} {}", e["id"], e["body"]))
                .collect::<Vec<_>>()
                .join("\n")
        );
    };
    alert("pipeline", &["spec not observed"]);
    alert("pipeline", &["workloadRef leak", "Deployment"]);
    alert("pipeline", &["analysis errors"]);
    alert("pipeline", &["no data"]);
    alert("pipeline", &["blind analysis query", "5.."]);
    alert("traffic", &["/v1/embeddings", "404", "429"]);
    // The route answering 200 is not alerted.
    assert!(
        !by("traffic").iter().any(|e| e["kind"] == "alert"
            && e["body"]
                .as_str()
                .unwrap()
                .contains("/v1/chat/completions` is failing")),
        "{all:#?}"
    );
    // The data plane shows the workloadRef Deployment's extra pods beside the Rollout's: the
    // leaked ReplicaSet is owned by Deployment litellm (its name is the model's hash).
    assert!(
        by("data-plane").iter().any(|e| e["body"]
            .as_str()
            .unwrap()
            .contains("| Deployment litellm |")),
        "{:#?}",
        by("data-plane")
    );
    verify(&root, &channel);
}

#[test]
fn ctrl_c_ends_the_demo_cleanly_and_a_second_run_gets_its_own_channel() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("channels");
    let run = start_demo(&root, "2");
    let first = run.channel.clone();
    // Let the observers post something, then interrupt mid-scenario (polls bounded by the
    // deadline's worth of 200 ms naps).
    let polls = DEADLINE.as_millis() / 200;
    let posted = (0..polls).any(|_| {
        let enough = entries(&root, &first).len() >= 3;
        if !enough {
            std::thread::sleep(Duration::from_millis(200));
        }
        enough
    });
    assert!(posted, "no entries from the demo within {DEADLINE:?}");
    let kill = Command::new("kill")
        .args(["-INT", &run.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (status, stderr) = wait(run);
    assert!(status.success(), "exit {status:?}\n{stderr}");
    assert!(stderr.contains("demo stopped"), "{stderr}");
    verify(&root, &first);

    let run = start_demo(&root, "1000");
    let second = run.channel.clone();
    assert_ne!(first, second);
    assert!(second.ends_with("--litellm-canary-demo-2"), "{second}");
    let (status, stderr) = wait(run);
    assert!(status.success(), "exit {status:?}\n{stderr}");
    verify(&root, &second);
}
