'use strict'
// Unsafe methods (RFC 9111 4.4): a 2xx or 3xx answer to POST, PUT, PATCH, DELETE... removes
// what is stored for the target URL, and for the Location and Content-Location URLs when they
// are on the same origin (GET and HEAD entries, with all their variants, and stored parts). The caller's
// `onResponseEnd` waits for the removal, so a request made afterwards cannot see the old entry.
const { upstreamSource } = require('../engine/downstream')
const { partialKey } = require('./partial')

/** The request's own dispatch options, then those for its same-origin Location targets. */
function targets (r, headers) {
  const out = [r.opts]
  const base = new URL(r.url)
  const seen = new Set([base.href])
  for (const name of ['location', 'content-location']) {
    for (const value of [].concat(headers[name] ?? [])) {
      let target
      try {
        target = new URL(String(value), base)
      } catch {
        continue
      }
      if (target.origin !== base.origin || seen.has(target.href)) continue
      seen.add(target.href)
      out.push({ ...r.opts, origin: target.origin, path: target.pathname + target.search, query: undefined })
    }
  }
  return out
}

function invalidate (ctx, r, headers) {
  const baseKeys = []
  for (const opts of targets(r, headers)) {
    for (const method of ['GET', 'HEAD']) {
      try {
        const baseKey = ctx.cacheKey({ ...opts, method })
        baseKeys.push(baseKey)
        if (method === 'GET') baseKeys.push(partialKey(baseKey)) // a stored part (partial.js)
      } catch {}
    }
  }
  return ctx.engine.invalidate(baseKeys)
}

class InvalidateHandler {
  #ctx
  #r
  #downstream
  #settled = false
  #pending = null

  constructor (ctx, r, downstream) {
    this.#ctx = ctx
    this.#r = r
    this.#downstream = downstream
  }

  onRequestStart (controller, context) {
    this.#settled = false
    this.#downstream.attach(upstreamSource(controller, () => this.#settled, this.#downstream), context)
  }

  onRequestUpgrade (controller, statusCode, headers, socket) {
    this.#downstream.upgrade(statusCode, headers, socket)
  }

  onResponseStart (controller, statusCode, headers, statusMessage) {
    if (statusCode >= 200 && statusCode < 400) this.#pending = invalidate(this.#ctx, this.#r, headers)
    return this.#downstream.responseStart(statusCode, headers, statusMessage)
  }

  onResponseData (controller, chunk) {
    return this.#downstream.data(chunk)
  }

  onResponseEnd (controller, trailers) {
    this.#settled = true
    if (this.#pending === null) return this.#downstream.end(trailers)
    this.#pending.then(() => this.#downstream.end(trailers))
  }

  onResponseError (controller, err) {
    this.#settled = true
    this.#downstream.error(err)
  }
}

module.exports = { InvalidateHandler, invalidate }
