//! The role catalogue: pre-assigned observation duties from `agents/*.toml`, compiled in so
//! the binary works from any directory.
//!
//! `open --roles` takes a role's title and lane from here when the role is defined here, and
//! accepts any other valid author name as a role without a lane.

use serde::Deserialize;

use crate::channel::Author;
use crate::channel::store::Role;

/// One role definition file.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleDef {
    pub title: String,
    pub lane: String,
    #[serde(default)]
    pub kinds: Vec<String>,
    /// What `warroom agent ROLE` uses when a flag is not given (observer roles only).
    #[serde(default)]
    pub defaults: RoleDefaults,
}

/// An observer role's `[defaults]` table; every field optional, unknown fields ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RoleDefaults {
    /// Namespace to watch (else the kubeconfig context's).
    pub namespace: Option<String>,
    /// Label selector (data-plane).
    pub selector: Option<String>,
    /// Coalescing or tally window, as a duration (`3s`).
    pub window: Option<String>,
    /// Request rate (traffic), `10/s`.
    pub rate: Option<String>,
}

/// The built-in role files: (name, TOML text).
const DEFS: [(&str, &str); 4] = [
    ("pipeline", include_str!("../agents/pipeline.toml")),
    ("data-plane", include_str!("../agents/data-plane.toml")),
    ("traffic", include_str!("../agents/traffic.toml")),
    ("operator", include_str!("../agents/operator.toml")),
];

/// The definition of a built-in role, if `name` is one.
pub fn definition(name: &str) -> Option<RoleDef> {
    DEFS.iter().find(|(n, _)| *n == name).map(|(n, text)| {
        toml::from_str(text).unwrap_or_else(|e| panic!("agents/{n}.toml is invalid: {e}"))
    })
}

/// The names of the built-in roles.
pub fn builtin() -> impl Iterator<Item = &'static str> {
    DEFS.iter().map(|(n, _)| *n)
}

/// A roster role for `author`, with title and lane when the catalogue defines it.
pub fn role(author: Author) -> Role {
    let def = definition(author.as_str());
    Role {
        name: author,
        title: def.as_ref().map(|d| d.title.clone()),
        lane: def.map(|d| d.lane.trim().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_role_parses() {
        for name in super::builtin() {
            let def = super::definition(name).unwrap();
            assert!(!def.lane.trim().is_empty(), "{name}");
            if let Some(w) = &def.defaults.window {
                humantime::parse_duration(w).unwrap();
            }
        }
    }
}
