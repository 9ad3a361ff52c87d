//! The in-memory index and its two bounds: `max_entries` (how many keys) and `max_size` (bytes
//! of content). Whichever is reached first evicts.
//!
//! One moka cache cannot hold two bounds exactly (a sum of weights is one dimension), so the
//! index is two TinyLFU caches over the same keys: `entries` weighs each key by its body size
//! (moka's weigher, so one huge body cannot push out thousands of hot small ones unless its
//! frequency earns it) and `count` weighs every key 1. A key evicted or refused by either is
//! removed from both, and handed to `on_evict` so its disk entry is cleaned up.
//!
//! Deduplicated content counts once: of the keys pointing at one body, only the first (its
//! "holder") weighs the body's size; the others weigh one unit. When the holder goes, the next
//! key takes the charge over (re-weighed outside moka's listener, see `Charges`).

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use moka::notification::RemovalCause;
use moka::ops::compute::Op;
use parking_lot::Mutex;

use crate::index::StoredEntry;

/// Called (from moka's maintenance, so it must not block) for every key the bounds pushed
/// out: the key and the content it pointed at.
pub(crate) type OnEvict = Arc<dyn Fn(String, String) + Send + Sync>;

type Entries = moka::sync::Cache<Arc<str>, Arc<StoredEntry>>;
type Counter = moka::sync::Cache<Arc<str>, ()>;

pub(crate) struct Index {
    entries: Entries,
    count: Arc<Counter>,
    charges: Arc<Charges>,
}

/// moka weights are `u32`: bodies are weighed in units of `unit` bytes, 1 for any budget up
/// to 4 GiB (exact), coarser above so that no body the budget admits overflows a weight.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scale {
    unit: u64,
}

impl Scale {
    pub fn for_budget(max_size: u64) -> Scale {
        Scale {
            unit: max_size.div_ceil(u64::from(u32::MAX)).max(1),
        }
    }

    /// What a body of `size` bytes weighs: never 0, so every key costs something.
    pub fn weight(&self, size: u64) -> u32 {
        u32::try_from(size.div_ceil(self.unit))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    pub fn capacity(&self, max_size: u64) -> u64 {
        max_size / self.unit
    }
}

impl Index {
    pub fn new(max_entries: u64, max_size: u64, on_evict: OnEvict) -> Index {
        let scale = Scale::for_budget(max_size);
        let charges = Arc::new(Charges::default());
        // The count bound's listener removes the key from `entries`; `entries`' listener tells
        // the count bound through a weak handle, so neither keeps the other alive.
        let count_slot: Arc<Mutex<Weak<Counter>>> = Arc::new(Mutex::new(Weak::new()));

        let weigh = charges.clone();
        let released = charges.clone();
        let listener_count = count_slot.clone();
        let listener_evict = on_evict.clone();
        let entries: Entries = moka::sync::Cache::builder()
            .max_capacity(scale.capacity(max_size))
            .weigher(move |key: &Arc<str>, entry: &Arc<StoredEntry>| {
                if weigh.charge(key, entry) {
                    scale.weight(entry.size)
                } else {
                    1
                }
            })
            .eviction_listener(move |key: Arc<Arc<str>>, entry: Arc<StoredEntry>, cause| {
                released.release(&key, &entry);
                // Replacements and explicit removals are settled by the caller; only the
                // bound's own evictions need the background cleanup.
                if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                    if let Some(count) = listener_count.lock().upgrade() {
                        count.invalidate(&**key);
                    }
                    listener_evict(key.to_string(), entry.integrity_string());
                }
            })
            .build();

        let by_count = entries.clone();
        let count: Arc<Counter> = Arc::new(
            moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .eviction_listener(move |key: Arc<Arc<str>>, (), cause| {
                    if matches!(cause, RemovalCause::Size | RemovalCause::Expired) {
                        if let Some(entry) = by_count.remove(&**key) {
                            on_evict(key.to_string(), entry.integrity_string());
                        }
                    }
                })
                .build(),
        );
        *count_slot.lock() = Arc::downgrade(&count);
        Index {
            entries,
            count,
            charges,
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<StoredEntry>> {
        let found = self.entries.get(key);
        // Every lookup, hit or miss, feeds both frequency sketches: admission to the count
        // bound weighs a newcomer's misses against its victims' hits, as `entries` does.
        self.count.get(key);
        found
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.contains_key(key)
    }

    pub fn insert(&self, key: String, entry: Arc<StoredEntry>) {
        let key: Arc<str> = key.into();
        self.count.insert(key.clone(), ());
        self.entries.insert(key, entry);
        self.settle_charges();
    }

    pub fn remove(&self, key: &str) -> Option<Arc<StoredEntry>> {
        self.count.invalidate(key);
        let removed = self.entries.remove(key);
        self.settle_charges();
        removed
    }

    pub fn invalidate_all(&self) {
        self.count.invalidate_all();
        self.entries.invalidate_all();
    }

    pub fn run_pending_tasks(&self) {
        self.count.run_pending_tasks();
        self.entries.run_pending_tasks();
        self.settle_charges();
    }

    pub fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// Bytes of the distinct bodies live keys point at, and the bytes sharing saves (what
    /// keys pointing at a body another key already holds would take on their own).
    pub fn bytes(&self) -> (u64, u64) {
        self.charges.bytes()
    }

    /// Removes live keys, oldest stored first, until their bodies add up to `bytes`; returns
    /// them (key, integrity) for the disk cleanup. The order every process can agree on for
    /// the shared budget: `stored_at` is on disk, TinyLFU frequencies are per process.
    pub fn evict_oldest(&self, bytes: u64) -> Vec<(String, String)> {
        let mut live: Vec<Arc<StoredEntry>> = self.entries.iter().map(|(_, entry)| entry).collect();
        live.sort_by_key(|entry| entry.stored_at);
        let mut freed = 0u64;
        let mut victims = Vec::new();
        for entry in live {
            if freed >= bytes {
                break;
            }
            if self.remove(&entry.key).is_some() {
                freed += entry.size;
                victims.push((entry.key.clone(), entry.integrity_string()));
            }
        }
        victims
    }

    /// Re-weighs keys that took over the charge for a body whose holder left: moka only
    /// weighs on insert, and its listener must not insert, so it is done here, atomically
    /// per key (a put racing this keeps its own, newer entry).
    fn settle_charges(&self) {
        for key in self.charges.take_recharges() {
            self.entries
                .entry(key)
                .and_compute_with(|current| match current {
                    Some(entry) => Op::Put(entry.into_value()),
                    None => Op::Nop,
                });
        }
    }
}

/// Which key pays for each body: the first of its holders. Every weigher call (one per
/// insert) registers the key, every removal notification (one per inserted value) unregisters
/// it, so the books balance whatever the order of replacements.
#[derive(Default)]
struct Charges {
    state: Mutex<ChargeState>,
}

#[derive(Default)]
struct ChargeState {
    /// By a 64-bit hash of the integrity: the map is per process memory, so a hash rather
    /// than the string (a collision would only misplace a weight, never touch a body).
    holders: HashMap<u64, Holders>,
    /// Keys that became the holder of a body after its previous holder left.
    recharge: Vec<Arc<str>>,
    /// Sizes of the distinct bodies held, and of every key's body counted per key.
    distinct_bytes: u64,
    logical_bytes: u64,
}

struct Holders {
    size: u64,
    /// Keys holding the body, with how many of their inserted values are still live.
    keys: Vec<(Arc<str>, u32)>,
}

impl Charges {
    /// Registers `key` as holding `entry`'s body; true if it is the one paying for it.
    fn charge(&self, key: &Arc<str>, entry: &StoredEntry) -> bool {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let holders = state.holders.entry(body_id(entry)).or_insert_with(|| {
            state.distinct_bytes += entry.size;
            Holders {
                size: entry.size,
                keys: Vec::new(),
            }
        });
        match holders.keys.iter_mut().find(|(k, _)| k == key) {
            Some((_, live)) => *live += 1,
            None => {
                holders.keys.push((key.clone(), 1));
                state.logical_bytes += entry.size;
            }
        }
        holders.keys[0].0 == *key
    }

    fn release(&self, key: &Arc<str>, entry: &StoredEntry) {
        let mut guard = self.state.lock();
        let state = &mut *guard;
        let integrity = body_id(entry);
        let Some(holders) = state.holders.get_mut(&integrity) else {
            return;
        };
        let Some(at) = holders.keys.iter().position(|(k, _)| k == key) else {
            return;
        };
        holders.keys[at].1 -= 1;
        if holders.keys[at].1 > 0 {
            return;
        }
        holders.keys.remove(at);
        state.logical_bytes -= holders.size;
        if holders.keys.is_empty() {
            state.distinct_bytes -= holders.size;
            state.holders.remove(&integrity);
        } else if at == 0 {
            let next = holders.keys[0].0.clone();
            state.recharge.push(next);
        }
    }

    /// (distinct bytes, bytes saved by sharing bodies).
    fn bytes(&self) -> (u64, u64) {
        let state = self.state.lock();
        (
            state.distinct_bytes,
            state.logical_bytes - state.distinct_bytes,
        )
    }

    fn take_recharges(&self) -> Vec<Arc<str>> {
        let mut state = self.state.lock();
        if state.recharge.is_empty() {
            Vec::new()
        } else {
            std::mem::take(&mut state.recharge)
        }
    }
}

fn body_id(entry: &StoredEntry) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault};
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(&entry.integrity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_exact_up_to_4_gib_and_never_zero() {
        let small = Scale::for_budget(1 << 30);
        assert_eq!(
            (small.weight(0), small.weight(1), small.weight(1000)),
            (1, 1, 1000)
        );
        let huge = Scale::for_budget(1 << 40);
        assert_eq!(huge.unit, 257);
        assert_eq!(
            huge.weight(1 << 40),
            u32::try_from((1u64 << 40).div_ceil(257)).unwrap()
        );
        assert!(huge.capacity(1 << 40) <= u64::from(u32::MAX) * 257);
    }
}
