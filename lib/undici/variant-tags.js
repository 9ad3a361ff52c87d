'use strict'
// A GET that no stored variant answers (its Vary values differ from every stored one) goes to
// the origin conditionally, with the entity tags of the stored variants in If-None-Match
// (RFC 9111 4.1: that request "ought to include all entity tags ... from stored responses for
// the target URI"). A 304 names, by its ETag, the stored response that answers this request
// as well (4.3.4): that one is freshened and served, no body crosses the network. Any other
// answer is an ordinary miss (streamed to the caller and stored as this request's variant).
// The validated response is not copied to this request's variant: the next such request asks
// again, conditionally, and costs a 304.
const { Found } = require('../engine/engine')
const { storedFields } = require('../engine/record')
const { withoutHopByHop } = require('../engine/headers')
const { judgeFor } = require('./lookup')
const { TeeHandler } = require('./tee-handler')
const { RevalidateHandler, opaqueTag } = require('./revalidate')
const { ChoosingHandler } = require('./choosing-handler')

/** Not this request's own variant: never served stale in its place. */
const NEVER_STALE = { onStatus: false, onConnectionError: false }

/**
 * The stored responses under `r`'s base key for `r`'s method, whatever their Vary values, each
 * judged as its own stored request would be (its body not opened).
 * @returns {import('./lookup').InterceptorFound[]}
 */
function storedVariants (ctx, r, now) {
  const judge = judgeFor(r.req, now)
  const out = []
  for (const key of [r.baseKey, ...ctx.engine.keysOf(r.baseKey)]) {
    let fields
    let verdict
    try {
      fields = storedFields(ctx.engine.cache.peek(key))
      if (fields === null || fields.metadata.method !== r.method) continue
      verdict = judge(fields)
    } catch {
      continue
    }
    if (verdict !== null && verdict !== undefined) out.push(new Found(key, fields, verdict, null))
  }
  return out
}

/** The stored GET responses for `r`'s URL that carry an entity tag, whatever their Vary. */
function taggedVariants (ctx, r, now) {
  if (r.method !== 'GET') return []
  return storedVariants(ctx, r, now).filter((found) => typeof found.fields.headers.etag === 'string')
}

/**
 * The newest of `variants` whose entity tag is the 304's (weak comparison), or null. A 304
 * without an ETag selects only when a single tag was sent: it can only be that one.
 */
function selectedBy (variants, etag) {
  const sent = new Set(variants.map((found) => opaqueTag(found.fields.headers.etag)))
  if (typeof etag !== 'string' && sent.size !== 1) return null
  const tag = typeof etag === 'string' ? opaqueTag(etag) : [...sent][0]
  let chosen = null
  for (const found of variants) {
    if (opaqueTag(found.fields.headers.etag) !== tag) continue
    if (chosen === null || found.fields.storedAt > chosen.fields.storedAt) chosen = found
  }
  return chosen
}

/**
 * The conditional request's handler: until the origin answers it holds the caller; then a
 * 304 selecting a stored variant goes to a RevalidateHandler for that variant, a 304 selecting
 * none is asked again unconditionally (`miss`), and anything else to a TeeHandler.
 */
class VariantTagsHandler extends ChoosingHandler {
  #ctx
  #r
  #variants
  #dispatch
  #miss

  constructor (ctx, r, downstream, variants, dispatch, miss) {
    super(downstream)
    this.#ctx = ctx
    this.#r = r
    this.#variants = variants
    this.#dispatch = dispatch
    this.#miss = miss
  }

  choose (statusCode, headers) {
    if (statusCode !== 304) return new TeeHandler(this.#ctx, this.#r, this.downstream, { store: true, lookup: 'MISS' })
    const chosen = selectedBy(this.#variants, headers.etag)
    if (chosen === null) {
      this.downstream.detach()
      this.#miss()
      return null
    }
    return new RevalidateHandler(this.#ctx, this.#r, this.downstream, chosen, this.#dispatch, NEVER_STALE)
  }
}

/**
 * Sends `r` to the origin with If-None-Match listing the entity tags of `variants`.
 * @param {import('./lookup').InterceptorFound[]} variants  from taggedVariants, not empty
 */
function askWithVariantTags (ctx, dispatch, r, downstream, variants, miss) {
  const tags = [...new Set(variants.map((found) => found.fields.headers.etag.trim()))]
  const headers = { ...withoutHopByHop(r.headers), 'if-none-match': tags.join(', ') }
  const handler = new VariantTagsHandler(ctx, r, downstream, variants, dispatch, miss)
  try {
    return dispatch({ ...r.opts, headers }, handler)
  } catch (err) {
    downstream.error(err)
    return true
  }
}

module.exports = { storedVariants, taggedVariants, askWithVariantTags }
