'use strict'
// The `heuristic` option (cacheInterceptor, StreamingCacheStore, CachePolicy): how long a
// response without explicit freshness but with a `Last-Modified` stays fresh (RFC 9111
// 4.2.2, a MAY). `fraction` of the time since it was last modified, at least `min` and at
// most `max` ms; `false` gives such responses no freshness (each use is revalidated). The
// defaults and why are in core/src/policy/heuristic.rs: 10%, at least 10 s, at most a day.
const { invalidArgType, outOfRange } = require('./errors')

const DEFAULT_HEURISTIC = Object.freeze({ fraction: 0.1, min: 10_000, max: 86_400_000 })
const NO_HEURISTIC = Object.freeze({ fraction: 0, min: 0, max: 0 })

function bound (value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!(value >= 0) || !Number.isFinite(value)) throw outOfRange(name, 'a finite number >= 0', value)
  return value
}

/**
 * `{ fraction, min, max }` from the option's value (undefined: the defaults). Throws
 * TypeError / RangeError (named after `name`) on anything else.
 */
function heuristicOption (value, name = 'options.heuristic') {
  if (value === undefined) return DEFAULT_HEURISTIC
  if (value === false) return NO_HEURISTIC
  if (value === null || typeof value !== 'object') throw invalidArgType(name, 'an object or false', value)
  const fraction = bound(value.fraction, `${name}.fraction`, DEFAULT_HEURISTIC.fraction)
  const min = bound(value.min, `${name}.min`, DEFAULT_HEURISTIC.min)
  const max = bound(value.max, `${name}.max`, Math.max(min, DEFAULT_HEURISTIC.max))
  if (min > max) throw outOfRange(`${name}.min`, `at most ${name}.max (${max})`, min)
  return Object.freeze({ fraction, min, max })
}

module.exports = { heuristicOption, DEFAULT_HEURISTIC }
