//! `NativeCache`: the core `StreamingCache` as a JS class. Lookups are synchronous (memory
//! only plus one `open`); anything that writes or waits runs as a libuv `Job`.

use napi::bindgen_prelude::{AsyncTask, Buffer};
use std::sync::Arc;

use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;
use streaming_cache_core::{
    options::validate_key, CacheOptions, EntryMeta, StoredEntry, StreamingCache, VerifyReport,
};

use crate::body::{entry_json, NativeBody};
use crate::convert::FromJsNumber;
use crate::errors::{guard, guard_infallible};
use crate::job::Job;
use crate::writer::{NativeWriter, PendingPut, PutInfo};

#[napi(object)]
pub struct NativeOptions {
    pub max_entries: Option<f64>,
    pub max_body_size: Option<f64>,
    pub max_size: Option<f64>,
    /// RAM tier: bytes in all (0 turns it off) and the largest body admitted.
    pub memory_max_size: Option<f64>,
    pub memory_max_entry_size: Option<f64>,
}

#[napi(object)]
pub struct NativeVerifyReport {
    pub entries: f64,
    pub verified: f64,
    pub corrupt: f64,
    pub orphans_removed: f64,
    pub bytes_reclaimed: f64,
}

impl From<VerifyReport> for NativeVerifyReport {
    fn from(r: VerifyReport) -> Self {
        NativeVerifyReport {
            entries: r.entries as f64,
            verified: r.verified as f64,
            corrupt: r.corrupt as f64,
            orphans_removed: r.orphans_removed as f64,
            bytes_reclaimed: r.bytes_reclaimed as f64,
        }
    }
}

#[napi]
pub struct NativeCache {
    pub(crate) cache: StreamingCache,
    /// The entry the last `getSmall` read (src/small_hit.rs), for JS to ask its fields.
    pub(crate) last_small: Mutex<Option<Arc<StoredEntry>>>,
}

#[napi]
impl NativeCache {
    /// The JS shim has already checked types and ranges; numbers arrive as safe integers.
    #[napi(constructor)]
    pub fn new(env: &Env, dir: String, options: NativeOptions) -> napi::Result<Self> {
        let mut opts = CacheOptions::default();
        if let Some(n) = options.max_entries {
            opts = opts.with_max_entries(u64::from_js(n));
        }
        if let Some(n) = options.max_body_size {
            opts = opts.with_max_body_size(u64::from_js(n));
        }
        if let Some(n) = options.max_size {
            opts = opts.with_max_size(u64::from_js(n));
        }
        opts = opts.with_memory(crate::hot::memory_options(
            options.memory_max_size,
            options.memory_max_entry_size,
        ));
        let cache = guard(env, || StreamingCache::open(&dir, opts))?;
        Ok(NativeCache {
            cache,
            last_small: Mutex::new(None),
        })
    }

    #[napi(getter)]
    pub fn max_entries(&self, env: &Env) -> napi::Result<f64> {
        guard_infallible(env, || self.cache.options().max_entries as f64)
    }

    #[napi(getter)]
    pub fn max_body_size(&self, env: &Env) -> napi::Result<f64> {
        guard_infallible(env, || self.cache.options().max_body_size as f64)
    }

    #[napi(getter)]
    pub fn max_size(&self) -> f64 {
        self.cache.options().max_size as f64
    }

    /// Index lines found at open that could not be decoded (skipped).
    #[napi(getter)]
    pub fn skipped_index_lines(&self, env: &Env) -> napi::Result<f64> {
        guard_infallible(env, || self.cache.skipped_on_load() as f64)
    }

    /// Opens the body for `key`, or returns null on a miss.
    #[napi]
    pub fn get(&self, env: &Env, key: String) -> napi::Result<Option<NativeBody>> {
        let opened = guard(env, || self.cache.open_body(&key))?;
        Ok(opened.map(|(entry, reader)| NativeBody::new(entry, reader, self.cache.clone())))
    }

    /// Opens bytes `start..=end` of the body for `key` (only the blocks they touch are read
    /// and verified; `end` past the last byte means up to it), or returns null on a miss.
    #[napi]
    pub fn get_range(
        &self,
        env: &Env,
        key: String,
        start: f64,
        end: f64,
    ) -> napi::Result<Option<NativeBody>> {
        // The shim passes safe integers; `as` saturates anything else instead of wrapping.
        let opened = guard(env, || {
            self.cache.open_range(&key, start as u64, end as u64)
        })?;
        Ok(opened.map(|(entry, reader)| NativeBody::new(entry, reader, self.cache.clone())))
    }

    /// The stored fields of `key` as JSON (no body, no disk access), or null.
    #[napi]
    pub fn peek(&self, env: &Env, key: String) -> napi::Result<Option<String>> {
        guard_infallible(env, || {
            self.cache.lookup(&key).map(|entry| entry_json(&entry))
        })
    }

    /// Live keys starting with `prefix`.
    #[napi]
    pub fn keys(&self, env: &Env, prefix: String) -> napi::Result<Vec<String>> {
        guard_infallible(env, || self.cache.keys_with_prefix(&prefix))
    }

    #[napi]
    pub fn has(&self, env: &Env, key: String) -> napi::Result<bool> {
        guard_infallible(env, || self.cache.contains(&key))
    }

    /// Starts a streamed put; `entry` is the response fields as JSON.
    #[napi]
    pub fn begin_put(&self, env: &Env, key: String, entry: String) -> napi::Result<NativeWriter> {
        let pending = guard(env, || self.pending(key, &entry))?;
        Ok(NativeWriter::new(pending))
    }

    /// A put whose whole body is already in memory: one job writes and commits it.
    #[napi(ts_return_type = "Promise<PutInfo>")]
    pub fn put_buffer(
        &self,
        env: &Env,
        key: String,
        entry: String,
        body: Buffer,
    ) -> napi::Result<AsyncTask<Job<PutInfo>>> {
        // Copied on the JS thread: the caller may detach (transfer) the Buffer's memory while
        // the job reads it on a libuv thread.
        let pending = guard(env, || self.pending(key, &entry))?;
        Ok(NativeWriter::new(pending).commit_with(Some(body.to_vec())))
    }

    /// Replaces the stored fields of `key` without rewriting its body; with `integrity`, only
    /// while `key` still holds that body (else resolves `false`).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn update_metadata(
        &self,
        env: &Env,
        key: String,
        entry: String,
        integrity: Option<String>,
    ) -> napi::Result<AsyncTask<Job<bool>>> {
        let meta = guard(env, || EntryMeta::from_json(&entry))?;
        let cache = self.cache.clone();
        Ok(Job::spawn(move || match &integrity {
            None => cache.update_metadata(&key, meta.clone()),
            Some(integrity) => cache.update_metadata_if(&key, meta.clone(), integrity),
        }))
    }

    /// Lookups miss from the moment this returns; the disk work finishes on a libuv thread.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete(&self, env: &Env, key: String) -> napi::Result<AsyncTask<Job<bool>>> {
        let mut pending = Some(guard_infallible(env, || self.cache.begin_delete(&key))?);
        let cache = self.cache.clone();
        Ok(Job::spawn(move || match pending.take() {
            Some(pending) => cache.finish_delete(pending),
            None => Ok(false),
        }))
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn clear(&self) -> AsyncTask<Job<bool>> {
        let cache = self.cache.clone();
        Job::spawn(move || cache.clear().map(|()| true))
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn run_pending_tasks(&self) -> AsyncTask<Job<bool>> {
        let cache = self.cache.clone();
        Job::spawn_infallible(move || {
            cache.run_pending_tasks();
            true
        })
    }

    /// Checks every entry's content and removes corruption and garbage.
    #[napi(ts_return_type = "Promise<NativeVerifyReport>")]
    pub fn verify(&self) -> AsyncTask<Job<NativeVerifyReport>> {
        let cache = self.cache.clone();
        Job::spawn(move || cache.verify().map(NativeVerifyReport::from))
    }

    /// Re-reads the disk index: entries other processes stored or deleted.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn refresh(&self) -> AsyncTask<Job<bool>> {
        let cache = self.cache.clone();
        Job::spawn(move || cache.refresh().map(|()| true))
    }

    /// Finishes pending cleanup and releases the directory for other processes.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self) -> AsyncTask<Job<bool>> {
        let cache = self.cache.clone();
        Job::spawn_infallible(move || {
            cache.close();
            true
        })
    }

    #[napi]
    pub fn entry_count(&self, env: &Env) -> napi::Result<f64> {
        guard_infallible(env, || self.cache.entry_count() as f64)
    }
}

impl NativeCache {
    fn pending(&self, key: String, entry: &str) -> streaming_cache_core::Result<PendingPut> {
        validate_key(&key)?;
        let meta = EntryMeta::from_json(entry)?;
        Ok(PendingPut {
            cache: self.cache.clone(),
            key,
            meta,
            writer: self.cache.writer(),
        })
    }
}
