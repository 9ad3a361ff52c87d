//! Behaviour of one cache against real files in a temp dir: round trips, metadata, the size
//! limit, dedup of shared bodies, corruption, restart, and readers outliving their entry.

mod common;

use std::fs;

use common::*;
use serde_json::json;
use streaming_cache_core::{CacheOptions, EntryMeta, ErrorKind, HeaderValue, StreamingCache};

fn open(dir: &std::path::Path) -> StreamingCache {
    StreamingCache::open(dir, CacheOptions::default()).unwrap()
}

#[test]
fn bodies_round_trip_through_chunked_writes_and_64k_reads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let sizes = [0usize, 1, 65_535, 65_536, 65_537, 10 * 1024 * 1024];
    for (i, &size) in sizes.iter().enumerate() {
        let key = format!("size-{size}");
        let data = body(i as u64, size);
        put_chunked(&cache, &key, &data).unwrap();
        let entry = cache.lookup(&key).unwrap();
        assert_eq!(entry.size, size as u64);
        assert_eq!(entry.integrity_string(), integrity_of(&data));
        let read = get(&cache, &key).unwrap().expect("just stored");
        assert!(
            read == data,
            "body of {size} bytes differs after a round trip"
        );
    }
    // Read everything a second time: reading does not consume or damage the entry.
    for (i, &size) in sizes.iter().enumerate() {
        let read = get(&cache, &format!("size-{size}")).unwrap().unwrap();
        assert!(read == body(i as u64, size));
    }
    assert_eq!(content_files(dir.path()).len(), sizes.len());
    assert!(tmp_files(dir.path()).is_empty());
    assert_consistent(&cache);
}

#[test]
fn writer_with_no_writes_commits_an_empty_body() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let writer = cache.writer();
    let entry = cache.commit("empty", meta(204), writer).unwrap();
    assert_eq!(entry.size, 0);
    assert_eq!(entry.integrity_string(), integrity_of(b""));
    let (_, mut reader) = cache.open_body("empty").unwrap().unwrap();
    let mut buf = vec![0u8; READ_BUF];
    assert_eq!(reader.read(&mut buf).unwrap(), 0);
    assert!(reader.is_done());
    assert_eq!(
        fs::metadata(only_content_file(dir.path())).unwrap().len(),
        0
    );
}

#[test]
fn put_bytes_keeps_status_headers_url_metadata_size_and_integrity() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let fields = json!({
        "status": 203,
        "headers": {
            "Content-Type": "text/plain; charset=utf-8",
            "Set-Cookie": ["a=1", "b=2"],
            "Content-Length": 11,
            "X-Dropped": null
        },
        "url": "https://example.com/a?b=c",
        "metadata": { "nested": [1, "two", { "three": 3.5 }], "flag": true }
    });
    let meta = EntryMeta::from_value(fields).unwrap();
    let data = b"hello world";
    let stored = cache
        .put_bytes("GET https://example.com/a?b=c", meta.clone(), data)
        .unwrap();
    assert_eq!(stored.size, 11);
    assert_eq!(stored.integrity_string(), integrity_of(data));

    let check = |cache: &StreamingCache| {
        let entry = cache.lookup("GET https://example.com/a?b=c").unwrap();
        assert_eq!(entry.key, "GET https://example.com/a?b=c");
        assert_eq!(entry.meta, meta);
        assert_eq!(entry.meta.status, 203);
        assert_eq!(
            entry.meta.headers["content-type"],
            HeaderValue::One("text/plain; charset=utf-8".into())
        );
        assert_eq!(
            entry.meta.headers["set-cookie"],
            HeaderValue::Many(vec!["a=1".into(), "b=2".into()])
        );
        assert_eq!(
            entry.meta.headers["content-length"],
            HeaderValue::One("11".into())
        );
        assert!(!entry.meta.headers.contains_key("x-dropped"));
        assert_eq!(entry.meta.url.as_deref(), Some("https://example.com/a?b=c"));
        assert_eq!(
            entry.meta.metadata,
            json!({ "nested": [1, "two", { "three": 3.5 }], "flag": true })
        );
        assert_eq!(entry.size, 11);
        assert_eq!(entry.integrity_string(), integrity_of(data));
        let (opened, mut reader) = cache
            .open_body("GET https://example.com/a?b=c")
            .unwrap()
            .unwrap();
        assert_eq!(*opened, *entry);
        assert_eq!(drain(&mut reader).unwrap(), data);
    };
    check(&cache);
    // The same fields come back from disk.
    drop(cache);
    let cache = open(dir.path());
    check(&cache);

    // update_metadata rewrites the fields, not the body.
    let newer =
        EntryMeta::from_value(json!({ "status": 200, "headers": { "etag": "\"v2\"" } })).unwrap();
    assert!(cache
        .update_metadata("GET https://example.com/a?b=c", newer.clone())
        .unwrap());
    assert!(!cache.update_metadata("missing", newer.clone()).unwrap());
    assert_eq!(
        cache.lookup("GET https://example.com/a?b=c").unwrap().meta,
        newer
    );
    assert_eq!(
        get(&cache, "GET https://example.com/a?b=c")
            .unwrap()
            .unwrap(),
        data
    );
    assert_eq!(cache.references(&integrity_of(data)), 1);
    drop(cache);
    let cache = open(dir.path());
    assert_eq!(
        cache.lookup("GET https://example.com/a?b=c").unwrap().meta,
        newer
    );
    assert_eq!(
        get(&cache, "GET https://example.com/a?b=c")
            .unwrap()
            .unwrap(),
        data
    );
    assert_consistent(&cache);
}

#[test]
fn bodies_over_max_body_size_fail_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let limit = 100_000u64;
    let cache = StreamingCache::open(
        dir.path(),
        CacheOptions::default().with_max_body_size(limit),
    )
    .unwrap();
    let old = body(1, 5_000);
    cache.put_bytes("k", meta(200), &old).unwrap();

    // Exactly the limit is fine.
    let exact = body(2, limit as usize);
    put_chunked(&cache, "exact", &exact).unwrap();
    assert_eq!(get(&cache, "exact").unwrap().unwrap(), exact);

    // One byte over, streamed in chunks: the write that crosses the limit fails.
    let mut writer = cache.writer();
    writer.write(&body(3, 60_000)).unwrap();
    assert!(
        !tmp_files(dir.path()).is_empty(),
        "a temp file holds the body while it streams"
    );
    let err = writer.write(&body(4, 40_001)).unwrap_err();
    assert_eq!(err.code(), "ERR_BODY_TOO_LARGE");
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge);
    // The temp file is gone as soon as the write fails, before the writer is dropped.
    assert!(
        tmp_files(dir.path()).is_empty(),
        "leftover temp files: {:?}",
        tmp_files(dir.path())
    );
    // The writer stays failed, and committing it stores nothing.
    assert_eq!(writer.write(b"x").unwrap_err().code(), "ERR_BODY_TOO_LARGE");
    let err = cache.commit("k", meta(201), writer).unwrap_err();
    assert_eq!(err.code(), "ERR_BODY_TOO_LARGE");

    // put_bytes over the limit fails the same way.
    let err = cache
        .put_bytes("k", meta(202), &body(5, limit as usize + 1))
        .unwrap_err();
    assert_eq!(err.code(), "ERR_BODY_TOO_LARGE");

    // The old entry is intact.
    let entry = cache.lookup("k").unwrap();
    assert_eq!(entry.meta.status, 200);
    assert_eq!(entry.size, old.len() as u64);
    assert_eq!(get(&cache, "k").unwrap().unwrap(), old);
    assert!(tmp_files(dir.path()).is_empty());
    assert_eq!(content_files(dir.path()).len(), 2);
    assert_consistent(&cache);

    // ...also after a restart.
    drop(cache);
    let cache = open(dir.path());
    assert_eq!(get(&cache, "k").unwrap().unwrap(), old);
    assert_eq!(cache.lookup("k").unwrap().meta.status, 200);
}

#[test]
fn aborted_and_dropped_writers_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let mut writer = cache.writer();
    writer.write(&body(1, 200_000)).unwrap();
    writer.abort();
    assert!(tmp_files(dir.path()).is_empty());
    assert_eq!(
        writer.write(b"more").unwrap_err().code(),
        "ERR_STREAM_DESTROYED"
    );
    assert!(cache.commit("k", meta(200), writer).is_err());
    assert!(cache.lookup("k").is_none());

    let mut writer = cache.writer();
    writer.write(&body(2, 10_000)).unwrap();
    drop(writer);
    assert!(tmp_files(dir.path()).is_empty());
    assert!(content_files(dir.path()).is_empty());
    assert_consistent(&cache);
}

#[test]
fn shared_bodies_are_stored_once_and_removed_with_their_last_key() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let shared = body(7, 150_000);
    let sri = integrity_of(&shared);
    cache.put_bytes("a", meta(200), &shared).unwrap();
    put_chunked(&cache, "b", &shared).unwrap();
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_eq!(cache.references(&sri), 2);

    // Deleting one key keeps the body for the other.
    assert!(cache.delete("a").unwrap());
    assert!(!cache.delete("a").unwrap());
    assert!(cache.lookup("a").is_none());
    assert_eq!(cache.references(&sri), 1);
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_eq!(get(&cache, "b").unwrap().unwrap(), shared);

    // Deleting the last one removes it.
    assert!(cache.delete("b").unwrap());
    assert_eq!(cache.references(&sri), 0);
    assert!(content_files(dir.path()).is_empty());
    assert!(get(&cache, "b").unwrap().is_none());
    assert_consistent(&cache);

    // Replacing a key with the same body keeps the body.
    cache.put_bytes("c", meta(200), &shared).unwrap();
    let first = only_content_file(dir.path());
    cache.put_bytes("c", meta(201), &shared).unwrap();
    assert_eq!(only_content_file(dir.path()), first);
    assert_eq!(cache.references(&sri), 1);
    assert_eq!(cache.lookup("c").unwrap().meta.status, 201);
    assert_eq!(get(&cache, "c").unwrap().unwrap(), shared);

    // Replacing it with a different body removes the old, now unshared, body.
    let other = body(8, 70_000);
    put_chunked(&cache, "c", &other).unwrap();
    assert_eq!(cache.references(&sri), 0);
    assert_eq!(cache.references(&integrity_of(&other)), 1);
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_ne!(only_content_file(dir.path()), first);
    assert_eq!(get(&cache, "c").unwrap().unwrap(), other);

    // ...but keeps it while another key still shares it.
    cache.put_bytes("d", meta(200), &shared).unwrap();
    cache.put_bytes("e", meta(200), &shared).unwrap();
    assert_eq!(content_files(dir.path()).len(), 2);
    cache.put_bytes("d", meta(200), &other).unwrap();
    assert_eq!(content_files(dir.path()).len(), 2);
    assert_eq!(get(&cache, "e").unwrap().unwrap(), shared);
    assert_eq!(get(&cache, "d").unwrap().unwrap(), other);
    assert_eq!(cache.references(&integrity_of(&other)), 2);
    cache.put_bytes("e", meta(200), &other).unwrap();
    assert_eq!(content_files(dir.path()).len(), 1);
    assert_eq!(cache.references(&integrity_of(&other)), 3);
    assert_consistent(&cache);

    // clear() removes everything.
    cache.clear().unwrap();
    assert!(content_files(dir.path()).is_empty());
    assert_eq!(cache.entry_count(), 0);
    assert_eq!(cache.disk_entry_count(), 0);
    assert_consistent(&cache);
    drop(cache);
    assert_eq!(open(dir.path()).entry_count(), 0);
}

/// Reads `key` expecting corruption: every read before the error returns data, none returns a
/// clean end, and the failure is ERR_CACHE_INTEGRITY.
fn read_expecting_corruption(cache: &StreamingCache, key: &str) {
    let (_, mut reader) = cache
        .open_body(key)
        .unwrap()
        .expect("entry is still indexed");
    let mut buf = vec![0u8; READ_BUF];
    let err = loop {
        match reader.read(&mut buf) {
            Ok(0) => panic!("corrupt content reached a clean end"),
            Ok(n) => assert!(n <= READ_BUF),
            Err(err) => break err,
        }
    };
    assert_eq!(err.code(), "ERR_CACHE_INTEGRITY", "{err}");
    assert_eq!(err.kind(), ErrorKind::Integrity);
    assert!(!reader.is_done());
    assert!(
        reader.position() < reader.size(),
        "unverified bytes are not counted as read"
    );
    // The reader stays failed: it never turns into a clean end afterwards.
    for _ in 0..3 {
        assert!(reader.read(&mut buf).is_err());
    }
}

fn corruption_case(size: usize, damage: impl FnOnce(&std::path::Path)) {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(size as u64, size);
    put_chunked(&cache, "victim", &data).unwrap();
    cache.put_bytes("healthy", meta(200), b"unrelated").unwrap();
    let victim_file = content_files(dir.path())
        .into_iter()
        .find(|p| fs::read(p).unwrap() == data)
        .unwrap();
    damage(&victim_file);

    read_expecting_corruption(&cache, "victim");
    assert!(
        cache.lookup("victim").is_none(),
        "a corrupt entry is dropped"
    );
    assert!(cache.open_body("victim").unwrap().is_none());
    assert!(!victim_file.exists(), "corrupt content is removed");
    assert_eq!(get(&cache, "healthy").unwrap().unwrap(), b"unrelated");
    assert_consistent(&cache);
    // Gone for good, also after a restart.
    drop(cache);
    let cache = open(dir.path());
    assert!(cache.lookup("victim").is_none());
    assert_eq!(cache.entry_count(), 1);
}

#[test]
fn flipped_byte_is_an_integrity_error() {
    for (size, at) in [
        (1usize, 0usize),
        (10, 9),
        (200_000, 100_000),
        (200_000, 0),
        (200_000, 199_999),
    ] {
        corruption_case(size, |path| {
            let mut bytes = fs::read(path).unwrap();
            bytes[at] ^= 0x01;
            fs::write(path, bytes).unwrap();
        });
    }
}

#[test]
fn truncated_content_is_an_integrity_error() {
    for (size, keep) in [
        (1usize, 0usize),
        (200_000, 0),
        (200_000, 65_536),
        (200_000, 199_999),
    ] {
        corruption_case(size, |path| {
            let file = fs::OpenOptions::new().write(true).open(path).unwrap();
            file.set_len(keep as u64).unwrap();
        });
    }
}

#[test]
fn trailing_bytes_after_the_body_are_never_served() {
    // Only `size` bytes are read and they are verified against the hash: junk appended to the
    // file is not part of the body, so the intact body is served and nothing else.
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(9, 70_000);
    cache.put_bytes("k", meta(200), &data).unwrap();
    let file = only_content_file(dir.path());
    let mut bytes = fs::read(&file).unwrap();
    bytes.extend_from_slice(b"trailing junk");
    fs::write(&file, bytes).unwrap();
    assert!(get(&cache, "k").unwrap().unwrap() == data);
    // Flipping a byte inside the body is still caught even with the junk there.
    let mut bytes = fs::read(&file).unwrap();
    bytes[1] ^= 0x80;
    fs::write(&file, bytes).unwrap();
    read_expecting_corruption(&cache, "k");
    assert!(cache.lookup("k").is_none());
}

#[test]
fn corruption_found_through_one_key_makes_sharing_keys_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(3, 100_000);
    cache.put_bytes("a", meta(200), &data).unwrap();
    cache.put_bytes("b", meta(200), &data).unwrap();
    let file = only_content_file(dir.path());
    let mut bytes = fs::read(&file).unwrap();
    bytes[50_000] ^= 0xff;
    fs::write(&file, bytes).unwrap();

    read_expecting_corruption(&cache, "a");
    assert!(cache.lookup("a").is_none());
    assert!(content_files(dir.path()).is_empty());
    // "b" is still indexed, but its content is gone: opening it is a miss, never bad bytes.
    assert!(cache.open_body("b").unwrap().is_none());
    assert!(cache.lookup("b").is_none());
    assert_consistent(&cache);
    // Storing the body again heals both.
    cache.put_bytes("b", meta(200), &data).unwrap();
    assert_eq!(get(&cache, "b").unwrap().unwrap(), data);
}

#[test]
fn content_removed_by_hand_is_a_miss() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    cache.put_bytes("k", meta(200), &body(1, 1000)).unwrap();
    fs::remove_file(only_content_file(dir.path())).unwrap();
    assert!(cache.open_body("k").unwrap().is_none());
    assert!(cache.lookup("k").is_none());
    assert_consistent(&cache);
}

#[test]
fn entries_survive_a_restart_with_references_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let shared = body(100, 80_000);
    let mut expected = Vec::new();
    {
        let cache = open(dir.path());
        for i in 0..20u64 {
            let key = format!("GET https://example.com/{i}");
            let data = body(i, (i as usize) * 7_919);
            put_chunked(&cache, &key, &data).unwrap();
            expected.push((key, data));
        }
        for key in ["shared-1", "shared-2", "shared-3"] {
            cache.put_bytes(key, meta(200), &shared).unwrap();
            expected.push((key.to_string(), shared.clone()));
        }
        // Replaced and deleted keys must not come back.
        cache.put_bytes("replaced", meta(200), b"old").unwrap();
        cache.put_bytes("replaced", meta(200), b"new").unwrap();
        expected.push(("replaced".to_string(), b"new".to_vec()));
        cache.put_bytes("deleted", meta(200), b"gone").unwrap();
        assert!(cache.delete("deleted").unwrap());
        assert_consistent(&cache);
    }

    let cache = open(dir.path());
    assert_eq!(cache.skipped_on_load(), 0);
    assert_eq!(cache.entry_count(), expected.len() as u64);
    assert_eq!(cache.disk_entry_count(), expected.len());
    for (key, data) in &expected {
        assert!(
            get(&cache, key).unwrap().as_ref() == Some(data),
            "{key} after restart"
        );
    }
    assert!(cache.lookup("deleted").is_none());
    let sri = integrity_of(&shared);
    assert_eq!(cache.references(&sri), 3);
    assert_consistent(&cache);

    // Dedup-safe deletes still work after the restart.
    assert!(cache.delete("shared-1").unwrap());
    assert!(cache.delete("shared-2").unwrap());
    assert_eq!(cache.references(&sri), 1);
    assert_eq!(get(&cache, "shared-3").unwrap().unwrap(), shared);
    assert!(cache.delete("shared-3").unwrap());
    assert_eq!(cache.references(&sri), 0);
    assert!(!content_files(dir.path())
        .iter()
        .any(|p| fs::read(p).unwrap() == shared));
    assert_consistent(&cache);

    // And a second restart sees the deletes.
    drop(cache);
    let cache = open(dir.path());
    assert_eq!(cache.entry_count(), expected.len() as u64 - 3);
    assert!(cache.lookup("shared-1").is_none());
    assert_consistent(&cache);
}

#[test]
fn reader_opened_before_delete_or_replace_reads_the_old_body() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let old = body(1, 300_000);
    let new = body(2, 10_000);

    // Deleted while being read.
    cache.put_bytes("deleted", meta(200), &old).unwrap();
    let (_, mut reader) = cache.open_body("deleted").unwrap().unwrap();
    let mut buf = vec![0u8; READ_BUF];
    let mut got = vec![0u8; 0];
    let n = reader.read(&mut buf).unwrap();
    got.extend_from_slice(&buf[..n]);
    assert!(cache.delete("deleted").unwrap());
    assert!(
        content_files(dir.path()).is_empty(),
        "the unshared body is unlinked at once"
    );
    got.extend(drain(&mut reader).unwrap());
    assert!(got == old, "old body read fully after delete");
    assert!(cache.lookup("deleted").is_none());

    // Replaced before the first read.
    cache.put_bytes("replaced", meta(200), &old).unwrap();
    let (entry, mut reader) = cache.open_body("replaced").unwrap().unwrap();
    cache.put_bytes("replaced", meta(201), &new).unwrap();
    assert_eq!(entry.size, old.len() as u64);
    assert!(drain(&mut reader).unwrap() == old);
    assert_eq!(get(&cache, "replaced").unwrap().unwrap(), new);

    // Replaced, then the same old body is stored again while the first reader is open.
    cache.put_bytes("again", meta(200), &old).unwrap();
    let (_, mut first) = cache.open_body("again").unwrap().unwrap();
    cache.put_bytes("again", meta(200), &new).unwrap();
    cache.put_bytes("again", meta(200), &old).unwrap();
    let (_, mut second) = cache.open_body("again").unwrap().unwrap();
    assert!(drain(&mut first).unwrap() == old);
    assert!(drain(&mut second).unwrap() == old);

    // A reader closed half-way releases its file and fails further reads.
    let (_, mut reader) = cache.open_body("again").unwrap().unwrap();
    reader.read(&mut buf).unwrap();
    reader.close();
    assert_eq!(
        reader.read(&mut buf).unwrap_err().code(),
        "ERR_STREAM_DESTROYED"
    );
    assert_consistent(&cache);
}

#[test]
fn keys_with_prefix_lists_live_keys_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    for key in ["GET b", "GET a\n2", "GET a\n1", "GET ab"] {
        cache.put_bytes(key, meta(200), key.as_bytes()).unwrap();
    }
    assert_eq!(cache.keys_with_prefix("GET a\n"), ["GET a\n1", "GET a\n2"]);
    cache.delete("GET a\n1").unwrap();
    assert_eq!(cache.keys_with_prefix("GET a"), ["GET a\n2", "GET ab"]);
    assert_eq!(cache.keys_with_prefix("").len(), 3);
}

#[test]
fn oversized_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let key = "k".repeat(64 * 1024 + 1);
    let err = cache.put_bytes(&key, meta(200), b"x").unwrap_err();
    assert_eq!(err.code(), "ERR_OUT_OF_RANGE");
    assert!(content_files(dir.path()).is_empty());
    assert!(tmp_files(dir.path()).is_empty());
    assert!(
        StreamingCache::open(dir.path(), CacheOptions::default().with_cleanup_queue(0)).is_err()
    );
}
