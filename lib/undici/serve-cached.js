'use strict'
// Hits: replays a stored entry to the caller's handler.
//
// Integrity: the cache checks a body's hash when its last chunk is read. Bodies up to
// `verifyBeforeServing` bytes (1 MiB by default) are therefore read whole before the response
// starts: a corrupt or unreadable one is dropped and the request goes to the origin instead,
// invisibly to the caller. Larger bodies are streamed as they are read; if one turns out to be
// corrupt at its end, the response fails with the `ERR_CACHE_INTEGRITY` error (the caller sees
// a body error, as with a dropped connection, never a silently wrong body) and the entry is
// dropped, so the next request goes to the origin.
const { Readable } = require('node:stream')
const { servedHeaders, withStatusHeaders } = require('./headers')

/**
 * Plays `status`, `headers` and `body` (a Readable, or null for none) to `downstream`.
 * `body` errors become response errors; the caller's pause/resume/abort drive `body`.
 */
function replay (downstream, status, headers, body) {
  let ended = false
  const source = {
    pause: () => body?.pause(),
    resume: () => body?.resume(),
    abort: (reason) => {
      if (body && !ended && !body.destroyed) body.destroy(reason)
      else downstream.error(reason)
    },
  }
  if (body) {
    body.on('error', (err) => downstream.error(err))
    body.on('end', () => {
      ended = true
      downstream.end({})
    })
  }
  downstream.attach(source, null)
  if (downstream.aborted || downstream.finished) return
  try {
    downstream.responseStart(status, headers)
  } catch (err) {
    source.abort(err)
    return
  }
  if (downstream.aborted || downstream.finished) return
  if (!body) {
    downstream.end({})
    return
  }
  body.on('data', (chunk) => {
    try {
      downstream.data(chunk)
    } catch (err) {
      body.destroy(err)
    }
  })
}

function readWhole (body) {
  return new Promise((resolve, reject) => {
    const chunks = []
    body.on('data', (chunk) => chunks.push(chunk))
    body.once('error', reject)
    body.once('end', () => resolve(chunks))
  })
}

/** Removes a bad entry; failures are ignored (the cache already dropped corrupt ones). */
function dropEntry (cache, key) {
  try {
    Promise.resolve(cache.delete(key)).catch(() => {})
  } catch {}
}

/**
 * Serves the entry `found` ({ key, fields }) with `headers`. When its body cannot be served
 * before the response starts (gone, unreadable, corrupt and small enough to be checked first),
 * the entry is dropped and `unavailable()` is called instead: the caller goes to the origin.
 */
function serveEntry (ctx, r, downstream, found, headers, unavailable) {
  const { cache } = ctx
  const status = found.fields.status
  const withBody = r.method !== 'HEAD'
  const finalHeaders = withStatusHeaders(
    servedHeaders(headers, { size: found.fields.size, hasBody: found.fields.metadata?.method !== 'HEAD' }),
    ctx.statusHeaders, 'HIT', 'HIT')

  if (!withBody) {
    replay(downstream, status, finalHeaders, null)
    return
  }

  let hit = null
  try {
    hit = cache.getSync(found.key)
  } catch {
    hit = null
  }
  if (hit === null) {
    dropEntry(cache, found.key)
    unavailable()
    return
  }
  if (found.fields.integrity !== undefined && hit.integrity !== found.fields.integrity) {
    // Replaced since it was looked up: these headers do not describe this body.
    hit.body.destroy()
    unavailable()
    return
  }

  if (hit.size <= ctx.verifyBeforeServing) {
    readWhole(hit.body).then(
      (chunks) => replay(downstream, status, finalHeaders, Readable.from(chunks)),
      () => {
        dropEntry(cache, found.key)
        unavailable()
      })
    return
  }
  hit.body.once('error', () => dropEntry(cache, found.key))
  replay(downstream, status, finalHeaders, hit.body)
}

/** `only-if-cached` with nothing usable: 504, the origin is not contacted. */
function gatewayTimeout (ctx, downstream) {
  const headers = withStatusHeaders({ 'content-length': '0' }, ctx.statusHeaders, 'MISS', 'MISS')
  replay(downstream, 504, headers, null)
}

module.exports = { replay, serveEntry, gatewayTimeout, dropEntry }
