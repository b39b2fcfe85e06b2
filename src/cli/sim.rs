//! `warroom sim`: run the Kubernetes API simulator until killed.
//!
//! Glue only: validate flags, load the scenario, bind, write the kubeconfig, print the URLs,
//! and serve until SIGTERM or Ctrl-C. The simulator itself lives in [`crate::sim`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::{EXIT_IO, EXIT_USAGE, Failure};
use crate::sim::{self, Scenario, SimHandle};

/// Serve a simulated Kubernetes API (and a fake HTTP backend) playing a scenario.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Built-in scenario name (see --list) or a scenario YAML file
    /// (docs/SCENARIOS.md has the format).
    #[arg(long, default_value = "story")]
    pub scenario: String,
    /// Print the built-in scenarios' names, one per line, and exit.
    #[arg(long)]
    pub list: bool,
    /// Print the built-in scenarios (name, length, description) and exit.
    #[arg(long)]
    pub list_scenarios: bool,
    /// API port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Address to bind (an IP; the port is --port); loopback unless you really mean otherwise.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP", value_parser = parse_ip)]
    pub bind: IpAddr,
    /// Write a kubeconfig pointing at the simulator here (for kubectl and the observers).
    #[arg(long)]
    pub kubeconfig_out: Option<PathBuf>,
    /// Scenario time runs this many times faster than wall time (above 0, at most 10000).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub speed: f64,
    /// Fake backend port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    pub backend_port: u16,
}

fn parse_ip(s: &str) -> Result<IpAddr, String> {
    s.parse().map_err(|_| {
        "expected an IP address such as 127.0.0.1 or ::1 (the port is --port, 0 picks a free one)".to_string()
    })
}

fn usage(message: String) -> anyhow::Error {
    Failure {
        code: EXIT_USAGE,
        message,
    }
    .into()
}

/// Runs `warroom sim`; returns only after a shutdown signal (or a startup error).
pub fn run(args: SimArgs) -> anyhow::Result<u8> {
    if args.list {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for (name, _) in sim::scenario::BUILTIN {
            writeln!(out, "{name}")?;
        }
        return Ok(0);
    }
    if args.list_scenarios {
        return list_scenarios();
    }
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 10_000.0) {
        return Err(usage(format!(
            "--speed {} is out of range: give a factor above 0 and at most 10000 (1 is real time)",
            args.speed
        )));
    }
    let scenario = Scenario::resolve(&args.scenario)
        .map_err(|e| usage(format!("{:#}", anyhow::Error::from(e))))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(crate::cli::color::stderr())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,warroom=info")),
        )
        .try_init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args, scenario))
}

async fn serve(args: SimArgs, scenario: Scenario) -> anyhow::Result<u8> {
    // Before the URLs go out: a signal right after them stops the simulator cleanly.
    let stop = crate::cli::signal::listen();
    let bind = |port: u16| async move {
        let addr = SocketAddr::new(args.bind, port);
        tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            anyhow::Error::from(Failure {
                code: EXIT_IO,
                message: format!("cannot listen on {addr}: {e} (pick another port, or 0 for any)"),
            })
        })
    };
    if !args.bind.is_loopback() {
        eprintln!(
            "warning: serving on {} without authentication: anyone who can reach it can read the scenario",
            args.bind
        );
    }
    let api = bind(args.port).await?;
    let backend = bind(args.backend_port).await?;
    let api_url = format!("http://{}", api.local_addr()?);
    let backend_url = format!("http://{}", backend.local_addr()?);
    let namespace = first_namespace(&scenario);
    let sim = SimHandle::new(scenario, args.speed).map_err(|e| usage(format!("{e:#}")))?;
    if let Some(path) = &args.kubeconfig_out {
        std::fs::write(path, sim::kubeconfig(&api_url, namespace.as_deref()))
            .with_context(|| format!("cannot write the kubeconfig to {}", path.display()))?;
        eprintln!(
            "kubeconfig: {} (kubectl --kubeconfig {0} get pods -A)",
            path.display()
        );
    }
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{api_url}")?;
        writeln!(out, "{backend_url}")?;
        out.flush()?;
    }
    eprintln!(
        "serving {} at speed {}: API {api_url}, backend {backend_url}; Ctrl-C to stop",
        sim.scenario().source,
        args.speed
    );
    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel();
    let shutdown = async move {
        let _ = signal_tx.send(stop.await);
    };
    sim::serve(sim, api, Some(backend), shutdown).await?;
    let sig = signal_rx.await.unwrap_or("a signal");
    crate::cli::signal::stopped(sig, &format!("simulator on {api_url} closed"));
    Ok(0)
}

fn list_scenarios() -> anyhow::Result<u8> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for (name, _) in sim::scenario::BUILTIN {
        let scenario = Scenario::resolve(name)?;
        writeln!(
            out,
            "{name}\t{}\t{}",
            humantime::format_duration(scenario.end),
            scenario.description
        )?;
    }
    Ok(0)
}

/// The namespace of the scenario's first namespaced object (or its load), as the kubeconfig's
/// default.
fn first_namespace(scenario: &Scenario) -> Option<String> {
    scenario
        .objects
        .iter()
        .find_map(|o| {
            o.template
                .pointer("/metadata/namespace")
                .and_then(|n| n.as_str())
                .map(str::to_string)
        })
        .or_else(|| scenario.load.as_ref().map(|l| l.namespace.clone()))
}
