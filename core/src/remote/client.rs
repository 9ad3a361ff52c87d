//! The connection to Redis/Valkey: the `redis` crate's `ConnectionManager` (multiplexed,
//! reconnecting) on a runtime of its own, every call bounded by a timeout and gated by the
//! circuit breaker. Two connections: `control` for lookups, metadata and locks, `bulk` for
//! body chunks, so a lookup never queues behind a megabyte of someone else's body.

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::FromRedisValue;
use tokio::runtime::{Builder, Runtime};

use super::breaker::{Breaker, Tripped};
use super::error::{RemoteError, RemoteErrorKind, RemoteResult};
use super::layout::Layout;
use super::options::RemoteOptions;
use super::stats::Counters;

/// The runtime every shared tier in the process runs its I/O on. Its own (not the core's
/// background runtime, which has no I/O driver), one worker: the work is waiting on sockets.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(4)
            .thread_name("streaming-cache-remote")
            .enable_all()
            .build()
            .expect("the shared-tier runtime must start")
    })
}

/// Runs `future` to completion from synchronous code (a libuv worker, a test thread).
/// Must not be called from inside the runtime itself.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    runtime().block_on(future)
}

#[derive(Clone, Copy)]
pub(crate) enum Lane {
    Control,
    Bulk,
}

pub(crate) struct Client {
    control: ConnectionManager,
    bulk: ConnectionManager,
    breaker: Breaker,
    pub counters: Counters,
    pub layout: Layout,
    pub options: RemoteOptions,
}

impl Client {
    pub fn connect(options: RemoteOptions) -> RemoteResult<Arc<Client>> {
        options.validate()?;
        let info = redis::Client::open(options.url.as_str()).map_err(|e| {
            RemoteError::new(
                RemoteErrorKind::InvalidArgument,
                format!("url is not a Redis URL: {e}"),
            )
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            // Timeouts are ours, per call; the manager only reconnects, briefly: the breaker
            // decides when to try again after that.
            .set_response_timeout(None)
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_millis(200));
        let _inside = runtime().enter();
        let lazy = |config: ConnectionManagerConfig| {
            ConnectionManager::new_lazy_with_config(info.clone(), config)
                .map_err(|e| RemoteError::from_redis("creating the connection", e))
        };
        let client = Arc::new(Client {
            control: lazy(config.clone())?,
            bulk: lazy(config)?,
            breaker: Breaker::new(options.breaker_threshold, options.breaker_cooldown),
            counters: Counters::default(),
            layout: Layout::new(&options.prefix),
            options,
        });
        // Connect now, in the background, so the first lookup does not pay for it (and time out).
        for lane in [Lane::Control, Lane::Bulk] {
            let client = client.clone();
            runtime().spawn(async move {
                let _ = client
                    .conn(lane)
                    .send_packed_command(&redis::cmd("PING"))
                    .await;
            });
        }
        Ok(client)
    }

    fn conn(&self, lane: Lane) -> ConnectionManager {
        match lane {
            Lane::Control => self.control.clone(),
            Lane::Bulk => self.bulk.clone(),
        }
    }

    pub fn breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    pub fn count(&self, counter: impl Fn(&Counters) -> &AtomicU64, n: u64) {
        Counters::add(counter(&self.counters), n);
    }

    /// One command: refused at once while the breaker is open, bounded by `timeout`; the
    /// outcome feeds the breaker, and every failure is counted.
    pub async fn query<T: FromRedisValue>(
        &self,
        what: &str,
        lane: Lane,
        timeout: Duration,
        cmd: &redis::Cmd,
    ) -> RemoteResult<T> {
        let mut conn = self.conn(lane);
        self.guarded(what, timeout, async move {
            cmd.query_async::<T>(&mut conn).await
        })
        .await
    }

    /// A pipeline (one round trip), with the same guards as `query`.
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        what: &str,
        lane: Lane,
        timeout: Duration,
        pipe: &redis::Pipeline,
    ) -> RemoteResult<T> {
        let mut conn = self.conn(lane);
        self.guarded(what, timeout, async move {
            pipe.query_async::<T>(&mut conn).await
        })
        .await
    }

    async fn guarded<T>(
        &self,
        what: &str,
        timeout: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> RemoteResult<T> {
        if !self.breaker.allow() {
            self.count(|c| &c.errors, 1);
            return Err(RemoteError::new(
                RemoteErrorKind::Unavailable,
                format!(
                    "{what}: the shared tier failed recently and is paused (circuit breaker open)"
                ),
            ));
        }
        let result = match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(RemoteError::from_redis(what, err)),
            Err(_) => Err(RemoteError::timeout(what, timeout)),
        };
        match &result {
            Ok(_) => self.breaker.success(),
            Err(err) => {
                self.count(|c| &c.errors, 1);
                if err.is_outage() {
                    if self.breaker.failure() == Tripped::Opened {
                        self.count(|c| &c.breaker_opened, 1);
                    }
                } else {
                    // The server answered: it is up, whatever it said.
                    self.breaker.success();
                }
            }
        }
        result
    }

    /// Counts an error found in a value (garbage, eviction) rather than in a call.
    pub fn value_error(&self, err: RemoteError) -> RemoteError {
        self.count(|c| &c.errors, 1);
        if err.kind() == RemoteErrorKind::Evicted {
            self.count(|c| &c.evicted, 1);
        }
        err
    }
}

/// Milliseconds for `PX`, at least 1.
pub(crate) fn millis(d: Duration) -> u64 {
    (d.as_millis().min(u64::MAX as u128) as u64).max(1)
}

/// A value unique to this process and call: upload ids and lock tokens.
pub(crate) fn unique_token() -> String {
    use std::sync::atomic::Ordering;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}.{:x}.{:x}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
