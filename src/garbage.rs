//! `collectGarbage()`: the core's garbage pass alone (no hashing) as a libuv job, with a dry
//! run that only counts.

use napi::bindgen_prelude::AsyncTask;
use napi_derive::napi;
use streaming_cache_core::garbage::{Pass, Reclaimed};

use crate::cache::NativeCache;
use crate::job::Job;

#[napi(object)]
pub struct NativeReclaimed {
    pub files: f64,
    pub bytes: f64,
}

#[napi(object)]
pub struct NativeGarbageReport {
    pub dry_run: bool,
    /// Unreferenced content files (with their block sidecars, not counted).
    pub content: NativeReclaimed,
    /// Temp files of writes that never finished.
    pub temp: NativeReclaimed,
}

#[napi]
impl NativeCache {
    /// Removes (or with `dry_run` only counts) temp files and unreferenced content.
    #[napi(ts_return_type = "Promise<NativeGarbageReport>")]
    pub fn collect_garbage(&self, dry_run: bool) -> AsyncTask<Job<NativeGarbageReport>> {
        let cache = self.cache.clone();
        let pass = if dry_run { Pass::DryRun } else { Pass::Remove };
        Job::spawn(move || {
            cache.collect_garbage(pass).map(|c| NativeGarbageReport {
                dry_run,
                content: to_js(c.content),
                temp: to_js(c.temp),
            })
        })
    }
}

fn to_js(r: Reclaimed) -> NativeReclaimed {
    NativeReclaimed {
        files: r.files as f64,
        bytes: r.bytes as f64,
    }
}
