//! The shared second tier (core `remote`) as JS classes: `NativeRemoteTier`, bodies pulled
//! chunk by chunk (`NativeRemoteBody`), bodies pushed chunk by chunk (`NativeRemoteWriter`),
//! fetch locks (`NativeRemoteLock`). Every call that talks to Redis runs as a libuv `Job`.

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;
use serde_json::{json, Value};
use streaming_cache_core::remote::{
    LockAttempt, RemoteBodyReader, RemoteEntry, RemoteError, RemoteErrorKind, RemoteLock,
    RemoteOptions, RemoteTier, RemoteWriter, WaitOutcome,
};

use crate::cache::NativeCache;
use crate::convert::{set_from, FromJsNumber};
use crate::errors::{guard_coded, guard_infallible};
use crate::job::Job;

/// Options as the JS shim checked them: durations in milliseconds, sizes in bytes.
#[napi(object)]
pub struct NativeRemoteOptions {
    pub url: String,
    pub prefix: Option<String>,
    pub max_body_size: Option<f64>,
    pub chunk_size: Option<f64>,
    pub lookup_timeout: Option<f64>,
    pub op_timeout: Option<f64>,
    pub connect_timeout: Option<f64>,
    pub breaker_threshold: Option<f64>,
    pub breaker_cooldown: Option<f64>,
    pub queue_capacity: Option<f64>,
    pub upload_workers: Option<f64>,
    pub revalidation_grace: Option<f64>,
    pub lock_ttl: Option<f64>,
}

fn entry_json(entry: &RemoteEntry) -> String {
    json!({
        "key": entry.key,
        "integrity": entry.integrity.to_string(),
        "size": entry.size,
        "storedAt": entry.stored_at,
        "meta": entry.meta,
    })
    .to_string()
}

#[napi]
pub struct NativeRemoteTier {
    tier: RemoteTier,
}

#[napi]
impl NativeRemoteTier {
    #[napi(constructor)]
    pub fn new(env: &Env, options: NativeRemoteOptions) -> napi::Result<Self> {
        let mut opts = RemoteOptions::new(options.url);
        if let Some(prefix) = options.prefix {
            opts.prefix = prefix;
        }
        set_from(&mut opts.max_body_size, options.max_body_size);
        set_from(&mut opts.chunk_size, options.chunk_size);
        set_from(&mut opts.breaker_threshold, options.breaker_threshold);
        set_from(&mut opts.queue_capacity, options.queue_capacity);
        set_from(&mut opts.upload_workers, options.upload_workers);
        set_from(&mut opts.lookup_timeout, options.lookup_timeout);
        set_from(&mut opts.op_timeout, options.op_timeout);
        set_from(&mut opts.connect_timeout, options.connect_timeout);
        set_from(&mut opts.breaker_cooldown, options.breaker_cooldown);
        set_from(&mut opts.revalidation_grace, options.revalidation_grace);
        set_from(&mut opts.lock_ttl, options.lock_ttl);
        let tier = guard_coded(env, || RemoteTier::connect(opts))?;
        Ok(NativeRemoteTier { tier })
    }

    /// The body of `key`, opened, or null (a miss, or any failure: counted in `stats()`).
    #[napi(ts_return_type = "Promise<NativeRemoteBody | null>")]
    pub fn get(&self, key: String) -> AsyncTask<Job<Option<NativeRemoteBody>>> {
        let tier = self.tier.clone();
        Job::spawn_infallible(move || {
            tier.get(&key).map(|reader| NativeRemoteBody {
                entry: entry_json(reader.entry()),
                size: reader.size(),
                reader: Arc::new(Mutex::new(reader)),
            })
        })
    }

    /// The metadata of `key` as JSON, or null.
    #[napi(ts_return_type = "Promise<string | null>")]
    pub fn lookup(&self, key: String) -> AsyncTask<Job<String>> {
        let tier = self.tier.clone();
        Job::spawn_infallible(move || {
            tier.lookup(&key)
                .map_or_else(|| "null".into(), |e| entry_json(&e))
        })
    }

    /// Removes the metadata of `key`; resolves with whether there was any.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn remove(&self, key: String) -> AsyncTask<Job<String>> {
        let tier = self.tier.clone();
        Job::spawn(move || tier.remove(&key).map(|removed| removed.to_string()))
    }

    /// Removes the metadata of every key under the prefix; resolves with the count.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn purge(&self) -> AsyncTask<Job<String>> {
        let tier = self.tier.clone();
        Job::spawn(move || tier.purge().map(|count| count.to_string()))
    }

    /// Waits up to `max_wait` ms for a lock holder to store `key`; resolves with
    /// `{"outcome":"stored"|"released"|"timedOut"|"unavailable","entry":...}` as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn wait_for(&self, key: String, max_wait: f64) -> AsyncTask<Job<String>> {
        let tier = self.tier.clone();
        let max_wait = Duration::from_js(max_wait);
        Job::spawn_infallible(move || {
            let (outcome, entry) = match tier.wait_for(&key, max_wait) {
                WaitOutcome::Stored(entry) => ("stored", Some(entry)),
                WaitOutcome::Released => ("released", None),
                WaitOutcome::TimedOut => ("timedOut", None),
                WaitOutcome::Unavailable => ("unavailable", None),
            };
            let entry: Value = entry.map_or(Value::Null, |e| {
                serde_json::from_str(&entry_json(&e)).unwrap_or(Value::Null)
            });
            json!({ "outcome": outcome, "entry": entry }).to_string()
        })
    }

    /// Waits until queued uploads finished (or `timeout` ms); resolves with whether they did.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn flush(&self, timeout: f64) -> AsyncTask<Job<String>> {
        let tier = self.tier.clone();
        let timeout = Duration::from_js(timeout);
        Job::spawn_infallible(move || tier.flush(timeout).to_string())
    }

    #[napi(ts_return_type = "Promise<NativeRemoteLock>")]
    pub fn try_lock(&self, key: String) -> AsyncTask<Job<NativeRemoteLock>> {
        let tier = self.tier.clone();
        Job::spawn_infallible(move || {
            let (state, lock) = match tier.try_lock(&key) {
                LockAttempt::Acquired(lock) => ("acquired", Some(lock)),
                LockAttempt::Busy => ("busy", None),
                _ => ("unavailable", None),
            };
            NativeRemoteLock {
                state: state.into(),
                lock: Arc::new(Mutex::new(lock)),
            }
        })
    }

    /// Queues the write-through of the local entry `key` of `cache` (if it still holds
    /// `integrity`) under `remote_key`, fresh for `fresh_for` ms; `lock`, a fetch lock this
    /// process holds, is released once the upload finished. Never waits for Redis: false when
    /// there was nothing to upload, or the queue was full or the breaker open (counted).
    #[napi]
    // Seven of them come from JS; `env` is napi-rs's, for the error a panic becomes.
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_local(
        &self,
        env: &Env,
        cache: &NativeCache,
        key: String,
        remote_key: String,
        integrity: Option<String>,
        fresh_for: f64,
        lock: Option<&NativeRemoteLock>,
    ) -> napi::Result<bool> {
        guard_infallible(env, || {
            let held = lock.and_then(|l| l.lock.lock().take());
            self.tier.enqueue_local(
                &cache.cache,
                &key,
                remote_key,
                integrity.as_deref(),
                Duration::from_js(fresh_for),
                held,
            )
        })
    }

    #[napi]
    pub fn writer(&self, env: &Env) -> napi::Result<NativeRemoteWriter> {
        guard_infallible(env, || NativeRemoteWriter {
            writer: Arc::new(Mutex::new(Some(self.tier.writer()))),
        })
    }

    /// Counters as JSON.
    #[napi]
    pub fn stats(&self, env: &Env) -> napi::Result<String> {
        guard_infallible(env, || {
            let s = self.tier.stats();
            json!({
                "hits": s.hits, "misses": s.misses, "errors": s.errors, "evicted": s.evicted,
                "bytesRead": s.bytes_read, "bytesWritten": s.bytes_written,
                "uploads": s.uploads, "uploadsDeduplicated": s.uploads_deduplicated,
                "uploadsDropped": s.uploads_dropped, "uploadsFailed": s.uploads_failed,
                "breakerOpened": s.breaker_opened, "breakerOpen": s.breaker_open,
                "locksAcquired": s.locks_acquired, "locksBusy": s.locks_busy, "queued": s.queued,
            })
            .to_string()
        })
    }
}

/// The outcome of `tryLock`: `state` is "acquired", "busy" or "unavailable".
#[napi]
pub struct NativeRemoteLock {
    state: String,
    lock: Arc<Mutex<Option<RemoteLock>>>,
}

#[napi]
impl NativeRemoteLock {
    #[napi(getter)]
    pub fn state(&self) -> String {
        self.state.clone()
    }

    /// Releases the lock if this process holds it; resolves with whether it still did.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn release(&self) -> AsyncTask<Job<String>> {
        let lock = self.lock.clone();
        Job::spawn(move || match lock.lock().take() {
            Some(held) => held.release().map(|released| released.to_string()),
            None => Ok("false".into()),
        })
    }
}

#[napi]
pub struct NativeRemoteBody {
    entry: String,
    size: u64,
    reader: Arc<Mutex<RemoteBodyReader>>,
}

#[napi]
impl NativeRemoteBody {
    #[napi(getter)]
    pub fn entry(&self) -> String {
        self.entry.clone()
    }

    #[napi(getter)]
    pub fn size(&self) -> f64 {
        self.size as f64
    }

    #[napi(getter)]
    pub fn chunk_size(&self) -> f64 {
        self.reader.lock().chunk_size() as f64
    }

    /// Fills `buffer` (allocated by JS, so V8 accounts for its memory and collects it
    /// promptly) with the next bytes; resolves with the count, 0 at the end. The call that
    /// reaches the end resolves only after the whole body's checksum matched.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn read(&self, mut buffer: Buffer) -> AsyncTask<Job<u32>> {
        let reader = self.reader.clone();
        Job::spawn(move || reader.lock().read(buffer.as_mut()).map(|n| n as u32))
    }

    /// Whether `readSync` can answer without waiting for the network.
    #[napi(getter)]
    pub fn ready(&self) -> bool {
        self.reader.lock().is_ready()
    }

    /// `read` on the calling thread, for a chunk already in memory (`ready`): most bodies are
    /// one chunk, and the hop to the thread pool and back costs more than the read.
    #[napi]
    pub fn read_sync(&self, env: &Env, mut buffer: Buffer) -> napi::Result<u32> {
        guard_coded(env, || {
            let mut reader = self.reader.lock();
            if !reader.is_ready() {
                return Err(RemoteError::new(
                    RemoteErrorKind::Closed,
                    "readSync needs a chunk already in memory (check `ready`)",
                ));
            }
            reader.read(buffer.as_mut()).map(|n| n as u32)
        })
    }

    #[napi]
    pub fn close(&self, env: &Env) -> napi::Result<()> {
        guard_infallible(env, || self.reader.lock().close())
    }
}

#[napi]
pub struct NativeRemoteWriter {
    writer: Arc<Mutex<Option<RemoteWriter>>>,
}

#[napi]
impl NativeRemoteWriter {
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write(&self, chunks: Vec<Buffer>) -> AsyncTask<Job<()>> {
        let writer = self.writer.clone();
        Job::spawn(move || {
            let mut slot = writer.lock();
            let Some(w) = slot.as_mut() else {
                return Err(closed());
            };
            for chunk in &chunks {
                if let Err(err) = w.write(chunk) {
                    slot.take();
                    return Err(err);
                }
            }
            Ok(())
        })
    }

    /// Stores the body and points `key` at it for `fresh_for` ms plus the revalidation grace;
    /// resolves with the entry as JSON.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn commit(&self, key: String, meta: String, fresh_for: f64) -> AsyncTask<Job<String>> {
        let writer = self.writer.clone();
        let fresh_for = Duration::from_js(fresh_for);
        Job::spawn(move || {
            let w = writer.lock().take().ok_or_else(closed)?;
            let meta: Value = serde_json::from_str(&meta).map_err(|e| {
                RemoteError::new(
                    RemoteErrorKind::InvalidArgument,
                    format!("meta is not JSON: {e}"),
                )
            })?;
            w.finish(&key, meta, fresh_for)
                .map(|entry| entry_json(&entry))
        })
    }

    #[napi]
    pub fn abort(&self, env: &Env) -> napi::Result<()> {
        guard_infallible(env, || {
            self.writer.lock().take();
        })
    }
}

fn closed() -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Closed,
        "the remote write was aborted or committed",
    )
}
