//! Streams a body into a temp file under `tmp/`, hashing it incrementally, with a size limit;
//! the finished file is renamed to its content address (cacache's layout).

use std::io::Write;
use std::path::{Path, PathBuf};

use cacache::{Algorithm, Integrity};
use ssri::IntegrityOpts;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tempfile::{NamedTempFile, TempPath};

use super::blocks::{self, BlockHasher, BlockSums};
use super::hasher::{HashOutcome, HashState, IncrementalHash};
use super::{content_path, CHUNK_SIZE};
use crate::error::{CacheError, Result};

/// A committed body. Content is addressed by its cryptographic hash (dedup cannot be
/// poisoned), while reads verify the xxh3 checksum taken from the same bytes: corruption on
/// disk is caught just the same, and anyone able to forge content in the directory could
/// forge the index holding either hash, so the fast check gives up no protection.
pub struct Written {
    pub address: Integrity,
    pub check: Option<Integrity>,
    pub size: u64,
}

pub struct Finished {
    file: NamedTempFile,
    target: PathBuf,
    written: Written,
    dir: PathBuf,
    blocks: BlockSums,
    /// The writer's guard (the count of live writers), held until the body is in place: a
    /// garbage pass treats temp files as in use only while that count is above zero.
    _guard: Option<Box<dyn Send>>,
}

impl Finished {
    /// Where the body will live, and what it is (known before it is moved there).
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    pub(crate) fn written(&self) -> &Written {
        &self.written
    }

    /// Moves the temp file to its content address (a rename: atomic, and cheap enough to do
    /// under the cache's lock).
    pub(crate) fn persist(self) -> Result<Written> {
        let Finished {
            file,
            target,
            written,
            dir,
            blocks,
            _guard: _held,
        } = self;
        // The block checksums land before the body, so a body in place always has them
        // (unless this best-effort write failed: then the first range read rebuilds them).
        let _ = blocks::write_sidecar(&dir, &written.address, &blocks);
        // Another process's garbage pass may prune an empty directory between our creating it
        // and renaming into it: create again and retry a few times.
        let mut file = file;
        for attempt in 0.. {
            if let Some(parent) = target.parent() {
                crate::files::create_private_dir(parent)
                    .map_err(|e| CacheError::io(&e, "creating content directory"))?;
            }
            // Same content already there (dedup) is fine: the rename replaces it with equal bytes.
            match file.persist(&target) {
                Ok(_) => break,
                Err(e) if e.error.kind() == std::io::ErrorKind::NotFound && attempt < 3 => {
                    file = e.file
                }
                Err(e) if target.is_file() => {
                    drop(e);
                    break;
                }
                Err(e) => return Err(CacheError::io(&e.error, "moving content into place")),
            }
        }
        Ok(written)
    }
}

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
    Open {
        file: NamedTempFile,
        hash: IncrementalHash,
        /// Boxed: xxh3's streaming state is large, and `State` moves around.
        blocks: Box<BlockHasher>,
    },
    /// Failed or aborted; the temp file is gone (removed when `NamedTempFile` drops).
    Closed(CacheError),
}

impl BodyWriter {
    pub fn new(dir: &Path, algorithm: Algorithm, limit: u64) -> BodyWriter {
        BodyWriter {
            dir: dir.to_path_buf(),
            algorithm,
            limit,
            written: 0,
            state: State::Fresh,
            _guard: None,
        }
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
        let mut first = self.written == 0;
        let result = self.open().and_then(|(file, hash, blocks)| {
            for piece in chunk.chunks(CHUNK_SIZE) {
                file.write_all(piece)
                    .map_err(|e| CacheError::io(&e, "writing body to the cache"))?;
                hash.input(piece, first);
                blocks.input(piece);
                first = false;
            }
            Ok(())
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

    /// Waits for the hash and returns the body ready to be moved into place. Nothing is
    /// visible in the content store yet; dropping the result removes the temp file.
    pub(crate) fn finish(mut self) -> Result<Finished> {
        self.open()?;
        let (file, hash, blocks) = match std::mem::replace(&mut self.state, State::Fresh) {
            State::Open { file, hash, blocks } => (file, hash, blocks),
            State::Closed(err) => return Err(err),
            State::Fresh => return Err(CacheError::internal("writer did not open")),
        };
        let Some(HashOutcome::Built(both)) = hash.finish() else {
            return Err(CacheError::internal("the content hash was lost"));
        };
        let pick = |algorithm: Algorithm| {
            both.hashes
                .iter()
                .find(|h| h.algorithm == algorithm)
                .map(|h| Integrity {
                    hashes: vec![h.clone()],
                })
        };
        let address =
            pick(self.algorithm).ok_or_else(|| CacheError::internal("no content address"))?;
        let check = pick(Algorithm::Xxh3);
        let target = content_path(&self.dir, &address);
        Ok(Finished {
            file,
            target,
            dir: self.dir.clone(),
            blocks: blocks.finish(),
            written: Written {
                address,
                check,
                size: self.written,
            },
            _guard: self._guard.take(),
        })
    }

    fn open(&mut self) -> Result<(&mut NamedTempFile, &mut IncrementalHash, &mut BlockHasher)> {
        if let State::Fresh = self.state {
            // The address hash (SHA-256) and, at ~3% of its cost, an xxh3 checksum for reads.
            let opts = IntegrityOpts::new()
                .algorithm(self.algorithm)
                .algorithm(Algorithm::Xxh3);
            self.state = match self.create() {
                Ok(file) => State::Open {
                    file,
                    hash: IncrementalHash::new(HashState::Build(opts)),
                    blocks: Box::new(BlockHasher::new()),
                },
                Err(err) => State::Closed(err),
            };
        }
        match &mut self.state {
            State::Open { file, hash, blocks } => Ok((file, hash, &mut **blocks)),
            State::Closed(err) => Err(err.clone()),
            State::Fresh => unreachable!("opened above"),
        }
    }

    fn create(&self) -> Result<NamedTempFile> {
        let tmp = crate::layout::tmp_dir(&self.dir);
        crate::files::create_private_dir(&tmp)
            .map_err(|e| CacheError::io(&e, "creating temp directory"))?;
        // Created here rather than by `NamedTempFile::new_in`, whose errors hide the errno
        // (EMFILE, ENOSPC must reach the caller as themselves).
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = tmp.join(format!(".tmp-{}-{nanos:09}-{n}", std::process::id()));
            match crate::files::private_file_options()
                .create_new(true)
                .read(true)
                .write(true)
                .open(&path)
            {
                Ok(file) => {
                    let path = TempPath::try_from_path(path)
                        .map_err(|e| CacheError::io(&e, "naming temp file"))?;
                    return Ok(NamedTempFile::from_parts(file, path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(CacheError::io(&e, "creating temp file")),
            }
        }
    }

    fn fail(&mut self, err: CacheError) -> CacheError {
        self.state = State::Closed(err.clone());
        err
    }
}
