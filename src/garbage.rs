//! `collectGarbage()`: the core's garbage pass alone (no hashing) as a libuv task, with a dry
//! run that only counts.

use napi::bindgen_prelude::AsyncTask;
use napi::{Env, Task};
use napi_derive::napi;
use streaming_cache_core::garbage::{Collected, Pass, Reclaimed};
use streaming_cache_core::StreamingCache;

use crate::cache::NativeCache;
use crate::errors::guard;

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
    pub fn collect_garbage(&self, dry_run: bool) -> AsyncTask<GarbageTask> {
        AsyncTask::new(GarbageTask {
            cache: self.cache.clone(),
            dry_run,
        })
    }
}

pub struct GarbageTask {
    cache: StreamingCache,
    dry_run: bool,
}

fn to_js(r: Reclaimed) -> NativeReclaimed {
    NativeReclaimed {
        files: r.files as f64,
        bytes: r.bytes as f64,
    }
}

impl Task for GarbageTask {
    type Output = Collected;
    type JsValue = NativeGarbageReport;

    fn compute(&mut self) -> napi::Result<Collected> {
        let pass = if self.dry_run {
            Pass::DryRun
        } else {
            Pass::Remove
        };
        let cache = &self.cache;
        guard(|| cache.collect_garbage(pass))
    }

    fn resolve(&mut self, _env: Env, c: Collected) -> napi::Result<NativeGarbageReport> {
        Ok(NativeGarbageReport {
            dry_run: self.dry_run,
            content: to_js(c.content),
            temp: to_js(c.temp),
        })
    }
}
