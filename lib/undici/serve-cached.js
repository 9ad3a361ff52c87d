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
const { replay, chunksSource, wholeSource, streamSource, rangeSource, readWhole } = require('../engine/replay')
const { servedHeaders, withStatusHeaders } = require('../engine/headers')

const HIT = ['HIT', 'HIT']

/**
 * Serves the entry `found` with `headers`. Its body is the one the lookup opened (taken from
 * `found`), else it is opened now. When it cannot be served before the response starts
 * (gone, replaced, unreadable, corrupt and small enough to be checked first), the entry is
 * dropped and `unavailable()` is called instead: the caller goes to the origin.
 * @param {import('./lookup').InterceptorFound} found
 */
function serveEntry (ctx, r, downstream, found, headers, unavailable, range = null) {
  const { engine } = ctx
  let status = found.fields.status
  let finalHeaders = servedHeaders(headers, {
    size: found.fields.size,
    hasBody: found.fields.metadata.method !== 'HEAD',
    status: ctx.statusHeaders ? HIT : null,
  })
  // A range of the stored (complete) body: 206 with its Content-Range.
  const within = range === null ? null : (source) => rangeSource(source, range.start, range.end)
  if (range !== null) {
    status = 206
    finalHeaders = {
      ...finalHeaders,
      'content-range': `bytes ${range.start}-${range.end}/${found.fields.size}`,
      'content-length': String(range.end - range.start + 1),
    }
  }
  const served = (source) => within === null ? source : within(source)

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
    replay(downstream, status, finalHeaders, served(wholeSource(opened.whole)))
    return
  }
  const { body, size } = opened
  if (size <= ctx.verifyBeforeServing) {
    readWhole(body).then(
      (chunks) => replay(downstream, status, finalHeaders, served(chunksSource(chunks))),
      () => {
        body.destroy()
        engine.drop(found.key)
        unavailable()
      })
    return
  }
  replay(downstream, status, finalHeaders, served(streamSource(body, size)), () => engine.drop(found.key))
}

/**
 * The single byte range a `Range` header asks of a body of `size` bytes, as
 * `{ start, end }` (inclusive), or null when it is not one satisfiable `bytes` range
 * (several ranges, other units, out of bounds: those go to the origin).
 */
function byteRange (header, size) {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(String(header))
  if (match === null || (match[1] === '' && match[2] === '') || size === 0) return null
  if (match[1] === '') {
    const suffix = Number(match[2])
    if (suffix === 0) return null
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(match[1])
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1)
  if (start >= size || end < start) return null
  return { start, end }
}

/** `only-if-cached` with nothing usable: 504, the origin is not contacted. */
function gatewayTimeout (ctx, downstream) {
  const headers = withStatusHeaders({ 'content-length': '0' }, ctx.statusHeaders, 'MISS', 'MISS')
  replay(downstream, 504, headers, null)
}

module.exports = { serveEntry, gatewayTimeout, byteRange }
