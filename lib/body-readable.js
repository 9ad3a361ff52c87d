'use strict'
// A Readable that pulls a cached body from Rust one chunk per _read(): nothing is read from
// disk until the consumer asks, so a slow consumer stops the reads (backpressure).
//
// Two sources, one stream:
// - whole: the body in one Buffer, already verified. Either it came from the RAM tier (a hit
//   costs no read at all), or the body is small enough (<= WHOLE_READ_MAX) to be read from disk
//   in one read sized to it, which also offers it to the RAM tier. Chunks are views of that
//   Buffer (no copies, no garbage but the views).
// - chunked: larger bodies, read CHUNK_SIZE per native call into a fresh Buffer (the consumer
//   owns what is pushed). 64 KiB stays under glibc's mmap threshold (128 KiB), so the memory
//   is reused from the heap instead of being mapped and faulted in afresh for every read.
// `body.writeTo(writable)` bypasses the stream: a Writable is done with a chunk at its callback,
// so large bodies go through a ring of reused Buffers instead (lib/body-write-to.js).
const { Readable } = require('node:stream')
const { withCode } = require('./errors')
const { writeBody, writeToOptions } = require('./body-write-to')

const CHUNK_SIZE = 64 * 1024
// Whole reads up to this size go on the JS thread: one read of a page-cached file costs a
// few microseconds, the round trip through the libuv pool 50-150.
const SYNC_READ_MAX = CHUNK_SIZE
// Bodies up to this size are read whole, in one read (and may enter the RAM tier, whose
// default entry limit is the same).
const WHOLE_READ_MAX = 1024 * 1024
// Larger bodies: this many 64 KiB chunks per trip to the thread pool (one trip per chunk
// costs more than the read itself on a page-cached file), the next trip started as soon as
// one lands (see #readAhead).
const CHUNKS_PER_READ = 4
// Internal, for readers that bypass the stream (the undici interceptor): `body[kReadAll]()`
// reads the whole body into one Buffer, `body[kReadChunks]()` into Buffers of at most 64 KiB
// (or one whole one), `body[kReadChunk](max)` the next chunk of any size.
// Either only on a body nobody has read from through the stream, one call at a time.
const kReadAll = Symbol('streaming-cache.readAll')
const kReadChunk = Symbol('streaming-cache.readChunk')
const kReadChunks = Symbol('streaming-cache.readChunks')

const NO_NATIVE = {
  close () {},
}
/** Two chunks of read-ahead keep the disk busy while the consumer handles the last one. */
const STREAM_OPTIONS = Object.freeze({ highWaterMark: 2 * CHUNK_SIZE })

function busyWriting () {
  return withCode(Error, 'ERR_INVALID_STATE', 'the body is being written by writeTo')
}

/** A body shorter than its recorded size: damaged content, as a failed hash check is. */
function endedEarly () {
  return withCode(Error, 'ERR_CACHE_INTEGRITY', 'the cached body ended early')
}

class CacheBodyReadable extends Readable {
  #native
  #size
  #position = 0
  /** The whole body once known (RAM hit, or after the one whole read). */
  #whole = null
  /** Called with the native body once it has been read whole (the cache remembers hot ones). */
  #onWhole
  /** Chunks read but not pushed yet: one push per _read keeps them apart. */
  #pending = []
  /** A batch read is on the thread pool. */
  #inflight = false
  /** _read asked for a chunk while none was pending: push when the batch lands. */
  #waiting = false
  #started = false
  /** Read through kReadAll / kReadChunk / writeTo rather than the stream. */
  #direct = false
  /** writeTo is under way: the stream must not read beside it. */
  #writing = false
  /** Whole reads up to this size run on the JS thread (0 for ranges: a first range may verify a whole body). */
  #syncMax

  /**
   * `native` is the open native body, or null when `whole` (a Buffer of the entire body,
   * verified) is given. `onWhole(native, buffer)` is called after a whole read from disk.
   */
  constructor (native, size, whole = null, onWhole = null, syncMax = SYNC_READ_MAX) {
    super(STREAM_OPTIONS)
    this.#native = native ?? NO_NATIVE
    this.#size = size
    this.#whole = whole
    this.#onWhole = onWhole
    this.#syncMax = syncMax
  }

  /**
   * Reads whole bodies on the first read (known already, one chunk, or offered to the RAM
   * tier), and others chunk by chunk: a body the tier will not keep is read into 64 KiB
   * Buffers, not one Buffer of its size (over 128 KiB, glibc maps and unmaps each one, and
   * every page faults in afresh).
   */
  get #readsWhole () {
    return this.#whole !== null || this.#size <= SYNC_READ_MAX ||
      (this.#onWhole !== null && this.#size <= WHOLE_READ_MAX)
  }

  _read () {
    if (this.#writing) {
      this.destroy(busyWriting())
      return
    }
    this.#started = true
    if (this.#readsWhole) {
      if (this.#whole !== null) {
        this.#pushWhole()
        return
      }
      if (this.#size <= this.#syncMax) {
        try {
          this.#tookWhole(this.#native.readWholeSync())
        } catch (err) {
          this.destroy(err)
          return
        }
        this.#pushWhole()
        return
      }
      this.#native.readWhole().then((buffer) => {
        if (this.destroyed) return
        this.#tookWhole(buffer)
        this.#pushWhole()
      }, (err) => this.destroy(err))
      return
    }
    if (this.#pending.length > 0) {
      // Not synchronously: a push inside _read joins what read() returns, and read() then
      // concatenates it with what was buffered (a copy, and a chunk over 64 KiB).
      queueMicrotask(this.#pushPendingSoon)
      return
    }
    if (this.#position === this.#size && !this.#inflight) {
      this.#native.close()
      this.push(null)
      return
    }
    this.#waiting = true
    if (!this.#inflight) this.#readBatch()
  }

  #pushPendingSoon = () => {
    if (this.destroyed) return
    this.#pushPending()
    this.#readAhead()
  }

  /**
   * The next batch, while the consumer takes the last one, so the trip to the thread pool
   * overlaps with its work; at most one batch in flight and one waiting (512 KiB in all).
   */
  #readAhead () {
    if (!this.#inflight && this.#position < this.#size && this.#pending.length <= CHUNKS_PER_READ) this.#readBatch()
  }

  /** Reads up to CHUNKS_PER_READ chunks in one trip to the thread pool, into #pending. */
  #readBatch () {
    const batch = []
    for (let left = this.#size - this.#position; left > 0 && batch.length < CHUNKS_PER_READ; left -= CHUNK_SIZE) {
      batch.push(Buffer.allocUnsafeSlow(Math.min(CHUNK_SIZE, left)))
    }
    this.#inflight = true
    this.#native.readBatch(batch).then((n) => {
      this.#inflight = false
      if (this.destroyed) return
      if (n === 0) {
        this.destroy(endedEarly())
        return
      }
      this.#position += n
      for (let i = 0; n > 0; i++) {
        const chunk = batch[i]
        this.#pending.push(n >= chunk.length ? chunk : chunk.subarray(0, n))
        n -= chunk.length
      }
      this.#readAhead()
      if (this.#waiting) {
        this.#waiting = false
        this.#pushPending()
      }
    }, (err) => {
      this.#inflight = false
      this.destroy(err)
    })
  }

  #tookWhole (buffer) {
    this.#whole = buffer
    this.#native.close()
    if (this.#onWhole !== null) this.#onWhole(this.#native, buffer)
  }

  /** The next view of the whole body; the end once it is all out. */
  #pushWhole () {
    const whole = this.#whole
    const at = this.#position
    if (at === whole.length) {
      this.push(null)
      return
    }
    const end = Math.min(at + CHUNK_SIZE, whole.length)
    this.#position = end
    this.push(at === 0 && end === whole.length ? whole : whole.subarray(at, end))
    if (end === whole.length) this.push(null)
  }

  #pushPending () {
    this.push(this.#pending.shift())
    if (this.#pending.length === 0 && this.#position === this.#size) this.push(null)
  }

  /**
   * Resolves with the whole body in one Buffer of exactly its size, its hash checked: read
   * straight into it, without the stream's chunking. The stream is left empty (it ends).
   * Rejects if the content is corrupt or unreadable (the stream is destroyed then), or if the
   * stream was already read from. A body from the RAM tier resolves with the Buffer the tier
   * shares: read it, do not write to it.
   */
  async [kReadAll] () {
    this.#claim()
    if (this.#readsWhole) {
      const whole = await this.#wholeBody()
      this.#position = whole.length
      return whole
    }
    const size = this.#size
    const buffer = Buffer.allocUnsafeSlow(size)
    while (this.#position < size) {
      await this.#readInto(this.#position === 0 ? buffer : buffer.subarray(this.#position))
    }
    this.#native.close()
    return buffer
  }

  /**
   * Resolves with the whole body as Buffers of at most CHUNK_SIZE bytes each, or as one Buffer
   * when the body is read whole (see #readsWhole): read in one trip to the thread pool, its
   * hash checked. Rejects as `kReadAll` does.
   */
  async [kReadChunks] () {
    this.#claim()
    if (this.#readsWhole) {
      const whole = await this.#wholeBody()
      this.#position = whole.length
      return [whole]
    }
    const chunks = []
    for (let left = this.#size; left > 0; left -= CHUNK_SIZE) chunks.push(Buffer.allocUnsafeSlow(Math.min(CHUNK_SIZE, left)))
    let n = 0
    try {
      while (n < this.#size) {
        // A short read stops a batch early: the rest from where it stopped.
        const at = Math.floor(n / CHUNK_SIZE)
        const rest = n === 0 ? chunks : [chunks[at].subarray(n % CHUNK_SIZE), ...chunks.slice(at + 1)]
        const more = await this.#native.readBatch(rest)
        if (more === 0) throw endedEarly()
        n += more
      }
    } catch (err) {
      this.destroy()
      throw err
    }
    this.#position = n
    this.#native.close()
    return chunks
  }

  /**
   * Resolves with the next bytes (at most `max`) in a fresh Buffer (a view of the shared one
   * for whole bodies), or null at the end; the last chunk resolves only once the whole body
   * checked out. Rejects as `kReadAll` does.
   */
  async [kReadChunk] (max) {
    this.#claim()
    if (this.#readsWhole) {
      const whole = await this.#wholeBody()
      const at = this.#position
      if (at === whole.length) return null
      const end = Math.min(at + max, whole.length)
      this.#position = end
      return at === 0 && end === whole.length ? whole : whole.subarray(at, end)
    }
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

  /**
   * Writes the rest of the body to `writable` and resolves with the bytes written once the
   * writable called back for all of them (with `end`, the default, after ending it and its
   * 'finish'). Large bodies are read into a small ring of reused Buffers (see
   * lib/body-write-to.js), so the writable must be done with a chunk when it calls back for
   * it; bodies read whole are written as they are. Only on a body nobody has read from.
   * Rejects (the body closed, the writable neither ended nor destroyed) on a read error, a
   * corrupt or short body (ERR_CACHE_INTEGRITY, before the final chunk is written), or an
   * error or early close of the writable. Afterwards the stream is empty (it ends).
   */
  writeTo (writable, options = undefined) {
    let settings
    try {
      settings = writeToOptions(writable, options)
      if (this.#started) throw withCode(Error, 'ERR_INVALID_STATE', 'the body is already being read')
      this.#claim()
    } catch (err) {
      return Promise.reject(err)
    }
    this.#writing = true
    const source = this.#readsWhole
      ? { size: this.#size - this.#position, readWhole: () => this.#wholeBody() }
      : { size: this.#size, chunkSize: CHUNK_SIZE, readBatch: (buffers) => this.#native.readBatch(buffers) }
    return writeBody(source, writable, settings, endedEarly).then((written) => {
      this.#writing = false
      this.#position = this.#size
      this.#native.close()
      return written
    }, (err) => {
      this.#writing = false
      this.destroy()
      throw err
    })
  }

  async #wholeBody () {
    if (this.#whole !== null) return this.#whole
    try {
      const buffer = this.#size <= this.#syncMax
        ? this.#native.readWholeSync()
        : await this.#native.readWhole()
      this.#tookWhole(buffer)
      return buffer
    } catch (err) {
      this.destroy()
      throw err
    }
  }

  #claim () {
    if (this.destroyed || (this.#started && !this.#direct)) {
      throw withCode(Error, 'ERR_INVALID_STATE', 'the body is already being read')
    }
    this.#started = true
    this.#direct = true
  }

  async #readInto (buffer) {
    let n
    try {
      n = await this.#native.read(buffer)
      if (n === 0) throw endedEarly()
    } catch (err) {
      this.destroy()
      throw err
    }
    this.#position += n
    return n
  }

  _destroy (err, callback) {
    this.#native.close()
    callback(err)
  }
}

module.exports = { CacheBodyReadable, CHUNK_SIZE, WHOLE_READ_MAX, kReadAll, kReadChunk, kReadChunks, endedEarly }
