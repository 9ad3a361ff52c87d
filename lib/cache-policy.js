'use strict'
// CachePolicy: RFC 9111 freshness and revalidation decided in Rust (http-cache-semantics).
const { NativePolicy } = require('./native')
const { callNative, invalidArgType } = require('./errors')
const { validateObject } = require('./validate')

function requestJson (request) {
  validateObject(request, 'request')
  const { method = 'GET', url, headers } = request
  if (typeof url !== 'string') throw invalidArgType('request.url', 'of type string', url)
  return JSON.stringify({ method, url, headers })
}

function responseParts (response) {
  validateObject(response, 'response')
  const status = response.status ?? response.statusCode
  if (typeof status !== 'number') throw invalidArgType('response.status', 'of type number', status)
  return [status, JSON.stringify(response.headers ?? {})]
}

class CachePolicy {
  #native

  /**
   * @param request  { method, url, headers } the response answered
   * @param response { status, headers }
   * @param options  { shared = true, responseTime = Date.now() }
   */
  constructor (request, response, options = {}) {
    if (request instanceof NativePolicy) {
      this.#native = request
      return
    }
    const [status, headers] = responseParts(response)
    const shared = options.shared ?? true
    const responseTime = options.responseTime ?? Date.now()
    this.#native = callNative(() =>
      NativePolicy.fromResponse(requestJson(request), status, headers, Boolean(shared), responseTime))
  }

  static fromJSON (json) {
    const text = typeof json === 'string' ? json : JSON.stringify(json)
    return new CachePolicy(callNative(() => NativePolicy.fromJson(text)))
  }

  toJSON () {
    return JSON.parse(this.#native.toJson())
  }

  /** Whether the response may be stored at all. */
  isStorable () { return this.#native.isStorable() }
  isStale (now = Date.now()) { return this.#native.isStale(now) }
  /** Milliseconds the response stays fresh (0 when stale). */
  timeToLive (now = Date.now()) { return this.#native.timeToLive(now) }
  /** Current age in seconds, as the `age` header gives it. */
  age (now = Date.now()) { return this.#native.age(now) }

  /**
   * `{ fresh: true, headers }`: serve the stored body with these response headers.
   * `{ fresh: false, matches, headers }`: send the request to the origin with these headers
   * (validators added when the stored response matches the request).
   */
  beforeRequest (request, now = Date.now()) {
    return JSON.parse(callNative(() => this.#native.beforeRequest(requestJson(request), now)))
  }

  /** After revalidating: `{ modified, policy, headers }`; `modified: false` keeps the stored body. */
  afterResponse (request, response, now = Date.now()) {
    const [status, headers] = responseParts(response)
    const result = JSON.parse(callNative(() =>
      this.#native.afterResponse(requestJson(request), status, headers, now)))
    result.policy = CachePolicy.fromJSON(result.policy)
    return result
  }
}

module.exports = { CachePolicy }
