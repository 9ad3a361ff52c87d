'use strict'
// A spool: the body of a response being written, readable while it is written, for coalesced
// requests (lib/undici/interceptor.js waitFor). The cache's own entry only becomes readable
// once committed, so the leader of a coalesced miss also appends what it receives to an
// unlinked temporary file; waiters read it from their own offset as it grows. The last
// WINDOW bytes received are also kept in memory, once for all waiters: a waiter that keeps
// up with the origin is handed the leader's own chunks (no read, no copy, no allocation per
// waiter); one that falls further behind reads the file. So memory is the window plus the
// writes in flight, whatever the number of waiters or the size of the body. The file has no
// name once opened (removed at once where the platform allows, else when the last reader
// closes) and is private (0600).
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { EventEmitter } = require('node:events')

const READ_SIZE = 64 * 1024
/** Recent bytes kept in memory for the waiters that keep up (shared by all of them). */
const WINDOW = 1024 * 1024

class Spool extends EventEmitter {
  /** Response status, headers (as served to waiters) and the Vary map they must match. */
  status
  headers
  vary
  #fd
  #path
  #unlinked = false
  #written = 0 // bytes on disk
  #appended = 0 // bytes handed to append()
  #recent = [] // { at, chunk }: the last chunks appended, contiguous, ending at #appended
  #recentBytes = 0
  #writing = Promise.resolve()
  #state = 'open' // then 'done' or 'failed'
  #users = 1 // the writer, plus one per reader

  constructor ({ status, headers, vary }) {
    super()
    this.setMaxListeners(0)
    this.status = status
    this.headers = headers
    this.vary = vary
    this.#path = path.join(os.tmpdir(), `http-streaming-cache-spool-${crypto.randomBytes(8).toString('hex')}`)
    this.#fd = fs.openSync(this.#path, 'wx+', 0o600)
    try {
      fs.unlinkSync(this.#path)
      this.#unlinked = true
    } catch {} // Windows: removed when the last user closes it
  }

  get done () { return this.#state === 'done' }
  get failed () { return this.#state === 'failed' }
  get written () { return this.#written }

  /** Appends `chunk` (in order with earlier appends). */
  append (chunk) {
    if (this.#state !== 'open') return
    const at = this.#appended
    this.#appended += chunk.length
    this.#recent.push({ at, chunk })
    this.#recentBytes += chunk.length
    this.#writing = this.#writing.then(() => writeAll(this.#fd, chunk, at)).then(() => {
      this.#written = Math.max(this.#written, at + chunk.length)
      this.#trim()
    }, (err) => this.fail(err))
    this.emit('progress')
  }

  /** Drops the oldest chunks beyond WINDOW, once they are on disk (readers find them there). */
  #trim () {
    while (this.#recentBytes > WINDOW && this.#recent.length > 1) {
      const oldest = this.#recent[0]
      if (oldest.at + oldest.chunk.length > this.#written) break
      this.#recent.shift()
      this.#recentBytes -= oldest.chunk.length
    }
  }

  /** The bytes from `offset` to the end of the chunk holding it, if still in memory. */
  #inMemory (offset) {
    const recent = this.#recent
    if (recent.length === 0 || offset < recent[0].at) return null
    for (let i = recent.length - 1; i >= 0; i--) {
      const { at, chunk } = recent[i]
      if (offset >= at) return offset < at + chunk.length ? chunk.subarray(offset - at) : null
    }
    return null
  }

  /** The whole body was appended: readers end once they read it all. */
  finish () {
    if (this.#state !== 'open') return
    this.#writing.then(() => {
      if (this.#state !== 'open') return
      this.#state = 'done'
      this.emit('progress')
      this.#release()
    })
  }

  /** The body will not be complete: readers fail. */
  fail (err) {
    if (this.#state !== 'open') return
    this.#state = 'failed'
    this.error = err ?? new Error('the response being coalesced failed')
    this.emit('progress')
    this.#release()
  }

  /**
   * A BodySource (lib/engine/replay.js) over the spool from its first byte, or null once it
   * failed. Reads wait for bytes not written yet.
   */
  reader () {
    if (this.#state === 'failed') return null
    this.#users++
    let offset = 0
    let closed = false
    const next = () => new Promise((resolve, reject) => {
      const attempt = () => {
        if (closed) return resolve(null)
        const shared = this.#inMemory(offset)
        if (shared !== null) {
          offset += shared.length
          return resolve(shared)
        }
        // Not in memory any more: before the window, so on disk.
        if (offset < this.#written) {
          const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, this.#written - offset))
          fs.read(this.#fd, buffer, 0, buffer.length, offset, (err, n) => {
            if (err) return reject(err)
            offset += n
            resolve(n === buffer.length ? buffer : buffer.subarray(0, n))
          })
          return
        }
        if (this.#state === 'done') return resolve(null)
        if (this.#state === 'failed') return reject(this.error)
        this.once('progress', attempt)
      }
      attempt()
    })
    return {
      read: next,
      close: () => {
        if (closed) return
        closed = true
        this.#release()
      },
    }
  }

  #release () {
    if (--this.#users > 0) return
    this.#recent = []
    this.#recentBytes = 0
    fs.close(this.#fd, () => {})
    if (!this.#unlinked) fs.rm(this.#path, { force: true }, () => {})
  }
}

function writeAll (fd, chunk, position) {
  return new Promise((resolve, reject) => {
    const step = (offset) => {
      fs.write(fd, chunk, offset, chunk.length - offset, position + offset, (err, n) => {
        if (err) return reject(err)
        if (offset + n < chunk.length) step(offset + n)
        else resolve()
      })
    }
    step(0)
  })
}

module.exports = { Spool }
