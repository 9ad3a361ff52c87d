'use strict'
// StreamingCacheStore: a disk-backed store for undici's own `interceptors.cache({ store })`,
// implementing undici's CacheStore interface (get / createWriteStream / delete). A thin front
// over the HTTP cache engine (lib/engine/): undici makes the caching decisions; this maps its
// keys and values onto the engine's entries, so what this store holds is what
// `cacheInterceptor` over the same StreamingCache holds, and the other way round.
//
// Keys: the engine's scheme, `METHOD URL` plus a `\n`-separated discriminator per variant.
// Everything undici gave us (status, headers, vary, etag, directives, timestamps) is kept in
// the entry's metadata and handed back exactly as it was; an entry the interceptor stored is
// described to undici from its response.
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
const { Writable } = require('node:stream')
const { StreamingCache } = require('../streaming-cache')
const { CachePolicy } = require('../cache-policy')
const { makeTempDirSync } = require('../temp-dirs')
const { validateString, validateObject, validateOptionalObject, validateCount } = require('../validate')
const { invalidArgType, outOfRange } = require('../errors')
const { HttpCacheEngine } = require('../engine/engine')
const { requestUrl, baseKeyOf, normalizeVaryMap, variantKey, varyMatches, policyRequest } = require('../engine/keys')
const { storeMeta, cacheValueOf, pastDeleteAt } = require('../engine/record')
const { rangeValue } = require('../engine/range')
const { heuristicOption } = require('../heuristic-option')

const TIMESTAMPS = ['cachedAt', 'staleAt', 'deleteAt']
const WRITE_HIGH_WATER_MARK = 64 * 1024
const MAX_KEY_BYTES = 64 * 1024
// The methods undici's cache interceptor may store (its `methods` option): `delete` removes them all.
const STORABLE_METHODS = ['GET', 'HEAD', 'OPTIONS', 'TRACE']

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

// ---- keys --------------------------------------------------------------------------------

/** The URL of an undici cache key (the engine's URL form; the raw concatenation if unparsable). */
function urlOf (key) {
  try {
    return requestUrl({ origin: key.origin, path: key.path })
  } catch {
    return key.origin + key.path
  }
}

/**
 * The policy stored with a response, so `cacheInterceptor` can judge it too. Built from the
 * request reduced to what matching needs; none if the response cannot be parsed.
 */
function policyFor (key, url, vary, value, heuristic) {
  try {
    const req = { method: key.method, url, headers: key.headers ?? {} }
    return new CachePolicy(policyRequest(req, vary === null ? [] : Object.keys(vary)),
      { status: value.statusCode, headers: value.headers ?? {} },
      { shared: true, heuristic, responseTime: Number.isFinite(value.cachedAt) ? value.cachedAt : Date.now() })
  } catch {
    return undefined
  }
}

/**
 * `value` with the engine's heuristic freshness (the `heuristic` option) in place of undici's
 * when its freshness is heuristic (no explicit freshness, a `Last-Modified`): undici's is 10%
 * of the time since `Last-Modified` with no floor and no ceiling. `deleteAt` keeps undici's
 * margin past `staleAt` (as long again as the lifetime) so the entry lives to be revalidated.
 */
function withHeuristicFreshness (value, policy) {
  if (policy === undefined || value.headers?.['last-modified'] === undefined || !Number.isFinite(value.cachedAt) ||
    value.cacheControlDirectives?.immutable) return value
  let lifetime
  try {
    // (Pragma: no-cache and no-cache stay undici's to judge.)
    if (policy.hasExplicitFreshness() || policy.responseDirectives().noCache) return value
    lifetime = policy.timeToLive(value.cachedAt)
  } catch {
    return value
  }
  const staleAt = value.cachedAt + lifetime
  return { ...value, staleAt, deleteAt: Math.max(value.deleteAt, staleAt + lifetime) }
}

/** Resolves when `promise` settles or after `ms`, whichever is first. */
function waitAtMost (promise, ms) {
  let timer
  return Promise.race([promise, new Promise((resolve) => { timer = setTimeout(resolve, ms) })])
    .finally(() => clearTimeout(timer))
}

// ---- the store -----------------------------------------------------------------------------

class StreamingCacheStore {
  #engine
  #maxEntrySize
  #coalesceTimeout
  #heuristic
  /** Base key -> Set of { vary, closed }: responses being written (see get). */
  #writing = new Map()

  /**
   * @param {{ location?: string, maxEntries?: number, maxEntrySize?: number, coalesceTimeout?: number,
   *   memory?: false | 0 | { maxSize?: number, maxEntrySize?: number },
   *   heuristic?: false | { fraction?: number, min?: number, max?: number } }} [options]  `memory`: the RAM
   *   tier, as StreamingCache's option of that name; `heuristic`: lib/heuristic-option.js
   */
  constructor (options) {
    validateOptionalObject(options, 'options')
    const location = options?.location
    if (location !== undefined) validateString(location, 'options.location')
    const maxEntries = validateCount(options?.maxEntries, 'options.maxEntries', { min: 1 })
    const maxEntrySize = validateCount(options?.maxEntrySize, 'options.maxEntrySize')
    this.#coalesceTimeout = validateCount(options?.coalesceTimeout, 'options.coalesceTimeout') ?? 10_000
    this.#heuristic = heuristicOption(options?.heuristic)
    const dir = location ?? makeTempDirSync('http-streaming-cache-undici-')
    const cache = new StreamingCache(dir, {
      ...(maxEntries !== undefined && { maxEntries }),
      ...(maxEntrySize !== undefined && { maxBodySize: maxEntrySize }),
      // The shared second tier (README "Sharing a cache across hosts"); checked by the cache.
      ...(options?.remote !== undefined && { remote: options.remote }),
      // Checked by StreamingCache (TypeError / RangeError named options.memory...).
      ...(options?.memory !== undefined && { memory: options.memory }),
    })
    this.#engine = new HttpCacheEngine(cache)
    this.#maxEntrySize = cache.maxBodySize
  }

  /** The cache directory. */
  get location () {
    return this.#engine.cache.dir
  }

  get maxEntries () {
    return this.#engine.cache.maxEntries
  }

  get maxEntrySize () {
    return this.#maxEntrySize
  }

  /** The StreamingCache underneath (for maintenance: verify(), refresh(), entryCount()...). */
  get cache () {
    return this.#engine.cache
  }

  /**
   * The newest stored response for `key`, with a fresh body stream, or `undefined`.
   * Synchronous, except while a write for this URL is being committed: then a promise.
   */
  get (key) {
    validateKey(key)
    const url = urlOf(key)
    const writing = this.#writingFor(key, url)
    if (writing !== undefined) {
      // Request coalescing: the same response is being written (undici streams it to another
      // caller right now); wait for it to be stored rather than asking the origin again.
      return waitAtMost(writing.closed, this.#coalesceTimeout).then(() => this.#afterWrites(key, url))
    }
    return this.#afterWrites(key, url)
  }

  /** A response being written for `key`'s URL and method that would answer `key`, if any. */
  #writingFor (key, url) {
    if (this.#coalesceTimeout === 0) return undefined
    const writes = this.#writing.get(baseKeyOf(key.method.toUpperCase(), url))
    if (writes === undefined) return undefined
    for (const write of writes) {
      if (varyMatches(write.vary, key.headers ?? {})) return write
    }
    return undefined
  }

  /** `get` once no write for `key` is open: waits for pending commits, sees pending deletes. */
  #afterWrites (key, url) {
    const pending = this.#engine.pendingFor(url)
    if (pending !== undefined) {
      if (pending.commits > 0) {
        return pending.tail.then(() => {
          const now = this.#engine.pendingFor(url)
          if (now !== undefined && now.commits === 0 && now.deletes > 0) return undefined
          return this.#lookup(key, url)
        })
      }
      // Only deletes pending: whatever they will remove is already gone for readers.
      if (pending.deletes > 0) return undefined
    }
    return this.#lookup(key, url)
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
    // A 206 or 416 here is one of our own range answers that undici replays into the store
    // after a 304 (it re-reads the value for the same key): storing it would replace the
    // complete response with a part of it. undici itself never stores partial responses.
    if (status === 206 || status === 416) return undefined
    const url = urlOf(key)
    const method = key.method.toUpperCase()
    const baseKey = baseKeyOf(method, url)
    const vary = normalizeVaryMap(value.vary)
    if (Buffer.byteLength(variantKey(baseKey, vary)) > MAX_KEY_BYTES) return undefined
    const engine = this.#engine
    const policy = policyFor(key, url, vary, value, this.#heuristic)
    const { key: entryKey, ws } = engine.createWriter(baseKey, {
      status,
      headers: value.headers ?? {},
      url,
      metadata: storeMeta(method, vary, withHeuristicFreshness(value, policy)),
      policy,
    })
    const requestHeaders = key.headers ?? {}
    const stream = new StoreWriteStream(ws, {
      maxEntrySize: this.#maxEntrySize,
      // end() was called: queue the commit behind this URL's earlier commits and deletes.
      onEnd: (startCommit, settled) => {
        engine.serialize(url, 'commits', (previous) => {
          startCommit(previous)
          return settled
        })
      },
      afterCommit: () => engine.supersede(baseKey, entryKey, requestHeaders),
    })
    this.#trackWrite(baseKey, vary, stream)
    return stream
  }

  /** Lists `stream` as being written under `baseKey` until it closes (stored or not). */
  #trackWrite (baseKey, vary, stream) {
    let writes = this.#writing.get(baseKey)
    if (writes === undefined) {
      writes = new Set()
      this.#writing.set(baseKey, writes)
    }
    const write = { vary, closed: new Promise((resolve) => stream.once('close', resolve)) }
    writes.add(write)
    write.closed.then(() => {
      writes.delete(write)
      if (writes.size === 0 && this.#writing.get(baseKey) === writes) this.#writing.delete(baseKey)
    })
  }

  /** Removes every stored response (all variants, all methods) for `key.origin` + `key.path`. */
  delete (key) {
    validateDeleteKey(key)
    const url = urlOf(key)
    const engine = this.#engine
    return engine.serialize(url, 'deletes', (previous) => previous.then(() =>
      engine.invalidate(STORABLE_METHODS.map((method) => baseKeyOf(method, url)))))
  }

  #lookup (key, url) {
    const engine = this.#engine
    const now = Date.now()
    const method = key.method.toUpperCase()
    const query = {
      method,
      headers: key.headers ?? {},
      open: true,
      judge: (fields) => {
        if (!pastDeleteAt(fields.metadata, now)) return true
        engine.dropExpired(url, fields.key)
        return null
      },
    }
    const found = engine.lookup(baseKeyOf(method, url), query)
    if (found === null) {
      // The cache's shared second tier, if it has one (lib/engine/remote-lookup.js).
      if (engine.remote === null || method !== 'GET') return undefined
      return engine.lookupRemote(baseKeyOf(method, url), query)
        .then((remote) => remote === null ? undefined : resultOf(remote))
    }
    return resultOf(found, answersRange(key) ? { engine, headers: key.headers } : null)
  }
}

/**
 * The undici GetResult of an engine Found, its body taken: for a Range lookup (`ranged`) the
 * 206/416 value engine/range.js makes of a stored complete 200, where it applies. (A hit from
 * the shared tier is passed whole: a server may ignore Range.)
 */
function resultOf (found, ranged = null) {
  try {
    const result = cacheValueOf(found.fields)
    if (ranged !== null && found.fields.status === 200) {
      const value = rangeValue(ranged.engine, ranged.headers, found, result)
      if (value === null) return undefined
      if (value !== undefined) return value
    }
    result.body = found.takeBody()
    return result
  } finally {
    found.release()
  }
}

/**
 * Whether a lookup for `key` is a Range request this store answers from a stored complete
 * response (engine/range.js): a GET with `Range` and no other conditional header. (With one,
 * undici may write the value it got back into the store after a 304, so it gets the complete
 * response, as before.)
 */
function answersRange (key) {
  const headers = key.headers
  return key.method.toUpperCase() === 'GET' && headers?.range !== undefined &&
    headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined &&
    headers['if-match'] === undefined && headers['if-unmodified-since'] === undefined
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
