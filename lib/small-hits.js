'use strict'
// Disk hits of small bodies: one native call (`getSmall`) opens the body, reads it whole into
// a scratch Buffer lent for the call and checks its hash, and names the stored entry by a
// number. The fields cross as JSON once per stored entry (`smallEntry`) and are kept here per
// key with that number and the native entry that keeps the number unambiguous; a hit whose
// number matches reuses them. So a small disk hit wraps no native object, registers no
// finalizer and parses no JSON: the measured cost of the old path (a napi object wrap and its
// finalizer, the fields serialized in Rust and parsed in JS, per hit).
//
// Nothing here decides what is current: every hit is a full native lookup (the index, then the
// disk index if the file went away), exactly as `get`. A record is used only while the native
// lookup names its entry, so a replaced or updated entry is never served with old fields.
const { CacheBodyReadable, CHUNK_SIZE } = require('./body-readable')
const { recordHit } = require('./memory-tier')

/**
 * Bodies up to this size are read whole on the JS thread (one read of a page-cached file: a
 * few µs; the trip through the libuv pool costs 50-150). The same bound as the body stream's
 * synchronous whole reads.
 */
const SMALL_MAX = CHUNK_SIZE
/** Stored entries whose fields are kept (about 1 KiB each with typical headers). */
const MAX_RECORDS = 16384

/** A native body stand-in whose only read fails with `error` (what the real read threw). */
function failedBody (error) {
  return {
    readWholeSync () { throw error },
    readWhole () { return Promise.reject(error) },
    close () {},
  }
}

class SmallHits {
  /** key -> { id, entry, fields, policy }, oldest first. */
  #records = new Map()
  #scratch = Buffer.allocUnsafeSlow(SMALL_MAX)
  /** (native body, key) -> hit, for bodies too large to read here. */
  #largeHit

  constructor (largeHit) {
    this.#largeHit = largeHit
  }

  /** The hit for `key` (body open or read), or null: what `getSync` returns without a range. */
  get (cache, key) {
    // A key seen before is read straight into a Buffer of its known size, which becomes the
    // body: no copy out of the scratch Buffer. A body that no longer fits comes back open,
    // as a large one does, and the key's record is dropped so its next hit uses the scratch.
    const known = this.#records.get(key)
    const into = known === undefined ? this.#scratch : Buffer.allocUnsafe(known.fields.size)
    let got
    try {
      got = cache.getSmall(key, into)
    } catch (err) {
      const entry = cache.smallEntry()
      // The lookup itself failed: no hit to hand over, as with `get`.
      if (entry === null) throw err
      // The read failed (a damaged body is dropped by the core already): the hit's body
      // fails with the error when it is read, as a streamed body does.
      this.forget(key)
      const record = { id: 0, entry, fields: JSON.parse(entry.json), policy: undefined }
      return recordHit(record, new CacheBodyReadable(failedBody(err), record.fields.size))
    }
    if (got === null) {
      this.forget(key)
      return null
    }
    if (typeof got !== 'number') {
      if (known !== undefined) this.forget(key)
      return this.#largeHit(got, key)
    }
    const record = this.#record(cache, key, got, known)
    const size = record.fields.size
    let body
    if (into !== this.#scratch) {
      body = size === into.length ? into : into.subarray(0, size)
    } else {
      body = Buffer.allocUnsafe(size)
      into.copy(body, 0, 0, size)
    }
    return recordHit(record, new CacheBodyReadable(null, size, body))
  }

  /** The record of the entry `getSmall` just named `id` (kept when `id` is a number). */
  #record (cache, key, id, known) {
    if (known !== undefined && id !== 0 && known.id === id) return known
    const entry = cache.smallEntry()
    const record = { id, entry, fields: JSON.parse(entry.json), policy: undefined }
    if (known !== undefined) this.#records.delete(key)
    if (id !== 0) {
      if (this.#records.size >= MAX_RECORDS) this.#records.delete(this.#records.keys().next().value)
      this.#records.set(key, record)
    }
    return record
  }

  forget (key) {
    this.#records.delete(key)
  }

  clear () {
    this.#records.clear()
  }
}

module.exports = { SmallHits, SMALL_MAX }
