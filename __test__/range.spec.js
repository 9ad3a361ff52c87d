'use strict'
// Range requests served from the cache: `cache.get(key, { range })`, and HTTP ranges through
// both undici fronts (cacheInterceptor; undici's interceptors.cache over StreamingCacheStore)
// against a real node:http origin. Bodies span several 64 KiB checksum blocks, so ranges hit
// block edges, and corruption is made by damaging the real content file on disk.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { Agent, interceptors, request } = require('undici')
const { StreamingCache } = require('..')
const { StreamingCacheStore } = require('../undici')
const { startOrigin, cachingAgent, walk } = require('./helpers/interceptor-origin')
const { seededBytes } = require('./helpers/util')

const B = 64 * 1024
const BODY = seededBytes(15, 5 * B + 1000)
const SIZE = BODY.length
const LAST_MODIFIED = new Date(Date.now() - 3600_000).toUTCString()

/** The content file holding BODY. */
function contentFile (dir) {
  const file = walk(path.join(dir, 'content-v2')).find((f) => fs.statSync(f).size === SIZE)
  if (file === undefined) throw new Error('no content file of the body')
  return file
}

/** Flips a byte of the real content file, inside block `block`. */
function corruptBlock (dir, block) {
  const file = contentFile(dir)
  const bytes = fs.readFileSync(file)
  bytes[block * B + 100] ^= 0xff
  fs.writeFileSync(file, bytes)
}

/** Resolves once `cache` holds an entry (responses are committed just after they end). */
async function stored (cache) {
  for (let i = 0; i < 500 && cache.keys().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  if (cache.keys().length === 0) throw new Error('nothing was stored')
}

/**
 * An origin serving BODY at every path with validators, answering Range itself (so what the
 * cache passes through is recognisable: `x-from: origin`). `cacheControl` per path.
 */
async function rangeOrigin (t, cacheControl = 'max-age=600') {
  return startOrigin(t, (req, res) => {
    const headers = {
      'cache-control': cacheControl,
      etag: '"v1"',
      'last-modified': LAST_MODIFIED,
      'content-type': 'application/octet-stream',
      'x-from': 'origin',
    }
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, headers)
      return res.end()
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (m !== null && req.method === 'GET') {
      const [start, end] = [Number(m[1]), Math.min(Number(m[2]), SIZE - 1)]
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${SIZE}` })
      return res.end(BODY.subarray(start, end + 1))
    }
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : BODY)
  })
}

async function get (agent, url, headers = {}, method = 'GET') {
  const res = await request(url, { dispatcher: agent, headers, method })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

// ---- the core API ------------------------------------------------------------------------

test('cache.get(key, { range }) streams just those bytes, at every edge', async (t) => {
  const cache = await StreamingCache.withTempDir()
  t.teardown(() => cache.close())
  await cache.put('k', { status: 200, headers: {}, body: BODY })
  const cases = [[0, 0], [0, B - 1], [B - 1, B], [B, 2 * B - 1], [SIZE - 1, SIZE - 1], [3, SIZE + 99], [2 * B + 7, 4 * B + 1]]
  for (const [start, end] of cases) {
    const hit = await cache.get('k', { range: [start, end] })
    const last = Math.min(end, SIZE - 1)
    t.deepEqual(hit.range, { start, end: last })
    t.is(hit.size, SIZE, 'size stays the whole body\'s')
    const chunks = []
    hit.body.on('data', (chunk) => chunks.push(chunk))
    await new Promise((resolve, reject) => hit.body.on('end', resolve).on('error', reject))
    t.true(chunks.every((c) => c.length <= B), 'chunks of at most 64 KiB')
    t.true(Buffer.concat(chunks).equals(BODY.subarray(start, last + 1)), `${start}-${end}`)
  }
  const beyond = cache.getSync('k', { range: [SIZE, SIZE + 10] })
  t.is(beyond.range, null)
  t.is((await beyond.body.toArray()).length, 0)
  t.is(await cache.get('absent', { range: [0, 1] }), null)
  t.is((await cache.get('k')).range, undefined, 'a plain get has no range')
})

test('cache.get range option: TypeError / RangeError for bad input', async (t) => {
  const cache = await StreamingCache.withTempDir()
  t.teardown(() => cache.close())
  await cache.put('k', { status: 200, headers: {}, body: BODY })
  for (const range of ['0-1', [1], [0, 1, 2], { 0: 0, 1: 1 }, [0, '1']]) {
    t.throws(() => cache.getSync('k', { range }), { instanceOf: TypeError }, JSON.stringify(range))
  }
  for (const range of [[-1, 3], [0.5, 3], [5, 2], [0, Infinity], [NaN, 1], [0, 2 ** 53]]) {
    t.throws(() => cache.getSync('k', { range }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }, String(range))
  }
  t.throws(() => cache.getSync('k', 'bytes=0-1'), { instanceOf: TypeError })
})

test('a range of a body held in RAM is sliced from it', async (t) => {
  const cache = await StreamingCache.withTempDir(undefined, { memory: { maxSize: 4 * 1024 * 1024, maxEntrySize: 1024 * 1024 } })
  t.teardown(() => cache.close())
  await cache.put('k', { status: 200, headers: {}, body: BODY })
  await (await cache.get('k')).body.toArray() // read whole: admitted to the RAM tier
  t.is(cache.memoryUsage().entries, 1)
  fs.rmSync(contentFile(cache.dir)) // proves the range does not come from disk
  const hit = await cache.get('k', { range: [B - 2, B + 1] })
  t.deepEqual(hit.range, { start: B - 2, end: B + 1 })
  t.true(Buffer.concat(await hit.body.toArray()).equals(BODY.subarray(B - 2, B + 2)))
})

test('a corrupt block fails the ranges touching it and drops the entry; other ranges are served', async (t) => {
  const cache = await StreamingCache.withTempDir()
  t.teardown(() => cache.close())
  await cache.put('k', { status: 200, headers: {}, body: BODY })
  corruptBlock(cache.dir, 3)
  const outside = await cache.get('k', { range: [0, 3 * B - 1] })
  t.true(Buffer.concat(await outside.body.toArray()).equals(BODY.subarray(0, 3 * B)))
  t.true(cache.has('k'))
  const inside = await cache.get('k', { range: [3 * B + 5, 3 * B + 10] })
  await t.throwsAsync(inside.body.toArray(), { code: 'ERR_CACHE_INTEGRITY' })
  t.false(cache.has('k'), 'dropped, as after a corrupt full read')
  t.is(await cache.get('k', { range: [0, 1] }), null)
})

// ---- cacheInterceptor ---------------------------------------------------------------------

test('cacheInterceptor: ranges at 0, block edges, the last byte, suffixes and beyond the end', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  t.is((await get(agent, url)).body.length, SIZE)
  await stored(cache)
  const cases = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-65535', 0, B - 1],
    ['bytes=65535-65536', B - 1, B],
    ['bytes=65536-131071', B, 2 * B - 1],
    [`bytes=${SIZE - 1}-${SIZE - 1}`, SIZE - 1, SIZE - 1],
    [`bytes=${SIZE - 1}-`, SIZE - 1, SIZE - 1],
    ['bytes=-1', SIZE - 1, SIZE - 1],
    ['bytes=-70000', SIZE - 70000, SIZE - 1],
    [`bytes=-${SIZE + 5}`, 0, SIZE - 1],
    ['bytes=100000-', 100000, SIZE - 1],
    [`bytes=200000-${SIZE + 1000}`, 200000, SIZE - 1],
    ['bytes = 10 - 20', 10, 20],
  ]
  for (const [range, start, end] of cases) {
    const res = await get(agent, url, { range })
    t.is(res.status, 206, range)
    t.is(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`, range)
    t.is(res.headers['content-length'], String(end - start + 1))
    t.is(res.headers['content-type'], 'application/octet-stream')
    t.is(res.headers['x-cache'], 'HIT')
    t.true(res.body.equals(BODY.subarray(start, end + 1)), range)
  }
  for (const range of [`bytes=${SIZE}-`, `bytes=${SIZE + 10}-${SIZE + 20}`, 'bytes=-0']) {
    const res = await get(agent, url, { range })
    t.is(res.status, 416, range)
    t.is(res.headers['content-range'], `bytes */${SIZE}`)
    t.is(res.body.length, 0)
  }
  // Not one satisfiable bytes range the cache slices: the full stored 200.
  for (const range of ['bytes=0-1,5-6', 'items=0-1', 'bytes=5-2', 'bytes=abc']) {
    const res = await get(agent, url, { range })
    t.is(res.status, 200, range)
    t.true(res.body.equals(BODY), range)
  }
  t.is(origin.hits(), 1, 'everything after the first request came from the cache')
})

test('cacheInterceptor: If-Range with a matching strong validator gives the part, otherwise the whole', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(cache)
  const part = BODY.subarray(B, B + 10)
  const cases = [
    ['"v1"', 206],
    ['"v2"', 200],
    ['W/"v1"', 200], // weak: never matches (strong comparison)
    [LAST_MODIFIED, 206], // the stored Date is an hour after Last-Modified: strong
    [new Date(Date.parse(LAST_MODIFIED) - 1000).toUTCString(), 200],
    ['yesterday', 200],
  ]
  for (const [ifRange, status] of cases) {
    const res = await get(agent, url, { range: `bytes=${B}-${B + 9}`, 'if-range': ifRange })
    t.is(res.status, status, ifRange)
    t.true(res.body.equals(status === 206 ? part : BODY), ifRange)
  }
  t.is(origin.hits(), 1)
})

test('cacheInterceptor: HEAD with Range is answered as a HEAD, from the cache', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(cache)
  const res = await get(agent, url, { range: 'bytes=0-9' }, 'HEAD')
  t.is(res.status, 200)
  t.is(res.headers['content-length'], String(SIZE))
  t.is(res.headers['content-range'], undefined)
  t.is(res.body.length, 0)
  t.is(res.headers['x-cache'], 'HIT')
  t.is(origin.hits(), 1)
})

test('cacheInterceptor: a stale entry is revalidated first (without Range), then the part is served', async (t) => {
  const origin = await rangeOrigin(t, 'no-cache')
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(cache)
  const res = await get(agent, url, { range: 'bytes=70000-70009' })
  t.is(res.status, 206)
  t.true(res.body.equals(BODY.subarray(70000, 70010)))
  t.is(origin.hits(), 2)
  const revalidation = origin.requests[1]
  t.is(revalidation.headers['if-none-match'], '"v1"')
  t.is(revalidation.headers.range, undefined, 'the stored whole is revalidated, not a part')
})

test('cacheInterceptor: with nothing stored, a Range request goes to the origin; its 206 is kept as a part only', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const res = await get(agent, origin.url('/file'), { range: 'bytes=0-9' })
  t.is(res.status, 206)
  t.is(res.headers['x-from'], 'origin')
  t.true(res.body.equals(BODY.subarray(0, 10)))
  await stored(cache)
  t.true(cache.keys().every((key) => key.endsWith('\tpartial')), 'stored as a part (range-partial.spec.js)')
  // A part never answers a full request.
  const whole = await get(agent, origin.url('/file'))
  t.is(whole.status, 200)
  t.is(whole.headers['x-cache'], 'MISS')
  t.true(whole.body.equals(BODY))
  t.is(origin.hits(), 2)
})

test('cacheInterceptor: a corrupt block outside the range does not fail it; inside, the response fails and the entry goes', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(cache)
  corruptBlock(cache.dir, 4)
  // Blocks 0-2, streamed (beyond verifyBeforeServing).
  const outside = await get(agent, url, { range: `bytes=0-${3 * B - 1}` })
  t.is(outside.status, 206)
  t.true(outside.body.equals(BODY.subarray(0, 3 * B)))
  t.is(origin.hits(), 1)
  // Blocks 3-4: the response starts, then fails with the integrity error.
  const res = await request(url, { dispatcher: agent, headers: { range: `bytes=${3 * B}-${5 * B - 1}` } })
  t.is(res.statusCode, 206)
  await t.throwsAsync(res.body.arrayBuffer(), { code: 'ERR_CACHE_INTEGRITY' })
  t.deepEqual(cache.keys(), [], 'the corrupt entry is dropped')
  const after = await get(agent, url, { range: 'bytes=0-9' })
  t.is(after.headers['x-from'], 'origin')
  t.is(origin.hits(), 2)
})

test('cacheInterceptor: a small range inside a corrupt block is checked before serving and goes to the origin', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(cache)
  corruptBlock(cache.dir, 2)
  const res = await get(agent, url, { range: `bytes=${2 * B}-${2 * B + 999}` })
  t.is(res.status, 206)
  t.is(res.headers['x-from'], 'origin', 'answered by the origin, invisibly')
  t.true(res.body.equals(BODY.subarray(2 * B, 2 * B + 1000)))
  t.deepEqual(cache.keys(), [], 'the corrupt entry is dropped')
})

// ---- StreamingCacheStore in undici's interceptors.cache -----------------------------------

async function storeAgent (t) {
  const store = new StreamingCacheStore()
  const agent = new Agent().compose(interceptors.cache({ store }))
  t.teardown(async () => {
    await agent.close()
    await store.cache.close()
    fs.rmSync(store.location, { recursive: true, force: true })
  })
  return { store, agent }
}

test('StreamingCacheStore: ranges, 416 and If-Range served from the stored response', async (t) => {
  const origin = await rangeOrigin(t)
  const { store, agent } = await storeAgent(t)
  const url = origin.url('/file')
  t.is((await get(agent, url)).body.length, SIZE)
  await stored(store.cache)
  for (const [range, start, end] of [['bytes=0-0', 0, 0], ['bytes=65535-65536', B - 1, B], ['bytes=-10', SIZE - 10, SIZE - 1], ['bytes=300000-', 300000, SIZE - 1]]) {
    const res = await get(agent, url, { range })
    t.is(res.status, 206, range)
    t.is(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`)
    t.is(res.headers['content-length'], String(end - start + 1))
    t.true(res.body.equals(BODY.subarray(start, end + 1)), range)
  }
  const unsatisfiable = await get(agent, url, { range: `bytes=${SIZE}-` })
  t.is(unsatisfiable.status, 416)
  t.is(unsatisfiable.headers['content-range'], `bytes */${SIZE}`)
  const matching = await get(agent, url, { range: 'bytes=5-9', 'if-range': '"v1"' })
  t.is(matching.status, 206)
  t.true(matching.body.equals(BODY.subarray(5, 10)))
  const changed = await get(agent, url, { range: 'bytes=5-9', 'if-range': '"v0"' })
  t.is(changed.status, 200)
  t.true(changed.body.equals(BODY))
  t.is(origin.hits(), 1)
  // The stored response is still the whole one.
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.true(whole.body.equals(BODY))
})

test('StreamingCacheStore: a stale entry is revalidated, then the part is served and the entry stays whole', async (t) => {
  const origin = await rangeOrigin(t, 'max-age=0, must-revalidate')
  const { store, agent } = await storeAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(store.cache)
  const res = await get(agent, url, { range: 'bytes=100-199' })
  t.is(res.status, 206)
  t.true(res.body.equals(BODY.subarray(100, 200)))
  t.is(origin.requests[1].headers['if-none-match'], '"v1"')
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.true(whole.body.equals(BODY))
  t.is(origin.hits(), 3)
})

test('StreamingCacheStore: corrupt block outside the range is served around, inside fails the response', async (t) => {
  const origin = await rangeOrigin(t)
  const { store, agent } = await storeAgent(t)
  const url = origin.url('/file')
  await get(agent, url)
  await stored(store.cache)
  corruptBlock(store.location, 1)
  const outside = await get(agent, url, { range: `bytes=${2 * B}-${4 * B}` })
  t.is(outside.status, 206)
  t.true(outside.body.equals(BODY.subarray(2 * B, 4 * B + 1)))
  const res = await request(url, { dispatcher: agent, headers: { range: `bytes=${B}-${B + 10}` } })
  t.is(res.statusCode, 206)
  await t.throwsAsync(res.body.arrayBuffer(), { code: 'ERR_CACHE_INTEGRITY' })
  t.deepEqual(store.cache.keys(), [])
  t.is(origin.hits(), 1)
})
