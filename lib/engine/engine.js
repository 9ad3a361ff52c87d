'use strict'
// The HTTP cache engine both undici integrations are thin fronts over: cacheInterceptor
// (lib/undici/interceptor.js) and StreamingCacheStore (lib/undici/store.js). It owns the
// variants of a base key (one key scheme, lib/engine/keys.js), looking them up, storing a
// response, what a new response supersedes, invalidation, and refreshing an entry after a
// 304. What is fresh and what may be stored is the fronts' business (CachePolicy for the
// interceptor, undici for the store).
const { storedFields, pastDeleteAt } = require('./record')
const { variantKey, varyMatches } = require('./keys')
const { lookupRemote } = require('./remote-lookup')
const { kRemoteKey, kRemoteLink, kDeleteLocal } = require('../remote-link')
const { kSoleHotHit, hotBody } = require('../memory-tier')

const noop = () => {}

/**
 * An entry a lookup chose: its stored fields, what the front's judge said about it, and,
 * when the lookup opened it, its body. Whoever holds a Found either takes the body
 * (`takeBody()`, then it is theirs to read or destroy) or lets `release()` close it; the
 * fronts call `release()` in a `finally`, so a body nobody took is always closed.
 * @template V
 */
class Found {
  /** @type {string} */ key
  /** @type {import('./record').StoredFields} */ fields
  /** @type {V} */ verdict
  #body
  /** The whole body from the RAM tier (verified), when the lookup found it there. */
  #whole

  constructor (key, fields, verdict, body, whole = null) {
    this.key = key
    this.fields = fields
    this.verdict = verdict
    this.#body = body ?? null
    this.#whole = whole
  }

  /** Whether the lookup opened the body (and nobody took it yet). */
  get opened () {
    return this.#body !== null || this.#whole !== null
  }

  /** The opened body, once; null if it was not opened or already taken. */
  takeBody () {
    const body = this.#body ?? (this.#whole === null ? null : hotBody(this.#whole))
    this.#body = null
    this.#whole = null
    return body
  }

  /** The whole body from the RAM tier, once, without a stream over it; else null. */
  takeWhole () {
    const whole = this.#whole
    this.#whole = null
    return whole
  }

  /** Closes the body unless it was taken. Safe to call more than once. */
  release () {
    // A body from RAM holds nothing to close: no stream is made for it.
    this.#whole = null
    const body = this.takeBody()
    if (body !== null) body.destroy()
  }
}

/** A body `openBody` took from the RAM tier: the whole Buffer, and a stream over it only if someone asks. */
class OpenedWhole {
  #body = null

  constructor (whole) {
    this.whole = whole
    this.size = whole.length
  }

  get body () {
    return (this.#body ??= hotBody(this.whole))
  }
}

/**
 * A miss on its way from the origin. `landed` resolves (never rejects) once the response was
 * stored or is known not to be: then the requests waiting for it look the entry up again.
 */
class Flight {
  /** @type {Promise<void>} */ landed
  /** @type {import('./spool').Spool | null} the body as it arrives, once the response started */
  spool = null
  #resolve
  #onLand
  #spoolWaiters = []

  constructor (onLand) {
    this.#onLand = onLand
    this.landed = new Promise((resolve) => { this.#resolve = resolve })
  }

  /** The response started and will be stored: waiters may read its body as it arrives. */
  openSpool (spool) {
    this.spool = spool
    const waiters = this.#spoolWaiters
    this.#spoolWaiters = []
    for (const waiter of waiters) waiter(spool)
  }

  /** Calls `fn(spool)` once the response started (at once if it has). */
  whenSpooled (fn) {
    if (this.spool !== null) fn(this.spool)
    else this.#spoolWaiters.push(fn)
  }

  /** Releases the waiters. Safe to call more than once. */
  land () {
    this.#spoolWaiters = []
    this.#onLand()
    this.#resolve()
  }
}

class HttpCacheEngine {
  /** @type {import('../streaming-cache').StreamingCache} */
  cache
  /** group -> { tail, ops, commits, deletes, cleanups }: see serialize(). */
  #pending = new Map()
  /** Keys with an expiry cleanup queued. */
  #expiring = new Set()
  /** Base key -> Flight: a miss on its way from the origin (request coalescing). */
  #flights = new Map()
  /** Entry keys with a background revalidation running (stale-while-revalidate). */
  #revalidating = new Set()

  constructor (cache) {
    this.cache = cache
  }

  /** The cache's shared second tier (lib/remote-link.js), or null. */
  get remote () {
    return this.cache[kRemoteLink] ?? null
  }

  /**
   * After `lookup` missed: the entry from the shared tier (a Found, its body open), or null.
   * See lib/engine/remote-lookup.js; `coalesce` and `maxWait` (ms) take part in cross-host
   * coalescing. Never rejects.
   * @returns {Promise<Found | null>}
   */
  lookupRemote (baseKey, { method, headers, judge, coalesce = false, maxWait = 0 }) {
    if (this.remote === null) return Promise.resolve(null)
    return lookupRemote(this, Found, baseKey, { method, headers, judge, coalesce, maxWait }).catch(() => null)
  }

  /**
   * Deletes the local entry `key` and nothing in the shared tier: for entries superseded,
   * expired or unreadable here (invalidation uses `cache.delete`, which removes both).
   */
  deleteLocal (key) {
    const local = this.cache[kDeleteLocal]
    return typeof local === 'function' ? local.call(this.cache, key) : this.cache.delete(key)
  }

  /** The fetch of `baseKey` this host led is over: its cross-host lock goes unless an upload took it. */
  releaseFetch (baseKey) {
    this.remote?.unlock(baseKey)
  }

  // ---- lookup ----------------------------------------------------------------------------

  /** The keys stored under `baseKey`: the base key itself (if present) and its variants. */
  keysOf (baseKey) {
    let variants
    try {
      variants = this.cache.keys(baseKey + '\n')
    } catch {
      variants = []
    }
    return variants
  }

  /**
   * The entry under `baseKey` that answers a `method` request with `headers`:
   * entries of that method whose stored request selected these headers (Vary), judged by
   * `judge(fields)` (a verdict, or null to skip it); among those accepted, the one `better`
   * prefers (default: the newest). With `open`, the chosen entry comes with its body open and
   * judged on what was opened, so its fields describe that body.
   * @template V
   * @param {string} baseKey
   * @param {{ method: string, headers: object, judge: (fields: import('./record').StoredFields) => V | null,
   *   better?: (a: Found<V>, b: Found<V>) => boolean, open?: boolean, onExpired?: (key: string) => void }} query
   * @returns {Found<V> | null}
   */
  lookup (baseKey, { method, headers, judge, better = newer, open = false }) {
    if (open) {
      const hot = this.#soleHot(baseKey, method, headers, judge)
      if (hot !== undefined) return hot
    }
    const variants = this.keysOf(baseKey)
    // One entry (the common case): opened at once and judged on what was opened.
    if (variants.length === 0 && open) return this.#openJudged(baseKey, method, headers, judge, null)
    const found = []
    for (const key of [baseKey, ...variants]) {
      let fields
      try {
        fields = storedFields(this.cache.peek(key))
      } catch {
        fields = null
      }
      if (fields === null || !selects(fields, method, headers)) continue
      let verdict
      try {
        verdict = judge(fields)
      } catch {
        verdict = null
      }
      if (verdict !== null && verdict !== undefined) found.push(new Found(key, fields, verdict, null))
    }
    found.sort((a, b) => better(a, b) ? -1 : better(b, a) ? 1 : 0)
    if (!open) return found[0] ?? null
    for (const candidate of found) {
      const opened = this.#openJudged(candidate.key, method, headers, judge, candidate.fields.integrity)
      if (opened !== null) return opened
    }
    return null
  }

  /**
   * The common case in one call: `key` has no variants and its body is in the RAM tier. Its
   * Found (or null when its entry does not answer the request), or undefined to look it up
   * the usual way.
   */
  #soleHot (key, method, headers, judge) {
    let hit
    try {
      hit = this.cache[kSoleHotHit]?.(key, key + '\n') ?? null
    } catch {
      return undefined
    }
    if (hit === null) return undefined
    const fields = storedFields(hit.fields)
    let verdict = null
    if (fields !== null && selects(fields, method, headers)) {
      try {
        verdict = judge(fields)
      } catch {
        verdict = null
      }
    }
    if (verdict === null || verdict === undefined) return null
    return new Found(key, fields, verdict, null, hit.whole)
  }

  /** `key` opened, if its entry answers the request (and has `integrity`, when given). */
  #openJudged (key, method, headers, judge, integrity) {
    let hit
    try {
      if (typeof this.cache.has === 'function' && !this.cache.has(key)) return null
      hit = this.cache.getSync(key)
    } catch {
      return null
    }
    if (hit === null) return null
    const { body, ...rest } = hit
    const fields = storedFields(rest)
    let verdict = null
    // The entry may have been replaced between peek and open: judge what was opened.
    if (fields !== null && (integrity === null || fields.integrity === integrity) && selects(fields, method, headers)) {
      try {
        verdict = judge(fields)
      } catch {
        verdict = null
      }
    }
    if (verdict === null || verdict === undefined) {
      body.destroy()
      return null
    }
    return new Found(key, fields, verdict, body)
  }

  /**
   * Opens the body of `found` when the lookup did not: the same entry (same integrity), or
   * null when it is gone or was replaced meanwhile.
   */
  openBody (found) {
    const whole = found.takeWhole()
    if (whole !== null) return new OpenedWhole(whole)
    const opened = found.takeBody()
    if (opened !== null) return { body: opened, size: found.fields.size, whole: null }
    let hit
    try {
      hit = this.cache.getSync(found.key)
    } catch {
      return null
    }
    if (hit === null) return null
    if (found.fields.integrity !== undefined && hit.integrity !== found.fields.integrity) {
      hit.body.destroy()
      return null
    }
    return { body: hit.body, size: hit.size, whole: null }
  }

  // ---- storing ---------------------------------------------------------------------------

  /**
   * A write stream for a response to a request under `baseKey`. The entry's key is the
   * variant `entry.metadata.vary` describes; `writer.key` tells it.
   * @param {string} baseKey
   * @param {{ status: number, headers: object, url: string, metadata: import('./record').EntryMeta, policy?: object }} entry
   */
  createWriter (baseKey, entry) {
    const key = variantKey(baseKey, entry.metadata.vary)
    // Shared tier: every variant goes up under its base key (what a miss looks up there).
    const ws = this.cache.createWriteStream(key, { ...entry, [kRemoteKey]: baseKey })
    return { key, ws }
  }

  /**
   * After `writtenKey` was committed for a request with `requestHeaders`: drops the entries it
   * supersedes. A response without Vary replaces every variant of the base key; a variant
   * replaces the entries (same method) that the same request selected.
   */
  supersede (baseKey, writtenKey, requestHeaders) {
    const written = this.#peek(writtenKey)
    const keys = []
    for (const key of [baseKey, ...this.keysOf(baseKey)]) {
      if (key === writtenKey) continue
      const fields = this.#peek(key)
      if (fields === null) continue
      if (written?.metadata.vary == null || varyMatches(fields.metadata.vary, requestHeaders)) keys.push(key)
    }
    return Promise.allSettled(keys.map((key) => this.deleteLocal(key)))
  }

  /**
   * Stores new headers (and policy, metadata) for the entry `key` after a 304, without
   * rewriting its body; false if it is gone.
   */
  refresh (key, fields) {
    return Promise.resolve()
      .then(() => this.cache.updateMetadata(key, fields))
      .catch(() => false)
  }

  // ---- removing --------------------------------------------------------------------------

  /** Deletes `baseKey` and every variant of it (but `except`); resolves when done. */
  deleteAll (baseKey, except) {
    const keys = []
    try {
      if (baseKey !== except && this.cache.peek(baseKey) !== null) keys.push(baseKey)
      for (const key of this.keysOf(baseKey)) if (key !== except) keys.push(key)
    } catch {}
    return Promise.allSettled(keys.map((key) => this.cache.delete(key)))
  }

  /** Deletes everything stored under each base key. */
  invalidate (baseKeys) {
    // The shared tier's copies go too (this host may hold none of them locally).
    const remote = this.remote
    return Promise.allSettled(baseKeys.flatMap((baseKey) =>
      remote === null ? [this.deleteAll(baseKey)] : [this.deleteAll(baseKey), remote.remove(baseKey)]))
  }

  /** Removes an entry in the background; failures are ignored (a corrupt one is already gone). */
  drop (key) {
    try {
      Promise.resolve(this.deleteLocal(key)).catch(noop)
    } catch {}
  }

  /** Removes an entry past its `deleteAt` in the background, after `group`'s pending writes. */
  dropExpired (group, key) {
    if (this.#expiring.has(key)) return
    this.#expiring.add(key)
    this.serialize(group, 'cleanups', (previous) => previous.then(async () => {
      try {
        const fields = this.#peek(key)
        if (fields !== null && pastDeleteAt(fields.metadata, Date.now())) await this.deleteLocal(key)
      } finally {
        this.#expiring.delete(key)
      }
    }))
  }

  #peek (key) {
    try {
      return storedFields(this.cache.peek(key))
    } catch {
      return null
    }
  }

  // ---- coalescing and background revalidation --------------------------------------------

  /** The Flight of a miss for `baseKey` in progress, or undefined. */
  flightFor (baseKey) {
    return this.#flights.get(baseKey)
  }

  /**
   * Registers a miss for `baseKey` about to go to the origin: requests for the same key that
   * miss meanwhile wait for it (`flight.landed`) instead of asking the origin too. The
   * caller must `land()` it once the response is stored, or turned out not to be.
   */
  takeOff (baseKey) {
    const flight = new Flight(() => {
      if (this.#flights.get(baseKey) === flight) this.#flights.delete(baseKey)
    })
    this.#flights.set(baseKey, flight)
    return flight
  }

  /**
   * Runs `start(done)` unless a background revalidation of `key` is already running: at most
   * one at a time per entry. `done()` ends it. Returns whether it started.
   */
  revalidateOnce (key, start) {
    if (this.#revalidating.has(key)) return false
    this.#revalidating.add(key)
    let ended = false
    const done = () => {
      if (ended) return
      ended = true
      this.#revalidating.delete(key)
    }
    try {
      start(done)
    } catch {
      done()
    }
    return true
  }

  // ---- ordering --------------------------------------------------------------------------

  /**
   * Runs `op(previous)` for `group` (a URL), where `previous` settles when every commit and
   * delete queued for it before is done: writes commit and deletes run on libuv threads, so
   * this keeps them in the order they were issued. `kind` counts the operation as one of
   * 'commits', 'deletes' or 'cleanups'.
   */
  serialize (group, kind, op) {
    let pending = this.#pending.get(group)
    if (pending === undefined) {
      pending = { tail: Promise.resolve(), ops: 0, commits: 0, deletes: 0, cleanups: 0 }
      this.#pending.set(group, pending)
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
      if (pending.ops === 0 && this.#pending.get(group) === pending) this.#pending.delete(group)
    })
    pending.tail = done
    return done
  }

  /** `{ commits, deletes, tail }` still running for `group`, or undefined. */
  pendingFor (group) {
    return this.#pending.get(group)
  }
}

/** Whether stored fields answer a `method` request with `headers` (method and Vary). */
function selects (fields, method, headers) {
  return fields.metadata.method === method && varyMatches(fields.metadata.vary, headers)
}

function newer (a, b) {
  return a.fields.storedAt > b.fields.storedAt
}

module.exports = { HttpCacheEngine, Found }
