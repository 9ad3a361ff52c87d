//! `stats()`: the core's counters and sizes as a plain JS object (numbers are f64: exact up
//! to 2^53, more bytes than any disk holds).

use napi::Env;
use napi_derive::napi;
use streaming_cache_core::{Evictions, Stats};

use crate::cache::NativeCache;
use crate::errors::guard_infallible;

/// A `#[napi(object)]` of numbers mirroring a core struct of `u64` counters, and the `From`
/// that fills it: each counter is named once here, not once to declare and once to copy.
/// `nested` fields hold another such object.
macro_rules! counters_object {
    ($js:ident from $core:ident { $($field:ident),* $(,)? } $(nested { $($inner:ident: $inner_js:ident),* })?) => {
        #[napi(object)]
        pub struct $js {
            $(pub $field: f64,)*
            $($(pub $inner: $inner_js,)*)?
        }

        impl From<$core> for $js {
            fn from(core: $core) -> Self {
                $js {
                    $($field: core.$field as f64,)*
                    $($($inner: core.$inner.into(),)*)?
                }
            }
        }
    };
}

counters_object!(NativeEvictions from Evictions { size, shared_budget, corrupt, missing });

counters_object!(NativeStats from Stats {
    hits, memory_hits, misses, stores, deduplicated_stores, bytes_written, bytes_read, integrity_failures,
    entries, bytes, max_size, max_entries, dedup_saved_bytes,
} nested { evictions: NativeEvictions });

#[napi]
impl NativeCache {
    /// Counters since open and the sizes they relate to. Reads the shared usage record (one
    /// small locked read) and applies moka's pending work for an exact entry count.
    #[napi]
    pub fn stats(&self, env: &Env) -> napi::Result<NativeStats> {
        guard_infallible(env, || self.cache.stats().into())
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
    pub fn take_evictions(&self, env: &Env) -> napi::Result<Vec<NativeEviction>> {
        guard_infallible(env, || {
            self.cache
                .take_evictions()
                .into_iter()
                .map(|r| NativeEviction {
                    key: r.key,
                    size: r.size as f64,
                    cause: r.cause.name().to_owned(),
                })
                .collect()
        })
    }
}
