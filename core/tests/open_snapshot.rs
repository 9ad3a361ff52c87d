//! Opening from the index snapshot (issue 13, item 3): a clean close by a process alone with
//! the directory leaves one, the next open reads it instead of every bucket, and nothing it
//! says is trusted over the buckets once another process or a crash may have changed them.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::json;
use streaming_cache_core::index::snapshot::SNAPSHOT_FILE;
use streaming_cache_core::{CacheOptions, EntryMeta, StreamingCache};

/// More keys than the size below which buckets are read anyway.
const KEYS: u64 = 2100;

fn open(dir: &Path) -> StreamingCache {
    StreamingCache::open(dir, CacheOptions::default().with_max_entries(100_000)).unwrap()
}

fn key(n: u64) -> String {
    format!("GET https://example.com/items/{n}")
}

fn meta_for(n: u64) -> EntryMeta {
    EntryMeta::from_value(json!({
        "status": 200,
        "headers": { "etag": format!("\"{n}\""), "content-type": "application/json" },
        "url": format!("https://example.com/items/{n}"),
    }))
    .unwrap()
}

fn fill(dir: &Path) {
    let cache = open(dir);
    for n in 0..KEYS {
        cache.put_bytes(&key(n), meta_for(n), &body(n, 16)).unwrap();
    }
    cache.close();
}

#[test]
fn a_clean_close_leaves_a_snapshot_the_next_open_takes_and_full_entries_read_back() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    assert!(snapshot.is_file(), "a lone process's clean close writes it");

    let cache = open(dir.path());
    assert!(
        !snapshot.exists(),
        "taken at open: this process may write from now on"
    );
    assert_eq!(cache.entry_count(), KEYS);
    for n in [0, 7, KEYS - 1] {
        let entry = cache.lookup(&key(n)).unwrap();
        assert_eq!(
            entry.meta,
            meta_for(n),
            "response fields are read back from the bucket"
        );
        assert_eq!(entry.integrity_string(), integrity_of(&body(n, 16)));
        assert_eq!(get(&cache, &key(n)).unwrap().unwrap(), body(n, 16));
    }
    cache.delete(&key(3)).unwrap();
    cache.put_bytes(&key(5), meta(201), b"replaced").unwrap();
    cache.close();

    // What the second run did is in the next snapshot.
    let cache = open(dir.path());
    assert_eq!(cache.entry_count(), KEYS - 1);
    assert!(cache.lookup(&key(3)).is_none());
    assert_eq!(cache.lookup(&key(5)).unwrap().meta.status, 201);
}

#[test]
fn no_snapshot_is_written_by_a_process_that_was_not_alone() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let first = open(dir.path());
    let second = open(dir.path());
    second
        .put_bytes(&key(KEYS), meta(200), b"from the second")
        .unwrap();
    // The first saw the second join; the second found the first alive when it opened.
    first.close();
    assert!(!snapshot.exists());
    second.close();
    assert!(!snapshot.exists());
    // So the next open reads the buckets, and finds everything.
    assert_eq!(open(dir.path()).entry_count(), KEYS + 1);
}

#[test]
fn a_key_another_process_replaces_or_deletes_is_followed_not_served_stale() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let loaded = open(dir.path());
    assert!(loaded.contains(&key(1)) && loaded.contains(&key(2)));
    let other = open(dir.path());
    other
        .put_bytes(&key(1), meta(203), b"the other's body")
        .unwrap();
    assert!(other.delete(&key(2)).unwrap());

    let entry = loaded.lookup(&key(1)).unwrap();
    assert_eq!(entry.meta.status, 203);
    assert_eq!(entry.integrity_string(), integrity_of(b"the other's body"));
    assert_eq!(get(&loaded, &key(1)).unwrap().unwrap(), b"the other's body");
    assert!(loaded.open_body(&key(2)).unwrap().is_none());
    assert!(
        !loaded.contains(&key(2)),
        "the deleted key is forgotten here too"
    );
}

#[test]
fn after_a_crash_a_snapshot_is_never_trusted() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let snapshot = dir.path().join(SNAPSHOT_FILE);
    let stale = fs::read(&snapshot).unwrap();
    // A later run deletes a key and closes cleanly...
    let cache = open(dir.path());
    cache.delete(&key(4)).unwrap();
    cache.close();
    // ...then the stale copy comes back and a process dies with the directory open (the
    // marker a scan leaves when it finds a dead owner's lock).
    fs::write(&snapshot, stale).unwrap();
    fs::write(dir.path().join("owners/unclean-shutdown"), b"").unwrap();

    let cache = open(dir.path());
    assert!(!snapshot.exists());
    assert_eq!(
        cache.entry_count(),
        KEYS - 1,
        "the buckets were read, not the snapshot"
    );
    assert!(cache.lookup(&key(4)).is_none());
}
