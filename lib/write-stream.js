'use strict'
// A Writable that streams chunks into a native writer; the entry is committed in _final, so
// 'finish' means the entry is in the cache. Destroying it discards everything written.
const { Writable } = require('node:stream')

class CacheWriteStream extends Writable {
  #native
  #settle
  #committing = null
  committed

  constructor (native) {
    super({ highWaterMark: 128 * 1024, decodeStrings: true })
    this.#native = native
    this.committed = new Promise((resolve, reject) => { this.#settle = { resolve, reject } })
    // Nobody has to await `committed`; a failure is still reported through 'error'.
    this.committed.catch(() => {})
  }

  _write (chunk, encoding, callback) {
    this.#native.write([chunk]).then(() => callback(), callback)
  }

  _writev (chunks, callback) {
    this.#native.write(chunks.map((c) => c.chunk)).then(() => callback(), callback)
  }

  _final (callback) {
    this.#committing = this.#native.commit().then((info) => {
      this.#settle.resolve(info)
      callback()
    }, (err) => {
      this.#settle.reject(err)
      callback(err)
    })
  }

  _destroy (err, callback) {
    if (this.#committing) {
      // Too late to discard: the commit owns the body now. `committed` reports its outcome.
      this.#committing.then(() => callback(err), () => callback(err))
      return
    }
    this.#native.abort()
    this.#settle.reject(err ?? abortError())
    callback(err)
  }
}

function abortError () {
  const err = new Error('The write stream was destroyed before it finished')
  err.code = 'ERR_STREAM_DESTROYED'
  return err
}

module.exports = { CacheWriteStream }
