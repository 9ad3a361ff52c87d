//! Write-through from the local disk cache: an upload job for an entry this host stored,
//! whose body is read back from the local content file only when a worker starts on it (the
//! store that made it never waits for Redis, and nothing is held in memory meanwhile).

use std::time::Duration;

use serde_json::Value;

use super::lock::RemoteLock;
use super::queue::{BodySource, UploadJob};
use crate::cache::StreamingCache;
use crate::content::reader::BodyReader;

/// The upload of the local entry `key` to the shared tier under `remote_key`, or `None` when
/// the entry is gone or no longer holds the body `integrity` names (replaced meanwhile: the
/// replacement has an upload of its own). `release_after` is a fetch lock handed over until
/// the upload finished.
pub fn local_upload(
    cache: &StreamingCache,
    key: &str,
    remote_key: String,
    integrity: Option<&str>,
    fresh_for: Duration,
    release_after: Option<RemoteLock>,
) -> Option<UploadJob> {
    let entry = cache.lookup(key)?;
    if integrity.is_some_and(|expected| expected != entry.integrity_string()) {
        return None;
    }
    let meta = serde_json::to_value(&entry.meta).unwrap_or(Value::Null);
    let dir = cache.dir().to_path_buf();
    let (address, check, size) = (
        entry.integrity.clone(),
        entry.read_check().clone(),
        entry.size,
    );
    Some(UploadJob {
        key: remote_key,
        meta,
        fresh_for,
        known: Some((entry.integrity.clone(), entry.size)),
        // The content file is found by its address, so a key replaced after this job was
        // queued still uploads the body named here (or fails, counted, if it was removed).
        open: Box::new(move || {
            BodyReader::open(&dir, &address, &check, size)
                .map(|reader| Box::new(reader) as Box<dyn BodySource>)
        }),
        release_after,
    })
}
