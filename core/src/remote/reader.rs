//! Streams a body out of Redis chunk by chunk, a few chunks ahead of the consumer, checking
//! each chunk's size as it arrives and the whole body's checksum before the last bytes are
//! handed out. A missing chunk (evicted, expired) or a bad one ends the read with an error:
//! the consumer never receives a torn body as if it were whole.

use std::collections::VecDeque;
use std::sync::Arc;

use ssri::IntegrityChecker;
use tokio::task::JoinHandle;

use super::client::{block_on, runtime, Client, Lane};
use super::error::{RemoteError, RemoteErrorKind, RemoteResult};
use super::layout::{chunk_len, Manifest, RemoteEntry};

/// Chunk fetches kept in flight ahead of the consumer: memory per reader stays below
/// `(READ_AHEAD + 1) * chunk_size`, and the network stays busy while the consumer works.
const READ_AHEAD: usize = 3;

pub struct RemoteBodyReader {
    client: Arc<Client>,
    entry: RemoteEntry,
    manifest: Manifest,
    next_to_request: u64,
    in_flight: VecDeque<JoinHandle<RemoteResult<Vec<u8>>>>,
    /// Chunk 0, fetched with the manifest at open.
    first: Option<Vec<u8>>,
    /// What `read` has not handed out yet of the current chunk.
    leftover: Vec<u8>,
    leftover_at: usize,
    position: u64,
    checker: Option<IntegrityChecker>,
    failed: Option<RemoteError>,
}

impl RemoteBodyReader {
    /// Fetches the manifest and the first chunk in one round trip; a body whose manifest is
    /// gone (never completed, or evicted) is `Evicted`.
    pub(crate) async fn open(
        client: Arc<Client>,
        entry: RemoteEntry,
    ) -> RemoteResult<RemoteBodyReader> {
        let layout = &client.layout;
        let mut pipe = redis::pipe();
        pipe.cmd("GET").arg(layout.manifest(&entry.integrity));
        pipe.cmd("GET").arg(layout.chunk(&entry.integrity, 0));
        let (manifest, first): (Option<Vec<u8>>, Option<Vec<u8>>) = client
            .pipeline(
                "opening a body",
                Lane::Bulk,
                client.options.op_timeout,
                &pipe,
            )
            .await?;
        let Some(manifest) = manifest else {
            return Err(client.value_error(RemoteError::evicted("the body's manifest is gone")));
        };
        let manifest = Manifest::decode(&manifest, &entry.integrity, client.options.max_body_size)
            .map_err(|e| client.value_error(e))?;
        if manifest.size != entry.size {
            return Err(client.value_error(RemoteError::garbage(
                "metadata and manifest disagree on the size",
            )));
        }
        let first = match (manifest.chunks, first) {
            (0, _) => None,
            (_, None) => return Err(client.evicted(&entry, "chunk 0 is gone")),
            (_, Some(bytes)) => Some(bytes),
        };
        if manifest.chunks > 1 {
            // Redis evicts keys one by one: a body with any chunk gone is a miss now, before
            // the caller was sent a byte, rather than a response cut off halfway.
            let exists =
                redis::Cmd::exists(client.chunk_keys(&entry.integrity, 1..manifest.chunks));
            let present: u64 = client
                .query(
                    "checking a body's chunks",
                    Lane::Control,
                    client.options.op_timeout,
                    &exists,
                )
                .await?;
            if present != manifest.chunks - 1 {
                return Err(client.evicted(
                    &entry,
                    &format!(
                        "{} of {} chunks are gone",
                        manifest.chunks - 1 - present,
                        manifest.chunks
                    ),
                ));
            }
        }
        let checker = IntegrityChecker::new(manifest.verify_with());
        let mut reader = RemoteBodyReader {
            client,
            entry,
            manifest,
            next_to_request: 1,
            in_flight: VecDeque::new(),
            first,
            leftover: Vec::new(),
            leftover_at: 0,
            position: 0,
            checker: Some(checker),
            failed: None,
        };
        if let Some(first) = &reader.first {
            let expected = chunk_len(reader.manifest.size, reader.manifest.chunk_size, 0);
            if first.len() != expected {
                return Err(reader.client.value_error(RemoteError::garbage(format!(
                    "chunk 0 has {} bytes, expected {expected}",
                    first.len()
                ))));
            }
            reader.client.count(|c| &c.bytes_read, first.len() as u64);
        }
        reader.request_ahead();
        Ok(reader)
    }

    pub fn entry(&self) -> &RemoteEntry {
        &self.entry
    }

    pub fn size(&self) -> u64 {
        self.manifest.size
    }

    /// Bytes per chunk of this body (the last one may be shorter).
    pub fn chunk_size(&self) -> usize {
        self.manifest.chunk_size
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    /// Whether `next_chunk` would return without waiting for the network (the first chunk,
    /// fetched at open, or the end): small bodies are then read without a thread hop.
    pub fn is_ready(&self) -> bool {
        self.failed.is_none()
            && (self.first.is_some()
                || self.leftover_at < self.leftover.len()
                || self.position == self.manifest.size)
    }

    /// The next chunk, whole (no copy), or `None` at the end. The last chunk is returned only
    /// once the whole body's checksum matched. Blocks the calling thread while waiting.
    pub fn next_chunk(&mut self) -> RemoteResult<Option<Vec<u8>>> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        if self.leftover_at < self.leftover.len() {
            let rest = std::mem::take(&mut self.leftover).split_off(self.leftover_at);
            self.leftover_at = 0;
            return Ok(Some(rest));
        }
        if self.position == self.manifest.size {
            return match self.checker.take() {
                // An empty body: its checksum is still checked once.
                Some(checker) => self.verify(checker).map(|()| None),
                None => Ok(None),
            };
        }
        let index = self.position.div_ceil(self.manifest.chunk_size as u64);
        let chunk = match self.first.take() {
            Some(first) => Ok(first),
            None => self.receive(index),
        };
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(err) => return Err(self.fail(err)),
        };
        self.request_ahead();
        if let Some(checker) = self.checker.as_mut() {
            checker.input(&chunk);
        }
        let end = self.position + chunk.len() as u64;
        if end == self.manifest.size {
            if let Some(checker) = self.checker.take() {
                self.verify(checker)?
            }
        }
        self.position = end;
        Ok(Some(chunk))
    }

    /// Fills `buf` with the next bytes; 0 at the end. Same guarantees as `next_chunk`.
    pub fn read(&mut self, buf: &mut [u8]) -> RemoteResult<usize> {
        if self.leftover_at == self.leftover.len() {
            match self.next_chunk()? {
                Some(chunk) => {
                    self.leftover = chunk;
                    self.leftover_at = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.leftover.len() - self.leftover_at);
        buf[..n].copy_from_slice(&self.leftover[self.leftover_at..self.leftover_at + n]);
        self.leftover_at += n;
        Ok(n)
    }

    /// Stops early: in-flight fetches are cancelled.
    pub fn close(&mut self) {
        for task in self.in_flight.drain(..) {
            task.abort();
        }
        if self.failed.is_none() {
            self.failed = Some(RemoteError::new(
                RemoteErrorKind::Closed,
                "the body reader is closed",
            ));
        }
    }

    fn request_ahead(&mut self) {
        while self.in_flight.len() < READ_AHEAD && self.next_to_request < self.manifest.chunks {
            let index = self.next_to_request;
            self.next_to_request += 1;
            let client = self.client.clone();
            let key = client.layout.chunk(&self.entry.integrity, index);
            let expected = chunk_len(self.manifest.size, self.manifest.chunk_size, index);
            self.in_flight.push_back(runtime().spawn(async move {
                let cmd = redis::Cmd::get(key);
                let chunk: Option<Vec<u8>> = client
                    .query(
                        "reading a body chunk",
                        Lane::Bulk,
                        client.options.op_timeout,
                        &cmd,
                    )
                    .await?;
                let chunk =
                    chunk.ok_or_else(|| RemoteError::evicted(format!("chunk {index} is gone")))?;
                if chunk.len() != expected {
                    return Err(RemoteError::garbage(format!(
                        "chunk {index} has {} bytes, expected {expected}",
                        chunk.len()
                    )));
                }
                client.count(|c| &c.bytes_read, chunk.len() as u64);
                Ok(chunk)
            }));
        }
    }

    fn receive(&mut self, index: u64) -> RemoteResult<Vec<u8>> {
        let Some(task) = self.in_flight.pop_front() else {
            return Err(RemoteError::new(
                RemoteErrorKind::Closed,
                format!("chunk {index} was never requested"),
            ));
        };
        match block_on(task) {
            Ok(Ok(chunk)) => Ok(chunk),
            Ok(Err(err)) if err.kind() == RemoteErrorKind::Evicted => {
                Err(self.client.evicted(&self.entry, err.message()))
            }
            Ok(Err(err)) if matches!(err.kind(), RemoteErrorKind::Garbage) => {
                Err(self.client.value_error(err))
            }
            Ok(Err(err)) => Err(err),
            Err(join) => Err(RemoteError::new(
                RemoteErrorKind::Closed,
                format!("chunk fetch did not finish: {join}"),
            )),
        }
    }

    fn verify(&mut self, checker: IntegrityChecker) -> RemoteResult<()> {
        if let Err(e) = checker.result() {
            let err = self.client.value_error(RemoteError::new(
                RemoteErrorKind::Integrity,
                format!("body from the shared tier failed verification: {e}"),
            ));
            self.client.forget_body(&self.entry);
            return Err(self.fail(err));
        }
        Ok(())
    }

    fn fail(&mut self, err: RemoteError) -> RemoteError {
        self.close();
        self.failed = Some(err.clone());
        err
    }
}

impl Drop for RemoteBodyReader {
    fn drop(&mut self) {
        for task in self.in_flight.drain(..) {
            task.abort();
        }
    }
}

impl Client {
    /// A body found incomplete: counted, and its manifest removed (in the background) so
    /// the next upload of the same bytes stores it again instead of trusting the wreck.
    pub(crate) fn evicted(self: &Arc<Self>, entry: &RemoteEntry, what: &str) -> RemoteError {
        self.forget_body(entry);
        self.value_error(RemoteError::evicted(format!(
            "body of {:?} is incomplete: {what}",
            entry.key
        )))
    }

    pub(crate) fn forget_body(self: &Arc<Self>, entry: &RemoteEntry) {
        let client = self.clone();
        let manifest = self.layout.manifest(&entry.integrity);
        runtime().spawn(async move {
            let cmd = redis::Cmd::del(manifest);
            let _: RemoteResult<i64> = client
                .query(
                    "dropping a broken body",
                    Lane::Control,
                    client.options.op_timeout,
                    &cmd,
                )
                .await;
        });
    }
}
