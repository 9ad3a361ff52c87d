//! Pulls a body off disk chunk by chunk, verifying its hash as it goes.

use std::io::Read;
use std::path::Path;

use cacache::{Integrity, SyncReader};

use crate::error::{CacheError, Result};

/// Called once when the content turns out to be corrupt, so the cache can drop the entry.
pub type CorruptionHook = Box<dyn FnOnce() + Send>;

pub struct BodyReader {
    source: Option<SyncReader>,
    size: u64,
    position: u64,
    on_corrupt: Option<CorruptionHook>,
}

impl BodyReader {
    /// Opens the content for `integrity`, expected to hold exactly `size` bytes.
    pub fn open(dir: &Path, integrity: &Integrity, size: u64) -> Result<BodyReader> {
        let source = SyncReader::open_hash(dir, integrity.clone())?;
        Ok(BodyReader { source: Some(source), size, position: 0, on_corrupt: None })
    }

    pub fn on_corrupt(mut self, hook: CorruptionHook) -> Self {
        self.on_corrupt = Some(hook);
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn is_done(&self) -> bool {
        self.source.is_none() && self.position == self.size
    }

    /// Fills `buf` with the next bytes (as many as fit and remain). The call that reaches the
    /// end also checks the hash of everything read, so the last chunk is only returned once
    /// the whole body is known to be intact. Returns 0 once the body is complete.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.position == self.size && self.source.is_none() {
            return Ok(0);
        }
        let Some(source) = self.source.as_mut() else {
            return Err(CacheError::closed("the body reader is closed"));
        };
        let want = usize::try_from(self.size - self.position).unwrap_or(usize::MAX).min(buf.len());
        let mut filled = 0;
        while filled < want {
            match source.read(&mut buf[filled..want]) {
                Ok(0) => {
                    return Err(self.corrupt(format!(
                        "cached content is truncated: {} of {} bytes",
                        self.position + filled as u64,
                        self.size
                    )))
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.source = None;
                    return Err(CacheError::io(&e, "reading cached content"));
                }
            }
        }
        // The position moves only once the bytes are known good: a reader whose last chunk
        // failed verification must not look finished, or the next read would be a clean end.
        let end = self.position + filled as u64;
        if end == self.size {
            let source = self.source.take().expect("source checked above");
            if let Err(e) = source.check() {
                return Err(self.corrupt(format!("cached content failed verification: {e}")));
            }
        }
        self.position = end;
        Ok(filled)
    }

    /// Releases the file handle early (a consumer that stops half-way).
    pub fn close(&mut self) {
        self.source = None;
    }

    fn corrupt(&mut self, message: String) -> CacheError {
        self.source = None;
        if let Some(hook) = self.on_corrupt.take() {
            hook();
        }
        CacheError::integrity(message)
    }
}
