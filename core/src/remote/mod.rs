//! The shared second tier: bodies and metadata in Redis or Valkey, behind the local disk
//! cache, so many hosts fetch an object from the origin once and store its body once.
//!
//! - Content-addressed: a body is stored once per integrity, in chunk keys of `chunk_size`
//!   bytes (64 KiB-1 MiB), streamed both ways so neither side holds a large body whole; its
//!   manifest is written after its chunks, the cache key's metadata after the manifest.
//!   Reads check every chunk's size and the whole body's checksum: a partly evicted body is
//!   a miss, never a torn body. Expiry is the HTTP freshness plus a revalidation grace;
//!   Redis's own `maxmemory` policy (an LFU one is best) bounds the total.
//! - Failure is a miss: every call has a timeout (a few ms for lookups), a circuit breaker
//!   stops calling a dead server for a while, and nothing here returns an error a caller
//!   must handle to answer a request (lookups return `None`, uploads run in the background).
//! - Coalescing across hosts: `try_lock` / `wait_for`.
//!
//! Everything is synchronous to the caller (a libuv worker, like the rest of the core) and
//! runs on a small runtime of its own; do not call it from inside a tokio runtime.

mod breaker;
mod client;
mod error;
mod layout;
mod local;
mod lock;
mod options;
mod queue;
mod reader;
mod stats;
mod upload;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{RemoteError, RemoteErrorKind, RemoteResult};
pub use layout::RemoteEntry;
pub use local::local_upload;
pub use lock::{LockAttempt, RemoteLock, WaitOutcome};
pub use options::{RemoteOptions, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
pub use queue::{BodySource, OpenSource, ReadSource, UploadJob};
pub use reader::RemoteBodyReader;
pub use stats::RemoteStats;
pub use upload::RemoteWriter;

use client::{block_on, Client, Lane};
use layout::MetaRecord;
use queue::Queue;

/// A connection to the shared tier. Cheap to clone; all clones share the connection,
/// breaker, queue and counters.
#[derive(Clone)]
pub struct RemoteTier {
    client: Arc<Client>,
    queue: Arc<Queue>,
}

impl RemoteTier {
    /// Checks the options and starts connecting in the background. Fails only on bad
    /// options: a server that is down makes every call a miss until it is back.
    pub fn connect(options: RemoteOptions) -> RemoteResult<RemoteTier> {
        let client = Client::connect(options)?;
        let queue = {
            let _inside = client::runtime().enter();
            Arc::new(Queue::start(client.clone()))
        };
        Ok(RemoteTier { client, queue })
    }

    pub fn options(&self) -> &RemoteOptions {
        &self.client.options
    }

    /// The metadata of `key`, within `lookup_timeout`; `None` on a miss or any failure.
    /// Not counted as a hit or miss (`get` is).
    pub fn lookup(&self, key: &str) -> Option<RemoteEntry> {
        block_on(self.lookup_async(key)).ok().flatten()
    }

    async fn lookup_async(&self, key: &str) -> RemoteResult<Option<RemoteEntry>> {
        let client = &self.client;
        let cmd = redis::Cmd::get(client.layout.meta(key));
        let found: Option<Vec<u8>> = client
            .query(
                "looking up a key",
                Lane::Control,
                client.options.lookup_timeout,
                &cmd,
            )
            .await?;
        match found {
            None => Ok(None),
            Some(bytes) => MetaRecord::decode(key, &bytes)
                .map(Some)
                .map_err(|e| client.value_error(e)),
        }
    }

    /// The body of `key`, opened (its manifest and first chunk fetched), or `None` on a miss
    /// or any failure. Counted as a hit or a miss.
    pub fn get(&self, key: &str) -> Option<RemoteBodyReader> {
        let client = self.client.clone();
        let opened = block_on(async {
            let Some(entry) = self.lookup_async(key).await? else {
                return Ok(None);
            };
            if entry.size > client.options.max_body_size {
                return Ok(None);
            }
            reader::RemoteBodyReader::open(client.clone(), entry)
                .await
                .map(Some)
        });
        match opened {
            Ok(Some(reader)) => {
                client.count(|c| &c.hits, 1);
                Some(reader)
            }
            _ => {
                client.count(|c| &c.misses, 1);
                None
            }
        }
    }

    /// Opens the body of an entry found with `lookup`.
    pub fn open(&self, entry: RemoteEntry) -> RemoteResult<RemoteBodyReader> {
        block_on(reader::RemoteBodyReader::open(self.client.clone(), entry))
    }

    /// A body to stream in now (the caller waits for each chunk's turn in the write window,
    /// not for the whole body). For the write-behind path use `enqueue`.
    pub fn writer(&self) -> RemoteWriter {
        RemoteWriter::new(self.client.clone())
    }

    /// Queues a copy of a local entry for upload in the background. Returns false if the
    /// queue was full (the job was dropped and counted) or the tier is paused by its breaker.
    pub fn enqueue(&self, job: UploadJob) -> bool {
        if self.client.breaker_open() {
            self.client.count(|c| &c.uploads_dropped, 1);
            return false;
        }
        self.queue.offer(&self.client, job)
    }

    /// Queues the upload of the local entry `key` of `cache` under `remote_key` (see
    /// `local_upload`); false if there was nothing to upload or the job was dropped.
    pub fn enqueue_local(
        &self,
        cache: &crate::StreamingCache,
        key: &str,
        remote_key: String,
        integrity: Option<&str>,
        fresh_for: Duration,
        release_after: Option<RemoteLock>,
    ) -> bool {
        match local_upload(cache, key, remote_key, integrity, fresh_for, release_after) {
            Some(job) => self.enqueue(job),
            None => false,
        }
    }

    /// Waits until every queued upload finished, or `timeout`; true if none is left.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.queue.pending() > 0 {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Removes the metadata of `key` (invalidation: unsafe methods, delete, purge). The body
    /// stays for other keys pointing at it and expires on its own. Other hosts' local copies
    /// follow their own HTTP freshness.
    pub fn remove(&self, key: &str) -> RemoteResult<bool> {
        let client = &self.client;
        let cmd = redis::Cmd::del(client.layout.meta(key));
        let n: i64 = block_on(client.query(
            "removing a key",
            Lane::Control,
            client.options.op_timeout,
            &cmd,
        ))?;
        Ok(n > 0)
    }

    /// Removes the metadata of every key under this tier's prefix (the cache's `clear`);
    /// resolves with how many were removed. Bodies expire on their own. Uses `SCAN`, so it
    /// never blocks the server for long, and misses keys written while it runs.
    pub fn purge(&self) -> RemoteResult<u64> {
        let client = &self.client;
        let mut pattern = client.layout.meta("");
        pattern.push(b'*');
        block_on(async {
            let mut cursor: u64 = 0;
            let mut removed = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000);
                let (next, keys): (u64, Vec<Vec<u8>>) = client
                    .query("purging", Lane::Control, client.options.op_timeout, &scan)
                    .await?;
                if !keys.is_empty() {
                    let del = redis::Cmd::del(keys);
                    let n: u64 = client
                        .query("purging", Lane::Control, client.options.op_timeout, &del)
                        .await?;
                    removed += n;
                }
                if next == 0 {
                    return Ok(removed);
                }
                cursor = next;
            }
        })
    }

    /// Tries to become the one host that fetches `key` from the origin, for `lock_ttl`.
    pub fn try_lock(&self, key: &str) -> LockAttempt {
        lock::try_lock(&self.client, key, self.client.options.lock_ttl)
    }

    /// Waits up to `max_wait` for the lock holder of `key` to store it.
    pub fn wait_for(&self, key: &str, max_wait: Duration) -> WaitOutcome {
        lock::wait_for(&self.client, key, max_wait)
    }

    pub fn stats(&self) -> RemoteStats {
        self.client
            .counters
            .snapshot(self.client.breaker_open(), self.queue.pending())
    }
}
