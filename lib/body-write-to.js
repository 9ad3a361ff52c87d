'use strict'
// `body.writeTo(writable)`: a cached body written straight into a Writable, in constant memory.
//
// A Readable hands each chunk to a consumer that owns it from then on, so every chunk must be
// a fresh Buffer, and dropped chunks are freed only at V8's next scavenge (~30 MiB of dead
// 64 KiB chunks between two, measured: the peak RSS of a 1 GiB stream). A Writable we write to
// is done with a chunk once that chunk's write callback has run (true of fs.WriteStream,
// net.Socket, http.ServerResponse), so here the body is read into a small ring of Buffers
// that are read into again only after the writable called back for them.
//
// Integrity: the native read that reaches the end resolves only after the whole body's hash
// checked out, and nothing of a batch is written before its read resolved, so a corrupt body
// rejects with ERR_CACHE_INTEGRITY before the writable is given its final chunk (the same
// guarantee as the stream's last chunk).
const { Transform, finished } = require('node:stream')
const { invalidArgType, withCode } = require('./errors')

/** Buffers of the ring: at most this many are being read into or held by the writable. */
const RING_SIZE = 8

/**
 * One ring kept between calls, so back-to-back writes of large bodies allocate nothing. A
 * ring is returned only when the writable called back for every Buffer of it.
 */
let spareRing = null

function newRing (length, chunkSize) {
  return Array.from({ length }, () => Buffer.allocUnsafeSlow(chunkSize))
}

/** The spare ring if there is one, else a ring of `length` (no more Buffers than the body needs). */
function takeRing (length, chunkSize) {
  const ring = spareRing
  spareRing = null
  return ring !== null && ring[0].length === chunkSize ? ring : newRing(length, chunkSize)
}

function giveBackRing (ring) {
  if (ring.length === RING_SIZE) spareRing = ring
}

/**
 * Validates writeTo's arguments; returns `{ end }`. Anything with `write`, `end` and `on`
 * methods is accepted: http.ServerResponse is no stream.Writable, yet is written to as one.
 */
function writeToOptions (writable, options) {
  if (writable === null || typeof writable !== 'object' || typeof writable.write !== 'function' ||
      typeof writable.end !== 'function' || typeof writable.on !== 'function') {
    throw invalidArgType('writable', 'a Writable stream', writable)
  }
  if (options === undefined) return { end: true }
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'an object', options)
  const end = options.end ?? true
  if (typeof end !== 'boolean') throw invalidArgType('options.end', 'of type boolean', end)
  return { end }
}

function prematureClose () {
  return withCode(Error, 'ERR_STREAM_PREMATURE_CLOSE', 'the writable closed before the body was written')
}

/**
 * Writes a body to `writable`; resolves with the bytes written once the writable called back
 * for all of them (and, with `end`, once it finished). `source` is either
 * `{ size, readWhole }` (a function giving the whole verified body as a Buffer, or a promise
 * of it: written as it is, one write, no copy) or `{ size, chunkSize, readBatch }`
 * (`readBatch(buffers)` fills the Buffers in turn in one native call and resolves with the
 * count; the call that reaches the end resolves only once the whole body checked out; a
 * count of 0 before the end means the body ended early and `endedEarly()` is the error).
 * Rejects with the read's error, the writable's error, or ERR_STREAM_PREMATURE_CLOSE; the
 * writable is then neither ended nor destroyed (a half-written response must not look
 * complete; what to do with it is the caller's call).
 */
function writeBody (source, writable, { end }, endedEarly) {
  return new Promise((resolve, reject) => {
    new BodyWriter(source, writable, end, endedEarly, resolve, reject).start()
  })
}

class BodyWriter {
  #source
  #writable
  #end
  #endedEarly
  #resolve
  #reject
  /** Bytes read so far (and handed to the writable, or about to be). */
  #position = 0
  #written = 0
  #settled = false
  /** `{ chunk, buffer }` read and waiting for the writable: the bytes and the ring Buffer holding them (null for a whole body). */
  #ready = []
  /** Ring Buffers neither being read into nor held by the writable. */
  #free = []
  #ring = null
  /**
   * Whether a Buffer the writable called back for is read into again. Not for a Transform
   * (PassThrough too): it calls back once the chunk is pushed to its readable side, where the
   * chunk still waits for a reader, so it gets a fresh Buffer each time, as a stream would.
   */
  #reuse
  #reading = false
  /** Writes whose callback has not run yet. */
  #inWritable = 0
  /** write() returned false: no more writes before 'drain'. */
  #needDrain = false
  #ended = false
  #finished = false
  #stopWatching = null

  constructor (source, writable, end, endedEarly, resolve, reject) {
    this.#source = source
    this.#writable = writable
    this.#end = end
    this.#endedEarly = endedEarly
    this.#resolve = resolve
    this.#reject = reject
    this.#reuse = !(writable instanceof Transform)
  }

  start () {
    const writable = this.#writable
    if (writable.destroyed) {
      this.#fail(withCode(Error, 'ERR_STREAM_DESTROYED', 'the writable is destroyed'))
      return
    }
    if (writable.writableEnded || writable.writableFinished) {
      this.#fail(withCode(Error, 'ERR_STREAM_WRITE_AFTER_END', 'the writable is already ended'))
      return
    }
    // Errors and a premature close of the writable; with `end`, also its 'finish'.
    this.#stopWatching = finished(writable, { readable: false }, (err) => {
      if (err) this.#failedWritable(err)
      else if (!this.#ended) this.#fail(prematureClose())
      else {
        this.#finished = true
        this.#pump()
      }
    })
    writable.on('drain', this.#onDrain)
    if (this.#source.readWhole !== undefined) {
      this.#startWhole()
      return
    }
    const { size, chunkSize } = this.#source
    const length = Math.min(RING_SIZE, Math.ceil(size / chunkSize))
    this.#ring = this.#reuse ? takeRing(length, chunkSize) : newRing(length, chunkSize)
    this.#free = [...this.#ring]
    this.#pump()
  }

  #startWhole () {
    let whole
    try {
      whole = this.#source.readWhole()
    } catch (err) {
      this.#fail(err)
      return
    }
    Promise.resolve(whole).then((buffer) => {
      if (this.#settled) return
      this.#position = buffer.length
      if (buffer.length > 0) this.#ready.push({ chunk: buffer, buffer: null })
      this.#pump()
    }, (err) => this.#fail(err))
  }

  #onDrain = () => {
    this.#needDrain = false
    this.#pump()
  }

  /** Writes what is ready, starts the next read when a batch's worth of Buffers is free, ends. */
  #pump () {
    if (this.#settled) return
    while (this.#ready.length > 0 && !this.#needDrain) {
      const { chunk, buffer } = this.#ready.shift()
      this.#inWritable++
      let ok
      try {
        ok = this.#writable.write(chunk, (err) => this.#wrote(chunk.length, buffer, err))
      } catch (err) {
        this.#fail(err)
        return
      }
      if (ok === false) this.#needDrain = true
    }
    const size = this.#source.size
    if (this.#position < size) {
      if (!this.#reading && this.#ring !== null) this.#readMore()
      return
    }
    if (this.#reading || this.#ready.length > 0) return
    if (this.#end && !this.#ended) {
      this.#ended = true
      try {
        this.#writable.end()
      } catch (err) {
        this.#fail(err)
        return
      }
    }
    if (this.#inWritable === 0 && (!this.#end || this.#finished)) this.#succeed()
  }

  /** One trip to the thread pool for up to half the ring, once that many Buffers are free. */
  #readMore () {
    const chunkSize = this.#source.chunkSize
    const chunksLeft = Math.ceil((this.#source.size - this.#position) / chunkSize)
    const want = Math.min(RING_SIZE / 2, chunksLeft)
    if (this.#free.length < want) return
    const batch = this.#free.splice(0, want)
    const lastLength = this.#source.size - this.#position - (want - 1) * chunkSize
    const views = batch.map((buffer, i) => (i === want - 1 && lastLength < chunkSize ? buffer.subarray(0, lastLength) : buffer))
    this.#reading = true
    this.#source.readBatch(views).then((n) => {
      this.#reading = false
      if (this.#settled) return
      if (n === 0) {
        this.#fail(this.#endedEarly())
        return
      }
      this.#position += n
      for (let i = 0; i < batch.length; i++) {
        const view = views[i]
        if (n >= view.length) this.#ready.push({ chunk: view, buffer: batch[i] })
        else if (n > 0) this.#ready.push({ chunk: view.subarray(0, n), buffer: batch[i] })
        else this.#free.push(batch[i])
        n -= Math.min(n, view.length)
      }
      this.#pump()
    }, (err) => {
      this.#reading = false
      this.#fail(err)
    })
  }

  /** The writable is done with a chunk of `length` bytes: its ring `buffer` may be read into again. */
  #wrote (length, buffer, err) {
    this.#inWritable--
    if (this.#settled) return
    if (err) {
      this.#failedWritable(err)
      return
    }
    this.#written += length
    if (buffer !== null) this.#free.push(this.#reuse ? buffer : Buffer.allocUnsafeSlow(buffer.length))
    this.#pump()
  }

  #succeed () {
    this.#settled = true
    this.#unwatch()
    if (this.#reuse && this.#ring !== null) giveBackRing(this.#ring)
    this.#resolve(this.#written)
  }

  #fail (err) {
    if (this.#settled) return
    this.#settled = true
    this.#unwatch()
    this.#reject(err)
  }

  /**
   * The writable failed with `err`: rejects with it. Its 'error' listener stays, because a
   * Writable calls back with the error first and emits it afterwards: the error the promise
   * reports must not also surface as an uncaught exception.
   */
  #failedWritable (err) {
    if (this.#settled) return
    this.#settled = true
    this.#writable.removeListener('drain', this.#onDrain)
    this.#reject(err)
  }

  #unwatch () {
    this.#stopWatching?.()
    this.#writable.removeListener('drain', this.#onDrain)
  }
}

module.exports = { writeBody, writeToOptions, RING_SIZE }
