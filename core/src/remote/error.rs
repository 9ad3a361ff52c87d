//! Errors of the shared tier. Every one of them means "answer from somewhere else": the
//! engine turns them into misses (lookups) or aborted background work (uploads), and counts
//! them. Each carries a stable `code` so JavaScript sees the same codes as elsewhere.

use std::fmt;

use crate::error::CacheError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteErrorKind {
    /// A bad option (URL, size); the only kind returned before any network traffic.
    InvalidArgument,
    OutOfRange,
    /// The circuit breaker is open: the server failed recently and is not asked for a while.
    Unavailable,
    /// The server did not answer within the lookup or operation timeout.
    Timeout,
    /// The connection failed or dropped (server down, killed, network).
    Connection,
    /// The server answered with an error (`OOM` when full, `READONLY`, ...).
    Server,
    /// The server returned something this tier did not write (foreign or damaged values).
    Garbage,
    /// Part of a body is gone (chunks or manifest evicted or expired): a miss, never a torn body.
    Evicted,
    /// The bytes do not match the body's integrity.
    Integrity,
    /// A body grew past `max_body_size`.
    BodyTooLarge,
    /// The local source of an upload failed (the disk entry vanished or is corrupt).
    Source,
    /// Used after it finished or failed.
    Closed,
}

#[derive(Debug, Clone)]
pub struct RemoteError {
    kind: RemoteErrorKind,
    message: String,
    /// The code of the underlying local error, for `Source`.
    source_code: Option<String>,
}

pub type RemoteResult<T> = std::result::Result<T, RemoteError>;

impl RemoteError {
    pub fn new(kind: RemoteErrorKind, message: impl Into<String>) -> Self {
        RemoteError {
            kind,
            message: message.into(),
            source_code: None,
        }
    }

    pub fn kind(&self) -> RemoteErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn code(&self) -> &str {
        use RemoteErrorKind as K;
        match self.kind {
            K::InvalidArgument => "ERR_INVALID_ARG_VALUE",
            K::OutOfRange => "ERR_OUT_OF_RANGE",
            K::Unavailable => "ERR_REMOTE_UNAVAILABLE",
            K::Timeout => "ERR_REMOTE_TIMEOUT",
            K::Connection => "ERR_REMOTE_CONNECTION",
            K::Server => "ERR_REMOTE_SERVER",
            K::Garbage => "ERR_REMOTE_GARBAGE",
            K::Evicted => "ERR_REMOTE_EVICTED",
            K::Integrity => "ERR_CACHE_INTEGRITY",
            K::BodyTooLarge => "ERR_BODY_TOO_LARGE",
            K::Source => self.source_code.as_deref().unwrap_or("ERR_CACHE_IO"),
            K::Closed => "ERR_STREAM_DESTROYED",
        }
    }

    /// Failures that say the server is unreachable or unwell, as opposed to one bad value:
    /// only these count towards opening the circuit breaker.
    pub fn is_outage(&self) -> bool {
        matches!(
            self.kind,
            RemoteErrorKind::Timeout | RemoteErrorKind::Connection
        )
    }

    pub(crate) fn garbage(message: impl Into<String>) -> Self {
        Self::new(RemoteErrorKind::Garbage, message)
    }

    pub(crate) fn evicted(message: impl Into<String>) -> Self {
        Self::new(RemoteErrorKind::Evicted, message)
    }

    pub(crate) fn timeout(what: &str, after: std::time::Duration) -> Self {
        Self::new(
            RemoteErrorKind::Timeout,
            format!("{what}: no answer from the server within {after:?}"),
        )
    }

    pub(crate) fn from_redis(what: &str, err: redis::RedisError) -> Self {
        let kind = if err.is_timeout() {
            RemoteErrorKind::Timeout
        } else if err.is_io_error() || err.is_connection_dropped() || err.is_connection_refusal() {
            RemoteErrorKind::Connection
        } else if matches!(
            err.kind(),
            redis::ErrorKind::UnexpectedReturnType | redis::ErrorKind::Parse
        ) {
            RemoteErrorKind::Garbage
        } else if err.code().is_some() {
            RemoteErrorKind::Server
        } else {
            // Anything else from the client (a closed connection manager, a protocol error)
            // means the link is not usable.
            RemoteErrorKind::Connection
        };
        Self::new(kind, format!("{what}: {err}"))
    }

    pub(crate) fn from_source(err: CacheError) -> Self {
        RemoteError {
            kind: RemoteErrorKind::Source,
            message: format!("reading the local body: {}", err.message()),
            source_code: Some(err.code().to_string()),
        }
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

/// For the engine's tee: a failed remote read looks like a failed local read (integrity
/// stays an integrity error; everything else is an I/O error the caller treats as a miss).
impl From<RemoteError> for CacheError {
    fn from(err: RemoteError) -> Self {
        match err.kind {
            RemoteErrorKind::Integrity => CacheError::integrity(err.message),
            RemoteErrorKind::BodyTooLarge => CacheError::internal(err.message),
            RemoteErrorKind::InvalidArgument => CacheError::invalid_value(err.message),
            RemoteErrorKind::OutOfRange => CacheError::out_of_range(err.message),
            RemoteErrorKind::Closed => CacheError::closed(err.message),
            RemoteErrorKind::Timeout => CacheError::io(
                &std::io::Error::from(std::io::ErrorKind::TimedOut),
                err.message,
            ),
            _ => CacheError::io(&std::io::Error::other("shared tier"), err.message),
        }
    }
}
