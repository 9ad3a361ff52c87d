//! Core errors to JS errors. The reason is `CODE: message`; the JS shim turns it back into
//! a `TypeError`/`RangeError`/`Error` with `err.code` set.
//!
//! Panics never reach Node: every exported method runs its work inside `guard`, and the panic
//! hook installed at module init stays silent for panics `guard` catches (they become
//! `ERR_CACHE_INTERNAL` errors; nothing is printed to stderr).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use napi::{Error, Status};
use streaming_cache_core::remote::RemoteError;
use streaming_cache_core::CacheError;

/// An error of the core with a stable code (`ERR_...`) and a message: the cache's and the
/// shared tier's, converted the same way.
pub trait CodedError {
    fn code(&self) -> &str;
    fn message(&self) -> &str;
}

impl CodedError for CacheError {
    fn code(&self) -> &str {
        CacheError::code(self)
    }
    fn message(&self) -> &str {
        CacheError::message(self)
    }
}

impl CodedError for RemoteError {
    fn code(&self) -> &str {
        RemoteError::code(self)
    }
    fn message(&self) -> &str {
        RemoteError::message(self)
    }
}

thread_local! {
    /// How many `guard` calls are running on this thread (they may nest).
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

pub fn to_napi<E: CodedError>(err: E) -> Error {
    Error::new(
        Status::GenericFailure,
        format!("{}: {}", err.code(), err.message()),
    )
}

/// Replaces the panic hook with one that prints nothing for panics `guard` will catch and
/// defers to the previous hook for any other (a bug outside every guard still reports).
pub fn install_silent_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) == 0 {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning core errors and panics into JS errors: a panic must never reach Node.
pub fn guard<T>(f: impl FnOnce() -> Result<T, CacheError>) -> napi::Result<T> {
    guard_coded(f)
}

/// `guard` for work that fails with any core error type (the shared tier's `RemoteError`).
pub fn guard_coded<T, E: CodedError>(f: impl FnOnce() -> Result<T, E>) -> napi::Result<T> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    match outcome {
        Ok(result) => result.map_err(to_napi),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_napi(CacheError::internal(format!(
                "internal error (panic): {what}"
            ))))
        }
    }
}

/// `guard` for work that cannot fail except by panicking.
pub fn guard_infallible<T>(f: impl FnOnce() -> T) -> napi::Result<T> {
    guard(|| Ok(f()))
}
