//! Construction options and their limits.

use cacache::Algorithm;

use crate::error::{CacheError, Result};
use crate::memory_tier::MemoryTierOptions;

pub const DEFAULT_MAX_ENTRIES: u64 = 10_000;
pub const DEFAULT_MAX_BODY_SIZE: u64 = 100 * 1024 * 1024;
/// Bytes of content the directory may hold (shared by every process using it): 1 GiB.
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024 * 1024;
/// Longest key accepted: keys are URLs plus a little; a megabyte key is a bug upstream.
pub const MAX_KEY_BYTES: usize = 64 * 1024;
/// Pending eviction cleanups held in memory before they are left to a sweep.
pub const DEFAULT_CLEANUP_QUEUE: usize = 1024;

#[derive(Clone, Debug)]
pub struct CacheOptions {
    pub max_entries: u64,
    pub max_body_size: u64,
    /// Bound on the bytes of content on disk (see `capacity` and `usage`).
    pub max_size: u64,
    pub algorithm: Algorithm,
    pub cleanup_queue: usize,
    /// The RAM tier for hot bodies (see `memory_tier`).
    pub memory: MemoryTierOptions,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            max_size: DEFAULT_MAX_SIZE,
            algorithm: Algorithm::Sha256,
            cleanup_queue: DEFAULT_CLEANUP_QUEUE,
            memory: MemoryTierOptions::default(),
        }
    }
}

impl CacheOptions {
    pub fn with_max_entries(mut self, max_entries: u64) -> Self {
        self.max_entries = max_entries;
        self
    }

    pub fn with_max_body_size(mut self, max_body_size: u64) -> Self {
        self.max_body_size = max_body_size;
        self
    }

    pub fn with_max_size(mut self, max_size: u64) -> Self {
        self.max_size = max_size;
        self
    }

    /// The largest body a put may write: one over `max_size` could never fit, so it is
    /// refused like one over `max_body_size`.
    pub fn body_limit(&self) -> u64 {
        self.max_body_size.min(self.max_size)
    }

    pub fn with_cleanup_queue(mut self, capacity: usize) -> Self {
        self.cleanup_queue = capacity;
        self
    }

    pub fn with_memory(mut self, memory: MemoryTierOptions) -> Self {
        self.memory = memory;
        self
    }

    pub fn validate(&self) -> Result<()> {
        self.memory.validate()?;
        if self.cleanup_queue == 0 {
            return Err(CacheError::out_of_range(
                "the cleanup queue needs room for one task",
            ));
        }
        if self.max_size == 0 {
            return Err(CacheError::out_of_range("maxSize must be at least 1 byte"));
        }
        Ok(())
    }
}

pub fn validate_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(CacheError::out_of_range(format!(
            "key is {} bytes; the limit is {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}
