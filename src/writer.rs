//! `NativeWriter`: a body being streamed in from JS, one libuv job per batch of chunks.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::Env;
use napi_derive::napi;
use parking_lot::Mutex;
use streaming_cache_core::{BodyWriter, CacheError, EntryMeta, StreamingCache};

use crate::errors::guard_infallible;
use crate::job::Job;

#[napi(object)]
pub struct PutInfo {
    pub size: f64,
    pub integrity: String,
}

/// What a commit needs; taken out exactly once.
pub struct PendingPut {
    pub cache: StreamingCache,
    pub key: String,
    pub meta: EntryMeta,
    pub writer: BodyWriter,
}

#[napi]
pub struct NativeWriter {
    pending: Arc<Mutex<Option<PendingPut>>>,
}

impl NativeWriter {
    pub fn new(pending: PendingPut) -> Self {
        NativeWriter {
            pending: Arc::new(Mutex::new(Some(pending))),
        }
    }

    /// Writes `body` (a whole body handed over with the put, if any), then commits.
    pub fn commit_with(&self, body: Option<Vec<u8>>) -> AsyncTask<Job<PutInfo>> {
        let pending = self.pending.clone();
        Job::spawn(move || {
            let mut put = pending
                .lock()
                .take()
                .ok_or_else(|| CacheError::closed("the write was aborted or already committed"))?;
            if let Some(body) = &body {
                put.writer.write(body)?;
            }
            let entry = put.cache.commit(&put.key, put.meta, put.writer)?;
            Ok::<_, CacheError>(PutInfo {
                size: entry.size as f64,
                integrity: entry.integrity_string(),
            })
        })
    }
}

#[napi]
impl NativeWriter {
    /// Appends chunks on a libuv thread. They are copied here, on the JS thread: the caller
    /// may detach (transfer) a Buffer's memory while the job runs, and freed memory must
    /// never be stored as a body.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write(&self, env: &Env, chunks: Vec<Buffer>) -> napi::Result<AsyncTask<Job<()>>> {
        let chunks: Vec<Vec<u8>> =
            guard_infallible(env, || chunks.iter().map(|chunk| chunk.to_vec()).collect())?;
        let pending = self.pending.clone();
        Ok(Job::spawn(move || {
            let mut slot = pending.lock();
            let put = slot
                .as_mut()
                .ok_or_else(|| CacheError::closed("the write was aborted or committed"))?;
            for chunk in &chunks {
                if let Err(err) = put.writer.write(chunk) {
                    slot.take();
                    return Err(err);
                }
            }
            Ok(())
        }))
    }

    /// Commits the body and its index entry; resolves with its size and integrity.
    #[napi(ts_return_type = "Promise<PutInfo>")]
    pub fn commit(&self) -> AsyncTask<Job<PutInfo>> {
        self.commit_with(None)
    }

    /// Discards everything written; the temp file is removed.
    #[napi]
    pub fn abort(&self, env: &Env) -> napi::Result<()> {
        guard_infallible(env, || {
            self.pending.lock().take();
        })
    }
}
