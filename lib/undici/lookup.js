'use strict'
// Finding the stored response that answers a request: the base key and its variants are
// peeked (memory only) and `policy.beforeRequest` says which one matches (URL, method, Vary).
// A HEAD request may be answered by its own stored HEAD response or by a stored GET.

function peekSafely (cache, key) {
  try {
    const fields = cache.peek(key)
    return fields !== null && fields.policy ? fields : null
  } catch {
    return null
  }
}

/** The best matching entry under `baseKey` for `req`: fresh first, then the newest. */
function findStored (cache, baseKey, req, now) {
  let keys
  try {
    keys = cache.keys(baseKey + '\n')
  } catch {
    keys = []
  }
  let best = null
  for (const key of [baseKey, ...keys]) {
    const fields = peekSafely(cache, key)
    if (fields === null) continue
    // Requests with the same key are the same resource (a custom cacheKey may merge URLs):
    // the policy is asked about the URL the entry was stored for.
    const asked = fields.url ? { ...req, url: fields.url } : req
    let policy
    let result
    try {
      policy = fields.policy
      result = policy.beforeRequest(asked, now)
    } catch {
      continue
    }
    if (!result.matches) continue
    const better = best === null ||
      (result.fresh && !best.result.fresh) ||
      (result.fresh === best.result.fresh && fields.storedAt > best.fields.storedAt)
    if (better) best = { key, fields, policy, result, req: asked, viaGet: false }
  }
  return best
}

/**
 * `{ key, fields, policy, result, req, viaGet }` for the entry answering `r`, or null.
 * `result` is `policy.beforeRequest(req)` (`req`: `r.req` with the entry's URL); `viaGet`
 * marks a GET entry answering a HEAD.
 */
function findEntry (ctx, r, now) {
  const own = findStored(ctx.cache, r.baseKey, r.req, now)
  if (r.method !== 'HEAD' || own?.result.fresh) return own
  let getKey
  try {
    getKey = ctx.cacheKey({ ...r.opts, method: 'GET' })
  } catch {
    return own
  }
  const viaGet = findStored(ctx.cache, getKey, { ...r.req, method: 'GET' }, now)
  if (viaGet !== null && (viaGet.result.fresh || own === null)) return { ...viaGet, viaGet: true }
  return own
}

module.exports = { findEntry }
