'use strict'
// cacheInterceptor misses: the body streams to the caller while it is written to the cache;
// nothing partial is ever stored.
const test = require('ava')
const { fetch, request } = require('undici')
const {
  startOrigin, cachingAgent, tempCache, bytes, sleep, withWriteStreams, walk,
} = require('./helpers/interceptor-origin')
const path = require('node:path')

const HALF = 96 * 1024

test('a miss streams the body to the caller as it arrives while storing it; the next request is a HIT', async (t) => {
  const body = bytes(2 * HALF)
  let originDone = false
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream' })
    res.write(body.subarray(0, HALF))
    setTimeout(() => {
      originDone = true
      res.end(body.subarray(HALF))
    }, 300)
  })
  const { cache, agent } = await cachingAgent(t)

  const res = await fetch(origin.url('/data'), { dispatcher: agent })
  t.is(res.headers.get('x-cache'), 'MISS')
  t.is(res.headers.get('x-cache-lookup'), 'MISS')
  const reader = res.body.getReader()
  const chunks = []
  let received = 0
  while (received < HALF) {
    const { value } = await reader.read()
    chunks.push(value)
    received += value.length
  }
  t.false(originDone, 'the first half reached the caller before the origin sent the rest')
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  t.true(originDone)
  t.deepEqual(Buffer.concat(chunks), body)

  const key = `GET ${origin.url('/data')}`
  t.deepEqual(cache.keys(), [key])
  const stored = await cache.get(key)
  const storedBody = Buffer.concat(await stored.body.toArray())
  t.deepEqual(storedBody, body)
  t.is(stored.status, 200)
  t.is(stored.headers['content-type'], 'application/octet-stream')

  const again = await fetch(origin.url('/data'), { dispatcher: agent })
  t.is(again.headers.get('x-cache'), 'HIT')
  t.is(again.headers.get('x-cache-lookup'), 'HIT')
  t.deepEqual(Buffer.from(await again.arrayBuffer()), body)
  t.is(origin.hits(), 1, 'no new origin request')
})

for (const chunked of [false, true]) {
  test(`a body over maxBodySize (${chunked ? 'chunked' : 'with content-length'}) reaches the caller whole and is not stored`, async (t) => {
    const body = bytes(300 * 1024, 2)
    const origin = await startOrigin(t, (req, res) => {
      res.writeHead(200, { 'cache-control': 'max-age=60', ...(!chunked && { 'content-length': body.length }) })
      res.write(body.subarray(0, 1000))
      setTimeout(() => res.end(body.subarray(1000)), 20)
    })
    const { cache, agent } = await cachingAgent(t, {}, { maxBodySize: 100 * 1024 })
    for (let i = 1; i <= 2; i++) {
      const res = await fetch(origin.url('/big'), { dispatcher: agent })
      t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
      t.is(res.headers.get('x-cache'), 'MISS')
      t.is(origin.hits(), i)
    }
    t.deepEqual(cache.keys(), [])
    t.deepEqual(walk(path.join(cache.dir, 'content-v2')), [])
  })
}

test('an origin that drops the connection mid-body: the caller gets the error, nothing is stored', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': 200000 })
      res.write(bytes(50000))
      setTimeout(() => res.socket.destroy(), 50)
    } else {
      res.writeHead(200, { 'cache-control': 'max-age=60' })
      res.end('second')
    }
  })
  const { cache, agent } = await cachingAgent(t)
  const res = await fetch(origin.url('/drop'), { dispatcher: agent })
  t.is(res.headers.get('x-cache'), 'MISS')
  await t.throwsAsync(res.arrayBuffer())
  await sleep(20)
  t.deepEqual(cache.keys(), [])
  t.deepEqual(walk(path.join(cache.dir, 'content-v2')), [])

  const next = await fetch(origin.url('/drop'), { dispatcher: agent })
  t.is(await next.text(), 'second')
  t.is(next.headers.get('x-cache'), 'MISS')
  t.is(origin.hits(), 2)
})

test('a cache write error never reaches the caller, and nothing is stored', async (t) => {
  const body = bytes(256 * 1024, 3)
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.write(body.subarray(0, 1024))
    setTimeout(() => res.end(body.subarray(1024)), 20)
  })
  const real = await tempCache(t)
  let writes = 0
  const cache = withWriteStreams(real, (ws) => {
    const original = ws._write
    ws._write = function (chunk, encoding, callback) {
      if (++writes === 2) return callback(Object.assign(new Error('simulated disk failure'), { code: 'EIO' }))
      return original.call(this, chunk, encoding, callback)
    }
    ws._writev = null
  })
  const { agent } = await cachingAgent(t, { cache })
  const res = await fetch(origin.url('/eio'), { dispatcher: agent })
  t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
  t.true(writes >= 2)
  t.deepEqual(real.keys(), [])

  const again = await request(origin.url('/eio'), { dispatcher: agent })
  t.deepEqual(Buffer.from(await again.body.arrayBuffer()), body)
  t.is(origin.hits(), 2)
})

test('a stalled cache write is abandoned after cacheWriteTimeout: the caller is not held up', async (t) => {
  const body = bytes(1024 * 1024, 4)
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(body)
  })
  const real = await tempCache(t)
  let stalled = 0
  const cache = withWriteStreams(real, (ws) => {
    ws._write = () => { stalled++ } // never calls back: a disk that hangs
    ws._writev = null
  })
  const { agent } = await cachingAgent(t, { cache, cacheWriteTimeout: 150 })
  const started = Date.now()
  const res = await fetch(origin.url('/stall'), { dispatcher: agent })
  t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
  t.true(stalled >= 1)
  t.true(Date.now() - started < 30_000, 'without giving up, the response would never finish')
  t.deepEqual(real.keys(), [])
})

test('a slow disk sets the pace without unbounded buffering, and the entry is stored', async (t) => {
  const body = bytes(1536 * 1024, 5)
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(body)
  })
  const real = await tempCache(t)
  let maxBuffered = 0
  const cache = withWriteStreams(real, (ws) => {
    const write = ws._write
    const writev = ws._writev
    ws._write = function (chunk, encoding, callback) {
      maxBuffered = Math.max(maxBuffered, this.writableLength)
      setTimeout(() => write.call(this, chunk, encoding, callback), 2)
    }
    ws._writev = function (chunks, callback) {
      maxBuffered = Math.max(maxBuffered, this.writableLength)
      setTimeout(() => writev.call(this, chunks, callback), 2)
    }
  })
  // A generous timeout: this test is about pacing, not about giving up (see the test above).
  const { agent } = await cachingAgent(t, { cache, cacheWriteTimeout: 30_000 })
  const res = await fetch(origin.url('/slow'), { dispatcher: agent })
  t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
  // The write stream's high-water mark is 128 KiB; one socket read on top of it at most.
  t.true(maxBuffered <= 512 * 1024, `buffered ${maxBuffered} bytes`)
  t.deepEqual(real.keys(), [`GET ${origin.url('/slow')}`])
  const hit = await fetch(origin.url('/slow'), { dispatcher: agent })
  t.is(hit.headers.get('x-cache'), 'HIT')
  t.deepEqual(Buffer.from(await hit.arrayBuffer()), body)
  t.is(origin.hits(), 1)
})

test('responses without freshness or validators are not stored', async (t) => {
  const origin = await startOrigin(t, (req, res) => res.end('plain'))
  const { cache, agent } = await cachingAgent(t)
  for (let i = 0; i < 2; i++) {
    const res = await fetch(origin.url('/plain'), { dispatcher: agent })
    t.is(await res.text(), 'plain')
    t.is(res.headers.get('x-cache'), 'MISS')
  }
  t.is(origin.hits(), 2)
  t.deepEqual(cache.keys(), [])
})
