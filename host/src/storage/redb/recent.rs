//! Journal entries that are durable in the write-ahead log but not yet written to redb.
//!
//! Inserting a step into redb's journal table copies the B-tree leaf of its invocation, and a
//! batch of steps from many invocations touches one leaf each: that copying was most of the
//! writer's work. So while the log is in use, a batch's journal entries are kept here once
//! the batch is durable, and written to redb together, in key order, at the next checkpoint
//! (each leaf copied once per checkpoint rather than once per batch). Readers of a journal
//! merge what redb holds with what is here.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock};

/// Key of a journal entry: (invocation id, sequence number).
pub(super) type StepKey = (u128, u32);

/// Entries by key, in key order.
type Entries = BTreeMap<StepKey, Vec<u8>>;

/// What one batch does to the recent entries, until it is durable: the entries it adds, and
/// the steps it removed (a retention sweep's journals, a rewind's later steps).
#[derive(Default)]
pub(super) struct Staged {
    entries: Entries,
    /// (invocation id, first step removed).
    forgotten: Vec<StepKey>,
}

impl Staged {
    /// Adds the entry at `key`.
    pub fn insert(&mut self, key: StepKey, entry: Vec<u8>) {
        self.entries.insert(key, entry);
    }

    /// Whether an entry was added at `key`.
    pub fn contains_key(&self, key: &StepKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Records that the steps of invocation `id` from `from` on are removed (those this
    /// batch added go now).
    pub fn forget(&mut self, id: u128, from: u32) {
        self.entries.retain(|&(i, seq), _| i != id || seq < from);
        self.forgotten.push((id, from));
    }

    /// Whether this batch removed the step at `key` (a recent entry there is gone).
    pub fn hides(&self, key: StepKey) -> bool {
        self.forgotten
            .iter()
            .any(|&(id, from)| key.0 == id && key.1 >= from)
    }

    /// The entries this batch added to invocation `id` from `from` on.
    pub fn of(&self, id: u128, from: u32) -> impl Iterator<Item = (u32, &[u8])> {
        self.entries
            .range((id, from)..=(id, u32::MAX))
            .map(|(&(_, seq), entry)| (seq, entry.as_slice()))
    }
}

/// The durable journal entries not yet in redb.
#[derive(Default)]
pub(super) struct Recent {
    entries: RwLock<Entries>,
}

impl Recent {
    /// Whether an entry exists at `key`.
    pub fn contains(&self, key: StepKey) -> bool {
        self.read().contains_key(&key)
    }

    /// The entries of invocation `id` numbered within `seqs`: (sequence number, encoded
    /// entry), in order.
    pub fn of(&self, id: u128, seqs: std::ops::RangeInclusive<u32>) -> Vec<(u32, Vec<u8>)> {
        self.read()
            .range((id, *seqs.start())..=(id, *seqs.end()))
            .map(|(&(_, seq), entry)| (seq, entry.clone()))
            .collect()
    }

    /// Drops the entries of a batch's removed steps (else a checkpoint would write them
    /// back), then adds the entries of the batch, which has become durable.
    pub fn publish(&self, staged: &mut Staged) {
        let Staged {
            entries: added,
            forgotten,
        } = std::mem::take(staged);
        let mut entries = self.write();
        for (id, from) in forgotten {
            let keys: Vec<StepKey> = entries
                .range((id, from)..=(id, u32::MAX))
                .map(|(key, _)| *key)
                .collect();
            for key in keys {
                entries.remove(&key);
            }
        }
        // One insert per entry (`BTreeMap::append` would rebuild the whole map each time).
        for (key, entry) in added {
            entries.insert(key, entry);
        }
    }

    /// Passes every entry to `write`, in key order (to write them to redb at a checkpoint).
    pub fn write_all<E>(
        &self,
        mut write: impl FnMut(StepKey, &[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.read()
            .iter()
            .try_for_each(|(key, entry)| write(*key, entry))
    }

    /// Every entry (tests).
    #[cfg(test)]
    pub fn all(&self) -> Entries {
        self.read().clone()
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Forgets every entry, once a durable redb commit holds them.
    pub fn clear(&self) {
        self.write().clear();
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        // The map stays consistent even if a holder panicked: every change is one call.
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }
}
