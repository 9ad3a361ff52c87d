'use strict'
// The one key scheme both fronts use. A response is stored under its base key (`METHOD URL`
// by default, query included); a response with a Vary header is stored under
// `base + '\n' + discriminator`, so the variants of one URL sit side by side and
// `cache.keys(base + '\n')` lists them. An entry `cacheInterceptor` stores is found by
// `StreamingCacheStore` and the other way round.
const crypto = require('node:crypto')

/**
 * The request header values a stored response varies on, by lower-case name; `null` for a
 * header the request did not carry (a later request must not carry it either). `null` as a
 * whole: the response has no Vary.
 * @typedef {Record<string, string | string[] | null> | null} VaryMap
 */

/** Origins parsed lately (a dispatcher sends to a few): parsing a URL per request is not free. */
const origins = new Map()
const ORIGINS_KEPT = 64

function originOf (origin) {
  if (origin instanceof URL) return origin.origin
  const text = String(origin)
  let parsed = origins.get(text)
  if (parsed === undefined) {
    parsed = new URL(text).origin
    if (origins.size >= ORIGINS_KEPT) origins.delete(origins.keys().next().value)
    origins.set(text, parsed)
  }
  return parsed
}

function serializeQuery (query) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) {
    for (const v of [].concat(value)) {
      if (v !== undefined && v !== null) params.append(name, String(v))
    }
  }
  return params.toString()
}

/** The absolute URL a dispatch targets: origin + path (+ `opts.query` when the path has none). */
function requestUrl (opts) {
  let path = opts.path || '/'
  if (!path.startsWith('/')) path = `/${path}`
  if (opts.query && typeof opts.query === 'object' && !path.includes('?')) {
    const qs = serializeQuery(opts.query)
    if (qs !== '') path = `${path}?${qs}`
  }
  return originOf(opts.origin) + path
}

/** The base key of a method and URL. */
function baseKeyOf (method, url) {
  return `${method.toUpperCase()} ${url}`
}

/** The default base key of a dispatch: method and full URL, query included. */
function defaultCacheKey (opts) {
  return baseKeyOf(opts.method ?? 'GET', requestUrl(opts))
}

/** The header names a Vary value lists (lower-case, sorted, unique); `null` for `Vary: *`. */
function varyNames (vary) {
  if (vary === undefined || vary === null) return []
  const names = new Set()
  for (const line of [].concat(vary)) {
    for (const part of String(line).split(',')) {
      const name = part.trim().toLowerCase()
      if (name === '*') return null
      if (name !== '') names.add(name)
    }
  }
  return [...names].sort()
}

/** The VaryMap of a request (`headers`: lower-case names) for a response varying on `names`. */
function varyMapOf (names, headers) {
  if (names.length === 0) return null
  const map = {}
  for (const name of names) map[name] = headers[name] ?? null
  return map
}

/** `vary` as stored: names lower-case, `undefined` values as `null`; `null` when empty. */
function normalizeVaryMap (vary) {
  if (vary == null) return null
  const names = Object.keys(vary)
  if (names.length === 0) return null
  const map = {}
  for (const name of names) map[name.toLowerCase()] = vary[name] ?? null
  return map
}

/**
 * A request header value as Vary compares it (RFC 9111 section 4.1 lets a cache normalize):
 * its field lines combined, split into list members, whitespace around them dropped; for the
 * `accept-*` headers members are also compared case-insensitively and in any order (members
 * without weights are equally preferred). `null` for an absent header.
 */
function varyValue (name, value) {
  if (value === null || value === undefined) return null
  const members = [].concat(value).join(',').split(',').map((m) => m.trim()).filter((m) => m !== '')
  if (name.startsWith('accept')) return members.map((m) => m.toLowerCase()).sort().join(',')
  return members.join(',')
}

/** Whether a request with `headers` (lower-case names) selects a response stored with `vary`. */
function varyMatches (vary, headers) {
  if (vary == null) return true
  for (const name of Object.keys(vary)) {
    if (varyValue(name, headers?.[name]) !== varyValue(name, vary[name])) return false
  }
  return true
}

const MAX_DISCRIMINATOR = 512

/**
 * The key of the variant of `baseKey` that `vary` describes. Readable
 * (`accept-encoding=gzip&accept-language=en`) unless long, then a hash. A header the request
 * lacks is written as its bare name; values as Vary compares them (varyValue), so requests
 * that select the same variant name the same key.
 */
function variantKey (baseKey, vary) {
  if (vary == null) return baseKey
  const names = Object.keys(vary).sort()
  if (names.length === 0) return baseKey
  const parts = names.map((name) => {
    const value = varyValue(name, vary[name])
    if (value === null) return encodeURIComponent(name)
    return `${encodeURIComponent(name)}=${encodeURIComponent(value)}`
  })
  let discriminator = parts.join('&')
  if (discriminator.length > MAX_DISCRIMINATOR) {
    discriminator = 'sha256=' + crypto.createHash('sha256').update(discriminator).digest('hex')
  }
  return `${baseKey}\n${discriminator}`
}

/**
 * The request stored inside a policy: only what matching a later request needs (`host` and
 * the headers the response varies on). Credentials and cookies are not written to disk unless
 * the response varies on them.
 */
function policyRequest (req, names) {
  const headers = {}
  for (const name of ['host', ...(names ?? [])]) {
    if (req.headers[name] !== undefined) headers[name] = req.headers[name]
  }
  return { method: req.method, url: req.url, headers }
}

module.exports = {
  requestUrl,
  baseKeyOf,
  defaultCacheKey,
  varyNames,
  varyMapOf,
  normalizeVaryMap,
  varyMatches,
  variantKey,
  policyRequest,
}
