'use strict'
// The hit path's one replay loop: plays a status, headers and a body source to a Downstream,
// one slice at a time while the caller is not paused, with one read ahead of the caller.
//
// A body source is `{ read(): Buffer | null | Promise<Buffer | null>, close() }`: `read`
// gives the next chunk (null at the end), synchronously or not; `close` lets go of what the
// source holds. Sources: chunks already in memory, a cache body read straight from the cache
// in large reads, and any other Readable.
const { kReadAll, kReadChunk, kReadChunks, WHOLE_READ_MAX, endedEarly } = require('../body-readable')

// Each read from disk is a round trip to a libuv thread, so large bodies are read in large
// chunks; they are handed to the caller in slices of at most 64 KiB, as the cache's own body
// streams do. With many bodies streaming at once (coalesced requests, a hot entry) the reads
// shrink, so the memory they hold stays about READ_BUDGET in all.
const STREAM_CHUNK = 256 * 1024
const SLICE = 64 * 1024
const READ_BUDGET = 4 * 1024 * 1024
let streaming = 0

/** The read size for the next chunk of a streamed body, given how many stream now. */
function readSize () {
  return Math.max(SLICE, Math.min(STREAM_CHUNK, Math.floor(READ_BUDGET / Math.max(1, streaming))))
}

/**
 * @typedef {object} BodySource
 * @property {() => Buffer | null | Promise<Buffer | null>} read
 * @property {() => void} close
 */

/** `buffer` as views of at most SLICE bytes (no copy). */
function slices (buffer) {
  if (buffer.length <= SLICE) return [buffer]
  const out = []
  for (let at = 0; at < buffer.length; at += SLICE) out.push(buffer.subarray(at, at + SLICE))
  return out
}

/** @returns {BodySource} over Buffers already in memory. */
function chunksSource (chunks) {
  let next = 0
  return {
    read: () => next < chunks.length ? chunks[next++] : null,
    close: () => { next = chunks.length },
  }
}

/**
 * @returns {BodySource} over one Buffer holding a whole body, verified (from the RAM tier, or
 * read whole), as views of at most SLICE bytes made one per read: no copy, no array of them.
 */
function wholeSource (whole) {
  let at = 0
  return {
    read: () => {
      if (at === whole.length) return null
      const from = at
      at = Math.min(from + SLICE, whole.length)
      return from === 0 && at === whole.length ? whole : whole.subarray(from, at)
    },
    close: () => { at = whole.length },
  }
}

/**
 * @returns {BodySource} over a cache body nobody has read from, up to WHOLE_READ_MAX: read in
 * one trip to the thread pool (into one Buffer for the RAM tier, else 64 KiB ones), its hash
 * checked, then handed out 64 KiB at a time. The first
 * `read` waits for that read; the response may have started meanwhile, so a corrupt body fails
 * it (as a streamed one does) rather than being dropped silently.
 */
function readWholeSource (body) {
  let source = null
  let closed = false
  return {
    read: () => {
      if (source !== null) return source.read()
      return body[kReadChunks]().then((chunks) => {
        source = chunks.length === 1 ? wholeSource(chunks[0]) : chunksSource(chunks)
        if (closed) source.close()
        return source.read()
      })
    },
    close: () => {
      closed = true
      source?.close()
      if (!body.destroyed) body.destroy()
    },
  }
}

/**
 * @returns {BodySource} over a body stream nobody has read from, `size` bytes: a cache body
 * is read straight from the cache in reads of STREAM_CHUNK (its integrity checked when the
 * last one is read); any other Readable through its async iterator.
 */
function bodySource (body, size) {
  const close = () => { if (!body.destroyed) body.destroy() }
  if (typeof body[kReadChunk] === 'function') {
    let received = 0
    let counted = true
    streaming++
    return {
      read: async () => {
        if (received === size) return null
        const chunk = await body[kReadChunk](readSize())
        if (chunk === null) throw endedEarly()
        received += chunk.length
        return chunk
      },
      close: () => {
        if (counted) {
          counted = false
          streaming--
        }
        close()
      },
    }
  }
  const iterator = body[Symbol.asyncIterator]()
  return {
    read: () => iterator.next().then(({ done, value }) => done ? null : value),
    close,
  }
}

/**
 * @returns {BodySource} for a body stream nobody has read from, `size` bytes: read whole when
 * it is a cache body the cache reads whole anyway (up to WHOLE_READ_MAX), else in chunks.
 */
function streamSource (body, size) {
  if (size <= WHOLE_READ_MAX && typeof body[kReadChunks] === 'function') return readWholeSource(body)
  return bodySource(body, size)
}

/**
 * The chunks of a body nobody has read from yet, read whole (its integrity checked): one
 * read into one buffer when the body is the cache's own stream, no copy.
 */
async function readWhole (body) {
  if (typeof body[kReadAll] === 'function') return slices(await body[kReadAll]())
  const chunks = []
  for await (const chunk of body) chunks.push(chunk)
  return chunks
}

/**
 * Plays `status`, `headers` and `source` (a BodySource, or null for no body) to
 * `downstream`. The caller's pause/resume/abort drive the reads. When the source fails,
 * `onError(err)` is called, then the response fails with that error.
 * @param {import('./downstream').Downstream} downstream
 * @param {number} status
 * @param {object} headers
 * @param {BodySource | null} source
 * @param {(err: Error) => void} [onError]
 */
function replay (downstream, status, headers, source, onError) {
  const queue = [] // slices read and not yet delivered
  let head = 0
  let reading = false
  let ended = source === null
  let paused = false
  let pumping = false
  let over = false // ended, failed or aborted: nothing more goes to `downstream`

  const stop = () => {
    over = true
    queue.length = 0
    source?.close()
  }
  const fail = (err) => {
    if (over) return
    stop()
    onError?.(err)
    downstream.error(err)
  }
  const take = (chunk) => {
    reading = false
    if (over) return
    if (chunk === null) ended = true
    else if (chunk.length > SLICE) for (const slice of slices(chunk)) queue.push(slice)
    else if (chunk.length > 0) queue.push(chunk)
  }
  const fill = () => {
    if (reading || ended || over) return
    reading = true
    let next
    try {
      next = source.read()
    } catch (err) {
      reading = false
      fail(err)
      return
    }
    if (next !== null && typeof next.then === 'function') {
      next.then((chunk) => {
        take(chunk)
        pump()
      }, (err) => {
        reading = false
        fail(err)
      })
    } else {
      take(next)
    }
  }
  const pump = () => {
    // Resumed from inside a handler call: the running loop goes on by itself.
    if (pumping) return
    pumping = true
    try {
      while (!over && !paused) {
        if (head < queue.length) {
          const slice = queue[head]
          queue[head++] = undefined
          if (head === queue.length) {
            queue.length = 0
            head = 0
            fill() // the next chunk, while the caller takes this one
          }
          if (!downstream.data(slice)) paused = true
          continue
        }
        if (ended) {
          stop()
          downstream.end({})
          break
        }
        fill()
        if (reading) break
      }
    } catch (err) {
      if (!over) stop()
      downstream.error(err)
    } finally {
      pumping = false
    }
  }
  // A resume runs the loop on the next microtask, not inside the call: consumers resume from
  // their stream's `_read` (undici's fetch and request bodies do), and chunks pushed inside
  // `_read` are concatenated by `read()` with what it already buffered, a copy of each.
  let scheduled = false
  const pumpSoon = () => {
    scheduled = false
    pump()
  }
  downstream.attach({
    pause: () => { paused = true },
    resume: () => {
      paused = false
      // Resumed from inside a handler call: the running loop goes on by itself.
      if (pumping || scheduled || over) return
      scheduled = true
      queueMicrotask(pumpSoon)
    },
    abort: (reason) => {
      if (!over) stop()
      downstream.error(reason)
    },
  }, null)
  if (downstream.aborted || downstream.finished) {
    if (!over) stop()
    return
  }
  try {
    downstream.responseStart(status, headers)
  } catch (err) {
    if (!over) stop()
    downstream.error(err)
    return
  }
  if (downstream.aborted || downstream.finished) {
    if (!over) stop()
    return
  }
  pump()
}

module.exports = { replay, chunksSource, wholeSource, streamSource, bodySource, readWhole }
