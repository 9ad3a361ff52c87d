//! `NativeWriter`: a body being streamed in from JS, one libuv task per batch of chunks.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use parking_lot::Mutex;
use streaming_cache_core::{BodyWriter, CacheError, EntryMeta, StreamingCache};

use crate::errors::guard;

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
        NativeWriter { pending: Arc::new(Mutex::new(Some(pending))) }
    }
}

#[napi]
impl NativeWriter {
    /// Appends chunks (already in JS memory: no copy) on a libuv thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write(&self, chunks: Vec<Buffer>) -> AsyncTask<WriteTask> {
        AsyncTask::new(WriteTask { pending: self.pending.clone(), chunks })
    }

    /// Commits the body and its index entry; resolves with its size and integrity.
    #[napi(ts_return_type = "Promise<PutInfo>")]
    pub fn commit(&self) -> AsyncTask<CommitTask> {
        AsyncTask::new(CommitTask { pending: self.pending.clone(), body: None })
    }

    /// Discards everything written; the temp file is removed.
    #[napi]
    pub fn abort(&self) {
        self.pending.lock().take();
    }
}

pub struct WriteTask {
    pending: Arc<Mutex<Option<PendingPut>>>,
    chunks: Vec<Buffer>,
}

impl Task for WriteTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let (pending, chunks) = (&self.pending, &self.chunks);
        guard(|| {
            let mut slot = pending.lock();
            let put = slot.as_mut().ok_or_else(|| CacheError::closed("the write was aborted or committed"))?;
            for chunk in chunks {
                if let Err(err) = put.writer.write(chunk) {
                    slot.take();
                    return Err(err);
                }
            }
            Ok(())
        })
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> napi::Result<()> {
        Ok(())
    }
}

pub struct CommitTask {
    pub pending: Arc<Mutex<Option<PendingPut>>>,
    /// A whole body handed over with the put (Buffer or string bodies): written here.
    pub body: Option<Buffer>,
}

impl CommitTask {
    pub fn with_body(pending: PendingPut, body: Buffer) -> Self {
        CommitTask { pending: Arc::new(Mutex::new(Some(pending))), body: Some(body) }
    }
}

impl Task for CommitTask {
    type Output = PutInfo;
    type JsValue = PutInfo;

    fn compute(&mut self) -> napi::Result<PutInfo> {
        let (pending, body) = (&self.pending, &self.body);
        guard(|| {
            let mut put = pending
                .lock()
                .take()
                .ok_or_else(|| CacheError::closed("the write was aborted or already committed"))?;
            if let Some(body) = body {
                put.writer.write(body)?;
            }
            let entry = put.cache.commit(&put.key, put.meta, put.writer)?;
            Ok(PutInfo { size: entry.size as f64, integrity: entry.integrity_string() })
        })
    }

    fn resolve(&mut self, _env: Env, output: PutInfo) -> napi::Result<PutInfo> {
        Ok(output)
    }
}
