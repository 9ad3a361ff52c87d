//! Read-only inspection for the CLI (`lib/inspect.js`): the core's `inspect` module as two
//! functions returning JSON. Neither opens the cache, so neither changes the directory.

// napi registers these functions only outside cfg(test); the test build sees them unused.
#![cfg_attr(test, allow(dead_code))]

use std::path::Path;

use napi_derive::napi;
use serde_json::{json, Value};
use streaming_cache_core::index::bucket::parse_integrity;
use streaming_cache_core::inspect::{check_content, inspect, ContentProblem, FileStats};
use streaming_cache_core::layout;
use streaming_cache_core::{CacheError, StoredEntry};

use napi::Env;

use crate::errors::guard;

fn stats(s: FileStats) -> Value {
    json!({ "files": s.files, "bytes": s.bytes })
}

fn entry(e: &StoredEntry) -> Value {
    json!({
        "key": e.key,
        "size": e.size,
        "integrity": e.integrity.to_string(),
        "storedAt": e.stored_at,
        "status": e.meta.status,
        "url": e.meta.url,
        "headers": e.meta.headers,
        "metadata": e.meta.metadata,
        "policy": e.meta.policy,
    })
}

/// `{ entries: [...], skippedIndexLines, content, unreferenced, temp, missingContent,
/// logicalBytes, dedupSavedBytes, unreadable: [{ path, error }] }` for the cache in `dir`.
#[napi]
pub fn inspect_cache_dir(env: &Env, dir: String) -> napi::Result<String> {
    guard(env, || {
        let seen = inspect(Path::new(&dir))?;
        Ok(json!({
            "entries": seen.entries.iter().map(entry).collect::<Vec<_>>(),
            "skippedIndexLines": seen.skipped_index_lines,
            "content": stats(seen.content),
            "unreferenced": stats(seen.unreferenced),
            "temp": stats(seen.temp),
            "missingContent": seen.missing_content,
            "logicalBytes": seen.logical_bytes(),
            "dedupSavedBytes": seen.dedup_saved_bytes(),
            "unreadable": seen
                .unreadable
                .iter()
                .map(|u| json!({ "path": u.path.to_string_lossy(), "error": u.error }))
                .collect::<Vec<_>>(),
        })
        .to_string())
    })
}

/// Hashes every live entry's content; `{ entries, problems: [{ key, integrity, problem, detail }] }`.
#[napi]
pub fn check_cache_dir_content(env: &Env, dir: String) -> napi::Result<String> {
    guard(env, || {
        let dir = Path::new(&dir);
        let seen = inspect(dir)?;
        let problems = check_content(dir, &seen.entries);
        let listed: Vec<Value> = seen
            .entries
            .iter()
            .filter_map(|e| {
                let (kind, detail) = match problems.get(&e.key)? {
                    ContentProblem::Corrupt(why) => ("corrupt", why.clone()),
                    ContentProblem::Missing => ("missing", "content file is missing".to_string()),
                    ContentProblem::Unreadable(why) => ("unreadable", why.clone()),
                };
                Some(json!({
                    "key": e.key,
                    "integrity": e.integrity.to_string(),
                    "problem": kind,
                    "detail": detail,
                }))
            })
            .collect();
        Ok(json!({ "entries": seen.entries.len(), "problems": listed }).to_string())
    })
}

/// Where the body with `integrity` (an SRI string) lives under `dir`: the core's layout, so
/// tools and tests never restate the formula.
#[napi]
pub fn content_path(env: &Env, dir: String, integrity: String) -> napi::Result<String> {
    guard(env, || {
        let parsed = parse_integrity(&integrity).ok_or_else(|| {
            CacheError::invalid_value(format!("{integrity:?} is not an SRI integrity string"))
        })?;
        Ok(layout::content_path(Path::new(&dir), &parsed)
            .to_string_lossy()
            .into_owned())
    })
}
