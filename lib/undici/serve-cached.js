'use strict'
// Hits: replays a stored entry to the caller's handler (through the engine's replay loop).
//
// Integrity: the cache checks a body's hash when its last chunk is read. Bodies up to
// `verifyBeforeServing` bytes (64 KiB, one chunk, by default) are therefore read whole, into
// one buffer, before the response starts: a corrupt or unreadable one is dropped and the
// request goes to the origin instead, invisibly to the caller. Larger bodies are streamed as
// they are read, with one read ahead of the caller; if one turns out to be corrupt at its
// end, the response fails with the `ERR_CACHE_INTEGRITY` error (the caller sees a body error,
// as with a dropped connection, never a silently wrong body) and the entry is dropped, so the
// next request goes to the origin.
//
// Bodies the cache reads whole (up to 1 MiB, the RAM tier's entry limit) take one read into one
// buffer, then go out as views of it; a body the RAM tier holds (verified when it was admitted)
// goes out at once, without a read or a stream.
const { replay, chunksSource, wholeSource, streamSource, bodySource, readWhole } = require('../engine/replay')
const { servedHeaders, withStatusHeaders } = require('../engine/headers')
const { planRange, partialHeaders, unsatisfiableHeaders, openRange } = require('../engine/range')

const HIT = ['HIT', 'HIT']

/**
 * Serves the entry `found` with `headers`. Its body is the one the lookup opened (taken from
 * `found`), else it is opened now. When it cannot be served before the response starts
 * (gone, replaced, unreadable, corrupt and small enough to be checked first), the entry is
 * dropped and `unavailable()` is called instead: the caller goes to the origin.
 * @param {import('./lookup').InterceptorFound} found
 */
function serveEntry (ctx, r, downstream, found, headers, unavailable) {
  const { engine } = ctx
  const status = found.fields.status
  const finalHeaders = servedHeaders(headers, {
    size: found.fields.size,
    hasBody: found.fields.metadata.method !== 'HEAD',
    status: ctx.statusHeaders ? HIT : null,
  })
  // A GET with Range (kept aside in `r.range` by the interceptor): a part of the stored
  // complete response, judged on the headers served now (they may just have been revalidated).
  const plan = r.range !== undefined && r.method === 'GET' && status === 200 && !found.viaGet
    ? planRange(r.range, headers, found.fields.size)
    : null
  if (plan !== null && plan.kind !== 'full') {
    servePart(ctx, downstream, found, finalHeaders, plan, unavailable)
    return
  }

  if (r.method === 'HEAD') {
    found.release()
    replay(downstream, status, finalHeaders, null)
    return
  }
  const opened = engine.openBody(found)
  if (opened === null) {
    unavailable()
    return
  }
  if (opened.whole !== null) {
    // From the RAM tier (verified when admitted): no read, no stream.
    replay(downstream, status, finalHeaders, wholeSource(opened.whole))
    return
  }
  serveBody(ctx, downstream, found, status, finalHeaders, opened.body, opened.size, unavailable)
}

/** A 206 of `plan`'s bytes (only the blocks they touch are read and verified), or a 416. */
function servePart (ctx, downstream, found, headers, plan, unavailable) {
  const size = found.fields.size
  if (plan.kind === 'unsatisfiable') {
    found.release()
    replay(downstream, 416, unsatisfiableHeaders(headers, size), null)
    return
  }
  const body = openRange(ctx.engine, found, plan)
  if (body === null) {
    unavailable()
    return
  }
  const length = plan.end - plan.start + 1
  serveBody(ctx, downstream, found, 206, partialHeaders(headers, plan, size), body, length, unavailable)
}

/**
 * Streams an opened body of `size` bytes. One of at most `verifyBeforeServing` bytes is read
 * (and verified) whole first, so a bad one goes to the origin unseen; a larger one fails the
 * response if it turns out corrupt, and the entry is dropped.
 */
function serveBody (ctx, downstream, found, status, headers, body, size, unavailable) {
  const { engine } = ctx
  if (size <= ctx.verifyBeforeServing) {
    readWhole(body).then(
      (chunks) => replay(downstream, status, headers, chunksSource(chunks)),
      () => {
        body.destroy()
        engine.drop(found.key)
        unavailable()
      })
    return
  }
  // A whole body up to 1 MiB is read in one trip (streamSource); a part streams as it is read.
  const source = status === 206 ? bodySource(body, size) : streamSource(body, size)
  replay(downstream, status, headers, source, () => engine.drop(found.key))
}

/** `only-if-cached` with nothing usable: 504, the origin is not contacted. */
function gatewayTimeout (ctx, downstream) {
  const headers = withStatusHeaders({ 'content-length': '0' }, ctx.statusHeaders, 'MISS', 'MISS')
  replay(downstream, 504, headers, null)
}

module.exports = { serveEntry, serveBody, gatewayTimeout }
