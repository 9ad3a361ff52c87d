'use strict'
// cacheInterceptor: what is stored and what is fresh, as http-cache-semantics decides.
const test = require('ava')
const { request } = require('undici')
const fs = require('node:fs')
const { startOrigin, cachingAgent, sleep, walk } = require('./helpers/interceptor-origin')

const httpDate = (offsetMs) => new Date(Date.now() + offsetMs).toUTCString()

/**
 * Two identical requests; returns the second's x-cache, the origin hits and what was stored.
 * `response` is the origin's headers (or a function of the request number).
 */
async function twice (t, { response, requestHeaders = {}, options = {}, pause = 0, status = 200 }) {
  const origin = await startOrigin(t, (req, res, n) => {
    const headers = typeof response === 'function' ? response(n, req) : response
    res.writeHead(typeof status === 'function' ? status(n, req) : status, headers)
    res.end(`body ${n}`)
  })
  const { cache, agent } = await cachingAgent(t, options)
  const first = await request(origin.url('/r'), { headers: requestHeaders, dispatcher: agent })
  await first.body.text()
  const stored = cache.keys().length
  if (pause) await sleep(pause)
  const second = await request(origin.url('/r'), { headers: requestHeaders, dispatcher: agent })
  const body = await second.body.text()
  return { xcache: second.headers['x-cache'], lookup: second.headers['x-cache-lookup'], hits: origin.hits(), stored, body, origin, cache, second }
}

const cases = [
  // [title, spec, expected { xcache, hits, stored }]
  ['max-age is fresh', { response: { 'cache-control': 'max-age=60' } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['no-store is never stored', { response: { 'cache-control': 'no-store, max-age=60' } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['a no-store request is not stored', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { 'cache-control': 'no-store' } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['private is stored by a private cache (the default)', { response: { 'cache-control': 'private, max-age=60' } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['private is not stored by a shared cache', { response: { 'cache-control': 'private, max-age=60' }, options: { shared: true } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['Authorization: stored by a private cache', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { authorization: 'Bearer x' } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['Authorization: not stored by a shared cache', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { authorization: 'Bearer x' }, options: { shared: true } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['Authorization + public: stored by a shared cache', { response: { 'cache-control': 'public, max-age=60' }, requestHeaders: { authorization: 'Bearer x' }, options: { shared: true } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['s-maxage applies to a shared cache', { response: { 'cache-control': 's-maxage=60, max-age=0' }, options: { shared: true } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['s-maxage is ignored by a private cache', { response: { 'cache-control': 's-maxage=60, max-age=0', etag: '"e"' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['a no-cache request revalidates a fresh entry', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { 'cache-control': 'no-cache' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['Pragma: no-cache revalidates a fresh entry', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { pragma: 'no-cache' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['a request max-age=0 revalidates', { response: { 'cache-control': 'max-age=60' }, requestHeaders: { 'cache-control': 'max-age=0' }, pause: 20 }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['a no-cache response is revalidated every time', { response: { 'cache-control': 'no-cache', etag: '"a"' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['Expires in the future is fresh', { response: { expires: httpDate(3600_000), date: httpDate(0) } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['Expires in the past is stale', { response: { expires: httpDate(-3600_000), date: httpDate(0), etag: '"x"' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['max-age wins over Expires', { response: { 'cache-control': 'max-age=0', expires: httpDate(3600_000), etag: '"y"' } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['Last-Modified long ago gives heuristic freshness', { response: { 'last-modified': httpDate(-30 * 86400_000), date: httpDate(0) } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['no freshness, no validator: not stored', { response: {} }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['a 404 with max-age is cached', { response: { 'cache-control': 'max-age=60' }, status: 404 }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['a 500 with max-age is cached (explicit freshness makes any final status storable)', { response: { 'cache-control': 'max-age=60' }, status: 500 }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['a 500 without explicit freshness is not stored', { response: { 'last-modified': httpDate(-30 * 86400_000) }, status: 500 }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['a 302 without explicit freshness is not stored', { response: { location: '/elsewhere' }, status: 302 }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['maxTtl caps freshness', { response: { 'cache-control': 'max-age=600' }, options: { maxTtl: 30 }, pause: 60 }, { xcache: 'MISS', hits: 2, stored: 1 }],
  // Heuristic freshness (RFC 9111 4.2.2, lib/heuristic-option.js): 10% of the time since
  // Last-Modified, at least 10 s, at most a day by default.
  ['heuristic freshness lasts at least 10 s (modified 5 s ago: 10% would be 0.5 s)', { response: { 'last-modified': httpDate(-5000), date: httpDate(0) }, pause: 1200 }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['heuristic: { min: 0 } leaves 10% of 5 s', { response: { 'last-modified': httpDate(-5000), date: httpDate(0) }, options: { heuristic: { min: 0 } }, pause: 1200 }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['heuristic: { max } caps it', { response: { 'last-modified': httpDate(-30 * 86400_000), date: httpDate(0) }, options: { heuristic: { min: 0, max: 300 } }, pause: 400 }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['heuristic: false gives no heuristic freshness', { response: { 'last-modified': httpDate(-30 * 86400_000), date: httpDate(0) }, options: { heuristic: false } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['heuristic: { fraction } sets the share', { response: { 'last-modified': httpDate(-1000_000), date: httpDate(0) }, options: { heuristic: { fraction: 0.0001, min: 0 } }, pause: 400 }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['the 10 s floor never lengthens explicit freshness', { response: { 'cache-control': 'max-age=0', 'last-modified': httpDate(-5000), date: httpDate(0) } }, { xcache: 'MISS', hits: 2, stored: 1 }],
  ['a decimal max-age counts its whole seconds', { response: { 'cache-control': 'max-age=60.5' } }, { xcache: 'HIT', hits: 1, stored: 1 }],
  ['a max-age with trailing garbage is stale', { response: { 'cache-control': 'max-age=60a' } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['max-age=0 without a validator is not stored, even for a max-stale request', { response: { 'cache-control': 'max-age=0' }, requestHeaders: { 'cache-control': 'max-stale=1000' } }, { xcache: 'MISS', hits: 2, stored: 0 }],
  ['maxTtl leaves younger entries fresh', { response: { 'cache-control': 'max-age=600' }, options: { maxTtl: 60_000 } }, { xcache: 'HIT', hits: 1, stored: 1 }],
]

for (const [title, spec, expected] of cases) {
  test(title, async (t) => {
    const got = await twice(t, spec)
    t.is(got.stored, expected.stored, 'entries stored')
    t.is(got.hits, expected.hits, 'origin requests')
    t.is(got.xcache, expected.xcache, 'x-cache of the second request')
    t.is(got.body, expected.hits === 1 ? 'body 1' : 'body 2')
  })
}

test('maxTtl: an entry over maxTtl is revalidated with its validators', async (t) => {
  const got = await twice(t, {
    response: (n) => ({ 'cache-control': 'max-age=600', etag: '"m"' }),
    status: (n) => n === 1 ? 200 : 304,
    options: { maxTtl: 30 },
    pause: 60,
  })
  t.is(got.hits, 2)
  t.is(got.origin.requests[1].headers['if-none-match'], '"m"')
  t.is(got.xcache, 'HIT')
  t.is(got.body, 'body 1')
})

test('a private cache stores Set-Cookie and replays it on hits, as a browser cache does', async (t) => {
  const got = await twice(t, { response: { 'cache-control': 'max-age=60', 'set-cookie': ['a=1', 'b=2'] } })
  t.is(got.xcache, 'HIT')
  t.deepEqual(got.second.headers['set-cookie'], ['a=1', 'b=2'])
  t.deepEqual(got.cache.peek(got.cache.keys()[0]).headers['set-cookie'], ['a=1', 'b=2'])
})

test('a shared cache stores a response with Set-Cookie but never the cookie: not on disk, not replayed', async (t) => {
  const got = await twice(t, {
    response: { 'cache-control': 'max-age=60', 'set-cookie': ['a=secret-1', 'b=secret-2'] },
    options: { shared: true },
  })
  t.is(got.xcache, 'HIT')
  t.is(got.second.headers['set-cookie'], undefined)
  const stored = got.cache.peek(got.cache.keys()[0])
  t.is(stored.headers['set-cookie'], undefined)
  t.false(JSON.stringify(stored.policy.toJSON()).includes('secret'))
  // Nothing under the cache directory holds the cookie values.
  for (const file of walk(got.cache.dir)) t.false(fs.readFileSync(file).includes('secret'), file)
})

test('credentials in the request are not written into the stored policy', async (t) => {
  const got = await twice(t, {
    response: { 'cache-control': 'max-age=60', vary: 'accept' },
    requestHeaders: { authorization: 'Bearer secret-token', cookie: 'sid=secret-cookie', accept: 'text/plain' },
  })
  t.is(got.xcache, 'HIT')
  const json = JSON.stringify(got.cache.peek(got.cache.keys()[0]).policy.toJSON())
  t.false(json.includes('secret'))
  t.true(json.includes('text/plain'), 'headers the response varies on are kept')
})

test('shared: a 304\'s own Set-Cookie reaches the caller that triggered it and is never written to disk', async (t) => {
  const got = await twice(t, {
    response: (n) => n === 1
      ? { 'cache-control': 'max-age=0', etag: '"c"' }
      : { 'cache-control': 'max-age=0', etag: '"c"', 'set-cookie': 'session=secret-304' },
    status: (n) => n === 1 ? 200 : 304,
    options: { shared: true },
  })
  t.is(got.hits, 2)
  t.is(got.body, 'body 1', 'served from the cache after the 304')
  t.is(got.second.headers['set-cookie'], 'session=secret-304')
  t.is(got.cache.peek(got.cache.keys()[0]).headers['set-cookie'], undefined)
  for (const file of walk(got.cache.dir)) t.false(fs.readFileSync(file).includes('secret-304'), file)
})

test('a response that arrives already stale is kept for max-stale requests; others get the origin\'s', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=1500', age: '2000' })
    res.end(`body ${n}`)
  })
  const { cache, agent } = await cachingAgent(t)
  const get = async (headers = {}) => {
    const res = await request(origin.url('/aged'), { headers, dispatcher: agent })
    return { xcache: res.headers['x-cache'], body: await res.body.text() }
  }
  t.is((await get()).body, 'body 1')
  t.is(cache.keys().length, 1, 'stored although stale on arrival (500 s past its max-age)')
  t.deepEqual(await get({ 'cache-control': 'max-stale=1000' }), { xcache: 'HIT', body: 'body 1' })
  t.deepEqual(await get({ 'cache-control': 'max-stale=100' }), { xcache: 'MISS', body: 'body 2' }, 'staler than it accepts')
  t.deepEqual(await get(), { xcache: 'MISS', body: 'body 3' }, 'no max-stale: the origin')
  t.is(origin.hits(), 3)
})

test('a response that arrives stale with must-revalidate and no validator is not stored', async (t) => {
  const got = await twice(t, {
    response: { 'cache-control': 'max-age=1500, must-revalidate', age: '2000' },
    requestHeaders: { 'cache-control': 'max-stale=1000' },
  })
  t.is(got.stored, 0)
  t.is(got.hits, 2)
})
