//! The command line's shared contract, through the real binary on real files: output formats,
//! completions, man pages, version, channel resolution and its messages, did-you-mean, colour.

mod harness;

use std::io::Write;

use harness::{Run, Sandbox};
use serde_json::Value;

const CH: &str = "2026-05-04--litellm-canary";

/// A store with one channel and a few entries by two authors.
fn store() -> Sandbox {
    let sb = Sandbox::new();
    sb.ok(&[
        "open",
        "litellm-canary",
        "--date",
        "2026-05-04",
        "--roles",
        "pipeline,data-plane",
    ]);
    sb.ok(&[
        "post",
        "--as",
        "pipeline",
        "--kind",
        "alert",
        "spec not observed",
    ]);
    sb.ok(&[
        "post",
        "--as",
        "data-plane",
        "--ref",
        "pipeline#1",
        "RS scaled 5 → 4",
    ]);
    sb
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn fails(run: Run, code: i32) -> Run {
    assert_eq!(run.code, code, "expected exit {code}: {run:?}");
    run
}

#[test]
fn every_json_output_parses_and_so_does_every_ndjson_and_yaml() {
    let sb = store();
    sb.ok(&["token", "add", "--role", "pipeline", "--channel", CH]);
    sb.ok(&["post", "--as", "pipeline", "third"]);
    sb.ok(&[
        "roster",
        "add",
        "reader-json",
        "reader-ndjson",
        "reader-yaml",
    ]);
    let reads: &[&[&str]] = &[
        &["ls"],
        &["timeline"],
        &["catchup", "--as"],
        &["verify"],
        &["token", "ls"],
        &["roster", "show"],
        &["version"],
    ];
    for args in reads {
        for (flag, format) in [("-o", "json"), ("--output", "ndjson"), ("--format", "yaml")] {
            let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            if args[0] == "catchup" {
                // catchup moves its reader's cursor: one reader per format.
                full.push(format!("reader-{format}"));
            }
            full.extend([flag.to_string(), format.to_string()]);
            let full: Vec<&str> = full.iter().map(String::as_str).collect();
            let run = sb.ok(&full);
            assert!(!run.stdout.trim().is_empty(), "{full:?} printed nothing");
            match format {
                "json" => {
                    json(&run);
                }
                "ndjson" => {
                    for line in run.stdout.lines() {
                        let _: Value = serde_json::from_str(line)
                            .unwrap_or_else(|e| panic!("{full:?}: {e}: {line}"));
                    }
                }
                _ => {
                    let _: Value = serde_saphyr::from_str(&run.stdout)
                        .unwrap_or_else(|e| panic!("{full:?}: {e}: {}", run.stdout));
                }
            }
        }
    }
    let tl = json(&sb.ok(&["timeline", "-o", "json"]));
    assert_eq!(tl.as_array().unwrap().len(), 3);
    let ls = json(&sb.ok(&["ls", "-o", "json"]));
    assert_eq!(ls[0]["name"], CH);
    let yaml: Value = serde_saphyr::from_str(&sb.ok(&["timeline", "-o", "yaml"]).stdout).unwrap();
    assert_eq!(yaml, tl, "yaml and json carry the same entries");
}

#[test]
fn an_unsupported_output_is_refused_with_the_accepted_ones() {
    let sb = store();
    let run = fails(sb.run(&["timeline", "-o", "wide"]), 2);
    assert!(
        run.stderr
            .contains("[possible values: text, md, json, ndjson, yaml]"),
        "{}",
        run.stderr
    );
    let run = fails(sb.run(&["timeline", "-f", "-o", "json"]), 2);
    assert!(run.stderr.contains("use -o ndjson"), "{}", run.stderr);
}

#[test]
fn ls_columns_line_up_and_wide_adds_columns() {
    let sb = store();
    sb.ok(&["open", "x", "--date", "2026-05-05"]);
    sb.ok(&["open", "a-much-longer-theme-name", "--date", "2026-05-03"]);
    sb.ok(&["archive", "--channel", "x"]);
    let ls = sb.ok(&["ls"]).stdout;
    let lines: Vec<&str> = ls.lines().collect();
    assert_eq!(lines.len(), 4, "{ls}");
    assert!(lines[0].starts_with("NAME "), "{ls}");
    for col in ["STATE", "ENTRIES", "AUTHORS"] {
        let at = lines[0].find(col).unwrap();
        for line in lines[1..].iter().filter(|l| l.chars().count() > at) {
            let before = &line[..line.char_indices().nth(at).map_or(line.len(), |(i, _)| i)];
            assert!(
                before.ends_with("  ") && !line[before.len()..].starts_with(' '),
                "column {col} does not line up:\n{ls}"
            );
        }
    }
    assert!(ls.contains("sealed"), "{ls}");
    let wide = sb.ok(&["ls", "-o", "wide"]).stdout;
    assert!(wide.lines().next().unwrap().contains("OPENED"), "{wide}");
    assert!(wide.contains(&format!("channels/{CH}")), "{wide}");
    let md = sb.ok(&["ls", "-o", "md"]).stdout;
    assert!(
        md.starts_with("| NAME | STATE | ENTRIES | AUTHORS | OPENED | DIR |\n|---|"),
        "{md}"
    );
}

#[test]
fn completions_for_every_shell_and_bash_parses_them() {
    let sb = Sandbox::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let run = sb.ok(&["completions", shell]);
        assert!(run.stdout.contains("warroom"), "{shell}: {}", run.stdout);
        assert!(
            run.stdout.contains("timeline"),
            "{shell} lacks a subcommand"
        );
    }
    let bash = sb.ok(&["completions", "bash"]).stdout;
    assert!(bash.contains("--output"), "completions list the flags");
    let path = sb.path("warroom.bash");
    std::fs::write(&path, &bash).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourced into a real bash, `warroom ti<TAB>` completes to timeline.
    let script = format!(
        "source {}; COMP_WORDS=(warroom ti); COMP_CWORD=1; COMP_LINE='warroom ti'; COMP_POINT=10; _warroom warroom ti warroom; echo \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "timeline",
        "{out:?}"
    );
    let run = fails(sb.run(&["completions", "tcsh"]), 2);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

/// `warroom completions bash | head` and friends: a closed stdout ends the command quietly
/// (exit 0, nothing on stderr), never in a panic. The pipe's read end is closed before the
/// command starts, so every write fails.
#[test]
fn a_closed_stdout_ends_quietly() {
    let sb = store();
    for args in [
        &["completions", "bash"][..],
        &["completions", "zsh"],
        &["completions", "fish"],
        &["completions", "powershell"],
        &["timeline"],
        &["timeline", "-o", "json"],
        &["version"],
        &["--help"],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = sb
            .command(args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[test]
fn man_writes_a_page_per_command() {
    let sb = Sandbox::new();
    let run = sb.ok(&["man", "--out", "man/man1"]);
    for page in [
        "warroom.1",
        "warroom-timeline.1",
        "warroom-roster-add.1",
        "warroom-agent-pipeline.1",
    ] {
        let text = sb.read(&format!("man/man1/{page}"));
        assert!(
            text.starts_with(".ie") || text.contains(".TH"),
            "{page}: {text}"
        );
        assert!(run.stdout.contains(page), "{}", run.stdout);
    }
    assert!(sb.read("man/man1/warroom-timeline.1").contains("since"));
}

#[test]
fn version_says_version_commit_and_build_date() {
    let sb = Sandbox::new();
    let v = json(&sb.ok(&["version", "-o", "json"]));
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let commit = v["commit"].as_str().unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{commit}"
    );
    let date = v["build_date"].as_str().unwrap();
    assert!(
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok(),
        "{date}"
    );
    let text = sb.ok(&["version"]).stdout;
    assert_eq!(
        text,
        format!(
            "warroom {} (commit {commit}, built {date})\n",
            v["version"].as_str().unwrap()
        )
    );
    assert_eq!(sb.ok(&["--version"]).stdout, text);
}

#[test]
fn every_subcommand_help_has_examples() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" || sub.is_hide_set() {
                continue;
            }
            let name = format!("{path} {}", sub.get_name());
            let has = sub
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Examples:\n  warroom "));
            if !has {
                missing.push(name.clone());
            }
            walk(sub, &name, missing);
        }
    }
    let mut missing = Vec::new();
    walk(&warroom::cli::Cli::command(), "warroom", &mut missing);
    assert!(missing.is_empty(), "no examples in --help of: {missing:?}");
    let sb = Sandbox::new();
    let help = sb.ok(&["timeline", "--help"]).stdout;
    assert!(help.contains("Examples:\n  warroom timeline"), "{help}");
}

/// Writes an author file whose entries are `ages` old, with the library's own encoder.
fn old_entries(sb: &Sandbox, author: &str, ages: &[chrono::Duration]) {
    use warroom::channel::entry::{GENESIS, Header, encode};
    let author_name = warroom::channel::Author::new(author).unwrap();
    let mut bytes = Vec::new();
    let mut prev = GENESIS;
    for (i, age) in ages.iter().enumerate() {
        let ts = warroom::channel::Timestamp::from_datetime(chrono::Utc::now() - *age);
        let h = Header {
            author: &author_name,
            seq: i as u64 + 1,
            ts,
            kind: warroom::channel::Kind::Observation,
            refs: &[],
            to: &[],
            key: None,
        };
        prev = encode(&mut bytes, h, &format!("{}m old", age.num_minutes()), prev);
    }
    let path = sb.path(&format!("channels/{CH}/{author}.md"));
    std::fs::File::create(path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
}

#[test]
fn since_takes_durations_and_filters_and_tail_keeps_the_last() {
    let sb = Sandbox::new();
    sb.ok(&[
        "open",
        "litellm-canary",
        "--date",
        "2026-05-04",
        "--roles",
        "old",
    ]);
    old_entries(
        &sb,
        "old",
        &[
            chrono::Duration::hours(3),
            chrono::Duration::minutes(90),
            chrono::Duration::minutes(10),
        ],
    );
    sb.ok(&["verify"]);
    sb.ok(&["post", "--as", "operator", "now"]);
    let bodies = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["timeline", "-o", "ndjson"];
        full.extend(args);
        sb.ok(&full)
            .stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["body"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    assert_eq!(bodies(&[]), ["180m old", "90m old", "10m old", "now"]);
    assert_eq!(bodies(&["--since", "5m"]), ["now"]);
    assert_eq!(bodies(&["--since", "1h"]), ["10m old", "now"]);
    assert_eq!(bodies(&["--since", "2h"]), ["90m old", "10m old", "now"]);
    assert_eq!(bodies(&["--since", "old#2"]), ["10m old", "now"]);
    assert_eq!(bodies(&["--tail", "2"]), ["10m old", "now"]);
    assert_eq!(bodies(&["--since", "2h", "--tail", "1"]), ["now"]);
    assert!(bodies(&["--tail", "0"]).is_empty());
    let run = fails(sb.run(&["timeline", "--since", "5 parsecs"]), 2);
    assert!(
        run.stderr.contains("a duration (5m, 2h, 1d)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_ambiguous_theme_exits_2_lists_the_matches_and_writes_nothing() {
    let sb = Sandbox::new();
    sb.ok(&["open", "litellm-canary", "--date", "2026-05-04"]);
    sb.ok(&["open", "litellm-canary", "--date", "2026-05-05"]);
    let before = sb.snapshot();
    for args in [
        &[
            "post",
            "--channel",
            "litellm-canary",
            "--as",
            "operator",
            "hello",
        ][..],
        &["roster", "add", "x", "--channel", "litellm-canary"],
        &[
            "token",
            "add",
            "--role",
            "operator",
            "--channel",
            "litellm-canary",
        ],
        &["archive", "--channel", "litellm-canary"],
        &["timeline", "--channel", "litellm-canary"],
    ] {
        let run = fails(sb.run(args), 2);
        assert!(
            run.stderr
                .contains("2026-05-05--litellm-canary, 2026-05-04--litellm-canary")
                && run.stderr.contains("--channel"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        assert_eq!(sb.snapshot(), before, "{args:?} wrote something");
    }
    // Sealing one leaves one unsealed: the theme now names it.
    sb.ok(&["archive", "--channel", "2026-05-05--litellm-canary"]);
    let run = sb.ok(&[
        "post",
        "--channel",
        "litellm-canary",
        "--as",
        "operator",
        "hello",
    ]);
    assert_eq!(run.stdout, "operator#1\n");
    assert_eq!(run.stderr, "→ 2026-05-04--litellm-canary\n");
}

#[test]
fn a_write_to_an_implicit_channel_says_where_it_went() {
    let sb = store();
    let run = sb.ok(&["post", "--as", "pipeline", "x"]);
    assert_eq!(run.stdout, "pipeline#2\n");
    assert_eq!(
        run.stderr,
        format!("→ {CH} (the newest unsealed channel)\n")
    );
    let run = sb.ok(&["post", "--channel", CH, "--as", "pipeline", "x"]);
    assert_eq!(run.stderr, "", "a full name needs no announcement");
    let run = sb.run_stdin_env(
        &["post", "--as", "pipeline", "-"],
        b"y",
        &[("WARROOM_CHANNEL", "litellm-canary")],
    );
    assert_eq!(run.stderr, format!("→ {CH} (from WARROOM_CHANNEL)\n"));
    let run = sb.ok(&["roster", "add", "terminal-1"]);
    assert!(run.stderr.starts_with(&format!("→ {CH}")), "{}", run.stderr);
    let run = sb.ok(&["token", "add", "--role", "pipeline"]);
    assert!(run.stderr.starts_with(&format!("→ {CH}")), "{}", run.stderr);
    let run = sb.ok(&["post", "--as", "pipeline", "--bulk"]);
    assert!(run.stderr.contains(&format!("→ {CH}")), "{}", run.stderr);
}

#[test]
fn did_you_mean_for_refs_roles_and_channels_with_nothing_written() {
    let sb = store();
    let before = sb.snapshot();
    let cases: &[(&[&str], &str)] = &[
        (
            &["post", "--as", "pipeline", "--ref", "pipline#1", "x"],
            "did you mean pipeline#1?",
        ),
        (&["post", "--as", "pipline", "x"], "did you mean pipeline?"),
        (
            &["post", "--as", "data-plain", "x"],
            "did you mean data-plane?",
        ),
        (&["catchup", "--as", "opertor"], "did you mean operator?"),
        (
            &["token", "add", "--role", "pipelin"],
            "did you mean pipeline?",
        ),
        (
            &[
                "post",
                "--channel",
                "litelm-canary",
                "--as",
                "pipeline",
                "x",
            ],
            "did you mean litellm-canary?",
        ),
        (
            &["timeline", "--channel", "2026-05-04--litellm-canry"],
            "did you mean 2026-05-04--litellm-canary?",
        ),
        // A filter on a role the channel never had would print nothing, like a quiet channel.
        (
            &["timeline", "--author", "pipline"],
            "--author pipline: no role pipline in channel 2026-05-04--litellm-canary (roles: pipeline, data-plane, operator); did you mean pipeline?; nothing was read",
        ),
        (
            &["timeline", "--to", "data-plain"],
            "did you mean data-plane?",
        ),
    ];
    for (args, hint) in cases {
        let run = fails(sb.run(args), 2);
        assert!(run.stderr.contains(hint), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    }
    assert_eq!(sb.snapshot(), before);
    // Nothing close: no guess.
    let run = fails(sb.run(&["post", "--as", "zzz", "x"]), 2);
    assert!(!run.stderr.contains("did you mean"), "{}", run.stderr);
    // A role on the roster that has not posted yet is a fine filter: nothing, exit 0.
    let run = sb.ok(&["timeline", "--author", "operator"]);
    assert_eq!(run.stdout, "", "{run:?}");
}

#[test]
fn root_pointing_at_a_file_says_so_and_how_to_fix_it() {
    let sb = Sandbox::new();
    std::fs::write(sb.path("channels"), "not a dir").unwrap();
    for args in [
        &["open", "x"][..],
        &["ls"],
        &["--root", "channels/sub", "open", "x"],
    ] {
        let run = fails(sb.run(args), 3);
        assert!(
            run.stderr
                .contains("store root channels is a file, not a directory")
                && run.stderr.contains("--root"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("os error"), "{}", run.stderr);
    }
    assert_eq!(sb.read("channels"), "not a dir");
}

#[test]
fn bad_flag_values_name_the_expected_form() {
    let sb = store();
    let run = fails(sb.run(&["serve", "--bind", "nonsense"]), 2);
    assert!(
        run.stderr
            .contains("expected ADDR:PORT, e.g. 127.0.0.1:7700"),
        "{}",
        run.stderr
    );
    let run = fails(sb.run(&["serve", "--bind", "127.0.0.1:http"]), 2);
    assert!(
        run.stderr.contains("\"http\" is not a port number"),
        "{}",
        run.stderr
    );
    let run = fails(sb.run(&["demo", "--bind", "nonsense"]), 2);
    assert!(run.stderr.contains("expected ADDR:PORT"), "{}", run.stderr);
    let run = fails(sb.run(&["sim", "--bind", "nonsense"]), 2);
    assert!(
        run.stderr
            .contains("expected an IP address such as 127.0.0.1"),
        "{}",
        run.stderr
    );
    for cmd in ["sim", "demo"] {
        let run = fails(sb.run(&[cmd, "--speed", "-1"]), 2);
        assert!(
            run.stderr
                .contains("--speed -1 is out of range: give a factor above 0"),
            "{cmd}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("unexpected argument"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_missing_kubeconfig_is_one_line_with_the_fix() {
    let sb = store();
    let run = fails(
        sb.run_env(
            &["agent", "data-plane", "-n", "llm"],
            &[("KUBECONFIG", "/nonexistent/kc")],
        ),
        3,
    );
    assert_eq!(
        run.stderr,
        "error: KUBECONFIG=/nonexistent/kc names no existing file: pass --kubeconfig FILE, point KUBECONFIG at your kubeconfig, or unset it to use ~/.kube/config\n"
    );
    let run = fails(
        sb.run(&[
            "agent",
            "pipeline",
            "--rollout",
            "r",
            "--kubeconfig",
            "/nonexistent/kc",
        ]),
        3,
    );
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("kubeconfig /nonexistent/kc (--kubeconfig) does not exist"),
        "{}",
        run.stderr
    );
    // A context that is not there: the list and a guess.
    std::fs::write(
        sb.path("kc"),
        "apiVersion: v1\nkind: Config\nclusters: [{name: sim, cluster: {server: 'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: staging, context: {cluster: sim, user: u}}]\ncurrent-context: staging\n",
    )
    .unwrap();
    let run = fails(
        sb.run(&[
            "agent",
            "data-plane",
            "-n",
            "llm",
            "--kubeconfig",
            "kc",
            "--context",
            "stagng",
        ]),
        2,
    );
    assert!(
        run.stderr.contains("--context \"stagng\" is not in kubeconfig kc (contexts: staging); did you mean staging?"),
        "{}",
        run.stderr
    );
}

#[test]
fn colour_follows_no_color_clicolor_force_and_the_flag() {
    let sb = store();
    let esc = |run: &Run| run.stdout.contains('\x1b');
    assert!(!esc(&sb.ok(&["timeline"])), "a pipe gets no colour");
    assert!(esc(&sb.run_env(&["timeline"], &[("CLICOLOR_FORCE", "1")])));
    assert!(!esc(&sb.run_env(
        &["timeline"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    )));
    assert!(!esc(&sb.run_env(
        &["--no-color", "timeline"],
        &[("CLICOLOR_FORCE", "1")]
    )));
    assert!(!esc(&sb.run_env(
        &["timeline", "--no-color"],
        &[("CLICOLOR_FORCE", "1")]
    )));
}

mod support;

#[tokio::test]
async fn http_errors_are_worded_for_http_clients_and_write_nothing() {
    let env = support::Env::new();
    let ch = env.open("litellm-canary");
    env.post(&ch, "pipeline", "first");
    let token = env.token(&ch, "pipeline");
    let server = support::Server::start(&env);
    let url = format!("{}/api/channels/{ch}/entries", server.url);
    let before = std::fs::read(env.author_file(&ch, "pipeline")).unwrap();
    let http = reqwest::Client::new();
    let cases = [
        (
            serde_json::json!({"body": "  "}),
            400,
            "the JSON field \"body\" is empty",
        ),
        (
            serde_json::json!({"body": "x", "kind": "correction"}),
            400,
            "put its id in \"refs\"",
        ),
        (
            serde_json::json!({"body": "x", "refs": ["pipline#1"]}),
            422,
            "pipline#1 in \"refs\" does not exist in channel 2026-05-04--litellm-canary: pipline has 0 entries (did you mean \"refs\": [\"pipeline#1\"]?); nothing was written",
        ),
        (
            serde_json::json!({"body": "x", "refs": ["zzz#1"]}),
            422,
            "zzz has 0 entries; nothing was written",
        ),
        (
            serde_json::json!({"body": "x", "refs": ["nonsense"]}),
            400,
            "\"nonsense\" in \"refs\" is not an entry id",
        ),
        (
            serde_json::json!({"body": "x".repeat(70 * 1024)}),
            413,
            "over this relay's limit",
        ),
    ];
    for (body, status, want) in cases {
        let resp = http
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let text: Value = resp.json().await.unwrap();
        let message = text["error"].as_str().unwrap();
        assert!(message.contains(want), "{body}: {message}");
        for cli in ["give TEXT", "stdin", "--ref", "--max-body", "add --ref"] {
            assert!(
                !message.contains(cli),
                "CLI wording in an HTTP error: {message}"
            );
        }
    }
    assert_eq!(
        std::fs::read(env.author_file(&ch, "pipeline")).unwrap(),
        before
    );
    // Reading: a filter on a role the channel never had is a 400 with a guess, not `[]`; a
    // role on the roster that has not posted is a fine filter.
    for (query, status, want) in [
        (
            "author=pipline",
            400,
            "the query parameter \"author\": no role pipline in channel 2026-05-04--litellm-canary (roles: ",
        ),
        ("to=opertor", 400, "did you mean operator?"),
        ("author=pipeline,zzz", 400, "no role zzz"),
        ("author=operator", 200, "[]"),
    ] {
        let resp = http.get(format!("{url}?{query}")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{query}");
        let text = resp.text().await.unwrap();
        let shown = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.clone());
        assert!(shown.contains(want), "{query}: {text}");
    }
}

/// The `rollout` commands share the one `-o` of every other command: json and yaml parse,
/// `--format` is the same flag, and what they do not print is refused with what they do.
#[test]
fn rollout_outputs_are_the_shared_flag() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path("manifests")).unwrap();
    std::fs::write(
        sb.path("manifests/web.yaml"),
        "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: web, namespace: shop, generation: 1, creationTimestamp: '2026-05-04T17:00:00Z'}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: 'web:v1'}]}}\n  strategy: {canary: {steps: [{setWeight: 20}]}}\nstatus: {observedGeneration: '1', replicas: 1, readyReplicas: 1, availableReplicas: 1, updatedReplicas: 1}\n",
    )
    .unwrap();
    let dir = sb.path("manifests");
    let dir = dir.to_str().unwrap();
    let commands: &[&[&str]] = &[
        &["rollout", "get", "web"],
        &["rollout", "status", "web", "--watch=false"],
        &["rollout", "list"],
        &["rollout", "detect", "web"],
    ];
    for args in commands {
        let with = |extra: &[&str]| {
            let mut full = args.to_vec();
            full.extend(["-n", "shop", "--from-dir", dir]);
            full.extend(extra);
            sb.run(&full)
        };
        // `detect` exits 1 when it finds something and `status` 1 for Degraded: the document
        // is printed either way.
        let j = with(&["-o", "json"]);
        assert!(j.code == 0 || j.code == 1, "{args:?}: {j:?}");
        let j = json(&j);
        assert_eq!(json(&with(&["--format", "json"])), j, "{args:?}");
        let y: Value = serde_saphyr::from_str(&with(&["--output", "yaml"]).stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert_eq!(y, j, "{args:?}: yaml and json carry the same document");
        let refused = fails(with(&["-o", "ndjson"]), 2);
        assert!(
            refused
                .stderr
                .contains("[possible values: text, json, yaml, wide]"),
            "{args:?}: {}",
            refused.stderr
        );
    }
}
