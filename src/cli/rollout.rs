//! `warroom rollout get|get-experiment|status|list|detect` and the operator actions
//! (`promote|abort|retry|pause|resume|undo`, in [`super::rollout_act`]): flags -> a snapshot (a
//! `--from-dir` directory or the cluster of `--kubeconfig`/`--context`) -> the pure view in
//! [`crate::rollout::view`] -> stdout.
//!
//! stdout carries only the view, the status line, the list or the findings; errors go to stderr
//! through the caller. Exit codes: 0 ok (`get` whatever the phase; `get --watch` stopped by
//! Ctrl-C or SIGTERM), 1 Degraded / watch timeout / findings, 2 bad input (unknown name,
//! malformed manifest), 3 I/O or environment, 130 `status` interrupted before an outcome (so
//! `status && next` never proceeds).
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

use super::{EXIT_FOUND, EXIT_IO, EXIT_USAGE, Failure, rollout_act, rollout_list};
use crate::rollout::actions::Action;
use crate::rollout::model::Rollout;
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
    /// Watch a rollout until Healthy (exit 0), Degraded (exit 1) or --timeout, like the plugin.
    #[command(after_help = "Examples:
  warroom rollout status litellm -n llm
  warroom rollout status litellm -n llm --watch=false      # one look, no waiting
  warroom rollout status litellm -n llm --timeout 5m && echo promoted")]
    Status(StatusArgs),
    /// List rollouts like `kubectl argo rollouts list rollouts`.
    #[command(after_help = "Examples:
  warroom rollout list -n llm
  warroom rollout list -A -o wide")]
    List(ListArgs),
    /// Run the failure detectors on a rollout and its namespace; exit 1 when one fires.
    #[command(after_help = "Examples:
  warroom rollout detect litellm -n llm
  warroom rollout detect litellm -n llm --from-dir manifests/ --format json")]
    Detect(DetectArgs),
    /// Promote a paused rollout past its pause or step (--full: skip every remaining step).
    #[command(after_help = "Examples:
  warroom rollout promote litellm -n llm
  warroom rollout promote litellm -n llm --full")]
    Promote(rollout_act::PromoteArgs),
    /// Abort a rollout: back to the stable ReplicaSet.
    #[command(after_help = "Examples:
  warroom rollout abort litellm -n llm")]
    Abort(rollout_act::ActionArgs),
    /// Retry an aborted rollout.
    #[command(after_help = "Examples:
  warroom rollout retry litellm -n llm")]
    Retry(rollout_act::ActionArgs),
    /// Pause a rollout (spec.paused = true).
    #[command(after_help = "Examples:
  warroom rollout pause litellm -n llm")]
    Pause(rollout_act::ActionArgs),
    /// Undo `pause` (spec.paused = false); a pause step needs `promote`.
    #[command(after_help = "Examples:
  warroom rollout resume litellm -n llm")]
    Resume(rollout_act::ActionArgs),
    /// Roll back to the previous revision's pod template (or --to-revision N).
    #[command(after_help = "Examples:
  warroom rollout undo litellm -n llm
  warroom rollout undo litellm -n llm --to-revision 3")]
    Undo(rollout_act::UndoArgs),
}

/// kubectl's connection flags, defined once for every cluster-facing command.
pub use super::kubeconfig::KubeArgs;

/// How a command prints: the `-o` every printing command shares (`--format` as an alias).
pub use super::output::{self, Output};

/// Where the objects come from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Namespace (default: the kubeconfig context's; with --from-dir: any namespace).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Read manifests (*.yaml, *.yml, *.json) from this directory instead of a cluster.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kubeconfig", "context"])]
    pub from_dir: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeArgs,
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
    /// Keep re-reading and reprint the view whenever it changes, until Ctrl-C (exit 0).
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Output: the plugin's text view (`wide` is the same: the view has no narrower form),
    /// or the derived view as JSON or YAML.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", default_value = "text", value_parser = output::parser(output::ROLLOUT_FORMATS))]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Name of the rollout.
    pub name: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Watch until Healthy or Degraded (or --timeout), as the plugin does; `--watch=false`
    /// checks once.
    #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = clap::ArgAction::Set)]
    pub watch: bool,
    /// Give up watching after this long (e.g. 30s, 5m; exit 1); 0 waits forever.
    #[arg(short = 't', long, value_name = "DURATION", default_value = "0s")]
    pub timeout: humantime::Duration,
    /// Output: the plugin's status lines (`wide` is the same), or `{"status","message"}` as
    /// JSON or YAML.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", default_value = "text", value_parser = output::parser(output::ROLLOUT_FORMATS))]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// List the rollouts of every namespace (with a NAMESPACE column).
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Only the rollout with this name.
    #[arg(long)]
    pub name: Option<String>,
    /// Output: the plugin's table, `wide` (plus MESSAGE and AGE), or JSON / YAML rows.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", default_value = "text", value_parser = output::parser(output::ROLLOUT_FORMATS))]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Name of the rollout.
    pub name: String,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output: markdown text, or a JSON (or YAML) array of findings.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", default_value = "text", value_parser = output::parser(output::ROLLOUT_FORMATS))]
    pub output: Output,
}

pub fn run(root: &std::path::Path, args: RolloutArgs) -> anyhow::Result<u8> {
    match args.command {
        RolloutCommand::Get(args) => get(args, View::Rollout),
        RolloutCommand::GetExperiment(args) => get(args, View::Experiment),
        RolloutCommand::Status(args) => status(args),
        RolloutCommand::List(args) => rollout_list::list(args),
        RolloutCommand::Detect(args) => detect(args),
        RolloutCommand::Promote(args) => rollout_act::promote(root, args),
        RolloutCommand::Abort(args) => rollout_act::run(root, args, Action::Abort),
        RolloutCommand::Retry(args) => rollout_act::run(root, args, Action::Retry),
        RolloutCommand::Pause(args) => rollout_act::run(root, args, Action::Pause),
        RolloutCommand::Resume(args) => rollout_act::run(root, args, Action::Resume),
        RolloutCommand::Undo(args) => rollout_act::undo(root, args),
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
pub(super) struct Source {
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
    pub(super) fn new(args: &SourceArgs) -> anyhow::Result<Self> {
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
                let cluster = runtime.block_on(args.kube.connect()).map_err(|e| {
                    match e.downcast::<Failure>() {
                        // No cluster at all: these commands can also read manifests.
                        Ok(f) if f.code == EXIT_IO => Failure {
                            code: f.code,
                            message: format!(
                                "{}; or read manifests with --from-dir DIR",
                                f.message
                            ),
                        }
                        .into(),
                        Ok(f) => f.into(),
                        Err(e) => e,
                    }
                })?;
                Backend::Cluster {
                    runtime,
                    client: cluster.client,
                    namespace: args.namespace.clone().unwrap_or(cluster.namespace),
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

    /// Now, for ages and delays: the cluster's (the simulator's scenario time) when reading
    /// a cluster, the local clock for a directory.
    pub(super) fn now(&self) -> chrono::DateTime<Utc> {
        match &self.backend {
            Backend::Dir(_) => Utc::now(),
            Backend::Cluster {
                runtime, client, ..
            } => runtime.block_on(crate::observe::clock::ClusterClock::now_for_view(client)),
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

    /// The view of `name` as `output` prints it.
    fn render(
        &self,
        shown: View,
        name: &str,
        colour: Colour,
        output: Output,
    ) -> anyhow::Result<String> {
        let object = match shown {
            View::Rollout => Object::Rollout,
            View::Experiment => Object::Experiment,
        };
        let snapshot = self.read(object, name)?;
        let now = self.now();
        let ns = self.lookup_namespace();
        let (text, data) = match shown {
            View::Rollout => {
                let ro = find_by_name(
                    &snapshot.rollouts,
                    |o| &o.metadata,
                    "rollout.argoproj.io",
                    name,
                    ns,
                    &self.location(),
                )?;
                let v = view::rollout_view(&snapshot, ro, now);
                (
                    matches!(output, Output::Text | Output::Wide)
                        .then(|| view::render_rollout(&v, colour)),
                    serde_json::to_value(&v)?,
                )
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
                let v = view::experiment_view(&snapshot, ex, now);
                (
                    matches!(output, Output::Text | Output::Wide)
                        .then(|| view::render_experiment(&v, colour)),
                    serde_json::to_value(&v)?,
                )
            }
        };
        match text {
            Some(text) => Ok(text),
            None => Ok(output::document(&data, output)?),
        }
    }

    /// Every rollout in the namespace (`None`: in every namespace), for `list`.
    pub(super) fn rollouts(&self, all_namespaces: bool) -> Result<Vec<Rollout>, RolloutError> {
        match &self.backend {
            Backend::Dir(dir) => {
                let snapshot = load::load_dir(dir)?;
                let ns = self.namespace.as_deref().filter(|_| !all_namespaces);
                Ok(snapshot
                    .rollouts
                    .into_iter()
                    .filter(|r| ns.is_none_or(|n| r.metadata.namespace == n))
                    .collect())
            }
            Backend::Cluster {
                runtime,
                client,
                namespace,
            } => runtime.block_on(async {
                let ns = (!all_namespaces).then_some(namespace.as_str());
                let values = cluster::list_values_in(client, ns, &cluster::ROLLOUTS, "").await?;
                values
                    .into_iter()
                    .map(|v| {
                        let name = v["metadata"]["name"].as_str().unwrap_or("").to_string();
                        serde_json::from_value(v).map_err(|e| RolloutError::Decode {
                            kind: "Rollout",
                            name,
                            detail: e.to_string(),
                        })
                    })
                    .collect()
            }),
        }
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

/// Ctrl-C and SIGTERM for a command that runs until stopped or until an outcome: the first
/// signal is delivered on [`Interrupt::wait`]; if the command does not get there in time (a
/// read hanging on the network), the process exits with the same message and code itself.
struct Interrupt {
    signalled: std::sync::mpsc::Receiver<()>,
}

/// How long a command may take to notice an interrupt before the process exits on its own.
const INTERRUPT_GRACE: Duration = Duration::from_secs(3);

impl Interrupt {
    /// Installs the handler; `message` and `code` are used when the grace period runs out.
    /// The signals are registered before this returns, so a signal right after is caught.
    fn install(message: String, code: i32) -> anyhow::Result<Interrupt> {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the signal handler's runtime")?;
        let (mut int, mut term) = {
            let _enter = runtime.enter();
            (
                signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
                signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            )
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            runtime.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
            let _ = tx.send(());
            std::thread::sleep(INTERRUPT_GRACE);
            eprintln!("{message}");
            std::process::exit(code);
        });
        Ok(Interrupt { signalled: rx })
    }

    /// Sleeps for `d`; true when a signal arrived (now or before).
    fn wait(&self, d: Duration) -> bool {
        match self.signalled.recv_timeout(d) {
            Ok(()) => true,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => false,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(d);
                false
            }
        }
    }
}

/// Exit status of a command that waited for an outcome and was interrupted (128 + SIGINT).
const EXIT_INTERRUPTED: u8 = 130;

fn get(args: GetArgs, shown: View) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let colour = colour();
    let mut out = std::io::stdout().lock();
    if !args.watch {
        out.write_all(
            source
                .render(shown, &args.name, colour, args.output)?
                .as_bytes(),
        )?;
        return Ok(0);
    }
    let stopped = format!("stopped watching {}", args.name);
    let interrupt = Interrupt::install(stopped.clone(), 0)?;
    let clear =
        std::io::stdout().is_terminal() && matches!(args.output, Output::Text | Output::Wide);
    let mut last = String::new();
    loop {
        let text = source.render(shown, &args.name, colour, args.output)?;
        if text != last {
            if clear {
                out.write_all(b"\x1b[H\x1b[2J")?;
            }
            out.write_all(text.as_bytes())?;
            out.flush()?;
            last = text;
        }
        if interrupt.wait(WATCH_INTERVAL) {
            eprintln!("{stopped}");
            return Ok(0);
        }
    }
}

fn degraded(message: &str) -> anyhow::Error {
    Failure {
        code: EXIT_FOUND,
        message: format!("The rollout is in a degraded state with message: {message}"),
    }
    .into()
}

fn status_document(status: &str, message: &str, output: Output) -> anyhow::Result<String> {
    Ok(output::document(
        &serde_json::json!({"status": status, "message": message}),
        output,
    )?)
}

fn status(args: StatusArgs) -> anyhow::Result<u8> {
    let source = Source::new(&args.source)?;
    let mut out = std::io::stdout().lock();
    let text = matches!(args.output, Output::Text | Output::Wide);
    if !args.watch {
        let (status, message) = source.status(&args.name)?;
        if text {
            writeln!(out, "{}", view::status_line(&status, &message))?;
        } else {
            out.write_all(status_document(&status, &message, args.output)?.as_bytes())?;
        }
        return if status == "Degraded" {
            Err(degraded(&message))
        } else {
            Ok(0)
        };
    }
    let interrupted = format!(
        "interrupted: rollout {} has not reached Healthy or Degraded",
        args.name
    );
    let interrupt = Interrupt::install(interrupted.clone(), i32::from(EXIT_INTERRUPTED))?;
    let timeout: Duration = args.timeout.into();
    let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
    let mut last = String::new();
    loop {
        let (status, message) = source.status(&args.name)?;
        let line = view::watch_line(&status, &message);
        if line != last {
            match args.output {
                // One document per change: a JSON line, or a YAML document after `---`.
                Output::Json | Output::Ndjson => writeln!(
                    out,
                    "{}",
                    serde_json::json!({"status": status, "message": message})
                )?,
                Output::Yaml => write!(
                    out,
                    "---\n{}",
                    status_document(&status, &message, args.output)?
                )?,
                Output::Text | Output::Wide | Output::Md => writeln!(out, "{line}")?,
            }
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
        if interrupt.wait(wait) {
            eprintln!("{interrupted}");
            return Ok(EXIT_INTERRUPTED);
        }
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
    let now = source.now();
    let since = last_write.unwrap_or(now);
    findings.extend(detect::spec_not_observed(
        ro,
        since,
        now,
        chrono::TimeDelta::zero(),
    ));
    // A workloadRef Rollout is released through its Deployment: compare the Deployment's
    // generation with the one the controller last acted on, dated from the Deployment's last
    // spec write (else as above).
    if let Some(deployment) = detect::spec_observed::workload_of(ro, &snapshot.deployments) {
        let since = deployment
            .metadata
            .last_spec_write()
            .map_or(since, |w| w.min(now));
        findings.extend(detect::workload_not_observed(
            ro,
            deployment,
            since,
            now,
            chrono::TimeDelta::zero(),
        ));
    }
    findings.extend(detect::rollout_findings(&snapshot, ro, Some(now)));
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json | Output::Ndjson | Output::Yaml => out.write_all(
            output::document(&serde_json::to_value(&findings)?, args.output)?.as_bytes(),
        )?,
        Output::Text | Output::Wide | Output::Md => {
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
