//! Disk cleanup for entries moka evicts.
//!
//! moka calls its eviction listener on whatever thread runs maintenance, often the JS thread
//! inside a lookup, so the listener must never do I/O. It offers the eviction to a bounded
//! channel; a tokio task drains it in batches and does the file work on a blocking thread.
//! When the channel is full nothing is dropped: a flag asks the worker for a sweep, which
//! finds every key that has a disk entry but is no longer in moka.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use tokio::sync::{mpsc, oneshot, Notify};

use crate::runtime;

pub(crate) enum Task {
    Evicted {
        key: String,
        integrity: String,
    },
    /// Answered once every task queued before it is done (and any pending sweep has run).
    Flush(oneshot::Sender<()>),
}

/// What the worker calls back into: the cache's own state.
pub(crate) trait Cleaner: Send + Sync + 'static {
    fn clean_evicted(&self, key: &str, integrity: &str);
    fn sweep(&self);
    /// Removes content no process's index points at any more. Returns `false` when files were
    /// spared for their grace period (another process is active), so the pass must come again.
    fn collect_garbage(&self) -> bool;
}

#[derive(Default)]
struct Signals {
    sweep_needed: AtomicBool,
    garbage_pass_needed: AtomicBool,
    wake: Notify,
}

/// How often released content shared with other processes is looked at again.
const GARBAGE_PASS_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// The sending side, held by the eviction listener and the cache.
#[derive(Clone)]
pub(crate) struct CleanupQueue {
    tx: mpsc::Sender<Task>,
    signals: Arc<Signals>,
}

pub(crate) struct CleanupReceiver {
    rx: mpsc::Receiver<Task>,
    signals: Arc<Signals>,
}

const BATCH: usize = 256;

impl CleanupQueue {
    pub fn new(capacity: usize) -> (CleanupQueue, CleanupReceiver) {
        let (tx, rx) = mpsc::channel(capacity);
        let signals = Arc::new(Signals::default());
        (
            CleanupQueue {
                tx,
                signals: signals.clone(),
            },
            CleanupReceiver { rx, signals },
        )
    }

    /// Never blocks and never loses the work: a full queue turns into a sweep request.
    pub fn offer(&self, key: String, integrity: String) {
        if let Err(mpsc::error::TrySendError::Full(_)) =
            self.tx.try_send(Task::Evicted { key, integrity })
        {
            self.request_sweep();
        }
    }

    pub fn request_sweep(&self) {
        self.signals.sweep_needed.store(true, Ordering::Release);
        self.signals.wake.notify_one();
    }

    /// Asks for a garbage pass at the next interval (or flush).
    pub fn request_garbage_pass(&self) {
        self.signals
            .garbage_pass_needed
            .store(true, Ordering::Release);
    }

    /// Blocks the calling (non-runtime) thread until everything queued so far is cleaned up.
    pub fn flush_blocking(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.blocking_send(Task::Flush(done_tx)).is_ok() {
            let _ = done_rx.blocking_recv();
        }
    }
}

impl CleanupReceiver {
    /// Runs the worker until every `CleanupQueue` is dropped (the cache is gone).
    pub fn spawn(self, cleaner: Weak<dyn Cleaner>) {
        runtime::background().spawn(self.run(cleaner));
    }

    async fn run(mut self, cleaner: Weak<dyn Cleaner>) {
        let mut garbage_timer = tokio::time::interval(GARBAGE_PASS_INTERVAL);
        loop {
            let mut batch = Vec::new();
            let mut garbage_due = false;
            tokio::select! {
                task = self.rx.recv() => match task {
                    Some(task) => batch.push(task),
                    None => return,
                },
                _ = self.signals.wake.notified() => {}
                _ = garbage_timer.tick() => garbage_due = true,
            }
            while batch.len() < BATCH {
                match self.rx.try_recv() {
                    Ok(task) => batch.push(task),
                    Err(_) => break,
                }
            }
            let Some(cleaner) = cleaner.upgrade() else {
                return;
            };
            let signals = self.signals.clone();
            let work = tokio::task::spawn_blocking(move || {
                process(&*cleaner, &signals, batch, garbage_due)
            });
            let _ = work.await;
        }
    }
}

fn process(cleaner: &dyn Cleaner, signals: &Signals, batch: Vec<Task>, garbage_due: bool) {
    let sweep_if_needed = || {
        if signals.sweep_needed.swap(false, Ordering::AcqRel) {
            cleaner.sweep();
        }
    };
    let garbage_pass_if_needed = || {
        if signals.garbage_pass_needed.swap(false, Ordering::AcqRel) && !cleaner.collect_garbage() {
            signals.garbage_pass_needed.store(true, Ordering::Release);
        }
    };
    for task in batch {
        match task {
            Task::Evicted { key, integrity } => cleaner.clean_evicted(&key, &integrity),
            Task::Flush(done) => {
                sweep_if_needed();
                garbage_pass_if_needed();
                let _ = done.send(());
            }
        }
    }
    sweep_if_needed();
    if garbage_due {
        garbage_pass_if_needed();
    }
}
