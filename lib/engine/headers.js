'use strict'
// Header helpers for the undici interceptor: request header normalization, what is stored of
// a response, and the headers a cached response is served with. No caching decisions here:
// those come from CachePolicy (http-cache-semantics, in Rust).

/** Connection-specific headers (RFC 9110 7.6.1): never stored, never replayed. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
])

function headerText (value) {
  if (Buffer.isBuffer(value)) return value.toString('latin1')
  return String(value)
}

function appendHeader (out, name, value) {
  const key = String(name).toLowerCase()
  const values = Array.isArray(value) ? value.map(headerText) : [headerText(value)]
  const current = out[key]
  if (current === undefined) out[key] = values.length === 1 ? values[0] : values
  else out[key] = [].concat(current, values)
}

/**
 * undici accepts request headers as an object, a flat `[name, value, ...]` array, an array of
 * pairs or any iterable of pairs (Headers, Map). Returns one object with lower-case names.
 */
function normalizeRequestHeaders (headers) {
  const out = {}
  if (headers == null) return out
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [name, value] of headers) appendHeader(out, name, value)
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) appendHeader(out, headerText(headers[i]), headers[i + 1])
    }
    return out
  }
  if (typeof headers[Symbol.iterator] === 'function' && typeof headers !== 'string') {
    for (const [name, value] of headers) appendHeader(out, name, value)
    return out
  }
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value !== undefined && value !== null) appendHeader(out, name, value)
  }
  return out
}

/** `headers` without hop-by-hop fields (including those the Connection header names). */
function withoutHopByHop (headers) {
  const drop = new Set(HOP_BY_HOP)
  for (const value of [].concat(headers.connection ?? [])) {
    for (const token of String(value).split(',')) drop.add(token.trim().toLowerCase())
  }
  const out = {}
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value === undefined || value === null || drop.has(name.toLowerCase())) continue
    out[name.toLowerCase()] = Array.isArray(value) ? value.map(headerText) : headerText(value)
  }
  return out
}

function omit (headers, ...names) {
  const out = { ...headers }
  for (const name of names) delete out[name]
  return out
}

/**
 * http-cache-semantics rebuilds headers one value per name, so a multi-valued header (two
 * `link` or `warning` lines) comes back with only its last value. Puts the full list back when
 * one of `sources` holds it.
 */
function restoreMultiValues (headers, ...sources) {
  const out = { ...headers }
  for (const name of Object.keys(out)) {
    for (const source of sources) {
      const full = source?.[name]
      if (Array.isArray(full) && full.length > 0 && full[full.length - 1] === out[name]) {
        out[name] = full
        break
      }
    }
  }
  return out
}

/** Dates formatted lately: a stored response's `date` is the same on every hit. */
const imfDates = new Map()
const IMF_DATES = 128

/** Any HTTP date as IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); unparsable values pass through. */
function imfDate (value) {
  let formatted = imfDates.get(value)
  if (formatted === undefined) {
    const time = Date.parse(value)
    formatted = Number.isNaN(time) ? value : new Date(time).toUTCString()
    if (imfDates.size >= IMF_DATES) imfDates.delete(imfDates.keys().next().value)
    imfDates.set(value, formatted)
  }
  return formatted
}

/**
 * The response headers a cache keeps (hop-by-hop fields already removed): all of them in a
 * private cache; in a shared one, never `set-cookie` (not written to disk, not replayed).
 */
function storedResponseHeaders (headers, shared) {
  return shared ? omit(headers, 'set-cookie') : headers
}

// What a 304 must not change in the stored response (RFC 9111 section 3.2): the stored body's
// framing and coding, and its validator.
const KEPT_ON_UPDATE = new Set(['content-length', 'content-encoding', 'content-range', 'content-md5', 'etag'])

/**
 * The stored response's headers updated with a 304's (hop-by-hop fields already removed):
 * every field the 304 carries replaces the stored one, but for KEPT_ON_UPDATE.
 */
function updatedHeaders (stored, notModified) {
  const out = { ...stored }
  for (const name of Object.keys(notModified)) {
    if (!KEPT_ON_UPDATE.has(name)) out[name] = notModified[name]
  }
  return out
}

/**
 * The headers a cached response is served with: an IMF-fixdate `date`, and a
 * `content-length` when the stored one is missing.
 * `status` ([x-cache, x-cache-lookup]) adds the status headers (see withStatusHeaders).
 */
function servedHeaders (headers, { size, hasBody, status = null }) {
  const out = {}
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (name === '__proto__') Object.defineProperty(out, name, { value, writable: true, enumerable: true, configurable: true })
    else out[name] = name === 'date' && typeof value === 'string' ? imfDate(value) : value
  }
  if (hasBody && out['content-length'] === undefined && Number.isSafeInteger(size)) {
    out['content-length'] = String(size)
  }
  if (status !== null) {
    out['x-cache'] = status[0]
    out['x-cache-lookup'] = status[1]
  }
  return out
}

/** `x-cache` (served from the cache?) and `x-cache-lookup` (was an entry found?). */
function withStatusHeaders (headers, enabled, served, lookup) {
  if (!enabled) return headers
  return { ...headers, 'x-cache': served, 'x-cache-lookup': lookup }
}

/** Cache-Control as a Map of lower-case directive to its (unquoted) value, or `true`. */
function parseCacheControl (value) {
  const directives = new Map()
  for (const line of [].concat(value ?? [])) {
    for (const part of String(line).split(',')) {
      const eq = part.indexOf('=')
      const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase()
      if (name === '') continue
      const arg = eq === -1 ? true : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      if (!directives.has(name)) directives.set(name, arg)
    }
  }
  return directives
}

/** A delta-seconds directive value in ms, or undefined. */
function seconds (value) {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) return undefined
  return Number(value) * 1000
}

function hasValidator (headers) {
  return headers.etag !== undefined || headers['last-modified'] !== undefined
}

/** undici's raw header form: `[name, value, ...]` as Buffers. */
function toRawHeaders (headers) {
  const raw = []
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    for (const v of [].concat(value)) raw.push(Buffer.from(name, 'latin1'), Buffer.from(String(v), 'latin1'))
  }
  return raw
}

module.exports = {
  normalizeRequestHeaders,
  withoutHopByHop,
  omit,
  restoreMultiValues,
  storedResponseHeaders,
  updatedHeaders,
  servedHeaders,
  withStatusHeaders,
  parseCacheControl,
  seconds,
  hasValidator,
  toRawHeaders,
}
