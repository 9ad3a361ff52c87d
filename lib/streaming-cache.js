'use strict'
// StreamingCache: the public API over the native addon. Argument checks, body adapters
// and error conversion live here; storage, eviction and integrity live in Rust.
const { NativeCache } = require('./native')
const { CacheBodyReadable } = require('./body-readable')
const { CacheWriteStream } = require('./write-stream')
const { writeStream } = require('./body-stream')
const { inMemoryBody, checkBody } = require('./body-source')
const { callNative, fromNative, outOfRange, withCode } = require('./errors')
const { makeTempDir, retainTempDir, releaseTempDir } = require('./temp-dirs')
const { CachePolicy } = require('./cache-policy')
const { validateKey, validateString, validateObject, validateOptionalObject, validateCount } = require('./validate')

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

function toHit (native, memo) {
  const fields = toFields(native.entry, memo)
  fields.body = new CacheBodyReadable(native, fields.size)
  return fields
}

class StreamingCache {
  #native
  #closed = false
  /** key -> { json, policy }: see toFields. */
  #policies = new Map()

  constructor (dir, options) {
    validateString(dir, 'dir')
    validateOptionalObject(options, 'options')
    // At least one entry: a cache that can hold nothing would only churn the disk.
    const maxEntries = validateCount(options?.maxEntries, 'options.maxEntries', { min: 1 })
    const maxBodySize = validateCount(options?.maxBodySize, 'options.maxBodySize')
    this.#native = callNative(() => new NativeCache(dir, { maxEntries, maxBodySize }))
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
        return await this.#open().putBuffer(key, fields, whole)
      } catch (err) {
        throw fromNative(err)
      }
    }
    const writer = callNative(() => this.#open().beginPut(key, fields))
    try {
      await writeStream(entry.body, writer)
      return await writer.commit()
    } catch (err) {
      writer.abort()
      throw fromNative(err)
    }
  }

  createWriteStream (key, entry) {
    validateKey(key)
    const fields = entryJson(entry)
    return new CacheWriteStream(callNative(() => this.#open().beginPut(key, fields)))
  }

  getSync (key) {
    validateKey(key)
    const native = callNative(() => this.#open().get(key))
    return native === null ? null : toHit(native, this.#policies)
  }

  async get (key) {
    return this.getSync(key)
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
    try {
      return await this.#open().updateMetadata(key, entryJson(merged))
    } catch (err) {
      throw fromNative(err)
    }
  }

  async delete (key) {
    validateKey(key)
    try {
      return await this.#open().delete(key)
    } catch (err) {
      throw fromNative(err)
    }
  }

  entryCount () {
    return this.#open().entryCount()
  }

  async clear () {
    try {
      await this.#open().clear()
    } catch (err) {
      throw fromNative(err)
    }
  }

  /**
   * Reads back every entry's content and checks its hash; removes corrupt entries, temp files
   * of unfinished writes and content no entry points at. Safe while other processes use the
   * directory (then only files untouched for a minute count as garbage).
   */
  async verify () {
    return this.#open().verify()
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
    await this.#native.close()
    // A withTempDir directory goes with the last cache of this process using it.
    await releaseTempDir(this.dir)
  }

  async runPendingTasks () {
    await this.#open().runPendingTasks()
  }
}

module.exports = { StreamingCache }
