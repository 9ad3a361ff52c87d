'use strict'
// Completing a stored part (RFC 9111 3.4, RFC 9110 13.1.5): a GET without Range that finds no
// complete response, but a stored part holding the first bytes of the resource under a strong
// ETag, asks the origin only for the rest: `Range: bytes=N-` with `If-Range: <ETag>`.
//   206 of exactly the rest (same strong ETag, same complete length): the caller gets the
//       complete 200 (the stored bytes, then the origin's, as they arrive), and the union is
//       stored as the complete response (tee-handler.js + combine-parts.js; the part goes).
//   200 (the representation changed, or the origin ignores Range): an ordinary miss.
//   416, or a 206 of some other range: dropped, and the request is sent again as it was.
// Without a strong ETag nothing is asked this way: a 206 could not be told to belong to the
// same representation (3.4), and a second request would be needed.
const { ChoosingHandler } = require('./choosing-handler')
const { TeeHandler } = require('./tee-handler')
const { partialKey, contentRangeOf, storedPart } = require('./partial')
const { planCombine } = require('./combine-parts')
const { findEntry } = require('./lookup')
const { replay, streamSource } = require('../engine/replay')
const { withoutHopByHop } = require('../engine/headers')

// Bytes of the origin's answer held while the stored bytes before them go to the caller;
// past this the origin is paused until the caller catches up.
const QUEUE_LIMIT = 1024 * 1024
const COMPLETING_MODES = new Set(['default', 'force-cache', 'no-cache'])

/**
 * The stored part a GET without Range `r` may be completed from: one holding bytes 0..N of
 * the resource (N before its end) under a strong ETag. Null when there is none.
 * @returns {import('./combine-parts').StoredPart | null}
 */
function partToComplete (ctx, r, now) {
  if (r.method !== 'GET' || r.onlyIfCached || !COMPLETING_MODES.has(r.mode)) return null
  const found = findEntry(ctx, { ...r, baseKey: partialKey(r.baseKey) }, now)
  if (found === null) return null
  try {
    const part = storedPart(found)
    return part !== undefined && part.first === 0 && part.held < part.length - 1 ? part : null
  } finally {
    found.release()
  }
}

/** Sends `r` to the origin for the bytes the stored part `part` lacks (see the top). */
function completePart (ctx, dispatch, r, downstream, part, miss) {
  const headers = { ...withoutHopByHop(r.headers), range: `bytes=${part.held + 1}-`, 'if-range': part.etag }
  try {
    return dispatch({ ...r.opts, headers }, new CompletionHandler(ctx, r, downstream, part, miss))
  } catch (err) {
    downstream.error(err)
    return true
  }
}

class CompletionHandler extends ChoosingHandler {
  #ctx
  #r
  #part
  #miss

  constructor (ctx, r, downstream, part, miss) {
    super(downstream)
    this.#ctx = ctx
    this.#r = r
    this.#part = part
    this.#miss = miss
  }

  choose (statusCode, headers, controller) {
    const ctx = this.#ctx
    const r = this.#r
    if (statusCode !== 206 && statusCode !== 416) return new TeeHandler(ctx, r, this.downstream, { store: true, lookup: 'HIT' })
    const plan = statusCode === 206 ? planCombine(this.#part, contentRangeOf(headers), headers) : null
    const prefix = plan?.complete ? openPart(ctx.engine.cache, this.#part) : null
    if (prefix === null) {
      // Not the rest of the same representation, or the stored part is gone: this answer is
      // dropped (once the handler knows it is) and the request goes again, as it was.
      queueMicrotask(() => controller.abort(new Error('not the rest of the stored part')))
      this.downstream.detach()
      this.#miss()
      return null
    }
    const completing = new CompletingDownstream(this.downstream, prefix, this.#part.length)
    return new TeeHandler(ctx, { ...r, baseKey: partialKey(r.baseKey) }, completing,
      { store: true, partial: true, previous: this.#part, fullBaseKey: r.baseKey, lookup: 'HIT' })
  }
}

/** A BodySource over the stored part's bytes, as stored (same integrity), or null. */
function openPart (cache, part) {
  let hit
  try {
    hit = cache.getSync(part.key)
  } catch {
    return null
  }
  if (hit === null) return null
  if (hit.integrity !== part.integrity || hit.size !== part.held + 1) {
    hit.body.destroy()
    return null
  }
  return streamSource(hit.body, hit.size)
}

/**
 * What the TeeHandler storing the completed response answers to: it turns the origin's 206 of
 * the rest into the caller's 200 of everything, the stored part's bytes first. The caller's
 * pause and abort drive the replay of the whole; the origin's chunks wait in a queue (the
 * origin paused beyond QUEUE_LIMIT) until the stored bytes before them went out.
 */
class CompletingDownstream {
  #real
  #prefix
  #length
  #upstream = null
  #queue = []
  #queued = 0
  #pausedUpstream = false
  #ended = false
  #failure = null
  #wake = null
  #replaying = false

  /**
   * @param real    the caller's Downstream
   * @param prefix  a BodySource over the stored part (bytes 0..N)
   * @param length  the complete length
   */
  constructor (real, prefix, length) {
    this.#real = real
    this.#prefix = prefix
    this.#length = length
  }

  get aborted () { return this.#real.aborted }
  get reason () { return this.#real.reason }
  get finished () { return this.#real.finished }

  attach (source, context) {
    this.#upstream = source
    this.#real.attach(source, context)
  }

  detach () {
    this.#real.detach()
  }

  upgrade (statusCode, headers, socket) {
    this.#real.upgrade(statusCode, headers, socket)
  }

  responseStart (statusCode, headers) {
    const out = { ...headers, 'content-length': String(this.#length) }
    delete out['content-range']
    this.#replaying = true
    replay(this.#real, 200, out, this.#source(this.#prefix))
  }

  data (chunk) {
    if (this.#ended || this.#failure !== null) return false
    this.#queue.push(chunk)
    this.#queued += chunk.length
    if (this.#queued > QUEUE_LIMIT && !this.#pausedUpstream) {
      this.#pausedUpstream = true
      this.#upstream?.pause()
    }
    this.#wakeUp()
    return !this.#pausedUpstream
  }

  end () {
    this.#ended = true
    this.#wakeUp()
  }

  error (err) {
    if (!this.#replaying) {
      this.#real.error(err)
      return
    }
    this.#failure ??= err
    this.#wakeUp()
  }

  #wakeUp () {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  /** A BodySource: the stored bytes, then the origin's as they arrive. */
  #source (prefix) {
    let prefixDone = false
    const next = () => {
      if (this.#queue.length > 0) {
        const chunk = this.#queue.shift()
        this.#queued -= chunk.length
        if (this.#pausedUpstream && this.#queued <= QUEUE_LIMIT / 2) {
          this.#pausedUpstream = false
          this.#upstream?.resume()
        }
        return chunk
      }
      if (this.#failure !== null) throw this.#failure
      if (this.#ended) return null
      return new Promise((resolve) => { this.#wake = resolve }).then(next)
    }
    return {
      read: () => {
        if (prefixDone) return next()
        const chunk = prefix.read()
        const after = (value) => {
          if (value !== null) return value
          prefixDone = true
          return next()
        }
        return chunk !== null && typeof chunk.then === 'function' ? chunk.then(after) : after(chunk)
      },
      close: () => {
        prefix.close()
        this.#queue.length = 0
        // The caller went away (or the response failed) before the origin's end.
        if (!this.#ended && this.#failure === null) {
          this.#failure = new Error('the caller went away')
          this.#upstream?.abort(this.#failure)
        }
      },
    }
  }
}

module.exports = { partToComplete, completePart }
