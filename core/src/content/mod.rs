//! The content layer: bodies stored once per hash by cacache, streamed in and out in chunks.

pub mod reader;
pub mod writer;

use std::path::Path;

use cacache::Integrity;

use crate::error::{CacheError, Result};

/// Largest chunk moved in one read or write call, so memory stays bounded by it.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Removes a content file; content that is already gone is not an error.
pub fn remove(dir: &Path, integrity: &str) -> Result<()> {
    let Ok(sri) = integrity.parse::<Integrity>() else {
        return Err(CacheError::internal(format!("not an integrity string: {integrity:?}")));
    };
    match cacache::remove_hash_sync(dir, &sri) {
        Err(cacache::Error::IoError(e, _)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => Ok(other?),
    }
}
