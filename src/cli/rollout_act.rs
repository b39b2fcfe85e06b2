//! `warroom rollout promote|abort|retry|pause|resume|undo NAME -n NS`: flags -> the requests
//! [`crate::rollout::actions`] builds as the Argo Rollouts plugin does -> the cluster of the
//! kubeconfig (or `--kubeconfig`/`--context`, or in-cluster) -> the plugin's line on stdout.
//!
//! With `--as ROLE` (and `--channel`, default as for `post`) each action that reached the API
//! also posts a `decision` entry: the action, every request as sent, and the API's answers.
//! The channel and role are checked before anything is sent, so a bad `--as` changes nothing.
//! An action the controller will ignore is sent anyway, as the plugin does, with a note on
//! stderr saying why nothing will follow.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use clap::Args;

use super::channel::ChannelArg;
use super::rollout::{KubeArgs, Output, output};
use crate::channel::store::PostOptions;
use crate::channel::{Author, Draft, Kind, Store};
use crate::rollout::actions::{self, Action, ActionError, Outcome};
use crate::rollout::{model, view};

#[derive(Debug, Args)]
pub struct ActionArgs {
    /// Name of the rollout.
    pub name: String,
    /// Namespace (default: the kubeconfig context's).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub record: RecordArgs,
    /// Output: the plugin's line, or the outcome (requests and answers) as JSON or YAML.
    #[arg(short = 'o', long = "output", visible_alias = "format", value_name = "FORMAT", default_value = "text", value_parser = output::parser(output::ROLLOUT_FORMATS))]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    #[command(flatten)]
    pub action: ActionArgs,
    /// Skip every remaining step, pause and analysis (`status.promoteFull`).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct UndoArgs {
    #[command(flatten)]
    pub action: ActionArgs,
    /// The revision to roll back to (default 0: the previous revision).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub to_revision: i64,
}

/// Where the decision entry goes.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    pub channel: ChannelArg,
    /// Post a `decision` entry as this role (on the channel's roster) with the requests and
    /// the API's answers as evidence. Never taken from WARROOM_ROLE: whether an action on the
    /// cluster is recorded, and as whom, is said on its command line.
    #[arg(long = "as", value_name = "ROLE")]
    pub role: Option<String>,
}

pub fn promote(root: &Path, args: PromoteArgs) -> anyhow::Result<u8> {
    let full = args.full;
    run(root, args.action, Action::Promote { full })
}

pub fn undo(root: &Path, args: UndoArgs) -> anyhow::Result<u8> {
    if args.to_revision < 0 {
        return Err(super::Failure {
            code: super::EXIT_USAGE,
            message: format!(
                "--to-revision {} is not a revision; give a revision number from `warroom rollout get`, or 0 for the previous one",
                args.to_revision
            ),
        }
        .into());
    }
    let to_revision = args.to_revision;
    run(root, args.action, Action::Undo { to_revision })
}

pub fn run(root: &Path, args: ActionArgs, action: Action) -> anyhow::Result<u8> {
    // The channel and role first: a typo in --as must not leave an unrecorded action behind.
    let from_env = std::env::var("WARROOM_CHANNEL").ok();
    if args.record.role.is_none()
        && let Some(channel) = &args.record.channel.channel
        && from_env.as_deref() != Some(channel.as_str())
    {
        return Err(super::Failure {
            code: super::EXIT_USAGE,
            message: format!(
                "--channel {channel} records the action only with --as ROLE (the role the decision is posted as); add --as, or drop --channel"
            ),
        }
        .into());
    }
    let recorder = match &args.record.role {
        Some(role) => {
            let author = Author::new(role)?;
            let store = Store::open(root)?;
            let channel = store.channel(args.record.channel.channel.as_deref())?;
            channel.check_can_post(&author)?;
            Some((channel, author))
        }
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        let cluster = args.kube.connect().await?;
        let namespace = args.namespace.clone().unwrap_or(cluster.namespace);
        anyhow::Ok(actions::perform(&cluster.client, &namespace, &args.name, action).await)
    })?;
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(err) => return Err(refused(err)),
    };
    let mut out = std::io::stdout().lock();
    match args.output {
        Output::Json | Output::Ndjson | Output::Yaml => {
            let mut doc = serde_json::to_value(&outcome)?;
            doc["rollout"] = outcome.rollout.clone().unwrap_or_default();
            out.write_all(output::document(&doc, args.output)?.as_bytes())?;
        }
        Output::Text | Output::Wide | Output::Md => writeln!(out, "{}", outcome.message)?,
    }
    out.flush()?;
    if let Some(note) = &outcome.note {
        eprintln!("note: {note}");
    }
    if let Some((channel, author)) = recorder {
        let draft = Draft::new(Kind::Decision, decision_body(&outcome));
        let entry = channel
            .post(&author, &draft, &PostOptions::default())?
            .entry;
        eprintln!("posted decision {} to {}", entry.id, channel.name());
    }
    Ok(0)
}

/// An action that failed: the plugin's message with our exit status.
fn refused(err: ActionError) -> anyhow::Error {
    let code = err.exit_code();
    let message = match &err {
        ActionError::Refused {
            code: 404, message, ..
        } => format!("{message}; check the name and namespace (-n)"),
        ActionError::Refused {
            request, message, ..
        } => format!("the API refused {request}: {message}; nothing after it was sent"),
        ActionError::Rollout(inner) => return anyhow::Error::new(err_inner(inner)),
        other => other.to_string(),
    };
    super::Failure { code, message }.into()
}

fn err_inner(err: &crate::rollout::RolloutError) -> super::Failure {
    super::Failure {
        code: err.exit_code(),
        message: err.to_string(),
    }
}

/// The decision entry: what was done, the requests as sent and the API's answers.
fn decision_body(outcome: &Outcome) -> String {
    let mut body = format!(
        "**{}** Rollout `{}/{}`: {}\n",
        outcome.action, outcome.namespace, outcome.name, outcome.message
    );
    if let Some(rollout) = &outcome.rollout
        && let Ok(ro) = serde_json::from_value::<model::Rollout>(rollout.clone())
    {
        let (status, message) = view::status_and_message(&ro);
        body.push_str(&format!(
            "\nAfter the request: {} (step {}, spec.paused {}, status.abort {}).\n",
            view::status_line(&status, &message),
            view::step(&ro),
            ro.spec.paused,
            ro.status.abort
        ));
    }
    if outcome.sent.is_empty() {
        body.push_str("\nNo request was needed (the plugin sends none in this state).\n");
    } else {
        body.push_str("\nRequests, as the Argo Rollouts kubectl plugin sends them:\n\n");
        for sent in &outcome.sent {
            body.push_str(&format!("- `{}` → {}\n", sent.request, sent.answer));
        }
    }
    if let Some(note) = &outcome.note {
        body.push_str(&format!("\nNote: {note}.\n"));
    }
    body
}
