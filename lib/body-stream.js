'use strict'
// Streams a Readable or (async) iterable into a native writer. One write is in flight at a
// time; chunks arriving meanwhile are batched into the next write, so a fast source costs one
// libuv round trip per batch and a slow disk holds the source back (backpressure).
const { invalidArgType } = require('./errors')

const BATCH_BYTES = 64 * 1024

function toBuffer (chunk) {
  if (Buffer.isBuffer(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8')
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  throw invalidArgType('body chunk', 'a Buffer, Uint8Array or string', chunk)
}

function stop (source, err) {
  if (typeof source.destroy === 'function' && !source.destroyed) source.destroy()
  else if (typeof source.return === 'function') source.return()
  return err
}

/**
 * A Readable is consumed through 'data' events, not its async iterator: the iterator's read()
 * concatenates whatever is buffered into a new Buffer, a copy per chunk that doubles memory.
 * The source is paused while a write is in flight and the next batch is full.
 */
function writeReadable (readable, native) {
  return new Promise((resolve, reject) => {
    let batch = []
    let batchBytes = 0
    let writing = false
    let ended = false
    let failed = false
    const fail = (err) => {
      if (failed) return
      failed = true
      readable.destroy()
      reject(err)
    }
    const pump = () => {
      if (writing || failed) return
      if (batch.length === 0) {
        if (ended) resolve()
        else readable.resume()
        return
      }
      const chunks = batch
      batch = []
      batchBytes = 0
      writing = true
      native.write(chunks).then(() => {
        writing = false
        pump()
      }, fail)
    }
    readable.on('data', (chunk) => {
      let buffer
      try {
        buffer = toBuffer(chunk)
      } catch (err) {
        fail(err)
        return
      }
      batch.push(buffer)
      batchBytes += buffer.length
      if (writing && batchBytes >= BATCH_BYTES) readable.pause()
      pump()
    })
    readable.once('end', () => {
      ended = true
      pump()
    })
    readable.once('error', fail)
    readable.once('close', () => {
      if (!ended) fail(prematureClose())
    })
  })
}

function prematureClose () {
  const err = new Error('The body stream closed before it ended')
  err.code = 'ERR_STREAM_PREMATURE_CLOSE'
  return err
}

function isReadable (source) {
  return typeof source.on === 'function' && typeof source.pause === 'function' &&
    typeof source.resume === 'function'
}

/** Writes every chunk of `source`; rejects (after stopping the source) on the first error. */
async function writeStream (source, native) {
  if (isReadable(source)) return writeReadable(source, native)
  let batch = []
  let batchBytes = 0
  let inFlight = null
  const flush = async () => {
    if (inFlight) await inFlight
    inFlight = null
    if (batch.length === 0) return
    const chunks = batch
    batch = []
    batchBytes = 0
    inFlight = native.write(chunks)
    // Surfaced by the next await of `inFlight`; never left unhandled meanwhile.
    inFlight.catch(() => {})
  }
  const iterator = source[Symbol.asyncIterator]?.() ?? source[Symbol.iterator]()
  try {
    while (true) {
      const { value, done } = await iterator.next()
      if (done) break
      const buffer = toBuffer(value)
      if (buffer.length === 0) continue
      batch.push(buffer)
      batchBytes += buffer.length
      if (batchBytes >= BATCH_BYTES) await flush()
    }
    await flush()
    if (inFlight) await inFlight
  } catch (err) {
    throw stop(source, err)
  }
}

module.exports = { writeStream }
