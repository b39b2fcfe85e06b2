//! `warroom demo`: the story in the simulator, the three observers and the relay, in one
//! process. Glue only: flags -> [`crate::demo::DemoConfig`], a signal task, and what to print.
//!
//! Stdout carries the result, two lines: the channel's name, then the page's URL. Everything
//! else (progress, the summary, what to run next) goes to stderr.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;

use super::Failure;
use crate::demo::{Demo, DemoConfig, DemoError, Summary};

/// Play the litellm canary story in the built-in simulator with the three observers and the
/// live page; no cluster needed. Prints the channel name, then the page URL, on stdout.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario time runs this many times faster than wall time (above 0, at most 1000); the
    /// story is 5.5 minutes of scenario time, plus a few seconds to start and stop.
    #[arg(long, default_value_t = 10.0, allow_negative_numbers = true)]
    pub speed: f64,
    /// Keep the relay and the page up after the scenario ends, until Ctrl-C.
    #[arg(long)]
    pub keep_serving: bool,
    /// Address for the relay and its page; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:7700", value_name = "ADDR:PORT", value_parser = super::relay::parse_bind)]
    pub bind: String,
}

fn failure(e: DemoError) -> anyhow::Error {
    Failure {
        code: e.exit_code(),
        message: format!("{:#}", anyhow::Error::from(e)),
    }
    .into()
}

/// Runs `warroom demo`: 0 when the demo ran (or was stopped with Ctrl-C) and the channel
/// verifies; 1 when verify finds a problem; 3 when an observer or the relay failed.
pub fn run(root: &Path, args: DemoArgs) -> anyhow::Result<u8> {
    // The simulator's per-step log is noise here: the page and the summary tell the story.
    let filter = tracing_subscriber::EnvFilter::try_from_env("WARROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(super::color::stderr())
        .try_init();
    let mut config = DemoConfig::new(root.to_owned(), args.speed);
    config.bind = args.bind;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = CancellationToken::new();
        let signal = {
            let stop = stop.clone();
            let signal = super::signal::listen();
            tokio::spawn(async move {
                let sig = signal.await;
                super::signal::stopped(
                    sig,
                    "stopping the observers, then the relay (up to 10 s each)",
                );
                stop.cancel();
            })
        };
        let mut demo = Demo::start(config.clone()).await.map_err(failure)?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", demo.channel())?;
            writeln!(out, "{}", demo.url())?;
            out.flush()?;
        }
        eprintln!(
            "demo: the litellm canary story at {}× speed in channel {} (root {})",
            config.speed,
            demo.channel(),
            root.display()
        );
        eprintln!("open the live page: {}", demo.url());
        eprintln!(
            "observers: pipeline (Rollout llm/litellm), data-plane (namespace llm), traffic (the simulated backend); Ctrl-C stops the demo"
        );
        demo.run_scenario(stop.clone().cancelled_owned()).await;
        if args.keep_serving && !demo.interrupted() {
            eprintln!(
                "the scenario has ended and the observers have stopped; the page stays up at {} until Ctrl-C",
                demo.url()
            );
            stop.cancelled().await;
        }
        signal.abort();
        let summary = demo.finish().await.map_err(failure)?;
        print_summary(root, &summary);
        Ok(if !summary.verify.intact() {
            super::EXIT_FOUND
        } else if summary.failures.is_empty() {
            0
        } else {
            super::EXIT_IO
        })
    })
}

fn print_summary(root: &Path, s: &Summary) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "\ndemo {} after {:.1} s: channel {}",
        if s.interrupted { "stopped" } else { "finished" },
        s.elapsed.as_secs_f64(),
        s.channel
    );
    let total: u64 = s.entries.values().sum();
    let per_author: Vec<String> = s.entries.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let _ = writeln!(err, "  entries: {total} ({})", per_author.join(", "));
    let _ = writeln!(err, "  alerts: {}", s.alerts.len());
    for a in &s.alerts {
        let _ = writeln!(err, "    {:<15} {}", a.id, a.headline);
    }
    for f in &s.failures {
        let _ = writeln!(err, "  problem: {f}");
    }
    if s.verify.intact() {
        let _ = writeln!(
            err,
            "  verify: intact ({} entries in {} files)",
            s.verify.entries, s.verify.files
        );
    } else {
        for f in &s.verify.findings {
            let _ = writeln!(err, "  verify: {f}");
        }
    }
    let root_flag = if root == Path::new("channels") {
        String::new()
    } else {
        format!("--root {} ", root.display())
    };
    let _ = writeln!(err, "look at it:");
    let _ = writeln!(
        err,
        "  warroom {root_flag}timeline --channel {}  # the merged timeline",
        s.channel
    );
    let _ = writeln!(
        err,
        "  warroom {root_flag}timeline --channel {} --kind alert",
        s.channel
    );
    let _ = writeln!(
        err,
        "  warroom {root_flag}serve --bind 127.0.0.1:7700  # the page again: http://127.0.0.1:7700/?channel={}",
        s.channel
    );
    let _ = writeln!(
        err,
        "  warroom {root_flag}archive --channel {}  # seal it and write README.md + TIMELINE.md",
        s.channel
    );
}
