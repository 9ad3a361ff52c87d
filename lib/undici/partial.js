'use strict'
// Stored partial responses (RFC 9111 section 3.3): a 206 the origin sent for a Range request
// the cache could not serve is kept, and later Range requests it covers are answered from it.
//
// Design (the simplest sound one):
// - One part per resource (and Vary variant), under its own base key `partialKey(baseKey)`,
//   outside `baseKey + '\n'` so no lookup of the full response ever sees it: a request
//   without Range is never answered from a part (3.3, "MUST NOT use an incomplete response").
// - A part is one contiguous range: a 206 with a single `Content-Range: bytes a-b/len` (the
//   complete length known) and at most b-a+1 body bytes. A shorter body (an origin whose
//   body and Content-Range disagree) holds bytes a..a+size-1 and only those are served from
//   it (3.3: an incomplete response serves only ranges wholly within it). Multipart 206s
//   are not stored.
// - A newer part replaces the stored one, unless both have the same strong ETag and complete
//   length and their ranges overlap or touch: then they are combined (3.4, combine-parts.js),
//   into the complete 200 once every byte is held.
// - Freshness is judged as for the full response (the policy is built as if for a 200 with the
//   same headers); a part that may not be served as it is (stale) is not revalidated: the
//   request goes to the origin and the new 206 replaces it.
const { planRange, ifRangeHolds, openRange } = require('../engine/range')
const { servedHeaders } = require('../engine/headers')
const { strongEtag } = require('./combine-parts')

const HIT = ['HIT', 'HIT']
const CONTENT_RANGE = /^\s*bytes\s+(\d+)-(\d+)\/(\d+)\s*$/i

/** The base key the part of the resource at `baseKey` is stored under. */
function partialKey (baseKey) {
  return `${baseKey}\tpartial`
}

/**
 * The byte range a 206's `Content-Range` says its body holds, or null when it is not a single
 * satisfied range of a known complete length.
 * @returns {{ first: number, last: number, length: number } | null}
 */
function contentRangeOf (headers) {
  const value = headers?.['content-range']
  if (typeof value !== 'string') return null
  const match = CONTENT_RANGE.exec(value)
  if (match === null) return null
  const first = Number(match[1])
  const last = Number(match[2])
  const length = Number(match[3])
  if (!Number.isSafeInteger(last) || !Number.isSafeInteger(length) || first > last || last >= length) return null
  return { first, last, length }
}

/**
 * The bytes of the stored part `found` that a Range request with `requestHeaders` asks, as
 * absolute positions, when the part holds all of them; else null (the origin is asked).
 * `If-Range` is judged on the part's stored headers.
 */
function coveredRange (requestHeaders, found) {
  if (found.fields.status !== 206) return null
  const part = contentRangeOf(found.fields.headers)
  if (part === null) return null
  if (requestHeaders['if-range'] !== undefined && !ifRangeHolds(String(requestHeaders['if-range']), found.fields.headers)) return null
  const plan = planRange(requestHeaders, found.fields.headers, part.length)
  const held = Math.min(part.last, part.first + found.fields.size - 1)
  if (plan.kind !== 'partial' || plan.start < part.first || plan.end > held) return null
  return { start: plan.start, end: plan.end, part }
}

/**
 * Whether the stored part `found` is the origin's answer to a request with the same `Range`
 * as `requestHeaders` (and an `If-Range`, if any, that holds for it): it then answers it as
 * it is, with the origin's own `Content-Range`, as a cache keyed on the request would. This
 * is the one case where a part serves bytes coveredRange does not vouch for: those of a part
 * whose body is shorter than its `Content-Range` says are what the origin itself sent.
 */
function sameRangeRequest (requestHeaders, found) {
  const range = found.fields.metadata.range
  if (found.fields.status !== 206 || typeof range !== 'string' || requestHeaders.range !== range) return false
  const ifRange = requestHeaders['if-range']
  return ifRange === undefined || ifRangeHolds(String(ifRange), found.fields.headers)
}

/**
 * Serves `covered` (from coveredRange) of the part `found` with `headers` (the stored ones as
 * the policy serves them): a 206 whose bytes are read (and their blocks verified) from the
 * part's body at the offset the part starts at. `serveBody` is serve-cached's streaming.
 */
function servePart (ctx, downstream, found, headers, covered, serveBody, unavailable) {
  const { start, end, part } = covered
  const length = end - start + 1
  const out = servedHeaders({
    ...headers,
    'content-range': `bytes ${start}-${end}/${part.length}`,
    'content-length': String(length),
  }, { size: length, hasBody: true, status: ctx.statusHeaders ? HIT : null })
  const body = openRange(ctx.engine, found, { start: start - part.first, end: end - part.first })
  if (body === null) {
    unavailable()
    return
  }
  serveBody(ctx, downstream, found, 206, out, body, length, unavailable)
}

/**
 * The stored part `found` as combine-parts.js needs it, or undefined when it cannot combine
 * (no strong ETag, no usable Content-Range).
 * @returns {import('./combine-parts').StoredPart | undefined}
 */
function storedPart (found) {
  const part = found.fields.status === 206 ? contentRangeOf(found.fields.headers) : null
  const etag = strongEtag(found.fields.headers)
  if (part === null || etag === undefined || found.fields.integrity === undefined) return undefined
  return {
    key: found.key,
    integrity: found.fields.integrity,
    etag,
    first: part.first,
    held: Math.min(part.last, part.first + found.fields.size - 1),
    length: part.length,
  }
}

module.exports = { partialKey, contentRangeOf, coveredRange, sameRangeRequest, servePart, storedPart }
