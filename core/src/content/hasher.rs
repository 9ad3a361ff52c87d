//! Hashing off the I/O path. SHA-256 costs about as much CPU per chunk as reading or writing
//! it, so done in line it halves throughput. A body's first chunk is hashed in line (most
//! bodies are one chunk, and a thread hop would cost more than it saves); from the second
//! chunk on, the running hash state moves to a hasher thread and each chunk is sent there as
//! a copy, so the next read or write overlaps the hashing. Queues are bounded: a hasher that
//! falls behind slows the I/O down instead of piling up memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::OnceLock;

use ssri::{Algorithm, Integrity, IntegrityChecker, IntegrityOpts};

use super::xxh3_check::Xxh3Check;

/// Chunks queued per hasher thread before senders wait.
const QUEUE: usize = 8;

/// A hash in progress: building a new integrity (writes) or checking a known one (reads).
pub enum HashState {
    Build(IntegrityOpts),
    Check(IntegrityChecker),
    /// The common check (one xxh3 digest), without ssri's allocations (see `xxh3_check`).
    CheckXxh3(Xxh3Check),
}

/// The result: the integrity built, or whether the check passed.
pub enum HashOutcome {
    Built(Integrity),
    Checked(Result<Algorithm, ssri::Error>),
}

impl HashState {
    /// A check against `integrity` of a body of `size` bytes, if known.
    pub fn check(integrity: &Integrity, size: Option<u64>) -> Self {
        match Xxh3Check::new(integrity, size) {
            Some(fast) => HashState::CheckXxh3(fast),
            None => HashState::Check(IntegrityChecker::new(integrity.clone())),
        }
    }

    fn input(&mut self, bytes: &[u8]) {
        match self {
            HashState::Build(opts) => opts.input(bytes),
            HashState::Check(checker) => checker.input(bytes),
            HashState::CheckXxh3(check) => check.input(bytes),
        }
    }

    fn finish(self) -> HashOutcome {
        match self {
            HashState::Build(opts) => HashOutcome::Built(opts.result()),
            HashState::Check(checker) => HashOutcome::Checked(checker.result()),
            HashState::CheckXxh3(check) => HashOutcome::Checked(check.finish()),
        }
    }
}

enum Job {
    Start(u64, HashState),
    Data(u64, Vec<u8>),
    Finish(u64, SyncSender<HashOutcome>),
    Discard(u64),
}

/// An incremental hash that offloads to a hasher thread once the body has a second chunk.
pub struct IncrementalHash {
    inline: Option<HashState>,
    offloaded: Option<(u64, SyncSender<Job>)>,
    /// xxh3 alone runs at ~20 GB/s: copying a chunk to another thread would cost more.
    always_inline: bool,
}

impl IncrementalHash {
    pub fn new(state: HashState) -> Self {
        IncrementalHash {
            inline: Some(state),
            offloaded: None,
            always_inline: false,
        }
    }

    /// A check against `integrity` of a body of `size` bytes, in line when its algorithm is
    /// cheap.
    pub fn checking(integrity: &Integrity, size: u64) -> Self {
        let always_inline = integrity.pick_algorithm() == Algorithm::Xxh3;
        IncrementalHash {
            inline: Some(HashState::check(integrity, Some(size))),
            offloaded: None,
            always_inline,
        }
    }

    pub fn input(&mut self, bytes: &[u8], first_chunk: bool) {
        if first_chunk || self.always_inline {
            if let Some(state) = self.inline.as_mut() {
                state.input(bytes);
                return;
            }
        }
        if self.offloaded.is_none() {
            if let Some(state) = self.inline.take() {
                let id = next_id();
                let tx = hasher_for(id);
                // A hasher thread that is gone (never in practice) falls back to in-line work.
                if tx.send(Job::Start(id, state)).is_ok() {
                    self.offloaded = Some((id, tx));
                } else {
                    return;
                }
            }
        }
        match &self.offloaded {
            Some((id, tx)) => {
                let _ = tx.send(Job::Data(*id, bytes.to_vec()));
            }
            None => {
                if let Some(state) = self.inline.as_mut() {
                    state.input(bytes);
                }
            }
        }
    }

    /// Waits for every chunk to be hashed and returns the result.
    pub fn finish(mut self) -> Option<HashOutcome> {
        if let Some(state) = self.inline.take() {
            return Some(state.finish());
        }
        let (id, tx) = self.offloaded.take()?;
        let (reply_tx, reply_rx) = sync_channel(1);
        tx.send(Job::Finish(id, reply_tx)).ok()?;
        reply_rx.recv().ok()
    }
}

impl Drop for IncrementalHash {
    fn drop(&mut self) {
        if let Some((id, tx)) = self.offloaded.take() {
            let _ = tx.send(Job::Discard(id));
        }
    }
}

fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// One queue per hasher thread; a body sticks to one thread so its chunks stay in order.
fn hasher_for(id: u64) -> SyncSender<Job> {
    static HASHERS: OnceLock<Vec<SyncSender<Job>>> = OnceLock::new();
    let hashers = HASHERS.get_or_init(|| {
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        (0..threads)
            .map(|i| {
                let (tx, rx) = sync_channel(QUEUE);
                std::thread::Builder::new()
                    .name(format!("streaming-cache-hash-{i}"))
                    .spawn(move || run(rx))
                    .expect("a hasher thread must start");
                tx
            })
            .collect()
    });
    hashers[(id % hashers.len() as u64) as usize].clone()
}

fn run(jobs: Receiver<Job>) {
    let mut states: HashMap<u64, HashState> = HashMap::new();
    for job in jobs {
        match job {
            Job::Start(id, state) => {
                states.insert(id, state);
            }
            Job::Data(id, bytes) => {
                if let Some(state) = states.get_mut(&id) {
                    state.input(&bytes);
                }
            }
            Job::Finish(id, reply) => {
                if let Some(state) = states.remove(&id) {
                    let _ = reply.send(state.finish());
                }
            }
            Job::Discard(id) => {
                states.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offloaded_hash_equals_in_line_hash() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let expected = IntegrityOpts::new()
            .algorithm(Algorithm::Sha256)
            .chain(&data)
            .result();
        let mut hash = IncrementalHash::new(HashState::Build(
            IntegrityOpts::new().algorithm(Algorithm::Sha256),
        ));
        for (i, chunk) in data.chunks(65536).enumerate() {
            hash.input(chunk, i == 0);
        }
        let Some(HashOutcome::Built(got)) = hash.finish() else {
            panic!("no result")
        };
        assert_eq!(got, expected);

        let mut check = IncrementalHash::new(HashState::check(&expected, None));
        for (i, chunk) in data.chunks(65536).enumerate() {
            check.input(if i == 2 { b"tampered" } else { chunk }, i == 0);
        }
        let Some(HashOutcome::Checked(result)) = check.finish() else {
            panic!("no result")
        };
        assert!(result.is_err());
    }

    #[test]
    fn abandoned_hashes_are_discarded() {
        for _ in 0..100 {
            let mut hash = IncrementalHash::new(HashState::Build(
                IntegrityOpts::new().algorithm(Algorithm::Sha256),
            ));
            hash.input(b"a", true);
            hash.input(b"b", false);
        }
        let mut hash = IncrementalHash::new(HashState::Build(
            IntegrityOpts::new().algorithm(Algorithm::Sha256),
        ));
        hash.input(b"ab", true);
        assert!(hash.finish().is_some());
    }
}
