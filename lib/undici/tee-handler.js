'use strict'
// Misses: the origin's response goes to the caller as it arrives while the same chunks are
// written to the cache (`createWriteStream`).
//
// Backpressure: the origin is paused while either the caller or the cache write stream is
// full, so nothing is buffered beyond the write stream's high-water mark plus a chunk. If the
// cache holds the response back for longer than `cacheWriteTimeout` (a stalled disk), storing
// is abandoned and the response continues at the caller's pace.
//
// Nothing partial is ever stored: the entry is committed only after the origin's last byte;
// an origin error, an abort, a write error or a body over `maxBodySize` destroys the write
// stream (the cache discards it). The caller's `onResponseEnd` waits for the commit (bounded
// by `cacheWriteTimeout`), so a request made after a response finished finds it cached.
const { CachePolicy } = require('../cache-policy')
const { upstreamSource } = require('../engine/downstream')
const { varyNames, varyMapOf, policyRequest } = require('../engine/keys')
const { interceptorMeta, deleteAtFor } = require('../engine/record')
const { publish } = require('./diagnostics')
const { Spool } = require('../engine/spool')
const { withoutHopByHop, storedResponseHeaders, hasValidator, withStatusHeaders } = require('../engine/headers')
const { contentRangeOf } = require('./partial')
const { planCombine, copyStored } = require('./combine-parts')

// Bytes of a new part queued while stored bytes before it are copied (#combine).
const QUEUE_LIMIT = 1024 * 1024

function settleWithin (promise, ms) {
  let timer
  const timeout = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

class TeeHandler {
  #ctx
  #r
  #downstream
  #options
  #upstream = null
  #settled = false
  #downPaused = false
  #cachePaused = false
  #writer = null // { ws, key, baseKey, bytes, expected?, queue?, queued?, prefixing?, suffix?, replacesPart? }
  #spool = null // coalesced requests read the body from here as it arrives
  #stallTimer = null
  #pending = []

  /**
   * @param options.store      whether the response may be stored
   * @param options.lookup     the `x-cache-lookup` value ('HIT' when an entry was found)
   * @param options.replaceKey an entry this response supersedes (deleted if it is not stored)
   * @param options.flight     the engine Flight this miss lands when stored or known not to be
   * @param options.partial    store only a 206 of one range (r.baseKey is then partial.js's key)
   * @param options.previous   with `partial`: the stored part it may combine with (combine-parts.js)
   * @param options.fullBaseKey with `partial`: where a combined complete response goes
   */
  constructor (ctx, r, downstream, options) {
    this.#ctx = ctx
    this.#r = r
    this.#downstream = downstream
    this.#options = options
  }

  onRequestStart (controller, context) {
    this.#upstream = controller
    this.#settled = false
    const upstream = upstreamSource(controller, () => this.#settled, this.#downstream)
    this.#downstream.attach({
      pause: () => {
        this.#downPaused = true
        upstream.pause()
      },
      resume: () => {
        this.#downPaused = false
        if (!this.#cachePaused) upstream.resume()
      },
      abort: (reason) => upstream.abort(reason),
    }, context)
  }

  onRequestUpgrade (controller, statusCode, headers, socket) {
    this.#downstream.upgrade(statusCode, headers, socket)
  }

  onResponseStart (controller, statusCode, headers, statusMessage) {
    if (statusCode >= 200) this.#startStoring(statusCode, headers, statusMessage)
    const out = withStatusHeaders(headers, this.#ctx.statusHeaders, 'MISS', this.#options.lookup)
    const writer = this.#writer
    if (writer !== null && bodiless(this.#r.method, statusCode, headers)) {
      // Nothing more will come: committed before the caller sees the response, so a request
      // it makes as soon as this one resolves (fetch resolves on the headers) finds it.
      this.#writer = null
      controller.pause()
      this.#pending.push(this.#commit(writer).then(() => {
        this.#downstream.responseStart(statusCode, out, statusMessage)
        if (!this.#downPaused && !this.#settled) controller.resume()
      }))
      return
    }
    return this.#downstream.responseStart(statusCode, out, statusMessage)
  }

  onResponseData (controller, chunk) {
    this.#spool?.append(chunk)
    const writer = this.#writer
    if (writer !== null) {
      writer.bytes += chunk.length
      if (writer.queue !== undefined) {
        // The stored bytes before it are still being copied: queued meanwhile, the origin
        // held back once a megabyte waits (#combine).
        writer.queue.push(chunk)
        writer.queued += chunk.length
        if (writer.queued > QUEUE_LIMIT && !this.#cachePaused) {
          this.#cachePaused = true
          controller.pause()
          this.#stallTimer = setTimeout(() => this.#abandon(), this.#ctx.cacheWriteTimeout)
        }
      } else if (writer.bytes > this.#ctx.maxBodySize) {
        this.#abandon()
      } else if (!writer.ws.write(chunk) && this.#writer === writer && !this.#cachePaused) {
        this.#cachePaused = true
        controller.pause()
        this.#stallTimer = setTimeout(() => this.#abandon(), this.#ctx.cacheWriteTimeout)
      }
    }
    return this.#downstream.data(chunk)
  }

  onResponseEnd (controller, trailers) {
    this.#settled = true
    this.#spool?.finish()
    const writer = this.#writer
    this.#writer = null
    clearTimeout(this.#stallTimer)
    if (writer === null && this.#pending.length === 0) {
      this.#land()
      this.#downstream.end(trailers)
      return
    }
    const work = writer === null ? Promise.resolve() : this.#commit(writer)
    work
      .then(() => Promise.allSettled(this.#pending))
      .then(() => this.#land())
      .then(() => this.#downstream.end(trailers))
  }

  onResponseError (controller, err) {
    this.#settled = true
    this.#spool?.fail(err)
    this.#abandon()
    this.#land()
    this.#downstream.error(err)
  }

  #startStoring (status, headers, statusMessage) {
    const ctx = this.#ctx
    const r = this.#r
    if (!this.#options.store) return
    // A part (partial.js): one satisfied range of a known length, judged as its 200 would be.
    const part = this.#options.partial ? (status === 206 ? contentRangeOf(headers) : null) : undefined
    if (part === null) return
    const combine = part === undefined ? null : planCombine(this.#options.previous, part, headers)
    const judgedStatus = part === undefined ? status : 200
    const names = varyNames(headers.vary)
    if (names === null) return this.#supersede() // Vary: * is never served from a cache
    const now = Date.now()
    // Set-Cookie: a private cache stores and replays it, as a browser's does; a shared one
    // stores the response but never the cookie (not on disk, not replayed to anyone else).
    const stored = storedResponseHeaders(withoutHopByHop(headers), ctx.shared)
    if (combine !== null) {
      delete stored['content-length']
      if (combine.complete) delete stored['content-range']
      else stored['content-range'] = `bytes ${combine.first}-${combine.last}/${part.length}`
      if (combine.last - combine.first + 1 > ctx.maxBodySize) return
    }
    let policy
    let storedPolicy
    try {
      policy = new CachePolicy(r.req, { status: judgedStatus, headers: stored }, { shared: ctx.shared, heuristic: ctx.heuristic, responseTime: now })
      const storable = r.mode === 'ignore-rules'
        ? judgedStatus >= 200 && judgedStatus < 300 && judgedStatus !== 206
        // Storable, and of some use: fresh for a while, able to be revalidated, to be served
        // while it is (stale-while-revalidate), or to be served stale where that is allowed.
        : policy.isStorable() && (policy.timeToLive(now) > 0 || hasValidator(stored) ||
          policy.canStaleWhileRevalidate(now) || arrivedStale(policy))
      if (!storable) return this.#supersede()
      if (r.method !== 'HEAD' && Number(headers['content-length']) > ctx.maxBodySize) return this.#supersede()
      // What is kept on disk: the request reduced to what matching needs.
      storedPolicy = new CachePolicy(policyRequest(r.req, names), { status: judgedStatus, headers: stored },
        { shared: ctx.shared, heuristic: ctx.heuristic, responseTime: now })
    } catch {
      return this.#supersede()
    }
    const freshUntil = now + policy.timeToLive(now)
    const metadata = interceptorMeta({
      method: r.method,
      vary: varyMapOf(names, r.headers),
      receivedAt: now,
      freshUntil,
      deleteAt: deleteAtFor(stored, freshUntil),
      statusMessage,
      // A part as the origin sent it answers the same Range again (partial.js).
      range: part !== undefined && combine === null ? r.headers.range : undefined,
    })
    let writer
    try {
      const complete = combine?.complete === true
      const baseKey = complete ? this.#options.fullBaseKey : r.baseKey
      const { key, ws } = ctx.engine.createWriter(baseKey, { status: complete ? 200 : status, headers: stored, url: r.url, metadata, policy: storedPolicy })
      writer = { ws, key, baseKey, bytes: 0, expected: part === undefined ? undefined : part.last - part.first + 1 }
    } catch {
      return this.#supersede()
    }
    const flight = this.#options.flight
    if (flight !== undefined && r.method === 'GET') {
      try {
        this.#spool = new Spool({ status, headers: stored, vary: metadata.vary })
        flight.openSpool(this.#spool)
      } catch {
        this.#spool = null // no temporary file: the waiters get the entry once it is stored
      }
    }
    const { ws } = writer
    ws.on('error', () => {
      if (this.#writer === writer) this.#abandon()
    })
    ws.on('drain', () => {
      if (this.#writer === writer) this.#uncork()
    })
    this.#writer = writer
    if (combine !== null) this.#combine(writer, combine)
  }

  /**
   * Writes the stored part's bytes around the new body (combine-parts.js): those before it
   * first (the new body goes on to the caller meanwhile and is queued for the cache, up to
   * QUEUE_LIMIT before the origin is held back); those after it at the end
   * (#commitAndSupersede). A complete union replaces the part.
   */
  #combine (writer, combine) {
    const { previous } = this.#options
    if (combine.complete) writer.replacesPart = previous.key
    writer.suffix = combine.suffix
    if (combine.prefix === null) return
    writer.queue = []
    writer.queued = 0
    writer.prefixing = copyStored(this.#ctx.engine.cache, previous, combine.prefix, writer.ws).then(() => {
      const queued = writer.queue
      writer.queue = undefined
      for (const chunk of queued) writer.ws.write(chunk)
      if (this.#writer === writer) this.#uncork()
    }, (err) => {
      if (this.#writer === writer) this.#abandon()
      throw err
    })
    writer.prefixing.catch(() => {})
  }

  /** The response will not be stored: the entry it answers for must not outlive it. */
  #supersede () {
    this.#land()
    const key = this.#options.replaceKey
    if (key !== undefined) this.#pending.push(Promise.resolve().then(() => this.#ctx.engine.cache.delete(key)))
  }

  /** The cache caught up: let the origin go on unless the caller still holds it back. */
  #uncork () {
    clearTimeout(this.#stallTimer)
    this.#stallTimer = null
    if (!this.#cachePaused) return
    this.#cachePaused = false
    if (!this.#downPaused && !this.#settled) this.#upstream?.resume()
  }

  /** Stops storing this response: whatever was written is discarded. */
  #abandon () {
    const writer = this.#writer
    if (writer === null) return
    this.#writer = null
    writer.ws.destroy()
    this.#supersede()
    this.#uncork()
  }

  /** Requests waiting for this miss look again: it is stored, or will not be. */
  #land () {
    this.#options.flight?.land()
  }

  async #commit (writer) {
    try {
      await this.#commitAndSupersede(writer)
    } finally {
      this.#land()
    }
  }

  async #commitAndSupersede (writer) {
    const { engine, cacheWriteTimeout } = this.#ctx
    // A part holds at most the bytes its Content-Range names (fewer: the bytes it holds from
    // its first one are what partial.js serves; more: the origin's answer is not believed).
    // Combined with a stored part, it must hold all of them.
    const combined = writer.prefixing !== undefined || writer.suffix != null
    if (writer.expected !== undefined && (writer.bytes > writer.expected || writer.bytes === 0 ||
      (combined && writer.bytes !== writer.expected))) {
      writer.ws.destroy()
      return
    }
    try {
      // Bounded like the commit: the caller's end waits for it.
      await settleWithin(writer.prefixing ?? Promise.resolve(), cacheWriteTimeout)
      if (writer.suffix != null) {
        await settleWithin(copyStored(engine.cache, this.#options.previous, writer.suffix, writer.ws), cacheWriteTimeout)
      }
    } catch {
      writer.ws.destroy()
      return
    }
    writer.ws.end()
    let info
    try {
      info = await settleWithin(writer.ws.committed, cacheWriteTimeout)
    } catch {
      writer.ws.destroy()
      this.#supersede()
      return
    }
    publish('stored', this.#r, { entryKey: writer.key, size: info?.size ?? writer.bytes })
    // The entries this response replaces: all other variants when it has no Vary, else those
    // its request selected (and the entry it revalidated, whatever its variant).
    const cleanup = [engine.supersede(writer.baseKey, writer.key, this.#r.headers)]
    const replaced = this.#options.replaceKey
    for (const key of [replaced, writer.replacesPart]) {
      if (key !== undefined && key !== writer.key) cleanup.push(Promise.resolve().then(() => engine.deleteLocal(key)))
    }
    await Promise.allSettled(cleanup)
  }
}

/**
 * Whether a response was given a freshness lifetime but arrived already stale (it aged in
 * caches on the way: its `Age` past its `max-age`) and may be served stale. It is kept as if
 * it had gone stale here: a request's `max-stale` may accept it (RFC 9111 5.2.1.2), and so
 * may a disconnected cache (4.2.4); any other request replaces it with the origin's answer.
 * A response given no lifetime (`max-age=0`) was never meant to be reused without
 * validation, and without a validator it is of no use: not stored.
 */
function arrivedStale (policy) {
  return policy.freshnessLifetime() > 0 && policy.mayServeStale()
}

/** Whether a response has no body: to HEAD, 204, 304, or `content-length: 0`. */
function bodiless (method, status, headers) {
  return method === 'HEAD' || status === 204 || status === 304 || String(headers['content-length']).trim() === '0'
}

module.exports = { TeeHandler }
