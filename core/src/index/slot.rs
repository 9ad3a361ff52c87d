//! What the in-memory index keeps per live key: the fields lookups, eviction and the budget
//! need (content address, size, when it was stored), not the response fields. Headers, URL
//! and caching policy are most of an entry's weight in RAM (a BTreeMap node and a dozen
//! strings), so they stay in the key's index bucket on disk and are read back when a lookup
//! needs them; the full entry is then shared with whoever holds it (a reader, the RAM tier),
//! so the same entry keeps one identity for as long as anything uses it.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::disk::{self, StoredEntry};

pub(crate) struct Slot {
    /// Shared with the ledger's maps.
    integrity: Arc<str>,
    pub size: u64,
    /// Milliseconds since the Unix epoch, as on disk: with the integrity and the size it tells
    /// the disk line this slot was made from apart from any later one.
    pub stored_at: u64,
    /// This process's commit order (0 for entries read from disk), see `StoredEntry::seq`.
    pub seq: u64,
    /// The full entry, while anything holds it.
    full: Mutex<Weak<StoredEntry>>,
}

/// What reading a slot's full entry found.
pub(crate) enum Materialized {
    Found(Arc<StoredEntry>),
    /// The key's bucket no longer holds the line this slot was made from: another process
    /// replaced or deleted the key.
    Changed,
    /// The bucket could not be read (a failed read says nothing about the entry).
    Unreadable,
}

impl Slot {
    /// A slot for `entry` (whose content address is `integrity`), sharing it while the
    /// caller holds it.
    pub fn for_entry(entry: &Arc<StoredEntry>, integrity: Arc<str>) -> Slot {
        Slot {
            full: Mutex::new(Arc::downgrade(entry)),
            ..Slot::lean(integrity, entry.size, entry.stored_at, entry.seq)
        }
    }

    pub fn lean(integrity: Arc<str>, size: u64, stored_at: u64, seq: u64) -> Slot {
        Slot {
            integrity,
            size,
            stored_at,
            seq,
            full: Mutex::new(Weak::new()),
        }
    }

    pub fn integrity(&self) -> &str {
        &self.integrity
    }

    /// Whether `entry` (read from disk) is the line this slot was made from.
    pub fn describes(&self, entry: &StoredEntry) -> bool {
        entry.stored_at == self.stored_at
            && entry.size == self.size
            && *self.integrity == entry.integrity_string()
    }

    /// The full entry if something holds it now (no disk access).
    pub fn held(&self) -> Option<Arc<StoredEntry>> {
        self.full.lock().upgrade()
    }

    /// The full entry: the one held, or read back from `key`'s bucket. Under the slot's lock,
    /// so concurrent lookups share one copy (the RAM tier checks entries by identity).
    pub fn materialize(&self, dir: &Path, key: &str, recent: &Recent) -> Materialized {
        let mut full = self.full.lock();
        if let Some(entry) = full.upgrade() {
            return Materialized::Found(entry);
        }
        let on_disk = match disk::find(dir, key) {
            Ok(found) => found,
            Err(_) => return Materialized::Unreadable,
        };
        match on_disk {
            Some(entry) if self.describes(&entry) => {
                let entry = Arc::new(StoredEntry {
                    seq: self.seq,
                    ..entry
                });
                *full = Arc::downgrade(&entry);
                recent.keep(&entry);
                Materialized::Found(entry)
            }
            _ => Materialized::Changed,
        }
    }
}

/// The last entries read back from their buckets, held so the keys asked for often keep their
/// full entry in memory (a hit then reads no bucket) while the rest of the index stays lean.
pub(crate) struct Recent {
    held: Mutex<VecDeque<Arc<StoredEntry>>>,
    capacity: usize,
}

impl Recent {
    pub fn new(capacity: usize) -> Recent {
        Recent {
            held: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity,
        }
    }

    fn keep(&self, entry: &Arc<StoredEntry>) {
        let mut held = self.held.lock();
        if held.len() >= self.capacity {
            held.pop_front();
        }
        held.push_back(entry.clone());
    }
}
