//! `warroom archive` end to end: the real binary, a fresh temp dir per test, and the real
//! `git` in a temporary repository with a local identity (global and system config shut out).

mod harness;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use harness::{Run, Sandbox};
use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

const THEME: &str = "litellm-canary";
const CHANNEL: &str = "2026-05-04--litellm-canary";

/// One test's world: the harness's sandbox holding a store root (`channels/`), maybe a git
/// repository, and a HOME with no git config so only the repository's own config counts.
struct World {
    sandbox: Sandbox,
}

impl World {
    fn new() -> Self {
        let sandbox = Sandbox::new();
        std::fs::create_dir(sandbox.path(".home")).unwrap();
        Self { sandbox }
    }

    fn dir(&self) -> PathBuf {
        self.sandbox.path("")
    }

    fn root(&self) -> PathBuf {
        self.sandbox.path("channels")
    }

    fn channel_dir(&self) -> PathBuf {
        self.root().join(CHANNEL)
    }

    fn isolate(&self, cmd: &mut Command) {
        let dir = self.dir();
        cmd.current_dir(&dir)
            .env("HOME", dir.join(".home"))
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            // Never find a repository above the sandbox.
            .env("GIT_CEILING_DIRECTORIES", dir.parent().unwrap())
            .env_remove("GIT_AUTHOR_NAME")
            .env_remove("GIT_AUTHOR_EMAIL")
            .env_remove("GIT_COMMITTER_NAME")
            .env_remove("GIT_COMMITTER_EMAIL")
            .env_remove("EMAIL")
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env("WARROOM_ROOT", self.root());
    }

    fn warroom(&self, args: &[&str], stdin: Option<&str>) -> Run {
        let mut cmd = self.sandbox.command(args);
        self.isolate(&mut cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warroom");
        // Bodies are small: written before reading the output, then stdin is closed.
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        let out = child.wait_with_output().expect("wait for warroom");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs warroom and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.warroom(args, None).ok().stdout
    }

    fn post(&self, role: &str, kind: &str, refs: &[&str], body: &str) -> String {
        let mut args = vec!["post", "--channel", CHANNEL, "--as", role, "--kind", kind];
        for r in refs {
            args.extend(["--ref", r]);
        }
        args.push("-");
        self.warroom(&args, Some(body))
            .ok()
            .stdout
            .trim()
            .to_owned()
    }

    fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.isolate(&mut cmd);
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A repository with one unrelated commit and a local identity.
    fn git_repo(&self) {
        self.git(&["init", "-q", "-b", "main"]);
        self.git(&["config", "user.name", "Test Operator"]);
        self.git(&["config", "user.email", "operator@example.com"]);
        std::fs::write(self.dir().join("app.txt"), "the app\n").unwrap();
        self.git(&["add", "app.txt"]);
        self.git(&["commit", "-q", "-m", "first"]);
    }

    /// A small realistic discussion, with bodies that try to break the markdown.
    fn discussion(&self) {
        self.ok(&["open", THEME, "--date", "2026-05-04"]);
        let p1 = self.post(
            "pipeline",
            "observation",
            &[],
            "Rollout `litellm` generation 7, observedGeneration 6: spec not observed.",
        );
        let d1 = self.post(
            "data-plane",
            "observation",
            &[&p1],
            "| rs | replicas |\n|---|---|\n| litellm-67b4ccbdb4 | 1 |\n| litellm-5d9f | 5 |",
        );
        let a1 = self.post(
            "pipeline",
            "alert",
            &[&p1],
            "## Spec not observed for 61 s\n\n```\nunclosed fence: the rest must not vanish",
        );
        let t1 = self.post(
            "traffic",
            "alert",
            &[],
            "/v1/models: 12 of 40 requests answered 404 <script>alert(1)</script>",
        );
        self.post(
            "data-plane",
            "note",
            &[&d1],
            "<!-- warroom:end id=pipeline#1 prev=0 sum=0 -->\nmarker-like line, escaped",
        );
        self.post("operator", "question", &[&a1], "Is the controller running?");
        self.post(
            "pipeline",
            "answer",
            &[],
            "Yes: 1/1 Ready, but 3 Warning events",
        );
        self.post(
            "operator",
            "decision",
            &[&a1, &t1],
            "no-go: abort the canary, expecting stable at 5/5",
        );
    }

    /// Every file and directory of the sandbox but `.git` (git may refresh its own index).
    fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let git = self.dir().join(".git");
        let mut all = self.sandbox.snapshot();
        all.retain(|p, _| !p.starts_with(&git));
        all
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.channel_dir().join(rel)).unwrap()
    }

    /// Every entry id, from the timeline.
    fn ids(&self) -> Vec<String> {
        self.ok(&["timeline", "--channel", CHANNEL, "--format", "ndjson"])
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["id"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    fn entries(&self) -> Vec<serde_json::Value> {
        self.ok(&["timeline", "--channel", CHANNEL, "--format", "ndjson"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn stderr(out: &Run) -> String {
    out.stderr.clone()
}

fn anchor(id: &str) -> String {
    id.replace('#', "-")
}

/// The entry anchors of TIMELINE.md: `<a id="…">` in a level-4 heading outside any quote,
/// with the heading's text (which must show the id).
fn timeline_anchors(md: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut quote_depth = 0;
    let mut heading: Option<(Option<String>, String)> = None;
    for ev in Parser::new(md) {
        match ev {
            Event::Start(Tag::BlockQuote(_)) => quote_depth += 1,
            Event::End(TagEnd::BlockQuote(_)) => quote_depth -= 1,
            Event::Start(Tag::Heading {
                level: HeadingLevel::H4,
                ..
            }) if quote_depth == 0 => heading = Some((None, String::new())),
            Event::InlineHtml(html) => {
                if let Some((id, _)) = heading.as_mut()
                    && let Some(rest) = html.strip_prefix("<a id=\"")
                {
                    *id = rest.split('"').next().map(str::to_owned);
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, text)) = heading.as_mut() {
                    text.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(HeadingLevel::H4)) => {
                if let Some((Some(id), text)) = heading.take() {
                    out.insert(id, text);
                }
            }
            _ => {}
        }
    }
    out
}

/// Every link destination in a markdown document.
fn links(md: &str) -> BTreeSet<String> {
    Parser::new(md)
        .filter_map(|ev| match ev {
            Event::Start(Tag::Link { dest_url, .. }) => Some(dest_url.into_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn round_trip_every_entry_is_anchored_and_every_alert_and_decision_linked() {
    let w = World::new();
    w.discussion();
    let out = w.warroom(
        &[
            "archive",
            "--channel",
            CHANNEL,
            "--reason",
            "Canary aborted",
        ],
        None,
    );
    assert!(out.code == 0, "{}", stderr(&out));
    assert_eq!(out.stdout.trim(), CHANNEL);

    let entries = w.entries();
    let seal = entries.last().unwrap();
    assert_eq!(seal["author"], "operator");
    assert_eq!(seal["kind"], "note");
    assert!(seal["body"].as_str().unwrap().contains("Canary aborted"));
    let sealed: serde_json::Value = serde_json::from_str(&w.read(".warroom/sealed.json")).unwrap();
    assert_eq!(sealed["entry"], seal["id"]);
    assert_eq!(sealed["by"], "operator");
    assert_eq!(sealed["at"], seal["ts"]);

    let timeline = w.read("TIMELINE.md");
    let anchors = timeline_anchors(&timeline);
    let ids = w.ids();
    assert_eq!(ids.len(), 9, "8 posts and the seal");
    for id in &ids {
        let text = anchors
            .get(&anchor(id))
            .unwrap_or_else(|| panic!("no anchor for {id} in\n{timeline}"));
        assert!(text.contains(id.as_str()), "heading {text:?} lacks {id}");
    }
    assert_eq!(
        anchors.len(),
        ids.len(),
        "one anchor per entry: {anchors:?}"
    );
    // Refs are links to anchors that exist.
    let internal: Vec<String> = links(&timeline)
        .into_iter()
        .filter_map(|l| l.strip_prefix('#').map(str::to_owned))
        .collect();
    assert!(internal.iter().any(|a| a == "pipeline-1"));
    for a in internal {
        assert!(anchors.contains_key(&a), "dangling link #{a}");
    }
    // The unclosed fence in pipeline#2 did not swallow what follows it.
    assert!(anchors.contains_key("operator-3"));

    let readme = w.read("README.md");
    let readme_links = links(&readme);
    for e in &entries {
        if e["kind"] == "alert" || e["kind"] == "decision" {
            let link = format!("TIMELINE.md#{}", anchor(e["id"].as_str().unwrap()));
            assert!(
                readme_links.contains(&link),
                "{link} missing from\n{readme}"
            );
        }
    }
    for role in ["pipeline", "data-plane", "traffic", "operator"] {
        assert!(readme.contains(&format!("### {role}")), "{role}");
    }
    assert!(readme.contains("Canary aborted"));
    assert!(w.read("BRIEF.md").contains("## How to post"), "brief kept");

    let index = std::fs::read_to_string(w.root().join("README.md")).unwrap();
    assert!(links(&index).contains(&format!("{CHANNEL}/README.md")));
    assert!(index.contains("Canary aborted"));

    let verify = w.warroom(&["verify", "--channel", CHANNEL], None);
    assert!(verify.code == 0, "{}", stderr(&verify));

    // Archiving again re-renders to the same bytes and does not seal twice.
    let before = w.snapshot();
    w.ok(&["archive", "--channel", CHANNEL]);
    assert_eq!(w.snapshot(), before);
}

#[test]
fn sealed_channel_refuses_posts_with_nothing_written() {
    let w = World::new();
    w.discussion();
    w.ok(&["archive", "--channel", CHANNEL]);
    let before = w.snapshot();
    for role in ["pipeline", "operator"] {
        let out = w.warroom(
            &["post", "--channel", CHANNEL, "--as", role, "one more thing"],
            None,
        );
        assert_eq!(Some(out.code), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains("sealed at 20"), "{err}");
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    assert_eq!(w.snapshot(), before);
    // With no --channel, a sealed channel is not the default any more.
    let out = w.warroom(&["post", "--as", "pipeline", "x"], None);
    assert_ne!(Some(out.code), Some(0));
    assert_eq!(w.snapshot(), before);
}

#[test]
fn commit_makes_one_commit_with_exactly_the_channel_and_the_index() {
    let w = World::new();
    w.git_repo();
    w.discussion();
    let head = w.git(&["rev-parse", "HEAD"]);
    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert!(out.code == 0, "{}", stderr(&out));
    assert_eq!(w.git(&["rev-parse", "HEAD~1"]), head, "exactly one commit");
    let files: BTreeSet<String> = w
        .git(&["show", "--name-only", "--format=", "HEAD"])
        .lines()
        .map(str::to_owned)
        .collect();
    let ch = format!("channels/{CHANNEL}");
    let expected: BTreeSet<String> = [
        "channels/.gitignore".to_owned(),
        "channels/README.md".to_owned(),
        format!("{ch}/.warroom/roster.json"),
        format!("{ch}/.warroom/sealed.json"),
        format!("{ch}/BRIEF.md"),
        format!("{ch}/README.md"),
        format!("{ch}/TIMELINE.md"),
        format!("{ch}/data-plane.md"),
        format!("{ch}/operator.md"),
        format!("{ch}/pipeline.md"),
        format!("{ch}/traffic.md"),
    ]
    .into_iter()
    .collect();
    assert_eq!(files, expected);
    let subject = w.git(&["log", "-1", "--format=%s"]);
    assert!(
        subject.contains(CHANNEL) && subject.contains("2026-"),
        "{subject}"
    );
    assert_eq!(w.git(&["status", "--porcelain"]), "", "nothing left");

    // Again: nothing to commit, no empty commit.
    let head = w.git(&["rev-parse", "HEAD"]);
    w.ok(&["archive", "--channel", CHANNEL, "--commit"]);
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
}

#[test]
fn commit_refuses_unrelated_staged_changes_and_changes_nothing() {
    let w = World::new();
    w.git_repo();
    w.discussion();
    std::fs::write(w.dir().join("app.txt"), "half-done change\n").unwrap();
    w.git(&["add", "app.txt"]);
    let before = w.snapshot();
    let head = w.git(&["rev-parse", "HEAD"]);
    let staged = w.git(&["diff", "--cached", "--name-only"]);

    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("app.txt") && err.contains("staged"), "{err}");
    assert!(err.contains("nothing was sealed"), "{err}");

    assert_eq!(w.snapshot(), before);
    assert_eq!(w.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(w.git(&["diff", "--cached", "--name-only"]), staged);
    w.post("pipeline", "observation", &[], "still open");

    // A file moved from elsewhere into the channel is unrelated too.
    w.git(&["restore", "--staged", "app.txt"]);
    w.git(&["mv", "app.txt", &format!("channels/{CHANNEL}/app.txt")]);
    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("app.txt"), "{}", stderr(&out));
}

#[test]
fn commit_outside_a_repository_refuses_cleanly() {
    let w = World::new();
    w.discussion();
    let before = w.snapshot();
    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("not inside a git repository"), "{err}");
    assert!(err.contains("git init"), "{err}");
    assert_eq!(w.snapshot(), before);
}

#[test]
fn commit_without_a_git_identity_refuses_and_says_how_to_set_one() {
    let w = World::new();
    w.git(&["init", "-q", "-b", "main"]);
    w.discussion();
    let before = w.snapshot();
    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("git config user.name"), "{err}");
    assert!(err.contains("git config user.email"), "{err}");
    assert_eq!(w.snapshot(), before);
    assert!(!w.channel_dir().join(".warroom/sealed.json").exists());
}

#[test]
fn tampered_channel_is_refused_then_archived_with_force_and_its_findings() {
    let w = World::new();
    w.discussion();
    let path = w.channel_dir().join("traffic.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("12 of 40", "2 of 40")).unwrap();
    let before = w.snapshot();

    let out = w.warroom(&["archive", "--channel", CHANNEL], None);
    assert_eq!(Some(out.code), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("traffic.md:") && err.contains("checksum"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_eq!(w.snapshot(), before, "a refusal changes nothing");

    let out = w.warroom(&["archive", "--channel", CHANNEL, "--force"], None);
    assert!(out.code == 0, "{}", stderr(&out));
    assert!(w.channel_dir().join(".warroom/sealed.json").exists());
    let readme = w.read("README.md");
    assert!(readme.contains("traffic.md:"), "{readme}");
    assert!(readme.contains("checksum"), "{readme}");
    let index = std::fs::read_to_string(w.root().join("README.md")).unwrap();
    assert!(index.contains("integrity finding"), "{index}");
    assert!(index.contains(&format!("{CHANNEL}/traffic.md:")), "{index}");
    let out = w.warroom(
        &["post", "--channel", CHANNEL, "--as", "traffic", "more"],
        None,
    );
    assert_eq!(Some(out.code), Some(2));
}

#[test]
fn index_lists_sealed_channels_newest_first() {
    let w = World::new();
    w.ok(&["open", "first", "--date", "2026-05-01"]);
    w.ok(&["post", "--channel", "first", "--as", "pipeline", "one"]);
    w.ok(&["open", "second", "--date", "2026-05-03"]);
    w.ok(&["open", "open-one", "--date", "2026-05-05"]);
    w.ok(&["archive", "--channel", "first", "--reason", "first done"]);
    w.ok(&["archive", "--channel", "second", "--reason", "second done"]);
    let index = std::fs::read_to_string(w.root().join("README.md")).unwrap();
    let first = index.find("2026-05-01--first/README.md").unwrap();
    let second = index.find("2026-05-03--second/README.md").unwrap();
    assert!(second < first, "newest first:\n{index}");
    assert!(
        !index.contains("open-one"),
        "only sealed channels:\n{index}"
    );
    assert!(index.contains("first done") && index.contains("second done"));

    // A broken older channel does not stop the next archive; its row says what is wrong.
    let first = w.root().join("2026-05-01--first/.warroom/roster.json");
    std::fs::write(&first, "{ not json").unwrap();
    w.ok(&["archive", "--channel", "open-one"]);
    let index = std::fs::read_to_string(w.root().join("README.md")).unwrap();
    assert!(index.contains("2026-05-05--open-one/README.md"), "{index}");
    assert!(index.contains("roster is not valid JSON"), "{index}");
}

#[test]
fn templates_under_the_root_override_the_built_in_ones() {
    let w = World::new();
    w.discussion();
    std::fs::create_dir_all(w.root().join("templates")).unwrap();
    std::fs::write(
        w.root().join("templates/index.md"),
        "# Our incidents\n{% for c in channels %}\n- {{ c.name }}: {{ c.summary }}\n{% endfor %}",
    )
    .unwrap();
    w.ok(&["archive", "--channel", CHANNEL, "--reason", "done"]);
    let index = std::fs::read_to_string(w.root().join("README.md")).unwrap();
    assert!(index.starts_with("# Our incidents"), "{index}");
    assert!(index.contains(&format!("- {CHANNEL}: done")), "{index}");
    // The other pages keep the built-in templates.
    assert!(w.read("TIMELINE.md").contains("<a id=\"pipeline-1\"></a>"));
}

#[test]
fn a_broken_template_override_is_refused_before_the_seal() {
    let w = World::new();
    w.discussion();
    std::fs::create_dir_all(w.root().join("templates")).unwrap();
    std::fs::write(w.root().join("templates/timeline.md"), "{% for %}").unwrap();
    let before = w.snapshot();
    let out = w.warroom(&["archive", "--channel", CHANNEL], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("timeline.md"), "{}", stderr(&out));
    assert_eq!(w.snapshot(), before, "not sealed, nothing written");
}

#[test]
fn a_foreign_readme_at_the_root_is_never_overwritten() {
    let w = World::new();
    w.discussion();
    std::fs::write(w.root().join("README.md"), "# Our project\n").unwrap();
    let before = w.snapshot();
    let out = w.warroom(&["archive", "--channel", CHANNEL], None);
    assert_eq!(Some(out.code), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("templates/index.md"),
        "{}",
        stderr(&out)
    );
    assert_eq!(w.snapshot(), before, "not sealed, nothing written");
}

/// Issue 11: the archive keeps the last state. The observers' state files are committed with
/// the channel, README.md says what they showed last (and which file cannot be used), and
/// once sealed nobody can replace them.
#[test]
fn the_archive_keeps_each_observers_last_state() {
    use warroom::channel::{Author, Store};
    use warroom::state::{AnalysisState, RolloutState, RouteState, StateDoc, file};
    let w = World::new();
    w.git_repo();
    w.discussion();
    let store = Store::open(&w.root()).unwrap();
    let channel = store.channel(Some(CHANNEL)).unwrap();
    let mut pipeline = StateDoc::new(Author::new("pipeline").unwrap(), 5000);
    pipeline.stopped = true;
    pipeline.rollouts.push(RolloutState {
        namespace: "llm".into(),
        name: "litellm".into(),
        status: "Degraded".into(),
        message: "RolloutAborted: Rollout aborted update to revision 2".into(),
        strategy: "Canary".into(),
        step: "0/8".into(),
        aborted: true,
        stable_images: vec!["ghcr.io/berriai/litellm:v1.55.0".into()],
        canary_images: vec!["ghcr.io/berriai/litellm:v1.56.1".into()],
        analysis: Some(AnalysisState {
            name: "litellm-7c9-2".into(),
            phase: "Failed".into(),
            ..AnalysisState::default()
        }),
        ..RolloutState::default()
    });
    file::write(&channel, &pipeline).unwrap();
    let mut traffic = StateDoc::new(Author::new("traffic").unwrap(), 5000);
    traffic.routes.push(RouteState {
        route: "GET /v1/models".into(),
        requests: 40,
        failures: 12,
        window_ms: 3000,
        p50_ms: None,
    });
    file::write(&channel, &traffic).unwrap();
    // A state file nobody can use is kept as it is and said to be unusable.
    std::fs::write(
        w.channel_dir().join(".warroom/state/data-plane.json"),
        b"{\"version\": 1, \"role\": ",
    )
    .unwrap();

    let out = w.warroom(&["archive", "--channel", CHANNEL, "--commit"], None);
    assert!(out.code == 0, "{}", stderr(&out));
    let files = w.git(&["show", "--name-only", "--format=", "HEAD"]);
    for role in ["pipeline", "traffic", "data-plane"] {
        assert!(
            files
                .lines()
                .any(|l| l == format!("channels/{CHANNEL}/.warroom/state/{role}.json")),
            "{role}: {files}"
        );
    }
    let readme = w.read("README.md");
    let section = readme
        .split_once("## Last state\n")
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("no Last state section:\n{readme}"));
    assert!(
        section.contains("Rollout `llm/litellm`: **Degraded** (aborted) · step 0/8"),
        "{section}"
    );
    assert!(
        section.contains("analysis `litellm-7c9-2` Failed"),
        "{section}"
    );
    assert!(section.contains("as its observer stopped"), "{section}");
    assert!(
        section.contains("`GET /v1/models`: 12 of 40 requests failed in the last 3.0 s"),
        "{section}"
    );
    assert!(
        section.contains("[.warroom/state/data-plane.json](.warroom/state/data-plane.json) is kept but cannot be used"),
        "{section}"
    );

    // Sealed: the last state stays the last.
    let before = w.snapshot();
    traffic.routes.clear();
    let err = file::write(&channel, &traffic).unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert!(err.to_string().contains("sealed"), "{err}");
    assert_eq!(w.snapshot(), before, "nothing was written");
}
