//! The byte bound (`max_size`) against real files: what lies on disk after every put, bodies
//! over the bound, shared bodies counted once, TinyLFU weighing size against frequency, the
//! two bounds together, and the usage record re-anchored at a lone open.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use streaming_cache_core::{CacheOptions, ErrorKind, StreamingCache};

const KIB: usize = 1024;

fn open(dir: &Path, max_entries: u64, max_size: u64) -> StreamingCache {
    let options = CacheOptions::default()
        .with_max_entries(max_entries)
        .with_max_size(max_size);
    StreamingCache::open(dir, options).unwrap()
}

fn content_bytes(dir: &Path) -> u64 {
    content_files(dir)
        .iter()
        .map(|p| fs::metadata(p).unwrap().len())
        .sum()
}

fn put(cache: &StreamingCache, key: &str, data: &[u8]) {
    cache.put_bytes(key, meta(200), data).unwrap();
}

#[test]
fn content_on_disk_never_exceeds_max_size_once_a_put_returns() {
    let dir = tempfile::tempdir().unwrap();
    let max = 100 * KIB as u64;
    let cache = open(dir.path(), 10_000, max);
    for i in 0..60u64 {
        let size = [3 * KIB, 10 * KIB, 17 * KIB, 1][(i % 4) as usize];
        put(&cache, &format!("k{i}"), &body(i, size));
        let on_disk = content_bytes(dir.path());
        assert!(
            on_disk <= max,
            "after put {i}: {on_disk} bytes of content on disk, max {max}"
        );
        assert_eq!(
            cache.stats().bytes,
            on_disk,
            "the usage record matches the disk"
        );
    }
    cache.run_pending_tasks();
    let stats = cache.stats();
    assert!(stats.evictions.size > 0);
    assert!(
        stats.entries > 5,
        "the bound holds bytes, not a handful of keys: {stats:?}"
    );
    assert_eq!(stats.stores, 60);
    assert_consistent(&cache);
}

#[test]
fn a_body_larger_than_max_size_is_refused_like_one_over_max_body_size() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 100, 50 * KIB as u64);
    put(&cache, "small", &body(1, 10 * KIB));
    let err = cache
        .put_bytes("big", meta(200), &body(2, 50 * KIB + 1))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BodyTooLarge);
    assert_eq!(err.code(), "ERR_BODY_TOO_LARGE");
    // Exactly max_size fits; nothing of the refused body is left behind.
    assert!(tmp_files(dir.path()).is_empty());
    assert!(cache.lookup("big").is_none());
    assert!(cache.lookup("small").is_some());
    put(&cache, "exact", &body(3, 50 * KIB));
    cache.run_pending_tasks();
    assert!(content_bytes(dir.path()) <= 50 * KIB as u64);
}

#[test]
fn deduplicated_content_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 100, 100 * KIB as u64);
    let shared = body(7, 30 * KIB);
    for i in 0..6 {
        put(&cache, &format!("variant-{i}"), &shared);
    }
    cache.run_pending_tasks();
    // Six keys of 30 KiB each would be 180 KiB; the one body takes 30.
    for i in 0..6 {
        assert!(
            cache.lookup(&format!("variant-{i}")).is_some(),
            "variant-{i} was evicted"
        );
    }
    let stats = cache.stats();
    assert_eq!(stats.bytes, 30 * KIB as u64);
    assert_eq!(stats.dedup_saved_bytes, 5 * 30 * KIB as u64);
    assert_eq!(stats.deduplicated_stores, 5);
    assert_eq!(stats.evictions.size, 0);

    // The key paying for the body leaves; the body still counts (charged to the next key),
    // so 80 KiB of new bodies push something out, and the disk stays within the bound.
    cache.delete("variant-0").unwrap();
    for i in 0..4 {
        put(&cache, &format!("other-{i}"), &body(100 + i, 20 * KIB));
    }
    cache.run_pending_tasks();
    assert!(content_bytes(dir.path()) <= 100 * KIB as u64);
    assert_eq!(cache.stats().bytes, content_bytes(dir.path()));
    assert_consistent(&cache);
}

#[test]
fn one_huge_body_does_not_flush_hot_small_ones_unless_its_frequency_earns_it() {
    let dir = tempfile::tempdir().unwrap();
    let max = 1024 * KIB as u64;
    let cache = open(dir.path(), 10_000, max);
    let hot: Vec<String> = (0..100).map(|i| format!("hot-{i}")).collect();
    for (i, key) in hot.iter().enumerate() {
        put(&cache, key, &body(i as u64, 5 * KIB));
    }
    for _ in 0..5 {
        for key in &hot {
            assert!(get(&cache, key).unwrap().is_some());
        }
    }
    cache.run_pending_tasks();

    // Requested once: a miss, then stored. Admitting it would cost ~120 hot keys.
    assert!(get(&cache, "huge").unwrap().is_none());
    put(&cache, "huge", &body(999, 900 * KIB));
    cache.run_pending_tasks();
    let survivors = hot.iter().filter(|k| cache.contains(k)).count();
    assert_eq!(
        survivors,
        hot.len(),
        "a one-off huge body flushed hot small ones"
    );
    assert!(
        !cache.contains("huge"),
        "a body requested once was admitted over hot ones"
    );
    assert!(content_bytes(dir.path()) <= max);

    assert_consistent(&cache);

    // Against small bodies nobody asks for (stored, never read), a body that is asked for
    // earns its place: TinyLFU compares its frequency with the victims' together.
    let cold_dir = tempfile::tempdir().unwrap();
    let cold = open(cold_dir.path(), 10_000, max);
    // 180 of them: a cache at least half full, so moka keeps frequencies.
    for i in 0..180u64 {
        put(&cold, &format!("cold-{i}"), &body(i, 5 * KIB));
    }
    cold.run_pending_tasks();
    for _ in 0..3 {
        assert!(get(&cold, "huge").unwrap().is_none());
    }
    put(&cold, "huge", &body(999, 900 * KIB));
    cold.run_pending_tasks();
    assert!(
        cold.contains("huge"),
        "a requested body lost to bodies nobody reads"
    );
    assert!(content_bytes(cold_dir.path()) <= max);
    assert_consistent(&cold);
}

#[test]
fn whichever_bound_is_reached_first_evicts() {
    let dir = tempfile::tempdir().unwrap();
    // Count first: tiny bodies, room for many bytes.
    let by_count = open(&dir.path().join("count"), 5, 1 << 30);
    for i in 0..20u64 {
        put(&by_count, &format!("k{i}"), &body(i, 10));
    }
    assert_eq!(by_count.entry_count(), 5);
    // Bytes first: room for many keys, not for their bodies.
    let by_size = open(&dir.path().join("size"), 1000, 40 * KIB as u64);
    for i in 0..20u64 {
        put(&by_size, &format!("k{i}"), &body(i, 10 * KIB));
    }
    assert_eq!(by_size.entry_count(), 4);
    assert!(by_size.stats().bytes <= 40 * KIB as u64);
    // Below both bounds nothing is evicted, whatever the mix.
    let mixed = open(&dir.path().join("mixed"), 10, 100 * KIB as u64);
    for i in 0..5u64 {
        put(&mixed, &format!("tiny{i}"), &body(i, 10));
    }
    for i in 0..3u64 {
        put(&mixed, &format!("big{i}"), &body(50 + i, 30 * KIB));
    }
    mixed.run_pending_tasks();
    assert_eq!(mixed.entry_count(), 8);
    assert_eq!(mixed.stats().evictions.size, 0);
}

#[test]
fn a_lone_open_recounts_the_usage_record_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cache = open(dir.path(), 100, 1 << 20);
        put(&cache, "a", &body(1, 3000));
        put(&cache, "b", &body(2, 4000));
        put(&cache, "c", &body(2, 4000));
        cache.close();
    }
    // A crash between unlink and uncharge (or a torn write) leaves the record wrong.
    fs::write(dir.path().join("usage-v1"), "garbage").unwrap();
    let cache = open(dir.path(), 100, 1 << 20);
    assert_eq!(cache.stats().bytes, 7000);
    assert_eq!(cache.stats().dedup_saved_bytes, 4000);
}

#[test]
fn stats_count_hits_misses_and_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path(), 100, 1 << 20);
    put(&cache, "a", &body(1, 70_000));
    assert!(get(&cache, "a").unwrap().is_some());
    assert!(get(&cache, "a").unwrap().is_some());
    assert!(get(&cache, "nope").unwrap().is_none());
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.stores), (2, 1, 1));
    assert_eq!(stats.bytes_written, 70_000);
    assert_eq!(stats.bytes_read, 140_000);
    assert_eq!(stats.max_size, 1 << 20);
    assert_eq!(stats.entries, 1);
}

#[test]
fn entries_from_an_earlier_run_yield_to_the_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let max = 200 * KIB as u64;
    {
        let cache = open(dir.path(), 1000, max);
        for i in 0..6u64 {
            put(&cache, &format!("old-{i}"), &body(i, 30 * KIB));
        }
        cache.close();
    }
    // Reopened: the old entries were stored by a process that is gone. The count bound never
    // removes another process's entries, but the directory's byte budget applies to them.
    let cache = open(dir.path(), 1000, max);
    for i in 0..10u64 {
        let key = format!("new-{i}");
        for _ in 0..3 {
            assert!(get(&cache, &key).unwrap().is_none());
        }
        put(&cache, &key, &body(100 + i, 30 * KIB));
        let on_disk = content_bytes(dir.path());
        assert!(
            on_disk <= max,
            "after new-{i}: {on_disk} bytes on disk, max {max}"
        );
    }
    cache.run_pending_tasks();
    let new_live = (0..10)
        .filter(|i| cache.contains(&format!("new-{i}")))
        .count();
    assert!(new_live >= 3, "requested keys got in: {new_live} of 10");
    assert_eq!(cache.stats().bytes, content_bytes(dir.path()));
    assert_consistent(&cache);
}
