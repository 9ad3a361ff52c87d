'use strict'
// The common case of `CachePolicy#beforeRequest`, answered in JS for a policy that answers
// many requests (a RAM-tier record's): the request has no Cache-Control or Pragma of its own,
// selects the stored response and finds it fresh. Then the answer is `{ fresh: true, matches:
// true, headers }` with the stored fields and a current `age`, exactly what the native policy
// returns; everything else (stale, not matching, request directives, headers the native side
// would reject) is left to the native policy. No caching rule is re-implemented here: what the
// answer depends on is asked of the native policy once (how long it stays fresh after it was
// received, the headers to serve) or once per distinct value of the headers that select it
// (`matches`), and kept; the only arithmetic is the age (age when received + time since).
// __test__/fresh-judge.spec.js compares both over generated responses, requests and times.

/**
 * The FreshJudge kept with stored fields whose policy answers many requests (a RAM-tier
 * record's fields, lib/memory-tier.js), or null/undefined: judge with the policy itself.
 */
const kFreshJudge = Symbol('streaming-cache.freshJudge')

/** What the native side accepts as a header name unchanged: a lower-case RFC 9110 token. */
const LOWER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/
/** What the native side rejects in a header value. */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/
/** The native side's latest time (src/policy.rs `time`): later `now`s count as this. */
const MAX_TIME_MS = 8.64e15
/** Distinct request header values remembered per policy with the native `matches` answer. */
const MATCHES_REMEMBERED = 16
/** Stands for an absent header in a remembered request (values never hold CR, LF or NUL). */
const ABSENT = '\r'

/** `now` as the native side reads it: whole milliseconds, 0 before the epoch. */
function nativeTime (now) {
  return Number.isFinite(now) && now > 0 ? Math.floor(Math.min(now, MAX_TIME_MS)) : 0
}

/** The lower-case members of a stored `Vary` (a superset of what the native side reads), or null for `*` or non-ASCII. */
function varyMembers (vary) {
  const names = []
  for (const line of [].concat(vary ?? [])) {
    if (typeof line !== 'string' || !/^[\x20-\x7e\t]*$/.test(line)) return null
    for (const part of line.split(/[\s,]+/)) {
      if (part === '*') return null
      if (part !== '' && !names.includes(part.toLowerCase())) names.push(part.toLowerCase())
    }
  }
  return names
}

class FreshJudge {
  #policy
  #method
  #url
  #receivedAt
  /** How long after `receivedAt` the response stays fresh (ms, > 0). */
  #freshFor
  /** Its age when received (ms). */
  #initialAge
  /** The headers to serve it with, `age` among them (its value replaced per answer). */
  #served
  /** Request header names whose values decide whether a request selects the response. */
  #selecting
  /** Those values (joined) -> whether the native policy said the request selects it. */
  #matches = new Map()

  constructor (policy, parts) {
    this.#policy = policy
    this.#method = parts.method
    this.#url = parts.url
    this.#receivedAt = parts.receivedAt
    this.#freshFor = parts.freshFor
    this.#initialAge = parts.initialAge
    this.#served = parts.served
    this.#selecting = parts.selecting
  }

  /**
   * A judge for `policy` (a CachePolicy), or null when it is never fresh after it was received
   * (then every request goes to the native policy anyway).
   */
  static of (policy) {
    const receivedAt = policy.responseTime
    // A response time before the epoch is read back as the epoch: ages would differ.
    if (!(receivedAt > 0)) return null
    const freshFor = policy.timeToLive(receivedAt)
    if (!(freshFor > 0)) return null
    const selecting = varyMembers(policy.responseHeaders().vary)
    if (selecting === null) return null
    if (!selecting.includes('host')) selecting.unshift('host')
    return new FreshJudge(policy, {
      method: policy.method,
      url: policy.url,
      receivedAt,
      freshFor,
      initialAge: policy.freshnessLifetime() - freshFor,
      served: policy.servedHeaders(receivedAt),
      selecting,
    })
  }

  /**
   * `policy.beforeRequest(request, now)` when the request is the common case and finds the
   * response fresh (a new object each time), else undefined: ask the native policy.
   */
  judge (request, now) {
    if (typeof now !== 'number' || request === null || typeof request !== 'object') return undefined
    const { method = 'GET', url, headers } = request
    if (method !== this.#method || url !== this.#url) return undefined
    const selecting = this.#requestKey(headers)
    if (selecting === undefined) return undefined
    let matches = this.#matches.get(selecting)
    if (matches === undefined) {
      try {
        matches = this.#policy.matches(request)
      } catch {
        return undefined
      }
      if (this.#matches.size >= MATCHES_REMEMBERED) this.#matches.clear()
      this.#matches.set(selecting, matches)
    }
    if (!matches) return undefined
    const resident = Math.max(0, nativeTime(now) - this.#receivedAt)
    if (resident >= this.#freshFor) return undefined
    // A copy keeps the key order of the native answer (`age` where the native side puts it).
    const served = { ...this.#served }
    served.age = String(Math.floor((this.#initialAge + resident) / 1000))
    return { fresh: true, matches: true, headers: served }
  }

  /**
   * The values of the selecting headers joined into one string, or undefined when the
   * request's headers are not the common case: not a plain object of lower-case names and
   * string values the native side takes as they are, or with request directives.
   */
  #requestKey (headers) {
    if (headers === undefined || headers === null) return ABSENT.repeat(this.#selecting.length)
    if (typeof headers !== 'object' || typeof headers[Symbol.iterator] === 'function') return undefined
    for (const name of Object.keys(headers)) {
      const value = headers[name]
      if (value === undefined || value === null) continue
      if (typeof value !== 'string' || !LOWER_TOKEN.test(name) || FORBIDDEN_IN_VALUE.test(value) ||
        name === 'cache-control' || name === 'pragma' || name === '__proto__') return undefined
    }
    let key = ''
    for (const name of this.#selecting) {
      const value = Object.hasOwn(headers, name) ? headers[name] : undefined
      key += (typeof value === 'string' ? value : ABSENT) + '\n'
    }
    return key
  }
}

module.exports = { FreshJudge, kFreshJudge }
