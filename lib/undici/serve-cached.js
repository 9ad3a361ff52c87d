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
const { replay, chunksSource, bodySource, readWhole } = require('../engine/replay')
const { servedHeaders, withStatusHeaders } = require('../engine/headers')

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
  const { body, size } = opened
  if (size <= ctx.verifyBeforeServing) {
    readWhole(body).then(
      (chunks) => replay(downstream, status, finalHeaders, chunksSource(chunks)),
      () => {
        body.destroy()
        engine.drop(found.key)
        unavailable()
      })
    return
  }
  replay(downstream, status, finalHeaders, bodySource(body, size), () => engine.drop(found.key))
}

/** `only-if-cached` with nothing usable: 504, the origin is not contacted. */
function gatewayTimeout (ctx, downstream) {
  const headers = withStatusHeaders({ 'content-length': '0' }, ctx.statusHeaders, 'MISS', 'MISS')
  replay(downstream, 504, headers, null)
}

module.exports = { serveEntry, gatewayTimeout }
