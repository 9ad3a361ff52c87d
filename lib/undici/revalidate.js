'use strict'
// Stale entries: a conditional request to the origin (validators from `policy.beforeRequest`).
//   304 -> `policy.afterResponse` merges the new headers; `cache.updateMetadata` stores them
//          and the new policy (the body is not rewritten) and the cached body is served.
//   200 (or anything else) -> handed to a TeeHandler: streamed to the caller, replacing the entry.
//   5xx or a connection error -> the stale entry is served when its `stale-if-error` allows.
const { TeeHandler } = require('./tee-handler')
const { upstreamSource } = require('../engine/downstream')
const { replay, bodySource } = require('../engine/replay')
const { serveEntry } = require('./serve-cached')
const { publish } = require('./diagnostics')
const { varyNames, policyRequest } = require('../engine/keys')
const { interceptorMeta, deleteAtFor } = require('../engine/record')
const { CachePolicy } = require('../cache-policy')
const {
  withoutHopByHop, omit, parseCacheControl, seconds, servedHeaders, updatedHeaders, storedResponseHeaders,
} = require('../engine/headers')

/**
 * The request headers for revalidating `found`. When the policy would serve it without asking
 * (revalidation forced by the `no-cache` mode or `maxTtl`), it is asked as for a `no-cache`
 * request, and the caller's own Cache-Control is put back.
 */
function revalidationHeaders (found, now) {
  const { result, req, policy } = found.verdict
  if (!result.fresh) return result.headers
  const own = req.headers['cache-control']
  const { headers } = policy.beforeRequest({ ...req, headers: { ...req.headers, 'cache-control': 'no-cache' } }, now)
  if (own === undefined) delete headers['cache-control']
  else headers['cache-control'] = own
  return headers
}

/**
 * When the stored response may be served stale because the origin failed: never when it must
 * be revalidated (must-revalidate, no-cache; proxy-revalidate and s-maxage in a shared
 * cache); within `stale-if-error=N` (RFC 5861, in the stored response or the request) for an
 * error status or a failed connection; and, without it, when the origin cannot be reached at
 * all (RFC 9111 section 4.2.4: a disconnected cache may serve stale). Returns
 * `{ onStatus, onConnectionError }`.
 */
function staleIfErrorAllows (ctx, found, req, now) {
  const never = { onStatus: false, onConnectionError: false }
  const res = parseCacheControl(found.fields.headers['cache-control'])
  if (res.has('must-revalidate') || res.has('no-cache')) return never
  if (ctx.shared && (res.has('proxy-revalidate') || res.has('s-maxage'))) return never
  const window = seconds(res.get('stale-if-error')) ??
    seconds(parseCacheControl(req.headers['cache-control']).get('stale-if-error'))
  if (window === undefined) return { onStatus: false, onConnectionError: true }
  const allowed = now - found.fields.metadata.freshUntil <= window
  return { onStatus: allowed, onConnectionError: allowed }
}

/** The stored headers of `found`, as served stale (its current `age` set). */
function staleHeaders (found, now) {
  return { ...found.fields.headers, age: String(found.verdict.policy.age(now)) }
}

function pick (headers, ...names) {
  const out = {}
  for (const name of names) if (headers[name] !== undefined) out[name] = headers[name]
  return out
}

/** An entity tag without its weakness marker (weak comparison, RFC 9110 section 8.8.3.2). */
function opaqueTag (etag) {
  const tag = String(etag).trim()
  return tag.startsWith('W/') ? tag.slice(2) : tag
}

/** Whether a 304's validators say it is about another representation than the stored one. */
function contradicts (stored, notModified) {
  if (notModified.etag !== undefined) {
    return stored.etag === undefined || opaqueTag(stored.etag) !== opaqueTag(notModified.etag)
  }
  if (notModified['last-modified'] !== undefined && stored['last-modified'] !== undefined) {
    return Date.parse(stored['last-modified']) !== Date.parse(notModified['last-modified'])
  }
  return false
}

class RevalidateHandler {
  #ctx
  #r
  #downstream
  #found
  #dispatch
  #staleIfError
  #context = null
  #settled = false
  #state = 'waiting' // then 'origin' (the origin's answer goes through) or 'cache'
  #tee = null
  #freshening = null // a HEAD's 200 freshening the stored GET, before the HEAD is answered

  #background

  /** `options.background`: nobody waits for the answer; a 304 only updates the entry. */
  constructor (ctx, r, downstream, found, dispatch, staleIfError, options = {}) {
    this.#background = options.background === true
    this.#ctx = ctx
    this.#r = r
    this.#downstream = downstream
    this.#found = found
    this.#dispatch = dispatch
    this.#staleIfError = staleIfError
  }

  onRequestStart (controller, context) {
    this.#context = context
    this.#settled = false
    if (this.#state === 'origin') return this.#tee.onRequestStart(controller, context)
    if (this.#state !== 'waiting') return
    this.#downstream.attach(upstreamSource(controller, () => this.#settled, this.#downstream), context)
  }

  onRequestUpgrade (controller, statusCode, headers, socket) {
    this.#downstream.upgrade(statusCode, headers, socket)
  }

  onResponseStart (controller, statusCode, headers, statusMessage) {
    if (this.#state !== 'waiting') return
    if (statusCode === 304) {
      this.#state = 'cache'
      this.#downstream.detach()
      this.#notModified(headers).catch((err) => this.#downstream.error(err))
      return
    }
    if (statusCode >= 500 && this.#staleIfError.onStatus && this.#serveStale()) return
    // A background revalidation keeps the stale entry when the origin fails.
    if (this.#background && statusCode >= 500) {
      this.#state = 'ignored'
      this.#downstream.end({})
      return
    }
    this.#state = 'origin'
    // A HEAD revalidating a stored GET: its answer is stored as the HEAD response; the GET
    // entry is freshened (200, same validators) or dropped, not replaced by it.
    const viaGet = this.#found.viaGet === true
    // Same validators: the HEAD's answer describes the stored GET, whose other fields it keeps.
    this.#tee = new TeeHandler(this.#ctx, this.#r, this.#downstream,
      { store: true, lookup: 'HIT', replaceKey: viaGet ? undefined : this.#found.key })
    if (viaGet && statusCode === 200) {
      // The HEAD is answered once the GET entry is freshened, so that a GET made as soon as
      // the HEAD resolves finds it freshened.
      controller.pause()
      this.#freshening = this.#freshenFromHead(headers).then((answer) => {
        this.#tee.onRequestStart(controller, this.#context)
        this.#tee.onResponseStart(controller, statusCode, answer, statusMessage)
        if (!this.#settled) controller.resume()
      })
      return
    }
    this.#tee.onRequestStart(controller, this.#context)
    return this.#tee.onResponseStart(controller, statusCode, headers, statusMessage)
  }

  /** Runs `fn` now, or after the HEAD's answer started (see onResponseStart). */
  #afterStart (fn) {
    if (this.#freshening === null) return fn()
    this.#freshening = this.#freshening.then(fn)
  }

  onResponseData (controller, chunk) {
    if (this.#state === 'origin') return this.#afterStart(() => this.#tee.onResponseData(controller, chunk))
  }

  onResponseEnd (controller, trailers) {
    this.#settled = true
    if (this.#state === 'origin') this.#afterStart(() => this.#tee.onResponseEnd(controller, trailers))
  }

  onResponseError (controller, err) {
    this.#settled = true
    if (this.#state === 'origin') return this.#afterStart(() => this.#tee.onResponseError(controller, err))
    if (this.#state === 'cache') return // the 304's connection failed after it was used
    if (this.#downstream.aborted) return this.#downstream.error(this.#downstream.reason)
    if (this.#staleIfError.onConnectionError && this.#serveStale()) return
    this.#downstream.error(err)
  }

  /** Serves the stale entry in place of the origin's failure; false if it cannot be opened. */
  #serveStale () {
    const ctx = this.#ctx
    const found = this.#found
    let source = null
    if (this.#r.method !== 'HEAD') {
      const opened = ctx.engine.openBody(found)
      if (opened === null) return false
      source = bodySource(opened.body, opened.size)
    }
    this.#state = 'cache'
    this.#downstream.detach()
    publish('stale', this.#r, { reason: 'stale-if-error' })
    const headers = servedHeaders(staleHeaders(found, Date.now()), {
      size: found.fields.size,
      hasBody: found.fields.metadata.method !== 'HEAD',
      status: ctx.statusHeaders ? ['HIT', 'HIT'] : null,
    })
    replay(this.#downstream, found.fields.status, headers, source)
    return true
  }

  /**
   * A 304 answers the conditional request sent for this one entry: it validates it unless it
   * carries a validator that contradicts the stored one (RFC 9111 section 4.3.4; a 304 with
   * no validator at all still selects the entry whose validators were sent). The stored
   * headers are updated with the 304's (section 3.2) and the body is served from the cache.
   */
  async #notModified (responseHeaders) {
    const r = this.#r
    const found = this.#found
    const origin = withoutHopByHop(responseHeaders)
    if (contradicts(found.fields.headers, origin)) return this.#refetch()
    const updated = await this.#updateStored(origin)
    if (updated === null) return this.#refetch()
    publish('revalidated', r, { entryKey: found.key, background: this.#background })
    if (this.#background) {
      this.#downstream.end({})
      return
    }
    // Served now: the 304's own Set-Cookie reaches the caller that triggered it, in any mode.
    serveEntry(this.#ctx, r, this.#downstream, found, updated.served, () => this.#refetch())
  }

  /**
   * Updates the stored entry with the headers of a response that validated it (a 304, or a
   * 200 to HEAD with the same validators: RFC 9111 4.3.4, 4.3.5), without touching its body.
   * Resolves with `{ served }` (the headers to serve it with now), or null when it cannot be
   * kept as it is (`Vary: *`, unparsable); an entry no longer storable is dropped after this use.
   */
  async #updateStored (origin) {
    const ctx = this.#ctx
    const found = this.#found
    const now = Date.now()
    const merged = updatedHeaders(found.fields.headers, origin)
    const stored = storedResponseHeaders(omit(merged, 'age'), ctx.shared)
    const names = varyNames(merged.vary)
    if (names === null) return null // Vary: * is never served from a cache
    let policy
    try {
      // Asked as the stored request was (a GET, when a HEAD freshens a stored GET).
      policy = new CachePolicy(policyRequest(found.verdict.req, names),
        { status: found.fields.status, headers: origin.age === undefined ? stored : { ...stored, age: origin.age } },
        { shared: ctx.shared, heuristic: ctx.heuristic, responseTime: now })
    } catch {
      return null
    }
    const keep = this.#r.mode === 'ignore-rules' || policy.isStorable()
    const freshUntil = now + policy.timeToLive(now)
    const metadata = interceptorMeta({
      ...found.fields.metadata, receivedAt: now, freshUntil, deleteAt: deleteAtFor(stored, freshUntil),
    })
    if (keep) await ctx.engine.refresh(found.key, { headers: stored, url: found.fields.url ?? this.#r.url, policy, metadata })
    // No longer storable (the response said no-store): served this once at most.
    else ctx.engine.drop(found.key)
    return { served: { ...merged, age: String(policy.age(now)) } }
  }

  /**
   * A 200 to a HEAD revalidating a stored GET (RFC 9111 4.3.5): with the same validators it
   * freshens the GET entry, and resolves with the headers to answer the HEAD with (the GET's,
   * updated with the HEAD's); with other validators the GET entry is dropped and the HEAD's
   * own headers answer it.
   */
  async #freshenFromHead (responseHeaders) {
    const origin = withoutHopByHop(responseHeaders)
    if (contradicts(this.#found.fields.headers, origin)) {
      this.#ctx.engine.drop(this.#found.key)
      return responseHeaders
    }
    await this.#updateStored(origin).catch(() => {})
    return { ...updatedHeaders(this.#found.fields.headers, origin), ...pick(responseHeaders, 'content-length') }
  }

  /** The cached body cannot be used after all: the full request, unconditionally. */
  #refetch () {
    this.#state = 'refetch'
    this.#downstream.detach()
    const handler = new TeeHandler(this.#ctx, this.#r, this.#downstream,
      { store: true, lookup: 'HIT', replaceKey: this.#found.viaGet ? undefined : this.#found.key })
    try {
      this.#dispatch(this.#r.opts, handler)
    } catch (err) {
      this.#downstream.error(err)
    }
  }
}

module.exports = { RevalidateHandler, revalidationHeaders, staleIfErrorAllows, staleHeaders, opaqueTag }
