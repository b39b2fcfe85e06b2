//! `post --bulk` refusing a line: where it stopped, what was written before it, and the same
//! did-you-mean a single `post` gives.

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
