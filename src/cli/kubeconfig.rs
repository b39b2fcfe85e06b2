//! The kubectl flags every cluster-facing command shares — `--kubeconfig` and `--context` —
//! and the client they build (`-n` and, on `rollout list`, `-A` stay with each command: their
//! defaults differ).
//!
//! The kubeconfig is found as kubectl finds it: `--kubeconfig FILE`, else `KUBECONFIG` (a
//! list; files that exist are merged), else `~/.kube/config`, else the in-cluster service
//! account. Each way it can be missing is one line naming the file and the fix, instead of the
//! client library's chain of causes. This is the one kubeconfig loader: every cluster-facing
//! command (observers, `rollout …`) gets its client here. It builds a client; it must not
//! read objects.

use std::path::{Path, PathBuf};

use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::{EXIT_IO, EXIT_USAGE, Failure, suggest};

/// `--kubeconfig` and `--context`, as kubectl has them.
#[derive(Debug, Clone, Default, Args)]
pub struct KubeArgs {
    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config, else the
    /// in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// A connected client.
#[derive(Clone)]
pub struct Cluster {
    pub client: kube::Client,
    /// The kubeconfig context's namespace (or `default`), for commands without `-n`.
    pub namespace: String,
    /// The API server's URL, for start lines ("watching … on https://…").
    pub server: String,
}

fn env_failure(message: String) -> anyhow::Error {
    Failure {
        code: EXIT_IO,
        message,
    }
    .into()
}

fn read(path: &Path, from: &str) -> anyhow::Result<Kubeconfig> {
    if !path.exists() {
        return Err(env_failure(format!(
            "kubeconfig {} ({from}) does not exist: point {from} at an existing kubeconfig (`warroom sim --kubeconfig-out FILE` writes one for the simulator)",
            path.display()
        )));
    }
    Kubeconfig::read_from(path).map_err(|e| {
        env_failure(format!(
            "kubeconfig {} ({from}) cannot be read: {e}; fix the file or point {from} at another one",
            path.display()
        ))
    })
}

impl KubeArgs {
    /// The kubeconfig to use and where it came from, or `None` for in-cluster.
    fn kubeconfig(&self) -> anyhow::Result<Option<(Kubeconfig, String)>> {
        if let Some(path) = &self.kubeconfig {
            return Ok(Some((
                read(path, "--kubeconfig")?,
                path.display().to_string(),
            )));
        }
        if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
            let paths: Vec<PathBuf> = std::env::split_paths(&value)
                .filter(|p| !p.as_os_str().is_empty())
                .collect();
            let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
            if existing.is_empty() {
                return Err(env_failure(format!(
                    "KUBECONFIG={} names no existing file: pass --kubeconfig FILE, point KUBECONFIG at your kubeconfig, or unset it to use ~/.kube/config",
                    value.to_string_lossy()
                )));
            }
            let mut merged: Option<Kubeconfig> = None;
            for p in &existing {
                let next = read(p, "KUBECONFIG")?;
                merged = Some(match merged {
                    None => next,
                    Some(m) => m.merge(next).map_err(|e| {
                        env_failure(format!(
                            "KUBECONFIG: cannot merge {}: {e}; fix that file",
                            p.display()
                        ))
                    })?,
                });
            }
            let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
            return Ok(merged.map(|m| (m, names.join(":"))));
        }
        let default = std::env::home_dir().map(|h| h.join(".kube").join("config"));
        match default {
            Some(path) if path.exists() => Ok(Some((
                read(&path, "~/.kube/config")?,
                path.display().to_string(),
            ))),
            _ => Ok(None),
        }
    }

    /// A client, with the namespace to use by default (the context's, or `default`).
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        let config = match self.kubeconfig()? {
            Some((kubeconfig, source)) => {
                if let Some(ctx) = &self.context
                    && !kubeconfig.contexts.iter().any(|c| &c.name == ctx)
                {
                    let names: Vec<&str> = kubeconfig
                        .contexts
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect();
                    return Err(Failure {
                        code: EXIT_USAGE,
                        message: format!(
                            "--context {ctx:?} is not in kubeconfig {source} (contexts: {}){}",
                            if names.is_empty() {
                                "none".to_string()
                            } else {
                                names.join(", ")
                            },
                            suggest::did_you_mean(ctx, names.iter().copied())
                        ),
                    }
                    .into());
                }
                let options = KubeConfigOptions {
                    context: self.context.clone(),
                    ..Default::default()
                };
                kube::Config::from_custom_kubeconfig(kubeconfig, &options)
                    .await
                    .map_err(|e| env_failure(format!("kubeconfig {source}: {e}")))?
            }
            None => {
                if let Some(ctx) = &self.context {
                    return Err(env_failure(format!(
                        "--context {ctx:?} needs a kubeconfig, and there is none: pass --kubeconfig FILE or set KUBECONFIG"
                    )));
                }
                kube::Config::incluster().map_err(|_| {
                    env_failure(
                        "no cluster configured: no --kubeconfig, no KUBECONFIG, no ~/.kube/config, and not running in a cluster; pass --kubeconfig FILE (for a rehearsal, `warroom sim --kubeconfig-out FILE` writes one)".into(),
                    )
                })?
            }
        };
        let namespace = config.default_namespace.clone();
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config)
            .map_err(|e| env_failure(format!("cannot build a Kubernetes client: {e}")))?;
        Ok(Cluster {
            client,
            namespace,
            server: server.trim_end_matches('/').to_string(),
        })
    }
}
