//! Core errors and panics at the boundary. `catch` runs work and keeps its failure as a
//! `Failure` (code, message, JS class); `guard` does the same for a sync method and turns the
//! failure into the JS error `js_error` builds, so `err.code` is set natively everywhere.
//!
//! Panics never reach Node: every exported method runs its work inside `guard` (or a `Job`,
//! which uses `catch`), and the panic hook installed at module init stays silent for panics
//! they catch (they become `ERR_CACHE_INTERNAL` errors; nothing is printed to stderr).

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Once;

use napi::Env;
use streaming_cache_core::remote::{RemoteError, RemoteErrorKind};
use streaming_cache_core::{CacheError, ErrorKind};

use crate::js_error::{ErrorClass, Failure};

/// An error of the core with a stable code (`ERR_...`, or an errno name such as `ENOENT`), a
/// message and the JS class it is reported as: the cache's and the shared tier's errors,
/// converted the same way.
pub trait CodedError {
    fn code(&self) -> &str;
    fn message(&self) -> &str;
    fn class(&self) -> ErrorClass;
}

impl CodedError for CacheError {
    fn code(&self) -> &str {
        CacheError::code(self)
    }
    fn message(&self) -> &str {
        CacheError::message(self)
    }
    fn class(&self) -> ErrorClass {
        match self.kind() {
            ErrorKind::InvalidArgument => ErrorClass::TypeError,
            ErrorKind::OutOfRange => ErrorClass::RangeError,
            _ => ErrorClass::Error,
        }
    }
}

impl CodedError for RemoteError {
    fn code(&self) -> &str {
        RemoteError::code(self)
    }
    fn message(&self) -> &str {
        RemoteError::message(self)
    }
    fn class(&self) -> ErrorClass {
        match self.kind() {
            RemoteErrorKind::InvalidArgument => ErrorClass::TypeError,
            RemoteErrorKind::OutOfRange => ErrorClass::RangeError,
            _ => ErrorClass::Error,
        }
    }
}

impl<E: CodedError> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure::new(err.class(), err.code(), err.message())
    }
}

thread_local! {
    /// How many `catch` calls are running on this thread (they may nest).
    static GUARDED: Cell<u32> = const { Cell::new(0) };
}

/// Replaces the panic hook with one that prints nothing for panics `catch` will catch and
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

/// Runs `f`, keeping a core error or a panic as a `Failure`: a panic must never reach Node.
/// Needs no env, so libuv threads use it too.
pub fn catch<T, E: CodedError>(f: impl FnOnce() -> Result<T, E>) -> Result<T, Failure> {
    GUARDED.with(|g| g.set(g.get() + 1));
    let outcome = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(g.get() - 1));
    match outcome {
        Ok(result) => result.map_err(Failure::from),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(CacheError::internal(format!("internal error (panic): {what}")).into())
        }
    }
}

/// `catch` for a sync method: the failure is thrown as the coded JS error.
pub fn guard<T>(env: &Env, f: impl FnOnce() -> Result<T, CacheError>) -> napi::Result<T> {
    guard_coded(env, f)
}

/// `guard` for work that fails with another core error type (the shared tier's `RemoteError`).
pub fn guard_coded<T, E: CodedError>(
    env: &Env,
    f: impl FnOnce() -> Result<T, E>,
) -> napi::Result<T> {
    catch(f).map_err(|failure| failure.into_napi(env))
}

/// `guard` for work that cannot fail except by panicking.
pub fn guard_infallible<T>(env: &Env, f: impl FnOnce() -> T) -> napi::Result<T> {
    guard(env, || Ok::<T, CacheError>(f()))
}
