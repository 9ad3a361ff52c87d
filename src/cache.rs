//! `NativeCache`: the core `StreamingCache` as a JS class. Lookups are synchronous (memory
//! only plus one `open`); anything that writes or waits runs as a libuv task.

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use streaming_cache_core::{
    options::validate_key, CacheOptions, EntryMeta, PendingDelete, StreamingCache, VerifyReport,
};

use crate::body::{entry_json, NativeBody};
use crate::convert::FromJsNumber;
use crate::errors::{guard, guard_infallible};
use crate::writer::{CommitTask, NativeWriter, PendingPut};

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

#[napi]
pub struct NativeCache {
    pub(crate) cache: StreamingCache,
}

#[napi]
impl NativeCache {
    /// The JS shim has already checked types and ranges; numbers arrive as safe integers.
    #[napi(constructor)]
    pub fn new(dir: String, options: NativeOptions) -> napi::Result<Self> {
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
        let cache = guard(|| StreamingCache::open(&dir, opts))?;
        Ok(NativeCache { cache })
    }

    #[napi(getter)]
    pub fn max_entries(&self) -> napi::Result<f64> {
        guard_infallible(|| self.cache.options().max_entries as f64)
    }

    #[napi(getter)]
    pub fn max_body_size(&self) -> napi::Result<f64> {
        guard_infallible(|| self.cache.options().max_body_size as f64)
    }

    #[napi(getter)]
    pub fn max_size(&self) -> f64 {
        self.cache.options().max_size as f64
    }

    /// Index lines found at open that could not be decoded (skipped).
    #[napi(getter)]
    pub fn skipped_index_lines(&self) -> napi::Result<f64> {
        guard_infallible(|| self.cache.skipped_on_load() as f64)
    }

    /// Opens the body for `key`, or returns null on a miss.
    #[napi]
    pub fn get(&self, key: String) -> napi::Result<Option<NativeBody>> {
        let opened = guard(|| self.cache.open_body(&key))?;
        Ok(opened.map(|(entry, reader)| NativeBody::new(entry, reader, self.cache.clone())))
    }

    /// Opens bytes `start..=end` of the body for `key` (only the blocks they touch are read
    /// and verified; `end` past the last byte means up to it), or returns null on a miss.
    #[napi]
    pub fn get_range(&self, key: String, start: f64, end: f64) -> napi::Result<Option<NativeBody>> {
        // The shim passes safe integers; `as` saturates anything else instead of wrapping.
        let opened = guard(|| self.cache.open_range(&key, start as u64, end as u64))?;
        Ok(opened.map(|(entry, reader)| NativeBody::new(entry, reader, self.cache.clone())))
    }

    /// The stored fields of `key` as JSON (no body, no disk access), or null.
    #[napi]
    pub fn peek(&self, key: String) -> napi::Result<Option<String>> {
        guard_infallible(|| self.cache.lookup(&key).map(|entry| entry_json(&entry)))
    }

    /// Live keys starting with `prefix`.
    #[napi]
    pub fn keys(&self, prefix: String) -> napi::Result<Vec<String>> {
        guard_infallible(|| self.cache.keys_with_prefix(&prefix))
    }

    #[napi]
    pub fn has(&self, key: String) -> napi::Result<bool> {
        guard_infallible(|| self.cache.contains(&key))
    }

    /// Starts a streamed put; `entry` is the response fields as JSON.
    #[napi]
    pub fn begin_put(&self, key: String, entry: String) -> napi::Result<NativeWriter> {
        let pending = guard(|| self.pending(key, &entry))?;
        Ok(NativeWriter::new(pending))
    }

    /// A put whose whole body is already in memory: one task writes and commits it.
    #[napi(ts_return_type = "Promise<PutInfo>")]
    pub fn put_buffer(
        &self,
        key: String,
        entry: String,
        body: Buffer,
    ) -> napi::Result<AsyncTask<CommitTask>> {
        // Copied on the JS thread: the caller may detach (transfer) the Buffer's memory while
        // the task reads it on a libuv thread.
        let (pending, body) = guard(|| Ok((self.pending(key, &entry)?, body.to_vec())))?;
        Ok(AsyncTask::new(CommitTask::with_body(pending, body)))
    }

    /// Replaces the stored fields of `key` without rewriting its body; with `integrity`, only
    /// while `key` still holds that body (else resolves `false`).
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn update_metadata(
        &self,
        key: String,
        entry: String,
        integrity: Option<String>,
    ) -> napi::Result<AsyncTask<CacheTask>> {
        let meta = guard(|| EntryMeta::from_json(&entry))?;
        Ok(AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::UpdateMetadata(key, meta, integrity),
        }))
    }

    /// Lookups miss from the moment this returns; the disk work finishes on a libuv thread.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn delete(&self, key: String) -> napi::Result<AsyncTask<CacheTask>> {
        let pending = guard_infallible(|| self.cache.begin_delete(&key))?;
        Ok(AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::Delete(Some(pending)),
        }))
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn clear(&self) -> AsyncTask<CacheTask> {
        AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::Clear,
        })
    }

    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn run_pending_tasks(&self) -> AsyncTask<CacheTask> {
        AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::RunPendingTasks,
        })
    }

    /// Checks every entry's content and removes corruption and garbage.
    #[napi(ts_return_type = "Promise<NativeVerifyReport>")]
    pub fn verify(&self) -> AsyncTask<VerifyTask> {
        AsyncTask::new(VerifyTask {
            cache: self.cache.clone(),
        })
    }

    /// Re-reads the disk index: entries other processes stored or deleted.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn refresh(&self) -> AsyncTask<CacheTask> {
        AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::Refresh,
        })
    }

    /// Finishes pending cleanup and releases the directory for other processes.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn close(&self) -> AsyncTask<CacheTask> {
        AsyncTask::new(CacheTask {
            cache: self.cache.clone(),
            op: Op::Close,
        })
    }

    #[napi]
    pub fn entry_count(&self) -> napi::Result<f64> {
        guard_infallible(|| self.cache.entry_count() as f64)
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

pub enum Op {
    Delete(Option<PendingDelete>),
    UpdateMetadata(String, EntryMeta, Option<String>),
    Clear,
    Refresh,
    RunPendingTasks,
    Close,
}

/// Cache-wide work that touches the disk or waits for the background worker.
pub struct CacheTask {
    cache: StreamingCache,
    op: Op,
}

impl Task for CacheTask {
    type Output = bool;
    type JsValue = bool;

    fn compute(&mut self) -> napi::Result<bool> {
        let (cache, op) = (&self.cache, &mut self.op);
        guard(|| match op {
            Op::Delete(pending) => match pending.take() {
                Some(pending) => cache.finish_delete(pending),
                None => Ok(false),
            },
            Op::UpdateMetadata(key, meta, None) => cache.update_metadata(key, meta.clone()),
            Op::UpdateMetadata(key, meta, Some(integrity)) => {
                cache.update_metadata_if(key, meta.clone(), integrity)
            }
            Op::Clear => cache.clear().map(|()| true),
            Op::Refresh => cache.refresh().map(|()| true),
            Op::Close => {
                cache.close();
                Ok(true)
            }
            Op::RunPendingTasks => {
                cache.run_pending_tasks();
                Ok(true)
            }
        })
    }

    fn resolve(&mut self, _env: Env, output: bool) -> napi::Result<bool> {
        Ok(output)
    }
}

pub struct VerifyTask {
    cache: StreamingCache,
}

impl Task for VerifyTask {
    type Output = VerifyReport;
    type JsValue = NativeVerifyReport;

    fn compute(&mut self) -> napi::Result<VerifyReport> {
        let cache = &self.cache;
        guard(|| cache.verify())
    }

    fn resolve(&mut self, _env: Env, r: VerifyReport) -> napi::Result<NativeVerifyReport> {
        Ok(NativeVerifyReport {
            entries: r.entries as f64,
            verified: r.verified as f64,
            corrupt: r.corrupt as f64,
            orphans_removed: r.orphans_removed as f64,
            bytes_reclaimed: r.bytes_reclaimed as f64,
        })
    }
}
