//! Node.js binding for streaming-cache-core. Thin by design: argument plumbing, error
//! conversion and the libuv tasks that move chunks; all behaviour lives in the core crate.

mod body;
mod cache;
mod convert;
mod errors;
mod floor;
mod garbage;
mod hot;
mod inspect;
mod job;
mod js_error;
mod policy;
mod remote;
mod self_test;
mod small_hit;
mod stats;
mod writer;

/// Runs once when Node loads the addon: caught panics print nothing (see `errors`).
#[napi_derive::module_init]
fn init() {
    errors::install_silent_panic_hook();
}
