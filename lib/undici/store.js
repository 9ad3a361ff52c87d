'use strict'
// StreamingCacheStore: a disk-backed store for undici's own `interceptors.cache({ store })`,
// implementing undici's CacheStore interface (get / createWriteStream / delete) over a
// StreamingCache. undici makes the caching decisions; this only stores and selects responses.
//
// Layout: one cache entry per (origin, path, method, variant). Keys share a prefix per
// origin + path, so `keys(prefix)` finds every variant of a URL without touching the disk:
//
//   undici:["<origin>","<path>"] <METHOD> <variant>
//
// where <variant> is `-` for a response without `Vary`, else a hash of its vary map. The
// JSON array quoting makes the URL part unambiguous: no other origin or path can produce a
// key that starts with this prefix. Everything undici gave us (status, headers, vary, etag,
// directives, timestamps) is kept in the entry's `metadata` and handed back as it was.
//
// Selection is undici's MemoryCacheStore's: same method, every `vary` header equal (null:
// absent), `deleteAt` after Date.now(); the newest such entry wins. As there, a committed
// response replaces the variants its own request selected. Expired entries a get runs into
// are removed in the background.
//
// Ordering: writes commit and deletes run on libuv threads, so per URL they are chained: a
// commit or delete starts only after the ones issued before it finished. While a commit is
// pending (`end()` was called, the entry is not in the index yet) `get` returns a promise
// that waits for it; while only deletes are pending, `get` answers `undefined` at once.
const crypto = require('node:crypto')
const { Writable } = require('node:stream')
const { StreamingCache } = require('../streaming-cache')
const { makeTempDirSync } = require('../temp-dirs')
const { validateString, validateObject, validateOptionalObject, validateCount } = require('../validate')
const { invalidArgType, outOfRange } = require('../errors')

const KEY_SCHEME = 'undici:'
const METADATA_VERSION = 1
const NO_VARY = '-'
const TIMESTAMPS = ['cachedAt', 'staleAt', 'deleteAt']
const WRITE_HIGH_WATER_MARK = 64 * 1024
const MAX_KEY_BYTES = 64 * 1024

const noop = () => {}

/** The key prefix shared by every variant and method of one URL. */
function urlPrefix (key) {
  return `${KEY_SCHEME}${JSON.stringify([key.origin, key.path])} `
}

/** The key prefix shared by every variant of one URL and method. */
function methodPrefix (key) {
  return `${urlPrefix(key)}${key.method} `
}

/** `-` without vary, else a hash of the vary map with its names sorted. */
function variantId (vary) {
  if (vary == null) return NO_VARY
  const names = Object.keys(vary).sort()
  if (names.length === 0) return NO_VARY
  const canonical = JSON.stringify(names.map((name) => [name, vary[name] ?? null]))
  return crypto.createHash('sha256').update(canonical).digest('base64url').slice(0, 22)
}

function headerValueEquals (a, b) {
  if (a == null || b == null) return a == null && b == null
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
    return true
  }
  return a === b
}

/** Whether a request with `headers` selects a response stored with `vary` (null: must be absent). */
function varyMatches (vary, headers) {
  if (vary == null) return true
  for (const name of Object.keys(vary)) {
    if (!headerValueEquals(headers?.[name], vary[name])) return false
  }
  return true
}

// ---- argument checks ---------------------------------------------------------------------

function validateKey (key, name = 'key') {
  validateObject(key, name)
  validateString(key.origin, `${name}.origin`)
  validateString(key.method, `${name}.method`)
  validateString(key.path, `${name}.path`)
  if (key.headers != null) validateObject(key.headers, `${name}.headers`)
}

function validateDeleteKey (key) {
  validateObject(key, 'key')
  validateString(key.origin, 'key.origin')
  validateString(key.path, 'key.path')
}

function validateValue (value) {
  validateObject(value, 'value')
  if (typeof value.statusCode !== 'number') throw invalidArgType('value.statusCode', 'of type number', value.statusCode)
  validateString(value.statusMessage, 'value.statusMessage')
  for (const field of TIMESTAMPS) {
    const time = value[field]
    if (typeof time !== 'number') throw invalidArgType(`value.${field}`, 'of type number', time)
    if (Number.isNaN(time)) throw outOfRange(`value.${field}`, 'a number of ms since the epoch', time)
  }
  if (value.headers != null) validateObject(value.headers, 'value.headers')
  if (value.vary != null) validateObject(value.vary, 'value.vary')
  if (value.etag !== undefined) validateString(value.etag, 'value.etag')
  if (value.cacheControlDirectives != null) validateObject(value.cacheControlDirectives, 'value.cacheControlDirectives')
}

// ---- what is stored ------------------------------------------------------------------------

/**
 * The metadata stored for `value`. The value itself is kept as JSON text written and read by
 * JavaScript: the core's JSON parser may round a fractional number (a heuristic `staleAt`) by
 * one ulp, a string goes through untouched. Fields set to `undefined` are listed by name so
 * they come back; non-finite timestamps are kept as strings. `vary` and `deleteAt` are also
 * kept outside, so selecting a variant does not parse the value.
 */
function encodeMetadata (method, value) {
  const stored = {}
  const undef = []
  for (const name of Object.keys(value)) {
    const field = value[name]
    if (field === undefined) undef.push(name)
    else stored[name] = field
  }
  for (const field of TIMESTAMPS) {
    if (!Number.isFinite(value[field])) stored[field] = String(value[field])
  }
  return {
    undici: METADATA_VERSION,
    method,
    vary: matchingVary(value.vary),
    deleteAt: String(value.deleteAt),
    value: JSON.stringify(stored),
    undef,
  }
}

/** The vary map as matched: a header whose value is `undefined` must be absent, as with `null`. */
function matchingVary (vary) {
  if (vary == null) return null
  const out = {}
  for (const name of Object.keys(vary)) out[name] = vary[name] ?? null
  return out
}

/** The metadata of an entry this store wrote, or null (a foreign entry: ignored). */
function decodeMetadata (metadata) {
  if (metadata === null || typeof metadata !== 'object' || metadata.undici !== METADATA_VERSION ||
    typeof metadata.value !== 'string') return null
  return metadata
}

function timestamp (stored) {
  return typeof stored === 'string' ? Number(stored) : stored
}

/** The GetResult for stored metadata and an open body. */
function toResult (metadata, body) {
  const result = JSON.parse(metadata.value)
  for (const name of metadata.undef) result[name] = undefined
  for (const field of TIMESTAMPS) result[field] = timestamp(result[field])
  // undici reads `cacheControlDirectives[...]` unguarded on stale responses.
  if (result.cacheControlDirectives == null) result.cacheControlDirectives = {}
  result.body = body
  return result
}

/** Whether stored metadata answers a request for `key` at `now`. */
function selects (metadata, key, now) {
  return metadata.method === key.method &&
    Number(metadata.deleteAt) > now &&
    varyMatches(metadata.vary, key.headers)
}

// ---- the store -----------------------------------------------------------------------------

class StreamingCacheStore {
  #cache
  #maxEntrySize
  /** URL prefix -> { tail, ops, commits, deletes, cleanups }: operations still running. */
  #pending = new Map()
  /** Keys with an expiry cleanup queued. */
  #expiring = new Set()

  /**
   * @param {{ location?: string, maxEntries?: number, maxEntrySize?: number }} [options]
   */
  constructor (options) {
    validateOptionalObject(options, 'options')
    const location = options?.location
    if (location !== undefined) validateString(location, 'options.location')
    const maxEntries = validateCount(options?.maxEntries, 'options.maxEntries', { min: 1 })
    const maxEntrySize = validateCount(options?.maxEntrySize, 'options.maxEntrySize')
    const dir = location ?? makeTempDirSync('http-streaming-cache-undici-')
    this.#cache = new StreamingCache(dir, {
      ...(maxEntries !== undefined && { maxEntries }),
      ...(maxEntrySize !== undefined && { maxBodySize: maxEntrySize }),
    })
    this.#maxEntrySize = this.#cache.maxBodySize
  }

  /** The cache directory. */
  get location () {
    return this.#cache.dir
  }

  get maxEntries () {
    return this.#cache.maxEntries
  }

  get maxEntrySize () {
    return this.#maxEntrySize
  }

  /** The StreamingCache underneath (for maintenance: verify(), refresh(), entryCount()...). */
  get cache () {
    return this.#cache
  }

  /**
   * The newest stored response for `key`, with a fresh body stream, or `undefined`.
   * Synchronous, except while a write for this URL is being committed: then a promise.
   */
  get (key) {
    validateKey(key)
    const prefix = urlPrefix(key)
    const pending = this.#pending.get(prefix)
    if (pending !== undefined) {
      if (pending.commits > 0) {
        return pending.tail.then(() => this.#currentResult(key, prefix))
      }
      // Only deletes pending: whatever they will remove is already gone for readers.
      if (pending.deletes > 0) return undefined
    }
    return this.#lookup(key)
  }

  /**
   * A Writable for the body of the response `value` to `key`. Chunks go to disk as they are
   * written; the entry is committed when the stream finishes. A body over `maxEntrySize`
   * makes the stream destroy itself; nothing is stored then, nor after `destroy()` or an error.
   * Returns `undefined` (declines) for responses the cache cannot hold.
   */
  createWriteStream (key, value) {
    validateKey(key)
    validateValue(value)
    const status = value.statusCode
    if (!Number.isInteger(status) || status < 100 || status > 599) return undefined
    const entryKey = methodPrefix(key) + variantId(value.vary)
    if (Buffer.byteLength(entryKey) > MAX_KEY_BYTES) return undefined
    const inner = this.#cache.createWriteStream(entryKey, {
      status,
      url: key.origin + key.path,
      metadata: encodeMetadata(key.method, value),
    })
    const cacheKey = { origin: key.origin, method: key.method, path: key.path, headers: key.headers }
    return new StoreWriteStream(inner, {
      maxEntrySize: this.#maxEntrySize,
      // end() was called: queue the commit behind this URL's earlier commits and deletes.
      onEnd: (startCommit, settled) => {
        this.#enqueue(urlPrefix(key), 'commits', (previous) => {
          startCommit(previous)
          return settled
        })
      },
      afterCommit: () => this.#dropReplaced(cacheKey, entryKey).catch(noop),
    })
  }

  /** Removes every stored response (all variants, all methods) for `key.origin` + `key.path`. */
  delete (key) {
    validateDeleteKey(key)
    const prefix = urlPrefix(key)
    return this.#enqueue(prefix, 'deletes', (previous) => previous.then(() => this.#deleteAll(prefix)))
  }

  // ---- internals -----------------------------------------------------------------------

  /**
   * Runs `op(previous)` for `prefix`, where `previous` settles when every commit and delete
   * queued before it is done. `kind` counts it as one of 'commits', 'deletes' or 'cleanups'.
   */
  #enqueue (prefix, kind, op) {
    let pending = this.#pending.get(prefix)
    if (pending === undefined) {
      pending = { tail: Promise.resolve(), ops: 0, commits: 0, deletes: 0, cleanups: 0 }
      this.#pending.set(prefix, pending)
    }
    pending.ops++
    pending[kind]++
    const previous = pending.tail
    let running
    try {
      running = Promise.resolve(op(previous))
    } catch (err) {
      running = Promise.reject(err)
    }
    const done = running.catch(noop).then(() => {
      pending.ops--
      pending[kind]--
      if (pending.ops === 0 && this.#pending.get(prefix) === pending) this.#pending.delete(prefix)
    })
    pending.tail = done
    return done
  }

  /** Drops older variants a newly committed response replaces (same method, selected by the same request). */
  async #dropReplaced (key, entryKey) {
    const replaced = []
    for (const other of this.#cache.keys(methodPrefix(key))) {
      if (other === entryKey) continue
      const metadata = decodeMetadata(this.#cache.peek(other)?.metadata)
      if (metadata !== null && varyMatches(metadata.vary, key.headers)) replaced.push(other)
    }
    await Promise.all(replaced.map((other) => this.#cache.delete(other).catch(noop)))
  }

  /** `get` once the pending operations it waited for are done. */
  #currentResult (key, prefix) {
    const pending = this.#pending.get(prefix)
    if (pending !== undefined && pending.commits === 0 && pending.deletes > 0) return undefined
    return this.#lookup(key)
  }

  #lookup (key) {
    const now = Date.now()
    const entryKeys = this.#cache.keys(methodPrefix(key))
    // One variant (the common case): opened at once and judged on what was opened.
    if (entryKeys.length === 1) return this.#open(key, entryKeys[0], now)
    const candidates = []
    for (const entryKey of entryKeys) {
      const fields = this.#cache.peek(entryKey)
      const metadata = fields === null ? null : decodeMetadata(fields.metadata)
      if (metadata === null || metadata.method !== key.method) continue
      if (!(Number(metadata.deleteAt) > now)) {
        this.#dropExpired(key, entryKey)
        continue
      }
      if (!varyMatches(metadata.vary, key.headers)) continue
      candidates.push({ entryKey, storedAt: fields.storedAt })
    }
    // Newest first.
    candidates.sort((a, b) => b.storedAt - a.storedAt)
    for (const { entryKey } of candidates) {
      let hit
      try {
        hit = this.#cache.getSync(entryKey)
      } catch {
        continue // unreadable (removed or corrupt meanwhile): try the next variant
      }
      if (hit === null) continue
      // The entry may have been replaced between peek and open: check what was opened.
      const metadata = decodeMetadata(hit.metadata)
      if (metadata === null || !selects(metadata, key, now)) {
        hit.body.destroy()
        continue
      }
      return toResult(metadata, hit.body)
    }
    return undefined
  }

  /** The GetResult of `entryKey` if it answers `key` at `now`, else undefined. */
  #open (key, entryKey, now) {
    let hit
    try {
      hit = this.#cache.getSync(entryKey)
    } catch {
      return undefined
    }
    if (hit === null) return undefined
    const metadata = decodeMetadata(hit.metadata)
    if (metadata === null || !selects(metadata, key, now)) {
      hit.body.destroy()
      if (metadata !== null && metadata.method === key.method && !(Number(metadata.deleteAt) > now)) {
        this.#dropExpired(key, entryKey)
      }
      return undefined
    }
    return toResult(metadata, hit.body)
  }

  /** Removes an expired entry in the background (after pending commits, if still expired). */
  #dropExpired (key, entryKey) {
    if (this.#expiring.has(entryKey)) return
    this.#expiring.add(entryKey)
    this.#enqueue(urlPrefix(key), 'cleanups', (previous) => previous.then(async () => {
      try {
        const metadata = decodeMetadata(this.#cache.peek(entryKey)?.metadata)
        if (metadata !== null && !(Number(metadata.deleteAt) > Date.now())) {
          await this.#cache.delete(entryKey)
        }
      } finally {
        this.#expiring.delete(entryKey)
      }
    }))
  }

  async #deleteAll (prefix) {
    await Promise.all(this.#cache.keys(prefix).map((entryKey) => this.#cache.delete(entryKey).catch(noop)))
  }
}

/**
 * The Writable `createWriteStream` returns: counts bytes against `maxEntrySize`, forwards
 * chunks (with backpressure) to the cache's own write stream, and commits in `_final`, in
 * order with the other commits and deletes of the same URL.
 */
class StoreWriteStream extends Writable {
  #inner
  #maxEntrySize
  #onEnd
  #afterCommit
  #size = 0
  #ending = false
  /** Settles when the operations queued before this commit are done. */
  #previous
  #onPrevious

  constructor (inner, { maxEntrySize, onEnd, afterCommit }) {
    super({ highWaterMark: WRITE_HIGH_WATER_MARK, decodeStrings: true })
    this.#inner = inner
    this.#maxEntrySize = maxEntrySize
    this.#onEnd = onEnd
    this.#afterCommit = afterCommit
    inner.on('error', (err) => this.destroy(err))
  }

  end (...args) {
    if (!this.#ending && !this.destroyed && !this.writableEnded) {
      this.#ending = true
      // Queued now, not in _final (which runs once buffered writes are flushed): a `get`
      // issued after `end()` returns must wait for this commit.
      const settled = new Promise((resolve) => this.once('close', resolve))
      this.#onEnd((previous) => {
        this.#previous = previous
        this.#onPrevious?.()
      }, settled)
    }
    return super.end(...args)
  }

  _write (chunk, encoding, callback) {
    this.#size += chunk.length
    if (this.#size > this.#maxEntrySize) {
      // As undici's MemoryCacheStore does: no error, since undici deletes the URL on 'error'.
      this.destroy()
      callback()
      return
    }
    if (this.#inner.write(chunk)) callback()
    else this.#inner.once('drain', callback)
  }

  _final (callback) {
    const commit = () => {
      this.#previous
        .then(() => {
          if (this.destroyed) return
          this.#inner.end()
          return this.#inner.committed.then(() => this.#afterCommit())
        })
        .then(() => callback(), callback)
    }
    if (this.#previous !== undefined) commit()
    else this.#onPrevious = commit
  }

  _destroy (err, callback) {
    if (!this.#inner.writableFinished) this.#inner.destroy()
    callback(err)
  }
}

module.exports = { StreamingCacheStore }
