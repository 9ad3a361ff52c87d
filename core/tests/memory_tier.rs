//! The RAM tier against real files: what it serves, and that it stops serving a body the
//! moment this process or another one (a second cache on the same directory) replaces,
//! updates, deletes or corrupts it.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::*;
use streaming_cache_core::{CacheOptions, MemoryTierOptions, StreamingCache};

fn open(dir: &std::path::Path) -> StreamingCache {
    StreamingCache::open(dir, CacheOptions::default()).unwrap()
}

/// Reads `key` from disk as the binding does on a disk hit and offers it to the tier.
fn warm(cache: &StreamingCache, key: &str) -> bool {
    let (entry, mut reader) = cache.open_body(key).unwrap().expect("cached");
    let bytes = drain(&mut reader).unwrap();
    cache.offer_hot(&entry, Bytes::from(bytes)).is_some()
}

fn hot(cache: &StreamingCache, key: &str) -> Option<Vec<u8>> {
    cache.hot_body(key).map(|h| h.body().to_vec())
}

#[test]
fn a_warmed_body_is_served_from_ram_with_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(1, 100_000);
    cache.put_bytes("k", meta(200), &data).unwrap();
    assert!(
        hot(&cache, "k").is_none(),
        "nothing is hot before a disk read"
    );
    assert!(warm(&cache, "k"));
    let h = cache.hot_body("k").unwrap();
    assert!(h.body()[..] == data[..]);
    assert!(Arc::ptr_eq(h.entry(), &cache.lookup("k").unwrap()));
    assert!(h.take_export());
    assert!(!h.take_export(), "exported without a copy only once");
    let (bytes, count) = cache.hot_usage();
    assert_eq!(count, 1);
    assert!(bytes >= data.len() as u64);
}

#[test]
fn replace_update_delete_and_clear_stop_the_ram_copy() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    cache.put_bytes("k", meta(200), b"old").unwrap();
    assert!(warm(&cache, "k"));
    cache.put_bytes("k", meta(200), b"new").unwrap();
    assert!(hot(&cache, "k").is_none(), "replaced");
    assert_eq!(get(&cache, "k").unwrap().unwrap(), b"new");

    assert!(warm(&cache, "k"));
    assert!(cache.update_metadata("k", meta(203)).unwrap());
    assert!(
        hot(&cache, "k").is_none(),
        "the fields changed: the entry it was admitted for is gone"
    );

    assert!(warm(&cache, "k"));
    assert!(cache.delete("k").unwrap());
    assert!(hot(&cache, "k").is_none(), "deleted");

    cache.put_bytes("k", meta(200), b"again").unwrap();
    assert!(warm(&cache, "k"));
    cache.clear().unwrap();
    assert!(hot(&cache, "k").is_none(), "cleared");
    assert_eq!(cache.hot_usage().1, 0);
}

#[test]
fn another_process_replacing_or_deleting_the_key_sends_the_next_lookup_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let ours = open(dir.path());
    let theirs = open(dir.path());
    ours.put_bytes("k", meta(200), b"first").unwrap();
    assert!(warm(&ours, "k"));
    assert_eq!(hot(&ours, "k").unwrap(), b"first");

    theirs.refresh().unwrap();
    theirs.put_bytes("k", meta(200), b"second").unwrap();
    assert!(hot(&ours, "k").is_none(), "their replace is seen at once");

    ours.refresh().unwrap();
    assert_eq!(get(&ours, "k").unwrap().unwrap(), b"second");
    assert!(warm(&ours, "k"));
    assert_eq!(hot(&ours, "k").unwrap(), b"second");
    theirs.refresh().unwrap();
    assert!(theirs.delete("k").unwrap());
    assert!(hot(&ours, "k").is_none(), "their delete is seen at once");
}

#[test]
fn a_stale_entry_is_not_admitted() {
    let dir = tempfile::tempdir().unwrap();
    let ours = open(dir.path());
    let theirs = open(dir.path());
    ours.put_bytes("k", meta(200), b"first").unwrap();
    let (entry, mut reader) = ours.open_body("k").unwrap().unwrap();
    let bytes = drain(&mut reader).unwrap();
    // Replaced on disk by another process between our read and the admission.
    theirs.put_bytes("k", meta(200), b"second").unwrap();
    assert!(ours.offer_hot(&entry, Bytes::from(bytes)).is_none());
    assert!(hot(&ours, "k").is_none());
}

#[test]
fn corruption_found_through_one_key_drops_every_hot_copy_of_that_content() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(7, 10_000);
    cache.put_bytes("a", meta(200), &data).unwrap();
    cache.put_bytes("b", meta(200), &data).unwrap();
    assert!(warm(&cache, "a"));
    let file = only_content_file(dir.path());
    let mut damaged = data.clone();
    damaged[5000] ^= 0xff;
    std::fs::write(&file, &damaged).unwrap();
    assert!(
        get(&cache, "b").is_err(),
        "the damaged file fails verification"
    );
    assert!(hot(&cache, "a").is_none());
    assert!(hot(&cache, "b").is_none());
}

#[test]
fn off_and_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    let off = StreamingCache::open(
        dir.path(),
        CacheOptions::default().with_memory(MemoryTierOptions::off()),
    )
    .unwrap();
    off.put_bytes("k", meta(200), b"x").unwrap();
    assert!(!off.fits_hot(1));
    assert!(!warm(&off, "k"));
    assert!(off.hot_body("k").is_none());

    let dir = tempfile::tempdir().unwrap();
    let small = StreamingCache::open(
        dir.path(),
        CacheOptions::default().with_memory(MemoryTierOptions {
            max_size: 1 << 20,
            max_entry_size: 1000,
        }),
    )
    .unwrap();
    small.put_bytes("fits", meta(200), &body(1, 1000)).unwrap();
    small
        .put_bytes("too-big", meta(200), &body(2, 1001))
        .unwrap();
    assert!(small.fits_hot(1000) && !small.fits_hot(1001));
    assert!(warm(&small, "fits"));
    assert!(!warm(&small, "too-big"));

    let bad = MemoryTierOptions {
        max_size: 10,
        max_entry_size: 20,
    };
    assert!(StreamingCache::open(dir.path(), CacheOptions::default().with_memory(bad)).is_err());
}

#[test]
fn the_tier_stays_within_its_byte_budget() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 1u64 << 20;
    let cache = StreamingCache::open(
        dir.path(),
        CacheOptions::default().with_memory(MemoryTierOptions {
            max_size: budget,
            max_entry_size: 100_000,
        }),
    )
    .unwrap();
    for i in 0..50 {
        let key = format!("k{i}");
        cache.put_bytes(&key, meta(200), &body(i, 100_000)).unwrap();
        // Asked for a few times, as hot keys are.
        for _ in 0..3 {
            let _ = cache.hot_body(&key);
        }
        warm(&cache, &key);
    }
    let (bytes, count) = cache.hot_usage();
    assert!(bytes <= budget, "{bytes} bytes held, budget {budget}");
    assert!(
        (1..=10).contains(&count),
        "{count} bodies of 100 kB in 1 MiB"
    );
}
