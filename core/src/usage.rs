//! The byte budget every process sharing a directory enforces together.
//!
//! `usage-v1` in the cache directory records the bytes of content stored there (every
//! process's, each body once). It is read and rewritten under an exclusive lock on the file
//! itself, and the same lock covers the moves that change it: a body renamed into the content
//! store is charged in the same critical section that found it missing (so two processes
//! storing one body charge it once), and a body is uncharged only after it was unlinked (a
//! crash in between leaves the record high, never low: the budget errs on the safe side).
//!
//! A body another key may point at (it was stored again while already present: dedup) must
//! not be removed by one process while another's index may still reference it; those
//! integrities are appended to `dedup-v1` under the lock, and their removal is left to the
//! garbage pass, which reads every process's index. Any other body has exactly one key, so
//! the process releasing it removes it at once, and the budget drops at once.
//!
//! When a process opens the directory alone, it rewrites both files from the index it just
//! loaded: no walk of the content tree, and any drift a crash left is gone.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use parking_lot::Mutex;

use crate::content;
use crate::error::{CacheError, Result};
use crate::{files, layout};

pub const USAGE_FILE: &str = "usage-v1";
pub const DEDUP_FILE: &str = "dedup-v1";

/// A sweep reads the whole index under the lock every process writes under: after one that
/// took `d`, the next waits `SWEEP_BACKOFF * d`, so sweeps hold the lock at most ~1/10 of
/// the time whatever the size of the cache.
const SWEEP_BACKOFF: u32 = 10;

/// Digits written for the byte count: fixed width, so a rewrite is one small write in place.
const WIDTH: usize = 20;

pub(crate) struct Usage {
    /// File locks exclude other processes; this excludes this process's other threads (they
    /// share one open file, and a lock is held per open file, not per thread).
    in_process: Mutex<()>,
    record: File,
    dedup_path: PathBuf,
    /// Integrities listed in `dedup-v1`, and how much of the file has been read into it.
    dedup: Mutex<(HashSet<String>, u64)>,
    next_sweep: Mutex<Option<Instant>>,
}

/// What releasing a body did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Released {
    /// Unlinked now; this many bytes came off the budget (0 if it was already gone).
    Removed(u64),
    /// Possibly referenced by another process's key: left to the garbage pass.
    Deferred,
}

impl Usage {
    pub fn open(dir: &Path) -> Result<Usage> {
        let record = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(USAGE_FILE))
            .map_err(|e| CacheError::io(&e, "opening the usage record"))?;
        Ok(Usage {
            in_process: Mutex::new(()),
            record,
            dedup_path: dir.join(DEDUP_FILE),
            dedup: Mutex::new((HashSet::new(), 0)),
            next_sweep: Mutex::new(None),
        })
    }

    /// Rewrites the record from what the index holds (call only when no other process has the
    /// directory open): `bodies` is every (integrity, size) an index entry points at, with
    /// repeats for keys sharing a body.
    pub fn recount<'a>(&self, bodies: impl IntoIterator<Item = (&'a str, u64)>) -> Result<u64> {
        let mut seen = HashSet::new();
        let mut shared = HashSet::new();
        let mut total = 0u64;
        for (integrity, size) in bodies {
            if seen.insert(integrity) {
                total += size;
            } else {
                shared.insert(integrity.to_owned());
            }
        }
        self.locked(|bytes, usage| {
            *bytes = total;
            let mut text = String::new();
            for integrity in &shared {
                text.push_str(integrity);
                text.push('\n');
            }
            fs::write(&usage.dedup_path, &text)
                .map_err(|e| CacheError::io(&e, "rewriting the dedup list"))?;
            *usage.dedup.lock() = (shared.clone(), text.len() as u64);
            Ok(())
        })?;
        Ok(total)
    }

    /// Bytes of content recorded for the directory.
    pub fn bytes(&self) -> u64 {
        self.locked(|bytes, _| Ok(*bytes)).unwrap_or(0)
    }

    /// Moves a finished body into the content store at `target`, charging its `size` unless
    /// the same body is already there (then it is marked as shared instead). Returns whether
    /// it was already there. `place` does the move.
    pub fn store<T>(
        &self,
        integrity: &str,
        target: &Path,
        size: u64,
        place: impl FnOnce() -> Result<T>,
    ) -> Result<(T, bool)> {
        self.locked(|bytes, usage| {
            let present = target.exists();
            let placed = place()?;
            if present {
                usage.mark_shared(integrity)?;
            } else {
                *bytes = bytes.saturating_add(size);
            }
            Ok((placed, present))
        })
    }

    /// Removes the body `integrity` that no key of this process points at any more. While
    /// other processes have the directory open, a body ever stored twice may still be theirs:
    /// it is deferred.
    pub fn release(&self, dir: &Path, integrity: &str, others_alive: bool) -> Released {
        let result = self.locked(|bytes, usage| {
            if others_alive && usage.is_shared(integrity) {
                return Ok(Released::Deferred);
            }
            let path = integrity
                .parse()
                .map(|sri| content::content_path(dir, &sri))
                .ok();
            // The file's length is the body's size (and 0 if it is already gone).
            let freed = path
                .as_ref()
                .and_then(|p| fs::metadata(p).ok())
                .map_or(0, |m| m.len());
            content::remove(dir, integrity)?;
            *bytes = bytes.saturating_sub(freed);
            Ok(Released::Removed(freed))
        });
        result.unwrap_or(Released::Deferred)
    }

    /// Removes every content file no index line on disk points at and re-anchors the record
    /// on what is left. Holds the record's lock throughout: every process writes a body and
    /// its index line under that lock (`store`), so nothing here is a write half done and no
    /// grace period is needed. It reads the whole index, so it backs off (`SWEEP_BACKOFF`).
    /// `now` skips the back-off (a process leaving the directory leaves it within budget).
    pub fn sweep_shared(
        &self,
        dir: &Path,
        now: bool,
        index: impl FnOnce() -> Result<Vec<crate::index::StoredEntry>>,
    ) {
        if !now && self.next_sweep.lock().is_some_and(|at| Instant::now() < at) {
            return;
        }
        let started = Instant::now();
        let _ = self.locked(|bytes, _| {
            // An index that cannot be read whole cannot tell garbage: no sweep.
            let referenced: HashSet<PathBuf> = index()?
                .iter()
                .map(|e| content::content_path(dir, &e.integrity))
                .collect();
            // A directory that cannot be listed stops the sweep before the record is
            // rewritten: what it removed until then leaves the record high, never low.
            let mut kept = 0u64;
            files::walk_files(&dir.join(layout::CONTENT_DIR), &mut |path, meta| {
                if referenced.contains(path) || fs::remove_file(path).is_err() {
                    kept += meta.len();
                } else {
                    content::blocks::remove_for_content(dir, path);
                }
                Ok(())
            })
            .map_err(|e| CacheError::io(&e, "listing content for the shared sweep"))?;
            *bytes = kept;
            Ok(())
        });
        *self.next_sweep.lock() = Some(Instant::now() + started.elapsed() * SWEEP_BACKOFF);
    }

    /// Content removed by a pass that found it unreferenced (garbage, `clear`).
    pub fn uncharge(&self, bytes: u64) -> Result<()> {
        if bytes == 0 {
            return Ok(());
        }
        self.locked(|recorded, _| {
            *recorded = recorded.saturating_sub(bytes);
            Ok(())
        })
    }

    fn mark_shared(&self, integrity: &str) -> Result<()> {
        if self.is_shared(integrity) {
            return Ok(());
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.dedup_path)
            .map_err(|e| CacheError::io(&e, "opening the dedup list"))?;
        file.write_all(format!("{integrity}\n").as_bytes())
            .map_err(|e| CacheError::io(&e, "writing the dedup list"))?;
        Ok(())
    }

    /// Whether `integrity` is listed as shared; reads what other processes appended since the
    /// last look (called under the lock, so the file is not growing meanwhile).
    fn is_shared(&self, integrity: &str) -> bool {
        let mut dedup = self.dedup.lock();
        if let Ok(mut file) = File::open(&self.dedup_path) {
            let len = file.metadata().map_or(0, |m| m.len());
            if len < dedup.1 {
                // Rewritten by a process that opened alone: read it again from the start.
                *dedup = (HashSet::new(), 0);
            }
            if len > dedup.1 && file.seek(SeekFrom::Start(dedup.1)).is_ok() {
                let mut tail = String::new();
                if file.read_to_string(&mut tail).is_ok() {
                    let complete = tail.rfind('\n').map_or(0, |at| at + 1);
                    for line in tail[..complete].lines() {
                        dedup.0.insert(line.to_owned());
                    }
                    dedup.1 += complete as u64;
                }
            }
        }
        dedup.0.contains(integrity)
    }

    /// Runs `f` on the recorded byte count under the exclusive lock, writing it back if it
    /// changed. An unreadable record (a write cut short) counts as 0 until the next recount.
    fn locked<T>(&self, f: impl FnOnce(&mut u64, &Usage) -> Result<T>) -> Result<T> {
        let _thread = self.in_process.lock();
        self.record
            .lock()
            .map_err(|e| CacheError::io(&e, "locking the usage record"))?;
        let result = (|| {
            let mut file = &self.record;
            let mut text = String::new();
            file.seek(SeekFrom::Start(0))
                .map_err(|e| CacheError::io(&e, "reading the usage record"))?;
            let _ = file.read_to_string(&mut text);
            let before: u64 = text.trim().parse().unwrap_or(0);
            let mut bytes = before;
            let value = f(&mut bytes, self)?;
            if bytes != before || text.len() != WIDTH + 1 {
                file.seek(SeekFrom::Start(0))
                    .map_err(|e| CacheError::io(&e, "writing the usage record"))?;
                file.write_all(format!("{bytes:0WIDTH$}\n").as_bytes())
                    .map_err(|e| CacheError::io(&e, "writing the usage record"))?;
            }
            Ok(value)
        })();
        let _ = self.record.unlock();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_stored_twice_is_charged_once_and_deferred_while_shared() {
        let dir = tempfile::tempdir().unwrap();
        let usage = Usage::open(dir.path()).unwrap();
        let sri = cacache::write_hash_sync(dir.path(), b"hello").unwrap();
        let path = content::content_path(dir.path(), &sri);
        fs::remove_file(&path).unwrap();
        let place = || {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, b"hello").unwrap();
            Ok(())
        };
        assert!(!usage.store(&sri.to_string(), &path, 5, place).unwrap().1);
        assert!(usage.store(&sri.to_string(), &path, 5, place).unwrap().1);
        assert_eq!(usage.bytes(), 5);
        // Another process's handle sees the same record and the dedup mark.
        let other = Usage::open(dir.path()).unwrap();
        assert_eq!(other.bytes(), 5);
        assert_eq!(
            other.release(dir.path(), &sri.to_string(), true),
            Released::Deferred
        );
        assert_eq!(
            other.release(dir.path(), &sri.to_string(), false),
            Released::Removed(5)
        );
        assert_eq!(usage.bytes(), 0);
        assert!(!path.exists());
    }

    #[test]
    fn recount_rewrites_bytes_and_the_shared_list() {
        let dir = tempfile::tempdir().unwrap();
        let usage = Usage::open(dir.path()).unwrap();
        let total = usage
            .recount([("sha256-a", 10), ("sha256-b", 7), ("sha256-a", 10)])
            .unwrap();
        assert_eq!(total, 17);
        assert_eq!(Usage::open(dir.path()).unwrap().bytes(), 17);
        assert!(Usage::open(dir.path()).unwrap().is_shared("sha256-a"));
        assert!(!usage.is_shared("sha256-b"));
    }
}
