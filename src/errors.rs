//! Core errors to JS errors. The reason is `CODE: message`; the JS shim turns it back into
//! a `TypeError`/`RangeError`/`Error` with `err.code` set.

use std::panic::{catch_unwind, AssertUnwindSafe};

use napi::{Error, Status};
use streaming_cache_core::CacheError;

pub fn to_napi(err: CacheError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", err.code(), err.message()))
}

/// Runs `f`, turning core errors and panics into JS errors: a panic must never reach Node.
pub fn guard<T>(f: impl FnOnce() -> Result<T, CacheError>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.map_err(to_napi),
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(to_napi(CacheError::internal(format!("internal error (panic): {what}"))))
        }
    }
}
