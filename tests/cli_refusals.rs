//! Refusals that say where things stand and the way on: `post --bulk` refusing a line (where
//! it stopped, what was written before it, the did-you-mean a single `post` gives); `open` of
//! a channel that exists and is sealed.

mod harness;

use harness::Sandbox;

#[test]
fn a_bad_line_says_what_was_appended_before_it() {
    let sb = Sandbox::new();
    sb.ok(&["open", "bulk", "--roles", "pipeline"]);
    let run = sb.run_stdin(
        &["post", "--as", "pipeline", "--bulk"],
        b"{\"body\":\"one\"}\n{\"body\":\"two\"}\nnot json\n{\"body\":\"four\"}\n",
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert_eq!(run.stdout, "pipeline#1\npipeline#2\n");
    assert!(
        run.stderr.contains("standard input line 3: ")
            && run.stderr.contains(
                "the 2 entries before it were appended (their ids are on stdout) and nothing from that line on"
            ),
        "{}",
        run.stderr
    );
    let timeline = sb.ok(&["timeline", "-o", "ndjson"]).stdout;
    assert_eq!(timeline.lines().count(), 2, "{timeline}");

    // A ref with a typo: the guess `post --ref` gives, and nothing written.
    let run = sb.run_stdin(
        &["post", "--as", "pipeline", "--bulk"],
        b"{\"body\":\"see\",\"refs\":[\"pipline#1\"]}\n",
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("standard input line 1: ")
            && run.stderr.contains("did you mean pipeline#1?")
            && !run.stderr.contains("appended (their ids"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn opening_a_sealed_channel_again_points_to_a_new_one() {
    let sb = Sandbox::new();
    sb.ok(&[
        "open",
        "canary",
        "--date",
        "2026-05-04",
        "--roles",
        "pipeline",
    ]);
    // Not sealed: the roster is the way on.
    let run = sb.run(&["open", "canary", "--date", "2026-05-04"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("warroom roster add"), "{}", run.stderr);
    sb.ok(&["post", "--as", "pipeline", "done"]);
    sb.ok(&["archive"]);
    let before = sb.snapshot();
    let run = sb.run(&["open", "canary", "--date", "2026-05-04"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("is sealed (archived): open the next one under another theme (`warroom open canary-2`) or another --date")
            && !run.stderr.contains("roster add"),
        "{}",
        run.stderr
    );
    assert_eq!(sb.snapshot(), before, "nothing written");
}
