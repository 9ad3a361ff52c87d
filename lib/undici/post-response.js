'use strict'
// A POST response that states it is the representation of its own target URL (Content-Location
// equal to the POST's URL) and carries explicit freshness is stored as the response to a GET
// of that URL (RFC 9110 9.3.3, RFC 9111 4.4 paragraph 3), replacing what was stored there.
// Every other POST response goes through InvalidateHandler as before. Either way the
// invalidation of the URL and its Location/Content-Location targets (RFC 9111 4.4) runs, and
// the new entry is committed only after it, so it cannot be removed by it.
const { CachePolicy } = require('../cache-policy')
const { withoutHopByHop } = require('../engine/headers')
const { TeeHandler } = require('./tee-handler')
const { InvalidateHandler, invalidate } = require('./invalidate')
const { ChoosingHandler } = require('./choosing-handler')

/** Final statuses whose payload is a complete representation of the target (RFC 9110 9.3.3). */
const REPRESENTATION = new Set([200, 203])

/** Whether the POST's response may be stored as the GET response for `asGet`. */
function reusableForGet (ctx, asGet, statusCode, headers) {
  if (!REPRESENTATION.has(statusCode)) return false
  const location = headers['content-location']
  if (typeof location !== 'string') return false
  try {
    if (new URL(location, asGet.url).href !== new URL(asGet.url).href) return false
    const policy = new CachePolicy(asGet.req, { status: statusCode, headers: withoutHopByHop(headers) }, { shared: ctx.shared, heuristic: ctx.heuristic })
    return policy.isStorable() && policy.hasExplicitFreshness()
  } catch {
    return false
  }
}

class PostResponseHandler extends ChoosingHandler {
  #ctx
  #r
  #asGet
  #invalidated = null

  /**
   * @param r      the POST: `{ opts, method, url }`
   * @param asGet  the CacheRequest of a GET of the same URL, with the POST's headers
   */
  constructor (ctx, r, asGet, downstream) {
    super(downstream)
    this.#ctx = ctx
    this.#r = r
    this.#asGet = asGet
  }

  /** A TeeHandler storing it as the GET response, or an InvalidateHandler. */
  choose (statusCode, headers) {
    if (reusableForGet(this.#ctx, this.#asGet, statusCode, headers)) {
      this.#invalidated = invalidate(this.#ctx, this.#r, headers)
      return new TeeHandler(this.#ctx, this.#asGet, this.downstream, { store: true, lookup: 'MISS' })
    }
    return new InvalidateHandler(this.#ctx, this.#r, this.downstream)
  }

  endChosen (chosen, controller, trailers) {
    // Committed after the invalidation, which would otherwise remove it.
    if (this.#invalidated !== null) this.#invalidated.then(() => chosen.onResponseEnd(controller, trailers))
    else chosen.onResponseEnd(controller, trailers)
  }
}

module.exports = { PostResponseHandler }
