'use strict'
// StreamingCache: the public API over the native addon. Argument checks, body adapters
// live here (the addon's errors arrive coded); storage, eviction and integrity live in Rust.
const { NativeCache } = require('./native')
const { CacheBodyReadable } = require('./body-readable')
const { CacheWriteStream } = require('./write-stream')
const { writeStream } = require('./body-stream')
const { inMemoryBody, checkBody } = require('./body-source')
const { invalidArgType, outOfRange, withCode } = require('./errors')
const { makeTempDir, retainTempDir, releaseTempDir } = require('./temp-dirs')
const { CachePolicy } = require('./cache-policy')
const diagnostics = require('./diagnostics')
const { validateKey, validateString, validateObject, validateOptionalObject, validateCount } = require('./validate')
const { memoryOptions, HotRecords, kSoleHotHit, sharedFields, recordHit } = require('./memory-tier')
const { SmallHits } = require('./small-hits')
const { rangeOption, rangeWithin, rangeOfBuffer, rangeOfNative } = require('./range-read')
const { RemoteLink, kRemoteLink, kDeleteLocal } = require('./remote-link')
const { nativeOptions: remoteOptions } = require('./remote')

/** The caching policy to store: given, or built from the request the response answered. */
function policyOf (entry) {
  if (entry.policy instanceof CachePolicy) return entry.policy.toJSON()
  if (entry.policy != null) return entry.policy
  if (entry.request == null) return undefined
  return new CachePolicy(entry.request, entry, { shared: entry.shared ?? true }).toJSON()
}

/** The response fields to store, as the JSON the core parses and checks. */
function entryJson (entry) {
  validateObject(entry, 'entry')
  const { status, headers, url, metadata } = entry
  // JSON would turn these into null and hide the real problem.
  if (typeof status === 'number' && !Number.isFinite(status)) {
    throw outOfRange('entry.status', 'an integer from 100 to 599', status)
  }
  const policy = policyOf(entry)
  try {
    return JSON.stringify({ status, headers, url, metadata, policy })
  } catch (err) {
    const wrapped = new TypeError(`entry cannot be serialized as JSON: ${err.message}`)
    wrapped.code = 'ERR_INVALID_ARG_VALUE'
    throw wrapped
  }
}

/** How long (ms) `close()` waits for queued uploads to the shared tier. */
const REMOTE_CLOSE_WAIT = 5000

/** Policies built lately, so hits on the same entry do not rebuild theirs. */
const POLICY_MEMO_SIZE = 256

/**
 * Parses the stored fields. `policy` is built on first use (most hits never look at it) and
 * memoized per key in `memo` while the entry's JSON stays the same: a CachePolicy has no
 * mutating methods, so the fields of one stored entry can share it.
 */
function toFields (json, memo) {
  const fields = JSON.parse(json)
  const policy = fields.policy
  if (policy == null) {
    fields.policy = null
    return fields
  }
  const known = memo.get(fields.key)
  if (known !== undefined && known.json === json) {
    fields.policy = known.policy
    return fields
  }
  let built
  Object.defineProperty(fields, 'policy', {
    enumerable: true,
    get: () => {
      if (built === undefined) {
        built = CachePolicy.fromJSON(policy)
        remember(memo, fields.key, json, built)
      }
      return built
    },
  })
  return fields
}

function remember (memo, key, json, policy) {
  memo.delete(key)
  if (memo.size >= POLICY_MEMO_SIZE) memo.delete(memo.keys().next().value)
  memo.set(key, { json, policy })
}

function toHit (native, memo, hot, key, range = null) {
  const json = native.entry
  const fields = toFields(json, memo)
  if (range !== null) {
    fields.range = rangeWithin(range, fields.size)
    fields.body = rangeOfNative(native, fields.range)
    return fields
  }
  // Bodies the RAM tier may take are read whole; once admitted, later hits come from RAM.
  const onWhole = hot !== null && native.fitsMemory
    ? (body, buffer) => {
        const generation = body.generation
        if (generation > 0) hot.remember(key, generation, JSON.parse(json), buffer)
      }
    : null
  fields.body = new CacheBodyReadable(native, fields.size, null, onWhole)
  return fields
}

/** A hit from the RAM tier: the record's fields (shared: read-only) and a stream over its body. */
function toHotHit (record, range = null) {
  const hit = recordHit(record, range === null ? new CacheBodyReadable(null, record.fields.size, record.buffer) : null)
  if (range !== null) {
    hit.range = rangeWithin(range, record.fields.size)
    hit.body = rangeOfBuffer(record.buffer, hit.range)
  }
  return hit
}

class StreamingCache {
  #native
  #closed = false
  /** key -> { json, policy }: see toFields. */
  #policies = new Map()
  /** The JS half of the RAM tier (null when it is off). */
  #hot = null
  /** Small disk hits without a native object or JSON per hit (lib/small-hits.js). */
  #small = new SmallHits((native, key) => toHit(native, this.#policies, this.#hot, key))
  /** The shared second tier (lib/remote-link.js), or null. */
  #remote = null

  constructor (dir, options) {
    validateString(dir, 'dir')
    validateOptionalObject(options, 'options')
    // At least one entry: a cache that can hold nothing would only churn the disk.
    const maxEntries = validateCount(options?.maxEntries, 'options.maxEntries', { min: 1 })
    const maxBodySize = validateCount(options?.maxBodySize, 'options.maxBodySize')
    const maxSize = validateCount(options?.maxSize, 'options.maxSize', { min: 1 })
    const memory = memoryOptions(options?.memory)
    if (options?.remote !== undefined) remoteOptions(options.remote, 'options.remote')
    this.#native = new NativeCache(dir, {
      maxEntries, maxBodySize, maxSize, memoryMaxSize: memory.maxSize, memoryMaxEntrySize: memory.maxEntrySize,
    })
    if (memory.maxSize > 0) this.#hot = new HotRecords(memory.maxSize)
    diagnostics.watchEvictions(this, this.#native)
    if (options?.remote !== undefined) this.#remote = new RemoteLink(this, this.#native, options.remote)
    Object.defineProperty(this, 'dir', { value: dir, enumerable: true })
    retainTempDir(dir)
  }

  static async withTempDir (maxEntries, options) {
    validateCount(maxEntries, 'maxEntries', { min: 1 })
    validateOptionalObject(options, 'options')
    const dir = await makeTempDir()
    return new StreamingCache(dir, { ...options, ...(maxEntries !== undefined && { maxEntries }) })
  }

  /** The native cache, or an error once `close()` was called. */
  #open () {
    if (this.#closed) throw withCode(Error, 'ERR_CACHE_CLOSED', 'The cache is closed')
    return this.#native
  }

  get maxEntries () { return this.#native.maxEntries }
  get maxBodySize () { return this.#native.maxBodySize }
  /** Bytes of content the directory may hold, shared by every process using it. */
  get maxSize () { return this.#native.maxSize }
  /** Index lines that could not be decoded when the cache was opened (skipped, not fatal). */
  get skippedIndexLines () { return this.#native.skippedIndexLines }

  async put (key, entry) {
    validateKey(key)
    validateObject(entry, 'entry')
    checkBody(entry.body)
    const fields = entryJson(entry)
    const whole = inMemoryBody(entry.body)
    if (whole !== null) {
      try {
        const info = await this.#open().putBuffer(key, fields, whole)
        diagnostics.publishStore(this, key, info)
        this.#remote?.stored(key, entry, info)
        return info
      } catch (err) {
        diagnostics.publishStoreError(this, key, err)
        throw err
      }
    }
    const writer = this.#open().beginPut(key, fields)
    try {
      await writeStream(entry.body, writer)
      const info = await writer.commit()
      diagnostics.publishStore(this, key, info)
      this.#remote?.stored(key, entry, info)
      return info
    } catch (err) {
      writer.abort()
      diagnostics.publishStoreError(this, key, err)
      throw err
    }
  }

  createWriteStream (key, entry) {
    validateKey(key)
    const fields = entryJson(entry)
    const stream = new CacheWriteStream(this.#open().beginPut(key, fields))
    stream.committed.then(
      (info) => {
        diagnostics.publishStore(this, key, info)
        this.#remote?.stored(key, entry, info)
      },
      (error) => diagnostics.publishStoreError(this, key, error))
    return stream
  }

  /** The hot record of `key` under `generation` (the native tier's current one), if any. */
  #hotRecord (cache, hot, key, generation) {
    const record = hot.get(key, generation)
    if (record !== undefined) return record
    const fresh = cache.hotHit(key)
    return fresh === null ? undefined : hot.remember(key, fresh.generation, JSON.parse(fresh.entry), fresh.body)
  }

  /** See `kSoleHotHit` (lib/memory-tier.js). */
  [kSoleHotHit] (key, variantPrefix) {
    const hot = this.#hot
    if (hot === null || this.#closed) return null
    const cache = this.#native
    const generation = cache.soleHotGeneration(key, variantPrefix)
    if (generation === 0) return null
    const record = this.#hotRecord(cache, hot, key, generation)
    if (record === undefined) return null
    // A body from RAM was verified when it was admitted: a hit, never an integrity failure.
    if (diagnostics.channels.hit.hasSubscribers) diagnostics.channels.hit.publish({ cache: this, key, size: record.buffer.length })
    return { fields: sharedFields(record), whole: record.buffer }
  }

  /**
   * The entry for `key` with its body open, or null. With `options.range` ([start, end],
   * inclusive), the body streams only those bytes (see range-read.js for the bounds).
   */
  getSync (key, options) {
    validateKey(key)
    const range = rangeOption(options)
    const cache = this.#open()
    const hot = this.#hot
    if (hot !== null) {
      // One native call: the generation of a current hot body, or 0.
      const generation = cache.hotGeneration(key)
      if (generation !== 0) {
        const record = this.#hotRecord(cache, hot, key, generation)
        if (record !== undefined) {
          const hit = toHotHit(record, range)
          diagnostics.publishLookup(this, key, hit)
          return hit
        }
      } else {
        hot.forget(key)
      }
    }
    // Whole bodies from disk: small ones in one call (getSmall offers them to the RAM tier,
    // as a whole read of a larger body does).
    if (range === null) {
      const hit = this.#small.get(cache, key)
      diagnostics.publishLookup(this, key, hit)
      return hit
    }
    const native = range === null ? cache.get(key) : cache.getRange(key, range[0], range[1])
    const hit = native === null ? null : toHit(native, this.#policies, hot, key, range)
    diagnostics.publishLookup(this, key, hit)
    return hit
  }

  /** The RAM tier: its limits, and the bytes and bodies it holds now. */
  memoryUsage () {
    const native = this.#open()
    const [bytes, entries] = native.memoryUsage()
    return { maxSize: native.memoryMaxSize, maxEntrySize: native.memoryMaxEntrySize, bytes, entries }
  }

  /**
   * Like `getSync`; with a `remote` tier, a local miss is looked up there too (see fill). A
   * range is served from the local tiers only: the shared tier streams whole bodies.
   */
  async get (key, options) {
    const hit = this.getSync(key, options)
    if (hit !== null || this.#remote === null || options?.range != null) return hit
    return this.#remote.fill(key)
  }

  /** The shared tier's wiring, for the HTTP engine (lib/engine/remote-lookup.js). */
  get [kRemoteLink] () {
    return this.#remote
  }

  peek (key) {
    validateKey(key)
    const json = this.#open().peek(key)
    return json === null ? null : toFields(json, this.#policies)
  }

  keys (prefix = '') {
    validateString(prefix, 'prefix')
    return this.#open().keys(prefix)
  }

  has (key) {
    validateKey(key)
    return this.#open().has(key)
  }

  /**
   * Replaces the stored fields of `key` (headers, policy, metadata...) without rewriting its
   * body; fields left out keep their stored values. Resolves `false` if `key` is not cached.
   */
  async updateMetadata (key, fields) {
    validateKey(key)
    validateObject(fields, 'fields')
    const current = this.peek(key)
    if (current === null) return false
    const merged = {
      status: fields.status ?? current.status,
      headers: fields.headers ?? current.headers,
      url: fields.url !== undefined ? fields.url : current.url,
      metadata: fields.metadata !== undefined ? fields.metadata : current.metadata,
      policy: fields.policy ?? (fields.request ? undefined : current.policy?.toJSON()),
      request: fields.request,
      shared: fields.shared,
    }
    // Applied by the core only while the key still holds the body these fields were merged
    // for: a put landing in between (here or in another process) makes this a miss instead.
    return this.#open().updateMetadata(key, entryJson(merged), current.integrity)
  }

  /** Removes `key` here and, with a `remote` tier, its metadata there (invalidation). */
  async delete (key) {
    validateKey(key)
    const [deleted, removed] = await Promise.all([
      this[kDeleteLocal](key),
      this.#remote?.remove(key) ?? false,
    ])
    return deleted || removed
  }

  /**
   * `delete` of the local entry only: the HTTP engine's housekeeping (superseded, expired or
   * unreadable entries) must not remove what another host shared meanwhile.
   */
  async [kDeleteLocal] (key) {
    validateKey(key)
    this.#hot?.forget(key)
    this.#small.forget(key)
    const deleted = await this.#open().delete(key)
    diagnostics.publishDelete(this, key, deleted)
    return deleted
  }

  entryCount () {
    return this.#open().entryCount()
  }

  /**
   * Counters since this cache was opened (hits, misses, stores, bytes read and written,
   * evictions by cause, integrity failures) and sizes now (live entries; `bytes` of content
   * in the directory, every process's; `maxSize`; bytes saved by dedup). A plain object.
   */
  stats () {
    const stats = this.#open().stats()
    if (this.#remote !== null) stats.remote = this.#remote.stats()
    return stats
  }

  async clear () {
    this.#hot?.clear()
    this.#small.clear()
    await Promise.all([this.#open().clear(), this.#remote?.purge()])
  }

  /**
   * Reads back every entry's content and checks its hash; removes corrupt entries, temp files
   * of unfinished writes and content no entry points at. Safe while other processes use the
   * directory (then only files untouched for a minute count as garbage).
   */
  async verify () {
    return this.#open().verify()
  }

  /**
   * `verify()`'s garbage step without the hashing: removes temp files of unfinished writes and
   * content no entry (of any process) points at, under the same rules (while other processes
   * use the directory only files untouched for a minute; never a body a live writer may still
   * commit). With `{ dryRun: true }` it only counts. Resolves
   * `{ dryRun, content: { files, bytes }, temp: { files, bytes } }`.
   */
  async collectGarbage (options = {}) {
    validateObject(options, 'options')
    const { dryRun = false } = options
    if (typeof dryRun !== 'boolean') throw invalidArgType('options.dryRun', 'of type boolean', dryRun)
    return this.#open().collectGarbage(dryRun)
  }

  /** Re-reads the disk index, picking up entries other processes stored or deleted. */
  async refresh () {
    await this.#open().refresh()
  }

  /**
   * Finishes pending cleanup and lets go of the directory (other processes stop counting this
   * one as a user). Any later call throws `ERR_CACHE_CLOSED`; bodies already open still read.
   */
  async close () {
    if (this.#closed) return
    this.#closed = true
    // Uploads already queued read the local files; they get a moment to finish.
    await this.#remote?.close(REMOTE_CLOSE_WAIT)
    await this.#native.close()
    // A withTempDir directory goes with the last cache of this process using it.
    await releaseTempDir(this.dir)
  }

  async runPendingTasks () {
    await this.#open().runPendingTasks()
  }
}

module.exports = { StreamingCache }
