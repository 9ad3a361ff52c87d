'use strict'
// cacheInterceptor: an undici interceptor (Dispatcher#compose) that answers requests from a
// StreamingCache. What may be stored, what is fresh and how to revalidate are decided by
// CachePolicy (http-cache-semantics, in Rust); this file picks the path for each request
// according to its cache mode:
//
//   miss        -> TeeHandler      (tee-handler.js): origin -> caller, and -> cache
//   fresh hit   -> serveEntry      (serve-cached.js): cache -> caller
//   stale       -> RevalidateHandler (revalidate.js): conditional request, 304 -> cache;
//                  within stale-while-revalidate: served at once, revalidated in the background
//   concurrent misses for one key -> one origin request; the others wait for it (coalescing)
//   miss with a stored first part -> CompletionHandler (complete-part.js): only the rest is asked
//   POST/PUT... -> InvalidateHandler (invalidate.js): 2xx/3xx drop the stored entries
const { Downstream } = require('../engine/downstream')
const { TeeHandler } = require('./tee-handler')
const { RevalidateHandler, revalidationHeaders, staleIfErrorAllows, staleHeaders } = require('./revalidate')
const { InvalidateHandler } = require('./invalidate')
const { PostResponseHandler } = require('./post-response')
const { serveEntry, serveBody, gatewayTimeout } = require('./serve-cached')
const { partialKey, coveredRange, sameRangeRequest, servePart, storedPart } = require('./partial')
const { findEntry, judgeFor } = require('./lookup')
const { partToComplete, completePart } = require('./complete-part')
const { taggedVariants, askWithVariantTags } = require('./variant-tags')
const { languageVariant } = require('./language-variant')
const { requestUrl, varyMatches } = require('../engine/keys')
const { replay } = require('../engine/replay')
const { normalizeRequestHeaders, restoreMultiValues, parseCacheControl, servedHeaders } = require('../engine/headers')
const { buildContext } = require('./options')
const { publish } = require('./diagnostics')

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
// Conditional requests are the caller's own business with the origin: passed through, never
// stored (fetch likewise treats them as `no-store`).
// A GET with Range is looked up as the full request would be (see answerRange): served from a
// stored complete 200 (206, 416, or the full 200 per engine/range.js), after revalidating it
// if stale; else from a stored part that covers it (partial.js); else it goes to the origin
// and a 206 answer is stored as the part. Range and If-Range on other methods are ignored
// (RFC 9110 14.2, 13.1.5).
const PASS_THROUGH_HEADERS = ['if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since', 'if-range']
const CONDITIONAL_HEADERS = PASS_THROUGH_HEADERS.filter((name) => name !== 'if-range')

/** One request as the cache sees it. */
/**
 * A request as the interceptor's paths (lookup, serve, revalidate, store) see it.
 * @typedef {object} CacheRequest
 * @property {object} opts          undici's dispatch options, as given
 * @property {string} method        upper-case
 * @property {string} url           absolute, query included
 * @property {Record<string, string|string[]>} headers  lower-case names
 * @property {string} baseKey       the engine key (cacheKey option)
 * @property {string} mode          the cache mode for this request (request no-store: 'no-store')
 * @property {boolean} onlyIfCached `only-if-cached` mode or request directive
 * @property {boolean} [coalesced]  already waited for a concurrent miss once
 * @property {{ method: string, url: string, headers: object }} req  what CachePolicy is asked about
 */

/** @returns {CacheRequest} */
function describe (ctx, opts, method, mode) {
  const url = requestUrl(opts)
  const headers = normalizeRequestHeaders(opts.headers)
  const baseKey = ctx.cacheKey({ ...opts, method })
  // Request directives (RFC 9111 section 5.2.1): no-store bypasses the cache (nothing of this
  // exchange is stored, and, as in undici and browsers, nothing stored answers it);
  // only-if-cached answers from the cache or with a 504. max-age, min-fresh, max-stale and
  // no-cache are the policy's (beforeRequest).
  const directives = mode === 'ignore-rules' ? new Map() : parseCacheControl(headers['cache-control'])
  return {
    opts,
    method,
    url,
    headers,
    baseKey,
    mode: directives.has('no-store') ? 'no-store' : mode,
    onlyIfCached: mode === 'only-if-cached' || directives.has('only-if-cached'),
    req: { method, url, headers },
  }
}

/** A request answered without the origin: a streamed request body will never be sent. */
function discardRequestBody (opts) {
  const body = opts.body
  if (body && typeof body.pipe === 'function' && typeof body.destroy === 'function') {
    body.on('error', () => {})
    body.destroy()
  }
}

function handle (ctx, dispatch, r, downstream) {
  const toOrigin = (options) => {
    try {
      return dispatch(r.opts, new TeeHandler(ctx, r, downstream, options))
    } catch (err) {
      options.flight?.land()
      downstream.error(err)
      return true
    }
  }
  const miss = (lookup = 'MISS', replaceKey) => toOrigin({ store: true, lookup, replaceKey })

  if (r.headers.range !== undefined || r.headers['if-range'] !== undefined) {
    if (r.method === 'GET' && r.headers.range !== undefined && r.mode !== 'no-store' &&
      !CONDITIONAL_HEADERS.some((name) => r.headers[name] !== undefined)) {
      return answerRange(ctx, dispatch, r, downstream, toOrigin)
    }
    if (r.method !== 'GET') r = withoutRange(r)
  }
  if (r.mode === 'no-store' || PASS_THROUGH_HEADERS.some((name) => r.headers[name] !== undefined)) {
    publish('bypass', r, { reason: r.mode === 'no-store' ? 'no-store' : 'conditional request' })
    return toOrigin({ store: false, lookup: 'MISS' })
  }
  if (r.headers.range !== undefined) return answerRange(ctx, dispatch, r, downstream, toOrigin)
  if (r.mode === 'reload') {
    publish('miss', r, { reason: 'reload' })
    return miss()
  }

  const now = Date.now()
  const found = findEntry(ctx, r, now)
  if (found === null) {
    // Request coalescing: one request per key goes to the origin; the others wait for it
    // (published as `coalesced`, then as what they get once it landed).
    const flight = coalesces(ctx, r) && !r.onlyIfCached ? ctx.engine.flightFor(r.baseKey) : undefined
    if (flight !== undefined) return waitFor(ctx, dispatch, r, downstream, flight)
    if (asksRemote(ctx, r)) return lookupRemote(ctx, dispatch, r, downstream, miss, toOrigin)
    publish('miss', r, { onlyIfCached: r.onlyIfCached })
    if (r.onlyIfCached) {
      discardRequestBody(r.opts)
      gatewayTimeout(ctx, downstream)
      return true
    }
    // A stored part holds the first bytes: only the rest is asked for (complete-part.js).
    const part = partToComplete(ctx, r, now)
    if (part !== null) return completePart(ctx, dispatch, r, downstream, part, miss)
    // Other variants are stored: one in the language this request prefers most answers it
    // (language-variant.js), or the origin may say one of them does (variant-tags.js).
    const inLanguage = r.mode !== 'ignore-rules' ? languageVariant(ctx, r, now) : null
    if (inLanguage !== null) {
      try {
        return answerWith(ctx, dispatch, r, downstream, inLanguage, now, miss)
      } finally {
        inLanguage.release()
      }
    }
    const variants = r.method === 'GET' && r.mode !== 'ignore-rules' ? taggedVariants(ctx, r, now) : []
    if (variants.length > 0) return askWithVariantTags(ctx, dispatch, r, downstream, variants, miss)
    if (!coalesces(ctx, r)) return miss()
    return toOrigin({ store: true, lookup: 'MISS', flight: ctx.engine.takeOff(r.baseKey) })
  }

  // Whatever path answers, a body the lookup opened and nobody took is closed here.
  try {
    return answerWith(ctx, dispatch, r, downstream, found, now, miss)
  } finally {
    found.release()
  }
}

/**
 * A GET with Range: answered as the same request without it would be (fresh hit, stale served
 * or revalidated first, a 304 freshening the entry), except that what the cache serves is the
 * part Range asks for (`r.range`, see serveEntry). A new response from the origin during
 * revalidation is the full 200, stored and passed on whole (a server may ignore Range). With
 * no stored complete 200 the stored part may serve it (answerFromPart); else, or in `reload`
 * mode, the request goes to the origin as it is and a 206 answer replaces the stored part.
 */
function answerRange (ctx, dispatch, r, downstream, toOrigin) {
  const partial = { ...r, baseKey: partialKey(r.baseKey) }
  const passThrough = (lookup, previous) => {
    publish('bypass', r, { reason: 'range request' })
    return dispatchPartial(ctx, dispatch, partial, downstream, { lookup, previous, fullBaseKey: r.baseKey })
  }
  if (r.mode === 'reload') return passThrough('MISS')
  const whole = { ...withoutRange(r), range: { range: r.headers.range, 'if-range': r.headers['if-range'] } }
  const now = Date.now()
  const found = findEntry(ctx, whole, now)
  if (found === null || found.fields.status !== 200) {
    found?.release()
    const fromPart = found === null ? answerFromPart(ctx, { ...whole, baseKey: partial.baseKey }, downstream, now, () => passThrough('HIT')) : {}
    if (fromPart.served) return true
    if (found === null && r.onlyIfCached) {
      discardRequestBody(r.opts)
      gatewayTimeout(ctx, downstream)
      return true
    }
    return passThrough(found === null ? 'MISS' : 'HIT', fromPart.previous)
  }
  try {
    return answerWith(ctx, dispatch, whole, downstream, found, now, () => toOrigin({ store: false, lookup: 'HIT' }))
  } finally {
    found.release()
  }
}

/**
 * A Range request to the origin whose 206 is stored as the part (`r.baseKey` is the part's),
 * combined with the `previous` part where they fit (combine-parts.js).
 */
function dispatchPartial (ctx, dispatch, r, downstream, { lookup, previous, fullBaseKey }) {
  try {
    return dispatch(r.opts, new TeeHandler(ctx, r, downstream, { store: true, partial: true, lookup, previous, fullBaseKey }))
  } catch (err) {
    downstream.error(err)
    return true
  }
}

/**
 * Serves the Range request `whole` (its base key the part's, its Range in `whole.range`) from
 * the stored part when one holds every byte asked and may be served as it is (fresh, or stale
 * where the mode allows): `{ served: true }`. Else nothing is sent, and `previous` describes the
 * stored part a new one may combine with.
 * @returns {{ served?: boolean, previous?: import('./combine-parts').StoredPart }}
 */
function answerFromPart (ctx, whole, downstream, now, unavailable) {
  const found = findEntry(ctx, whole, now)
  if (found === null) return {}
  try {
    const covered = coveredRange(whole.range, found)
    const same = covered === null && sameRangeRequest(whole.range, found)
    const { result } = found.verdict
    const expired = ctx.maxTtl !== undefined && now - found.fields.metadata.receivedAt >= ctx.maxTtl
    const serve = whole.mode === 'default' ? result.fresh && !expired : whole.mode !== 'no-cache' && !expired
    if ((covered === null && !same) || !serve) return { previous: storedPart(found) }
    publish(result.fresh ? 'hit' : 'stale', whole, result.fresh ? { partial: true } : { partial: true, reason: whole.mode })
    if (whole.onlyIfCached) discardRequestBody(whole.opts)
    const headers = result.fresh ? freshHeaders(found) : staleHeaders(found, now)
    if (same) serveEntry(ctx, whole, downstream, found, headers, unavailable)
    else servePart(ctx, downstream, found, headers, covered, serveBody, unavailable)
    return { served: true }
  } finally {
    found.release()
  }
}

/** `r` without Range and If-Range, in what the cache sees and in what goes to the origin. */
function withoutRange (r) {
  const headers = { ...r.headers }
  delete headers.range
  delete headers['if-range']
  const opts = { ...r.opts, headers: withoutRangeFields(r.opts.headers) }
  return { ...r, opts, headers, req: { ...r.req, headers } }
}

/** undici request headers (object, flat array or iterable) without Range and If-Range. */
function withoutRangeFields (headers) {
  if (headers == null) return headers
  const dropped = (name) => {
    const lower = String(name).toLowerCase()
    return lower === 'range' || lower === 'if-range'
  }
  if (Array.isArray(headers) && (headers.length === 0 || !Array.isArray(headers[0]))) {
    const out = []
    for (let i = 0; i + 1 < headers.length; i += 2) if (!dropped(headers[i])) out.push(headers[i], headers[i + 1])
    return out
  }
  if (typeof headers[Symbol.iterator] === 'function') {
    return [...headers].filter(([name]) => !dropped(name))
  }
  const out = {}
  for (const name of Object.keys(headers)) if (!dropped(name)) out[name] = headers[name]
  return out
}

/** Whether a local miss for `r` asks the cache's shared second tier (`remote` option) first. */
function asksRemote (ctx, r) {
  return !r.remoteAsked && r.method === 'GET' && r.mode !== 'no-cache' && ctx.engine.remote !== null
}

/**
 * A local miss asks the shared tier (lib/engine/remote-lookup.js); the caller may abort
 * meanwhile. A hit there is answered like a local one (its body lands in the local cache as
 * it is served); a miss goes to the origin, leading the local flight (and, across hosts, the
 * fetch lock it took) when it coalesces.
 */
function lookupRemote (ctx, dispatch, r, downstream, miss, toOrigin) {
  const { engine } = ctx
  const leads = coalesces(ctx, r) && !r.onlyIfCached
  const flight = leads ? engine.takeOff(r.baseKey) : undefined
  // The cross-host lock this host may take goes once the flight landed (stored and handed
  // to the upload by then, or not stored at all).
  flight?.landed.then(() => setImmediate(() => engine.releaseFetch(r.baseKey)))
  let waiting = true
  downstream.attach({
    pause () {},
    resume () {},
    abort (reason) {
      if (!waiting) return
      waiting = false
      flight?.land()
      downstream.error(reason)
    },
  }, {})
  const now = Date.now()
  engine.lookupRemote(r.baseKey, {
    method: r.method, headers: r.headers, judge: judgeFor(r.req, now), coalesce: leads, maxWait: ctx.coalesceTimeout,
  }).then((found) => {
    if (!waiting) {
      found?.release()
      return
    }
    waiting = false
    downstream.detach()
    const next = { ...r, remoteAsked: true }
    if (found === null) {
      publish('miss', next, { onlyIfCached: r.onlyIfCached, remote: 'MISS' })
      if (r.onlyIfCached) {
        discardRequestBody(r.opts)
        gatewayTimeout(ctx, downstream)
        return
      }
      if (flight === undefined) return miss()
      return toOrigin({ store: true, lookup: 'MISS', flight })
    }
    flight?.land()
    try {
      answerWith(ctx, dispatch, next, downstream, found, Date.now(), miss)
    } catch (err) {
      downstream.error(err)
    } finally {
      found.release()
    }
  })
  return true
}

/** Whether a miss for `r` joins or leads a coalesced flight. */
function coalesces (ctx, r) {
  return ctx.coalesceTimeout > 0 && !r.coalesced && r.method === 'GET' &&
    (r.mode === 'default' || r.mode === 'force-cache' || r.mode === 'ignore-rules')
}

/**
 * Waits (at most `coalesceTimeout` ms) for the miss in flight for the same key, then looks
 * again: a hit if it was stored for this request's variant, else the origin (without waiting
 * again). The caller may abort while it waits.
 */
function waitFor (ctx, dispatch, r, downstream, flight) {
  const since = Date.now()
  let waiting = true
  const go = () => {
    if (!waiting) return
    waiting = false
    clearTimeout(timer)
    if (downstream.aborted || downstream.finished) return
    downstream.detach()
    publish('coalesced', r, { waitedMs: Date.now() - since })
    try {
      handle(ctx, dispatch, { ...r, coalesced: true }, downstream)
    } catch (err) {
      downstream.error(err)
    }
  }
  // The response started: its body is read from the spool as it arrives, if this request
  // selects the same variant.
  const readSpool = (spool) => {
    if (!waiting || downstream.aborted || downstream.finished || !varyMatches(spool.vary, r.headers)) return
    const source = spool.reader()
    if (source === null) return
    waiting = false
    clearTimeout(timer)
    downstream.detach()
    publish('coalesced', r, { waitedMs: Date.now() - since, streamed: true })
    const headers = servedHeaders(spool.headers, { hasBody: true, status: ctx.statusHeaders ? ['HIT', 'HIT'] : null })
    replay(downstream, spool.status, headers, source)
  }
  const timer = setTimeout(go, ctx.coalesceTimeout)
  downstream.attach({
    pause () {},
    resume () {},
    abort (reason) {
      if (!waiting) return
      waiting = false
      clearTimeout(timer)
      downstream.error(reason)
    },
  }, {})
  flight.whenSpooled(readSpool)
  flight.landed.then(go)
  return true
}

/**
 * Whether `found` (stale) may be served at once while it is revalidated in the background:
 * inside its `stale-while-revalidate` window (RFC 5861), in the default mode, and when the
 * request itself does not ask for a validated or fresher response.
 */
function staleWhileRevalidate (r, found, now, expired) {
  if (r.mode !== 'default' || expired || r.onlyIfCached || found.viaGet) return false
  const cc = parseCacheControl(r.headers['cache-control'])
  if (cc.has('no-cache') || cc.has('max-age') || cc.has('min-fresh') || r.headers.pragma !== undefined) return false
  try {
    return found.verdict.policy.canStaleWhileRevalidate(now)
  } catch {
    return false
  }
}

/**
 * Revalidates `found` with no caller waiting, at most once at a time per entry: a 304
 * updates it, a new response replaces it, a failure leaves it as it is.
 */
function revalidateInBackground (ctx, dispatch, r, found, now) {
  ctx.engine.revalidateOnce(found.key, (done) => {
    const headers = revalidationHeaders(found, now)
    const sink = new Downstream({
      onResponseEnd: done,
      onResponseError: done,
    })
    const handler = new RevalidateHandler(ctx, { ...r, mode: 'default', onlyIfCached: false }, sink, found, dispatch,
      { onStatus: false, onConnectionError: false }, { background: true })
    dispatch({ ...r.opts, headers, body: null }, handler)
  })
}

/**
 * The headers of a fresh hit: the policy's (with `age`), multi-valued fields restored, and
 * the stored `Date` (RFC 9111 section 4: the stored response is served as it was received).
 */
function freshHeaders (found) {
  const stored = found.fields.headers
  const headers = restoreMultiValues(found.verdict.result.headers, stored)
  if (stored.date !== undefined) headers.date = stored.date
  return headers
}

/**
 * Answers `r` given the entry `found`: served from the cache (fresh, or stale where the mode
 * allows), else revalidated. A body `found` holds open is taken by the path that serves it.
 * @param {import('./lookup').InterceptorFound} found
 */
function answerWith (ctx, dispatch, r, downstream, found, now, miss) {
  // maxTtl: an entry is never used without asking the origin once this old.
  const { result } = found.verdict
  const expired = ctx.maxTtl !== undefined && now - found.fields.metadata.receivedAt >= ctx.maxTtl
  const serve = r.mode === 'default'
    ? result.fresh && !expired
    : r.mode !== 'no-cache' && !expired // force-cache, only-if-cached, ignore-rules: stale is fine

  if (serve) {
    publish(result.fresh ? 'hit' : 'stale', r, result.fresh ? {} : { reason: r.mode })
    const headers = result.fresh ? freshHeaders(found) : staleHeaders(found, now)
    if (r.onlyIfCached) discardRequestBody(r.opts)
    const unavailable = r.onlyIfCached ? () => gatewayTimeout(ctx, downstream) : () => miss()
    serveEntry(ctx, r, downstream, found, headers, unavailable)
    return true
  }
  if (staleWhileRevalidate(r, found, now, expired)) {
    publish('stale', r, { reason: 'stale-while-revalidate' })
    serveEntry(ctx, r, downstream, found, staleHeaders(found, now), () => miss('HIT', found.key))
    revalidateInBackground(ctx, dispatch, r, found, now)
    return true
  }
  // Not served from the cache now: a body the lookup opened is not needed (after a 304 the
  // entry is opened again, as the revalidation left it).
  found.release()
  if (r.onlyIfCached) {
    discardRequestBody(r.opts)
    gatewayTimeout(ctx, downstream)
    return true
  }
  // A HEAD with only a stale stored GET revalidates that GET with a conditional HEAD (RFC
  // 9111 4.3.5): a 304 freshens it and the HEAD is answered from it.
  let headers
  try {
    headers = revalidationHeaders(found, now)
  } catch {
    return miss('HIT', found.key)
  }
  const staleIfError = staleIfErrorAllows(ctx, found, r.req, now)
  const handler = new RevalidateHandler(ctx, r, downstream, found, dispatch, staleIfError)
  try {
    return dispatch({ ...r.opts, headers }, handler)
  } catch (err) {
    downstream.error(err)
    return true
  }
}

/**
 * A GET of a POST's URL, with its headers, when GET responses are cached: the request a POST
 * response with `Content-Location` equal to its URL may be stored for (post-response.js).
 * @returns {CacheRequest | null}
 */
function postAsGet (ctx, opts) {
  if (!ctx.methods.has('GET')) return null
  try {
    const r = describe(ctx, { ...opts, method: 'GET', body: null }, 'GET', ctx.modeOf(opts))
    return r.mode === 'default' || r.mode === 'force-cache' || r.mode === 'no-cache' ? r : null
  } catch {
    return null
  }
}

/**
 * An undici interceptor caching responses in `options.cache` (a StreamingCache).
 * @param {import('../../undici').CacheInterceptorOptions} options
 */
function cacheInterceptor (options) {
  const ctx = buildContext(options)
  return (dispatch) => function cachedDispatch (opts, handler) {
    const method = String(opts?.method ?? 'GET').toUpperCase()
    if (!opts?.origin || opts.upgrade || method === 'CONNECT') return dispatch(opts, handler)

    if (!SAFE_METHODS.has(method)) {
      let url
      try {
        url = requestUrl(opts)
      } catch {
        return dispatch(opts, handler)
      }
      const asGet = method === 'POST' ? postAsGet(ctx, opts) : null
      if (asGet !== null) return dispatch(opts, new PostResponseHandler(ctx, { opts, method, url }, asGet, new Downstream(handler)))
      return dispatch(opts, new InvalidateHandler(ctx, { opts, method, url }, new Downstream(handler)))
    }
    if (!ctx.methods.has(method)) return dispatch(opts, handler)

    const mode = ctx.modeOf(opts)
    let r
    try {
      r = describe(ctx, opts, method, mode)
    } catch (err) {
      if (err?.code === 'ERR_INVALID_ARG_TYPE') throw err // cacheKey() returned a non-string
      return dispatch(opts, handler)
    }
    return handle(ctx, dispatch, r, new Downstream(handler))
  }
}

module.exports = { cacheInterceptor }
