//! Helpers shared by the integration tests: deterministic bodies, chunked writes, reads with
//! a 64 KiB buffer, and counting what actually lies on disk.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::json;
use streaming_cache_core::{BodyReader, CacheError, EntryMeta, StreamingCache, CHUNK_SIZE};

pub const READ_BUF: usize = 64 * 1024;

/// `len` bytes that differ for each `seed` (xorshift), so no two test bodies collide by accident.
pub fn body(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    if state == 0 {
        state = 1;
    }
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&bytes[..take]);
    }
    out
}

pub fn meta(status: u16) -> EntryMeta {
    EntryMeta::from_value(json!({ "status": status })).unwrap()
}

/// The SRI string cacache computes for `bytes` with the default algorithm (sha256).
pub fn integrity_of(bytes: &[u8]) -> String {
    cacache::Integrity::from(bytes).to_string()
}

/// Writes `data` through `cache.writer()` in uneven chunks (some larger than CHUNK_SIZE) and
/// commits it under `key`.
pub fn put_chunked(cache: &StreamingCache, key: &str, data: &[u8]) -> Result<(), CacheError> {
    let mut writer = cache.writer();
    let sizes = [1usize, 999, CHUNK_SIZE, 3 * CHUNK_SIZE + 7, 12_345];
    let mut offset = 0;
    let mut i = 0;
    while offset < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - offset);
        writer.write(&data[offset..offset + n])?;
        offset += n;
        i += 1;
    }
    assert_eq!(writer.written(), data.len() as u64);
    cache.commit(key, meta(200), writer)?;
    Ok(())
}

/// Drains what is left of `reader` with a 64 KiB buffer. Every successful read must fill the buffer as far as
/// the body allows (and so never exceed 64 KiB); after the end, reads keep returning 0.
pub fn drain(reader: &mut BodyReader) -> Result<Vec<u8>, CacheError> {
    let mut buf = vec![0u8; READ_BUF];
    let start = reader.position();
    let mut out = Vec::with_capacity((reader.size() - start) as usize);
    loop {
        let remaining = reader.size() - reader.position();
        let n = reader.read(&mut buf)?;
        assert!(
            n <= READ_BUF,
            "read returned {n} bytes, more than the buffer"
        );
        assert_eq!(
            n as u64,
            remaining.min(READ_BUF as u64),
            "short read before the end"
        );
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert!(reader.is_done());
    assert_eq!(reader.position(), reader.size());
    assert_eq!(reader.read(&mut buf)?, 0, "reads after the end return 0");
    assert_eq!(start + out.len() as u64, reader.size());
    Ok(out)
}

/// The body stored under `key`, `None` on a miss.
pub fn get(cache: &StreamingCache, key: &str) -> Result<Option<Vec<u8>>, CacheError> {
    match cache.open_body(key)? {
        None => Ok(None),
        Some((entry, mut reader)) => {
            assert_eq!(entry.key, key);
            assert_eq!(reader.size(), entry.size);
            drain(&mut reader).map(Some)
        }
    }
}

fn files_under(root: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every file under `<dir>/content-v2` (one per stored body).
pub fn content_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    files_under(&dir.join("content-v2"), &mut out);
    out.sort();
    out
}

/// Every file under `<dir>/tmp` (in-progress or leaked writes).
pub fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    files_under(&dir.join("tmp"), &mut out);
    out
}

/// The single content file in `dir`; panics unless there is exactly one.
pub fn only_content_file(dir: &Path) -> PathBuf {
    let files = content_files(dir);
    assert_eq!(
        files.len(),
        1,
        "expected exactly one content file, found {files:?}"
    );
    files.into_iter().next().unwrap()
}

/// Checks the cache's bookkeeping against the disk: after all pending work, the ledger holds
/// exactly the live keys, and the content files are exactly the bodies those keys point at.
/// Returns the live keys.
pub fn assert_consistent(cache: &StreamingCache) -> Vec<String> {
    cache.run_pending_tasks();
    let live_count = cache.entry_count();
    cache.run_pending_tasks();
    let live = cache.keys_with_prefix("");
    assert_eq!(
        live.len() as u64,
        live_count,
        "moka count vs live keys {live:?}"
    );
    assert_eq!(
        cache.disk_entry_count(),
        live.len(),
        "ledger holds exactly the live keys"
    );
    let integrities: BTreeSet<String> = live
        .iter()
        .map(|key| cache.lookup(key).expect("live key").integrity_string())
        .collect();
    let files = content_files(cache.dir());
    assert_eq!(
        files.len(),
        integrities.len(),
        "content files on disk vs distinct live integrities: {files:?} vs {integrities:?}"
    );
    for integrity in &integrities {
        let users = live
            .iter()
            .filter(|key| cache.lookup(key).unwrap().integrity_string() == *integrity)
            .count();
        assert_eq!(
            cache.references(integrity),
            users,
            "reference count of {integrity}"
        );
    }
    assert!(
        tmp_files(cache.dir()).is_empty(),
        "no temp files left behind"
    );
    live
}
