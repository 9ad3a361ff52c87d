//! The durable index: one cacache index line per put or delete, keyed by cache key, in
//! buckets read and written by `bucket` (locked appends, compaction, torn lines skipped).

use std::path::Path;

use cacache::Integrity;
use serde_json::{json, Value};

use super::bucket::{self, Line, Locked};
use crate::entry::EntryMeta;
use crate::error::{CacheError, Result};
use crate::layout;

/// An index entry: a key, the content it points at and the response fields.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    pub key: String,
    pub integrity: Integrity,
    /// Fast checksum of the content (xxh3) that reads verify; `None` for entries from before
    /// it was recorded, which verify against `integrity`.
    pub check: Option<Integrity>,
    pub size: u64,
    /// Milliseconds since the Unix epoch.
    pub stored_at: u64,
    pub meta: EntryMeta,
    /// Order of commits within this process (0 for entries read from disk): lets a delete
    /// tell an entry stored after it was called from the one it meant to remove.
    pub seq: u64,
}

impl StoredEntry {
    pub fn integrity_string(&self) -> String {
        self.integrity.to_string()
    }

    /// The hash reads verify against.
    pub fn read_check(&self) -> &Integrity {
        self.check.as_ref().unwrap_or(&self.integrity)
    }
}

/// Format marker in each line's metadata so a future layout can tell old lines apart.
const FORMAT_VERSION: u64 = 1;

fn io_error(err: std::io::Error, what: &str) -> CacheError {
    CacheError::io(&err, what)
}

fn encode(entry: &StoredEntry) -> Line {
    let mut metadata = json!({ "v": FORMAT_VERSION, "meta": entry.meta });
    if let Some(check) = &entry.check {
        metadata["check"] = Value::String(check.to_string());
    }
    Line {
        key: entry.key.clone(),
        integrity: Some(entry.integrity.to_string()),
        time: entry.stored_at,
        size: entry.size,
        metadata,
        raw_metadata: None,
    }
}

fn tombstone(key: &str) -> Line {
    Line {
        key: key.to_owned(),
        integrity: None,
        time: now_millis(),
        size: 0,
        metadata: Value::Null,
        raw_metadata: None,
    }
}

/// The bucket of one key, held under its lock (shared with every process): what is read here
/// stays current until the closure returns, so check-then-write is atomic across processes.
pub struct KeyBucket<'a> {
    key: &'a str,
    bucket: Locked,
}

impl KeyBucket<'_> {
    /// The key's live entry, if any.
    pub fn current(&mut self) -> Result<Option<StoredEntry>> {
        let contents = self
            .bucket
            .read()
            .map_err(|e| io_error(e, "reading index bucket"))?;
        Ok(contents
            .latest(self.key)
            .and_then(|line| decode(line.clone()).ok()))
    }

    pub fn put(&mut self, entry: &StoredEntry) -> Result<()> {
        self.bucket
            .append(&encode(entry))
            .map_err(|e| io_error(e, "writing index entry"))
    }

    pub fn remove(&mut self) -> Result<()> {
        self.bucket
            .append(&tombstone(self.key))
            .map_err(|e| io_error(e, "writing index tombstone"))
    }
}

/// Runs `f` with `key`'s bucket locked.
pub fn with_bucket<T>(
    dir: &Path,
    key: &str,
    f: impl FnOnce(&mut KeyBucket) -> Result<T>,
) -> Result<T> {
    let bucket = Locked::acquire(&layout::bucket_path(dir, key))
        .map_err(|e| io_error(e, "locking index bucket"))?;
    f(&mut KeyBucket { key, bucket })
}

pub fn insert(dir: &Path, entry: &StoredEntry) -> Result<()> {
    with_bucket(dir, &entry.key, |bucket| bucket.put(entry))
}

/// Appends a tombstone for `key`; its content is left to the caller.
pub fn remove(dir: &Path, key: &str) -> Result<()> {
    with_bucket(dir, key, |bucket| bucket.remove())
}

/// The live entry for `key`, read without the lock (appends are single writes and
/// compaction renames whole files, so an unlocked read sees a consistent bucket).
pub fn find(dir: &Path, key: &str) -> Result<Option<StoredEntry>> {
    let contents = bucket::read(&layout::bucket_path(dir, key))
        .map_err(|e| io_error(e, "reading index bucket"))?;
    Ok(contents
        .latest(key)
        .and_then(|line| decode(line.clone()).ok()))
}

/// Every live entry on disk, plus how many lines could not be decoded (they are skipped).
/// A bucket that cannot be read is an error: the caller must not take its keys for gone.
pub fn load_all(dir: &Path) -> Result<(Vec<StoredEntry>, usize)> {
    let mut entries = Vec::new();
    let mut skipped = 0;
    bucket::walk(dir, &mut |path| {
        let contents = bucket::read(path)?;
        skipped += contents.skipped;
        for line in contents.latest_per_key() {
            if line.integrity.is_none() {
                continue;
            }
            match decode(line.clone()) {
                Ok(entry) => entries.push(entry),
                Err(_) => skipped += 1,
            }
        }
        Ok(())
    })
    .map_err(|e| io_error(e, "reading the index"))?;
    Ok((entries, skipped))
}

/// Removes, bucket by bucket under each bucket's lock, every entry stored at or before
/// `until_ms`: entries other processes store meanwhile survive. Returns how many went.
pub fn remove_stored_until(dir: &Path, until_ms: u64) -> Result<usize> {
    let mut removed = 0;
    bucket::walk(dir, &mut |path| {
        let mut locked = Locked::acquire(path)?;
        removed += locked.retain(|line| line.time > until_ms)?;
        Ok(())
    })
    .map_err(|e| io_error(e, "clearing the index"))?;
    Ok(removed)
}

fn decode(line: Line) -> Result<StoredEntry> {
    let bad = |why: &str| CacheError::internal(format!("index entry {:?}: {why}", line.key));
    let integrity = line
        .parsed_integrity()
        .ok_or_else(|| bad("no valid integrity"))?;
    let Value::Object(mut wrapper) = line.metadata.clone() else {
        return Err(bad("metadata is not an object"));
    };
    if wrapper.get("v").and_then(Value::as_u64) != Some(FORMAT_VERSION) {
        return Err(bad("unknown format version"));
    }
    let meta = wrapper
        .remove("meta")
        .ok_or_else(|| bad("no response fields"))?;
    let meta: EntryMeta = serde_json::from_value(meta).map_err(|e| bad(&e.to_string()))?;
    if let Some(policy) = &meta.policy {
        crate::policy::Policy::from_json(policy).map_err(|_| bad("unreadable caching policy"))?;
    }
    let check = match wrapper.get("check") {
        None => None,
        Some(Value::String(s)) => {
            Some(bucket::parse_integrity(s).ok_or_else(|| bad("bad checksum"))?)
        }
        Some(_) => return Err(bad("bad checksum")),
    };
    Ok(StoredEntry {
        key: line.key,
        integrity,
        check,
        size: line.size,
        stored_at: line.time,
        meta,
        seq: 0,
    })
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::HeaderValue;

    fn entry(key: &str) -> StoredEntry {
        let mut meta = EntryMeta::from_value(json!({ "status": 203, "url": "http://x/" })).unwrap();
        meta.headers
            .insert("etag".into(), HeaderValue::One("\"1\"".into()));
        StoredEntry {
            key: key.into(),
            integrity: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
                .parse()
                .unwrap(),
            check: Some("xxh3-mbBEpW8Ncr3bq/pFcewBsA==".parse().unwrap()),
            size: 0,
            stored_at: 1_700_000_000_123,
            meta,
            seq: 0,
        }
    }

    #[test]
    fn entries_round_trip_and_tombstones_hide_them() {
        let dir = tempfile::tempdir().unwrap();
        insert(dir.path(), &entry("a")).unwrap();
        insert(dir.path(), &entry("b")).unwrap();
        assert_eq!(find(dir.path(), "a").unwrap(), Some(entry("a")));
        remove(dir.path(), "a").unwrap();
        assert_eq!(find(dir.path(), "a").unwrap(), None);
        let (all, skipped) = load_all(dir.path()).unwrap();
        assert_eq!((all, skipped), (vec![entry("b")], 0));
    }

    #[test]
    fn a_new_directory_has_nothing_to_skip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_all(dir.path()).unwrap(), (vec![], 0));
    }

    #[test]
    fn lines_from_other_tools_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        cacache::write_sync(dir.path(), "foreign", b"x").unwrap();
        insert(dir.path(), &entry("ours")).unwrap();
        let (all, skipped) = load_all(dir.path()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(skipped, 1);
    }
}
