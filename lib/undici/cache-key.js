'use strict'
// Cache keys. A response is stored under its base key (method + URL by default); a response
// with a Vary header is stored under `base + '\n' + discriminator`, so the variants of one URL
// sit side by side and `cache.keys(base + '\n')` lists them.
const crypto = require('node:crypto')

function originOf (origin) {
  if (origin instanceof URL) return origin.origin
  return new URL(String(origin)).origin
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

/** The default cache key: method and full URL, query included. */
function defaultCacheKey (opts) {
  return `${(opts.method ?? 'GET').toUpperCase()} ${requestUrl(opts)}`
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

const MAX_DISCRIMINATOR = 512

/**
 * The key for the variant of `baseKey` that `requestHeaders` selects, given the response's
 * Vary header names. Readable (`accept-encoding=gzip&accept-language=en`) unless long, then a
 * hash. A header the request lacks is written as its bare name.
 */
function variantKey (baseKey, names, requestHeaders) {
  if (names.length === 0) return baseKey
  const parts = names.map((name) => {
    const value = requestHeaders[name]
    if (value === undefined) return encodeURIComponent(name)
    return `${encodeURIComponent(name)}=${encodeURIComponent([].concat(value).join(', '))}`
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

module.exports = { requestUrl, defaultCacheKey, varyNames, variantKey, policyRequest }
