//! Raw read floors for the benchmark: what reading a page-cached file costs from Rust with
//! nothing around it, so the table shows how far the cache is from the hardware.

use std::fs::File;

use napi::Env;
use napi_derive::napi;
use streaming_cache_core::CacheError;

use crate::errors::guard;

/// Reads `path` from offset 0 to its end `times` times with `pread` into one reused buffer of
/// `read_size` bytes; returns the seconds it took.
// napi registers it for Node; the crate's own test build has no caller.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn bench_pread_floor(env: &Env, path: String, read_size: u32, times: u32) -> napi::Result<f64> {
    guard(env, || {
        let io = |e: std::io::Error| CacheError::io(&e, &path);
        let file = File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut buffer = vec![0u8; read_size.max(1) as usize];
        let started = std::time::Instant::now();
        for _ in 0..times {
            let mut offset = 0u64;
            while offset < len {
                let n = read_at(&file, &mut buffer, offset).map_err(io)?;
                if n == 0 {
                    break;
                }
                offset += n as u64;
            }
        }
        Ok(started.elapsed().as_secs_f64())
    })
}

#[cfg(unix)]
#[cfg_attr(test, allow(dead_code))]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buffer, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buffer: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buffer, offset)
}
