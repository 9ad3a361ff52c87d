//! The latest evictions key by key, for the JS shim to publish on `diagnostics_channel`.
//! Bounded: nobody may be draining it, so past `CAPACITY` records the oldest go (and are
//! counted), and memory stays small whatever the eviction rate.

use std::collections::VecDeque;

use parking_lot::Mutex;

/// Records kept until drained; a subscriber drains after every put and lookup, so this only
/// overflows when nobody listens.
pub const CAPACITY: usize = 1024;

/// Why an entry left the cache, as counted in `Stats::evictions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvictionCause {
    /// `max_entries` or `max_size` (TinyLFU chose it, or refused it entry).
    Size,
    /// The directory's shared byte budget was over (other processes filled it).
    SharedBudget,
    /// Its content failed its integrity check.
    Corrupt,
    /// Its content was gone from disk.
    Missing,
}

impl EvictionCause {
    /// The name `stats().evictions` uses for the same cause.
    pub fn name(self) -> &'static str {
        match self {
            EvictionCause::Size => "size",
            EvictionCause::SharedBudget => "sharedBudget",
            EvictionCause::Corrupt => "corrupt",
            EvictionCause::Missing => "missing",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvictionRecord {
    pub key: String,
    /// Bytes of the body the key pointed at (0 when it could not be known).
    pub size: u64,
    pub cause: EvictionCause,
}

#[derive(Default, Debug)]
pub(crate) struct EvictionLog {
    records: Mutex<VecDeque<EvictionRecord>>,
}

impl EvictionLog {
    pub fn record(&self, key: &str, size: u64, cause: EvictionCause) {
        let mut records = self.records.lock();
        if records.len() == CAPACITY {
            records.pop_front();
        }
        records.push_back(EvictionRecord {
            key: key.to_owned(),
            size,
            cause,
        });
    }

    /// Everything recorded since the last drain, oldest first.
    pub fn drain(&self) -> Vec<EvictionRecord> {
        self.records.lock().drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_in_order_and_keeps_only_the_latest() {
        let log = EvictionLog::default();
        log.record("a", 1, EvictionCause::Size);
        log.record("b", 2, EvictionCause::Missing);
        let drained = log.drain();
        assert_eq!(
            drained
                .iter()
                .map(|r| (&*r.key, r.size, r.cause))
                .collect::<Vec<_>>(),
            [
                ("a", 1, EvictionCause::Size),
                ("b", 2, EvictionCause::Missing)
            ]
        );
        assert!(log.drain().is_empty());
        for i in 0..CAPACITY + 5 {
            log.record(&i.to_string(), 0, EvictionCause::Size);
        }
        let kept = log.drain();
        assert_eq!(kept.len(), CAPACITY);
        assert_eq!(kept[0].key, "5");
    }
}
