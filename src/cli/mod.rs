//! The command line: clap definitions, validation into configs, and one file per verb group.
//!
//! This module is glue. It parses flags, builds the library's domain objects, and maps errors
//! to exit codes: 0 ok, 1 a problem found, 2 usage or bad input, 3 I/O or environment.
//! It must not implement store, timeline or rollout logic itself.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agent;
mod alerts;
mod archive;
mod channel;
pub mod color;
mod demo;
mod follow;
pub mod kubeconfig;
mod mcp;
pub mod meta;
pub mod output;
pub(crate) mod read;
mod relay;
pub mod rollout;
mod rollout_act;
mod rollout_list;
pub mod signal;
pub mod sim;
pub mod suggest;
pub mod target;

/// Exit status for "a problem was found" (verify findings, a degraded rollout).
pub const EXIT_FOUND: u8 = 1;
/// Exit status for usage errors and bad input.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for I/O and environment errors.
pub const EXIT_IO: u8 = 3;

/// A coordination channel for live operations.
#[derive(Debug, Parser)]
#[command(
    name = "warroom",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (commit ",
        env!("WARROOM_COMMIT"),
        ", built ",
        env!("WARROOM_BUILD_DATE"),
        ")"
    ),
    about,
    long_about = None,
    after_help = "Examples:
  warroom open litellm-canary && warroom post --as operator \"starting the canary\"
  warroom timeline -f
  warroom demo

Exit codes: 0 ok, 1 a problem found, 2 usage or bad input, 3 I/O or environment."
)]
pub struct Cli {
    /// Store root holding the channels.
    #[arg(long, global = true, env = "WARROOM_ROOT", default_value = "channels")]
    pub root: PathBuf,

    /// Never colour the output (also: NO_COLOR set; CLICOLOR_FORCE colours even a pipe).
    #[arg(long, global = true)]
    pub no_color: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a new channel; prints its name.
    #[command(after_help = "Examples:
  warroom open litellm-canary --roles pipeline,data-plane,traffic
  warroom open incident-42 --date 2026-05-04 --roles terminal-1,terminal-2
  warroom --root /srv/warroom open db-migration")]
    Open(channel::OpenArgs),
    /// List channels, newest first.
    #[command(after_help = "Examples:
  warroom ls
  warroom ls -o wide      # also when each was opened and its directory
  warroom ls -o json | jq -r '.[] | select(.sealed | not) | .name'")]
    Ls(channel::LsArgs),
    /// Append one entry as ROLE; prints its id.
    #[command(after_help = "Examples:
  warroom post --as pipeline --kind alert \"Rollout litellm: spec not observed for 61s\"
  warroom post --as data-plane --ref pipeline#1 \"Canary RS created at replicas 1.\"
  echo \"Is analysis running at all?\" | warroom post --as operator --kind question -
  warroom post --channel litellm-canary --as operator --kind decision \"abort\"
  producer | warroom post --as terminal-1 --bulk   # one JSON draft per line")]
    Post(channel::PostArgs),
    /// Manage a channel's roster.
    #[command(
        subcommand,
        after_help = "Examples:
  warroom roster show
  warroom roster add terminal-1 terminal-2 --channel litellm-canary"
    )]
    Roster(channel::RosterCommand),
    /// Print the merged timeline of a channel.
    #[command(after_help = "Examples:
  warroom timeline
  warroom timeline --since 5m --kind alert
  warroom timeline --tail 20 -f                # the last 20, then new entries as they come
  warroom timeline --author pipeline -o ndjson | jq -r .body
  warroom timeline -f --remote http://127.0.0.1:7700 --channel 2026-05-04--litellm-canary")]
    Timeline(read::TimelineArgs),
    /// What the others wrote since ROLE last caught up.
    #[command(after_help = "Examples:
  warroom catchup --as traffic
  warroom catchup --as terminal-1 --channel litellm-canary -o md")]
    Catchup(read::CatchupArgs),
    /// Acknowledge alerts (an `ack` entry that refs them); prints the ack's id.
    #[command(after_help = "Examples:
  warroom ack pipeline#7                              # as operator
  warroom ack pipeline#7 traffic#2 -m \"looking: CI is replacing the selector\"
  warroom ack --as terminal-1 data-plane#4 --channel litellm-canary")]
    Ack(alerts::AckArgs),
    /// Alerts with their state (open, acked, resolved), or unanswered questions.
    #[command(after_help = "Examples:
  warroom alerts                                      # the open ones
  warroom alerts --state all
  warroom alerts --state acked -o json | jq -r '.[].acks[].author'
  warroom alerts --questions                          # questions nobody answered")]
    Alerts(alerts::AlertsArgs),
    /// Serve MCP over stdio: the tools an AI agent uses to take part as ROLE.
    #[command(after_help = "Examples:
  warroom mcp --as terminal-1                          # in an MCP client's server config
  WARROOM_CHANNEL=litellm-canary WARROOM_ROLE=terminal-1 warroom mcp
  the same tools over HTTP: `warroom serve`, then http://127.0.0.1:7700/mcp with a token")]
    Mcp(mcp::McpArgs),
    /// Check every file of a channel: checksums, chain, torn writes.
    #[command(after_help = "Examples:
  warroom verify                       # exit 0 intact, 1 with file:line findings
  warroom verify --channel 2026-05-04--litellm-canary -o json")]
    Verify(read::VerifyArgs),
    /// Serve the live relay: REST, WebSocket feed and the operator's page.
    #[command(after_help = "Examples:
  warroom serve                         # http://127.0.0.1:7700/
  warroom serve --bind 127.0.0.1:0      # a free port; the URL is printed on stdout
  warroom serve --bind 127.0.0.1:7700 --allow-host warroom.internal")]
    Serve(relay::ServeArgs),
    /// Manage bearer tokens for posting through the relay.
    #[command(
        subcommand,
        after_help = "Examples:
  warroom token add --role pipeline --channel 2026-05-04--litellm-canary
  warroom token ls
  warroom token revoke 3f9c0a1b2c4d"
    )]
    Token(relay::TokenCommand),
    /// Argo Rollouts: `get`, `status`, `list`, and the operator's `promote`, `abort`, `retry`,
    /// `pause`, `resume`, `undo`.
    #[command(after_help = "Examples:
  warroom rollout get litellm -n llm
  warroom rollout list -A
  warroom rollout status litellm -n llm --timeout 5m
  warroom rollout promote litellm -n llm")]
    Rollout(rollout::RolloutArgs),
    /// Seal a channel and write its record (README.md, TIMELINE.md, the store's index).
    #[command(after_help = "Examples:
  warroom archive --channel 2026-05-04--litellm-canary
  warroom archive --channel litellm-canary --commit --reason \"canary promoted\"")]
    Archive(archive::ArchiveArgs),
    /// Serve a simulated Kubernetes API playing a scenario, until killed.
    #[command(after_help = "Examples:
  warroom sim --kubeconfig-out /tmp/kc      # then: kubectl --kubeconfig /tmp/kc get pods -A
  warroom sim --scenario story --speed 20 --port 0
  warroom sim --scenario my-scenario.yaml")]
    Sim(sim::SimArgs),
    /// Run a built-in observer (pipeline, data-plane, traffic) that posts to a channel.
    #[command(after_help = "Examples:
  warroom agent pipeline --rollout litellm -n llm
  warroom agent data-plane -n llm -l app=litellm --window 3s
  warroom agent traffic --url http://127.0.0.1:8080 --route /healthz --route 'POST /v1/embeddings {}' --duration 5m")]
    Agent(agent::AgentArgs),
    /// Play the canary story in the simulator with the three observers and the live page.
    #[command(after_help = "Examples:
  warroom demo
  warroom demo --speed 20 --bind 127.0.0.1:0
  warroom demo --keep-serving                # the page stays up after the story ends")]
    Demo(demo::DemoArgs),
    /// Print shell completions (bash, zsh, fish, powershell, elvish) on stdout.
    #[command(after_help = "Examples:
  warroom completions bash > /etc/bash_completion.d/warroom
  warroom completions zsh > \"${fpath[1]}/_warroom\"
  warroom completions fish > ~/.config/fish/completions/warroom.fish")]
    Completions(meta::CompletionsArgs),
    /// Write man pages for every command to a directory.
    #[command(after_help = "Examples:
  warroom man --out /usr/local/share/man/man1
  warroom man --out target/man && man target/man/warroom-timeline.1")]
    Man(meta::ManArgs),
    /// Print the version, the commit and the build date.
    #[command(after_help = "Examples:
  warroom version
  warroom version -o json")]
    Version(meta::VersionArgs),
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
    color::init(cli.no_color);
    let root = cli.root;
    match cli.command {
        Command::Open(args) => channel::open(&root, args),
        Command::Ls(args) => channel::ls(&root, args),
        Command::Post(args) => channel::post(&root, args),
        Command::Roster(cmd) => channel::roster(&root, cmd),
        Command::Timeline(args) => read::timeline(&root, args),
        Command::Catchup(args) => read::catchup(&root, args),
        Command::Ack(args) => alerts::ack(&root, args),
        Command::Alerts(args) => alerts::list(&root, args),
        Command::Verify(args) => read::verify(&root, args),
        Command::Mcp(args) => mcp::run(&root, args),
        Command::Serve(args) => relay::serve(&root, args),
        Command::Token(cmd) => relay::token(&root, cmd),
        Command::Rollout(args) => rollout::run(&root, args),
        Command::Archive(args) => archive::archive(&root, args),
        Command::Sim(args) => sim::run(args),
        Command::Agent(args) => agent::run(&root, args),
        Command::Demo(args) => demo::run(&root, args),
        Command::Completions(args) => meta::completions(args),
        Command::Man(args) => meta::man(args),
        Command::Version(args) => meta::version(args),
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
