//! `warroom rollout get|get-experiment|status`: flags -> a snapshot (a `--from-dir` directory or
//! the cluster) -> the pure view in [`crate::rollout::view`] -> stdout.
//!
//! stdout carries only the view, the status line or the findings; errors go to stderr through
//! the caller. Exit codes: 0 ok (`get` whatever the phase), 1 Degraded / watch timeout /
//! findings, 2 bad input (unknown name, malformed manifest), 3 I/O or environment.
//!
//! Test hook: the hidden `--pin-age DURATION` flag (or `WARROOM_TEST_PIN_AGE`) rewrites every
//! creationTimestamp read with `--from-dir` to now minus DURATION, as Argo's own CLI tests do,
//! so the conformance suite's AGE columns are stable. It is refused without `--from-dir`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{SubsecRound, Utc};
use clap::{Args, Subcommand};

use super::{EXIT_FOUND, EXIT_USAGE, Failure};
use crate::rollout::view::{self, Colour};
use crate::rollout::{RolloutError, Snapshot, cluster, detect, find_by_name, load};

/// How often `--watch` re-reads its source.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Args)]
pub struct RolloutArgs {
    #[command(subcommand)]
    pub command: RolloutCommand,
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Show a rollout like `kubectl argo rollouts get rollout` (exit 0 whatever its phase).
    #[command(after_help = "Examples:
  warroom rollout get litellm -n llm
  warroom rollout get canary-demo -n jesse-test --from-dir fixtures/canary
  warroom rollout get litellm -n llm --watch")]
    Get(GetArgs),
    /// Show an experiment like `kubectl argo rollouts get experiment`.
    #[command(after_help = "Examples:
  warroom rollout get-experiment my-experiment -n llm")]
    GetExperiment(GetArgs),
    /// Print a rollout's status in one line; exit 1 when it is Degraded.
    #[command(after_help = "Examples:
  warroom rollout status litellm -n llm
  warroom rollout status litellm -n llm --watch --timeout 5m && echo promoted")]
    Status(StatusArgs),
    /// Run the failure detectors on a rollout and its namespace; exit 1 when one fires.
    #[command(after_help = "Examples:
  warroom rollout detect litellm -n llm
  warroom rollout detect litellm -n llm --from-dir manifests/ --format json")]
    Detect(DetectArgs),
}

/// Where the objects come from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Namespace (default: the kubeconfig context's; with --from-dir: any namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Read manifests (*.yaml, *.yml, *.json) from this directory instead of a cluster.
    #[arg(long, value_name = "DIR")]
    pub from_dir: Option<PathBuf>,
    /// Test hook: rewrite every creationTimestamp read from --from-dir to now minus this
    /// duration (and the first metric's measurement times), as Argo's own CLI tests do.
    #[arg(
        long,
        hide = true,
        env = "WARROOM_TEST_PIN_AGE",
        value_name = "DURATION"
    )]
    pub pin_age: Option<humantime::Duration>,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Name of the rollout (or experiment).
    pub name: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Keep re-reading and reprint the view whenever it changes, until interrupted.
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Name of the rollout.
    pub name: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Keep watching until Healthy or Degraded (or --timeout); `--watch=false` is accepted.
    #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false")]
    pub watch: bool,
    /// Give up watching after this long (e.g. 30s, 5m; exit 1); 0 waits forever.
    #[arg(short = 't', long, value_name = "DURATION", default_value = "0s")]
    pub timeout: humantime::Duration,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Name of the rollout.
    pub name: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output: markdown text, or a JSON array of findings.
    #[arg(long, value_enum, default_value_t = DetectFormat::Text)]
    pub format: DetectFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectFormat {
    Text,
    Json,
}

pub fn run(args: RolloutArgs) -> anyhow::Result<u8> {
    match args.command {
        RolloutCommand::Get(args) => get(args, View::Rollout),
        RolloutCommand::GetExperiment(args) => get(args, View::Experiment),
        RolloutCommand::Status(args) => status(args),
        RolloutCommand::Detect(args) => detect(args),
    }
}

/// What `get` shows.
#[derive(Debug, Clone, Copy)]
enum View {
    Rollout,
    Experiment,
}

/// What a read fetches.
#[derive(Debug, Clone, Copy)]
enum Object {
    Rollout,
    Experiment,
    /// The rollout and everything the detectors read in its namespace.
    Namespace,
}

/// Reads snapshots from a directory or a cluster.
struct Source {
    backend: Backend,
    namespace: Option<String>,
    pin_age: Option<Duration>,
}

enum Backend {
    Dir(PathBuf),
    /// kube-rs is async; the CLI is not, so cluster reads run on their own small runtime. One
    /// client (one connection pool) serves every read of a `--watch`.
    Cluster {
        runtime: tokio::runtime::Runtime,
        client: kube::Client,
        namespace: String,
    },
}

impl Source {
    fn new(args: &SourceArgs) -> anyhow::Result<Self> {
        if args.pin_age.is_some() && args.from_dir.is_none() {
            return Err(Failure {
                code: EXIT_USAGE,
                message:
                    "--pin-age (WARROOM_TEST_PIN_AGE) is a test hook for --from-dir only; unset it"
                        .into(),
            }
            .into());
        }
        let backend = match &args.from_dir {
            Some(dir) => Backend::Dir(dir.clone()),
            None => {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .context("cannot start the async runtime")?;
                let (client, namespace) =
                    runtime.block_on(cluster::connect(args.namespace.as_deref()))?;
                Backend::Cluster {
                    runtime,
                    client,
                    namespace,
                }
            }
        };
        Ok(Self {
            backend,
            namespace: args.namespace.clone(),
            pin_age: args.pin_age.map(Into::into),
        })
    }

    /// A snapshot holding the named object (found) plus what its view needs.
    fn read(&self, object: Object, name: &str) -> Result<Snapshot, RolloutError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let mut snapshot = load::load_dir(dir)?;
                if let Some(ago) = self.pin_age {
                    let at = Utc::now() - chrono::Duration::from_std(ago).unwrap_or_default();
                    snapshot.pin_creation(at.trunc_subsecs(0));
                }
                Ok(snapshot)
            }
            Backend::Cluster {
                runtime,
                client,
                namespace,
            } => runtime.block_on(async {
                match object {
                    Object::Rollout => cluster::fetch_rollout(client, namespace, name).await,
                    Object::Experiment => cluster::fetch_experiment(client, namespace, name).await,
                    Object::Namespace => cluster::fetch_namespace(client, namespace).await,
                }
            }),
        }
    }

    /// The namespace to match names in: `-n`, or the kubeconfig context's in cluster mode.
    fn lookup_namespace(&self) -> Option<&str> {
        match &self.backend {
            Backend::Cluster { namespace, .. } => Some(namespace),
            Backend::Dir(_) => self.namespace.as_deref(),
        }
    }

    fn location(&self) -> String {
        match &self.backend {
            Backend::Dir(dir) => format!(" in {}", dir.display()),
            Backend::Cluster { .. } => String::new(),
        }
    }

    fn render(&self, shown: View, name: &str, colour: Colour) -> Result<String, RolloutError> {
        let object = match shown {
            View::Rollout => Object::Rollout,
            View::Experiment => Object::Experiment,
        };
        let snapshot = self.read(object, name)?;
        let now = Utc::now();
        let ns = self.lookup_namespace();
        Ok(match shown {
            View::Rollout => {
                let ro = find_by_name(
                    &snapshot.rollouts,
                    |o| &o.metadata,
                    "rollout.argoproj.io",
                    name,
                    ns,
                    &self.location(),
                )?;
                view::render_rollout(&view::rollout_view(&snapshot, ro, now), colour)
            }
            View::Experiment => {
                let ex = find_by_name(
                    &snapshot.experiments,
                    |o| &o.metadata,
                    "experiment.argoproj.io",
                    name,
                    ns,
                    &self.location(),
                )?;
                view::render_experiment(&view::experiment_view(&snapshot, ex, now), colour)
            }
        })
    }

    fn status(&self, name: &str) -> Result<(String, String), RolloutError> {
        // The status needs the Rollout alone: don't list pods for it.
        if let Backend::Cluster {
            runtime,
            client,
            namespace,
        } = &self.backend
        {
            let ro = runtime.block_on(cluster::get_rollout(client, namespace, name))?;
            return Ok(view::status_and_message(&ro));
        }
        let snapshot = self.read(Object::Rollout, name)?;
        let ns = self.lookup_namespace();
        let ro = find_by_name(
            &snapshot.rollouts,
            |o| &o.metadata,
            "rollout.argoproj.io",
            name,
            ns,
            &self.location(),
        )?;
        Ok(view::status_and_message(ro))
    }
}

/// Colour by the one rule (global --no-color, NO_COLOR, CLICOLOR_FORCE, a terminal).
fn colour() -> Colour {
    if super::color::stdout() {
        Colour::Ansi
    } else {
        Colour::Never
    }
}

fn get(args: GetArgs, shown: View) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let colour = colour();
    let mut out = std::io::stdout().lock();
    if !args.watch {
        out.write_all(source.render(shown, &args.name, colour)?.as_bytes())?;
        return Ok(0);
    }
    let clear = std::io::stdout().is_terminal();
    let mut last = String::new();
    loop {
        let text = source.render(shown, &args.name, colour)?;
        if text != last {
            if clear {
                out.write_all(b"\x1b[H\x1b[2J")?;
            }
            out.write_all(text.as_bytes())?;
            out.flush()?;
            last = text;
        }
        std::thread::sleep(WATCH_INTERVAL);
    }
}

fn degraded(message: &str) -> anyhow::Error {
    Failure {
        code: EXIT_FOUND,
        message: format!("The rollout is in a degraded state with message: {message}"),
    }
    .into()
}

fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let mut out = std::io::stdout().lock();
    if !args.watch {
        let (status, message) = source.status(&args.name)?;
        writeln!(out, "{}", view::status_line(&status, &message))?;
        return if status == "Degraded" {
            Err(degraded(&message))
        } else {
            Ok(0)
        };
    }
    let timeout: Duration = args.timeout.into();
    let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
    let mut last = String::new();
    loop {
        let (status, message) = source.status(&args.name)?;
        let line = view::watch_line(&status, &message);
        if line != last {
            writeln!(out, "{line}")?;
            out.flush()?;
            last = line;
        }
        match status.as_str() {
            "Healthy" => return Ok(0),
            "Degraded" => return Err(degraded(&message)),
            _ => {}
        }
        let wait = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Failure {
                        code: EXIT_FOUND,
                        message: "Rollout status watch exceeded timeout".into(),
                    }
                    .into());
                }
                left.min(WATCH_INTERVAL)
            }
            None => WATCH_INTERVAL,
        };
        std::thread::sleep(wait);
    }
}

fn detect(args: DetectArgs) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let snapshot = source.read(Object::Namespace, &args.name)?;
    let ns = source.lookup_namespace();
    let ro = find_by_name(
        &snapshot.rollouts,
        |o| &o.metadata,
        "rollout.argoproj.io",
        &args.name,
        ns,
        &source.location(),
    )?;
    let mut findings = Vec::new();
    // One look has no history: date an unobserved spec from the controller's last status write.
    let last_write = ro
        .status
        .conditions
        .iter()
        .filter_map(|c| c.last_update_time.or(c.last_transition_time))
        .max();
    let now = Utc::now();
    let since = last_write.unwrap_or(now);
    findings.extend(detect::spec_not_observed(
        ro,
        since,
        now,
        chrono::TimeDelta::zero(),
    ));
    findings.extend(detect::rollout_findings(&snapshot, ro));
    let mut out = std::io::stdout().lock();
    match args.format {
        DetectFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?,
        DetectFormat::Text => {
            for (i, finding) in findings.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                write!(out, "{finding}")?;
            }
        }
    }
    Ok(if findings.is_empty() { 0 } else { EXIT_FOUND })
}
