'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const { Readable, Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { once } = require('node:events')
const { KiB, MiB, sri, readBody, contentFiles, tmpFiles, tempCache, sleep } = require('./helpers/util')

test('chunks written to createWriteStream are committed; committed resolves with size and integrity', async (t) => {
  const cache = await tempCache(t)
  const parts = [crypto.randomBytes(100 * KiB), 'ünïcode text', new Uint8Array([1, 2, 3]), crypto.randomBytes(1)]
  const expected = Buffer.concat(parts.map((p) => typeof p === 'string' ? Buffer.from(p) : Buffer.from(p)))
  const ws = cache.createWriteStream('k', {
    status: 206,
    headers: { 'Content-Range': 'bytes 0-9/10', 'Set-Cookie': ['a=1', 'b=2'] },
    url: 'https://example.com/ws',
    metadata: { via: 'stream' },
  })
  t.is(typeof ws.write, 'function')
  t.true(ws instanceof Writable)
  t.true(ws.committed instanceof Promise)
  for (const part of parts) ws.write(part)
  t.false(cache.has('k'), 'nothing is visible before the stream ends')
  ws.end()
  const info = await ws.committed
  t.deepEqual(info, { size: expected.length, integrity: sri(expected) })

  const hit = await cache.get('k')
  t.is(hit.status, 206)
  t.deepEqual(hit.headers, { 'content-range': 'bytes 0-9/10', 'set-cookie': ['a=1', 'b=2'] })
  t.is(hit.url, 'https://example.com/ws')
  t.deepEqual(hit.metadata, { via: 'stream' })
  t.is(hit.size, expected.length)
  t.true((await readBody(hit)).equals(expected))
})

test("'finish' fires only once the entry is readable", async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(2 * MiB)
  const ws = cache.createWriteStream('k', { status: 200 })
  ws.end(data)
  await once(ws, 'finish')
  t.true(cache.has('k'))
  const hit = cache.getSync('k')
  t.true((await readBody(hit)).equals(data))
  t.deepEqual(await ws.committed, { size: data.length, integrity: sri(data) })
})

test('a write stream can be the target of pipeline', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(5 * MiB + 3)
  const pieces = []
  for (let i = 0; i < data.length; i += 100_000) pieces.push(data.subarray(i, i + 100_000))
  const ws = cache.createWriteStream('piped', { status: 200 })
  await pipeline(Readable.from(pieces), ws)
  t.is((await ws.committed).size, data.length)
  t.true((await readBody(await cache.get('piped'))).equals(data))
})

test('an empty write stream commits an empty body', async (t) => {
  const cache = await tempCache(t)
  const ws = cache.createWriteStream('empty', { status: 204 })
  ws.end()
  t.deepEqual(await ws.committed, { size: 0, integrity: sri(Buffer.alloc(0)) })
  const hit = await cache.get('empty')
  t.is(hit.status, 204)
  t.is((await readBody(hit)).length, 0)
})

test('destroying a write stream mid-way stores nothing and keeps the old entry', async (t) => {
  const cache = await tempCache(t)
  const old = crypto.randomBytes(10 * KiB)
  await cache.put('k', { status: 200, body: old })

  const ws = cache.createWriteStream('k', { status: 200 })
  ws.write(crypto.randomBytes(300 * KiB))
  ws.write(crypto.randomBytes(300 * KiB))
  await sleep(20)
  ws.destroy()
  const err = await t.throwsAsync(ws.committed)
  t.is(err.code, 'ERR_STREAM_DESTROYED')
  await sleep(20)
  t.true((await readBody(await cache.get('k'))).equals(old))
  t.is(contentFiles(cache.dir).length, 1)
  t.deepEqual(tmpFiles(cache.dir), [])

  // Destroying with an error rejects committed with that error; a new key stays absent.
  const ws2 = cache.createWriteStream('new', { status: 200 })
  ws2.on('error', () => {})
  ws2.write(crypto.randomBytes(100 * KiB))
  const boom = new Error('client went away')
  ws2.destroy(boom)
  t.is(await t.throwsAsync(ws2.committed), boom)
  await sleep(20)
  t.is(await cache.get('new'), null)
  t.false(cache.has('new'))
  t.deepEqual(tmpFiles(cache.dir), [])
  t.is(cache.entryCount(), 1)
})

test('destroying right after end() (before the commit starts) stores nothing', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(1 * MiB)
  const ws = cache.createWriteStream('racy', { status: 200 })
  ws.on('error', () => {})
  ws.end(data)
  ws.destroy() // _final cannot have run yet: the write of `data` is still on the thread pool
  const err = await t.throwsAsync(ws.committed)
  t.is(err.code, 'ERR_STREAM_DESTROYED')
  await sleep(50)
  t.is(await cache.get('racy'), null)
  t.false(cache.has('racy'))
  t.deepEqual(tmpFiles(cache.dir), [])
  t.deepEqual(contentFiles(cache.dir), [])
})

// destroy() racing a commit already running on the thread pool: `committed` must report what
// happened (stored or not), never a rejection for an entry that landed.
test('a rejected `committed` always means nothing was stored (destroy racing the commit)', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(8 * MiB)
  for (let i = 0; i < 60; i++) {
    const key = `race-${i}`
    const ws = cache.createWriteStream(key, { status: 200 })
    ws.on('error', () => {})
    ws.end(data)
    await sleep(i % 15)
    ws.destroy()
    const outcome = await ws.committed.then((info) => info, (err) => err)
    await sleep(30)
    const hit = await cache.get(key)
    if (outcome instanceof Error) t.is(hit, null, `iteration ${i}: committed rejected but the entry was stored`)
    else t.truthy(hit)
  }
})

test('a write stream over maxBodySize errors with ERR_BODY_TOO_LARGE and stores nothing', async (t) => {
  const cache = await tempCache(t, { maxBodySize: 100 * KiB })
  const ws = cache.createWriteStream('k', { status: 200 })
  const errored = once(ws, 'error').then(([err]) => err)
  ws.write(crypto.randomBytes(60 * KiB))
  ws.write(crypto.randomBytes(60 * KiB))
  ws.end()
  const err = await errored
  t.is(err.code, 'ERR_BODY_TOO_LARGE')
  t.is(await t.throwsAsync(ws.committed), err)
  t.is(await cache.get('k'), null)
  t.deepEqual(tmpFiles(cache.dir), [])
  t.deepEqual(contentFiles(cache.dir), [])
})

test('writing after end is an error and does not change the committed entry', async (t) => {
  const cache = await tempCache(t)
  const ws = cache.createWriteStream('k', { status: 200 })
  ws.end('first')
  await ws.committed
  const err = await new Promise((resolve) => {
    ws.on('error', resolve)
    ws.write('more', (e) => e && resolve(e))
  })
  t.is(err.code, 'ERR_STREAM_WRITE_AFTER_END')
  t.is((await readBody(await cache.get('k'))).toString(), 'first')
})

test('several write streams to different keys interleave correctly', async (t) => {
  const cache = await tempCache(t)
  const bodies = Array.from({ length: 6 }, () => crypto.randomBytes(256 * KiB))
  const streams = bodies.map((_, i) => cache.createWriteStream(`w${i}`, { status: 200 }))
  for (let off = 0; off < 256 * KiB; off += 32 * KiB) {
    streams.forEach((ws, i) => ws.write(bodies[i].subarray(off, off + 32 * KiB)))
    await sleep(1)
  }
  streams.forEach((ws) => ws.end())
  const infos = await Promise.all(streams.map((ws) => ws.committed))
  infos.forEach((info, i) => t.is(info.integrity, sri(bodies[i])))
  for (let i = 0; i < bodies.length; i++) {
    t.true((await readBody(await cache.get(`w${i}`))).equals(bodies[i]))
  }
})
