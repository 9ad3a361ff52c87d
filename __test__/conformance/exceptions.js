'use strict'
// Required tests of the HTTP caching test suite that we do not pass, on purpose or because no
// cache can pass them through undici's fetch. Each names its reason; the README's undici
// section lists them. Any other required test failing is reported by run.js.
const EXCEPTIONS = {
  // The entry must not be served stale (must-revalidate, no-cache, proxy-revalidate,
  // s-maxage) and the origin closes the connection on revalidation: the right answer is the
  // error, and undici's fetch rejects ("fetch failed"), which the suite counts as a failure.
  // undici + MemoryCacheStore fails them too (undici's own CI excludes them).
  'stale-close-must-revalidate': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-no-cache': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-proxy-revalidate': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
  'stale-close-s-maxage=2': 'the origin disconnects: undici\'s fetch rejects, whatever the cache',
}

module.exports = { EXCEPTIONS }
