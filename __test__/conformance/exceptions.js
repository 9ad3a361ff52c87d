'use strict'
// Required tests of the HTTP caching test suite that we do not pass, on purpose or because no
// cache can pass them through undici's fetch. Each names its reason; the README's undici
// section lists them. Any other required test failing is reported by run.js. A reason given
// as { shared: '...' } excuses the test in shared mode only.
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
  // undici + MemoryCacheStore fails them too (undici's own CI excludes them).
  'stale-close-must-revalidate': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-no-cache': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-proxy-revalidate': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-s-maxage=2': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
}

/** Whether a failing required test `id` is excused for a run of `type` ('shared' or 'private'). */
function excused (id, type) {
  const reason = EXCEPTIONS[id]
  if (reason === undefined) return false
  return typeof reason === 'string' || reason[type] !== undefined
}

module.exports = { EXCEPTIONS, excused }
