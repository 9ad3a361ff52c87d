//! `stats()`: the core's counters and sizes as a plain JS object (numbers are f64: exact up
//! to 2^53, more bytes than any disk holds).

use napi_derive::napi;
use streaming_cache_core::{Evictions, Stats};

use crate::cache::NativeCache;

#[napi(object)]
pub struct NativeEvictions {
    pub size: f64,
    pub shared_budget: f64,
    pub corrupt: f64,
    pub missing: f64,
}

#[napi(object)]
pub struct NativeStats {
    pub hits: f64,
    pub misses: f64,
    pub stores: f64,
    pub deduplicated_stores: f64,
    pub bytes_written: f64,
    pub bytes_read: f64,
    pub evictions: NativeEvictions,
    pub integrity_failures: f64,
    pub entries: f64,
    pub bytes: f64,
    pub max_size: f64,
    pub max_entries: f64,
    pub dedup_saved_bytes: f64,
}

#[napi]
impl NativeCache {
    /// Counters since open and the sizes they relate to. Reads the shared usage record (one
    /// small locked read) and applies moka's pending work for an exact entry count.
    #[napi]
    pub fn stats(&self) -> NativeStats {
        to_js(self.cache.stats())
    }
}

fn to_js(s: Stats) -> NativeStats {
    let Evictions {
        size,
        shared_budget,
        corrupt,
        missing,
    } = s.evictions;
    NativeStats {
        hits: s.hits as f64,
        misses: s.misses as f64,
        stores: s.stores as f64,
        deduplicated_stores: s.deduplicated_stores as f64,
        bytes_written: s.bytes_written as f64,
        bytes_read: s.bytes_read as f64,
        evictions: NativeEvictions {
            size: size as f64,
            shared_budget: shared_budget as f64,
            corrupt: corrupt as f64,
            missing: missing as f64,
        },
        integrity_failures: s.integrity_failures as f64,
        entries: s.entries as f64,
        bytes: s.bytes as f64,
        max_size: s.max_size as f64,
        max_entries: s.max_entries as f64,
        dedup_saved_bytes: s.dedup_saved_bytes as f64,
    }
}

#[napi(object)]
pub struct NativeEviction {
    pub key: String,
    pub size: f64,
    /// As in `stats().evictions`: size, sharedBudget, corrupt or missing.
    pub cause: String,
}

#[napi]
impl NativeCache {
    /// Evictions since the last call, oldest first (the core keeps the latest 1024).
    #[napi]
    pub fn take_evictions(&self) -> Vec<NativeEviction> {
        self.cache
            .take_evictions()
            .into_iter()
            .map(|r| NativeEviction {
                key: r.key,
                size: r.size as f64,
                cause: r.cause.name().to_owned(),
            })
            .collect()
    }
}
