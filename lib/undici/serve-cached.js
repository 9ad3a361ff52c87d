'use strict'
// Hits: replays a stored entry to the caller's handler.
//
// Integrity: the cache checks a body's hash when its last chunk is read. Bodies up to
// `verifyBeforeServing` bytes (64 KiB, one chunk, by default) are therefore read whole, into
// one buffer, before the response starts: a corrupt or unreadable one is dropped and the
// request goes to the origin instead, invisibly to the caller. Larger bodies are streamed as
// they are read, in chunks of up to STREAM_CHUNK with one read ahead of the caller (so at most
// two chunks per response are in memory); if one turns out to be corrupt at its end, the
// response fails with the `ERR_CACHE_INTEGRITY` error (the caller sees a body error, as with a
// dropped connection, never a silently wrong body) and the entry is dropped, so the next
// request goes to the origin.
const { kReadAll, kReadChunk } = require('../body-readable')
const { servedHeaders, withStatusHeaders } = require('./headers')

// Each read from disk is a round trip to a libuv thread, so large bodies are read in large
// chunks; they are handed to the caller in slices of at most 64 KiB, as the cache's own body
// streams do.
const STREAM_CHUNK = 256 * 1024
const SLICE = 64 * 1024
const HIT = ['HIT', 'HIT']

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

/**
 * Plays `status`, `headers` and `chunks` (Buffers already in memory) to `downstream`, one
 * chunk at a time while the caller is not paused.
 */
function replayChunks (downstream, status, headers, chunks) {
  let next = 0
  let flowing = true
  let pumping = false
  const pump = () => {
    if (pumping) return
    pumping = true
    try {
      while (flowing && next < chunks.length) {
        if (downstream.finished) return
        const chunk = chunks[next++]
        if (!downstream.data(chunk)) flowing = false
      }
      if (flowing) downstream.end({})
    } catch (err) {
      downstream.error(err)
    } finally {
      pumping = false
    }
  }
  const source = {
    pause: () => { flowing = false },
    resume: () => {
      if (flowing) return
      flowing = true
      // Resumed from inside a handler call: the running pump goes on by itself.
      if (!pumping) pump()
    },
    abort: (reason) => downstream.error(reason),
  }
  downstream.attach(source, null)
  if (downstream.aborted || downstream.finished) return
  try {
    downstream.responseStart(status, headers)
  } catch (err) {
    downstream.error(err)
    return
  }
  if (downstream.aborted || downstream.finished) return
  pump()
}

/**
 * Plays `status`, `headers` and `body` (a cache body stream nobody has read from, `size`
 * bytes) to `downstream`, reading the body straight from the cache in reads of STREAM_CHUNK
 * handed over in slices of at most SLICE bytes. The next read runs while the caller takes
 * the last one, none while the caller is paused. `onError(err)` is called when the body
 * fails (corrupt, unreadable), before the response error.
 */
function replayPulled (downstream, status, headers, body, size, onError) {
  let received = 0
  const queue = [] // slices read and not yet delivered
  let head = 0
  let queued = 0
  let reading = false
  let paused = false
  let flushing = false
  let over = false // ended, failed or aborted: nothing more goes to `downstream`

  const stop = () => {
    over = true
    queue.length = 0
    if (!body.destroyed) body.destroy()
  }
  const fail = (err) => {
    if (over) return
    stop()
    onError(err)
    downstream.error(err)
  }
  const read = () => {
    if (reading || over || queued >= STREAM_CHUNK || received === size) return
    reading = true
    body[kReadChunk](STREAM_CHUNK).then((chunk) => {
      reading = false
      if (over) return
      if (chunk === null) {
        fail(new Error('the cached body ended early'))
        return
      }
      received += chunk.length
      queued += chunk.length
      for (const slice of slices(chunk)) queue.push(slice)
      flush()
    }, (err) => {
      reading = false
      fail(err)
    })
  }
  const flush = () => {
    // Resumed from inside a handler call: the running loop goes on by itself.
    if (flushing) return
    flushing = true
    try {
      while (!over && !paused && head < queue.length) {
        const slice = queue[head]
        queue[head++] = undefined
        queued -= slice.length
        if (head === queue.length) {
          queue.length = 0
          head = 0
        }
        read() // the next chunk, while the caller takes this one
        if (!downstream.data(slice)) paused = true
      }
      if (!over && !paused && queued === 0 && !reading && received === size) {
        over = true
        downstream.end({})
      }
    } catch (err) {
      stop()
      downstream.error(err)
    } finally {
      flushing = false
    }
  }
  const source = {
    pause: () => { paused = true },
    resume: () => {
      paused = false
      flush()
    },
    abort: (reason) => {
      if (!over) stop()
      downstream.error(reason)
    },
  }
  downstream.attach(source, null)
  if (downstream.aborted || downstream.finished) {
    if (!over) stop()
    return
  }
  try {
    downstream.responseStart(status, headers)
  } catch (err) {
    source.abort(err)
    return
  }
  if (downstream.aborted || downstream.finished) {
    if (!over) stop()
    return
  }
  read()
}

/** `buffer` as views of at most SLICE bytes (no copy). */
function slices (buffer) {
  if (buffer.length <= SLICE) return [buffer]
  const out = []
  for (let at = 0; at < buffer.length; at += SLICE) out.push(buffer.subarray(at, at + SLICE))
  return out
}

/**
 * The chunks of a body nobody has read from yet, read whole (its integrity checked): one
 * read into one buffer when the body is the cache's own stream, no copy.
 */
function readWhole (body) {
  if (typeof body[kReadAll] === 'function') return body[kReadAll]().then(slices)
  return new Promise((resolve, reject) => {
    const chunks = []
    body.on('data', (chunk) => chunks.push(chunk))
    body.once('error', reject)
    body.once('end', () => resolve(chunks))
  })
}

/** Closes the body `found` holds open (from the lookup) when it will not be served. */
function releaseBody (found) {
  const body = found?.body
  if (body) {
    found.body = null
    body.destroy()
  }
}

/** Removes a bad entry; failures are ignored (the cache already dropped corrupt ones). */
function dropEntry (cache, key) {
  try {
    Promise.resolve(cache.delete(key)).catch(() => {})
  } catch {}
}

/**
 * Serves the entry `found` ({ key, fields, body? }) with `headers`. Its body is `found.body`
 * when the lookup opened it, else it is opened now. When it cannot be served before the
 * response starts (gone, unreadable, corrupt and small enough to be checked first), the entry
 * is dropped and `unavailable()` is called instead: the caller goes to the origin.
 */
function serveEntry (ctx, r, downstream, found, headers, unavailable) {
  const { cache } = ctx
  const status = found.fields.status
  const withBody = r.method !== 'HEAD'
  const finalHeaders = servedHeaders(headers, {
    size: found.fields.size,
    hasBody: found.fields.metadata?.method !== 'HEAD',
    status: ctx.statusHeaders ? HIT : null,
  })

  if (!withBody) {
    releaseBody(found)
    replay(downstream, status, finalHeaders, null)
    return
  }

  let body = found.body ?? null
  let size = found.fields.size
  found.body = null
  if (body === null) {
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
    body = hit.body
    size = hit.size
  }

  if (size <= ctx.verifyBeforeServing) {
    readWhole(body).then(
      (chunks) => replayChunks(downstream, status, finalHeaders, chunks),
      () => {
        dropEntry(cache, found.key)
        unavailable()
      })
    return
  }
  if (typeof body[kReadChunk] === 'function') {
    replayPulled(downstream, status, finalHeaders, body, size, () => dropEntry(cache, found.key))
    return
  }
  body.once('error', () => dropEntry(cache, found.key))
  replay(downstream, status, finalHeaders, body)
}

/** `only-if-cached` with nothing usable: 504, the origin is not contacted. */
function gatewayTimeout (ctx, downstream) {
  const headers = withStatusHeaders({ 'content-length': '0' }, ctx.statusHeaders, 'MISS', 'MISS')
  replay(downstream, 504, headers, null)
}

module.exports = { replay, serveEntry, gatewayTimeout, dropEntry, releaseBody }
