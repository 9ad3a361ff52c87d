'use strict'
// The shared second tier (Redis/Valkey, lib/remote.js) wired into a StreamingCache:
//
// - fill: a local miss that hits the shared tier is served to the caller and stored in the
//   local disk cache at once, from one read of the remote body (the same tee as an origin
//   miss). Bodies of one chunk are read and verified whole first, so a bad one is a plain
//   miss; larger ones stream, verified chunk by chunk and as a whole at their end (a bad one
//   fails the caller's body and aborts the local write: nothing is stored).
// - write-through: every local store is queued for upload in the background (the Rust queue
//   reads it back from the local disk when a worker is free; a full queue drops and counts).
// - invalidation: removes the key's metadata in Redis (`remove`, `purge`).
// - fetch locks: the lock a host took before going to the origin is handed to the upload of
//   what it stored, and released once that upload finished.
//
// Failure is a miss: nothing here throws at a caller that the local cache or the origin can
// answer. The cache reaches this object through `remoteOf(cache)`.
const { PassThrough } = require('node:stream')
const { RemoteTier, kEnqueueLocal, kGetVerified } = require('./remote')
const { CacheBodyReadable } = require('./body-readable')
const { CachePolicy } = require('./cache-policy')
const { validateObject } = require('./validate')
const diagnostics = require('./diagnostics')

/** An entry property: the key its write-through goes to in the shared tier (default: its own). */
const kRemoteKey = Symbol('remoteKey')
/** An entry property: do not write it through (it came from the shared tier). */
const kFromRemote = Symbol('fromRemote')
/** A StreamingCache's RemoteLink (or null): how the engine reaches the shared tier. */
const kRemoteLink = Symbol('remoteLink')
/** A StreamingCache's delete of the local entry only (the engine's housekeeping). */
const kDeleteLocal = Symbol('deleteLocal')

/** Waiting for another host's fetch: first pause between checks, and the longest (ms). */
const FIRST_POLL = 5
const MAX_POLL = 50

/** How long (ms) an entry stays fresh, from what the engine or the policy recorded. */
function freshForOf (entry, now) {
  const freshUntil = entry?.metadata?.freshUntil
  if (typeof freshUntil === 'number' && Number.isFinite(freshUntil)) return Math.max(0, freshUntil - now)
  const policy = entry?.policy
  if (policy != null) {
    try {
      const built = policy instanceof CachePolicy ? policy : CachePolicy.fromJSON(policy)
      return Math.max(0, built.timeToLive(now))
    } catch {}
  }
  return 0
}

/** Stored fields as `getSync` returns them, for an entry read from the shared tier. */
function hitFields (key, entry, body) {
  const meta = entry.meta ?? {}
  const hit = {
    key,
    status: meta.status,
    headers: meta.headers ?? {},
    url: meta.url ?? undefined,
    metadata: meta.metadata ?? null,
    size: entry.size,
    integrity: entry.integrity,
    storedAt: entry.storedAt,
    policy: null,
    body,
  }
  if (meta.policy != null) {
    let built
    Object.defineProperty(hit, 'policy', {
      enumerable: true,
      get: () => (built ??= CachePolicy.fromJSON(meta.policy)),
    })
  }
  return hit
}

class RemoteLink {
  /** @type {RemoteTier} */
  tier
  #cache
  #nativeCache
  /** Remote key -> lock from `tryLock`, held until the write-through of that key takes it. */
  #locks = new Map()
  /** Local writes of filled entries still running (`settled()` waits for them). */
  #filling = new Set()
  #counts = { hits: 0, misses: 0, fills: 0, fillsFailed: 0 }

  /**
   * @param {import('./streaming-cache').StreamingCache} cache
   * @param {object} nativeCache the cache's NativeCache (the upload reads its entries)
   * @param {object} options the `remote` option, checked by RemoteTier
   */
  constructor (cache, nativeCache, options) {
    validateObject(options, 'options.remote')
    this.tier = new RemoteTier(options)
    this.#cache = cache
    this.#nativeCache = nativeCache
  }

  // ---- lookup ----------------------------------------------------------------------------

  /**
   * Looks `remoteKey` up in the shared tier. When found and `accept(fields)` says it answers
   * the caller, resolves with hit fields whose `body` streams it, while the same bytes are
   * stored locally under `localKey(fields)` (default `remoteKey`). Null on a miss or any failure.
   * @param {string} remoteKey
   * @param {{ accept?: (fields: object) => boolean, localKey?: (fields: object) => string }} [how]
   */
  async fill (remoteKey, how = {}) {
    const hit = await this.#fill(remoteKey, how)
    diagnostics.publishRemoteLookup(this.#cache, remoteKey, hit)
    return hit
  }

  async #fill (remoteKey, { accept, localKey }) {
    let got
    try {
      got = await this.tier[kGetVerified](remoteKey)
    } catch {
      got = null
    }
    if (got === null) return this.#miss()
    const { entry } = got
    let key
    try {
      const probe = hitFields(remoteKey, entry, null)
      if (accept !== undefined && !accept(probe)) {
        got.body?.destroy()
        return this.#miss()
      }
      key = localKey === undefined ? remoteKey : localKey(probe)
    } catch {
      got.body?.destroy()
      return this.#miss()
    }
    this.#counts.hits++
    const local = { ...entry.meta, [kFromRemote]: true }
    if (got.whole !== undefined) {
      this.#track(this.#cache.put(key, { ...local, body: got.whole }))
      return hitFields(key, entry, new CacheBodyReadable(null, entry.size, got.whole))
    }
    return hitFields(key, entry, this.#tee(key, local, got.body))
  }

  #miss () {
    this.#counts.misses++
    return null
  }

  /**
   * The remote body into the local cache and to the caller at once: the slower of the two
   * paces the read (memory stays bounded); a caller that leaves stops holding it back.
   */
  #tee (key, local, body) {
    const toCaller = new PassThrough({ highWaterMark: 0 })
    let ws
    try {
      ws = this.#cache.createWriteStream(key, local)
    } catch {
      ws = null
    }
    if (ws !== null) {
      ws.on('error', () => body.unpipe(ws))
      this.#track(ws.committed)
      body.pipe(ws)
    }
    body.on('error', (err) => {
      ws?.destroy(err) // aborted: a body that failed verification is never committed
      toCaller.destroy(err)
    })
    toCaller.on('close', () => {
      if (!toCaller.writableFinished) body.unpipe(toCaller)
      if (ws === null || ws.destroyed) body.destroy()
    })
    body.pipe(toCaller)
    return toCaller
  }

  #track (promise) {
    const tracked = Promise.resolve(promise).then(
      () => { this.#counts.fills++ },
      () => { this.#counts.fillsFailed++ })
    this.#filling.add(tracked)
    tracked.then(() => this.#filling.delete(tracked))
  }

  /** Resolves once the local writes of entries filled from the shared tier settled. */
  async settled () {
    while (this.#filling.size > 0) await Promise.allSettled([...this.#filling])
  }

  // ---- storing ---------------------------------------------------------------------------

  /** After the local entry `key` committed (`info` from the commit): queued for upload. */
  stored (key, entry, info) {
    if (entry?.[kFromRemote] === true) return
    const remoteKey = entry?.[kRemoteKey] ?? key
    const lock = this.#locks.get(remoteKey)
    if (lock !== undefined) this.#locks.delete(remoteKey)
    try {
      this.tier[kEnqueueLocal](this.#nativeCache, key, remoteKey, info?.integrity, freshForOf(entry, Date.now()), lock)
    } catch {
      lock?.release().catch(() => {})
    }
  }

  // ---- fetch locks -----------------------------------------------------------------------

  /**
   * Before going to the origin for `remoteKey`: 'acquired' (this host fetches; the lock is
   * kept until the write-through of what it stores finished, or `unlock`), 'busy' (another
   * host is fetching it) or 'unavailable' (no answer: go to the origin).
   */
  async lock (remoteKey) {
    let attempt
    try {
      attempt = await this.tier.tryLock(remoteKey)
    } catch {
      return 'unavailable'
    }
    if (attempt.state === 'acquired') {
      this.#locks.get(remoteKey)?.release().catch(() => {})
      this.#locks.set(remoteKey, attempt)
    }
    return attempt.state
  }

  /** Releases the lock on `remoteKey` unless a write-through took it. */
  unlock (remoteKey) {
    const lock = this.#locks.get(remoteKey)
    if (lock === undefined) return
    this.#locks.delete(remoteKey)
    lock.release().catch(() => {})
  }

  /**
   * Waits up to `maxWait` ms for the host holding the lock on `remoteKey`; true if it stored
   * it, false once it released the lock without storing, or on any failure. Polled from here,
   * one short check per round: a wait never holds a libuv thread (the disk cache needs them).
   */
  async waitFor (remoteKey, maxWait) {
    const deadline = Date.now() + maxWait
    let pause = FIRST_POLL
    for (;;) {
      let outcome
      try {
        ({ outcome } = await this.tier.waitFor(remoteKey, 0))
      } catch {
        return false
      }
      if (outcome !== 'timedOut') return outcome === 'stored'
      const left = deadline - Date.now()
      if (left <= 0) return false
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, left)))
      pause = Math.min(pause * 2, MAX_POLL)
    }
  }

  // ---- invalidation ----------------------------------------------------------------------

  /** Removes `remoteKey`'s metadata; failures are ignored (the entry expires on its own). */
  async remove (remoteKey) {
    try {
      return await this.tier.remove(remoteKey)
    } catch {
      return false
    }
  }

  async purge () {
    try {
      return await this.tier.purge()
    } catch {
      return 0
    }
  }

  // ---- stats -----------------------------------------------------------------------------

  /**
   * `hits`/`misses`: lookups of the cache answered from the shared tier or not; `errors`,
   * `uploads`, `dropped` (write-throughs the full queue or the open breaker turned away),
   * `bytes` (read and written), and the tier's detailed counters.
   */
  stats () {
    const tier = this.tier.stats()
    return {
      ...tier,
      hits: this.#counts.hits,
      misses: this.#counts.misses,
      fills: this.#counts.fills,
      fillsFailed: this.#counts.fillsFailed,
      dropped: tier.uploadsDropped,
      bytes: tier.bytesRead + tier.bytesWritten,
    }
  }

  /**
   * Waits for local fills and queued uploads (at most about `timeout` ms each: a caller that
   * stopped reading a teed body must not hold `close()` forever); then releases locks nobody took.
   */
  async close (timeout) {
    let timer
    await Promise.race([this.settled(), new Promise((resolve) => { timer = setTimeout(resolve, timeout) })])
    clearTimeout(timer)
    await this.tier.flush(timeout).catch(() => false)
    for (const key of [...this.#locks.keys()]) this.unlock(key)
  }
}

module.exports = { RemoteLink, kRemoteKey, kFromRemote, kRemoteLink, kDeleteLocal }
