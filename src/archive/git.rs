//! Committing the archive with the real `git`: checks that must pass before anything is
//! sealed (a repository, a user identity, nothing unrelated staged, the record not ignored),
//! then one commit holding exactly the channel's files and the store's index.
//!
//! Shelling out keeps the user's own git behaviour: hooks, signing, config.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Why the archive cannot be committed. Every variant is found before the channel is sealed,
/// except [`GitError::Failed`] during the commit itself.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git: install git, or archive without --commit")]
    Missing {
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{dir} is not inside a git repository; nothing was sealed. Run `git init` at the top of your project, or archive without --commit"
    )]
    NotRepo { dir: PathBuf },
    #[error(
        "git has no user identity ({missing} not set); nothing was sealed. Set one with `git config user.name \"Your Name\"` and `git config user.email you@example.com` (add --global for every repository), then run the archive again"
    )]
    NoIdentity { missing: String },
    #[error(
        "changes unrelated to channel {channel} are staged in {top}: {paths}; nothing was sealed. Commit them, or unstage them with `git restore --staged PATH`, then run the archive again"
    )]
    UnrelatedStaged {
        channel: String,
        top: PathBuf,
        paths: String,
    },
    #[error(
        "a merge is in progress in {top}; nothing was sealed. Finish it (`git commit`) or abort it (`git merge --abort`) first"
    )]
    Merging { top: PathBuf },
    #[error(
        "{path} is ignored by git ({rule}); nothing was sealed. Remove that rule so the record can be committed, or archive without --commit"
    )]
    Ignored { path: String, rule: String },
    #[error("`git {args}` failed ({status}): {stderr}")]
    Failed {
        args: String,
        status: String,
        stderr: String,
    },
}

/// A repository checked and ready to take the archive commit.
#[derive(Debug, Clone)]
pub struct Repo {
    top: PathBuf,
    /// What the commit holds, relative to `top`: the channel directory, the index, and the
    /// store's `.gitignore` (it keeps machine state out of this and every later commit).
    paths: Vec<String>,
    channel: String,
}

/// The commit made.
#[derive(Debug, Clone)]
pub struct Committed {
    pub id: String,
    pub subject: String,
}

fn git<I, S>(dir: &Path, args: I) -> Result<Output, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| GitError::Missing { source })
}

/// Runs git and fails on a non-zero exit.
fn git_ok(dir: &Path, args: &[&str]) -> Result<String, GitError> {
    let out = git(dir, args)?;
    if !out.status.success() {
        return Err(failed(args, &out));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn failed(args: &[&str], out: &Output) -> GitError {
    GitError::Failed {
        args: args.join(" "),
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

/// A path relative to the repository's top, with `/` separators as git prints them.
fn relative(top: &Path, path: &Path) -> Result<String, GitError> {
    let abs = path.canonicalize().unwrap_or_else(|_| path.to_owned());
    let rel = abs.strip_prefix(top).map_err(|_| GitError::NotRepo {
        dir: path.to_owned(),
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

fn join(dir: &str, file: &str) -> String {
    if dir.is_empty() {
        file.to_owned()
    } else {
        format!("{dir}/{file}")
    }
}

impl Repo {
    /// Checks that the channel under `root` can be committed; changes nothing.
    pub fn prepare(root: &Path, channel_dir: &Path, channel: &str) -> Result<Self, GitError> {
        let out = git(channel_dir, ["rev-parse", "--show-toplevel"])?;
        if !out.status.success() {
            return Err(GitError::NotRepo {
                dir: channel_dir.to_owned(),
            });
        }
        let top = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let top = top.canonicalize().unwrap_or(top);
        let rel_channel = relative(&top, channel_dir)?;
        let rel_root = relative(&top, root)?;
        let index = join(&rel_root, "README.md");
        let ignore = join(&rel_root, ".gitignore");

        check_identity(&top)?;

        if git(&top, ["rev-parse", "-q", "--verify", "MERGE_HEAD"])?
            .status
            .success()
        {
            return Err(GitError::Merging { top });
        }

        // Without rename detection a rename shows both names: moving an unrelated file into
        // the channel is an unrelated change too.
        let staged = git_ok(
            &top,
            &["diff", "--cached", "--no-renames", "--name-only", "-z"],
        )?;
        let ours = |p: &str| p == index || p == ignore || p.starts_with(&format!("{rel_channel}/"));
        let unrelated: Vec<&str> = staged
            .split('\0')
            .filter(|p| !p.is_empty() && !ours(p))
            .collect();
        if !unrelated.is_empty() {
            return Err(GitError::UnrelatedStaged {
                channel: channel.to_owned(),
                top,
                paths: unrelated.join(", "),
            });
        }

        // The record must be committable: the pages written later included.
        let probe = [
            join(&rel_channel, "README.md"),
            join(&rel_channel, "TIMELINE.md"),
            join(&rel_channel, ".warroom/sealed.json"),
            index.clone(),
        ];
        let mut args = vec!["check-ignore", "-v", "--no-index", "--"];
        args.extend(probe.iter().map(String::as_str));
        let out = git(&top, &args)?;
        if out.status.success() {
            // `source:line:pattern<TAB>path` for the first ignored path.
            let first = String::from_utf8_lossy(&out.stdout);
            let first = first.lines().next().unwrap_or_default();
            let (rule, path) = first.split_once('\t').unwrap_or((first, ""));
            return Err(GitError::Ignored {
                path: path.to_owned(),
                rule: rule.to_owned(),
            });
        }

        let mut paths = vec![rel_channel, index];
        if top.join(&ignore).exists() {
            paths.push(ignore);
        }
        Ok(Self {
            top,
            paths,
            channel: channel.to_owned(),
        })
    }

    /// The paths the commit holds, relative to the repository's top.
    pub fn paths(&self) -> &[String] {
        &self.paths
    }

    /// Stages and commits the record. `None` when it is committed already (nothing changed).
    pub fn commit(&self, subject: &str, body: &str) -> Result<Option<Committed>, GitError> {
        let existing: Vec<&str> = self
            .paths
            .iter()
            .map(String::as_str)
            .filter(|p| self.top.join(p).exists())
            .collect();
        let mut add = vec!["add", "-A", "--"];
        add.extend(&existing);
        git_ok(&self.top, &add)?;
        let mut diff = vec!["diff", "--cached", "--quiet", "--"];
        diff.extend(&existing);
        if git(&self.top, &diff)?.status.success() {
            return Ok(None);
        }
        // With pathspecs, git commits exactly these paths whatever else is staged.
        let mut commit = vec!["commit", "-q", "-m", subject, "-m", body, "--"];
        commit.extend(&existing);
        git_ok(&self.top, &commit)?;
        let id = git_ok(&self.top, &["rev-parse", "--short", "HEAD"])?;
        Ok(Some(Committed {
            id: id.trim().to_owned(),
            subject: subject.to_owned(),
        }))
    }

    /// The user's name as git knows it (for the seal entry).
    pub fn user_name(&self) -> Option<String> {
        config(&self.top, "user.name")
            .or_else(|| std::env::var("GIT_AUTHOR_NAME").ok())
            .filter(|n| !n.trim().is_empty())
    }

    pub fn channel(&self) -> &str {
        &self.channel
    }
}

fn config(top: &Path, key: &str) -> Option<String> {
    let out = git(top, ["config", "--get", key]).ok()?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !v.is_empty()).then_some(v)
}

/// A configured name and email (git's guess from the host name is not an identity to put in
/// the record), then git's own check of the committer.
fn check_identity(top: &Path) -> Result<(), GitError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let name = env("GIT_AUTHOR_NAME").or_else(|| config(top, "user.name"));
    let email = env("GIT_AUTHOR_EMAIL")
        .or_else(|| config(top, "user.email"))
        .or_else(|| env("EMAIL"));
    let missing: Vec<&str> = [("user.name", &name), ("user.email", &email)]
        .into_iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        return Err(GitError::NoIdentity {
            missing: missing.join(" and "),
        });
    }
    for var in ["GIT_AUTHOR_IDENT", "GIT_COMMITTER_IDENT"] {
        let out = git(top, ["var", var])?;
        if !out.status.success() {
            return Err(GitError::NoIdentity {
                missing: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
    }
    Ok(())
}
