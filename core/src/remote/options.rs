//! Options of the shared tier, with the defaults a production cache wants and the checks
//! that turn a bad value into an error before any connection is made.

use std::time::Duration;

use super::error::{RemoteError, RemoteErrorKind, RemoteResult};

/// Smallest and largest body chunk stored under one Redis key: small enough that neither
/// side holds much of a large body, large enough that round trips do not dominate.
pub const MIN_CHUNK_SIZE: usize = 64 * 1024;
pub const MAX_CHUNK_SIZE: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// `redis://[user:password@]host:port[/db]` (also `rediss://` is parsed, but TLS is not built in).
    pub url: String,
    /// Prepended to every key (`<prefix>:k:...`), so several caches can share one server.
    pub prefix: String,
    /// Bodies larger than this are neither uploaded nor read.
    pub max_body_size: u64,
    /// Bytes per chunk key.
    pub chunk_size: usize,
    /// How long a lookup (the metadata read on a local miss) may take before it counts as a miss.
    pub lookup_timeout: Duration,
    /// How long any other single operation (one chunk, one commit step) may take.
    pub op_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// Consecutive outages (timeouts, connection failures) that open the circuit breaker.
    pub breaker_threshold: u32,
    /// How long an open breaker stops all traffic before one probe is let through.
    pub breaker_cooldown: Duration,
    /// Uploads waiting for a worker; more are dropped (and counted), never queued.
    pub queue_capacity: usize,
    /// Uploads running at once.
    pub upload_workers: usize,
    /// Added to an entry's HTTP freshness for its Redis expiry, so a stale entry can still be
    /// revalidated (a 304 keeps the body) instead of being fetched again.
    pub revalidation_grace: Duration,
    /// Lifetime of a cross-host fetch lock when its holder never releases it (crashed).
    pub lock_ttl: Duration,
}

impl RemoteOptions {
    pub fn new(url: impl Into<String>) -> Self {
        RemoteOptions {
            url: url.into(),
            prefix: "hsc".into(),
            max_body_size: 64 * 1024 * 1024,
            chunk_size: 512 * 1024,
            lookup_timeout: Duration::from_millis(5),
            op_timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(250),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(2),
            queue_capacity: 64,
            upload_workers: 2,
            revalidation_grace: Duration::from_secs(600),
            lock_ttl: Duration::from_secs(10),
        }
    }

    /// The Redis expiry for an entry that stays fresh for `freshness`.
    pub fn expiry_for(&self, freshness: Duration) -> Duration {
        freshness
            .saturating_add(self.revalidation_grace)
            .max(Duration::from_millis(1))
    }

    pub(crate) fn validate(&self) -> RemoteResult<()> {
        let range = |what: &str, ok: bool, msg: String| {
            if ok {
                Ok(())
            } else {
                Err(RemoteError::new(
                    RemoteErrorKind::OutOfRange,
                    format!("{what} {msg}"),
                ))
            }
        };
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return Err(RemoteError::new(
                RemoteErrorKind::InvalidArgument,
                "prefix must be a non-empty string without spaces",
            ));
        }
        range(
            "chunkSize",
            (MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size),
            format!(
                "must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}, got {}",
                self.chunk_size
            ),
        )?;
        range(
            "maxBodySize",
            self.max_body_size > 0,
            "must be positive".into(),
        )?;
        for (what, d) in [
            ("lookupTimeout", self.lookup_timeout),
            ("opTimeout", self.op_timeout),
            ("connectTimeout", self.connect_timeout),
            ("lockTtl", self.lock_ttl),
        ] {
            range(what, !d.is_zero(), "must be positive".into())?;
        }
        range(
            "breakerThreshold",
            self.breaker_threshold > 0,
            "must be positive".into(),
        )?;
        range(
            "queueCapacity",
            self.queue_capacity > 0,
            "must be positive".into(),
        )?;
        range(
            "uploadWorkers",
            (1..=16).contains(&self.upload_workers),
            "must be between 1 and 16".into(),
        )?;
        Ok(())
    }
}
