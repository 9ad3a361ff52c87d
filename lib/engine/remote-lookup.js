'use strict'
// The shared second tier behind the engine's lookup. The engine's own lookup is synchronous
// (RAM, then local disk); a miss there may ask Redis before the origin. Both fronts
// (cacheInterceptor, StreamingCacheStore) call this through `engine.lookupRemote`.
//
// Entries go up under their base key (every variant of it: the one stored last wins) and
// come down through the same selection as a local lookup (method, Vary, the front's judge);
// a hit lands in the local disk under its variant key. Cross-host coalescing: a miss takes a
// short-lived lock in Redis; whoever holds it fetches from the origin and uploads, the others
// wait a bounded time and read the upload, or go to the origin themselves.
const { storedFields } = require('./record')
const { variantKey, varyMatches } = require('./keys')

/**
 * A Found (see engine.js) for `baseKey` from the shared tier, its body streaming into the
 * local cache as it is read; or null.
 */
async function fillFound (engine, Found, baseKey, { method, headers, judge }) {
  let verdict = null
  const hit = await engine.remote.fill(baseKey, {
    accept: (fields) => {
      const stored = storedFields(fields)
      if (stored === null || stored.metadata.method !== method || !varyMatches(stored.metadata.vary, headers)) return false
      try {
        verdict = judge(stored)
      } catch {
        verdict = null
      }
      return verdict !== null && verdict !== undefined
    },
    localKey: (fields) => variantKey(baseKey, fields.metadata.vary),
  })
  if (hit === null) return null
  const { body, ...fields } = hit
  return new Found(hit.key, fields, verdict, body)
}

/**
 * After a local miss for `baseKey`: the entry from the shared tier, or null (then the caller
 * goes to the origin). With `coalesce`, a miss takes the cross-host fetch lock: if another
 * host holds it, this waits up to `maxWait` ms for that host's upload; if this host got it,
 * it keeps it until the write-through of what it stores (or `engine.releaseFetch`).
 */
async function lookupRemote (engine, Found, baseKey, query) {
  const found = await fillFound(engine, Found, baseKey, query)
  if (found !== null || !query.coalesce) return found
  const state = await engine.remote.lock(baseKey)
  if (state !== 'busy') return null
  if (!(await engine.remote.waitFor(baseKey, query.maxWait))) return null
  return fillFound(engine, Found, baseKey, query)
}

module.exports = { lookupRemote }
