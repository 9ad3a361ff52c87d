'use strict'
// `cache.get(key, { range: [start, end] })`: the option's checks, and the part of a body a
// range covers. The bytes are read by the core, which reads and verifies only the 64 KiB
// blocks the range touches (core/src/content/range_reader.rs).
//
// Bounds, as HTTP has them (RFC 9110 14.1.2): `end` is inclusive; an `end` past the last byte
// means up to the last byte; a `start` past it (or any range of an empty body) covers nothing:
// the hit then has `range: null` and an empty body, and `hit.size` tells the whole size (what
// a 416's `Content-Range: bytes */size` needs).
const { CacheBodyReadable } = require('./body-readable')
const { invalidArgType, outOfRange } = require('./errors')
const { validateOptionalObject } = require('./validate')

/** `[start, end]` from `options.range`, or null without one. TypeError/RangeError on bad input. */
function rangeOption (options) {
  validateOptionalObject(options, 'options')
  const range = options?.range
  if (range === undefined) return null
  if (!Array.isArray(range) || range.length !== 2) {
    throw invalidArgType('options.range', 'an array of two integers [start, end]', range)
  }
  const [start, end] = range
  for (const [value, name] of [[start, 'options.range[0]'], [end, 'options.range[1]']]) {
    if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'an integer >= 0', value)
  }
  if (end < start) throw outOfRange('options.range[1]', `an integer >= options.range[0] (${start})`, end)
  return [start, end]
}

/** The bytes `[start, end]` covers of a body of `size` bytes: `{ start, end }`, or null for none. */
function rangeWithin ([start, end], size) {
  if (start >= size) return null
  return { start, end: Math.min(end, size - 1) }
}

/** The length of a covered range (0 for none). */
function rangeLength (span) {
  return span === null ? 0 : span.end - span.start + 1
}

/** A stream over the part of a whole body in memory (a RAM-tier hit) that `span` covers. */
function rangeOfBuffer (buffer, span) {
  const part = span === null ? buffer.subarray(0, 0) : buffer.subarray(span.start, span.end + 1)
  return new CacheBodyReadable(null, part.length, part)
}

/** A stream over an opened native range body (never read on the JS thread: see body-readable). */
function rangeOfNative (native, span) {
  return new CacheBodyReadable(native, rangeLength(span), null, null, 0)
}

module.exports = { rangeOption, rangeWithin, rangeOfBuffer, rangeOfNative }
