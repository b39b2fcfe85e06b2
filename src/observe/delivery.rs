//! Posting observations: a [`Poster`] writes to a local channel or sends to the relay, a
//! [`Delivery`] turns refs by key into ids, and [`deliver`] drains an observer's queue.
//!
//! It owns the way an observation becomes an entry (the idempotency key, refs, the relay's
//! answer). It must not decide what to say (the observers do) and must not write entry bytes
//! itself: a local post goes through [`crate::channel`], a remote one through the relay's
//! `POST`.

use std::collections::BTreeMap;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Observation, ObserveError, Ref, lifecycle};
use crate::channel::store::PostOptions;
use crate::channel::{Author, Channel, Draft, EntryId, IdempotencyKey};

/// Where observations go: a local channel, or a relay with a bearer token.
#[derive(Debug, Clone)]
pub enum Poster {
    Local {
        channel: Channel,
        author: Author,
    },
    Remote {
        http: reqwest::Client,
        /// `{relay}/api/channels/{ch}/entries`.
        url: String,
        token: String,
    },
}

impl Poster {
    /// A poster appending to `channel` as `author` (checked against the roster now).
    pub fn local(channel: Channel, author: Author) -> Result<Poster, ObserveError> {
        channel
            .check_can_post(&author)
            .map_err(|source| ObserveError::Local {
                channel: channel.name().to_string(),
                source,
            })?;
        Ok(Poster::Local { channel, author })
    }

    /// A poster sending to the relay at `relay` (`http://127.0.0.1:7700`) for `channel`.
    pub fn remote(relay: &str, channel: &str, token: &str) -> Poster {
        Poster::Remote {
            http: reqwest::Client::new(),
            url: format!(
                "{}/api/channels/{channel}/entries",
                relay.trim_end_matches('/')
            ),
            token: token.to_string(),
        }
    }

    /// Posts one observation whose refs are ids; returns the entry id (`pipeline#3`). With a
    /// key the post is safe to retry: an entry already written with it is returned, not
    /// written again.
    pub async fn post(&self, obs: &Observation) -> Result<String, ObserveError> {
        let refs: Vec<String> = obs
            .refs
            .iter()
            .filter_map(|r| match r {
                Ref::Id(id) => Some(id.clone()),
                Ref::Key(_) => None,
            })
            .collect();
        match self {
            Poster::Local { channel, author } => {
                let (channel, author) = (channel.clone(), author.clone());
                let name = channel.name().to_string();
                let local = |source| ObserveError::Local {
                    channel: name.clone(),
                    source,
                };
                let draft = Draft {
                    kind: obs.kind,
                    refs: refs
                        .iter()
                        .map(|r| EntryId::parse(r))
                        .collect::<Result<_, _>>()
                        .map_err(local)?,
                    key: obs
                        .key
                        .as_deref()
                        .map(IdempotencyKey::new)
                        .transpose()
                        .map_err(local)?,
                    body: obs.body.clone(),
                    ..Default::default()
                };
                // Posting is blocking file I/O (lock, write, fsync).
                let posted = tokio::task::spawn_blocking(move || {
                    channel.post(&author, &draft, &PostOptions::default())
                })
                .await
                .map_err(|source| ObserveError::Join {
                    channel: name.clone(),
                    source,
                })?
                .map_err(local)?;
                Ok(posted.entry.id.to_string())
            }
            Poster::Remote { http, url, token } => {
                let mut body = serde_json::json!({
                    "kind": obs.kind.as_str(),
                    "body": obs.body,
                    "refs": refs,
                });
                if let Some(key) = &obs.key {
                    body["key"] = serde_json::Value::String(key.clone());
                }
                let response = http
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| ObserveError::RelayUnreachable {
                        url: url.clone(),
                        detail: e.to_string(),
                    })?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                // 201 written; 200 the entry an earlier post with this key wrote.
                if status != 201 && status != 200 {
                    return Err(ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: text.chars().take(300).collect(),
                    });
                }
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(str::to_string))
                    .unwrap_or_default();
                Ok(id)
            }
        }
    }

    /// What `role` has written to the channel so far (for [`lifecycle::Lifecycle::restore`]).
    pub async fn history(&self, role: &str) -> Result<Vec<lifecycle::Said>, ObserveError> {
        let said = |e: crate::channel::Entry| lifecycle::Said {
            id: e.id.to_string(),
            kind: e.kind,
            key: e.key.map(|k| k.to_string()),
            refs: e.refs.iter().map(ToString::to_string).collect(),
        };
        match self {
            Poster::Local { channel, author } => {
                let (channel, author) = (channel.clone(), author.clone());
                let name = channel.name().to_string();
                tokio::task::spawn_blocking(move || {
                    let filter = crate::timeline::Filter {
                        authors: [author].into_iter().collect(),
                        ..Default::default()
                    };
                    let merge = crate::timeline::Merge::open(&channel, filter, |p| {
                        eprintln!("warning: {p}");
                    })?;
                    merge.map(|e| e.map(said)).collect::<Result<Vec<_>, _>>()
                })
                .await
                .map_err(|source| ObserveError::Join {
                    channel: name.clone(),
                    source,
                })?
                .map_err(|source| ObserveError::Local {
                    channel: name,
                    source,
                })
            }
            Poster::Remote { http, url, token } => {
                let response = http.get(url).bearer_auth(token).send().await.map_err(|e| {
                    ObserveError::RelayUnreachable {
                        url: url.clone(),
                        detail: e.to_string(),
                    }
                })?;
                let status = response.status().as_u16();
                let text = response.text().await.unwrap_or_default();
                if status != 200 {
                    return Err(ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: text.chars().take(300).collect(),
                    });
                }
                let entries: Vec<crate::channel::Entry> =
                    serde_json::from_str(&text).map_err(|e| ObserveError::RelayRefused {
                        url: url.clone(),
                        status,
                        body: format!("the entries are not the relay's JSON: {e}"),
                    })?;
                Ok(entries
                    .into_iter()
                    .filter(|e| e.author.as_str() == role)
                    .map(said)
                    .collect())
            }
        }
    }
}

/// A poster that remembers the ids of the keyed entries it posted, so an observation that refs
/// an entry by key (a resolution, an escalation) refs its id. A key posted before this run is
/// looked up in the channel once.
#[derive(Debug, Clone)]
pub struct Delivery {
    poster: Poster,
    ids: BTreeMap<String, String>,
}

impl Delivery {
    pub fn new(poster: Poster) -> Delivery {
        Delivery {
            poster,
            ids: BTreeMap::new(),
        }
    }

    /// Posts `obs` with its refs by key turned into ids; returns the entry id.
    pub async fn post(&mut self, mut obs: Observation) -> Result<String, ObserveError> {
        if obs
            .refs
            .iter()
            .any(|r| matches!(r, Ref::Key(k) if !self.ids.contains_key(k)))
        {
            // Written before this run: look the key up in the channel.
            let role = match &self.poster {
                Poster::Local { author, .. } => author.to_string(),
                Poster::Remote { .. } => String::new(),
            };
            for s in self.poster.history(&role).await? {
                if let Some(k) = s.key {
                    self.ids.entry(k).or_insert(s.id);
                }
            }
        }
        obs.refs = obs
            .refs
            .into_iter()
            .map(|r| match r {
                Ref::Key(k) => self.ids.get(&k).cloned().map_or(Ref::Key(k), Ref::Id),
                id => id,
            })
            .collect();
        let id = self.poster.post(&obs).await?;
        if let Some(k) = obs.key {
            self.ids.insert(k, id.clone());
        }
        Ok(id)
    }
}

/// Posts every observation from `rx` in order until the senders are gone (or `cancel` fires
/// and the queue is drained), through a [`Delivery`]. A failed post is reported on stderr and
/// the run continues: an observer must not stop watching because the relay blinked. Returns
/// how many were posted.
pub async fn deliver(
    mut rx: mpsc::Receiver<Observation>,
    poster: Poster,
    cancel: CancellationToken,
) -> u64 {
    let mut posted = 0;
    let mut delivery = Delivery::new(poster);
    loop {
        let obs = tokio::select! {
            obs = rx.recv() => obs,
            () = cancel.cancelled() => {
                // Drain what is already queued, then stop.
                rx.close();
                rx.recv().await
            }
        };
        let Some(obs) = obs else { break };
        match delivery.post(obs).await {
            Ok(id) => {
                posted += 1;
                // The result of an observer run: the ids of its entries.
                println!("{id}");
            }
            Err(e) => eprintln!("warning: {e:#}"),
        }
    }
    posted
}
