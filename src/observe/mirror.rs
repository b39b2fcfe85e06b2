//! The current objects of one kind as slim values ([`Mirror`]), and what changed ([`Diff`]).
//! Pure: watcher events in, differences out; a resync is compared with what was known.
//!
//! It must not talk to the API nor decide what a difference means (the observers do).

use std::collections::BTreeMap;

use kube::api::DynamicObject;
use kube::runtime::watcher;

/// One object's change, as seen by a [`Mirror`].
#[derive(Debug, Clone, PartialEq)]
pub struct Diff<T> {
    pub key: String,
    pub before: Option<T>,
    pub after: Option<T>,
}

/// The current objects of one kind, as slim values keyed by name. Applying watcher events
/// returns what changed; a resync (`Init..InitDone`) is compared with what was known, so only
/// real differences come out of it (never the whole list again).
#[derive(Debug, Clone)]
pub struct Mirror<T> {
    objects: BTreeMap<String, T>,
    /// Objects of a resync in progress; swapped in at `InitDone`.
    pending: Option<BTreeMap<String, T>>,
    /// True once the first `InitDone` arrived.
    synced: bool,
}

impl<T> Default for Mirror<T> {
    fn default() -> Self {
        Self {
            objects: BTreeMap::new(),
            pending: None,
            synced: false,
        }
    }
}

impl<T: Clone + PartialEq> Mirror<T> {
    /// Applies one watcher event; `project` turns an object into its key and slim value (None
    /// to ignore it). Returns the differences it makes, unchanged values left out.
    pub fn apply(
        &mut self,
        event: watcher::Event<DynamicObject>,
        project: impl Fn(DynamicObject) -> Option<(String, T)>,
    ) -> Vec<Diff<T>> {
        match event {
            watcher::Event::Init => {
                self.pending = Some(BTreeMap::new());
                Vec::new()
            }
            watcher::Event::InitApply(obj) => {
                if let Some((key, value)) = project(obj) {
                    self.pending
                        .get_or_insert_with(BTreeMap::new)
                        .insert(key, value);
                }
                Vec::new()
            }
            watcher::Event::InitDone => {
                let fresh = self.pending.take().unwrap_or_default();
                let old = std::mem::replace(&mut self.objects, fresh);
                self.synced = true;
                let mut diffs = Vec::new();
                for (key, after) in &self.objects {
                    let before = old.get(key);
                    if before != Some(after) {
                        diffs.push(Diff {
                            key: key.clone(),
                            before: before.cloned(),
                            after: Some(after.clone()),
                        });
                    }
                }
                for (key, before) in old {
                    if !self.objects.contains_key(&key) {
                        diffs.push(Diff {
                            key,
                            before: Some(before),
                            after: None,
                        });
                    }
                }
                diffs
            }
            watcher::Event::Apply(obj) => {
                let Some((key, value)) = project(obj) else {
                    return Vec::new();
                };
                let before = self.objects.insert(key.clone(), value.clone());
                if before.as_ref() == Some(&value) {
                    return Vec::new();
                }
                vec![Diff {
                    key,
                    before,
                    after: Some(value),
                }]
            }
            watcher::Event::Delete(obj) => {
                let key = obj.metadata.name.clone().unwrap_or_default();
                match self.objects.remove(&key) {
                    Some(before) => vec![Diff {
                        key,
                        before: Some(before),
                        after: None,
                    }],
                    None => Vec::new(),
                }
            }
        }
    }

    pub fn is_synced(&self) -> bool {
        self.synced
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.objects.values()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &T)> {
        self.objects.iter()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
