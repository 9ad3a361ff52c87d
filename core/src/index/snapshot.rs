//! A compact copy of the live index in one file, so opening a large cache reads one file
//! instead of walking, reading, hashing and parsing every bucket.
//!
//! It holds what the in-memory index needs per key (content address, size, time stored), not
//! the response fields, which lookups read from the key's bucket.
//!
//! When it may be trusted: every process joining the directory takes a number from a shared
//! counter (`index-generation`, under its lock), and removes the snapshot before it can write
//! anything, so while any process is writing there is no snapshot. A process writes one on
//! close only if it was alone from its open to its close: no other process was alive when it
//! opened and nobody joined since (the counter still holds its number, checked under the same
//! lock the writing holds). Then every index line written since its load is its own, so its
//! memory is the whole index. A crash removes nothing and writes nothing (its snapshot was
//! gone since its open), and an open that finds a dead owner ignores any snapshot.
//!
//! Buckets are not checked at open (a `stat` per key would cost more than the rest of the
//! load): a lookup reads the key's bucket anyway for the response fields and follows it if it
//! no longer holds the line the snapshot named, so a bucket changed behind the cache's back (by
//! hand, by another tool) is never served stale; a key added that way is found by its first
//! lookup, as any key another process stores while this one runs.
//!
//! Format: magic, counts, records, and an xxh3 checksum of all of it; a torn or altered file
//! is ignored (the walk is the fallback, never an error).

use std::fs;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::files;

pub const SNAPSHOT_FILE: &str = "index-snapshot-v1";
pub const GENERATION_FILE: &str = "index-generation";
const MAGIC: &[u8; 16] = b"hsc-index-snap1\n";

/// One live key as the in-memory index needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: Arc<str>,
    pub integrity: Arc<str>,
    pub size: u64,
    pub stored_at: u64,
}

/// What a snapshot held.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: Vec<Record>,
    /// Undecodable lines the walk that preceded it found (reported again at each open).
    pub skipped: usize,
}

/// This process's place in the order of joins (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Joined {
    number: u64,
}

/// Takes the next number from the directory's join counter.
pub fn join(dir: &Path) -> io::Result<Joined> {
    with_counter(dir, |counter| {
        *counter += 1;
        Ok(Joined { number: *counter })
    })
}

/// Reads and removes the snapshot (removed whatever it held: this process may write from now
/// on). `None` if there was none, or it was torn.
pub fn take(dir: &Path) -> io::Result<Option<Loaded>> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    discard(dir)?;
    Ok(decode(&bytes))
}

/// Removes the snapshot, if any.
pub fn discard(dir: &Path) -> io::Result<()> {
    match fs::remove_file(dir.join(SNAPSHOT_FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Writes the snapshot if nobody joined the directory since `joined` (the caller vouches that
/// nobody else was alive when it joined). `records` is called under the counter's lock, so no
/// process can join (and start writing) between the check and the rename. Returns whether it
/// was written.
pub fn write_if_alone(
    dir: &Path,
    joined: Joined,
    skipped: usize,
    records: impl FnOnce() -> Option<Vec<Record>>,
) -> io::Result<bool> {
    with_counter(dir, |counter| {
        if *counter != joined.number {
            return Ok(false);
        }
        let Some(records) = records() else {
            return Ok(false);
        };
        let bytes = encode(&records, skipped);
        let path = dir.join(SNAPSHOT_FILE);
        let temp = temp_path(&path);
        let written = (|| {
            let mut file = files::private_file_options()
                .create(true)
                .truncate(true)
                .write(true)
                .open(&temp)?;
            file.write_all(&bytes)?;
            fs::rename(&temp, &path)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written.map(|()| true)
    })
}

fn temp_path(path: &Path) -> PathBuf {
    path.with_extension(format!("tmp-{}", std::process::id()))
}

/// Runs `f` on the join counter under its exclusive lock, writing it back afterwards.
fn with_counter<T>(dir: &Path, f: impl FnOnce(&mut u64) -> io::Result<T>) -> io::Result<T> {
    let mut file = files::private_file_options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(dir.join(GENERATION_FILE))?;
    file.lock()?;
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    // An unreadable counter (a write cut short) restarts past any number it could have held
    // only if it parses; else from a fresh value that no live process holds (time-based).
    let mut counter = text.trim().parse().unwrap_or_else(|_| now_nanos());
    let before = counter;
    let result = f(&mut counter)?;
    if counter != before || text.trim().parse::<u64>().is_err() {
        file.seek(SeekFrom::Start(0))?;
        file.set_len(0)?;
        file.write_all(format!("{counter}\n").as_bytes())?;
    }
    Ok(result)
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn encode(records: &[Record], skipped: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + records.len() * 128);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    out.extend_from_slice(&(skipped as u64).to_le_bytes());
    for record in records {
        for text in [&*record.key, &*record.integrity] {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
            out.extend_from_slice(text.as_bytes());
        }
        for n in [record.size, record.stored_at] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }
    let sum = xxhash_rust::xxh3::xxh3_64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<Loaded> {
    let (body, sum) = bytes.split_at_checked(bytes.len().checked_sub(8)?)?;
    if xxhash_rust::xxh3::xxh3_64(body).to_le_bytes() != sum {
        return None;
    }
    let mut input = body.strip_prefix(MAGIC.as_slice())?;
    let count = take_u64(&mut input)?;
    let skipped = usize::try_from(take_u64(&mut input)?).ok()?;
    // Each record takes at least 24 bytes: a count the file cannot hold is a damaged one.
    if count > (input.len() / 24) as u64 {
        return None;
    }
    let mut records = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let key = take_text(&mut input)?;
        let integrity = take_text(&mut input)?;
        let size = take_u64(&mut input)?;
        let stored_at = take_u64(&mut input)?;
        records.push(Record {
            key,
            integrity,
            size,
            stored_at,
        });
    }
    input.is_empty().then_some(Loaded { records, skipped })
}

fn take_u64(input: &mut &[u8]) -> Option<u64> {
    let (head, rest) = input.split_first_chunk::<8>()?;
    *input = rest;
    Some(u64::from_le_bytes(*head))
}

/// Straight into the shared string the index keeps (one allocation, nothing to free).
fn take_text(input: &mut &[u8]) -> Option<Arc<str>> {
    let (head, rest) = input.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*head) as usize;
    let (text, rest) = rest.split_at_checked(len)?;
    *input = rest;
    std::str::from_utf8(text).ok().map(Arc::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(key: &str) -> Record {
        Record {
            key: key.into(),
            integrity: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            size: 5,
            stored_at: 7,
        }
    }

    #[test]
    fn a_snapshot_written_alone_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let me = join(dir.path()).unwrap();
        let records = vec![record("a"), record("b")];
        assert!(write_if_alone(dir.path(), me, 3, || Some(records.clone())).unwrap());
        join(dir.path()).unwrap();
        let loaded = take(dir.path()).unwrap().unwrap();
        assert_eq!((loaded.records, loaded.skipped), (records, 3));
        // Taken: the next open walks unless a process writes a new one.
        assert!(take(dir.path()).unwrap().is_none());
    }

    #[test]
    fn nothing_is_written_after_another_process_joined() {
        let dir = tempfile::tempdir().unwrap();
        let me = join(dir.path()).unwrap();
        join(dir.path()).unwrap();
        assert!(!write_if_alone(dir.path(), me, 0, || Some(vec![record("a")])).unwrap());
        assert!(!dir.path().join(SNAPSHOT_FILE).exists());
    }

    #[test]
    fn a_torn_snapshot_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let me = join(dir.path()).unwrap();
        assert!(write_if_alone(dir.path(), me, 0, || Some(vec![record("a")])).unwrap());
        let path = dir.path().join(SNAPSHOT_FILE);
        let bytes = fs::read(&path).unwrap();
        fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert!(take(dir.path()).unwrap().is_none());
        assert!(!path.exists());
    }
}
