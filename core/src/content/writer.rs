//! Streams a body into a cacache temp file, hashing it incrementally, with a size limit.

use std::io::Write;
use std::path::{Path, PathBuf};

use cacache::{Algorithm, Integrity, SyncWriter, WriteOpts};

use super::CHUNK_SIZE;
use crate::error::{CacheError, Result};

pub struct BodyWriter {
    dir: PathBuf,
    algorithm: Algorithm,
    limit: u64,
    written: u64,
    state: State,
    /// Whatever the owner wants kept alive exactly as long as this writer (a counter guard).
    _guard: Option<Box<dyn Send>>,
}

enum State {
    /// Nothing written yet: the temp file is created on the first write, off the caller's thread.
    Fresh,
    Open(SyncWriter),
    /// Failed or aborted; the temp file is gone (cacache removes it when the writer drops).
    Closed(CacheError),
}

impl BodyWriter {
    pub fn new(dir: &Path, algorithm: Algorithm, limit: u64) -> BodyWriter {
        BodyWriter { dir: dir.to_path_buf(), algorithm, limit, written: 0, state: State::Fresh, _guard: None }
    }

    pub fn with_guard(mut self, guard: Box<dyn Send>) -> Self {
        self._guard = Some(guard);
        self
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `chunk`. Going past the limit discards everything written so far.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if let State::Closed(err) = &self.state {
            return Err(err.clone());
        }
        if self.written + chunk.len() as u64 > self.limit {
            return Err(self.fail(CacheError::body_too_large(self.limit)));
        }
        let result = self.open().and_then(|writer| {
            chunk.chunks(CHUNK_SIZE).try_for_each(|piece| writer.write_all(piece)).map_err(|e| {
                CacheError::io(&e, "writing body to the cache")
            })
        });
        match result {
            Ok(()) => {
                self.written += chunk.len() as u64;
                Ok(())
            }
            Err(err) => Err(self.fail(err)),
        }
    }

    /// Drops whatever was written; the temp file is removed.
    pub fn abort(&mut self) {
        if !matches!(self.state, State::Closed(_)) {
            self.state = State::Closed(CacheError::closed("the write was aborted"));
        }
    }

    /// Moves the finished temp file to its content address. Returns the hash and size.
    pub(crate) fn commit(mut self) -> Result<(Integrity, u64)> {
        self.open()?;
        match std::mem::replace(&mut self.state, State::Fresh) {
            State::Open(writer) => Ok((writer.commit()?, self.written)),
            State::Closed(err) => Err(err),
            State::Fresh => Err(CacheError::internal("writer did not open")),
        }
    }

    fn open(&mut self) -> Result<&mut SyncWriter> {
        if let State::Fresh = self.state {
            let writer = WriteOpts::new().algorithm(self.algorithm).open_hash_sync(&self.dir);
            self.state = match writer {
                Ok(writer) => State::Open(writer),
                Err(err) => State::Closed(err.into()),
            };
        }
        match &mut self.state {
            State::Open(writer) => Ok(writer),
            State::Closed(err) => Err(err.clone()),
            State::Fresh => unreachable!("opened above"),
        }
    }

    fn fail(&mut self, err: CacheError) -> CacheError {
        self.state = State::Closed(err.clone());
        err
    }
}
