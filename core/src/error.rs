//! One error type for the core. Each error carries a stable `code` so the binding can hand
//! JavaScript the same codes Node itself uses (`ERR_INVALID_ARG_TYPE`, `ENOSPC`, ...).

use std::io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The caller passed a value of the wrong type or shape (a `TypeError` in JS).
    InvalidArgument,
    /// A number outside its allowed range (a `RangeError` in JS).
    OutOfRange,
    /// The body grew past `max_body_size` while streaming.
    BodyTooLarge,
    /// Stored content does not match its integrity hash (or is truncated).
    Integrity,
    /// The file system failed; `code` holds the errno name where one is known.
    Io,
    /// The writer or reader was used after it finished or failed.
    Closed,
    /// A bug: a panic caught at the boundary, or an impossible state.
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CacheError {
    kind: ErrorKind,
    code: String,
    message: String,
}

pub type Result<T> = std::result::Result<T, CacheError>;

impl CacheError {
    fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        CacheError {
            kind,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn invalid_type(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, "ERR_INVALID_ARG_TYPE", message)
    }

    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, "ERR_INVALID_ARG_VALUE", message)
    }

    pub fn invalid_char(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, "ERR_INVALID_CHAR", message)
    }

    pub fn out_of_range(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::OutOfRange, "ERR_OUT_OF_RANGE", message)
    }

    pub fn body_too_large(limit: u64) -> Self {
        Self::new(
            ErrorKind::BodyTooLarge,
            "ERR_BODY_TOO_LARGE",
            format!("body is larger than the cache accepts ({limit} bytes: maxBodySize, or maxSize if smaller); nothing was stored"),
        )
    }

    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, "ERR_CACHE_INTEGRITY", message)
    }

    pub fn closed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Closed, "ERR_STREAM_DESTROYED", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, "ERR_CACHE_INTERNAL", message)
    }

    pub fn io(err: &io::Error, context: impl AsRef<str>) -> Self {
        Self::new(
            ErrorKind::Io,
            errno_name(err),
            format!("{}: {err}", context.as_ref()),
        )
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::Io && self.code == "ENOENT"
    }
}

/// The POSIX name Node would put in `err.code` for this I/O error. The errno is looked for
/// through wrapped errors too (`tempfile` wraps its own with the path), so `EMFILE` from
/// creating a temp file stays `EMFILE`.
fn errno_name(err: &io::Error) -> &'static str {
    if let Some(name) = raw_os_error(err).and_then(errno_by_number) {
        return name;
    }
    use io::ErrorKind as K;
    match err.kind() {
        K::NotFound => "ENOENT",
        K::PermissionDenied => "EACCES",
        K::AlreadyExists => "EEXIST",
        K::StorageFull => "ENOSPC",
        K::QuotaExceeded => "EDQUOT",
        K::ReadOnlyFilesystem => "EROFS",
        K::IsADirectory => "EISDIR",
        K::NotADirectory => "ENOTDIR",
        K::DirectoryNotEmpty => "ENOTEMPTY",
        K::ResourceBusy => "EBUSY",
        K::FileTooLarge => "EFBIG",
        K::Interrupted => "EINTR",
        K::InvalidInput => "EINVAL",
        K::TimedOut => "ETIMEDOUT",
        _ => "ERR_CACHE_IO",
    }
}

impl From<cacache::Error> for CacheError {
    fn from(err: cacache::Error) -> Self {
        match err {
            cacache::Error::IoError(io_err, context) => CacheError::io(&io_err, context),
            cacache::Error::IntegrityError(e) => {
                CacheError::integrity(format!("cached content failed verification: {e}"))
            }
            cacache::Error::SizeMismatch(wanted, actual) => CacheError::integrity(format!(
                "cached content has {actual} bytes, expected {wanted}"
            )),
            cacache::Error::EntryNotFound(_, key) => CacheError::io(
                &io::Error::from(io::ErrorKind::NotFound),
                format!("no index entry for {key:?}"),
            ),
            cacache::Error::SerdeError(e, context) => {
                CacheError::internal(format!("{context}: {e}"))
            }
        }
    }
}

fn raw_os_error(err: &io::Error) -> Option<i32> {
    if let Some(code) = err.raw_os_error() {
        return Some(code);
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(inner) = source {
        if let Some(code) = inner
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return Some(code);
        }
        source = inner.source();
    }
    None
}

#[cfg(unix)]
fn errno_by_number(code: i32) -> Option<&'static str> {
    use libc::*;
    Some(match code {
        x if x == ENOENT => "ENOENT",
        x if x == EACCES => "EACCES",
        x if x == EPERM => "EPERM",
        x if x == EEXIST => "EEXIST",
        x if x == ENOSPC => "ENOSPC",
        x if x == EDQUOT => "EDQUOT",
        x if x == EROFS => "EROFS",
        x if x == EISDIR => "EISDIR",
        x if x == ENOTDIR => "ENOTDIR",
        x if x == ENOTEMPTY => "ENOTEMPTY",
        x if x == EBUSY => "EBUSY",
        x if x == EFBIG => "EFBIG",
        x if x == EINTR => "EINTR",
        x if x == EINVAL => "EINVAL",
        x if x == ETIMEDOUT => "ETIMEDOUT",
        x if x == EMFILE => "EMFILE",
        x if x == ENFILE => "ENFILE",
        x if x == EIO => "EIO",
        x if x == EFAULT => "EFAULT",
        x if x == ELOOP => "ELOOP",
        x if x == ENAMETOOLONG => "ENAMETOOLONG",
        x if x == EAGAIN => "EAGAIN",
        x if x == ENOMEM => "ENOMEM",
        x if x == EXDEV => "EXDEV",
        x if x == EBADF => "EBADF",
        _ => return None,
    })
}

#[cfg(not(unix))]
fn errno_by_number(_code: i32) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_carry_errno_names() {
        let full = io::Error::from(io::ErrorKind::StorageFull);
        assert_eq!(CacheError::io(&full, "writing").code(), "ENOSPC");
        let missing = io::Error::from(io::ErrorKind::NotFound);
        let err = CacheError::io(&missing, "opening");
        assert!(err.is_not_found());
        assert!(err.message().starts_with("opening: "));
    }

    #[test]
    fn cacache_size_mismatch_is_an_integrity_error() {
        let err: CacheError = cacache::Error::SizeMismatch(3, 2).into();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert_eq!(err.code(), "ERR_CACHE_INTEGRITY");
    }

    #[test]
    fn wrapped_errnos_keep_their_name() {
        let inner = io::Error::from_raw_os_error(libc::EMFILE);
        let wrapped = io::Error::new(
            inner.kind(),
            Box::new(inner) as Box<dyn std::error::Error + Send + Sync>,
        );
        assert_eq!(CacheError::io(&wrapped, "x").code(), "EMFILE");
        assert_eq!(
            CacheError::io(&io::Error::from_raw_os_error(libc::EFAULT), "x").code(),
            "EFAULT"
        );
    }
}
