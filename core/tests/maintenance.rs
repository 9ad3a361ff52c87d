//! Issue 10 in the core: maintenance beside concurrent writers loses nothing, metadata updates
//! apply only to the body they were computed for, two caches on one directory (as two
//! processes would) never delete each other's entries by count, and a key rewritten many times
//! keeps a small index bucket.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::*;
use streaming_cache_core::{CacheOptions, EntryMeta, StreamingCache};

fn open(dir: &std::path::Path) -> StreamingCache {
    StreamingCache::open(dir, CacheOptions::default()).unwrap()
}

#[test]
fn update_metadata_if_applies_only_to_the_body_it_was_computed_for() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let old = cache.put_bytes("k", meta(200), b"old body").unwrap();
    let patched = EntryMeta::from_json(r#"{"status":203}"#).unwrap();
    cache.put_bytes("k", meta(200), b"new body").unwrap();
    assert!(!cache
        .update_metadata_if("k", patched.clone(), &old.integrity_string())
        .unwrap());
    assert_eq!(cache.lookup("k").unwrap().meta.status, 200);
    let current = cache.lookup("k").unwrap().integrity_string();
    assert!(cache.update_metadata_if("k", patched, &current).unwrap());
    assert_eq!(open(dir.path()).lookup("k").unwrap().meta.status, 203);
}

#[test]
fn verify_refresh_and_garbage_passes_beside_writers_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let maintenance = s.spawn(|| {
            let mut passes = 0;
            while !done.load(Ordering::Acquire) {
                cache.verify().unwrap();
                cache.refresh().unwrap();
                cache.run_pending_tasks();
                passes += 1;
            }
            passes
        });
        let writers: Vec<_> = (0..3u64)
            .map(|t| {
                let cache = &cache;
                s.spawn(move || {
                    for i in 0..60u64 {
                        cache
                            .put_bytes(&format!("t{t}-{i}"), meta(200), &body(t * 1000 + i, 3000))
                            .unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(maintenance.join().unwrap() >= 1);
    });
    for t in 0..3u64 {
        for i in 0..60u64 {
            assert_eq!(
                get(&cache, &format!("t{t}-{i}")).unwrap().unwrap(),
                body(t * 1000 + i, 3000),
                "t{t}-{i}"
            );
        }
    }
    assert_eq!(cache.verify().unwrap().corrupt, 0);
}

#[test]
fn a_second_cache_with_a_smaller_bound_deletes_nothing_it_did_not_store() {
    let dir = tempfile::tempdir().unwrap();
    let big = open(dir.path());
    for i in 0..200u64 {
        big.put_bytes(&format!("k{i}"), meta(200), &body(i, 100))
            .unwrap();
    }
    let small =
        StreamingCache::open(dir.path(), CacheOptions::default().with_max_entries(10)).unwrap();
    small.run_pending_tasks();
    small.verify().unwrap();
    small.run_pending_tasks();
    drop(small);
    let reopened = open(dir.path());
    for i in 0..200u64 {
        assert_eq!(
            get(&reopened, &format!("k{i}")).unwrap().unwrap(),
            body(i, 100),
            "k{i}"
        );
    }
}

#[test]
fn clear_beside_a_writer_never_fails_and_leaves_no_dangling_entry() {
    let dir = tempfile::tempdir().unwrap();
    let writer = open(dir.path());
    let clearer = open(dir.path());
    let done = AtomicBool::new(false);
    let written = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            let mut n = 0u64;
            while !done.load(Ordering::Acquire) {
                writer
                    .put_bytes(&format!("w{n}"), meta(200), &body(n, 5000))
                    .unwrap();
                n += 1;
                written.store(n, Ordering::Release);
            }
            n
        });
        for round in 0..20u64 {
            // Interleaved with the writer's puts, not before or after them all.
            while written.load(Ordering::Acquire) <= round {
                std::thread::yield_now();
            }
            clearer.clear().unwrap();
        }
        done.store(true, Ordering::Release);
        assert!(w.join().unwrap() > 0);
    });
    drop((writer, clearer));
    let reopened = open(dir.path());
    assert_eq!(
        reopened.verify().unwrap().corrupt,
        0,
        "an entry points at removed content"
    );
}

#[test]
fn a_key_rewritten_many_times_keeps_a_small_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    for i in 0..3000u64 {
        cache.put_bytes("hot", meta(200), &body(i % 3, 10)).unwrap();
    }
    let bucket = streaming_cache_core::layout::bucket_path(dir.path(), "hot");
    let len = std::fs::metadata(&bucket).unwrap().len();
    assert!(
        len < 16 * 1024,
        "bucket of a key rewritten 3000 times is {len} bytes"
    );
    assert_eq!(
        get(&open(dir.path()), "hot").unwrap().unwrap(),
        body(2999 % 3, 10)
    );
}
