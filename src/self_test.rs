//! A panic on purpose, inside the same guards every exported method runs in, so a test can
//! prove (in a child process) that a caught panic becomes an `ERR_CACHE_INTERNAL` error and
//! prints nothing, on the JS thread and on a libuv thread alike. There is no other way to
//! reach a panic from JS: the core's arithmetic on what callers and origins send is bounded.

use napi::bindgen_prelude::AsyncTask;
use napi::Env;
use napi_derive::napi;

use crate::errors::guard_infallible;
use crate::job::Job;

fn panic_on_purpose() -> bool {
    panic!("deliberate panic of the guard self-test")
}

// napi registers these for Node; the crate's own test build has no caller.
#[cfg_attr(test, allow(dead_code))]
#[napi(js_name = "__panicInsideGuardSync")]
pub fn panic_inside_guard_sync(env: &Env) -> napi::Result<bool> {
    guard_infallible(env, panic_on_purpose)
}

#[cfg_attr(test, allow(dead_code))]
#[napi(js_name = "__panicInsideGuardAsync")]
pub fn panic_inside_guard_async() -> AsyncTask<Job<bool>> {
    Job::spawn_infallible(panic_on_purpose)
}
