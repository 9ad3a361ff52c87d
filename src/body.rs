//! `NativeBody`: an open cached body that JS pulls chunk by chunk into buffers it allocates.

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi::{Env, Task};
use napi_derive::napi;
use parking_lot::Mutex;
use serde::Serialize;
use streaming_cache_core::{BodyReader, HeaderMap, StoredEntry};

use crate::errors::guard;

#[napi]
pub struct NativeBody {
    entry: Arc<StoredEntry>,
    reader: Arc<Mutex<BodyReader>>,
}

/// The stored fields as JSON: one string crossing the boundary is cheaper than an object
/// built property by property.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryView<'a> {
    key: &'a str,
    status: u16,
    headers: &'a HeaderMap,
    url: &'a Option<String>,
    metadata: &'a serde_json::Value,
    size: u64,
    integrity: String,
    stored_at: u64,
    policy: &'a Option<serde_json::Value>,
}

pub fn entry_json(entry: &StoredEntry) -> String {
    serde_json::to_string(&EntryView {
        key: &entry.key,
        status: entry.meta.status,
        headers: &entry.meta.headers,
        url: &entry.meta.url,
        metadata: &entry.meta.metadata,
        size: entry.size,
        integrity: entry.integrity_string(),
        stored_at: entry.stored_at,
        policy: &entry.meta.policy,
    })
    .unwrap_or_else(|_| "null".into())
}

impl NativeBody {
    pub fn new(entry: Arc<StoredEntry>, reader: BodyReader) -> Self {
        NativeBody { entry, reader: Arc::new(Mutex::new(reader)) }
    }
}

#[napi]
impl NativeBody {
    #[napi(getter)]
    pub fn entry(&self) -> napi::Result<String> {
        crate::errors::guard_infallible(|| entry_json(&self.entry))
    }

    #[napi(getter)]
    pub fn size(&self) -> f64 {
        self.entry.size as f64
    }

    /// Fills `buffer` with the next bytes on a libuv thread; resolves with the count.
    /// The call that reaches the end resolves only after the whole body's hash checked out.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn read(&self, buffer: Buffer) -> AsyncTask<ReadTask> {
        AsyncTask::new(ReadTask { reader: self.reader.clone(), buffer })
    }

    /// `read` on the calling thread: for small bodies (one chunk), where the hop to the
    /// thread pool and back costs far more than reading a page-cached file.
    #[napi]
    pub fn read_sync(&self, mut buffer: Buffer) -> napi::Result<u32> {
        let reader = &self.reader;
        guard(|| reader.lock().read(buffer.as_mut()).map(|n| n as u32))
    }

    /// Releases the file handle (the consumer stopped early).
    #[napi]
    pub fn close(&self) -> napi::Result<()> {
        crate::errors::guard_infallible(|| self.reader.lock().close())
    }
}

pub struct ReadTask {
    reader: Arc<Mutex<BodyReader>>,
    buffer: Buffer,
}

impl Task for ReadTask {
    type Output = u32;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<u32> {
        let (reader, buffer) = (&self.reader, &mut self.buffer);
        guard(|| reader.lock().read(buffer.as_mut()).map(|n| n as u32))
    }

    fn resolve(&mut self, _env: Env, output: u32) -> napi::Result<u32> {
        Ok(output)
    }
}
