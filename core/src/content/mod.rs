//! The content layer: bodies stored once per hash by cacache, streamed in and out in chunks.

pub mod blocks;
mod hasher;
pub mod range_reader;
pub mod reader;
pub mod writer;
mod xxh3_check;

use std::path::Path;

use crate::error::{CacheError, Result};

/// Largest chunk moved in one read or write call, so memory stays bounded by it.
pub const CHUNK_SIZE: usize = 64 * 1024;

pub use crate::layout::content_path;

/// Removes a content file; content that is already gone is not an error. Refuses to act
/// through a symlinked directory: the file removed is always inside the cache directory.
pub fn remove(dir: &Path, integrity: &str) -> Result<()> {
    let Some(sri) = crate::index::bucket::parse_integrity(integrity) else {
        return Err(CacheError::internal(format!(
            "not an integrity string: {integrity:?}"
        )));
    };
    let path = content_path(dir, &sri);
    let mut parent = path.parent();
    while let Some(p) = parent {
        if p == dir {
            break;
        }
        match crate::files::is_real_dir(p) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return Err(CacheError::io(&e, "checking content directory")),
        }
        parent = p.parent();
    }
    // The block checksums go with the body (best effort: a garbage pass removes strays).
    blocks::remove_for_content(dir, &path);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(CacheError::io(&e, "removing content"))
        }
        _ => Ok(()),
    }
}
