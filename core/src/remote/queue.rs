//! Write-behind: copies of local entries go up to the shared tier in the background, so a
//! local store never waits for Redis. The queue is bounded: when it is full (Redis slow or
//! down), new work is dropped and counted rather than piling up memory or file handles.
//! Jobs carry no body: each opens its source (the local disk entry) only when a worker
//! starts on it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ssri::Integrity;
use tokio::sync::mpsc;

use super::client::{runtime, Client};
use super::error::{RemoteError, RemoteResult};
use super::upload::Upload;
use crate::content::reader::BodyReader;
use crate::error::CacheError;

/// Where an upload's bytes come from: read in chunks on a blocking thread.
pub trait BodySource: Send {
    /// Fills `buf` with the next bytes; 0 at the end. Errors abort the upload.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CacheError>;
}

impl BodySource for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CacheError> {
        BodyReader::read(self, buf)
    }
}

/// Any `std::io::Read` (a file, a slice) as a source.
pub struct ReadSource<R>(pub R);

impl<R: std::io::Read + Send> BodySource for ReadSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CacheError> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                other => return other.map_err(|e| CacheError::io(&e, "reading an upload source")),
            }
        }
    }
}

pub type OpenSource = Box<dyn FnOnce() -> Result<Box<dyn BodySource>, CacheError> + Send>;

/// One entry to copy up.
pub struct UploadJob {
    pub key: String,
    pub meta: Value,
    /// How long the entry stays fresh; the revalidation grace is added.
    pub fresh_for: Duration,
    /// The body's integrity and size when known (a committed local entry): a body already in
    /// the shared tier is then not sent again, and the bytes sent must match it.
    pub known: Option<(Integrity, u64)>,
    pub open: OpenSource,
    /// A fetch lock to release once the upload finished (or failed): the host that fetched
    /// from the origin keeps the other hosts waiting until they can read the entry here.
    pub release_after: Option<super::lock::RemoteLock>,
}

pub(crate) struct Queue {
    sender: mpsc::Sender<UploadJob>,
    /// Jobs accepted and not finished (queued or running).
    pending: Arc<AtomicU64>,
}

impl Queue {
    pub fn start(client: Arc<Client>) -> Queue {
        let (sender, receiver) = mpsc::channel::<UploadJob>(client.options.queue_capacity);
        let receiver = Arc::new(tokio::sync::Mutex::new(receiver));
        let pending = Arc::new(AtomicU64::new(0));
        for _ in 0..client.options.upload_workers {
            let (client, receiver, pending) = (client.clone(), receiver.clone(), pending.clone());
            runtime().spawn(async move {
                loop {
                    let job = receiver.lock().await.recv().await;
                    let Some(job) = job else { break };
                    if run(&client, job).await.is_err() {
                        client.count(|c| &c.uploads_failed, 1);
                    }
                    pending.fetch_sub(1, Ordering::AcqRel);
                }
            });
        }
        Queue { sender, pending }
    }

    /// Accepts `job` unless the queue is full; false means dropped (and counted).
    pub fn offer(&self, client: &Client, job: UploadJob) -> bool {
        self.pending.fetch_add(1, Ordering::AcqRel);
        match self.sender.try_send(job) {
            Ok(()) => true,
            Err(_) => {
                self.pending.fetch_sub(1, Ordering::AcqRel);
                client.count(|c| &c.uploads_dropped, 1);
                false
            }
        }
    }

    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Acquire)
    }
}

async fn run(client: &Arc<Client>, job: UploadJob) -> RemoteResult<()> {
    // The lock (if any) is dropped, and so released, when this function returns.
    let UploadJob {
        key,
        meta,
        fresh_for,
        known,
        open,
        release_after: _held,
    } = job;
    let ttl = client.options.expiry_for(fresh_for);
    if let Some((integrity, size)) = &known {
        if *size > client.options.max_body_size {
            return Ok(()); // Not for the shared tier; not a failure either.
        }
        // Stored already (another key, another host): only the metadata goes up.
        if client.complete_body(integrity).await?.is_some() {
            client.adopt(&key, integrity, *size, meta, ttl).await?;
            client.count(|c| &c.uploads, 1);
            return Ok(());
        }
    }
    let chunk_size = client.options.chunk_size;
    let mut source = tokio::task::spawn_blocking(open)
        .await
        .map_err(|e| {
            RemoteError::from_source(CacheError::internal(format!("opening the source: {e}")))
        })?
        .map_err(RemoteError::from_source)?;
    let mut upload = Upload::new(client.clone());
    let mut buffer = vec![0u8; chunk_size];
    loop {
        // Reads block (disk): off the runtime's worker, moving the source and buffer there and back.
        let (back, buf, read) = tokio::task::spawn_blocking(move || {
            let read = fill(source.as_mut(), &mut buffer);
            (source, buffer, read)
        })
        .await
        .map_err(|e| {
            RemoteError::from_source(CacheError::internal(format!("reading the source: {e}")))
        })?;
        source = back;
        buffer = buf;
        let n = read.map_err(RemoteError::from_source)?;
        if n == 0 {
            break;
        }
        upload.write(&buffer[..n]).await?;
    }
    let expected = known.as_ref().map(|(integrity, _)| integrity);
    upload.finish(&key, meta, fresh_for, expected).await?;
    Ok(())
}

/// Reads until `buf` is full or the source ends.
fn fill(source: &mut dyn BodySource, buf: &mut [u8]) -> Result<usize, CacheError> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = source.read(&mut buf[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}
