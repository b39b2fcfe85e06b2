//! Which channel a command acts on: `--channel NAME|THEME`, else `WARROOM_CHANNEL`, else the
//! newest unsealed channel — and saying so on stderr (`→ 2026-05-04--litellm-canary`) when a
//! write went to a channel the user did not name in full, so a post never lands unseen.
//!
//! Glue over [`crate::channel::Store::channel`] (which owns the resolution rule, ambiguity
//! included); this module adds the did-you-mean and the announcement. It must not write.

use clap::Args;

use super::suggest;
use crate::channel::{Channel, Error, Store};

/// `--channel`, shared by every command that acts on one channel.
#[derive(Debug, Clone, Args)]
pub struct ChannelArg {
    /// Channel name or theme (default: WARROOM_CHANNEL, else the newest unsealed channel). A
    /// theme that matches several unsealed channels is an error listing them.
    #[arg(long, env = "WARROOM_CHANNEL", value_name = "CHANNEL|THEME")]
    pub channel: Option<String>,
}

/// How the channel was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The full name, on the command line.
    Named,
    /// A theme on the command line.
    Theme,
    /// From `WARROOM_CHANNEL`.
    Env,
    /// The newest unsealed channel.
    Newest,
}

/// A resolved channel and how it was chosen.
#[derive(Debug, Clone)]
pub struct Target {
    pub channel: Channel,
    pub chosen: Chosen,
}

impl Target {
    /// Says on stderr where a write went, unless the user named the channel in full.
    pub fn announce(&self) {
        if let Some(line) = self.announcement() {
            eprintln!("{line}");
        }
    }

    /// The line [`Target::announce`] prints, if any.
    pub fn announcement(&self) -> Option<String> {
        let name = self.channel.name();
        match self.chosen {
            Chosen::Named => None,
            Chosen::Theme => Some(format!("→ {name}")),
            Chosen::Env => Some(format!("→ {name} (from WARROOM_CHANNEL)")),
            Chosen::Newest => Some(format!("→ {name} (the newest unsealed channel)")),
        }
    }
}

impl ChannelArg {
    /// Resolves the channel, with a did-you-mean when the name matches none.
    pub fn resolve(&self, store: &Store) -> anyhow::Result<Target> {
        resolve(store, self.channel.as_deref())
    }
}

/// Resolves `name` (as `--channel` would), with a did-you-mean when it matches none.
pub fn resolve(store: &Store, name: Option<&str>) -> anyhow::Result<Target> {
    let channel = store.channel(name).map_err(|e| unknown_channel(store, e))?;
    let chosen = match name {
        None => Chosen::Newest,
        Some(n) if std::env::var("WARROOM_CHANNEL").ok().as_deref() == Some(n) => Chosen::Env,
        Some(n) if n == channel.name().to_string() => Chosen::Named,
        Some(_) => Chosen::Theme,
    };
    Ok(Target { channel, chosen })
}

/// Adds "did you mean" to an unknown channel, from the names and themes in the store.
pub fn unknown_channel(store: &Store, e: Error) -> anyhow::Error {
    let Error::UnknownChannel { name, .. } = &e else {
        return e.into();
    };
    let Ok(channels) = store.channels() else {
        return e.into();
    };
    let names: Vec<String> = channels.iter().map(|c| c.name().to_string()).collect();
    let themes: Vec<String> = channels
        .iter()
        .map(|c| c.name().theme().to_string())
        .collect();
    let hint = if name.contains("--") {
        suggest::did_you_mean(name, names.iter().map(String::as_str))
    } else {
        suggest::did_you_mean(name, themes.iter().map(String::as_str))
    };
    if hint.is_empty() {
        return e.into();
    }
    super::Failure {
        code: e.exit_code(),
        message: format!("{e}{hint}"),
    }
    .into()
}

/// Adds "did you mean" to a role that is not on the roster, or a ref to an author with no such
/// entry, from the channel's roster and author files.
pub fn explain(channel: &Channel, e: Error) -> anyhow::Error {
    let hint = match &e {
        Error::NotOnRoster {
            author,
            channel: name,
            roster: names,
        } => {
            let Ok(roster) = channel.roster() else {
                return e.into();
            };
            let Some(close) =
                suggest::closest(author, roster.roles.iter().map(|r| r.name.as_str()))
            else {
                return e.into();
            };
            return super::Failure {
                code: e.exit_code(),
                message: format!(
                    "{author:?} is not on the roster of channel {name} (roster: {names}): did you mean {close}? (a new role joins with `warroom roster add {author} --channel {name}`)"
                ),
            }
            .into();
        }
        Error::UnknownRef { id, .. } => {
            let authors: Vec<String> = channel
                .author_files()
                .map(|files| files.into_iter().map(|(a, _)| a.to_string()).collect())
                .unwrap_or_default();
            suggest::closest(id.author.as_str(), authors.iter().map(String::as_str))
                .map(|a| format!("; did you mean {a}#{}?", id.seq))
                .unwrap_or_default()
        }
        _ => String::new(),
    };
    if hint.is_empty() {
        return e.into();
    }
    super::Failure {
        code: e.exit_code(),
        message: format!("{e}{hint}"),
    }
    .into()
}
