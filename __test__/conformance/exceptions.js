'use strict'
// Why our cache fails the tests of the HTTP caching test suite it fails, on purpose or because
// no cache can pass them through undici's fetch. The README's conformance section says the
// same in prose. A reason given as { shared: '...' } (or { private: '...' }) holds in that
// mode only.
//
// EXCEPTIONS: required tests. Any other required test failing is reported by run.js.
// DIFFERENCES: optional ("optimal") tests and informational checks we answer "no" to. run.js
// names any failing one that has no reason here (it does not fail the run: these are choices).
const EXCEPTIONS = {
  // A shared cache never writes Set-Cookie to disk nor replays it to another client (issue 10
  // item 14: one user's cookie must not reach another); the test expects it replayed.
  'headers-store-Set-Cookie': { shared: 'a shared cache never stores nor replays Set-Cookie (one user\'s cookie is not another\'s)' },
  '304-etag-update-response-Set-Cookie': { shared: 'a shared cache never stores nor replays Set-Cookie; the 304\'s own Set-Cookie does reach the caller that triggered it' },
  // Browser-only tests (they test a private cache) that the runner runs in both modes: in a
  // shared cache `s-maxage` overrides `max-age` (RFC 9111 5.2.2.10), so `s-maxage=3600,
  // max-age=1` is fresh for an hour and is rightly served from the cache. undici +
  // MemoryCacheStore, shared, does the same.
  'freshness-max-age-s-maxage-private': { shared: 'browser-only test: a shared cache must prefer s-maxage over max-age (RFC 9111 5.2.2.10)' },
  'freshness-max-age-s-maxage-private-multiple': { shared: 'browser-only test: a shared cache must prefer s-maxage over max-age (RFC 9111 5.2.2.10)' },
  // The entry must not be served stale (must-revalidate, no-cache, proxy-revalidate,
  // s-maxage) and the origin closes the connection on revalidation: the right answer is the
  // error, and undici's fetch rejects ("fetch failed"), which the suite counts as a failure.
  // undici + MemoryCacheStore fails them too (undici's own CI excludes them). In a private
  // cache proxy-revalidate and s-maxage do not apply (RFC 9111 5.2.2.8, 5.2.2.10): the
  // disconnected cache serves the stale entry (4.2.4), which the test does not expect.
  'stale-close-must-revalidate': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-no-cache': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-proxy-revalidate': {
    shared: 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
    private: 'proxy-revalidate binds shared caches only (RFC 9111 5.2.2.8): a disconnected private cache may serve stale (4.2.4)',
  },
  'stale-close-s-maxage=2': {
    shared: 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
    private: 's-maxage binds shared caches only (RFC 9111 5.2.2.10): a disconnected private cache may serve stale (4.2.4)',
  },
}

const INVALID_EXPIRES = 'an Expires that is not a valid HTTP-date means already expired (RFC 9111 5.3: MUST; RFC 9110 5.6.7: HTTP-date is case-sensitive, day name followed by a comma, GMT)'
const INVALID_MAX_AGE = 'a max-age that is not delta-seconds means stale (RFC 9111 4.2.1); only a decimal counts its whole seconds'
const TWO_MAX_AGES = 'of two max-age directives the first is used (RFC 9111 4.2.1), and max-age=1 is stale'

const DIFFERENCES = {
  'freshness-expires-32bit': INVALID_EXPIRES + ' (no comma after the day name)',
  'freshness-expires-far-future': INVALID_EXPIRES + ' (no comma after the day name)',
  'freshness-expires-invalid-1-digit-hour': INVALID_EXPIRES,
  'freshness-expires-invalid-2-digit-year': INVALID_EXPIRES,
  'freshness-expires-invalid-aest': INVALID_EXPIRES,
  'freshness-expires-invalid-date-dashes': INVALID_EXPIRES,
  'freshness-expires-invalid-multiple-lines': 'two Expires lines: RFC 9111 4.2.1 lets a cache treat the response as stale',
  'freshness-expires-invalid-multiple-spaces': INVALID_EXPIRES,
  'freshness-expires-invalid-no-comma': INVALID_EXPIRES,
  'freshness-expires-invalid-time-periods': INVALID_EXPIRES,
  'freshness-expires-invalid-utc': INVALID_EXPIRES,
  'freshness-expires-wrong-case-month': INVALID_EXPIRES,
  'freshness-expires-wrong-case-tz': INVALID_EXPIRES,
  'freshness-expires-wrong-case-weekday': INVALID_EXPIRES,
  'freshness-max-age-100a': INVALID_MAX_AGE,
  'freshness-max-age-a100': INVALID_MAX_AGE,
  'freshness-max-age-two-stale-fresh-sameline': TWO_MAX_AGES,
  'freshness-max-age-two-stale-fresh-sepline': TWO_MAX_AGES,
  'pragma-request-no-cache': 'request Pragma: no-cache without Cache-Control is no-cache (RFC 9111 5.4: MUST)',
  'pragma-response-no-cache-heuristic': 'response Pragma: no-cache without Cache-Control is honoured: its meaning was never specified, this is the safe reading',
  'stale-503': 'a 503 is not answered with a stale entry without stale-if-error (RFC 9111 4.2.4: stale only when disconnected or allowed)',
  'stale-warning-become': 'no Warning header: obsoleted by RFC 9111',
  'stale-warning-stored': 'no Warning header: obsoleted by RFC 9111',
  'conditional-etag-forward-unquoted': 'the caller\'s If-None-Match is forwarded as it was sent, not "fixed"',
  'conditional-etag-strong-generate-unquoted': 'an unquoted ETag is sent back as it was received; the suite\'s origin compares it byte for byte, so a quoted one would not validate either',
  'cc-resp-private-private': { shared: 'browser-only test: a shared cache must not store a private response (RFC 9111 5.2.2.7)' },
  'partial-store-partial-reuse-partial-absent': 'the part\'s body (5 bytes) is shorter than its Content-Range (4-9); only ranges it holds are served from it (RFC 9111 3.3)',
  'partial-store-partial-reuse-partial-suffix': 'the part\'s body (5 bytes) is shorter than its Content-Range (4-9); only ranges it holds are served from it (RFC 9111 3.3)',
  'partial-store-partial-complete': 'a part is completed (Range + If-Range) only under a strong ETag both parts share (RFC 9111 3.4); the test\'s part has none',
}

/** The reason `table` gives for `id` in a run of `type`, or undefined. */
function reasonFor (table, id, type) {
  const reason = table[id]
  if (reason === undefined) return undefined
  return typeof reason === 'string' ? reason : reason[type]
}

/** Whether a failing required test `id` is excused for a run of `type` ('shared' or 'private'). */
function excused (id, type) {
  return reasonFor(EXCEPTIONS, id, type) !== undefined
}

/** Whether a failing optional test or check `id` has a documented reason for `type`. */
function documented (id, type) {
  return reasonFor(DIFFERENCES, id, type) !== undefined
}

module.exports = { EXCEPTIONS, DIFFERENCES, reasonFor, excused, documented }
