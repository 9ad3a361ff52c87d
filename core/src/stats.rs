//! Counters of what the cache did since it was opened, for `stats()`. Relaxed atomics: each
//! counter is exact, a snapshot is not a transaction across them.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use crate::eviction_log::{EvictionCause, EvictionLog, EvictionRecord};

#[derive(Default, Debug)]
pub(crate) struct Counters {
    hits: AtomicU64,
    memory_hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    deduplicated_stores: AtomicU64,
    bytes_written: AtomicU64,
    bytes_read: Arc<AtomicU64>,
    evicted_by_size: AtomicU64,
    evicted_by_budget: AtomicU64,
    evicted_corrupt: AtomicU64,
    evicted_missing: AtomicU64,
    integrity_failures: AtomicU64,
    /// The same evictions key by key, for diagnostics.
    evicted: EvictionLog,
}

/// Why entries left the cache other than by `delete`, `clear` or being replaced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evictions {
    /// Pushed out by `maxEntries` or `maxSize` (TinyLFU chose them, or refused them entry).
    pub size: u64,
    /// Pushed out because the directory's shared byte budget was over while this process's own
    /// bounds were not (other processes filled it): oldest stored first.
    pub shared_budget: u64,
    /// Their content failed its integrity check.
    pub corrupt: u64,
    /// Their content was gone from disk (removed by hand, or with a corrupt key sharing it).
    pub missing: u64,
}

/// A snapshot of the counters and the sizes they relate to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Lookups that found the key: on disk or in the RAM tier.
    pub hits: u64,
    /// Of `hits`, those served from the RAM tier (no disk read).
    pub memory_hits: u64,
    pub misses: u64,
    /// Bodies committed (each `put`).
    pub stores: u64,
    /// Of `stores`, those whose body was already on disk (nothing new was written for them).
    pub deduplicated_stores: u64,
    /// Body bytes received by puts that committed (deduplicated ones included).
    pub bytes_written: u64,
    /// Body bytes handed out by reads.
    pub bytes_read: u64,
    pub evictions: Evictions,
    /// Reads that found content not matching its hash (truncated, altered).
    pub integrity_failures: u64,
    /// Live keys in this process's index.
    pub entries: u64,
    /// Bytes of content on disk in the directory, every process's, each body once.
    pub bytes: u64,
    pub max_size: u64,
    pub max_entries: u64,
    /// Bytes the live keys of this process would take without deduplication, minus what their
    /// distinct bodies take.
    pub dedup_saved_bytes: u64,
}

impl Counters {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Relaxed);
    }

    pub fn memory_hit(&self) {
        self.hits.fetch_add(1, Relaxed);
        self.memory_hits.fetch_add(1, Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Relaxed);
    }

    pub fn stored(&self, size: u64, deduplicated: bool) {
        self.stores.fetch_add(1, Relaxed);
        self.bytes_written.fetch_add(size, Relaxed);
        if deduplicated {
            self.deduplicated_stores.fetch_add(1, Relaxed);
        }
    }

    /// What body readers add the bytes they hand out to.
    pub fn read_meter(&self) -> Arc<AtomicU64> {
        self.bytes_read.clone()
    }

    pub fn evicted_by_size(&self, key: &str, size: u64) {
        self.evicted_by_size.fetch_add(1, Relaxed);
        self.evicted.record(key, size, EvictionCause::Size);
    }

    pub fn evicted_by_budget(&self, key: &str, size: u64) {
        self.evicted_by_budget.fetch_add(1, Relaxed);
        self.evicted.record(key, size, EvictionCause::SharedBudget);
    }

    pub fn corrupt(&self, key: &str, size: u64) {
        self.integrity_failures.fetch_add(1, Relaxed);
        self.evicted_corrupt.fetch_add(1, Relaxed);
        self.evicted.record(key, size, EvictionCause::Corrupt);
    }

    pub fn missing(&self, key: &str, size: u64) {
        self.evicted_missing.fetch_add(1, Relaxed);
        self.evicted.record(key, size, EvictionCause::Missing);
    }

    /// The evictions recorded since the last call, oldest first (at most
    /// `eviction_log::CAPACITY`).
    pub fn take_evictions(&self) -> Vec<EvictionRecord> {
        self.evicted.drain()
    }

    /// The counters; the caller fills in the sizes.
    pub fn snapshot(&self) -> Stats {
        Stats {
            hits: self.hits.load(Relaxed),
            memory_hits: self.memory_hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            stores: self.stores.load(Relaxed),
            deduplicated_stores: self.deduplicated_stores.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            evictions: Evictions {
                size: self.evicted_by_size.load(Relaxed),
                shared_budget: self.evicted_by_budget.load(Relaxed),
                corrupt: self.evicted_corrupt.load(Relaxed),
                missing: self.evicted_missing.load(Relaxed),
            },
            integrity_failures: self.integrity_failures.load(Relaxed),
            ..Stats::default()
        }
    }
}
