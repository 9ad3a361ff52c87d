'use strict'
// A Readable that pulls a cached body from Rust one chunk per _read(): nothing is read from
// disk until the consumer asks, so a slow consumer stops the reads (backpressure).
const { Readable } = require('node:stream')
const { fromNative } = require('./errors')

const CHUNK_SIZE = 64 * 1024
// Bodies up to this size are read on the JS thread: one read of a page-cached file costs a
// few microseconds, the round trip through the libuv pool 50-150.
const SYNC_READ_MAX = CHUNK_SIZE
// Larger bodies are read 128 KiB per native call (half the round trips), pushed as chunks of at
// most 64 KiB.
const READ_SIZE = 2 * CHUNK_SIZE
// Internal, for readers that bypass the stream (the undici interceptor): `body[kReadAll]()`
// reads the whole body into one Buffer, `body[kReadChunk](max)` the next chunk of any size.
// Either only on a body nobody has read from through the stream, one call at a time.
const kReadAll = Symbol('streaming-cache.readAll')
const kReadChunk = Symbol('streaming-cache.readChunk')

class CacheBodyReadable extends Readable {
  #native
  #size
  #position = 0
  /** Chunks read but not pushed yet: one push per _read keeps them apart. */
  #pending = []
  #started = false
  /** Read through kReadAll / kReadChunk rather than the stream. */
  #direct = false

  constructor (native, size) {
    // Two chunks of read-ahead keep the disk busy while the consumer handles the last one.
    super({ highWaterMark: 2 * CHUNK_SIZE })
    this.#native = native
    this.#size = size
  }

  _read () {
    this.#started = true
    if (this.#pending.length > 0) {
      // Not synchronously: a push inside _read joins what read() returns, and read() then
      // concatenates it with what was buffered (a copy, and a chunk over 64 KiB).
      queueMicrotask(() => { if (!this.destroyed) this.#pushPending() })
      return
    }
    const remaining = this.#size - this.#position
    if (remaining === 0) {
      this.#native.close()
      this.push(null)
      return
    }
    // A fresh buffer per read: the chunks pushed belong to the consumer from then on.
    if (this.#size <= SYNC_READ_MAX) {
      const buffer = Buffer.allocUnsafeSlow(remaining)
      let n
      try {
        n = this.#native.readSync(buffer)
      } catch (err) {
        this.destroy(fromNative(err))
        return
      }
      this.#position += n
      this.push(n === buffer.length ? buffer : buffer.subarray(0, n))
      if (this.#position === this.#size) this.push(null)
      return
    }
    const batch = Buffer.allocUnsafeSlow(Math.min(READ_SIZE, remaining))
    this.#native.read(batch).then((n) => {
      if (this.destroyed) return
      this.#position += n
      for (let offset = 0; offset < n; offset += CHUNK_SIZE) {
        this.#pending.push(batch.subarray(offset, Math.min(offset + CHUNK_SIZE, n)))
      }
      this.#pushPending()
    }, (err) => this.destroy(fromNative(err)))
  }

  #pushPending () {
    this.push(this.#pending.shift())
    if (this.#pending.length === 0 && this.#position === this.#size) this.push(null)
  }

  /**
   * Resolves with the whole body in one Buffer of exactly its size, its hash checked: read
   * straight into it, without the stream's chunking. The stream is left empty (it ends).
   * Rejects if the content is corrupt or unreadable (the stream is destroyed then), or if the
   * stream was already read from.
   */
  async [kReadAll] () {
    this.#claim()
    const size = this.#size
    const buffer = Buffer.allocUnsafeSlow(size)
    while (this.#position < size) {
      await this.#readInto(this.#position === 0 ? buffer : buffer.subarray(this.#position))
    }
    this.#native.close()
    return buffer
  }

  /**
   * Resolves with the next bytes (at most `max`) in a fresh Buffer, or null at the end; the
   * last chunk resolves only once the whole body checked out. Rejects as `kReadAll` does.
   */
  async [kReadChunk] (max) {
    this.#claim()
    const remaining = this.#size - this.#position
    if (remaining === 0) {
      this.#native.close()
      return null
    }
    const buffer = Buffer.allocUnsafeSlow(Math.min(max, remaining))
    const n = await this.#readInto(buffer)
    if (this.#position === this.#size) this.#native.close()
    return n === buffer.length ? buffer : buffer.subarray(0, n)
  }

  #claim () {
    if (this.destroyed || (this.#started && !this.#direct)) throw new Error('the body is already being read')
    this.#started = true
    this.#direct = true
  }

  async #readInto (buffer) {
    let n
    try {
      n = this.#size <= SYNC_READ_MAX ? this.#native.readSync(buffer) : await this.#native.read(buffer)
      if (n === 0) throw new Error('the cached body ended early')
    } catch (err) {
      const error = fromNative(err)
      this.destroy()
      throw error
    }
    this.#position += n
    return n
  }

  _destroy (err, callback) {
    this.#native.close()
    callback(err)
  }
}

module.exports = { CacheBodyReadable, kReadAll, kReadChunk }
