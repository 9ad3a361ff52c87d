'use strict'
// Finding the stored response that answers a request: the base key and its variants are
// looked up and `policy.beforeRequest` says which one matches (URL, method, Vary).
// A HEAD request may be answered by its own stored HEAD response or by a stored GET.
//
// One lookup per request in the common case: a key without variants is opened at once
// (`getSync`), so the fields judged are those of the body that will be served. With variants,
// each is peeked (memory only) and the chosen one is opened when it is served.

function peekSafely (cache, key) {
  try {
    const fields = cache.peek(key)
    return fields !== null && fields.policy ? fields : null
  } catch {
    return null
  }
}

/** `{ key, fields, policy, result, req, viaGet: false }` if `fields` answer `req`, else null. */
function judge (key, fields, req, now) {
  // Requests with the same key are the same resource (a custom cacheKey may merge URLs):
  // the policy is asked about the URL the entry was stored for.
  const asked = fields.url ? { ...req, url: fields.url } : req
  let policy
  let result
  try {
    policy = fields.policy
    if (!policy) return null
    result = policy.beforeRequest(asked, now)
  } catch {
    return null
  }
  if (!result.matches) return null
  return { key, fields, policy, result, req: asked, viaGet: false, body: null }
}

/**
 * `key` opened: the match with its body open (`found.body`, the caller's to serve or
 * release), or null. Only keys the cache holds in memory are opened, as `peek` would see them.
 */
function openStored (cache, key, req, now) {
  let hit
  try {
    if (!cache.has(key)) return null
    hit = cache.getSync(key)
  } catch {
    return null
  }
  if (hit === null) return null
  const found = judge(key, hit, req, now)
  if (found === null) {
    hit.body.destroy()
    return null
  }
  found.body = hit.body
  return found
}

/**
 * The best matching entry under `baseKey` for `req`: fresh first, then the newest. With
 * `open`, a lone entry (no variants) comes with its body open.
 */
function findStored (cache, baseKey, req, now, open) {
  let keys
  try {
    keys = cache.keys(baseKey + '\n')
  } catch {
    keys = []
  }
  if (keys.length === 0 && open && typeof cache.has === 'function') return openStored(cache, baseKey, req, now)
  let best = null
  for (const key of [baseKey, ...keys]) {
    const fields = peekSafely(cache, key)
    if (fields === null) continue
    const found = judge(key, fields, req, now)
    if (found === null) continue
    const better = best === null ||
      (found.result.fresh && !best.result.fresh) ||
      (found.result.fresh === best.result.fresh && fields.storedAt > best.fields.storedAt)
    if (better) best = found
  }
  return best
}

/**
 * `{ key, fields, policy, result, req, viaGet, body }` for the entry answering `r`, or null.
 * `result` is `policy.beforeRequest(req)` (`req`: `r.req` with the entry's URL); `viaGet`
 * marks a GET entry answering a HEAD. `body` is the entry's body when the lookup opened it
 * (GET requests that may be served from the cache), else null: whoever gets `found` must
 * serve it (`serveEntry`) or close it (`releaseBody`).
 */
function findEntry (ctx, r, now) {
  const open = r.method === 'GET' && r.mode !== 'no-cache'
  const own = findStored(ctx.cache, r.baseKey, r.req, now, open)
  if (r.method !== 'HEAD' || own?.result.fresh) return own
  let getKey
  try {
    getKey = ctx.cacheKey({ ...r.opts, method: 'GET' })
  } catch {
    return own
  }
  const viaGet = findStored(ctx.cache, getKey, { ...r.req, method: 'GET' }, now, false)
  if (viaGet !== null && (viaGet.result.fresh || own === null)) return { ...viaGet, viaGet: true }
  return own
}

module.exports = { findEntry }
