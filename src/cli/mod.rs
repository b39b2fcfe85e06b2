//! The command line: clap definitions, validation into configs, and one file per verb group.
//!
//! This module is glue. It parses flags, builds the library's domain objects, and maps errors
//! to exit codes: 0 ok, 1 a problem found, 2 usage or bad input, 3 I/O or environment.
//! It must not implement store, timeline or rollout logic itself.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod archive;
mod channel;
mod demo;
mod follow;
mod read;
mod relay;
pub mod rollout;
mod rollout_act;
mod rollout_list;
pub mod sim;

/// Exit status for "a problem was found" (verify findings, a degraded rollout).
pub const EXIT_FOUND: u8 = 1;
/// Exit status for usage errors and bad input.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for I/O and environment errors.
pub const EXIT_IO: u8 = 3;

/// A coordination channel for live operations.
#[derive(Debug, Parser)]
#[command(name = "warroom", version, about, long_about = None)]
pub struct Cli {
    /// Store root holding the channels.
    #[arg(long, global = true, env = "WARROOM_ROOT", default_value = "channels")]
    pub root: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a new channel; prints its name.
    Open(channel::OpenArgs),
    /// List channels, newest first.
    Ls(channel::LsArgs),
    /// Append one entry as ROLE; prints its id.
    Post(channel::PostArgs),
    /// Manage a channel's roster.
    #[command(subcommand)]
    Roster(channel::RosterCommand),
    /// Print the merged timeline of a channel.
    Timeline(read::TimelineArgs),
    /// What the others wrote since ROLE last caught up.
    Catchup(read::CatchupArgs),
    /// Check every file of a channel: checksums, chain, torn writes.
    Verify(read::VerifyArgs),
    /// Serve the live relay: REST, WebSocket feed and the operator's page.
    Serve(relay::ServeArgs),
    /// Manage bearer tokens for posting through the relay.
    #[command(subcommand)]
    Token(relay::TokenCommand),
    /// Argo Rollouts: `get`, `status`, `list`, and the operator's `promote`, `abort`, `retry`,
    /// `pause`, `resume`, `undo`.
    Rollout(rollout::RolloutArgs),
    /// Seal a channel and write its record (README.md, TIMELINE.md, the store's index).
    Archive(archive::ArchiveArgs),
    /// Serve a simulated Kubernetes API playing a scenario, until killed.
    Sim(sim::SimArgs),
    /// Run a built-in observer (pipeline, data-plane, traffic) that posts to a channel.
    Agent(agent::AgentArgs),
    /// Play the canary story in the simulator with the three observers and the live page.
    Demo(demo::DemoArgs),
}

/// An error that already knows its exit status (anything else maps through [`exit_code`]).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

/// Parses the process arguments, runs the command and returns its exit status.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => report(&err),
    }
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let root = cli.root;
    match cli.command {
        Command::Open(args) => channel::open(&root, args),
        Command::Ls(args) => channel::ls(&root, args),
        Command::Post(args) => channel::post(&root, args),
        Command::Roster(cmd) => channel::roster(&root, cmd),
        Command::Timeline(args) => read::timeline(&root, args),
        Command::Catchup(args) => read::catchup(&root, args),
        Command::Verify(args) => read::verify(&root, args),
        Command::Serve(args) => relay::serve(&root, args),
        Command::Token(cmd) => relay::token(&root, cmd),
        Command::Rollout(args) => rollout::run(&root, args),
        Command::Archive(args) => archive::archive(&root, args),
        Command::Sim(args) => sim::run(args),
        Command::Agent(args) => agent::run(&root, args),
        Command::Demo(args) => demo::run(&root, args),
    }
}

/// Prints an error to stderr (quietly for a closed stdout) and picks its exit status.
fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::from(0);
    }
    eprintln!("error: {err:#}");
    let denied = err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>().is_some_and(|io| {
            matches!(
                io.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            )
        })
    });
    if denied {
        eprintln!(
            "hint: check that you may write there (ls -ld on the directory), or use another --root"
        );
    }
    ExitCode::from(exit_code(err))
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The exit status for an error: the first cause in the chain that knows its class decides.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(e) = cause.downcast_ref::<crate::channel::Error>() {
            return e.exit_code();
        }
        if cause
            .downcast_ref::<crate::templates::TemplateError>()
            .is_some()
        {
            return EXIT_IO;
        }
        if let Some(e) = cause.downcast_ref::<crate::observe::ObserveError>() {
            return e.exit_code();
        }
        if let Some(e) = cause.downcast_ref::<crate::rollout::RolloutError>() {
            return e.exit_code();
        }
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return EXIT_IO;
        }
    }
    EXIT_IO
}
