//! `NativeWriter`: a body being streamed in from JS, one libuv task per batch of chunks.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use parking_lot::Mutex;
use streaming_cache_core::{BodyWriter, CacheError, EntryMeta, StreamingCache};

use crate::errors::{guard, guard_infallible};

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
}

#[napi]
impl NativeWriter {
    /// Appends chunks on a libuv thread. They are copied here, on the JS thread: the caller
    /// may detach (transfer) a Buffer's memory while the task runs, and freed memory must
    /// never be stored as a body.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn write(&self, chunks: Vec<Buffer>) -> napi::Result<AsyncTask<WriteTask>> {
        let chunks = guard_infallible(|| chunks.iter().map(|chunk| chunk.to_vec()).collect())?;
        Ok(AsyncTask::new(WriteTask {
            pending: self.pending.clone(),
            chunks,
        }))
    }

    /// Commits the body and its index entry; resolves with its size and integrity.
    #[napi(ts_return_type = "Promise<PutInfo>")]
    pub fn commit(&self) -> AsyncTask<CommitTask> {
        AsyncTask::new(CommitTask {
            pending: self.pending.clone(),
            body: None,
        })
    }

    /// Discards everything written; the temp file is removed.
    #[napi]
    pub fn abort(&self) -> napi::Result<()> {
        guard_infallible(|| {
            self.pending.lock().take();
        })
    }
}

pub struct WriteTask {
    pending: Arc<Mutex<Option<PendingPut>>>,
    chunks: Vec<Vec<u8>>,
}

impl Task for WriteTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let (pending, chunks) = (&self.pending, &self.chunks);
        guard(|| {
            let mut slot = pending.lock();
            let put = slot
                .as_mut()
                .ok_or_else(|| CacheError::closed("the write was aborted or committed"))?;
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
    pub body: Option<Vec<u8>>,
}

impl CommitTask {
    pub fn with_body(pending: PendingPut, body: Vec<u8>) -> Self {
        CommitTask {
            pending: Arc::new(Mutex::new(Some(pending))),
            body: Some(body),
        }
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
            Ok(PutInfo {
                size: entry.size as f64,
                integrity: entry.integrity_string(),
            })
        })
    }

    fn resolve(&mut self, _env: Env, output: PutInfo) -> napi::Result<PutInfo> {
        Ok(output)
    }
}
