'use strict'
// `hit.body.writeTo(writable)`: a cached body written into a Writable through a ring of reused
// Buffers. Real cache directories, real files (fs.createWriteStream), a real node:http response
// fetched with undici, corruption made by damaging the real content file. The reuse itself is
// checked by writables that keep every chunk they are given and check, when they call back for
// it, that its bytes did not change since (a Buffer read into again too early would).
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const path = require('node:path')
const { PassThrough, Writable } = require('node:stream')
const { request } = require('undici')
const { KiB, MiB, CHUNK, sri, seededBytes, readAll, contentFileFor, tempCache, tempDir, flipByte } = require('./helpers/util')
const { RING_SIZE } = require('../lib/body-write-to')

const SIZES = [0, 1 * KiB, 1 * MiB, 5 * MiB + 7]
const TIERS = [['RAM tier on', undefined], ['RAM tier off', { memory: 0 }]]

const digest = (bytes) => crypto.createHash('sha256').update(bytes).digest('hex')
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A Writable that keeps every chunk it is given with the hash of its bytes at that moment,
 * calls back late (after `callbackDelay` ms), and at each callback checks every chunk it still
 * holds: a chunk whose bytes changed before its callback ran counts in `changed`. It also
 * counts writes made while it asked for 'drain' and the most chunks held at once.
 */
class KeepingWritable extends Writable {
  constructor ({ callbackDelay = 0, highWaterMark = 16 * KiB, failAfter = Infinity } = {}) {
    super({ highWaterMark })
    this.callbackDelay = callbackDelay
    this.failAfter = failAfter
    this.copies = []
    this.held = new Set()
    this.mostHeld = 0
    this.changed = 0
    this.writesWhileFull = 0
    this.chunkSizes = []
  }

  write (chunk, encoding, callback) {
    if (typeof encoding === 'function') [encoding, callback] = [undefined, encoding]
    if (this.writableNeedDrain) this.writesWhileFull++
    const given = { chunk, digest: digest(chunk) }
    this.held.add(given)
    this.mostHeld = Math.max(this.mostHeld, this.held.size)
    this.copies.push(Buffer.from(chunk))
    this.chunkSizes.push(chunk.length)
    return super.write(chunk, encoding, (err) => {
      for (const kept of this.held) if (digest(kept.chunk) !== kept.digest) this.changed++
      this.held.delete(given)
      callback?.(err)
    })
  }

  _write (chunk, encoding, callback) {
    const received = this.copies.reduce((n, c) => n + c.length, 0)
    const done = received >= this.failAfter ? () => callback(new Error('the disk is full')) : () => callback()
    if (this.callbackDelay > 0) setTimeout(done, this.callbackDelay)
    else setImmediate(done)
  }

  get bytes () {
    return Buffer.concat(this.copies)
  }
}

async function cacheWith (t, size, options, seed = size) {
  const cache = await tempCache(t, options)
  t.teardown(() => cache.close())
  const body = seededBytes(seed, size)
  await cache.put('key', { status: 200, body })
  return { cache, body }
}

for (const [tier, options] of TIERS) {
  for (const size of SIZES) {
    test(`${tier}, ${size} B: written to a file byte for byte, twice (the second hit from the tier when on)`, async (t) => {
      const { cache, body } = await cacheWith(t, size, options)
      const dir = await tempDir(t)
      for (const round of [1, 2]) {
        const file = path.join(dir, `out-${round}`)
        const hit = await cache.get('key')
        const out = fs.createWriteStream(file)
        t.is(await hit.body.writeTo(out), size)
        t.true(out.writableFinished, 'end: true (the default) ended the file and waited for its finish')
        t.true(fs.readFileSync(file).equals(body), `round ${round}`)
        // The stream is left empty: read now, it ends at once.
        t.is((await readAll(hit.body)).body.length, 0)
      }
    })

    test(`${tier}, ${size} B: no Buffer is read into again before the writable called back for it (late callbacks, backpressure)`, async (t) => {
      const { cache, body } = await cacheWith(t, size, options)
      for (const writableOptions of [{ callbackDelay: 2, highWaterMark: 4 * MiB }, { highWaterMark: 1 }]) {
        const hit = await cache.get('key')
        const out = new KeepingWritable(writableOptions)
        t.is(await hit.body.writeTo(out), size)
        t.true(out.bytes.equals(body))
        t.is(out.changed, 0, 'a chunk changed before its callback ran')
        t.is(out.writesWhileFull, 0, "a write came while the writable waited for 'drain'")
        t.true(out.mostHeld <= RING_SIZE, `at most the ring in the writable (held ${out.mostHeld})`)
        t.true(out.writableFinished)
      }
    })
  }
}

test('large bodies go in chunks of at most 64 KiB; whole-read bodies in one write of their Buffer', async (t) => {
  const { cache } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const out = new KeepingWritable({ highWaterMark: 4 * MiB })
  await (await cache.get('key')).body.writeTo(out)
  t.true(out.chunkSizes.every((n) => n <= CHUNK))
  t.is(out.chunkSizes.length, Math.ceil((5 * MiB + 7) / CHUNK))

  const small = await cacheWith(t, 1 * MiB, undefined, 7)
  const whole = new KeepingWritable()
  await (await small.cache.get('key')).body.writeTo(whole)
  t.deepEqual(whole.chunkSizes, [1 * MiB])
})

test('a PassThrough (its callback comes while the chunk still waits on its readable side) gets fresh Buffers', async (t) => {
  const { cache, body } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const through = new PassThrough()
  const chunks = []
  // A slow reader that keeps every chunk: reused Buffers would show up as changed bytes.
  const read = (async () => {
    for await (const chunk of through) {
      chunks.push(chunk)
      if (chunks.length % 8 === 0) await delay(1)
    }
  })()
  t.is(await (await cache.get('key')).body.writeTo(through), body.length)
  await read
  t.true(Buffer.concat(chunks).equals(body))
})

test('end: false leaves the writable open: the caller writes more and ends it', async (t) => {
  const { cache, body } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const file = path.join(await tempDir(t), 'out')
  const out = fs.createWriteStream(file)
  t.is(await (await cache.get('key')).body.writeTo(out, { end: false }), body.length)
  t.false(out.writableEnded)
  await new Promise((resolve, reject) => out.end('trailer', (err) => (err ? reject(err) : resolve())))
  t.true(fs.readFileSync(file).equals(Buffer.concat([body, Buffer.from('trailer')])))
})

test('a range hit writes only its bytes', async (t) => {
  const { cache, body } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  for (const [start, end] of [[100, 200], [CHUNK - 3, 3 * CHUNK + 9], [MiB, 5 * MiB + 6]]) {
    const hit = await cache.get('key', { range: [start, end] })
    const out = new KeepingWritable({ highWaterMark: 1 })
    t.is(await hit.body.writeTo(out), end - start + 1)
    t.true(out.bytes.equals(body.subarray(start, end + 1)))
    t.is(out.changed, 0)
  }
})

/** A node:http server answering every request with the cached body through writeTo. */
async function serve (t, cache) {
  const outcomes = []
  const server = http.createServer(async (req, res) => {
    const hit = await cache.get('key')
    res.writeHead(200, { 'content-length': hit.size })
    try {
      outcomes.push({ written: await hit.body.writeTo(res) })
    } catch (err) {
      outcomes.push({ err, bodyClosed: hit.body.destroyed })
      res.destroy()
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${server.address().port}/`, outcomes }
}

for (const [tier, options] of TIERS) {
  for (const size of [1 * KiB, 1 * MiB, 5 * MiB + 7]) {
    test(`${tier}, ${size} B: written to a node:http response, fetched with undici`, async (t) => {
      const { cache, body } = await cacheWith(t, size, options)
      const { url, outcomes } = await serve(t, cache)
      for (let i = 0; i < 2; i++) {
        const res = await request(url)
        t.is(res.statusCode, 200)
        const got = Buffer.from(await res.body.arrayBuffer())
        t.true(got.equals(body))
      }
      for (let i = 0; i < 500 && outcomes.length < 2; i++) await delay(10)
      t.deepEqual(outcomes, [{ written: size }, { written: size }])
    })
  }
}

test('a client that goes away mid-response: writeTo rejects and the body is closed', async (t) => {
  // Larger than loopback's socket buffers can hold between them, so the server is mid-write.
  const { cache } = await cacheWith(t, 32 * MiB, { memory: 0 })
  const { url, outcomes } = await serve(t, cache)
  const res = await request(url)
  res.body.destroy()
  for (let i = 0; i < 500 && outcomes.length === 0; i++) await delay(10)
  t.is(outcomes.length, 1)
  t.true(outcomes[0].bodyClosed)
  t.true(outcomes[0].err instanceof Error)
  t.true(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE'].includes(outcomes[0].err.code), String(outcomes[0].err.code))
})

const corruptions = [
  ['a flipped last byte of a 5 MiB body', 5 * MiB + 7, { memory: 0 }, (file, size) => flipByte(file, size - 1)],
  ['a flipped byte in the middle of a 5 MiB body', 5 * MiB + 7, { memory: 0 }, (file, size) => flipByte(file, size >> 1)],
  ['a flipped byte of a 1 MiB body (read whole, tier on)', 1 * MiB, undefined, (file) => flipByte(file, 1000)],
  ['a flipped byte of a 1 KiB body', 1 * KiB, undefined, (file) => flipByte(file, 10)],
  ['a 1 MiB body truncated to 300 KiB (tier off)', 1 * MiB, { memory: 0 }, (file) => { fs.chmodSync(file, 0o644); fs.truncateSync(file, 300 * KiB) }],
]

for (const [name, size, options, damage] of corruptions) {
  test(`${name}: rejects with ERR_CACHE_INTEGRITY before the final chunk is written, the writable left open`, async (t) => {
    const { cache, body } = await cacheWith(t, size, options)
    const file = contentFileFor(cache.dir, sri(body))
    damage(file, size)
    const damaged = fs.readFileSync(file)
    const hit = await cache.get('key')
    t.truthy(hit)
    const out = new KeepingWritable({ highWaterMark: 1 })
    const err = await t.throwsAsync(hit.body.writeTo(out))
    t.is(err.code, 'ERR_CACHE_INTEGRITY')
    // The hash covers the whole body and is checked by the read that reaches its end: what
    // came before may hold the damage (as the stream's chunks would), the final chunk never.
    const finalChunk = size % CHUNK || CHUNK
    t.true(out.bytes.length <= size - finalChunk, `${out.bytes.length} of ${size} bytes were written`)
    t.true(out.bytes.equals(damaged.subarray(0, out.bytes.length)), 'what was written is what the file holds')
    t.false(out.writableEnded, 'a failed body does not end the writable')
    t.false(out.destroyed, 'nor destroy it')
    t.true(hit.body.destroyed, 'the body is closed')
    t.is(await cache.get('key'), null, 'the damaged entry is dropped')
  })
}

test('the writable failing mid-way: rejects with its error, the body is closed', async (t) => {
  const { cache } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const hit = await cache.get('key')
  const out = new KeepingWritable({ failAfter: 1 * MiB })
  const err = await t.throwsAsync(hit.body.writeTo(out))
  t.is(err.message, 'the disk is full')
  t.true(hit.body.destroyed)
  t.is(out.changed, 0)
})

test('the writable destroyed mid-way without an error: ERR_STREAM_PREMATURE_CLOSE', async (t) => {
  const { cache } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const hit = await cache.get('key')
  let writes = 0
  const out = new Writable({
    write (chunk, encoding, callback) {
      if (++writes === 3) this.destroy()
      setImmediate(callback)
    },
  })
  const err = await t.throwsAsync(hit.body.writeTo(out))
  t.is(err.code, 'ERR_STREAM_PREMATURE_CLOSE')
  t.true(hit.body.destroyed)
})

test('a writable already ended or destroyed: rejects, the body is closed', async (t) => {
  const { cache } = await cacheWith(t, 1 * MiB, { memory: 0 })
  const ended = new KeepingWritable()
  ended.end()
  const hit = await cache.get('key')
  const err = await t.throwsAsync(hit.body.writeTo(ended))
  t.is(err.code, 'ERR_STREAM_WRITE_AFTER_END')
  t.true(hit.body.destroyed)

  const destroyed = new KeepingWritable()
  destroyed.destroy()
  const again = await cache.get('key')
  t.is((await t.throwsAsync(again.body.writeTo(destroyed))).code, 'ERR_STREAM_DESTROYED')
  t.true(again.body.destroyed)
})

test('ERR_INVALID_STATE: a body already read through the stream, written twice, or read while written', async (t) => {
  const { cache, body } = await cacheWith(t, 5 * MiB + 7, { memory: 0 })
  const streamed = await cache.get('key')
  streamed.body.read(0)
  const first = await t.throwsAsync(streamed.body.writeTo(new KeepingWritable()))
  t.is(first.code, 'ERR_INVALID_STATE')
  t.true((await readAll(streamed.body)).body.equals(body), 'the stream reads on untouched')

  const twice = await cache.get('key')
  const writing = twice.body.writeTo(new KeepingWritable())
  const second = await t.throwsAsync(twice.body.writeTo(new KeepingWritable()))
  t.is(second.code, 'ERR_INVALID_STATE')
  t.is(await writing, body.length)
  const after = await t.throwsAsync(twice.body.writeTo(new KeepingWritable()))
  t.is(after.code, 'ERR_INVALID_STATE', 'a body written already')

  const both = await cache.get('key')
  const written = both.body.writeTo(new KeepingWritable({ callbackDelay: 1 }))
  const streamErr = new Promise((resolve) => both.body.once('error', resolve))
  both.body.resume()
  t.is((await streamErr).code, 'ERR_INVALID_STATE')
  await t.throwsAsync(written)
})

test('bad arguments reject with a TypeError and leave the body unread', async (t) => {
  const { cache, body } = await cacheWith(t, 1 * MiB, { memory: 0 })
  const hit = await cache.get('key')
  for (const writable of [undefined, null, 'file', {}, { write () {}, end () {} }, [new PassThrough()]]) {
    const err = await t.throwsAsync(hit.body.writeTo(writable))
    t.true(err instanceof TypeError)
    t.is(err.code, 'ERR_INVALID_ARG_TYPE')
  }
  for (const options of [null, 'end', 1, { end: 'yes' }, { end: 0 }]) {
    const err = await t.throwsAsync(hit.body.writeTo(new KeepingWritable(), options))
    t.true(err instanceof TypeError)
    t.is(err.code, 'ERR_INVALID_ARG_TYPE')
  }
  const out = new KeepingWritable()
  t.is(await hit.body.writeTo(out), body.length)
  t.true(out.bytes.equals(body))
})

test('back-to-back large writes reuse one ring and stay correct', async (t) => {
  const { cache, body } = await cacheWith(t, 3 * MiB + 5, { memory: 0 })
  const outs = [new KeepingWritable({ highWaterMark: 1 }), new KeepingWritable({ callbackDelay: 1, highWaterMark: 4 * MiB })]
  // Two at once (one takes the spare ring, the other a fresh one), then one after the other.
  const results = await Promise.all(outs.map(async (out) => (await cache.get('key')).body.writeTo(out)))
  t.deepEqual(results, [body.length, body.length])
  for (const out of outs) {
    t.true(out.bytes.equals(body))
    t.is(out.changed, 0)
  }
  const again = new KeepingWritable({ callbackDelay: 1, highWaterMark: 4 * MiB })
  await (await cache.get('key')).body.writeTo(again)
  t.true(again.bytes.equals(body))
  t.is(again.changed, 0)
})
