//! Node.js binding for streaming-cache-core. Thin by design: argument plumbing, error
//! conversion and the libuv tasks that move chunks; all behaviour lives in the core crate.

mod body;
mod cache;
mod errors;
mod policy;
mod remote;
mod writer;
