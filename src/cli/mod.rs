//! The command line: clap definitions, validation into configs, and one file per verb group.
//!
//! This module is glue. It parses flags, builds the library's domain objects, and maps errors
//! to exit codes: 0 ok, 1 a problem found, 2 usage or bad input, 3 I/O or environment.
//! It must not implement store, timeline or rollout logic itself.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Serve a simulated Kubernetes API playing a scenario, until killed.
    Sim(sim::SimArgs),
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
    match cli.command {
        Command::Sim(args) => sim::run(args),
    }
}

/// Prints an error to stderr (quietly for a closed stdout) and picks its exit status.
fn report(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::from(0);
    }
    eprintln!("error: {err:#}");
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
        if cause.downcast_ref::<std::io::Error>().is_some() {
            return EXIT_IO;
        }
    }
    EXIT_IO
}
