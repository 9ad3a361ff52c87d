//! A failure of the core as the JS error a caller gets: an `Error`, a `TypeError` or a
//! `RangeError` (chosen by the kind of failure, as Node chooses them) with `err.code` set
//! natively and the core's message as is. Sync methods throw it and libuv tasks reject with
//! it through the same conversion, so every method reports a failure the same way.

use napi::{Env, Error, JsError, JsRangeError, JsTypeError, Status, Unknown};

/// The JS class of an error, as Node uses them: bad types and values are `TypeError`s,
/// numbers out of range `RangeError`s, everything else (I/O, integrity, limits) `Error`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    Error,
    TypeError,
    RangeError,
}

/// A core failure on its way to JS. Owned and `Send`: a libuv task keeps it until the JS
/// thread turns it into an error object.
#[derive(Debug, Clone)]
pub struct Failure {
    pub class: ErrorClass,
    pub code: String,
    pub message: String,
}

impl Failure {
    pub fn new(class: ErrorClass, code: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            class,
            code: code.into(),
            message: message.into(),
        }
    }

    /// The JS error, wrapped so that napi-rs throws (sync) or rejects with (tasks) that very
    /// object rather than building a plain `Error` of its own.
    pub fn into_napi(self, env: &Env) -> Error {
        // Node-API's `napi_create_*error(code, message)` sets `err.code` on the new object.
        let coded = Error::new(self.code, self.message.clone());
        // SAFETY: `env` is the env of the JS thread this runs on (a sync call or a task's
        // `reject`), the only place a `Failure` is turned into a JS value.
        let value = unsafe {
            match self.class {
                ErrorClass::Error => JsError::from(coded).into_value(env.raw()),
                ErrorClass::TypeError => JsTypeError::from(coded).into_value(env.raw()),
                ErrorClass::RangeError => JsRangeError::from(coded).into_value(env.raw()),
            }
        };
        if value.is_null() {
            // The env is tearing down (a worker exiting): nobody can observe the error.
            return Error::new(Status::GenericFailure, self.message);
        }
        // SAFETY: `value` was just created in `env`, on this thread.
        Error::from(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
    }
}
