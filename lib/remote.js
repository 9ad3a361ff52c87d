'use strict'
// RemoteTier: the shared second tier (Redis/Valkey) over the native addon. Argument checks,
// stream adapters and error conversion here; chunking, integrity, timeouts, the circuit
// breaker and the write-behind queue live in Rust (core/src/remote).
const { Readable } = require('node:stream')
const { NativeRemoteTier } = require('./native')
const { inMemoryBody, checkBody } = require('./body-source')
const { invalidArgType, outOfRange, withCode } = require('./errors')
const { validateKey, validateObject, validateOptionalObject, validateString } = require('./validate')

const KiB = 1024
const MiB = 1024 * KiB
/** Internal hooks the cache uses (lib/remote-link.js); not part of the public API. */
const kEnqueueLocal = Symbol('enqueueLocal')
const kGetVerified = Symbol('getVerified')
const kNativeLock = Symbol('nativeLock')

/** Writes handed to Rust at once: fewer thread-pool round trips for small chunks. */
const WRITE_BATCH = 256 * KiB

/** Options: name -> [min, max]. Durations are milliseconds, sizes bytes. */
const NUMERIC_OPTIONS = {
  maxBodySize: [1, Number.MAX_SAFE_INTEGER],
  chunkSize: [64 * KiB, MiB],
  lookupTimeout: [1, 60_000],
  opTimeout: [1, 600_000],
  connectTimeout: [1, 600_000],
  breakerThreshold: [1, 1_000_000],
  breakerCooldown: [1, 3_600_000],
  queueCapacity: [1, 1_000_000],
  uploadWorkers: [1, 16],
  revalidationGrace: [0, 365 * 24 * 3_600_000],
  lockTtl: [1, 3_600_000],
}

/** The options as the native tier takes them, checked; `name` is how errors call them. */
function nativeOptions (options, name = 'options') {
  validateObject(options, name)
  validateString(options.url, `${name}.url`)
  if (!/^rediss?:\/\//.test(options.url)) {
    throw invalidArgType(`${name}.url`, 'a redis:// URL', options.url)
  }
  for (const option of Object.keys(options)) {
    if (option !== 'url' && option !== 'prefix' && !Object.hasOwn(NUMERIC_OPTIONS, option)) {
      throw withCode(TypeError, 'ERR_INVALID_ARG_VALUE', `${name}.${option} is not an option of the shared tier`)
    }
  }
  const out = { url: options.url }
  if (options.prefix !== undefined) {
    validateString(options.prefix, `${name}.prefix`)
    if (options.prefix === '' || /\s/.test(options.prefix)) {
      throw outOfRange(`${name}.prefix`, 'a non-empty string without spaces', options.prefix)
    }
    out.prefix = options.prefix
  }
  for (const [option, [min, max]] of Object.entries(NUMERIC_OPTIONS)) {
    const value = options[option]
    if (value === undefined) continue
    if (typeof value !== 'number') throw invalidArgType(`${name}.${option}`, 'of type number', value)
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw outOfRange(`${name}.${option}`, `an integer from ${min} to ${max}`, value)
    }
    out[option] = value
  }
  return out
}

/**
 * A body pulled from Redis one chunk per _read: nothing is fetched beyond the Rust read-ahead.
 * Chunks are copied into buffers allocated here, whose memory V8 accounts for (and so
 * collects promptly), rather than handed over as external memory it does not see.
 */
class RemoteBodyReadable extends Readable {
  #native
  #remaining
  #chunkSize

  constructor (native) {
    super({ highWaterMark: 0 })
    this.#native = native
    this.#remaining = native.size
    this.#chunkSize = native.chunkSize
  }

  _read () {
    // One more call after the last byte: it returns 0 once the whole body checked out.
    const buffer = Buffer.allocUnsafeSlow(Math.max(1, Math.min(this.#chunkSize, this.#remaining)))
    if (this.#native.ready) {
      let n
      try {
        n = this.#native.readSync(buffer)
      } catch (err) {
        this.destroy(err)
        return
      }
      this.#deliver(buffer, n)
      return
    }
    this.#native.read(buffer).then((n) => {
      if (!this.destroyed) this.#deliver(buffer, n)
    }, (err) => this.destroy(err))
  }

  #deliver (buffer, n) {
    if (n === 0) {
      this.push(null)
      return
    }
    this.#remaining -= n
    this.push(n === buffer.length ? buffer : buffer.subarray(0, n))
  }

  _destroy (err, callback) {
    this.#native.close()
    callback(err)
  }
}

class RemoteTier {
  #native

  /**
   * @param {object} options `url` (redis://host:port[/db]), and optionally `prefix`,
   *   `maxBodySize`, `chunkSize`, `lookupTimeout`, `opTimeout`, `connectTimeout`,
   *   `breakerThreshold`, `breakerCooldown`, `queueCapacity`, `uploadWorkers`,
   *   `revalidationGrace`, `lockTtl` (durations in ms). Connecting happens in the background:
   *   a server that is down makes every call a miss, never an error.
   */
  constructor (options) {
    this.#native = new NativeRemoteTier(nativeOptions(options))
  }

  /** `{ entry, body }` (body a Readable, verified as it streams) or null on a miss or failure. */
  async get (key) {
    validateKey(key)
    const native = await this.#native.get(key)
    if (native === null) return null
    return { entry: JSON.parse(native.entry), body: new RemoteBodyReadable(native) }
  }

  /** The entry of `key` (no body), or null. */
  async lookup (key) {
    validateKey(key)
    return JSON.parse(await this.#native.lookup(key))
  }

  /**
   * Stores `body` (Buffer, string, Readable or iterable of chunks) and points `key` at it.
   * `freshFor` (ms) plus the revalidation grace is its expiry in Redis; `meta` any JSON.
   * Resolves with the entry; rejects if Redis failed (nothing partial is visible then).
   */
  async put (key, { body, meta = {}, freshFor = 0 } = {}) {
    validateKey(key)
    checkBody(body)
    validateOptionalObject(meta, 'meta')
    if (typeof freshFor !== 'number' || !(freshFor >= 0)) throw outOfRange('freshFor', 'a number of ms >= 0', freshFor)
    const writer = this.#native.writer()
    try {
      const whole = inMemoryBody(body)
      if (whole !== null) {
        await writer.write([whole])
      } else {
        let batch = []
        let bytes = 0
        for await (const chunk of body) {
          const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
          batch.push(buffer)
          bytes += buffer.length
          if (bytes >= WRITE_BATCH) {
            await writer.write(batch)
            batch = []
            bytes = 0
          }
        }
        if (batch.length > 0) await writer.write(batch)
      }
      return JSON.parse(await writer.commit(key, JSON.stringify(meta), freshFor))
    } catch (err) {
      writer.abort()
      throw err
    }
  }

  /** Removes the metadata of `key` (invalidation); resolves with whether it was there. */
  async remove (key) {
    validateKey(key)
    return JSON.parse(await this.#native.remove(key))
  }

  /** Removes the metadata of every key under the prefix (`clear`); resolves with the count. */
  async purge () {
    return JSON.parse(await this.#native.purge())
  }

  /**
   * Tries to become the host that fetches `key` from the origin. Resolves with
   * `{ state: 'acquired' | 'busy' | 'unavailable', release() }`.
   */
  async tryLock (key) {
    validateKey(key)
    const native = await this.#native.tryLock(key)
    return {
      state: native.state,
      [kNativeLock]: native,
      release: async () => JSON.parse(await native.release()),
    }
  }

  /**
   * Waits up to `maxWait` ms for the lock holder to store `key`. Resolves with
   * `{ outcome: 'stored' | 'released' | 'timedOut' | 'unavailable', entry }`.
   */
  async waitFor (key, maxWait) {
    validateKey(key)
    if (typeof maxWait !== 'number' || !(maxWait >= 0)) throw outOfRange('maxWait', 'a number of ms >= 0', maxWait)
    return JSON.parse(await this.#native.waitFor(key, maxWait))
  }

  /** Waits for background uploads (at most `timeout` ms); resolves with whether all finished. */
  async flush (timeout = 30_000) {
    return JSON.parse(await this.#native.flush(timeout))
  }

  /**
   * Like `get`, but a body that came whole with its metadata (one chunk: most bodies) is read
   * and verified before this resolves, as `{ entry, whole }`: a bad one is a miss (null),
   * never a response cut short. Larger bodies come as `{ entry, body }` (verified as they
   * stream; every chunk was seen present when opened).
   */
  async [kGetVerified] (key) {
    const native = await this.#native.get(key)
    if (native === null) return null
    const entry = JSON.parse(native.entry)
    if (!native.ready || native.size > native.chunkSize) return { entry, body: new RemoteBodyReadable(native) }
    try {
      const whole = Buffer.allocUnsafe(native.size)
      let filled = 0
      while (filled < whole.length) {
        const n = native.readSync(filled === 0 ? whole : whole.subarray(filled))
        if (n === 0) return null
        filled += n
      }
      // One more read: it returns 0 only once the whole body's checksum matched.
      if (native.readSync(Buffer.allocUnsafe(1)) !== 0) return null
      return { entry, whole }
    } catch {
      return null
    } finally {
      native.close()
    }
  }

  /**
   * Queues the upload of the local entry `key` of `nativeCache` under `remoteKey`; `lock`
   * (from `tryLock`) is released once it finished. Never waits; false if not queued.
   */
  [kEnqueueLocal] (nativeCache, key, remoteKey, integrity, freshFor, lock) {
    return this.#native.enqueueLocal(nativeCache, key, remoteKey, integrity ?? null, freshFor, lock?.[kNativeLock] ?? null)
  }

  /** Counters: hits, misses, errors, evicted, bytesRead, bytesWritten, uploads, ... */
  stats () {
    return JSON.parse(this.#native.stats())
  }
}

module.exports = { RemoteTier, nativeOptions, kEnqueueLocal, kGetVerified }
