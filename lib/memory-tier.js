'use strict'
// The JS half of the RAM tier. The native tier decides what is hot and whether it is still
// current (one call returning a number); this side keeps, per hot entry, what a hit needs on
// the JS side: the parsed fields, the CachePolicy once built, and the Buffer over the body.
// So a RAM hit parses no JSON, wraps no native object and registers no finalizer.
//
// Records are only ever used under the generation the native tier names right now, so a
// stale record cannot be served; they are bounded by the same byte budget as the native tier
// (oldest out first) and dropped as soon as the native tier no longer names them. The bodies
// are the same memory as the native tier's (no copy) unless the native tier dropped a body
// that a record still holds: at most twice the budget in the worst case.
const { validateCount } = require('./validate')
const { invalidArgType, outOfRange } = require('./errors')
const { CacheBodyReadable } = require('./body-readable')
const { CachePolicy } = require('./cache-policy')
const { FreshJudge, kFreshJudge } = require('./fresh-judge')

/**
 * Internal, for the HTTP engine: `cache[kSoleHotHit](key, variantPrefix)` is `{ fields, whole }`
 * when the RAM tier holds a current body for `key` and no live key starts with
 * `variantPrefix`, else null. `fields` are shared by every such hit (read them, do not change
 * them), `whole` is the verified body (read it, do not write to it).
 */
const kSoleHotHit = Symbol('streaming-cache.soleHotHit')

const DEFAULT_MAX_SIZE = 64 * 1024 * 1024
const DEFAULT_MAX_ENTRY_SIZE = 1024 * 1024
/** Matches the native tier's per-entry cost, so tiny bodies are not free. */
const ENTRY_OVERHEAD = 256

/**
 * `options.memory` as the native options: undefined (defaults), `false` or `0` (off), or
 * `{ maxSize, maxEntrySize }` (either may be left out; `maxSize: 0` is off too).
 */
function memoryOptions (memory) {
  if (memory === undefined) return { maxSize: DEFAULT_MAX_SIZE, maxEntrySize: DEFAULT_MAX_ENTRY_SIZE }
  if (memory === false || memory === 0) return { maxSize: 0, maxEntrySize: 0 }
  if (memory === null || typeof memory !== 'object' || Array.isArray(memory)) {
    throw invalidArgType('options.memory', 'false, 0 or an object { maxSize, maxEntrySize }', memory)
  }
  const maxSize = validateCount(memory.maxSize, 'options.memory.maxSize') ?? DEFAULT_MAX_SIZE
  if (maxSize === 0) return { maxSize: 0, maxEntrySize: 0 }
  let maxEntrySize = validateCount(memory.maxEntrySize, 'options.memory.maxEntrySize')
  if (maxEntrySize === undefined) {
    maxEntrySize = Math.min(DEFAULT_MAX_ENTRY_SIZE, maxSize)
  } else if (maxEntrySize > maxSize) {
    throw outOfRange('options.memory.maxEntrySize', `at most options.memory.maxSize (${maxSize})`, maxEntrySize)
  } else if (maxEntrySize >= 2 ** 32 - ENTRY_OVERHEAD) {
    throw outOfRange('options.memory.maxEntrySize', 'below 4 GiB', maxEntrySize)
  }
  return { maxSize, maxEntrySize }
}

class HotRecords {
  /** key -> { generation, fields, buffer, policy, cost } */
  #records = new Map()
  #bytes = 0
  #maxBytes

  constructor (maxBytes) {
    this.#maxBytes = maxBytes
  }

  /** The record for `key` under `generation`, or undefined. */
  get (key, generation) {
    const record = this.#records.get(key)
    return record !== undefined && record.generation === generation ? record : undefined
  }

  /** Forgets `key` (the native tier no longer holds a current body for it). */
  forget (key) {
    const record = this.#records.get(key)
    if (record === undefined) return
    this.#records.delete(key)
    this.#bytes -= record.cost
  }

  /** Remembers the fields (`fields`, parsed) and body of `key`'s hot entry `generation`. */
  remember (key, generation, fields, buffer) {
    this.forget(key)
    const cost = buffer.length + ENTRY_OVERHEAD
    if (cost > this.#maxBytes) return undefined
    const record = { generation, fields, buffer, policy: undefined, judge: undefined, cost, shared: undefined }
    while (this.#bytes + cost > this.#maxBytes) {
      const [oldest, old] = this.#records.entries().next().value
      this.#records.delete(oldest)
      this.#bytes -= old.cost
    }
    this.#records.set(key, record)
    this.#bytes += cost
    return record
  }

  clear () {
    this.#records.clear()
    this.#bytes = 0
  }
}

/** The record's CachePolicy (built once, on first use), or null when it has none. */
function recordPolicy (record) {
  if (record.fields.policy == null) return null
  return (record.policy ??= CachePolicy.fromJSON(record.fields.policy))
}

/** The record's FreshJudge (built once, on first use), or null. */
function recordJudge (record) {
  if (record.judge !== undefined) return record.judge
  const policy = recordPolicy(record)
  let judge = null
  try {
    judge = policy === null ? null : FreshJudge.of(policy)
  } catch {
    judge = null
  }
  record.judge = judge
  return judge
}

/** The fields a lookup returns of a hot record's stored `fields` (no policy, no body). */
function lookupFields (f) {
  return {
    key: f.key,
    status: f.status,
    headers: f.headers,
    url: f.url,
    metadata: f.metadata,
    size: f.size,
    integrity: f.integrity,
    storedAt: f.storedAt,
  }
}

/**
 * A hit of its own for a record (RAM tier or small disk hit): the record's fields, its policy
 * (the record's, built on first read) and `body`.
 */
function recordHit (record, body) {
  const f = record.fields
  const hit = lookupFields(f)
  hit.policy = null
  hit.body = body
  if (f.policy != null) {
    if (record.policy !== undefined) {
      hit.policy = record.policy
    } else {
      Object.defineProperty(hit, 'policy', { enumerable: true, get: () => recordPolicy(record) })
    }
  }
  return hit
}

/**
 * The stored fields of a hot record as a lookup returns them (without `body`), built once per
 * record and shared by its hits: read-only. `policy` (and its FreshJudge) is built on first use.
 */
function sharedFields (record) {
  if (record.shared !== undefined) return record.shared
  const shared = lookupFields(record.fields)
  Object.defineProperty(shared, 'policy', { enumerable: true, get: () => recordPolicy(record) })
  // The policy's common answer in JS, kept with the record and gone with it (lib/fresh-judge.js).
  Object.defineProperty(shared, kFreshJudge, { get: () => recordJudge(record) })
  record.shared = shared
  return shared
}

/** A body stream over a whole hot body (chunks of at most 64 KiB, views of it). */
function hotBody (whole) {
  return new CacheBodyReadable(null, whole.length, whole)
}

module.exports = {
  memoryOptions, HotRecords, DEFAULT_MAX_SIZE, DEFAULT_MAX_ENTRY_SIZE, kSoleHotHit, sharedFields, recordHit, recordPolicy, hotBody,
}
