'use strict'
// CachePolicy: RFC 9111 freshness and revalidation, decided in Rust (core/src/policy/).
// This file only checks arguments and converts headers; every decision is native.
const { NativePolicy } = require('./native')
const { invalidArgType } = require('./errors')
const { validateObject } = require('./validate')
const { heuristicOption } = require('./heuristic-option')

/** Buffers (raw bytes, as undici may hand them over) are latin-1, as on the wire; the core checks the rest. */
function headerText (value) {
  return Buffer.isBuffer(value) ? value.toString('latin1') : value
}

function addHeader (out, name, value) {
  if (value === undefined || value === null) return
  const key = String(name).toLowerCase()
  const values = Array.isArray(value) ? value.map(headerText) : [headerText(value)]
  const current = out[key]
  if (current === undefined) out[key] = values.length === 1 ? values[0] : values
  else out[key] = [].concat(current, values)
}

/**
 * Header fields as a plain object with lower-case names, from what Node (`IncomingHttpHeaders`),
 * undici (`request()`'s headers, raw `[name, value, ...]` arrays) or the Fetch API (`Headers`,
 * any iterable of pairs) hand over. Absent values (`undefined`) are left out.
 */
function headersObject (headers, name) {
  const out = {}
  if (headers === undefined || headers === null) return out
  if (typeof headers !== 'object') throw invalidArgType(name, 'an object', headers)
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [key, value] of headers) addHeader(out, String(headerText(key)), value)
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) addHeader(out, String(headerText(headers[i])), headers[i + 1])
    }
    return out
  }
  if (typeof headers[Symbol.iterator] === 'function') {
    for (const [key, value] of headers) addHeader(out, key, value)
    return out
  }
  for (const key of Object.keys(headers)) addHeader(out, key, headers[key])
  return out
}

function requestJson (request, name = 'request') {
  validateObject(request, name)
  const { method = 'GET', url } = request
  if (typeof url !== 'string') throw invalidArgType(`${name}.url`, 'of type string', url)
  if (typeof method !== 'string') throw invalidArgType(`${name}.method`, 'of type string', method)
  return JSON.stringify({ method, url, headers: headersObject(request.headers, `${name}.headers`) })
}

function responseParts (response) {
  validateObject(response, 'response')
  const status = response.status ?? response.statusCode
  if (typeof status !== 'number') throw invalidArgType('response.status', 'of type number', status)
  return [status, JSON.stringify(headersObject(response.headers, 'response.headers'))]
}

function timeArg (now, name) {
  if (typeof now !== 'number') throw invalidArgType(name, 'of type number', now)
  return now
}

class CachePolicy {
  #native

  /**
   * @param request  { method, url, headers } the response answered
   * @param response { status, headers }
   * @param options  { shared = true, responseTime = Date.now(), requestTime = responseTime,
   *                  heuristic = { fraction: 0.1, min: 10 s, max: 1 day } (or false; heuristic-option.js) }
   */
  constructor (request, response, options = {}) {
    if (request instanceof NativePolicy) {
      this.#native = request
      return
    }
    const requestText = requestJson(request)
    const [status, headers] = responseParts(response)
    validateObject(options, 'options')
    const shared = options.shared ?? true
    const responseTime = timeArg(options.responseTime ?? Date.now(), 'options.responseTime')
    const requestTime = options.requestTime === undefined ? undefined : timeArg(options.requestTime, 'options.requestTime')
    const heuristic = heuristicOption(options.heuristic)
    this.#native = NativePolicy.fromResponse(requestText, status, headers, Boolean(shared), responseTime, requestTime, heuristic)
  }

  static fromJSON (json) {
    const text = typeof json === 'string' ? json : JSON.stringify(json)
    if (typeof text !== 'string') throw invalidArgType('json', 'a stored policy', json)
    return new CachePolicy(NativePolicy.fromJson(text))
  }

  /**
   * The request's own `Cache-Control` (RFC 9111 5.2.1): `{ noStore, noCache, onlyIfCached,
   * maxAge, minFresh, maxStale, staleIfError }` (seconds or null; `maxStale: true` accepts
   * any staleness). `Pragma: no-cache` counts as `noCache` when there is no `Cache-Control`.
   */
  static requestDirectives (headers) {
    const json = JSON.stringify(headersObject(headers, 'headers'))
    return JSON.parse(NativePolicy.requestDirectives(json))
  }

  toJSON () {
    return JSON.parse(this.#native.toJson())
  }

  /** Whether the response may be stored at all. */
  isStorable () { return this.#native.isStorable() }
  isStale (now = Date.now()) { return this.#native.isStale(timeArg(now, 'now')) }
  /** Milliseconds the response stays fresh (0 when stale). */
  timeToLive (now = Date.now()) { return this.#native.timeToLive(timeArg(now, 'now')) }
  /** Current age in seconds, as the `age` header gives it (RFC 9111 4.2.3, `Date` and `Age` combined). */
  age (now = Date.now()) { return this.#native.age(timeArg(now, 'now')) }
  /** Freshness lifetime in milliseconds (0 when the response must be validated before each use). */
  freshnessLifetime () { return this.#native.freshnessLifetime() }
  /** Milliseconds since the response became stale (0 while fresh). */
  staleness (now = Date.now()) { return this.#native.staleness(timeArg(now, 'now')) }
  /** Whether the lifetime comes from `s-maxage`, `max-age` or `Expires` rather than a heuristic. */
  hasExplicitFreshness () { return this.#native.hasExplicitFreshness() }
  /** False when `must-revalidate`, `no-cache` (or, shared, `proxy-revalidate`/`s-maxage`) forbid serving it stale. */
  mayServeStale () { return this.#native.mayServeStale() }
  /** Stale but inside its `stale-while-revalidate` window (and allowed to be served stale). */
  canStaleWhileRevalidate (now = Date.now()) {
    return this.#native.canStaleWhileRevalidate(timeArg(now, 'now'))
  }

  /** May be served stale because the origin failed: `stale-if-error` of the response or of `request`. */
  canStaleIfError (request, now = Date.now()) {
    const text = requestJson(request ?? { method: this.method, url: this.url })
    return this.#native.canStaleIfError(text, timeArg(now, 'now'))
  }

  get status () { return this.#native.status() }
  get url () { return this.#native.url() }
  get method () { return this.#native.method() }
  /** When the response was received, in ms since the epoch. */
  get responseTime () { return this.#native.responseTime() }

  /** The response's fields as stored: no hop-by-hop fields; shared: no `set-cookie`, no `private="..."` fields. */
  responseHeaders () { return JSON.parse(this.#native.responseHeaders()) }
  /** The fields to serve the stored response with: its own `date`, a current `age`, no `no-cache="..."` fields. */
  servedHeaders (now = Date.now()) {
    return JSON.parse(this.#native.servedHeaders(timeArg(now, 'now')))
  }

  /**
   * The response's `Cache-Control` as understood: `{ maxAge, sMaxage, noStore, noCache,
   * noCacheFields, private, privateFields, public, mustRevalidate, proxyRevalidate,
   * mustUnderstand, immutable, noTransform, staleWhileRevalidate, staleIfError }`.
   */
  responseDirectives () { return JSON.parse(this.#native.responseDirectives()) }

  /** Whether `request` selects this stored response (URL, method, host, `Vary`). */
  matches (request) {
    const text = requestJson(request)
    return this.#native.matches(text)
  }

  /**
   * Whether `request`'s own `If-None-Match` (or, without it, `If-Modified-Since`) matches the
   * stored response: a cache serving it answers 304 instead (RFC 9110 13.2.2).
   */
  notModifiedFor (request) {
    const text = requestJson(request)
    return this.#native.notModifiedFor(text)
  }

  /** The headers to revalidate with: `request`'s, hop-by-hop removed, `if-none-match`/`if-modified-since` added. */
  revalidationHeaders (request) {
    const text = requestJson(request)
    return JSON.parse(this.#native.revalidationHeaders(text))
  }

  /**
   * `{ fresh: true, headers }`: serve the stored body with these response headers.
   * `{ fresh: false, matches, headers }`: send the request to the origin with these headers
   * (validators added when the stored response matches the request).
   */
  beforeRequest (request, now = Date.now()) {
    const text = requestJson(request)
    return JSON.parse(this.#native.beforeRequest(text, timeArg(now, 'now')))
  }

  /** After revalidating: `{ modified, policy, headers }`; `modified: false` keeps the stored body. */
  afterResponse (request, response, now = Date.now()) {
    const text = requestJson(request)
    const [status, headers] = responseParts(response)
    const result = JSON.parse(this.#native.afterResponse(text, status, headers, timeArg(now, 'now')))
    result.policy = CachePolicy.fromJSON(result.policy)
    return result
  }
}

module.exports = { CachePolicy }
