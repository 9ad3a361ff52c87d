//! `StreamingCache`: ties the content layer, the disk index, the ledger and the TinyLFU index
//! together. Every change to what a key points at happens under the ledger lock, so the disk
//! index, the reference counts and the in-memory index move together; lookups never take it.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::capacity::{Index, Victim};
use crate::content::{self, reader::BodyReader, writer::BodyWriter};
use crate::entry::EntryMeta;
use crate::error::{CacheError, Result};
use crate::eviction::{Cleaner, CleanupQueue};
use crate::eviction_log::EvictionRecord;
use crate::files;
use crate::garbage::{self, content_path, Collected, Pass};
use crate::index::slot::{Materialized, Recent, Slot};
use crate::index::snapshot::{self, Record};
use crate::index::{disk, Ledger, StoredEntry};
use crate::memory_tier::{HotBody, MemoryTier};
use crate::options::{validate_key, CacheOptions};
use crate::presence::Presence;
use crate::stats::{Counters, Stats};
use crate::usage::{Released, Usage};

/// A disk-backed cache of response bodies with a bounded in-memory index.
/// Cheap to clone: clones share one cache.
#[derive(Clone)]
pub struct StreamingCache {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    options: CacheOptions,
    index: Index,
    ledger: Mutex<Ledger>,
    cleanup: CleanupQueue,
    skipped_on_load: usize,
    /// `None` once closed.
    presence: Mutex<Option<Presence>>,
    /// This process's join number, while it may write the index snapshot on close (it was
    /// alone with the directory when it opened).
    joined_alone: Option<snapshot::Joined>,
    /// Body writers alive in this process: their temp files are not garbage.
    active_writers: Arc<AtomicUsize>,
    /// Keys with a delete under way: their disk entry must not be adopted back meanwhile.
    deleting: Mutex<HashMap<String, usize>>,
    /// Orders commits and deletes in this process (see `StoredEntry::seq`).
    clock: AtomicU64,
    /// Full entries recently read back from their buckets (see `index::slot`).
    recent: Recent,
    /// The directory's byte budget, shared with other processes.
    usage: Usage,
    counters: Arc<Counters>,
    /// Hot bodies in RAM. Only serves an entry the index still holds, so dropping an entry
    /// from `index` is enough for correctness; the eviction listener frees its memory.
    hot: Arc<MemoryTier>,
}

/// What one attempt at opening a key's body found.
enum Opened {
    Found(Arc<StoredEntry>, BodyReader),
    Miss,
    /// The entry's content file was gone; the entry has been dropped.
    Vanished,
}

impl Opened {
    fn into_found(self) -> Option<(Arc<StoredEntry>, BodyReader)> {
        match self {
            Opened::Found(entry, reader) => Some((entry, reader)),
            Opened::Miss | Opened::Vanished => None,
        }
    }
}

/// A delete whose in-memory half is done (see `StreamingCache::begin_delete`).
#[derive(Debug)]
pub struct PendingDelete {
    key: String,
    /// When the delete was asked for: wall-clock ms (for other processes' entries) and this
    /// process's commit order.
    since: u64,
    seq: u64,
    was_live: bool,
}

/// What `verify` found and did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct VerifyReport {
    /// Index entries checked (this process's and other processes').
    pub entries: u64,
    /// Entries whose content read back intact.
    pub verified: u64,
    /// Entries whose content was missing, truncated or did not match its hash (now removed).
    pub corrupt: u64,
    /// Temp files and unreferenced content files removed.
    pub orphans_removed: u64,
    pub bytes_reclaimed: u64,
}

/// How long a file must sit unchanged before `verify` treats it as garbage while other
/// processes have the cache open (they may be between writing content and indexing it).
pub const SHARED_GRACE: Duration = Duration::from_secs(60);

impl StreamingCache {
    /// Opens the cache in `dir` (created if missing) and rebuilds the index from disk.
    pub fn open(dir: impl AsRef<Path>, options: CacheOptions) -> Result<StreamingCache> {
        options.validate()?;
        let dir = dir.as_ref().to_path_buf();
        files::create_private_dir(&dir).map_err(|e| {
            CacheError::io(&e, format!("creating cache directory {}", dir.display()))
        })?;

        let (cleanup, receiver) = CleanupQueue::new(options.cleanup_queue);
        let listener_queue = cleanup.clone();
        let hot = Arc::new(MemoryTier::new(&dir, options.memory));
        let listener_hot = hot.clone();
        let counters = Arc::new(Counters::default());
        let evictions = counters.clone();
        let index = Index::new(
            options.max_entries,
            options.max_size,
            Arc::new(move |victim: Victim| {
                // An evicted entry's hot body goes too (replacements and deletes drop theirs
                // where they happen; a hot body is only served while the index holds it).
                listener_hot.invalidate(&victim.key);
                evictions.evicted_by_size(&victim.key, victim.size);
                listener_queue.offer(victim.key, victim.integrity);
            }),
        );

        let presence = Presence::join(&dir)?;
        let joined = snapshot::join(&dir).map_err(|e| CacheError::io(&e, "joining the index"))?;
        let usage = Usage::open(&dir)?;
        let owners = presence.scan();
        let (records, skipped_on_load) = load_index(&dir, owners.dead_found)?;
        if !owners.others_alive && owners.dead_found && sweep_after_crash(&dir, &records) {
            presence.mark_clean();
        }
        if !owners.others_alive {
            // Alone: the budget is re-anchored on what the index holds (no content walk),
            // which also undoes any drift a crash or an uncounted removal left.
            usage.recount(records.iter().map(|r| (&*r.integrity, r.size)))?;
        }
        let shared = Arc::new(Shared {
            dir,
            options,
            index,
            ledger: Mutex::new(Ledger::new()),
            cleanup,
            skipped_on_load,
            presence: Mutex::new(Some(presence)),
            joined_alone: (!owners.others_alive).then_some(joined),
            active_writers: Arc::new(AtomicUsize::new(0)),
            deleting: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            recent: Recent::new(RECENT_ENTRIES),
            usage,
            counters,
            hot,
        });
        let weak: Weak<dyn Cleaner> = Arc::downgrade(&shared) as Weak<dyn Cleaner>;
        receiver.spawn(weak);
        shared.restore(records);
        Ok(StreamingCache { shared })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn options(&self) -> &CacheOptions {
        &self.shared.options
    }

    /// Index lines found on disk at open that could not be decoded (and were ignored).
    pub fn skipped_on_load(&self) -> usize {
        self.shared.skipped_on_load
    }

    /// The entry for `key`, from memory only.
    /// The response fields are read back from the key's index bucket unless something holds
    /// the entry already; a key another process replaced or deleted meanwhile is followed.
    pub fn lookup(&self, key: &str) -> Option<Arc<StoredEntry>> {
        let slot = self.shared.index.get(key)?;
        self.shared.materialize(key, &slot)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.shared.index.contains_key(key)
    }

    /// The entry for `key` with its content opened for reading. Once this returns, the body
    /// stays readable even if the key is replaced, deleted or evicted meanwhile.
    /// A key missing from memory is looked up in the disk index, so entries other processes
    /// stored (or this one evicted but not yet cleaned) are found.
    pub fn open_body(&self, key: &str) -> Result<Option<(Arc<StoredEntry>, BodyReader)>> {
        match self.open_entry(self.shared.lookup_or_adopt(key))? {
            // The body this process knew went away: another process may have replaced the
            // key (its old body is removed at once). Its entry was just dropped here, so the
            // disk index is asked straight away for the replacement, if there is one: not the
            // in-memory index again, whose TinyLFU sketch already counted this request once.
            // Nor is the replacement offered to the RAM tier by this read: the request was
            // counted for the body that vanished, so the replacement earns its place from its
            // next hit on.
            Opened::Vanished => {
                let found = self
                    .open_entry(self.shared.adopt_from_disk(key))?
                    .into_found();
                if let Some((entry, _)) = &found {
                    self.shared.hot.decline_first_offer(entry);
                }
                Ok(found)
            }
            opened => Ok(opened.into_found()),
        }
    }

    /// `open_body` for bytes `start..=end` of the body only (`end` past the last byte means up
    /// to it; a `start` past it gives an empty reader): only the blocks the range touches are
    /// read and verified (see `content::range_reader`).
    pub fn open_range(
        &self,
        key: &str,
        start: u64,
        end: u64,
    ) -> Result<Option<(Arc<StoredEntry>, BodyReader)>> {
        let Some((entry, reader)) = self.open_body(key)? else {
            return Ok(None);
        };
        let (dir, check) = (&self.shared.dir, entry.read_check());
        let reader = reader.into_range(dir, &entry.integrity, check, start, end)?;
        Ok(Some((entry, reader)))
    }

    /// Opens the body of `entry` (what a lookup found, or None for a miss), counting the hit
    /// or miss.
    fn open_entry(&self, entry: Option<Arc<StoredEntry>>) -> Result<Opened> {
        let counters = &self.shared.counters;
        let Some(entry) = entry else {
            counters.miss();
            return Ok(Opened::Miss);
        };
        match BodyReader::open(
            &self.shared.dir,
            &entry.integrity,
            entry.read_check(),
            entry.size,
        ) {
            Ok(reader) => {
                counters.hit();
                let reader = reader.metered(counters.read_meter());
                let weak = Arc::downgrade(&self.shared);
                // The entry itself, not its key and integrity string: copying and encoding
                // those on every hit cost more than the rest of the hook, which rarely runs.
                let corrupt = entry.clone();
                let reader = reader.on_corrupt(Box::new(move || {
                    if let Some(shared) = weak.upgrade() {
                        let integrity = corrupt.integrity_string();
                        shared.drop_corrupt(&corrupt.key, &integrity, corrupt.size);
                    }
                }));
                Ok(Opened::Found(entry, reader))
            }
            Err(err) if err.is_not_found() => {
                // The content vanished under us (removed by hand, or by a corruption found
                // through another key sharing it): the entry is useless, so it is a miss.
                counters.missing(&entry.key, entry.size);
                counters.miss();
                self.shared
                    .drop_disk_entry(&entry.key, &entry.integrity_string());
                // Its hot copy is of no use either: free it now.
                self.shared.hot.invalidate(&entry.key);
                Ok(Opened::Vanished)
            }
            Err(err) if err.kind() == crate::error::ErrorKind::Integrity => {
                // Not a regular file where content should be (a FIFO, a directory, a symlink):
                // damage, never something to block on or read through.
                self.shared
                    .drop_disk_entry(&entry.key, &entry.integrity_string());
                Ok(Opened::Miss)
            }
            Err(err) => Err(err),
        }
    }

    /// `hot_body`, counted as a lookup when it finds the body (a hit from RAM; a miss here is
    /// not counted: the caller goes on to the disk lookup, which counts).
    pub fn hot_lookup(&self, key: &str) -> Option<Arc<HotBody>> {
        let hot = self.hot_body(key)?;
        self.shared.counters.memory_hit();
        Some(hot)
    }

    /// The body of `key` from the RAM tier, if it holds the one this process's index names and
    /// no process changed the key on disk since (see `memory_tier`). Memory only; not counted.
    pub fn hot_body(&self, key: &str) -> Option<Arc<HotBody>> {
        self.shared.hot.get(key, || {
            self.shared.index.get(key).and_then(|slot| slot.held())
        })
    }

    /// Whether a body of `size` bytes may go to the RAM tier (it is on and the body fits).
    pub fn fits_hot(&self, size: u64) -> bool {
        self.shared.hot.fits(size)
    }

    /// Offers the whole body of `entry`, just read from disk and verified, to the RAM tier.
    /// Admitted only while both this process's index and the disk index still name `entry`.
    pub fn offer_hot(&self, entry: &Arc<StoredEntry>, body: Bytes) -> Option<Arc<HotBody>> {
        let shared = &self.shared;
        shared.hot.admit(&shared.dir, entry, body, || {
            shared
                .index
                .get(&entry.key)
                .and_then(|slot| slot.held())
                .is_some_and(|current| Arc::ptr_eq(&current, entry))
                && disk::find(&shared.dir, &entry.key)
                    .ok()
                    .flatten()
                    .is_some_and(|on_disk| {
                        on_disk.integrity == entry.integrity && on_disk.size == entry.size
                    })
        })
    }

    /// Bytes and bodies the RAM tier holds, after pending admissions and evictions.
    pub fn hot_usage(&self) -> (u64, u64) {
        (
            self.shared.hot.weighted_size(),
            self.shared.hot.entry_count(),
        )
    }

    /// A writer for a new body, bounded by `max_body_size`.
    pub fn writer(&self) -> BodyWriter {
        let options = &self.shared.options;
        BodyWriter::new(&self.shared.dir, options.algorithm, options.body_limit())
            .with_guard(Box::new(WriterGuard::new(&self.shared.active_writers)))
    }

    /// Stores the body `writer` holds under `key` with `meta`, replacing any entry there.
    pub fn commit(
        &self,
        key: &str,
        meta: EntryMeta,
        writer: BodyWriter,
    ) -> Result<Arc<StoredEntry>> {
        validate_key(key)?;
        let entry = self.shared.commit(key, meta, writer)?;
        self.shared.keep_within_budget();
        Ok(entry)
    }

    /// `commit` for a body already in memory.
    pub fn put_bytes(&self, key: &str, meta: EntryMeta, body: &[u8]) -> Result<Arc<StoredEntry>> {
        validate_key(key)?;
        let mut writer = self.writer();
        writer.write(body)?;
        let entry = self.shared.commit(key, meta, writer)?;
        self.shared.keep_within_budget();
        Ok(entry)
    }

    /// Replaces the stored fields of `key` (headers, policy, ...) keeping its body: no content
    /// is rewritten. Returns `false` if `key` is not cached.
    pub fn update_metadata(&self, key: &str, meta: EntryMeta) -> Result<bool> {
        self.shared.update_metadata(key, meta, None)
    }

    /// `update_metadata` that applies only while `key` still holds the body `integrity` (the
    /// one the new fields were computed for), checked and written under the key's index lock,
    /// so a put landing in between (here or in another process) is never given these fields.
    /// Returns `false` ("not found") otherwise.
    pub fn update_metadata_if(&self, key: &str, meta: EntryMeta, integrity: &str) -> Result<bool> {
        self.shared.update_metadata(key, meta, Some(integrity))
    }

    /// Removes `key`. Returns whether it was live. Content another key shares is kept.
    pub fn delete(&self, key: &str) -> Result<bool> {
        let pending = self.begin_delete(key);
        self.finish_delete(pending)
    }

    /// The in-memory half of `delete`, cheap enough for the caller's thread: from here on
    /// lookups miss, before the disk work in `finish_delete` is done. A put that commits
    /// after this call survives the delete.
    pub fn begin_delete(&self, key: &str) -> PendingDelete {
        let shared = &self.shared;
        *shared.deleting.lock().entry(key.to_owned()).or_insert(0) += 1;
        let was_live = shared.index.remove(key).is_some();
        let seq = shared.clock.fetch_add(1, Ordering::AcqRel) + 1;
        PendingDelete {
            key: key.to_owned(),
            since: now_millis(),
            seq,
            was_live,
        }
    }

    /// Removes the entry `begin_delete` hid, unless a newer one was stored since. Returns
    /// whether the key was present.
    pub fn finish_delete(&self, pending: PendingDelete) -> Result<bool> {
        let shared = &self.shared;
        let result = (|| {
            let mut ledger = shared.ledger.lock();
            // Checked on disk too, under the key's index lock: another process may have
            // stored the key, and must not have its newer entry tombstoned.
            let on_disk = disk::with_bucket(&shared.dir, &pending.key, |bucket| {
                let on_disk = bucket.current()?;
                let newer_here = shared
                    .index
                    .get(&pending.key)
                    .is_some_and(|e| e.seq > pending.seq);
                let newer_elsewhere = on_disk
                    .as_ref()
                    .is_some_and(|e| e.stored_at > pending.since);
                if newer_here || newer_elsewhere {
                    return Ok(None);
                }
                if on_disk.is_some() {
                    bucket.remove()?;
                }
                Ok(Some(on_disk))
            });
            shared.hot.note_disk_change();
            let on_disk = on_disk?;
            let Some(on_disk) = on_disk else {
                return Ok(pending.was_live);
            };
            if let Some((integrity, true)) = ledger.unbind(&pending.key) {
                shared.release_content(&integrity);
            }
            shared.index.remove(&pending.key);
            Ok(pending.was_live || on_disk.is_some())
        })();
        let mut deleting = shared.deleting.lock();
        if let Some(count) = deleting.get_mut(&pending.key) {
            *count -= 1;
            if *count == 0 {
                deleting.remove(&pending.key);
            }
        }
        result
    }

    /// Removes every entry stored before the call (by any process) and the content no
    /// remaining entry points at. Entries other processes store while it runs survive; their
    /// writes are never disturbed (nothing is removed from under a bucket or directory they
    /// may be writing to). While other processes have the directory open, content younger than
    /// `SHARED_GRACE` is left to a later garbage pass (it may be their write in progress).
    pub fn clear(&self) -> Result<()> {
        let shared = &self.shared;
        let mut ledger = shared.ledger.lock();
        let until = now_millis();
        shared.index.invalidate_all();
        shared.hot.invalidate_all();
        ledger.clear();
        let removed = disk::remove_stored_until(&shared.dir, until);
        shared.hot.note_disk_change();
        removed?;
        let (entries, _) = disk::load_all(&shared.dir)?;
        let referenced = entries
            .iter()
            .map(|e| content_path(&shared.dir, &e.integrity))
            .collect();
        let grace = shared.garbage_grace();
        let reclaimed = garbage::collect(&shared.dir, &referenced, grace, None, None)
            .map_err(|e| CacheError::io(&e, "removing cleared content"))?;
        shared.usage.uncharge(reclaimed.bytes)?;
        if !grace.is_zero() {
            shared.cleanup.request_garbage_pass();
        }
        drop(ledger);
        shared.index.run_pending_tasks();
        Ok(())
    }

    /// Live entries, after moka has applied pending admissions and evictions.
    pub fn entry_count(&self) -> u64 {
        self.shared.index.run_pending_tasks();
        self.shared.index.entry_count()
    }

    /// Applies moka's pending work and waits until the disk cleanup it caused is done.
    /// Blocks: call it off the JS thread.
    pub fn run_pending_tasks(&self) {
        self.shared.index.run_pending_tasks();
        self.shared.cleanup.flush_blocking();
    }

    /// Reads every entry's content and checks its hash, removing corrupt entries, temp files
    /// and content no entry points at. Only a hash mismatch, a short read or missing content
    /// is corruption: a file that could not be read (EMFILE, EIO, EACCES...) stops the pass
    /// with that error and nothing more is removed. Puts that commit while it runs are kept
    /// (their content is newer than the pass). Safe while other processes use the directory:
    /// then only files untouched for `SHARED_GRACE` count as garbage.
    pub fn verify(&self) -> Result<VerifyReport> {
        let shared = &self.shared;
        let started = SystemTime::now();
        let mut report = VerifyReport::default();
        let (entries, _) = disk::load_all(&shared.dir)?;
        let mut buffer = vec![0u8; content::CHUNK_SIZE];
        for entry in entries {
            report.entries += 1;
            match check_content(&shared.dir, &entry, &mut buffer) {
                Checked::Intact => report.verified += 1,
                Checked::Corrupt => {
                    report.corrupt += 1;
                    let integrity = entry.integrity_string();
                    shared.usage.release(&shared.dir, &integrity, false);
                    shared.hot.invalidate_integrity(&integrity);
                    shared.drop_disk_entry(&entry.key, &integrity);
                }
                Checked::Unreadable(err) => return Err(err),
            }
        }
        let reclaimed = shared.garbage_pass(started, Pass::Remove)?.total();
        report.orphans_removed = reclaimed.files;
        report.bytes_reclaimed = reclaimed.bytes;
        Ok(report)
    }

    /// `verify`'s garbage step alone (no hashing): removes temp files of unfinished writes and
    /// content (with its block sidecars) no entry of any process points at, under the same
    /// rules, so a body a live writer or another process may still commit is never judged.
    /// With `Pass::DryRun` it only counts what it would remove.
    pub fn collect_garbage(&self, pass: Pass) -> Result<Collected> {
        self.shared.garbage_pass(SystemTime::now(), pass)
    }

    /// Brings the in-memory index in line with the disk: adopts entries other processes
    /// stored, forgets keys they deleted. What the snapshot suggests is confirmed per key under
    /// the lock, so a put committed meanwhile is neither forgotten nor replaced by its past.
    pub fn refresh(&self) -> Result<()> {
        let shared = &self.shared;
        let (entries, _) = disk::load_all(&shared.dir)?;
        let mut ledger = shared.ledger.lock();
        let on_disk: HashSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
        let maybe_gone: Vec<String> = ledger
            .keys()
            .filter(|(k, _)| !on_disk.contains(*k))
            .map(|(k, _)| k.to_owned())
            .collect();
        for key in maybe_gone {
            if disk::find(&shared.dir, &key)?.is_some() {
                continue;
            }
            if let Some((integrity, true)) = ledger.unbind(&key) {
                shared.release_content(&integrity);
            }
            shared.index.remove(&key);
        }
        for entry in entries {
            let known = match shared.index.get(&entry.key) {
                Some(live) => live.stored_at == entry.stored_at,
                None => ledger.integrity_of(&entry.key) == Some(entry.integrity_string().as_str()),
            };
            if known {
                continue;
            }
            if let Some(current) = disk::find(&shared.dir, &entry.key)? {
                let newer_here = shared
                    .index
                    .get(&current.key)
                    .is_some_and(|e| e.stored_at >= current.stored_at);
                if !newer_here {
                    shared.adopt(&mut ledger, current);
                }
            }
        }
        Ok(())
    }

    /// Finishes pending cleanup and lets go of the directory: other processes no longer count
    /// this one as a user. The cache should not be used afterwards.
    pub fn close(&self) {
        self.run_pending_tasks();
        self.shared.enforce_budget(true);
        self.shared.write_snapshot();
        self.shared.presence.lock().take();
    }

    /// Keys with content on disk and in the ledger (including evictions not yet cleaned).
    pub fn disk_entry_count(&self) -> usize {
        self.shared.ledger.lock().len()
    }

    /// Live keys starting with `prefix` (all keys for an empty prefix), in order.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        let ledger = self.shared.ledger.lock();
        ledger
            .keys_with_prefix(prefix)
            .filter(|key| self.shared.index.contains_key(key))
            .map(str::to_owned)
            .collect()
    }

    /// Whether any live key starts with `prefix` (`keys_with_prefix` without the list).
    pub fn has_keys_with_prefix(&self, prefix: &str) -> bool {
        let ledger = self.shared.ledger.lock();
        let found = ledger
            .keys_with_prefix(prefix)
            .any(|key| self.shared.index.contains_key(key));
        found
    }

    /// Counters since open, with the sizes they relate to.
    pub fn stats(&self) -> Stats {
        let shared = &self.shared;
        let (_, dedup_saved_bytes) = shared.index.bytes();
        Stats {
            entries: self.entry_count(),
            bytes: shared.usage.bytes(),
            max_size: shared.options.max_size,
            max_entries: shared.options.max_entries,
            dedup_saved_bytes,
            ..shared.counters.snapshot()
        }
    }

    /// Entries evicted since the last call, key by key (the latest `eviction_log::CAPACITY`).
    pub fn take_evictions(&self) -> Vec<EvictionRecord> {
        self.shared.counters.take_evictions()
    }

    /// How many live keys point at `integrity`.
    pub fn references(&self, integrity: &str) -> usize {
        self.shared.ledger.lock().references(integrity)
    }
}

enum Checked {
    Intact,
    /// Missing, truncated, not a regular file, or not matching its hash.
    Corrupt,
    /// Could not be read: says nothing about the content.
    Unreadable(CacheError),
}

fn check_content(dir: &Path, entry: &StoredEntry, buffer: &mut [u8]) -> Checked {
    use crate::error::ErrorKind;
    let judge = |err: CacheError| match err.kind() {
        ErrorKind::Integrity => Checked::Corrupt,
        _ if err.is_not_found() => Checked::Corrupt,
        _ => Checked::Unreadable(err),
    };
    // The full cryptographic check, not the fast one reads use: verify is the thorough pass.
    let mut reader = match BodyReader::open(dir, &entry.integrity, &entry.integrity, entry.size) {
        Ok(reader) => reader,
        Err(err) => return judge(err),
    };
    loop {
        match reader.read(buffer) {
            Ok(0) => return Checked::Intact,
            Ok(_) if reader.is_done() => return Checked::Intact,
            Ok(_) => {}
            Err(err) => return judge(err),
        }
    }
}

/// The open-time sweep, run only after an unclean shutdown (a dead process's owner file was
/// found) and only while alone with the directory: temp files and unreferenced content are
/// then a crashed writer's leftovers. An error anywhere stops it; nothing is judged unseen.
fn sweep_after_crash(dir: &Path, records: &[Record]) -> bool {
    let referenced = records
        .iter()
        .filter_map(|r| crate::index::bucket::parse_integrity(&r.integrity))
        .map(|integrity| content_path(dir, &integrity))
        .collect();
    garbage::collect(dir, &referenced, Duration::ZERO, Some(Duration::ZERO), None).is_ok()
        && garbage::prune_empty_dirs(dir).is_ok()
}

/// Counts a live body writer for as long as it exists.
struct WriterGuard(Arc<AtomicUsize>);

impl WriterGuard {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        WriterGuard(count.clone())
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Shared {
    /// The garbage step `verify` and `collect_garbage` share. The referenced set is taken under
    /// the lock: this process commits under the same lock, so every put that finished is in
    /// it. Files written since `started` are spared whatever the set says, and temp files are
    /// given `SHARED_GRACE` while a writer of this process is alive.
    fn garbage_pass(&self, started: SystemTime, pass: Pass) -> Result<Collected> {
        let ledger = self.ledger.lock();
        let referenced = self.referenced_content(&ledger)?;
        let grace = self.garbage_grace();
        let tmp_grace = if self.active_writers.load(Ordering::Acquire) > 0 {
            SHARED_GRACE
        } else {
            grace
        };
        let collected = garbage::collect_by_place(
            &self.dir,
            &referenced,
            grace,
            Some(tmp_grace),
            Some(started),
            pass,
        )
        .map_err(|e| CacheError::io(&e, "collecting garbage"))?;
        if pass == Pass::Remove {
            // Content was charged to the shared budget; temp files never were.
            self.usage.uncharge(collected.content.bytes)?;
        }
        Ok(collected)
    }

    fn others_alive(&self) -> bool {
        self.presence
            .lock()
            .as_ref()
            .is_some_and(Presence::others_alive)
    }

    /// Files younger than this may be another process's write in progress.
    fn garbage_grace(&self) -> Duration {
        if self.others_alive() {
            SHARED_GRACE
        } else {
            Duration::ZERO
        }
    }

    /// Content no key of this process references any more. Reference counts are per process,
    /// so while another process has the directory open it may point at the same content: then
    /// the removal is left to a garbage pass, which reads every process's index first.
    /// A body stored once has no other key anywhere, so it goes at once even then (see
    /// `usage`): the shared budget must drop while other processes are writing.
    fn release_content(&self, integrity: &str) {
        if self
            .usage
            .release(&self.dir, integrity, self.others_alive())
            == Released::Deferred
        {
            self.cleanup.request_garbage_pass();
        }
    }

    /// After a commit: if the directory is over `max_size`, apply this process's pending
    /// evictions and wait for their disk cleanup, so the disk holds at most `max_size` plus
    /// the bodies being written. If it is still over, other processes' bodies fill it: evict
    /// this process's entries, oldest stored first, until it fits.
    fn keep_within_budget(&self) {
        self.enforce_budget(false);
    }

    fn enforce_budget(&self, leaving: bool) {
        let max = self.options.max_size;
        if self.usage.bytes() <= max {
            return;
        }
        self.index.run_pending_tasks();
        self.cleanup.flush_blocking();
        if self.usage.bytes() <= max {
            return;
        }
        // Bodies stored more than once wait for a pass over every process's index; it runs
        // here, under the record's lock, when its back-off allows.
        self.usage.sweep_shared(&self.dir, leaving, || {
            disk::load_all(&self.dir).map(|(entries, _)| entries)
        });
        // Still over: the byte budget is the directory's, so entries this process did not
        // store count too (unlike `max_entries`, which bounds this process's memory and never
        // removes another's entries). First those its bounds already pushed out of memory but
        // left on disk, then live ones, oldest stored first (the order every process can read
        // from disk). A victim whose body is shared frees nothing yet, so this goes on until
        // the record fits or this process has nothing left to give.
        let over = |usage: &Usage| usage.bytes().saturating_sub(max);
        {
            let mut ledger = self.ledger.lock();
            let unloved: Vec<String> = ledger
                .keys()
                .filter(|(key, _)| !self.index.contains_key(key))
                .map(|(key, _)| key.to_owned())
                .collect();
            for key in unloved {
                if over(&self.usage) == 0 {
                    return;
                }
                let size = self.content_size(ledger.integrity_of(&key));
                if self.unbind(&mut ledger, &key).is_ok() {
                    self.counters.evicted_by_budget(&key, size);
                }
            }
        }
        loop {
            let excess = over(&self.usage);
            if excess == 0 {
                return;
            }
            let victims = self.index.evict_oldest(excess);
            if victims.is_empty() {
                return;
            }
            let mut ledger = self.ledger.lock();
            for Victim {
                key,
                integrity,
                size,
            } in victims
            {
                self.counters.evicted_by_budget(&key, size);
                // Put back meanwhile, or already cleaned: nothing to do.
                if !self.index.contains_key(&key)
                    && ledger.integrity_of(&key) == Some(integrity.as_str())
                {
                    let _ = self.unbind(&mut ledger, &key);
                }
            }
        }
    }

    /// Content every index entry on disk and every key bound here points at. Called under the
    /// ledger lock, so this process's commits cannot interleave.
    fn referenced_content(&self, ledger: &Ledger) -> Result<HashSet<PathBuf>> {
        let (entries, _) = disk::load_all(&self.dir)?;
        let mut referenced: HashSet<PathBuf> = entries
            .iter()
            .map(|e| content_path(&self.dir, &e.integrity))
            .collect();
        referenced.extend(
            ledger
                .keys()
                .filter_map(|(_, i)| crate::index::bucket::parse_integrity(i))
                .map(|i| content_path(&self.dir, &i)),
        );
        Ok(referenced)
    }

    fn lookup_or_adopt(&self, key: &str) -> Option<Arc<StoredEntry>> {
        if let Some(slot) = self.index.get(key) {
            return self.materialize(key, &slot);
        }
        self.adopt_from_disk(key)
    }

    /// `key`'s entry in the disk index, made live here; None if it has none (or is being
    /// deleted by this process).
    fn adopt_from_disk(&self, key: &str) -> Option<Arc<StoredEntry>> {
        if self.deleting.lock().contains_key(key) {
            return None;
        }
        disk::find(&self.dir, key).ok().flatten()?;
        let mut ledger = self.ledger.lock();
        if let Some(raced) = self.index.get(key) {
            drop(ledger);
            return self.materialize(key, &raced);
        }
        // Read again under the lock: a delete or replace may have landed since the look
        // above, and adopting that stale line would bring a deleted key back to life.
        let entry = disk::find(&self.dir, key).ok().flatten()?;
        Some(self.adopt(&mut ledger, entry))
    }

    /// Makes `entry` (read from disk) live here: ledger and moka.
    fn adopt(&self, ledger: &mut Ledger, entry: StoredEntry) -> Arc<StoredEntry> {
        let key: Arc<str> = entry.key.as_str().into();
        let integrity: Arc<str> = entry.integrity_string().into();
        if let Some(released) = ledger.bind(key.clone(), integrity.clone()) {
            self.release_content(&released);
        }
        let entry = Arc::new(entry);
        let slot = Slot::for_entry(&entry, integrity);
        self.index.insert(key, Arc::new(slot));
        entry
    }

    /// The full entry for `slot`, which `key` held in the index: read back from its bucket
    /// unless something holds it. If the bucket holds another line now (another process
    /// replaced or deleted the key), this process follows the disk.
    fn materialize(&self, key: &str, slot: &Slot) -> Option<Arc<StoredEntry>> {
        match slot.materialize(&self.dir, key, &self.recent) {
            Materialized::Found(entry) => Some(entry),
            // A failed read is a miss, not a reason to drop anything.
            Materialized::Unreadable => None,
            Materialized::Changed => self.follow_disk(key),
        }
    }

    /// Settles, under the lock, a key whose disk entry is not the one this process's index
    /// named: adopts the newer entry or forgets the deleted one (as `refresh` does).
    fn follow_disk(&self, key: &str) -> Option<Arc<StoredEntry>> {
        let mut ledger = self.ledger.lock();
        let on_disk = disk::find(&self.dir, key).ok()?;
        let slot = self.index.get(key);
        match on_disk {
            // This process committed it meanwhile (under the lock we now hold).
            Some(entry) if slot.as_ref().is_some_and(|s| s.describes(&entry)) => {
                match slot?.materialize(&self.dir, key, &self.recent) {
                    Materialized::Found(entry) => Some(entry),
                    _ => None,
                }
            }
            Some(_) if slot.is_none() && self.deleting.lock().contains_key(key) => None,
            Some(entry) => Some(self.adopt(&mut ledger, entry)),
            None => {
                if let Some((integrity, true)) = ledger.unbind(key) {
                    self.release_content(&integrity);
                }
                self.index.remove(key);
                self.hot.invalidate(key);
                None
            }
        }
    }

    /// Writes the index snapshot if this process was alone with the directory since it
    /// opened (see `index::snapshot`): its ledger is then the whole index.
    fn write_snapshot(&self) {
        let Some(joined) = self.joined_alone else {
            return;
        };
        let _ = snapshot::write_if_alone(&self.dir, joined, self.skipped_on_load, || {
            self.index.run_pending_tasks();
            let ledger = self.ledger.lock();
            let mut records = Vec::with_capacity(ledger.len());
            for (key, integrity) in ledger.keys() {
                let record = match self.index.get_quietly(key) {
                    Some(slot) if slot.integrity() == integrity => Record {
                        key: key.into(),
                        integrity: integrity.into(),
                        size: slot.size,
                        stored_at: slot.stored_at,
                    },
                    // Bound here but out of memory (evicted, another run's entry kept on
                    // disk): its fields are on disk. Anything unexpected: no snapshot.
                    _ => {
                        let entry = disk::find(&self.dir, key).ok()??;
                        if entry.integrity_string() != integrity {
                            return None;
                        }
                        Record {
                            key: entry.key.into(),
                            integrity: integrity.into(),
                            size: entry.size,
                            stored_at: entry.stored_at,
                        }
                    }
                };
                records.push(record);
            }
            // In the order the next open restores them (its sort then finds one run).
            records.sort_by_key(|r| std::cmp::Reverse(r.stored_at));
            Some(records)
        });
    }

    /// Tombstones `key` on disk if it still points at `integrity`, and forgets it here.
    fn drop_disk_entry(&self, key: &str, integrity: &str) {
        let mut ledger = self.ledger.lock();
        if ledger.integrity_of(key) == Some(integrity) {
            // `unbind` also releases the content if this was its last reference: it may be
            // back (a put of the same body raced the failed open) and must not be left behind.
            let _ = self.unbind(&mut ledger, key);
            self.index.remove(key);
        } else {
            // Not bound here (another process's entry, found by `verify`).
            let _ = disk::with_bucket(&self.dir, key, |bucket| {
                if bucket
                    .current()?
                    .is_some_and(|e| e.integrity_string() == integrity)
                {
                    bucket.remove()?;
                }
                Ok(())
            });
            self.hot.note_disk_change();
        }
    }

    fn restore(&self, mut records: Vec<Record>) {
        // Newest first: with no frequency history, TinyLFU keeps earlier admissions on ties,
        // so the most recently stored entries are the ones that survive an over-full load.
        records.sort_by_key(|r| std::cmp::Reverse(r.stored_at));
        self.index.reserve(records.len());
        let mut ledger = self.ledger.lock();
        ledger.reserve(records.len());
        for record in records {
            let slot = Slot::lean(record.integrity.clone(), record.size, record.stored_at, 0);
            if let Some(released) = ledger.bind(record.key.clone(), record.integrity) {
                self.release_content(&released);
            }
            self.index.insert(record.key, Arc::new(slot));
        }
        drop(ledger);
        self.index.run_pending_tasks();
    }

    fn commit(&self, key: &str, meta: EntryMeta, writer: BodyWriter) -> Result<Arc<StoredEntry>> {
        let finished = writer.finish()?;
        let mut ledger = self.ledger.lock();
        // The rename into the content store happens under the lock: content being released
        // by another key cannot be removed between landing here and being referenced. The
        // shared budget is charged in the same step (once per body, whoever stores it).
        let address = finished.written().address.to_string();
        let (target, size) = (finished.target().to_path_buf(), finished.written().size);
        // The index line is written in the same step too, so a budget sweep (which holds the
        // record's lock) never sees this body on disk without the line pointing at it.
        let ((entry, indexed), deduplicated) = self.usage.store(&address, &target, size, || {
            let written = finished.persist()?;
            let entry = StoredEntry {
                key: key.to_owned(),
                integrity: written.address,
                check: written.check,
                size: written.size,
                stored_at: now_millis(),
                meta,
                seq: self.clock.fetch_add(1, Ordering::AcqRel) + 1,
            };
            let indexed = disk::insert(&self.dir, &entry);
            Ok((entry, indexed))
        })?;
        let integrity: Arc<str> = entry.integrity_string().into();
        self.hot.note_disk_change();
        if let Err(err) = indexed {
            if ledger.references(&integrity) == 0 {
                self.release_content(&integrity);
            }
            return Err(err);
        }
        self.counters.stored(size, deduplicated);
        let key: Arc<str> = key.into();
        if let Some(released) = ledger.bind_own(key.clone(), integrity.clone()) {
            self.release_content(&released);
        }
        let entry = Arc::new(entry);
        self.index
            .insert(key, Arc::new(Slot::for_entry(&entry, integrity)));
        Ok(entry)
    }

    fn update_metadata(&self, key: &str, meta: EntryMeta, expected: Option<&str>) -> Result<bool> {
        let mut ledger = self.ledger.lock();
        // The disk entry is the truth (another process may have replaced the key); it is read
        // and rewritten under the key's index lock, so nothing lands in between.
        let updated = disk::with_bucket(&self.dir, key, |bucket| {
            let current = match bucket.current()? {
                Some(current) => current,
                None => return Ok(None),
            };
            if expected.is_some_and(|want| want != current.integrity_string()) {
                return Ok(None);
            }
            let seq = self.clock.fetch_add(1, Ordering::AcqRel) + 1;
            let entry = StoredEntry {
                meta,
                stored_at: now_millis(),
                seq,
                ..current
            };
            bucket.put(&entry)?;
            Ok(Some(entry))
        });
        self.hot.note_disk_change();
        let updated = updated?;
        let Some(entry) = updated else {
            return Ok(false);
        };
        // Same content: binding again moves no reference count. Whoever stored the body
        // still owns it for capacity purposes.
        let own = ledger.is_own(key)
            && ledger.integrity_of(key) == Some(entry.integrity_string().as_str());
        let (key, integrity): (Arc<str>, Arc<str>) = (key.into(), entry.integrity_string().into());
        let released = if own {
            ledger.bind_own(key.clone(), integrity.clone())
        } else {
            ledger.bind(key.clone(), integrity.clone())
        };
        if let Some(released) = released {
            self.release_content(&released);
        }
        let entry = Arc::new(entry);
        self.index
            .insert(key, Arc::new(Slot::for_entry(&entry, integrity)));
        Ok(true)
    }

    /// Removes `key` from the ledger (not from moka), and its content if unshared. The disk
    /// entry is tombstoned only while it is still the one this process knows: another process
    /// may have stored a newer one, which must survive this process evicting its old view.
    fn unbind(&self, ledger: &mut Ledger, key: &str) -> Result<()> {
        let Some(ours) = ledger.integrity_of(key).map(str::to_owned) else {
            return Ok(());
        };
        let removed = disk::with_bucket(&self.dir, key, |bucket| {
            if bucket
                .current()?
                .is_some_and(|e| e.integrity_string() == ours)
            {
                bucket.remove()?;
            }
            Ok(())
        });
        self.hot.note_disk_change();
        removed?;
        if let Some((integrity, true)) = ledger.unbind(key) {
            self.release_content(&integrity);
        }
        Ok(())
    }

    /// Bytes of the content at `integrity` on disk, 0 if unknown (only for diagnostics).
    fn content_size(&self, integrity: Option<&str>) -> u64 {
        integrity
            .and_then(crate::index::bucket::parse_integrity)
            .and_then(|i| std::fs::symlink_metadata(content_path(&self.dir, &i)).ok())
            .map_or(0, |meta| meta.len())
    }

    fn drop_corrupt(&self, key: &str, integrity: &str, size: u64) {
        // Corrupt bytes serve no key: remove them now, so every other key sharing them
        // misses on its next open instead of failing mid-stream.
        self.counters.corrupt(key, size);
        self.usage.release(&self.dir, integrity, false);
        // Keys sharing the content miss on disk from now on; their hot copies go too.
        self.hot.invalidate_integrity(integrity);
        self.drop_disk_entry(key, integrity);
    }
}

impl Cleaner for Shared {
    fn collect_garbage(&self) -> bool {
        // Under the lock: this process's commits (rename, then index) cannot interleave.
        let ledger = self.ledger.lock();
        // A pass that cannot read the whole index cannot tell garbage: it is skipped (and
        // retried with the next request).
        let Ok(referenced) = self.referenced_content(&ledger) else {
            return false;
        };
        let grace = self.garbage_grace();
        match garbage::collect(&self.dir, &referenced, grace, None, None) {
            Ok(reclaimed) => {
                // Content only (no temp files in this pass): it was charged to the budget.
                let _ = self.usage.uncharge(reclaimed.bytes);
                grace.is_zero()
            }
            Err(_) => false,
        }
    }

    fn clean_evicted(&self, key: &str, integrity: &str) {
        let mut ledger = self.ledger.lock();
        // Put back since the eviction, or already cleaned: nothing to do. An entry this
        // process did not store stays on disk: count capacity bounds this process's memory and
        // its own writes, never other processes' entries (they stay findable through
        // `lookup_or_adopt`, and bound in the ledger so their content is kept).
        if self.index.contains_key(key)
            || ledger.integrity_of(key) != Some(integrity)
            || !ledger.is_own(key)
        {
            return;
        }
        let _ = self.unbind(&mut ledger, key);
    }

    fn sweep(&self) {
        let mut ledger = self.ledger.lock();
        let stale: Vec<String> = ledger
            .keys()
            .filter(|(key, _)| !self.index.contains_key(key) && ledger.is_own(key))
            .map(|(key, _)| key.to_owned())
            .collect();
        for key in stale {
            let _ = self.unbind(&mut ledger, &key);
        }
    }
}

/// How many full entries read back from buckets stay held (about 1-2 KiB each).
const RECENT_ENTRIES: usize = 1024;

/// Below this many keys the buckets are read even when a snapshot is there: it costs little
/// (about 10 ms per thousand keys) and re-checks every bucket, so lines damaged by hand or by
/// another tool since the last close are found and counted (`skipped_on_load`) at open.
const SNAPSHOT_FROM_KEYS: usize = 2048;

/// The live index at open: from the snapshot a clean close left (for a large index), else from
/// every bucket (after a crash always: the sweep that follows needs the buckets' truth).
fn load_index(dir: &Path, after_crash: bool) -> Result<(Vec<Record>, usize)> {
    let from_snapshot = if after_crash {
        snapshot::discard(dir).map(|()| None)
    } else {
        snapshot::take(dir)
    }
    .map_err(|e| CacheError::io(&e, "reading the index snapshot"))?;
    if let Some(loaded) = from_snapshot.filter(|l| l.records.len() >= SNAPSHOT_FROM_KEYS) {
        return Ok((loaded.records, loaded.skipped));
    }
    let (entries, skipped) = disk::load_all(dir)?;
    let records = entries
        .into_iter()
        .map(|e| Record {
            integrity: e.integrity_string().into(),
            key: e.key.into(),
            size: e.size,
            stored_at: e.stored_at,
        })
        .collect();
    Ok((records, skipped))
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
