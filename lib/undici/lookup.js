'use strict'
// Finding the stored response that answers a request: the engine selects the entries of the
// base key whose stored request matches (method, Vary) and `policy.beforeRequest` judges them
// (fresh or not, the headers to serve or revalidate with). A fresh one is preferred, then the
// newest. A HEAD request may be answered by its own stored HEAD response or by a stored GET.
const { kFreshJudge } = require('../fresh-judge')

/**
 * What `policy.beforeRequest` said about an entry, with the policy and the request asked.
 * @typedef {object} Judgement
 * @property {import('../cache-policy').CachePolicy} policy
 * @property {{ fresh: boolean, matches?: boolean, headers: object }} result
 * @property {{ method: string, url: string, headers: object }} req  the request, with the entry's URL
 */

/**
 * An entry the interceptor found (an engine Found whose verdict is a Judgement). `viaGet`
 * marks a stored GET answering a HEAD. Its body, when the lookup opened it, is closed by
 * `release()` unless someone took it (`serveEntry`): `handle` releases in a `finally`.
 * @typedef {import('../engine/engine').Found<Judgement> & { viaGet?: boolean }} InterceptorFound
 */

/**
 * `headers` with the values the stored request had for the headers the response varies on:
 * the engine already found them equivalent (lib/engine/keys.js varyValue), and the policy
 * compares them byte for byte.
 */
function withStoredVary (headers, vary) {
  if (vary == null) return headers
  const out = { ...headers }
  for (const name of Object.keys(vary)) {
    if (vary[name] === null) delete out[name]
    else out[name] = vary[name]
  }
  return out
}

/** A judge for `req` at `now`: the Judgement of stored fields, or null if they do not match. */
function judgeFor (req, now) {
  return (fields) => {
    const policy = fields.policy
    if (!policy) return null
    // Requests with the same key are the same resource (a custom cacheKey may merge URLs):
    // the policy is asked about the URL the entry was stored for.
    const asked = { ...req, url: fields.url || req.url, headers: withStoredVary(req.headers, fields.metadata.vary) }
    // A RAM-tier entry answers a common request in JS, exactly as the policy would.
    const result = fields[kFreshJudge]?.judge(asked, now) ?? policy.beforeRequest(asked, now)
    if (!result.matches) return null
    return { policy, result, req: asked }
  }
}

/** A fresh entry first, then the newest. */
function better (a, b) {
  if (a.verdict.result.fresh !== b.verdict.result.fresh) return a.verdict.result.fresh
  return a.fields.storedAt > b.fields.storedAt
}

/**
 * The entry answering `r`, or null. GET requests that may be served from the cache come with
 * the body open.
 * @returns {InterceptorFound | null}
 */
function findEntry (ctx, r, now) {
  const { engine } = ctx
  const open = r.method === 'GET' && r.mode !== 'no-cache'
  const own = engine.lookup(r.baseKey, { method: r.method, headers: r.headers, judge: judgeFor(r.req, now), better, open })
  if (r.method !== 'HEAD' || own?.verdict.result.fresh) return own
  let getKey
  try {
    getKey = ctx.cacheKey({ ...r.opts, method: 'GET' })
  } catch {
    return own
  }
  const viaGet = engine.lookup(getKey, {
    method: 'GET', headers: r.headers, judge: judgeFor({ ...r.req, method: 'GET' }, now), better,
  })
  if (viaGet !== null && (viaGet.verdict.result.fresh || own === null)) {
    own?.release()
    viaGet.viaGet = true
    return viaGet
  }
  return own
}

module.exports = { findEntry, judgeFor }
