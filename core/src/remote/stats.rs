//! Counters of the shared tier, readable at any time without locks.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    pub evicted: AtomicU64,
    pub bytes_read: AtomicU64,
    pub bytes_written: AtomicU64,
    pub uploads: AtomicU64,
    pub uploads_deduplicated: AtomicU64,
    pub uploads_dropped: AtomicU64,
    pub uploads_failed: AtomicU64,
    pub breaker_opened: AtomicU64,
    pub locks_acquired: AtomicU64,
    pub locks_busy: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Relaxed);
    }
}

/// A snapshot. `misses` counts every lookup that did not produce a body, `errors` the failed
/// operations among all calls (a failed lookup is both a miss and an error).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemoteStats {
    pub hits: u64,
    pub misses: u64,
    pub errors: u64,
    /// Bodies found incomplete (chunks or manifest evicted): counted as misses too.
    pub evicted: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Bodies uploaded or found already there (`uploads_deduplicated` of them sent no bytes).
    pub uploads: u64,
    pub uploads_deduplicated: u64,
    /// Background uploads refused because the queue was full.
    pub uploads_dropped: u64,
    pub uploads_failed: u64,
    pub breaker_opened: u64,
    pub breaker_open: bool,
    pub locks_acquired: u64,
    pub locks_busy: u64,
    /// Background uploads waiting or running.
    pub queued: u64,
}

impl Counters {
    pub fn snapshot(&self, breaker_open: bool, queued: u64) -> RemoteStats {
        RemoteStats {
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            errors: self.errors.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            bytes_written: self.bytes_written.load(Relaxed),
            uploads: self.uploads.load(Relaxed),
            uploads_deduplicated: self.uploads_deduplicated.load(Relaxed),
            uploads_dropped: self.uploads_dropped.load(Relaxed),
            uploads_failed: self.uploads_failed.load(Relaxed),
            breaker_opened: self.breaker_opened.load(Relaxed),
            breaker_open,
            locks_acquired: self.locks_acquired.load(Relaxed),
            locks_busy: self.locks_busy.load(Relaxed),
            queued,
        }
    }
}
