'use strict'
// Read-only look at a cache directory for the CLI: what the index and the files say, without
// opening the cache (no owner file, no sweep, nothing created), so it is safe on a directory
// other processes are using and on directories that are not caches at all.
const fs = require('node:fs')
const path = require('node:path')
const native = require('./native')
const { withCode } = require('./errors')
const { validateString } = require('./validate')

// A directory some StreamingCache has used has at least one of these (cacache's layout plus
// the owner locks).
const CACHE_MARKERS = ['index-v5', 'content-v2', 'owners']

/** Throws a coded error unless `dir` exists and looks like a cache directory. */
function assertCacheDir (dir) {
  let stat
  try {
    stat = fs.statSync(dir)
  } catch (err) {
    if (err.code === 'ENOENT') throw withCode(Error, 'ENOENT', `${dir} does not exist`)
    throw err
  }
  if (!stat.isDirectory()) throw withCode(Error, 'ENOTDIR', `${dir} is not a directory`)
  if (!CACHE_MARKERS.some((name) => fs.existsSync(path.join(dir, name)))) {
    throw withCode(Error, 'ERR_NOT_A_CACHE',
      `${dir} is not an http-streaming-cache directory (it has none of ${CACHE_MARKERS.join(', ')})`)
  }
}

/**
 * `{ entries, skippedIndexLines, content, unreferenced, temp, missingContent, logicalBytes,
 * dedupSavedBytes, unreadable }` (unreadable: `[{ path, error }]`, directories under
 * `content-v2/` and `tmp/` that could not be listed, left out of the counts): entries sorted by key, each `{ key, size, integrity, storedAt, status,
 * url, headers, metadata, policy }`; file counts as `{ files, bytes }`.
 */
function inspectDir (dir) {
  assertCacheDir(dir)
  return JSON.parse(native.inspectCacheDir(dir))
}

/**
 * Hashes every entry's content (each shared file once): `{ entries, problems }`, each problem
 * `{ key, integrity, problem: 'corrupt' | 'missing' | 'unreadable', detail }`. Unreadable
 * files (permissions, I/O errors) are listed but are not evidence of corruption.
 */
function checkDirContent (dir) {
  assertCacheDir(dir)
  return JSON.parse(native.checkCacheDirContent(dir))
}

/**
 * The file holding the body with `integrity` ('sha256-<base64>', as entries report it) in the
 * cache directory `dir`, by the core's layout. Whether it exists is not checked.
 */
function contentPath (dir, integrity) {
  validateString(dir, 'dir')
  validateString(integrity, 'integrity')
  return native.contentPath(dir, integrity)
}

module.exports = { assertCacheDir, inspectDir, checkDirContent, contentPath }
