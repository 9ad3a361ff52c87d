//! The content layer: bodies stored once per hash by cacache, streamed in and out in chunks.

mod hasher;
pub mod reader;
pub mod writer;

use std::path::{Path, PathBuf};

use cacache::Integrity;

use crate::error::{CacheError, Result};

/// Largest chunk moved in one read or write call, so memory stays bounded by it.
pub const CHUNK_SIZE: usize = 64 * 1024;

/// Where cacache keeps the content for `integrity`: the layout stays cacache's, so its own
/// tools (and `remove_hash`) find every file.
pub fn content_path(dir: &Path, integrity: &Integrity) -> PathBuf {
    let (algorithm, hex) = integrity.to_hex();
    dir.join("content-v2")
        .join(algorithm.to_string())
        .join(&hex[0..2])
        .join(&hex[2..4])
        .join(&hex[4..])
}

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
