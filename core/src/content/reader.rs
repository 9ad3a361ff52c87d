//! Pulls a body off disk chunk by chunk, verifying its hash as it goes.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cacache::Integrity;

use super::content_path;
use super::hasher::{HashOutcome, IncrementalHash};
use super::range_reader::{RangeParts, RangeReader};
use crate::error::{CacheError, Result};

/// Called once when the content turns out to be corrupt, so the cache can drop the entry.
pub type CorruptionHook = Box<dyn FnOnce() + Send>;

/// Opens content that must be a regular file. Something else where content should be (a
/// FIFO, a directory, a symlink) is damage, reported as an integrity error so the entry is
/// dropped; it is opened without blocking and never followed, so it cannot stall the caller.
fn open_regular(path: &Path) -> Result<File> {
    let file = crate::files::open_nofollow_nonblocking(path).map_err(|e| {
        #[cfg(unix)]
        if e.raw_os_error() == Some(libc::ELOOP) {
            return CacheError::integrity("cached content is a symlink");
        }
        CacheError::io(&e, "opening cached content")
    })?;
    let meta = file
        .metadata()
        .map_err(|e| CacheError::io(&e, "reading cached content's type"))?;
    if !meta.file_type().is_file() {
        return Err(CacheError::integrity(
            "cached content is not a regular file",
        ));
    }
    Ok(file)
}

pub struct BodyReader {
    file: Option<File>,
    hash: Option<IncrementalHash>,
    size: u64,
    position: u64,
    on_corrupt: Option<CorruptionHook>,
    /// Adds up the bytes handed out (the cache's `bytes_read` statistic).
    meter: Option<Arc<AtomicU64>>,
    /// Set when this reader serves a byte range (see `into_range`): every call goes there.
    range: Option<Box<RangeReader>>,
}

impl BodyReader {
    /// Opens the content stored at `address`, expected to hold exactly `size` bytes whose
    /// hash is `verify_with` (the address itself, or a faster checksum taken when written).
    pub fn open(
        dir: &Path,
        address: &Integrity,
        verify_with: &Integrity,
        size: u64,
    ) -> Result<BodyReader> {
        let file = open_regular(&content_path(dir, address))?;
        Ok(BodyReader {
            file: Some(file),
            hash: Some(IncrementalHash::checking(verify_with, size)),
            size,
            position: 0,
            on_corrupt: None,
            meter: None,
            range: None,
        })
    }

    /// This reader turned into one of bytes `start..=end` of the body only (`end` beyond the
    /// last byte means up to it; `start` beyond it gives an empty range that reads nothing).
    /// Only the blocks the range touches are read and verified (see `range_reader`). Must be
    /// called before anything was read; `address` and `verify_with` are the ones it was
    /// opened with.
    pub fn into_range(
        mut self,
        dir: &Path,
        address: &Integrity,
        verify_with: &Integrity,
        start: u64,
        end: u64,
    ) -> Result<BodyReader> {
        if self.position != 0 || self.range.is_some() {
            return Err(CacheError::internal("a range of a body already read from"));
        }
        let Some(file) = self.file.take() else {
            return Err(CacheError::closed("the body reader is closed"));
        };
        let start = start.min(self.size);
        let end = end.saturating_add(1).min(self.size).max(start);
        let reader = RangeReader::new(
            RangeParts {
                file,
                dir: dir.to_path_buf(),
                address: address.clone(),
                verify_with: verify_with.clone(),
                size: self.size,
                on_corrupt: self.on_corrupt.take(),
                meter: self.meter.take(),
            },
            start,
            end,
        );
        Ok(BodyReader {
            file: None,
            hash: None,
            size: end - start,
            position: 0,
            on_corrupt: None,
            meter: None,
            range: Some(Box::new(reader)),
        })
    }

    /// Whether this reader serves a byte range rather than the whole body.
    pub fn is_range(&self) -> bool {
        self.range.is_some()
    }

    pub fn on_corrupt(mut self, hook: CorruptionHook) -> Self {
        self.on_corrupt = Some(hook);
        self
    }

    pub(crate) fn metered(mut self, meter: Arc<AtomicU64>) -> Self {
        self.meter = Some(meter);
        self
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn position(&self) -> u64 {
        self.position
    }

    pub fn is_done(&self) -> bool {
        match &self.range {
            Some(range) => range.remaining() == 0,
            None => self.file.is_none() && self.position == self.size,
        }
    }

    /// Fills `buf` with the next bytes (as many as fit and remain). The call that reaches the
    /// end also checks the hash of everything read, so the last chunk is only returned once
    /// the whole body is known to be intact. Returns 0 once the body is complete.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if let Some(range) = self.range.as_mut() {
            let n = range.read(buf)?;
            self.position += n as u64;
            return Ok(n);
        }
        if self.position == self.size && self.file.is_none() {
            return Ok(0);
        }
        let Some(file) = self.file.as_mut() else {
            return Err(CacheError::closed("the body reader is closed"));
        };
        let want = usize::try_from(self.size - self.position)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let mut filled = 0;
        while filled < want {
            match file.read(&mut buf[filled..want]) {
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
                    self.close();
                    return Err(CacheError::io(&e, "reading cached content"));
                }
            }
        }
        if let Some(hash) = self.hash.as_mut() {
            hash.input(&buf[..filled], self.position == 0);
        }
        // The position moves only once the bytes are known good: a reader whose last chunk
        // failed verification must not look finished, or the next read would be a clean end.
        let end = self.position + filled as u64;
        if end == self.size {
            self.file = None;
            let verdict = self.hash.take().and_then(IncrementalHash::finish);
            match verdict {
                Some(HashOutcome::Checked(Ok(_))) => {}
                Some(HashOutcome::Checked(Err(e))) => {
                    return Err(self.corrupt(format!("cached content failed verification: {e}")))
                }
                _ => return Err(CacheError::internal("the content hash was lost")),
            }
        }
        self.position = end;
        if let Some(meter) = &self.meter {
            meter.fetch_add(filled as u64, Ordering::Relaxed);
        }
        Ok(filled)
    }

    /// Releases the file handle early (a consumer that stops half-way).
    pub fn close(&mut self) {
        self.file = None;
        self.hash = None;
        if let Some(range) = self.range.as_mut() {
            range.close();
        }
    }

    fn corrupt(&mut self, message: String) -> CacheError {
        self.close();
        if let Some(hook) = self.on_corrupt.take() {
            hook();
        }
        CacheError::integrity(message)
    }
}
