//! `NativeBody`: an open cached body that JS pulls chunk by chunk into buffers it allocates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::{AsyncTask, Buffer, BufferSlice, ToNapiValue, TypeName};
use napi::{sys, Env, ValueType};
use napi_derive::napi;
use parking_lot::Mutex;
use serde::Serialize;
use streaming_cache_core::{
    BodyReader, CacheError, HeaderMap, HotBody, StoredEntry, StreamingCache,
};

use crate::errors::{guard, guard_infallible};
use crate::job::Job;
use crate::small_hit::read_exactly;

#[napi]
pub struct NativeBody {
    entry: Arc<StoredEntry>,
    reader: Arc<Mutex<BodyReader>>,
    cache: StreamingCache,
    /// The RAM tier's generation for this body once `readWhole` admitted it, else 0.
    generation: Arc<AtomicU64>,
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
    pub fn new(entry: Arc<StoredEntry>, reader: BodyReader, cache: StreamingCache) -> Self {
        NativeBody {
            entry,
            reader: Arc::new(Mutex::new(reader)),
            cache,
            generation: Arc::new(AtomicU64::new(0)),
        }
    }
}

#[napi]
impl NativeBody {
    #[napi(getter)]
    pub fn entry(&self, env: &Env) -> napi::Result<String> {
        guard_infallible(env, || entry_json(&self.entry))
    }

    #[napi(getter)]
    pub fn size(&self) -> f64 {
        self.entry.size as f64
    }

    /// Fills `buffer` with the next bytes on a libuv thread; resolves with the count.
    /// The call that reaches the end resolves only after the whole body's hash checked out.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn read(&self, mut buffer: Buffer) -> AsyncTask<Job<u32>> {
        let reader = self.reader.clone();
        Job::spawn(move || reader.lock().read(buffer.as_mut()).map(|n| n as u32))
    }

    /// `read` into several buffers in one trip to the thread pool, each filled in turn; resolves
    /// with the total count. Lets JS hand out chunks it allocates small (under the allocator's
    /// mmap threshold) while paying one pool round trip per several of them.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn read_batch(&self, mut buffers: Vec<Buffer>) -> AsyncTask<Job<u32>> {
        let reader = self.reader.clone();
        Job::spawn(move || {
            let mut reader = reader.lock();
            let mut total = 0u32;
            for buffer in buffers.iter_mut() {
                let n = reader.read(buffer.as_mut())?;
                total += n as u32;
                if n < buffer.len() {
                    break;
                }
            }
            Ok::<_, CacheError>(total)
        })
    }

    /// `read` on the calling thread: for small bodies (one chunk), where the hop to the
    /// thread pool and back costs far more than reading a page-cached file.
    #[napi]
    pub fn read_sync(&self, env: &Env, mut buffer: Buffer) -> napi::Result<u32> {
        guard(env, || {
            self.reader.lock().read(buffer.as_mut()).map(|n| n as u32)
        })
    }

    /// Whether `readWhole` would offer this body to the RAM tier (it is on and the body fits).
    #[napi(getter)]
    pub fn fits_memory(&self) -> bool {
        self.cache.fits_hot(self.entry.size)
    }

    /// The RAM tier's generation for this body after `readWhole` admitted it, else 0.
    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.generation.load(Ordering::Acquire) as f64
    }

    /// The whole body (none of it read yet) in one read sized to it, on a libuv thread, its
    /// hash checked; offered to the RAM tier. The Buffer shares the bytes the tier keeps.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_whole(&self) -> AsyncTask<Job<SharedBytes>> {
        let whole = self.whole_read();
        Job::spawn(move || whole.run().map(SharedBytes))
    }

    /// `readWhole` on the calling thread, for bodies small enough that the pool hop costs more.
    #[napi(ts_return_type = "Buffer")]
    pub fn read_whole_sync(&self, env: &Env) -> napi::Result<SharedBytes> {
        guard(env, || self.whole_read().run().map(SharedBytes))
    }

    /// Releases the file handle (the consumer stopped early).
    #[napi]
    pub fn close(&self, env: &Env) -> napi::Result<()> {
        guard_infallible(env, || self.reader.lock().close())
    }
}

impl NativeBody {
    fn whole_read(&self) -> WholeRead {
        WholeRead {
            entry: self.entry.clone(),
            reader: self.reader.clone(),
            cache: self.cache.clone(),
            generation: self.generation.clone(),
        }
    }
}

/// Reads a whole body into one allocation and offers it to the RAM tier.
struct WholeRead {
    entry: Arc<StoredEntry>,
    reader: Arc<Mutex<BodyReader>>,
    cache: StreamingCache,
    generation: Arc<AtomicU64>,
}

impl WholeRead {
    fn run(&self) -> Result<Bytes, CacheError> {
        let mut reader = self.reader.lock();
        if reader.position() != 0 {
            return Err(CacheError::internal(
                "readWhole on a body already read from",
            ));
        }
        let size = usize::try_from(reader.size())
            .map_err(|_| CacheError::out_of_range("the body is too large to read whole"))?;
        let mut data = vec![0u8; size];
        read_exactly(&mut reader, &mut data)?;
        // A range is not the body: only whole bodies go to the RAM tier.
        let whole = !reader.is_range();
        drop(reader);
        let bytes = Bytes::from(data);
        if !whole {
            return Ok(bytes);
        }
        if let Some(hot) = self.cache.offer_hot(&self.entry, bytes.clone()) {
            // This Buffer is the tier's one uncopied export (see `HotBody::take_export`).
            hot.take_export();
            self.generation.store(hot.generation(), Ordering::Release);
        }
        Ok(bytes)
    }
}

/// Bytes that become a JS Buffer over them, uncopied (`shared_buffer`), once they reach JS.
pub struct SharedBytes(pub Bytes);

impl TypeName for SharedBytes {
    fn type_name() -> &'static str {
        "Buffer"
    }

    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for SharedBytes {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let buffer = shared_buffer(&env, val.0)?;
        // SAFETY: `buffer` was created in `env` just now, on this thread.
        unsafe { ToNapiValue::to_napi_value(env.raw(), &buffer) }
    }
}

/// A JS Buffer over `bytes` without copying them; the bytes live until JS lets go of it.
pub fn shared_buffer(env: &Env, bytes: Bytes) -> napi::Result<BufferSlice<'_>> {
    if bytes.is_empty() {
        return BufferSlice::copy_from(env, []);
    }
    let (ptr, len) = (bytes.as_ptr() as *mut u8, bytes.len());
    // SAFETY: `bytes` owns the memory and is dropped by the finalizer, after JS let go of it.
    unsafe { BufferSlice::from_external(env, ptr, len, bytes, |_env, bytes| drop(bytes)) }
}

/// A Buffer for a hot body: shared the first time it leaves the tier, a copy after that.
pub fn hot_buffer<'env>(env: &'env Env, hot: &HotBody) -> napi::Result<BufferSlice<'env>> {
    if hot.take_export() {
        shared_buffer(env, hot.body().clone())
    } else {
        BufferSlice::copy_from(env, hot.body())
    }
}
