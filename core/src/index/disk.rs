//! The durable index: one cacache index line per put or delete, keyed by cache key.

use std::path::Path;

use cacache::{Integrity, WriteOpts};
use serde_json::{json, Value};

use crate::entry::EntryMeta;
use crate::error::{CacheError, Result};

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

pub fn insert(dir: &Path, entry: &StoredEntry) -> Result<()> {
    let mut metadata = json!({ "v": FORMAT_VERSION, "meta": entry.meta });
    if let Some(check) = &entry.check {
        metadata["check"] = Value::String(check.to_string());
    }
    let opts = WriteOpts::new()
        .integrity(entry.integrity.clone())
        .size(entry.size as usize)
        .time(entry.stored_at as u128)
        .metadata(metadata);
    cacache::index::insert(dir, &entry.key, opts)?;
    Ok(())
}

/// Appends a tombstone for `key`; its content is left to the caller.
pub fn remove(dir: &Path, key: &str) -> Result<()> {
    cacache::index::delete(dir, key)?;
    Ok(())
}

pub fn find(dir: &Path, key: &str) -> Result<Option<StoredEntry>> {
    Ok(cacache::index::find(dir, key)?.and_then(|raw| decode(raw).ok()))
}

/// Every live entry on disk, plus how many lines could not be decoded (they are skipped).
pub fn load_all(dir: &Path) -> (Vec<StoredEntry>, usize) {
    let mut entries = Vec::new();
    let mut skipped = 0;
    if !dir.join("index-v5").is_dir() {
        return (entries, skipped);
    }
    let mut lines = cacache::index::ls(dir);
    loop {
        // cacache's listing unwraps the integrity it parses; a crafted line must not take
        // the process down, so a panic there counts as one skipped line.
        let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lines.next()));
        match next {
            Ok(None) => break,
            Ok(Some(Ok(raw))) => match decode(raw) {
                Ok(entry) => entries.push(entry),
                Err(_) => skipped += 1,
            },
            Ok(Some(Err(_))) | Err(_) => skipped += 1,
        }
    }
    (entries, skipped)
}

fn decode(raw: cacache::Metadata) -> Result<StoredEntry> {
    let bad = |why: &str| CacheError::internal(format!("index entry {:?}: {why}", raw.key));
    let Value::Object(mut wrapper) = raw.metadata.clone() else {
        return Err(bad("metadata is not an object"));
    };
    if wrapper.get("v").and_then(Value::as_u64) != Some(FORMAT_VERSION) {
        return Err(bad("unknown format version"));
    }
    let meta = wrapper.remove("meta").ok_or_else(|| bad("no response fields"))?;
    let meta: EntryMeta = serde_json::from_value(meta).map_err(|e| bad(&e.to_string()))?;
    let check = match wrapper.get("check") {
        None => None,
        Some(Value::String(s)) => Some(s.parse().map_err(|_| bad("bad checksum"))?),
        Some(_) => return Err(bad("bad checksum")),
    };
    Ok(StoredEntry {
        key: raw.key,
        integrity: raw.integrity,
        check,
        size: raw.size as u64,
        stored_at: u64::try_from(raw.time).unwrap_or(u64::MAX),
        meta,
        seq: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::HeaderValue;

    fn entry(key: &str) -> StoredEntry {
        let mut meta = EntryMeta::from_value(json!({ "status": 203, "url": "http://x/" })).unwrap();
        meta.headers.insert("etag".into(), HeaderValue::One("\"1\"".into()));
        StoredEntry {
            key: key.into(),
            integrity: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".parse().unwrap(),
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
        let (all, skipped) = load_all(dir.path());
        assert_eq!((all, skipped), (vec![entry("b")], 0));
    }

    #[test]
    fn a_new_directory_has_nothing_to_skip() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_all(dir.path()), (vec![], 0));
    }

    #[test]
    fn lines_from_other_tools_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        cacache::write_sync(dir.path(), "foreign", b"x").unwrap();
        insert(dir.path(), &entry("ours")).unwrap();
        let (all, skipped) = load_all(dir.path());
        assert_eq!(all.len(), 1);
        assert_eq!(skipped, 1);
    }
}
