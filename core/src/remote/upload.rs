//! Stores a body in Redis while it streams in, without ever holding it whole.
//!
//! Chunks go to temporary keys under a random upload id while the hash is computed; once the
//! body is complete and its integrity known, either the same bytes are already there (the
//! temporary keys are deleted: bodies are stored once per integrity) or the chunks are renamed
//! to their content keys. The manifest is written after every chunk, the cache key's metadata
//! after the manifest: a reader that finds metadata finds a whole body or a miss, never half.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use ssri::{Algorithm, Integrity, IntegrityOpts};
use tokio::task::JoinHandle;

use super::client::{block_on, millis, now_millis, runtime, unique_token, Client, Lane};
use super::error::{RemoteError, RemoteErrorKind, RemoteResult};
use super::layout::{chunk_count, Manifest, MetaRecord, RemoteEntry, RECORD_VERSION};

/// Chunk writes in flight at once: memory per upload stays below `(WRITE_AHEAD + 1) * chunk_size`.
const WRITE_AHEAD: usize = 3;

/// Lifetime of an upload's temporary chunks: an upload abandoned by a crashed process leaves
/// nothing behind for longer. An upload that takes longer than this fails (a miss later).
const UPLOAD_TTL: Duration = Duration::from_secs(15 * 60);

/// Commands per pipeline when renaming or touching the chunks of a large body.
const BATCH: usize = 256;

pub(crate) struct Upload {
    client: Arc<Client>,
    id: String,
    buffer: Vec<u8>,
    sent_chunks: u64,
    written: u64,
    hash: Option<IntegrityOpts>,
    in_flight: VecDeque<JoinHandle<RemoteResult<()>>>,
    failed: Option<RemoteError>,
}

impl Upload {
    pub fn new(client: Arc<Client>) -> Upload {
        let chunk_size = client.options.chunk_size;
        Upload {
            client,
            id: unique_token(),
            buffer: Vec::with_capacity(chunk_size),
            sent_chunks: 0,
            written: 0,
            // The address (SHA-256, as on disk) and a fast checksum for reads (xxh3).
            hash: Some(
                IntegrityOpts::new()
                    .algorithm(Algorithm::Sha256)
                    .algorithm(Algorithm::Xxh3),
            ),
            in_flight: VecDeque::new(),
            failed: None,
        }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn write(&mut self, mut bytes: &[u8]) -> RemoteResult<()> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let limit = self.client.options.max_body_size;
        if self.written + bytes.len() as u64 > limit {
            return Err(self.fail(RemoteError::new(
                RemoteErrorKind::BodyTooLarge,
                format!("body is larger than maxBodySize ({limit} bytes); nothing was stored"),
            )));
        }
        self.written += bytes.len() as u64;
        if let Some(hash) = self.hash.as_mut() {
            hash.input(bytes);
        }
        let chunk_size = self.client.options.chunk_size;
        while !bytes.is_empty() {
            let take = (chunk_size - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.buffer.len() == chunk_size {
                let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(chunk_size));
                self.send(chunk).await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self, chunk: Vec<u8>) -> RemoteResult<()> {
        while self.in_flight.len() >= WRITE_AHEAD {
            self.settle_oldest().await?;
        }
        let client = self.client.clone();
        let key = client.layout.upload_chunk(&self.id, self.sent_chunks);
        self.sent_chunks += 1;
        self.in_flight.push_back(runtime().spawn(async move {
            let len = chunk.len() as u64;
            let mut cmd = redis::cmd("SET");
            cmd.arg(key).arg(chunk).arg("PX").arg(millis(UPLOAD_TTL));
            let () = client
                .query(
                    "writing a body chunk",
                    Lane::Bulk,
                    client.options.op_timeout,
                    &cmd,
                )
                .await?;
            client.count(|c| &c.bytes_written, len);
            Ok(())
        }));
        Ok(())
    }

    async fn settle_oldest(&mut self) -> RemoteResult<()> {
        let Some(task) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let result = match task.await {
            Ok(result) => result,
            Err(join) => Err(RemoteError::new(
                RemoteErrorKind::Closed,
                format!("chunk write did not finish: {join}"),
            )),
        };
        result.map_err(|err| self.fail(err))
    }

    /// Completes the body and points `key` at it for `fresh_for` plus the revalidation grace.
    /// With `expected`, the bytes must hash to it (a local entry being copied up).
    pub async fn finish(
        mut self,
        key: &str,
        meta: Value,
        fresh_for: Duration,
        expected: Option<&Integrity>,
    ) -> RemoteResult<RemoteEntry> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if !self.buffer.is_empty() {
            let last = std::mem::take(&mut self.buffer);
            self.send(last).await?;
        }
        while !self.in_flight.is_empty() {
            self.settle_oldest().await?;
        }
        let Some(both) = self.hash.take().map(IntegrityOpts::result) else {
            return Err(self.fail(RemoteError::new(
                RemoteErrorKind::Closed,
                "the upload lost its hash",
            )));
        };
        let pick = |algorithm| {
            both.hashes
                .iter()
                .find(|h| h.algorithm == algorithm)
                .map(|h| Integrity {
                    hashes: vec![h.clone()],
                })
        };
        let (Some(address), check) = (pick(Algorithm::Sha256), pick(Algorithm::Xxh3)) else {
            return Err(self.fail(RemoteError::new(
                RemoteErrorKind::Closed,
                "the upload lost its hash",
            )));
        };
        if let Some(expected) = expected {
            if expected.matches(&address).is_none() {
                return Err(self.fail(RemoteError::new(
                    RemoteErrorKind::Integrity,
                    format!("uploaded bytes hash to {address}, expected {expected}"),
                )));
            }
        }
        let client = self.client.clone();
        let ttl = client.options.expiry_for(fresh_for);
        let size = self.written;
        let stored = match client.complete_body(&address).await {
            Ok(Some(_)) => {
                // Already there (another key, another host): only the metadata goes up.
                self.discard_temporary();
                client.adopt(key, &address, size, meta, ttl).await
            }
            Ok(None) => match self.promote(&address, check.as_ref(), size, ttl).await {
                Ok(()) => client.link(key, &address, size, meta, ttl).await,
                Err(err) => Err(err),
            },
            Err(err) => Err(err),
        };
        let entry = stored.map_err(|err| self.fail(err))?;
        client.count(|c| &c.uploads, 1);
        self.sent_chunks = 0; // nothing temporary left to clean up
        Ok(entry)
    }

    /// Renames the temporary chunks to their content keys, then writes the manifest.
    async fn promote(
        &mut self,
        address: &Integrity,
        check: Option<&Integrity>,
        size: u64,
        ttl: Duration,
    ) -> RemoteResult<()> {
        let client = &self.client;
        let layout = &client.layout;
        let chunk_size = client.options.chunk_size;
        let chunks = chunk_count(size, chunk_size);
        debug_assert_eq!(chunks, self.sent_chunks);
        let mut index = 0;
        while index < chunks {
            let mut pipe = redis::pipe();
            for i in index..(index + BATCH as u64).min(chunks) {
                let target = layout.chunk(address, i);
                pipe.cmd("RENAME")
                    .arg(layout.upload_chunk(&self.id, i))
                    .arg(&target)
                    .ignore();
                pipe.cmd("PEXPIRE").arg(&target).arg(millis(ttl)).ignore();
            }
            // A temporary chunk that expired makes RENAME fail: the body is not stored.
            let () = client
                .pipeline(
                    "storing a body",
                    Lane::Control,
                    client.options.op_timeout,
                    &pipe,
                )
                .await?;
            index += BATCH as u64;
        }
        self.sent_chunks = 0;
        let manifest = Manifest {
            v: RECORD_VERSION,
            integrity: address.to_string(),
            check: check.map(|c| c.to_string()),
            size,
            chunk_size,
            chunks,
        };
        let json = serde_json::to_vec(&manifest).expect("a manifest serializes");
        let mut cmd = redis::cmd("SET");
        cmd.arg(layout.manifest(address))
            .arg(json)
            .arg("PX")
            .arg(millis(ttl));
        client
            .query(
                "writing a body manifest",
                Lane::Control,
                client.options.op_timeout,
                &cmd,
            )
            .await
    }

    fn fail(&mut self, err: RemoteError) -> RemoteError {
        self.discard_temporary();
        self.failed = Some(err.clone());
        err
    }

    /// Cancels chunk writes in flight and deletes the temporary chunks, in the background
    /// (they expire anyway if the server cannot be reached now).
    fn discard_temporary(&mut self) {
        for task in self.in_flight.drain(..) {
            task.abort();
        }
        let sent = std::mem::take(&mut self.sent_chunks);
        if sent == 0 {
            return;
        }
        let client = self.client.clone();
        let keys: Vec<Vec<u8>> = (0..sent)
            .map(|i| client.layout.upload_chunk(&self.id, i))
            .collect();
        runtime().spawn(async move {
            let _ = client
                .each_key("discarding an upload", &keys, |pipe, key| {
                    pipe.cmd("DEL").arg(key).ignore();
                })
                .await;
        });
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        self.discard_temporary();
    }
}

impl Client {
    /// The manifest of `address` if the body is there whole (manifest and every chunk).
    pub(crate) async fn complete_body(
        &self,
        address: &Integrity,
    ) -> RemoteResult<Option<Manifest>> {
        let cmd = redis::Cmd::get(self.layout.manifest(address));
        let manifest: Option<Vec<u8>> = self
            .query(
                "looking for a body",
                Lane::Control,
                self.options.op_timeout,
                &cmd,
            )
            .await?;
        let Some(manifest) = manifest.and_then(|m| Manifest::decode(&m, address, u64::MAX).ok())
        else {
            return Ok(None);
        };
        let mut present = 0u64;
        let keys = self.chunk_keys(address, 0..manifest.chunks);
        for batch in keys.chunks(BATCH) {
            let cmd = redis::Cmd::exists(batch);
            let n: u64 = self
                .query(
                    "looking for a body",
                    Lane::Control,
                    self.options.op_timeout,
                    &cmd,
                )
                .await?;
            present += n;
        }
        Ok((present == manifest.chunks).then_some(manifest))
    }

    /// Extends (never shortens) the expiry of a body another key or host stored.
    pub(crate) async fn keep_body(
        &self,
        address: &Integrity,
        size: u64,
        ttl: Duration,
    ) -> RemoteResult<()> {
        let mut keys = vec![self.layout.manifest(address)];
        keys.extend(self.chunk_keys(address, 0..chunk_count(size, self.options.chunk_size)));
        self.each_key("keeping a body", &keys, |pipe, key| {
            pipe.cmd("PEXPIRE")
                .arg(key)
                .arg(millis(ttl))
                .arg("GT")
                .ignore();
        })
        .await
    }

    /// Points `key` at a body already stored whole (by another key or host): its expiry is
    /// extended and only the metadata is written. Counted as deduplicated.
    pub(crate) async fn adopt(
        &self,
        key: &str,
        address: &Integrity,
        size: u64,
        meta: Value,
        ttl: Duration,
    ) -> RemoteResult<RemoteEntry> {
        self.keep_body(address, size, ttl).await?;
        let entry = self.link(key, address, size, meta, ttl).await?;
        self.count(|c| &c.uploads_deduplicated, 1);
        Ok(entry)
    }

    /// The keys of chunks `indexes` of the body at `address`.
    pub(crate) fn chunk_keys(
        &self,
        address: &Integrity,
        indexes: std::ops::Range<u64>,
    ) -> Vec<Vec<u8>> {
        indexes.map(|i| self.layout.chunk(address, i)).collect()
    }

    /// Runs the commands `add` puts in a pipeline for each of `keys`, `BATCH` keys per round
    /// trip, so a large body never makes one huge request.
    pub(crate) async fn each_key(
        &self,
        what: &'static str,
        keys: &[Vec<u8>],
        add: impl Fn(&mut redis::Pipeline, &[u8]),
    ) -> RemoteResult<()> {
        for batch in keys.chunks(BATCH) {
            let mut pipe = redis::pipe();
            for key in batch {
                add(&mut pipe, key);
            }
            let () = self
                .pipeline(what, Lane::Control, self.options.op_timeout, &pipe)
                .await?;
        }
        Ok(())
    }

    /// Writes the metadata of `key`, pointing at a body that is already stored whole.
    pub(crate) async fn link(
        &self,
        key: &str,
        address: &Integrity,
        size: u64,
        meta: Value,
        ttl: Duration,
    ) -> RemoteResult<RemoteEntry> {
        let record = MetaRecord {
            v: RECORD_VERSION,
            integrity: address.to_string(),
            size,
            stored_at: now_millis(),
            meta,
        };
        let json = serde_json::to_vec(&record).expect("metadata serializes");
        let mut cmd = redis::cmd("SET");
        cmd.arg(self.layout.meta(key))
            .arg(json)
            .arg("PX")
            .arg(millis(ttl));
        let () = self
            .query(
                "writing metadata",
                Lane::Control,
                self.options.op_timeout,
                &cmd,
            )
            .await?;
        Ok(RemoteEntry {
            key: key.to_string(),
            integrity: address.clone(),
            size,
            stored_at: record.stored_at,
            meta: record.meta,
        })
    }
}

/// A body streamed into the shared tier from synchronous code (a libuv worker). Dropping it
/// unfinished discards everything written.
pub struct RemoteWriter {
    upload: Option<Upload>,
}

impl RemoteWriter {
    pub(crate) fn new(client: Arc<Client>) -> Self {
        RemoteWriter {
            upload: Some(Upload::new(client)),
        }
    }

    pub fn written(&self) -> u64 {
        self.upload.as_ref().map_or(0, Upload::written)
    }

    pub fn write(&mut self, bytes: &[u8]) -> RemoteResult<()> {
        let upload = self.upload.as_mut().ok_or_else(closed)?;
        let result = block_on(upload.write(bytes));
        if result.is_err() {
            self.upload = None;
        }
        result
    }

    /// Stores the body and points `key` at it (expiry: `fresh_for` plus the revalidation grace).
    pub fn finish(
        mut self,
        key: &str,
        meta: Value,
        fresh_for: Duration,
    ) -> RemoteResult<RemoteEntry> {
        let upload = self.upload.take().ok_or_else(closed)?;
        let client = upload.client.clone();
        let result = block_on(upload.finish(key, meta, fresh_for, None));
        if result.is_err() {
            client.count(|c| &c.uploads_failed, 1);
        }
        result
    }

    pub fn abort(&mut self) {
        self.upload = None;
    }
}

fn closed() -> RemoteError {
    RemoteError::new(
        RemoteErrorKind::Closed,
        "the remote write was aborted or finished",
    )
}
