//! The hot tier: whole bodies of frequently hit entries held in RAM, so a hit on them costs no
//! file open, no read and no hash.
//!
//! Bounded by bytes and admitted by TinyLFU: a second moka cache weighed by body size, whose
//! frequency sketch sees every lookup (hits and misses alike), so a body is kept only when it
//! is asked for more often than what it would push out. Bodies are `Bytes`: one allocation
//! per admission, shared by every hit without copying.
//!
//! Correctness never depends on the tier being told about changes. A hot body is served only
//! while
//! - this process's index still holds the very `StoredEntry` it was admitted for (pointer
//!   equality: a replace, update, delete, eviction or corruption swaps or drops that entry), and
//! - the key's index bucket on disk is the file it was when the body was admitted (inode, size
//!   and mtime from one `stat`): every put or delete by any process appends a line to it, so
//!   another process's replace or delete sends the next lookup back to disk.
//!
//! The `stat` is skipped while nothing changed: every process bumps a counter shared through a
//! memory-mapped file in the cache directory (`hot-epoch`) after each change to the disk index,
//! and a hot body remembers the counter at its last check. A hit that finds it unchanged costs
//! one memory load instead of a system call; after any change, each hot body is checked once.
//!
//! The cache still invalidates the tier on every change, so memory is freed early.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use memmap2::MmapMut;
use parking_lot::Mutex;

use crate::error::{CacheError, Result};
use crate::index::StoredEntry;
use crate::layout::bucket_path;

/// 64 MiB in all.
pub const DEFAULT_MAX_SIZE: u64 = 64 * 1024 * 1024;
/// Bodies up to and including 1 MiB.
pub const DEFAULT_MAX_ENTRY_SIZE: u64 = 1024 * 1024;
/// What an entry costs beyond its body (key, bookkeeping), so tiny bodies are not free.
const ENTRY_OVERHEAD: u64 = 256;
/// Entries whose first offer is declined, at most (see `decline_first_offer`).
const MAX_DECLINED: usize = 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryTierOptions {
    /// Bytes of bodies held in all; 0 turns the tier off.
    pub max_size: u64,
    /// Largest body admitted (inclusive).
    pub max_entry_size: u64,
}

impl Default for MemoryTierOptions {
    fn default() -> Self {
        MemoryTierOptions {
            max_size: DEFAULT_MAX_SIZE,
            max_entry_size: DEFAULT_MAX_ENTRY_SIZE,
        }
    }
}

impl MemoryTierOptions {
    pub fn off() -> Self {
        MemoryTierOptions {
            max_size: 0,
            max_entry_size: 0,
        }
    }

    pub fn enabled(&self) -> bool {
        self.max_size > 0 && self.max_entry_size > 0
    }

    pub fn validate(&self) -> Result<()> {
        if self.enabled() && self.max_entry_size > self.max_size {
            return Err(CacheError::out_of_range(format!(
                "memory.maxEntrySize ({}) is larger than memory.maxSize ({})",
                self.max_entry_size, self.max_size
            )));
        }
        if self.max_entry_size > u32::MAX as u64 - ENTRY_OVERHEAD {
            return Err(CacheError::out_of_range(
                "memory.maxEntrySize must be below 4 GiB",
            ));
        }
        Ok(())
    }
}

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(path: &Path) -> Option<FileStamp> {
        let meta = std::fs::metadata(path).ok()?;
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        Some(FileStamp {
            inode,
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }
}

/// A body held in RAM, verified when it was read from disk.
pub struct HotBody {
    /// The index entry the body was admitted for; serving requires the index to still hold it.
    entry: Arc<StoredEntry>,
    body: Bytes,
    /// Unique per admission in this process: lets the binding cache what it built for it.
    generation: u64,
    bucket: PathBuf,
    bucket_stamp: FileStamp,
    /// The change counter when the bucket was last found unchanged.
    checked_at: AtomicU64,
    /// Handed out once without copying (see `take_export`).
    exported: AtomicBool,
}

impl HotBody {
    pub fn entry(&self) -> &Arc<StoredEntry> {
        &self.entry
    }

    pub fn body(&self) -> &Bytes {
        &self.body
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// `true` the first time only. Some JS engines refuse two external buffers over the same
    /// memory, so the binding shares the bytes with JS once and copies them after that.
    pub fn take_export(&self) -> bool {
        !self.exported.swap(true, Ordering::AcqRel)
    }
}

type Bodies = moka::sync::Cache<String, Arc<HotBody>>;

pub struct MemoryTier {
    bodies: Option<Bodies>,
    options: MemoryTierOptions,
    generations: AtomicU64,
    /// Shared by every process on the directory; `None` if it could not be mapped (then every
    /// hit checks the bucket).
    changes: Option<ChangeCounter>,
    /// key -> the entry whose next offer is declined (see `decline_first_offer`).
    declined: Mutex<HashMap<String, Weak<StoredEntry>>>,
}

/// A counter every process using the directory bumps after changing the disk index: one
/// `u64` in a small file mapped into each process's memory.
struct ChangeCounter {
    map: MmapMut,
}

const CHANGE_COUNTER_FILE: &str = "hot-epoch";

impl ChangeCounter {
    fn open(dir: &Path) -> Option<ChangeCounter> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(CHANGE_COUNTER_FILE))
            .ok()?;
        if file.metadata().ok()?.len() < 8 {
            // Several processes may race here: growing to the same length is harmless.
            file.set_len(8).ok()?;
        }
        // SAFETY: the mapping is only ever accessed as one AtomicU64 (see `counter`); other
        // processes change it concurrently, which is what atomics are for.
        let map = unsafe { MmapMut::map_mut(&file) }.ok()?;
        (map.len() >= 8).then_some(ChangeCounter { map })
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: the mapping is page-aligned, at least 8 bytes and lives as long as `self`.
        unsafe { &*(self.map.as_ptr() as *const AtomicU64) }
    }

    fn load(&self) -> u64 {
        self.counter().load(Ordering::Acquire)
    }

    fn bump(&self) {
        self.counter().fetch_add(1, Ordering::AcqRel);
    }
}

impl MemoryTier {
    /// The tier for the cache in `dir`. The change counter is opened even when the tier is
    /// off: this process's changes must still reach other processes' tiers.
    pub fn new(dir: &Path, options: MemoryTierOptions) -> MemoryTier {
        let bodies = options.enabled().then(|| {
            moka::sync::Cache::builder()
                .max_capacity(options.max_size)
                .weigher(|_key: &String, hot: &Arc<HotBody>| {
                    (hot.body.len() as u64 + ENTRY_OVERHEAD).min(u32::MAX as u64) as u32
                })
                .build()
        });
        MemoryTier {
            bodies,
            options,
            generations: AtomicU64::new(0),
            changes: ChangeCounter::open(dir),
            declined: Mutex::new(HashMap::new()),
        }
    }

    pub fn options(&self) -> MemoryTierOptions {
        self.options
    }

    /// Whether a body of `size` bytes may be admitted.
    pub fn fits(&self, size: u64) -> bool {
        self.bodies.is_some() && size <= self.options.max_entry_size
    }

    /// The hot body for `key` if it is still the one `current()` (this process's index entry)
    /// names and no process changed the key on disk since it was admitted. Counts the lookup
    /// for admission either way. `current` is only asked when a body is held: a miss here goes
    /// on to the disk path, whose index lookup is the one that counts for the index's TinyLFU
    /// (counting it twice would skew that policy towards keys not in RAM).
    pub fn get(
        &self,
        key: &str,
        current: impl FnOnce() -> Option<Arc<StoredEntry>>,
    ) -> Option<Arc<HotBody>> {
        let bodies = self.bodies.as_ref()?;
        let hot = bodies.get(key)?;
        if current().is_some_and(|current| Arc::ptr_eq(&hot.entry, &current)) {
            // Read before the stat: a change landing in between is seen at the next hit.
            let changes = self.changes.as_ref().map(ChangeCounter::load);
            if changes.is_some_and(|n| n == hot.checked_at.load(Ordering::Acquire)) {
                return Some(hot);
            }
            if FileStamp::of(&hot.bucket) == Some(hot.bucket_stamp) {
                if let Some(n) = changes {
                    hot.checked_at.store(n, Ordering::Release);
                }
                return Some(hot);
            }
        }
        bodies.invalidate(key);
        None
    }

    /// To be called after every change to the disk index (put, update, delete, clear), so the
    /// tiers of every process on the directory check their bodies again.
    pub fn note_disk_change(&self) {
        if let Some(changes) = &self.changes {
            changes.bump();
        }
    }

    /// Counts a lookup of `key` that did not reach the tier (so the frequency sketch sees
    /// every request for the key, not only those made while it was hot).
    pub fn touch(&self, key: &str) {
        if let Some(bodies) = &self.bodies {
            let _ = bodies.get(key);
        }
    }

    /// The next offer of `entry`'s body is turned away: it was found by a request that
    /// already counted for its key (a retry after the body it first found had vanished), so it
    /// is admitted from its next hit on, not on first sight. Bounded: past MAX_DECLINED
    /// pending declines the oldest are forgotten (those bodies are admitted on first sight).
    pub fn decline_first_offer(&self, entry: &Arc<StoredEntry>) {
        if self.bodies.is_none() || !self.fits(entry.size) {
            return;
        }
        let mut declined = self.declined.lock();
        if declined.len() >= MAX_DECLINED {
            declined.retain(|_, entry| entry.strong_count() > 0);
            if declined.len() >= MAX_DECLINED {
                declined.clear();
            }
        }
        declined.insert(entry.key.clone(), Arc::downgrade(entry));
    }

    /// Whether this offer of `entry` is the one `decline_first_offer` asked to turn away.
    fn declines(&self, entry: &Arc<StoredEntry>) -> bool {
        let mut declined = self.declined.lock();
        if declined.is_empty() {
            return false;
        }
        match declined.remove(&entry.key) {
            Some(weak) if Weak::ptr_eq(&weak, &Arc::downgrade(entry)) => true,
            // Another entry of the key (replaced since): its decline is moot.
            _ => false,
        }
    }

    /// Offers `body`, just read from disk and verified, for `entry`. `still_current` is asked
    /// after the bucket was stamped: it must confirm that both this process's index and the
    /// disk index still name `entry` (else an older body could be stamped as current).
    /// Returns the hot body (serve it either way); moka may still turn it away later, when the
    /// tier is full of bodies asked for more often.
    pub fn admit(
        &self,
        dir: &Path,
        entry: &Arc<StoredEntry>,
        body: Bytes,
        still_current: impl FnOnce() -> bool,
    ) -> Option<Arc<HotBody>> {
        let bodies = self.bodies.as_ref()?;
        if body.len() as u64 != entry.size || !self.fits(entry.size) || self.declines(entry) {
            return None;
        }
        let bucket = bucket_path(dir, &entry.key);
        let checked_at = self.changes.as_ref().map_or(u64::MAX, ChangeCounter::load);
        let bucket_stamp = FileStamp::of(&bucket)?;
        if !still_current() {
            return None;
        }
        let hot = Arc::new(HotBody {
            entry: entry.clone(),
            body,
            generation: self.generations.fetch_add(1, Ordering::AcqRel) + 1,
            bucket,
            bucket_stamp,
            checked_at: AtomicU64::new(checked_at),
            exported: AtomicBool::new(false),
        });
        bodies.insert(entry.key.clone(), hot.clone());
        Some(hot)
    }

    pub fn invalidate(&self, key: &str) {
        if let Some(bodies) = &self.bodies {
            bodies.invalidate(key);
        }
    }

    /// Drops every hot body with this content (found corrupt on disk through some key).
    pub fn invalidate_integrity(&self, integrity: &str) {
        let Some(bodies) = &self.bodies else { return };
        for (key, hot) in bodies.iter() {
            if hot.entry.integrity_string() == integrity {
                bodies.invalidate(key.as_str());
            }
        }
    }

    pub fn invalidate_all(&self) {
        if let Some(bodies) = &self.bodies {
            bodies.invalidate_all();
        }
    }

    /// Bytes held (bodies plus per-entry overhead), after pending admissions are settled.
    pub fn weighted_size(&self) -> u64 {
        self.bodies.as_ref().map_or(0, |b| {
            b.run_pending_tasks();
            b.weighted_size()
        })
    }

    pub fn entry_count(&self) -> u64 {
        self.bodies.as_ref().map_or(0, |b| {
            b.run_pending_tasks();
            b.entry_count()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_path_is_cacaches() {
        let dir = tempfile::tempdir().unwrap();
        cacache::write_sync(dir.path(), "some key", b"x").unwrap();
        assert!(bucket_path(dir.path(), "some key").is_file());
    }

    #[test]
    fn options_are_checked() {
        assert!(MemoryTierOptions::default().validate().is_ok());
        assert!(MemoryTierOptions::off().validate().is_ok());
        let too_big = MemoryTierOptions {
            max_size: 10,
            max_entry_size: 11,
        };
        assert!(too_big.validate().is_err());
    }
}
