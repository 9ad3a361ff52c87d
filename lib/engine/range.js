'use strict'
// Range requests answered from a stored complete response (RFC 9110 section 14), for both
// undici fronts: which bytes a `Range` asks of the stored body, whether `If-Range` lets it,
// and the 206 / 416 headers. The bytes themselves come from `cache.getSync(key, { range })`,
// which reads and verifies only the 64 KiB blocks they touch.
//
// Choices where the RFC leaves room:
// - Only GET has ranges (14.2): a HEAD with `Range` is answered as a plain HEAD.
// - One range per request. Several (`bytes=0-1,5-9`) are answered with the full 200, which
//   14.2 allows ("a server MAY ignore the Range header field"); multipart/byteranges is not
//   produced. Other units, malformed or backwards (`5-2`) ranges are ignored the same way.
// - Any range of an empty body: the full (empty) 200, there is nothing to slice.
// - `If-Range` (13.1.5) holds only for a strong entity tag equal to the stored strong ETag, or
//   for an IMF-fixdate equal to the stored Last-Modified when that Last-Modified is strong
//   (the stored Date at least a second later, 8.8.2.2). Otherwise the full 200 is served.

/** @typedef {{ kind: 'full' } | { kind: 'partial', start: number, end: number } | { kind: 'unsatisfiable' }} RangePlan */

const FULL = Object.freeze({ kind: 'full' })
const UNSATISFIABLE = Object.freeze({ kind: 'unsatisfiable' })
const SPEC = /^\s*(\d*)\s*-\s*(\d*)\s*$/
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/

/** A single header value, or undefined when absent or repeated (a repeated one is ignored). */
function single (value) {
  if (Array.isArray(value)) return value.length === 1 ? String(value[0]) : undefined
  return value === undefined ? undefined : String(value)
}

/**
 * What a GET with `requestHeaders` gets of a stored complete response with `responseHeaders`
 * and a body of `size` bytes.
 * @returns {RangePlan}
 */
function planRange (requestHeaders, responseHeaders, size) {
  const range = single(requestHeaders.range)
  if (range === undefined || size === 0) return FULL
  const ifRange = requestHeaders['if-range']
  if (ifRange !== undefined && !ifRangeHolds(single(ifRange), responseHeaders)) return FULL
  const eq = range.indexOf('=')
  if (eq === -1 || range.slice(0, eq).trim().toLowerCase() !== 'bytes') return FULL
  const specs = range.slice(eq + 1).split(',')
  if (specs.length !== 1) return FULL
  const match = SPEC.exec(specs[0])
  if (match === null || (match[1] === '' && match[2] === '')) return FULL
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0) return UNSATISFIABLE
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(match[1])
  const last = match[2] === '' ? Infinity : Number(match[2])
  if (last < start) return FULL
  if (start >= size) return UNSATISFIABLE
  return { kind: 'partial', start, end: Math.min(last, size - 1) }
}

/** Whether an `If-Range` validator matches the stored response (RFC 9110 13.1.5). */
function ifRangeHolds (validator, responseHeaders) {
  if (validator === undefined) return false
  const value = validator.trim()
  if (value.startsWith('"') || value.startsWith('W/')) {
    const etag = single(responseHeaders.etag)?.trim()
    // Strong comparison: neither may be weak, and they must be identical.
    return !value.startsWith('W/') && etag !== undefined && !etag.startsWith('W/') && etag === value
  }
  if (!IMF_FIXDATE.test(value)) return false
  const lastModified = single(responseHeaders['last-modified'])
  const date = single(responseHeaders.date)
  if (lastModified === undefined || date === undefined) return false
  const modified = Date.parse(lastModified)
  const asked = Date.parse(value)
  const sent = Date.parse(date)
  if (Number.isNaN(modified) || Number.isNaN(asked) || Number.isNaN(sent)) return false
  return asked === modified && sent - modified >= 1000
}

/** The headers of a 206 for `plan` (partial) of a `size`-byte body, from the full response's. */
function partialHeaders (headers, plan, size) {
  return {
    ...headers,
    'content-range': `bytes ${plan.start}-${plan.end}/${size}`,
    'content-length': String(plan.end - plan.start + 1),
  }
}

/** The headers of a 416 for a `size`-byte body: what describes the body itself goes. */
function unsatisfiableHeaders (headers, size) {
  const out = { ...headers, 'content-range': `bytes */${size}`, 'content-length': '0' }
  delete out['content-type']
  delete out['content-encoding']
  return out
}

/**
 * Opens bytes `plan.start..plan.end` of the entry `found` describes (same integrity), or null
 * when it is gone or was replaced. Closes any body the lookup opened: a range is opened anew.
 * @param {import('./engine').HttpCacheEngine} engine
 * @param {import('./engine').Found<unknown>} found
 */
function openRange (engine, found, plan) {
  found.release()
  let hit
  try {
    hit = engine.cache.getSync(found.key, { range: [plan.start, plan.end] })
  } catch {
    return null
  }
  if (hit === null) return null
  if ((found.fields.integrity !== undefined && hit.integrity !== found.fields.integrity) || hit.range == null) {
    hit.body.destroy()
    return null
  }
  return hit.body
}

/**
 * For StreamingCacheStore: the undici cache value answering a Range request from the stored
 * complete `value` (200) of `found`: a 206 of just the range, a 416, `undefined` when the full
 * value answers it (no range, If-Range failed, several ranges...), or null when the range
 * cannot be opened (the entry went away: a miss).
 */
function rangeValue (engine, requestHeaders, found, value) {
  const size = found.fields.size
  const plan = planRange(requestHeaders, value.headers ?? {}, size)
  if (plan.kind === 'full') return undefined
  if (plan.kind === 'unsatisfiable') {
    found.release()
    return {
      ...value,
      statusCode: 416,
      statusMessage: 'Range Not Satisfiable',
      headers: unsatisfiableHeaders(value.headers ?? {}, size),
      body: null,
    }
  }
  const body = openRange(engine, found, plan)
  if (body === null) return null
  return {
    ...value,
    statusCode: 206,
    statusMessage: 'Partial Content',
    headers: partialHeaders(value.headers ?? {}, plan, size),
    body,
  }
}

module.exports = { planRange, ifRangeHolds, partialHeaders, unsatisfiableHeaders, openRange, rangeValue }
