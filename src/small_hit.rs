//! Small hits from disk in one call. `getSmall` opens the body, reads it whole into a Buffer
//! JS lends (reused from hit to hit) and checks its hash, then names the stored entry by a
//! number. JS keeps the entry's fields per key together with that number, so a hit wraps no
//! native object, registers no finalizer and builds no JSON: the fields cross once per stored
//! entry (`smallEntry`), not once per hit.

use std::sync::Arc;

use bytes::Bytes;
use napi::bindgen_prelude::{BufferSlice, Either};
use napi::Env;
use napi_derive::napi;
use streaming_cache_core::{BodyReader, CacheError, StoredEntry};

use crate::body::{entry_json, NativeBody};
use crate::cache::NativeCache;
use crate::errors::{guard, guard_infallible};

/// Numbers above this do not survive the trip through a JS number; such entries get no number.
const MAX_SAFE_INTEGER: usize = (1 << 53) - 1;

/// The number `getSmall` names `entry` by: the address of the entry. Two entries alive at
/// the same time never share it, and a `NativeEntry` keeps its entry alive, so while JS holds
/// the `NativeEntry` it was given, the number names that entry and no other. 0: no number.
fn entry_id(entry: &Arc<StoredEntry>) -> f64 {
    match Arc::as_ptr(entry) as usize {
        id if id <= MAX_SAFE_INTEGER => id as f64,
        _ => 0.0,
    }
}

/// Reads all of `reader`'s body into `buffer` (exactly its size). The read that reaches the
/// end checks the hash, so this returns only verified bytes; a body shorter than recorded is
/// damaged content, as a failed hash check is.
pub fn read_exactly(reader: &mut BodyReader, buffer: &mut [u8]) -> Result<(), CacheError> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => return Err(CacheError::integrity("the cached body ended early")),
            n => filled += n,
        }
    }
    if buffer.is_empty() {
        // The zero-length read is what checks an empty body's hash.
        reader.read(&mut [])?;
    }
    Ok(())
}

/// A stored entry handed to JS once: its fields as JSON, and the number `getSmall` names it
/// by (see `entry_id`: holding this object is what keeps that number unambiguous).
#[napi]
pub struct NativeEntry {
    entry: Arc<StoredEntry>,
}

#[napi]
impl NativeEntry {
    #[napi(getter)]
    pub fn id(&self) -> f64 {
        entry_id(&self.entry)
    }

    #[napi(getter)]
    pub fn json(&self, env: &Env) -> napi::Result<String> {
        guard_infallible(env, || entry_json(&self.entry))
    }
}

#[napi]
impl NativeCache {
    /// Looks `key` up as `get` does. A miss is null; a body larger than `scratch` is returned
    /// open and unread (a `NativeBody`, as `get` gives it); a body that fits is read whole into
    /// `scratch`, its hash checked, offered to the RAM tier (when it is on and takes bodies of
    /// that size), and the result is the entry's number (0: none; see `smallEntry`). If that
    /// read fails, the error is thrown and `smallEntry` names the entry.
    #[napi(ts_return_type = "number | NativeBody | null")]
    pub fn get_small(
        &self,
        env: &Env,
        key: String,
        mut scratch: BufferSlice,
    ) -> napi::Result<Option<Either<f64, NativeBody>>> {
        *self.last_small.lock() = None;
        let Some((entry, mut reader)) = guard(env, || self.cache.open_body(&key))? else {
            return Ok(None);
        };
        let size = match usize::try_from(entry.size) {
            Ok(size) if size <= scratch.len() => size,
            _ => {
                let body = NativeBody::new(entry, reader, self.cache.clone());
                return Ok(Some(Either::B(body)));
            }
        };
        let id = entry_id(&entry);
        *self.last_small.lock() = Some(entry.clone());
        guard(env, || {
            read_exactly(&mut reader, &mut scratch[..size])?;
            // As `readWhole` does: a body read whole from disk is offered to the RAM tier, so
            // its next hits come from RAM. The tier keeps a copy; the scratch Buffer is lent.
            if self.cache.fits_hot(entry.size) {
                let body = Bytes::copy_from_slice(&scratch[..size]);
                self.cache.offer_hot(&entry, body);
            }
            Ok(())
        })?;
        Ok(Some(Either::A(id)))
    }

    /// The entry the last `getSmall` read (or failed to read) into its scratch Buffer, or null.
    #[napi]
    pub fn small_entry(&self) -> Option<NativeEntry> {
        let entry = self.last_small.lock().clone()?;
        Some(NativeEntry { entry })
    }
}
