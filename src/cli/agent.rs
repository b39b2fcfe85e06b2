//! `warroom agent pipeline|data-plane|traffic`: run a built-in observer until Ctrl-C/SIGTERM
//! (or, for traffic, until its bound), posting to a local channel or through a relay.
//!
//! Glue only: flags -> validated configs -> [`crate::observe`]. Stdout carries the ids of the
//! entries posted, one per line; progress and warnings go to stderr.

use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::kubeconfig::KubeArgs;
use super::{EXIT_USAGE, Failure};
use crate::channel::{Author, Store};
use crate::observe::state::{StatePublisher, Target};
use crate::observe::{self, Observation, Poster, data_plane, pipeline, traffic};
use crate::roles;

#[derive(Debug, Args)]
pub struct AgentArgs {
    #[command(subcommand)]
    pub role: AgentRole,
}

#[derive(Debug, Subcommand)]
#[command(allow_external_subcommands = true)]
pub enum AgentRole {
    /// Watch Argo Rollouts (by name, by label, or all in the namespace): transitions with
    /// snapshots, analysis measurements, detector alerts with a lifecycle.
    #[command(after_help = "Examples:
  warroom agent pipeline --rollout litellm -n llm
  warroom agent pipeline --rollout litellm --rollout embeddings -n llm
  warroom agent pipeline -l team=llm -n llm
  warroom agent pipeline -A
  warroom agent pipeline -n llm --kubeconfig /tmp/kc --channel litellm-canary")]
    Pipeline(PipelineArgs),
    /// Watch what runs in a namespace: ReplicaSets, pods, Deployments, Jobs, Warning events.
    #[command(after_help = "Examples:
  warroom agent data-plane -n llm
  warroom agent data-plane -n llm -l app=litellm --window 5s --context staging
  warroom agent data-plane -A -l app=litellm")]
    DataPlane(DataPlaneArgs),
    /// Drive bounded synthetic HTTP traffic at a URL and tally it per route and window.
    #[command(after_help = "Examples:
  warroom agent traffic --url http://127.0.0.1:8080 --route /healthz --duration 60s
  warroom agent traffic --url https://llm.example --route 'POST /v1/embeddings {\"input\":\"hi\"}' --rate 5/s --count 300")]
    Traffic(TrafficArgs),
    #[command(external_subcommand)]
    Unknown(Vec<String>),
}

/// Where entries go.
#[derive(Debug, Args)]
pub struct Destination {
    /// Channel name or theme (default: WARROOM_CHANNEL, else the newest unsealed channel).
    #[arg(long, env = "WARROOM_CHANNEL")]
    pub channel: Option<String>,
    /// Post through this relay (`warroom serve`) instead of the local store; needs --token and
    /// --channel.
    #[arg(long, env = "WARROOM_RELAY", requires = "token")]
    pub relay: Option<String>,
    /// Bearer token from `warroom token add` for --relay.
    #[arg(long, env = "WARROOM_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Post as this role (default: the observer's own name; must be on the roster). Never
    /// taken from WARROOM_ROLE: an agent's shell that starts an observer must not make it post
    /// as the agent.
    #[arg(long = "as", value_name = "ROLE")]
    pub author: Option<String>,
}

#[derive(Debug, Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub to: Destination,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// A Rollout to watch; repeat for several. Without it (and without -l), every Rollout of
    /// the namespace.
    #[arg(long, value_name = "NAME")]
    pub rollout: Vec<String>,
    /// Watch the Rollouts matching this label selector (e.g. app=litellm).
    #[arg(short = 'l', long, conflicts_with = "rollout")]
    pub selector: Option<String>,
    /// Namespace (default: agents/pipeline.toml, else the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Watch every namespace, as kubectl's -A (not with --rollout: a name needs its namespace).
    #[arg(short = 'A', long, conflicts_with_all = ["namespace", "rollout"])]
    pub all_namespaces: bool,
    /// How long observedGeneration may lag generation (cluster time) before the alert.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub spec_threshold: Duration,
}

#[derive(Debug, Args)]
pub struct DataPlaneArgs {
    #[command(flatten)]
    pub to: Destination,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Namespace (default: agents/data-plane.toml, else the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Watch every namespace, as kubectl's -A: objects are named `namespace/name`.
    #[arg(short = 'A', long, conflicts_with = "namespace")]
    pub all_namespaces: bool,
    /// Label selector for pods, ReplicaSets, Deployments and Jobs (e.g. app=litellm).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Coalescing window: changes within one window become one entry (wall time).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct TrafficArgs {
    #[command(flatten)]
    pub to: Destination,
    /// Base URL of the service (http or https).
    #[arg(long)]
    pub url: String,
    /// A route: `[METHOD] PATH [BODY]`, e.g. `POST /v1/embeddings {"input":"hi"}`; repeat for
    /// several (requests rotate through them).
    #[arg(long = "route", value_name = "SPEC", required = true)]
    pub routes: Vec<String>,
    /// Requests per second, over all routes (`10/s` or `10`).
    #[arg(long)]
    pub rate: Option<String>,
    /// Stop after this long (a bound is required: --duration or --count).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many requests.
    #[arg(long)]
    pub count: Option<u64>,
    /// Tally window: one entry per window.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub window: Option<Duration>,
    /// Response header naming the backend that answered (per-backend spread).
    #[arg(long)]
    pub backend_header: Option<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Alert when a route's failure ratio in a window exceeds this (0–1).
    #[arg(long, default_value_t = 0.05)]
    pub failure_threshold: f64,
}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure {
        code: EXIT_USAGE,
        message: message.into(),
    }
    .into()
}

/// Runs `warroom agent ROLE`.
pub fn run(root: &std::path::Path, args: AgentArgs) -> anyhow::Result<u8> {
    let role = match &args.role {
        AgentRole::Pipeline(_) => "pipeline",
        AgentRole::DataPlane(_) => "data-plane",
        AgentRole::Traffic(_) => "traffic",
        AgentRole::Unknown(words) => {
            let name = words.first().map(String::as_str).unwrap_or("");
            return Err(usage(format!(
                "unknown observer role {name:?}: use pipeline, data-plane or traffic (see `warroom agent --help`)"
            )));
        }
    };
    let defaults = roles::definition(role)
        .map(|d| d.defaults)
        .unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match args.role {
            AgentRole::Pipeline(a) => {
                let (poster, to) = poster(root, &a.to, role)?;
                let cluster = a.kube.connect().await?;
                // Empty: every namespace.
                let namespace = if a.all_namespaces {
                    String::new()
                } else {
                    a.namespace
                        .or(defaults.namespace)
                        .unwrap_or_else(|| cluster.namespace.clone())
                };
                let in_ns = if a.all_namespaces {
                    "every namespace".to_owned()
                } else {
                    namespace.clone()
                };
                let (target, rollouts) = match (a.selector, a.rollout.is_empty()) {
                    (Some(sel), _) => {
                        let what = format!("the Rollouts matching {sel} in {in_ns}");
                        (pipeline::Target::Selector(sel), what)
                    }
                    (None, false) => {
                        let what = a
                            .rollout
                            .iter()
                            .map(|r| format!("Rollout {namespace}/{r}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        (pipeline::Target::Named(a.rollout), what)
                    }
                    (None, true) => (pipeline::Target::All, format!("every Rollout in {in_ns}")),
                };
                let mut config = pipeline::PipelineConfig::watching(target, &namespace);
                config.spec_threshold = chrono::TimeDelta::from_std(a.spec_threshold)
                    .map_err(|_| usage("--spec-threshold is too large"))?;
                // What it said before: a restart must not say it again.
                config.history = poster.history(&author_name(&a.to, role)).await?;
                let watch = format!(
                    "{rollouts} and their AnalysisRuns, AnalysisTemplates and Events on {}",
                    cluster.server
                );
                let client = cluster.client;
                let (state, published) = state_publisher(&poster, &a.to, role)?;
                config.state = state;
                let code = drive(poster, role, &watch, &to, |out, cancel| {
                    pipeline::run(client, config, out, cancel)
                })
                .await;
                finish_state(published).await;
                code
            }
            AgentRole::DataPlane(a) => {
                let (poster, to) = poster(root, &a.to, role)?;
                let cluster = a.kube.connect().await?;
                // Empty: every namespace.
                let namespace = if a.all_namespaces {
                    String::new()
                } else {
                    a.namespace
                        .or(defaults.namespace)
                        .unwrap_or_else(|| cluster.namespace.clone())
                };
                let window = match (a.window, defaults.window.as_deref()) {
                    (Some(w), _) => w,
                    (None, Some(w)) => humantime::parse_duration(w)
                        .map_err(|e| usage(format!("agents/data-plane.toml: window {w:?}: {e}")))?,
                    (None, None) => Duration::from_secs(3),
                };
                let mut config = data_plane::DataPlaneConfig::new(
                    &namespace,
                    a.selector.or(defaults.selector),
                    window,
                );
                // What it said before: a restart must not say it again.
                config.history = poster.history(&author_name(&a.to, role)).await?;
                let (state, published) = state_publisher(&poster, &a.to, role)?;
                config.state = state;
                let watch = format!(
                    "ReplicaSets, pods, Deployments, Jobs and Warning events in {}{} on {}",
                    if config.namespace.is_empty() {
                        "every namespace".to_owned()
                    } else {
                        format!("namespace {}", config.namespace)
                    },
                    config
                        .selector
                        .as_deref()
                        .map(|s| format!(" ({s})"))
                        .unwrap_or_default(),
                    cluster.server
                );
                let client = cluster.client;
                let code = drive(poster, role, &watch, &to, |out, cancel| {
                    data_plane::run(client, config, out, cancel)
                })
                .await;
                finish_state(published).await;
                code
            }
            AgentRole::Traffic(a) => {
                let mut config = traffic_config(&a, &defaults)?;
                for w in config.warnings() {
                    eprintln!("warning: {w}");
                }
                let (poster, to) = poster(root, &a.to, role)?;
                let (state, published) = state_publisher(&poster, &a.to, role)?;
                config.state = state;
                let watch = format!(
                    "{} route(s) at {} ({})",
                    a.routes.len(),
                    a.url,
                    match (a.duration, a.count) {
                        (Some(d), _) => format!("for {}", humantime::format_duration(d)),
                        (_, Some(n)) => format!("{n} requests"),
                        _ => String::new(),
                    }
                );
                let code = drive(poster, role, &watch, &to, |out, cancel| {
                    traffic::run(config, out, cancel)
                })
                .await;
                finish_state(published).await;
                code
            }
            AgentRole::Unknown(_) => Ok(EXIT_USAGE),
        }
    })
}

fn traffic_config(
    a: &TrafficArgs,
    defaults: &roles::RoleDefaults,
) -> anyhow::Result<traffic::TrafficConfig> {
    let routes = a
        .routes
        .iter()
        .map(|r| traffic::Route::parse(r))
        .collect::<Result<Vec<_>, _>>()?;
    let rate = match a.rate.as_deref().or(defaults.rate.as_deref()) {
        Some(r) => traffic::parse_rate(r)?,
        None => 10.0,
    };
    let window = match (a.window, defaults.window.as_deref()) {
        (Some(w), _) => w,
        (None, Some(w)) => humantime::parse_duration(w)
            .map_err(|e| usage(format!("agents/traffic.toml: window {w:?}: {e}")))?,
        (None, None) => Duration::from_secs(10),
    };
    let bound = match (a.duration, a.count) {
        (Some(d), None) => traffic::Bound::Duration(d),
        (None, Some(n)) => traffic::Bound::Count(n),
        (Some(_), Some(_)) => return Err(usage("give one bound: --duration or --count, not both")),
        (None, None) => {
            return Err(usage(
                "traffic needs a bound: add --duration D (e.g. 60s) or --count N; it never runs unbounded",
            ));
        }
    };
    Ok(traffic::TrafficConfig::new(
        &a.url,
        routes,
        rate,
        bound,
        window,
        a.backend_header.clone(),
        a.timeout,
        a.failure_threshold,
    )?)
}

/// The role it posts as.
fn author_name(to: &Destination, role: &str) -> String {
    to.author.as_deref().unwrap_or(role).to_string()
}

/// The poster, and a phrase saying where it posts (for the start line).
fn poster(
    root: &std::path::Path,
    to: &Destination,
    role: &str,
) -> anyhow::Result<(Poster, String)> {
    let author = Author::new(to.author.as_deref().unwrap_or(role))?;
    if let Some(relay) = &to.relay {
        let channel = to
            .channel
            .as_deref()
            .ok_or_else(|| usage("--relay needs --channel CH (the channel the token is for)"))?;
        let token = to.token.as_deref().unwrap_or_default();
        let where_ = format!("{channel} through the relay {relay} (as the token's role)");
        return Ok((Poster::remote(relay, channel, token), where_));
    }
    let store = Store::open(root)?;
    let target = super::target::resolve(&store, to.channel.as_deref())?;
    let channel = target.channel;
    channel
        .check_can_post(&author)
        .map_err(|e| super::target::explain(&channel, e))?;
    let where_ = format!("{} as {author} (in {})", channel.name(), root.display());
    Ok((Poster::local(channel, author)?, where_))
}

/// The task that publishes the observer's state beside the channel it posts to: the state
/// file locally, or the relay with the same token.
fn state_publisher(
    poster: &Poster,
    to: &Destination,
    role: &str,
) -> anyhow::Result<(StatePublisher, tokio::task::JoinHandle<()>)> {
    let author = Author::new(to.author.as_deref().unwrap_or(role))?;
    let target = match poster {
        Poster::Local { channel, .. } => Target::Local(channel.clone()),
        Poster::Remote { .. } => {
            let relay = to.relay.as_deref().unwrap_or_default();
            let channel = to.channel.as_deref().unwrap_or_default();
            Target::remote(
                relay,
                channel,
                &author,
                to.token.as_deref().unwrap_or_default(),
            )
        }
    };
    let heartbeat = Duration::from_millis(crate::state::DEFAULT_HEARTBEAT_MS);
    Ok(StatePublisher::spawn(target, author, heartbeat))
}

/// Waits (bounded) for the state task to write the observer's last state, marked stopped.
async fn finish_state(task: tokio::task::JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
}

/// Runs an observer with a posting task until it ends or Ctrl-C/SIGTERM; the queue is drained
/// within a deadline. Says once on stderr what it watches and where it posts.
async fn drive<F, Fut>(
    poster: Poster,
    role: &str,
    watch: &str,
    to: &str,
    observer: F,
) -> anyhow::Result<u8>
where
    F: FnOnce(mpsc::Sender<Observation>, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), observe::ObserveError>>,
{
    let cancel = CancellationToken::new();
    let (tx, rx) = mpsc::channel(256);
    let stop = cancel.clone();
    let signal = super::signal::listen();
    let signal = tokio::spawn(async move {
        let sig = signal.await;
        stop.cancel();
        sig
    });
    eprintln!("{role}: watching {watch}; posting to {to}; Ctrl-C stops it");
    let delivery = tokio::spawn(observe::deliver(rx, poster, CancellationToken::new()));
    let result = observer(tx, cancel.clone()).await;
    // The observer dropped its sender: delivery ends when the queue is drained.
    let drained = tokio::time::timeout(Duration::from_secs(10), delivery)
        .await
        .is_ok();
    let by = if cancel.is_cancelled() {
        signal.await.ok()
    } else {
        signal.abort();
        None
    };
    result?;
    if let Some(sig) = by {
        super::signal::stopped(
            sig,
            &if drained {
                format!("{role} observer stopped; every queued post was delivered")
            } else {
                format!("{role} observer stopped; posts still queued after 10 s were dropped")
            },
        );
    }
    Ok(0)
}
