'use strict'
// Stored partial responses (RFC 9111 3.3, lib/undici/partial.js): cacheInterceptor keeps the
// 206 an origin sends for a Range request it could not serve, answers later Range requests
// that part covers, and never answers a full request from it. Against a real node:http
// origin that serves ranges itself (`x-from: origin` marks what it sent).
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')
const { seededBytes } = require('./helpers/util')

const B = 64 * 1024
const BODY = seededBytes(21, 3 * B + 500)
const SIZE = BODY.length

/**
 * An origin answering `bytes=a-b` / `bytes=a-` / `bytes=-n` with a 206 of BODY (strong ETag
 * `etag`), anything else with the full 200. `options.truncate` cuts each 206 body to that
 * many bytes while its Content-Range still names the whole range; `options.honourIfRange`
 * answers a Range whose If-Range is not the current ETag with the full 200.
 */
async function rangeOrigin (t, { cacheControl = 'max-age=600', etag = () => '"v1"', truncate, honourIfRange = false } = {}) {
  return startOrigin(t, (req, res, n) => {
    const headers = { 'cache-control': cacheControl, etag: etag(n), 'content-type': 'application/octet-stream', 'x-from': 'origin' }
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '')
    const ifRangeFails = honourIfRange && req.headers['if-range'] !== undefined && req.headers['if-range'] !== headers.etag
    if (m === null || req.method !== 'GET' || ifRangeFails) {
      res.writeHead(200, headers)
      return res.end(req.method === 'HEAD' ? undefined : BODY)
    }
    let start = Number(m[1])
    let end = m[2] === '' ? SIZE - 1 : Math.min(Number(m[2]), SIZE - 1)
    if (m[1] === '') [start, end] = [SIZE - Number(m[2]), SIZE - 1]
    const body = BODY.subarray(start, end + 1)
    res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${SIZE}` })
    res.end(truncate === undefined ? body : body.subarray(0, truncate))
  })
}

async function get (agent, url, headers = {}, method = 'GET') {
  const res = await request(url, { dispatcher: agent, headers, method })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

/** Resolves once `cache` holds `count` entries (responses are committed just after they end). */
async function storedCount (cache, count = 1) {
  for (let i = 0; i < 500 && cache.keys().length < count; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  if (cache.keys().length < count) throw new Error('nothing was stored')
}

test('a 206 is stored; Range requests within it are served from it, at its edges and across blocks', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  const first = await get(agent, url, { range: `bytes=100-${2 * B + 99}` })
  t.is(first.status, 206)
  t.is(first.headers['x-from'], 'origin')
  await storedCount(cache)
  const cases = [[100, 100], [100, 2 * B + 99], [B - 1, B], [2 * B + 99, 2 * B + 99], [1000, 2 * B]]
  for (const [start, end] of cases) {
    const res = await get(agent, url, { range: `bytes=${start}-${end}` })
    t.is(res.status, 206, `${start}-${end}`)
    t.is(res.headers['x-cache'], 'HIT')
    t.is(res.headers['content-range'], `bytes ${start}-${end}/${SIZE}`)
    t.is(res.headers['content-length'], String(end - start + 1))
    t.is(res.headers.etag, '"v1"')
    t.true(res.body.equals(BODY.subarray(start, end + 1)), `${start}-${end}`)
  }
  t.is(origin.hits(), 1, 'all served from the part')
})

test('a range the part does not hold goes to the origin, and its 206 replaces the part', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-999' })
  await storedCount(cache)
  // One byte past the part, a suffix, an open end: none held whole.
  for (const range of ['bytes=500-1000', 'bytes=-100', 'bytes=10-']) {
    const res = await get(agent, url, { range })
    t.is(res.headers['x-from'], 'origin', range)
  }
  t.is(origin.hits(), 4)
  // The last one (10-) is the part now: 0-9 is not held any more, 10-20 is.
  t.is((await get(agent, url, { range: 'bytes=10-20' })).headers['x-cache'], 'HIT')
  const gone = await get(agent, url, { range: 'bytes=0-9' })
  t.is(gone.headers['x-from'], 'origin')
  t.true(gone.body.equals(BODY.subarray(0, 10)))
})

test('a full request is never answered from a part', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  // The part holds every byte, and still is not a complete response.
  await get(agent, url, { range: `bytes=0-${SIZE - 1}` })
  await storedCount(cache)
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.is(whole.headers['x-from'], 'origin')
  t.true(whole.body.equals(BODY))
  t.is(origin.hits(), 2)
  // The full 200 is stored now and answers ranges itself.
  await storedCount(cache, 2)
  const part = await get(agent, url, { range: 'bytes=5-9' })
  t.is(part.headers['x-cache'], 'HIT')
  t.true(part.body.equals(BODY.subarray(5, 10)))
  t.is(origin.hits(), 2)
})

test('a 206 whose body is shorter than its Content-Range serves only the bytes it holds', async (t) => {
  const origin = await rangeOrigin(t, { truncate: 50 })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=1000-1099' })
  await storedCount(cache)
  const held = await get(agent, url, { range: 'bytes=1000-1049' })
  t.is(held.headers['x-cache'], 'HIT')
  t.true(held.body.equals(BODY.subarray(1000, 1050)))
  const beyond = await get(agent, url, { range: 'bytes=1040-1050' })
  t.is(beyond.headers['x-from'], 'origin')
  t.is(origin.hits(), 2)
})

test('the same Range again gets the part as the origin sent it, even one shorter than its Content-Range', async (t) => {
  const origin = await rangeOrigin(t, { truncate: 50 })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  const first = await get(agent, url, { range: 'bytes=1000-1099' })
  await storedCount(cache)
  const again = await get(agent, url, { range: 'bytes=1000-1099' })
  t.is(again.headers['x-cache'], 'HIT')
  t.is(again.status, 206)
  t.is(again.headers['content-range'], first.headers['content-range'])
  t.true(again.body.equals(first.body))
  t.true(again.body.equals(BODY.subarray(1000, 1050)))
  // Spelled differently, or with an If-Range that does not hold: the origin.
  const other = await get(agent, url, { range: 'bytes=1000-1100' })
  t.is(other.headers['x-from'], 'origin')
  await storedCount(cache)
  const stale = await get(agent, url, { range: 'bytes=1000-1100', 'if-range': '"v0"' })
  t.is(stale.headers['x-from'], 'origin')
  t.is(origin.hits(), 3)
})

test('If-Range: the part serves a matching strong ETag; a mismatch or weak one goes to the origin', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-999' })
  await storedCount(cache)
  const match = await get(agent, url, { range: 'bytes=0-9', 'if-range': '"v1"' })
  t.is(match.headers['x-cache'], 'HIT')
  t.true(match.body.equals(BODY.subarray(0, 10)))
  t.is(origin.hits(), 1)
  for (const ifRange of ['"v2"', 'W/"v1"']) {
    const res = await get(agent, url, { range: 'bytes=0-9', 'if-range': ifRange })
    t.is(res.headers['x-from'], 'origin', ifRange)
  }
  t.is(origin.hits(), 3)
})

test('a part that is not fresh is not served; a 206 without a usable Content-Range is not stored', async (t) => {
  const stale = await rangeOrigin(t, { cacheControl: 'no-cache' })
  const { cache, agent } = await cachingAgent(t)
  await get(agent, stale.url('/file'), { range: 'bytes=0-99' })
  await storedCount(cache)
  t.is((await get(agent, stale.url('/file'), { range: 'bytes=0-9' })).headers['x-from'], 'origin')
  t.is(stale.hits(), 2)

  const odd = await startOrigin(t, (req, res) => {
    const ranges = { '/multi': 'bytes */3000', '/none': undefined, '/backwards': 'bytes 9-0/3000' }
    const headers = { 'cache-control': 'max-age=600', etag: '"v1"' }
    if (ranges[req.url] !== undefined) headers['content-range'] = ranges[req.url]
    res.writeHead(206, headers)
    res.end('0123456789')
  })
  const other = await cachingAgent(t)
  for (const p of ['/multi', '/none', '/backwards']) {
    await get(other.agent, odd.url(p), { range: 'bytes=0-9' })
    t.is((await get(other.agent, odd.url(p), { range: 'bytes=0-9' })).status, 206)
  }
  t.is(odd.hits(), 6, 'each went to the origin twice')
  t.deepEqual(other.cache.keys(), [])
})

test('a POST to the URL invalidates its part', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-99' })
  await storedCount(cache)
  await get(agent, url, {}, 'POST')
  t.deepEqual(cache.keys(), [])
  t.is((await get(agent, url, { range: 'bytes=0-9' })).headers['x-from'], 'origin')
})

// ---- combining parts (RFC 9111 3.4) ------------------------------------------------------

test('parts with the same strong ETag that touch or overlap are combined, new before or after the stored one', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: `bytes=${B}-${2 * B - 1}` })
  await storedCount(cache)
  // After it, touching: the stored bytes first, then the new ones.
  await get(agent, url, { range: `bytes=${2 * B}-${2 * B + 99}` })
  // Before it, overlapping: the new bytes, then the stored ones after them.
  await get(agent, url, { range: `bytes=1000-${B + 9}` })
  t.is(origin.hits(), 3)
  const across = await get(agent, url, { range: `bytes=1000-${2 * B + 99}` })
  t.is(across.headers['x-cache'], 'HIT')
  t.is(across.headers['content-range'], `bytes 1000-${2 * B + 99}/${SIZE}`)
  t.true(across.body.equals(BODY.subarray(1000, 2 * B + 100)))
  t.is(origin.hits(), 3)
  t.is(cache.keys().length, 1, 'one part')
  t.is((await get(agent, url)).headers['x-from'], 'origin', 'still not complete')
})

test('parts combined into every byte become the complete response, and the part goes', async (t) => {
  const origin = await rangeOrigin(t)
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: `bytes=0-${B - 1}` })
  await storedCount(cache)
  await get(agent, url, { range: `bytes=${B}-` })
  t.is(origin.hits(), 2)
  for (let i = 0; i < 500 && cache.keys().some((key) => key.endsWith('\tpartial')); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.deepEqual(cache.keys(), [`GET ${url}`])
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.is(whole.headers['x-cache'], 'HIT')
  t.is(whole.headers['content-length'], String(SIZE))
  t.is(whole.headers['content-range'], undefined)
  t.true(whole.body.equals(BODY))
  t.is((await get(agent, url, { range: 'bytes=-10' })).headers['x-cache'], 'HIT')
  t.is(origin.hits(), 2)
})

test('a part with another ETag, a weak one, or a gap replaces the stored part instead', async (t) => {
  for (const [name, etags, second] of [
    ['other ETag', ['"v1"', '"v2"'], 'bytes=100-199'],
    ['weak ETag', ['W/"v1"', 'W/"v1"'], 'bytes=100-199'],
    ['gap', ['"v1"', '"v1"'], 'bytes=101-199'],
  ]) {
    const origin = await rangeOrigin(t, { etag: (n) => etags[Math.min(n, 2) - 1] })
    const { cache, agent } = await cachingAgent(t)
    const url = origin.url('/file')
    await get(agent, url, { range: 'bytes=0-99' })
    await storedCount(cache)
    await get(agent, url, { range: second })
    t.is((await get(agent, url, { range: 'bytes=150-160' })).headers['x-cache'], 'HIT', name)
    t.is((await get(agent, url, { range: 'bytes=0-9' })).headers['x-from'], 'origin', `${name}: the old part went`)
  }
})

// ---- completing a stored part (complete-part.js) -------------------------------------------

/** Resolves once `cache` holds exactly `keys`. */
async function storedKeys (cache, keys) {
  for (let i = 0; i < 500 && JSON.stringify(cache.keys().sort()) !== JSON.stringify(keys); i++) await new Promise((resolve) => setTimeout(resolve, 10))
}

test('a full GET with the first bytes stored asks only for the rest (If-Range), gets the whole and stores it', async (t) => {
  const origin = await rangeOrigin(t, { honourIfRange: true })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: `bytes=0-${B + 99}` })
  await storedCount(cache)
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.is(whole.headers['content-length'], String(SIZE))
  t.is(whole.headers['content-range'], undefined)
  t.true(whole.body.equals(BODY))
  t.is(origin.requests[1].headers.range, `bytes=${B + 100}-`)
  t.is(origin.requests[1].headers['if-range'], '"v1"')
  await storedKeys(cache, [`GET ${url}`])
  t.deepEqual(cache.keys(), [`GET ${url}`], 'the complete response replaced the part')
  const hit = await get(agent, url)
  t.is(hit.headers['x-cache'], 'HIT')
  t.true(hit.body.equals(BODY))
  t.is(origin.hits(), 2)
})

test('completing: a changed representation (If-Range fails) is an ordinary miss', async (t) => {
  const origin = await rangeOrigin(t, { honourIfRange: true, etag: (n) => n === 1 ? '"v1"' : '"v2"' })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-999' })
  await storedCount(cache)
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.is(whole.headers.etag, '"v2"')
  t.true(whole.body.equals(BODY))
  t.is(origin.hits(), 2)
  await storedCount(cache, 2)
  t.is((await get(agent, url)).headers['x-cache'], 'HIT')
  t.is(origin.hits(), 2)
})

test('completing: an answer that is not the rest is dropped and the request sent again as it was', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    const headers = { 'cache-control': 'max-age=600', etag: '"v1"', 'x-from': 'origin' }
    if (n === 1) {
      res.writeHead(206, { ...headers, 'content-range': `bytes 0-99/${SIZE}` })
      return res.end(BODY.subarray(0, 100))
    }
    if (req.headers.range !== undefined) {
      // Another range than asked.
      res.writeHead(206, { ...headers, 'content-range': `bytes 200-299/${SIZE}` })
      return res.end(BODY.subarray(200, 300))
    }
    res.writeHead(200, headers)
    res.end(BODY)
  })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-99' })
  await storedCount(cache)
  const whole = await get(agent, url)
  t.is(whole.status, 200)
  t.true(whole.body.equals(BODY))
  t.is(origin.hits(), 3)
  t.is(origin.requests[2].headers.range, undefined)
})

test('completing: no strong ETag, or a part that does not start at 0, is not completed', async (t) => {
  for (const [etag, range] of [['W/"v1"', 'bytes=0-99'], ['"v1"', 'bytes=100-199']]) {
    const origin = await rangeOrigin(t, { etag: () => etag })
    const { cache, agent } = await cachingAgent(t)
    const url = origin.url('/file')
    await get(agent, url, { range })
    await storedCount(cache)
    const whole = await get(agent, url)
    t.true(whole.body.equals(BODY), etag + range)
    t.is(origin.requests[1].headers.range, undefined, etag + range)
  }
})

test('completing: the caller going away mid-body aborts the origin, stores nothing and leaves the part', async (t) => {
  let aborted
  const abortSeen = new Promise((resolve) => { aborted = resolve })
  const origin = await startOrigin(t, (req, res, n) => {
    const headers = { 'cache-control': 'max-age=600', etag: '"v1"', 'x-from': 'origin' }
    if (n === 1) {
      res.writeHead(206, { ...headers, 'content-range': `bytes 0-999/${SIZE}` })
      return res.end(BODY.subarray(0, 1000))
    }
    res.writeHead(206, { ...headers, 'content-range': `bytes 1000-${SIZE - 1}/${SIZE}` })
    if (n === 3) return res.end(BODY.subarray(1000))
    // The second: half the rest, then nothing until the cache lets go.
    res.write(BODY.subarray(1000, 50_000))
    res.on('close', () => aborted(res.writableFinished))
  })
  const { cache, agent } = await cachingAgent(t)
  const url = origin.url('/file')
  await get(agent, url, { range: 'bytes=0-999' })
  await storedCount(cache)
  const keys = cache.keys()
  const res = await request(url, { dispatcher: agent })
  t.is(res.statusCode, 200)
  const reader = res.body[Symbol.asyncIterator]()
  const { value } = await reader.next()
  t.true(value.equals(BODY.subarray(0, value.length)), 'the stored bytes come first')
  res.body.destroy()
  t.false(await abortSeen, 'the origin\'s response was cut off')
  t.deepEqual(cache.keys(), keys, 'nothing stored, the part kept')
  const again = await get(agent, url)
  t.true(again.body.equals(BODY))
  t.is(origin.hits(), 3)
})
