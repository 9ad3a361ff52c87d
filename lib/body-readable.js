'use strict'
// A Readable that pulls a cached body from Rust one chunk per _read(): nothing is read from
// disk until the consumer asks, so a slow consumer stops the reads (backpressure).
const { Readable } = require('node:stream')
const { fromNative } = require('./errors')

const CHUNK_SIZE = 64 * 1024

class CacheBodyReadable extends Readable {
  #native
  #size
  #position = 0

  constructor (native, size) {
    // Two chunks of read-ahead keep the disk busy while the consumer handles the last one.
    super({ highWaterMark: 2 * CHUNK_SIZE })
    this.#native = native
    this.#size = size
  }

  _read () {
    const remaining = this.#size - this.#position
    if (remaining === 0) {
      this.#native.close()
      this.push(null)
      return
    }
    // A fresh buffer per chunk: the one pushed belongs to the consumer from then on.
    const buffer = Buffer.allocUnsafeSlow(Math.min(CHUNK_SIZE, remaining))
    this.#native.read(buffer).then((n) => {
      if (this.destroyed) return
      this.#position += n
      this.push(n === buffer.length ? buffer : buffer.subarray(0, n))
      if (this.#position === this.#size) this.push(null)
    }, (err) => this.destroy(fromNative(err)))
  }

  _destroy (err, callback) {
    this.#native.close()
    callback(err)
  }
}

module.exports = { CacheBodyReadable, CHUNK_SIZE }
