//! Hits from the RAM tier: the calls the JS shim makes before it opens anything on disk.
//! A hit it already knows costs one call that returns a number, so the shim can reuse the
//! fields and the Buffer it built for that generation: no JSON, no object wrap, no finalizer.

use napi::bindgen_prelude::Object;
use napi::Env;
use napi_derive::napi;
use streaming_cache_core::MemoryTierOptions;

use crate::body::{entry_json, hot_buffer};
use crate::cache::NativeCache;
use crate::errors::guard_infallible;

/// The tier's options from the binding's (the JS shim checked them): missing means default,
/// a size of 0 turns the tier off.
pub fn memory_options(max_size: Option<f64>, max_entry_size: Option<f64>) -> MemoryTierOptions {
    let defaults = MemoryTierOptions::default();
    let max_size = max_size.map_or(defaults.max_size, |n| n as u64);
    if max_size == 0 {
        return MemoryTierOptions::off();
    }
    let max_entry_size = max_entry_size.map_or(defaults.max_entry_size.min(max_size), |n| n as u64);
    MemoryTierOptions {
        max_size,
        max_entry_size,
    }
}

#[napi]
impl NativeCache {
    /// The RAM tier's generation of `key`'s body if it holds a current one, else 0. Memory
    /// only plus one `stat` of the key's index bucket (other processes' changes). A hit is
    /// counted in `stats()` here: `hotHit`, which follows for a generation JS has no record of,
    /// is the same lookup.
    #[napi]
    pub fn hot_generation(&self, env: &Env, key: String) -> napi::Result<f64> {
        guard_infallible(env, || {
            self.cache
                .hot_lookup(&key)
                .map_or(0.0, |hot| hot.generation() as f64)
        })
    }

    /// For lookups of a key that may have variants (keys starting with `variant_prefix`):
    /// `key`'s hot generation as `hot_generation` gives it when no live key starts with
    /// `variant_prefix`, else 0 (without counting the lookup: the caller goes on to choose
    /// among the variants, and that lookup counts). One call for the common case of a URL
    /// without variants whose body is hot.
    #[napi]
    pub fn sole_hot_generation(
        &self,
        env: &Env,
        key: String,
        variant_prefix: String,
    ) -> napi::Result<f64> {
        if guard_infallible(env, || self.cache.has_keys_with_prefix(&variant_prefix))? {
            return Ok(0.0);
        }
        self.hot_generation(env, key)
    }

    /// `key`'s hot body as `{ generation, entry, body }` (`entry`: the fields as JSON, `body`:
    /// the whole body in one Buffer), or null when the tier holds no current one.
    #[napi(ts_return_type = "{ generation: number, entry: string, body: Buffer } | null")]
    pub fn hot_hit<'env>(&self, env: &'env Env, key: String) -> napi::Result<Option<Object<'env>>> {
        let Some(hot) = guard_infallible(env, || self.cache.hot_body(&key))? else {
            return Ok(None);
        };
        let mut hit = Object::new(env)?;
        hit.set("generation", hot.generation() as f64)?;
        hit.set("entry", entry_json(hot.entry()))?;
        hit.set("body", hot_buffer(env, &hot)?)?;
        Ok(Some(hit))
    }

    /// Bytes and bodies the RAM tier holds (after pending admissions and evictions).
    #[napi]
    pub fn memory_usage(&self, env: &Env) -> napi::Result<Vec<f64>> {
        let (bytes, entries) = guard_infallible(env, || self.cache.hot_usage())?;
        Ok(vec![bytes as f64, entries as f64])
    }

    #[napi(getter)]
    pub fn memory_max_size(&self) -> f64 {
        self.cache.options().memory.max_size as f64
    }

    #[napi(getter)]
    pub fn memory_max_entry_size(&self) -> f64 {
        self.cache.options().memory.max_entry_size as f64
    }
}
