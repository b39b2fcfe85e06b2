//! Bearer tokens for remote posting: `warroom token add|revoke|ls` and the relay's check.
//!
//! Tokens live in `<root>/.warroom/tokens.json` (machine state, ignored by git through the
//! root's `.gitignore`), stored as BLAKE3 hashes: the file never holds a usable token. Each
//! token names one role and one channel. The relay reads the file on every write request, so a
//! token added or revoked while it runs takes effect at once.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::channel::store::write_atomic;
use crate::channel::{Author, Timestamp};

/// Prefix of every token, so a leaked one is recognisable in logs and secret scanners.
const PREFIX: &str = "wr_";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is not a valid token file ({detail}); fix it, or delete it and add tokens again"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error("no token {0:?}: see `warroom token ls` for the ids")]
    Unknown(String),
    #[error(transparent)]
    Store(#[from] crate::channel::Error),
}

impl TokenError {
    pub fn exit_code(&self) -> u8 {
        match self {
            TokenError::Unknown(_) => 2,
            TokenError::Store(e) => e.exit_code(),
            _ => 3,
        }
    }
}

/// One token as stored: its hash, never the token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenRecord {
    /// Short public handle for `revoke` and `ls` (the first hex digits of the hash).
    pub id: String,
    /// BLAKE3 of the token, hex.
    pub hash: String,
    pub role: Author,
    pub channel: String,
    pub created: Timestamp,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TokenFile {
    tokens: Vec<TokenRecord>,
}

/// The token file of a store root.
#[derive(Debug, Clone)]
pub struct Tokens {
    path: PathBuf,
    lock: PathBuf,
}

fn hash(token: &str) -> String {
    blake3::hash(token.as_bytes()).to_hex().to_string()
}

impl Tokens {
    pub fn new(root: &Path) -> Self {
        let dir = root.join(".warroom");
        Self {
            path: dir.join("tokens.json"),
            lock: dir.join("tokens.lock"),
        }
    }

    fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TokenError {
        let path = path.to_owned();
        move |source| TokenError::Io {
            action,
            path,
            source,
        }
    }

    fn load(&self) -> Result<TokenFile, TokenError> {
        match fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| TokenError::Corrupt {
                path: self.path.clone(),
                detail: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TokenFile::default()),
            Err(e) => Err(Self::io("cannot read", &self.path)(e)),
        }
    }

    /// Runs `f` on the file under an exclusive lock and writes the result back.
    fn update<T>(
        &self,
        f: impl FnOnce(&mut TokenFile) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(Self::io("cannot create", dir))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .map_err(Self::io("cannot open", &self.lock))?;
        lock.lock().map_err(Self::io("cannot lock", &self.lock))?;
        let mut file = self.load()?;
        let out = f(&mut file)?;
        let mut json = serde_json::to_vec_pretty(&file).map_err(|e| TokenError::Corrupt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        json.push(b'\n');
        write_atomic(&self.path, &json)?;
        set_private(&self.path);
        Ok(out)
    }

    /// Creates a token for `role` on `channel`; returns the token (shown once) and its record.
    pub fn add(&self, role: Author, channel: &str) -> Result<(String, TokenRecord), TokenError> {
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = format!(
            "{PREFIX}{}",
            raw.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let h = hash(&token);
        let record = TokenRecord {
            id: h[..12].to_owned(),
            hash: h,
            role,
            channel: channel.to_owned(),
            created: Timestamp::now(),
        };
        let rec = record.clone();
        self.update(move |f| {
            f.tokens.push(rec);
            Ok(())
        })?;
        Ok((token, record))
    }

    /// Revokes by id (as `ls` shows it) or by the token itself; returns the revoked record.
    pub fn revoke(&self, id_or_token: &str) -> Result<TokenRecord, TokenError> {
        let h = hash(id_or_token);
        self.update(|f| {
            let i = f
                .tokens
                .iter()
                .position(|t| t.id == id_or_token || t.hash == h)
                .ok_or_else(|| TokenError::Unknown(id_or_token.to_owned()))?;
            Ok(f.tokens.remove(i))
        })
    }

    pub fn list(&self) -> Result<Vec<TokenRecord>, TokenError> {
        Ok(self.load()?.tokens)
    }

    /// The record of a presented token, read fresh from disk.
    pub fn check(&self, token: &str) -> Result<Option<TokenRecord>, TokenError> {
        if !token.starts_with(PREFIX) {
            return Ok(None);
        }
        let h = hash(token);
        Ok(self.load()?.tokens.into_iter().find(|t| t.hash == h))
    }
}

/// Only the owner may read the token file (hashes, but still nobody else's business).
fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_check_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = Tokens::new(dir.path());
        let (tok, rec) = tokens
            .add(Author::new("traffic").unwrap(), "2026-05-04--x")
            .unwrap();
        let stored = fs::read_to_string(dir.path().join(".warroom/tokens.json")).unwrap();
        assert!(!stored.contains(&tok), "the token itself is never stored");
        assert_eq!(tokens.check(&tok).unwrap(), Some(rec.clone()));
        assert_eq!(tokens.check("wr_bogus").unwrap(), None);
        tokens.revoke(&rec.id).unwrap();
        assert_eq!(tokens.check(&tok).unwrap(), None);
        assert!(matches!(
            tokens.revoke(&rec.id),
            Err(TokenError::Unknown(_))
        ));
    }
}
