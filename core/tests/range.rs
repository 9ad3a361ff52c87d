//! Range reads (`StreamingCache::open_range`): the right bytes at every edge, only the touched
//! blocks verified, corruption inside a range failing it (and dropping the entry) while
//! corruption outside does not, and the block-checksum sidecars written, shared, rebuilt and
//! removed with their bodies.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use streaming_cache_core::content::blocks::{self, BLOCK_SIZE};
use streaming_cache_core::{CacheError, CacheOptions, StreamingCache};

const B: u64 = BLOCK_SIZE;

fn open(dir: &Path) -> StreamingCache {
    StreamingCache::open(dir, CacheOptions::default()).unwrap()
}

fn range(cache: &StreamingCache, key: &str, start: u64, end: u64) -> Result<Vec<u8>, CacheError> {
    let (_, mut reader) = cache.open_range(key, start, end)?.expect("a hit");
    assert!(reader.is_range());
    drain(&mut reader)
}

fn sidecar_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(blocks::BLOCKS_DIR)];
    while let Some(d) = stack.pop() {
        let Ok(items) = fs::read_dir(&d) else {
            continue;
        };
        for item in items {
            let path = item.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

/// Flips one byte of the file at `path`, at `offset`.
fn flip(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0xff;
    fs::write(path, bytes).unwrap();
}

/// A cache holding one body of 5 blocks and 123 bytes under "big".
fn stored() -> (tempfile::TempDir, StreamingCache, Vec<u8>, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(7, (5 * B + 123) as usize);
    put_chunked(&cache, "big", &data).unwrap();
    let content = only_content_file(dir.path());
    (dir, cache, data, content)
}

#[test]
fn ranges_at_every_edge_read_exactly_their_bytes() {
    let (dir, cache, data, _) = stored();
    let size = data.len() as u64;
    assert_eq!(
        sidecar_files(dir.path()).len(),
        1,
        "one sidecar written with the body"
    );
    let cases = [
        (0, 0),
        (0, B - 1),
        (B - 1, B),
        (B, B),
        (B - 1, 3 * B),
        (2 * B + 5, 2 * B + 5),
        (size - 1, size - 1),
        (size - 200, size - 1),
        (0, size - 1),
        (3, size + 1_000_000), // past the end: up to the last byte
    ];
    for (start, end) in cases {
        let last = end.min(size - 1);
        let got = range(&cache, "big", start, end).unwrap();
        assert_eq!(
            got,
            &data[start as usize..=last as usize],
            "range {start}-{end}"
        );
    }
    // Starting past the end: an empty reader, nothing read.
    let (_, mut reader) = cache.open_range("big", size, size + 10).unwrap().unwrap();
    assert_eq!(reader.size(), 0);
    assert_eq!(drain(&mut reader).unwrap(), b"");
    // A full read still works, and still verifies the whole body.
    assert_eq!(get(&cache, "big").unwrap().unwrap(), data);
    assert!(cache.open_range("absent", 0, 1).unwrap().is_none());
}

#[test]
fn corruption_outside_the_range_does_not_fail_it_inside_does() {
    let (dir, cache, data, content) = stored();
    flip(&content, 4 * B + 10); // block 4
                                // Blocks 0-3 are untouched by the damage: served, and the entry stays.
    assert_eq!(
        range(&cache, "big", B, 4 * B - 1).unwrap(),
        &data[B as usize..4 * B as usize]
    );
    assert_eq!(
        range(&cache, "big", 5 * B, 5 * B + 50).unwrap(),
        &data[5 * B as usize..=(5 * B + 50) as usize]
    );
    assert!(cache.lookup("big").is_some());
    // A range touching block 4 fails with the integrity error, and only verified bytes came out.
    let (_, mut reader) = cache.open_range("big", 3 * B, 4 * B + 20).unwrap().unwrap();
    let mut buf = vec![0u8; READ_BUF];
    let mut out = Vec::new();
    let err = loop {
        match reader.read(&mut buf) {
            Ok(0) => panic!("a corrupt block reached a clean end"),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(err) => break err,
        }
    };
    assert_eq!(err.code(), "ERR_CACHE_INTEGRITY", "{err}");
    assert_eq!(
        out,
        &data[3 * B as usize..4 * B as usize],
        "block 3 came out, nothing of block 4"
    );
    assert!(reader.read(&mut buf).is_err(), "stays failed");
    // Dropped like a corrupt full read: entry, content and its sidecar are gone.
    assert!(cache.lookup("big").is_none());
    assert!(cache.open_range("big", 0, 0).unwrap().is_none());
    assert!(!content.exists());
    assert!(sidecar_files(dir.path()).is_empty());
}

#[test]
fn truncation_fails_only_the_ranges_it_reaches() {
    let (_dir, cache, data, content) = stored();
    let file = fs::OpenOptions::new().write(true).open(&content).unwrap();
    file.set_len(3 * B + 7).unwrap();
    drop(file);
    assert_eq!(
        range(&cache, "big", 0, 2 * B).unwrap(),
        &data[..=2 * B as usize]
    );
    let err = range(&cache, "big", 3 * B, 3 * B + 100).unwrap_err();
    assert_eq!(err.code(), "ERR_CACHE_INTEGRITY");
    assert!(cache.lookup("big").is_none());
}

#[test]
fn a_body_without_a_sidecar_is_verified_whole_once_then_gets_one() {
    let (dir, cache, data, content) = stored();
    // As written before sidecars existed.
    for sidecar in sidecar_files(dir.path()) {
        fs::remove_file(sidecar).unwrap();
    }
    assert_eq!(
        range(&cache, "big", 2 * B, 2 * B + 9).unwrap(),
        &data[2 * B as usize..=(2 * B + 9) as usize]
    );
    assert_eq!(
        sidecar_files(dir.path()).len(),
        1,
        "the first range read wrote the sidecar"
    );
    // With the sidecar back, damage outside a range no longer matters to it.
    flip(&content, 10);
    assert_eq!(
        range(&cache, "big", 2 * B, 3 * B).unwrap(),
        &data[2 * B as usize..=3 * B as usize]
    );

    // Without a sidecar, the whole-body check catches damage anywhere (the lazy rebuild reads
    // everything): the range fails and the entry goes.
    let (dir, cache, _, content) = stored();
    for sidecar in sidecar_files(dir.path()) {
        fs::remove_file(sidecar).unwrap();
    }
    flip(&content, 5 * B + 3);
    assert_eq!(
        range(&cache, "big", 0, 10).unwrap_err().code(),
        "ERR_CACHE_INTEGRITY"
    );
    assert!(cache.lookup("big").is_none());
    assert!(
        sidecar_files(dir.path()).is_empty(),
        "no sidecar written for a corrupt body"
    );
}

#[test]
fn a_damaged_sidecar_is_rebuilt_not_taken_for_corruption() {
    let (dir, cache, data, _) = stored();
    let sidecar = sidecar_files(dir.path()).pop().unwrap();
    let before = fs::read(&sidecar).unwrap();
    flip(&sidecar, 24 + 8 * 2 + 1); // block 2's checksum
    assert_eq!(
        range(&cache, "big", 2 * B, 2 * B + 99).unwrap(),
        &data[2 * B as usize..(2 * B + 100) as usize]
    );
    assert!(cache.lookup("big").is_some(), "the entry is kept");
    assert_eq!(
        fs::read(&sidecar).unwrap(),
        before,
        "rebuilt as it was written"
    );
    // A sidecar of the wrong length or for another size is ignored and rebuilt too.
    fs::write(&sidecar, b"garbage").unwrap();
    assert_eq!(range(&cache, "big", 0, 0).unwrap(), &data[..1]);
    assert_eq!(fs::read(&sidecar).unwrap(), before);
}

#[test]
fn one_block_bodies_have_no_sidecar_and_are_checked_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(3, B as usize);
    cache.put_bytes("small", meta(200), &data).unwrap();
    cache.put_bytes("empty", meta(200), b"").unwrap();
    assert!(sidecar_files(dir.path()).is_empty());
    assert_eq!(range(&cache, "small", 10, 19).unwrap(), &data[10..20]);
    assert_eq!(
        range(&cache, "small", B - 1, B + 5).unwrap(),
        &data[B as usize - 1..]
    );
    assert_eq!(range(&cache, "empty", 0, 0).unwrap(), b"");
    let content = content_files(dir.path())
        .into_iter()
        .find(|p| fs::read(p).unwrap() == data)
        .unwrap();
    flip(&content, B - 1);
    assert_eq!(
        range(&cache, "small", 0, 0).unwrap_err().code(),
        "ERR_CACHE_INTEGRITY"
    );
    assert!(cache.lookup("small").is_none());
}

#[test]
fn shared_content_shares_its_sidecar_which_goes_with_the_last_key() {
    let dir = tempfile::tempdir().unwrap();
    let cache = open(dir.path());
    let data = body(11, (2 * B + 1) as usize);
    put_chunked(&cache, "a", &data).unwrap();
    put_chunked(&cache, "b", &data).unwrap();
    assert_eq!(sidecar_files(dir.path()).len(), 1);
    assert!(cache.delete("a").unwrap());
    assert_eq!(
        range(&cache, "b", B, B + 1).unwrap(),
        &data[B as usize..B as usize + 2]
    );
    assert_eq!(sidecar_files(dir.path()).len(), 1, "still used by b");
    assert!(cache.delete("b").unwrap());
    cache.run_pending_tasks();
    assert!(content_files(dir.path()).is_empty());
    assert!(
        sidecar_files(dir.path()).is_empty(),
        "removed with the content"
    );
}

#[test]
fn verify_and_clear_remove_stray_sidecars_and_count_only_bodies() {
    let (dir, cache, data, _) = stored();
    // A stray: the sidecar of content that is not there.
    let stray = dir.path().join(blocks::BLOCKS_DIR).join("sha512/aa/bb/cc");
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, b"left by a crash").unwrap();
    let report = cache.verify().unwrap();
    assert_eq!(
        (report.verified, report.corrupt, report.orphans_removed),
        (1, 0, 0)
    );
    assert!(!stray.exists());
    assert_eq!(
        sidecar_files(dir.path()).len(),
        1,
        "the live body's sidecar stays"
    );
    assert_eq!(range(&cache, "big", 0, 3).unwrap(), &data[..4]);
    cache.clear().unwrap();
    assert!(sidecar_files(dir.path()).is_empty());
}
