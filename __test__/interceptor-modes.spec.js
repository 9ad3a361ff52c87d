'use strict'
// cacheInterceptor cache modes (the Fetch standard's, plus 'ignore-rules') and modeFor.
const test = require('ava')
const { fetch, request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')

function countingOrigin (t, headers) {
  return startOrigin(t, (req, res, n) => {
    const h = typeof headers === 'function' ? headers(n, req) : headers
    const { status = 200, ...rest } = h
    res.writeHead(status, rest)
    res.end(h.status === 304 ? undefined : `body ${n}`)
  })
}

async function get (agent, url, headers) {
  const res = await request(url, { dispatcher: agent, headers })
  return { status: res.statusCode, xcache: res.headers['x-cache'], lookup: res.headers['x-cache-lookup'], body: await res.body.text() }
}

test("'no-store' neither looks up nor stores", async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'max-age=60' })
  const { cache, agent } = await cachingAgent(t, { mode: 'no-store' })
  t.is((await get(agent, origin.url('/a'))).xcache, 'MISS')
  t.is((await get(agent, origin.url('/a'))).xcache, 'MISS')
  t.is(origin.hits(), 2)
  t.deepEqual(cache.keys(), [])
})

test("'reload' always asks the origin and stores the answer", async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'max-age=60' })
  const cacheAgent = await cachingAgent(t, { mode: 'reload' })
  t.is((await get(cacheAgent.agent, origin.url('/a'))).body, 'body 1')
  t.is((await get(cacheAgent.agent, origin.url('/a'))).body, 'body 2')
  t.is(origin.hits(), 2)
  const { agent } = await cachingAgent(t, { cache: cacheAgent.cache })
  const hit = await get(agent, origin.url('/a'))
  t.is(hit.xcache, 'HIT')
  t.is(hit.body, 'body 2', 'the reloaded response was stored')
})

test("'no-cache' revalidates even fresh entries", async (t) => {
  const origin = await countingOrigin(t, (n) => n === 1
    ? { 'cache-control': 'max-age=60', etag: '"1"' }
    : { status: 304, etag: '"1"' })
  const { agent } = await cachingAgent(t, { mode: 'no-cache' })
  await get(agent, origin.url('/a'))
  const second = await get(agent, origin.url('/a'))
  t.is(second.xcache, 'HIT')
  t.is(second.body, 'body 1')
  t.is(origin.hits(), 2)
  t.is(origin.requests[1].headers['if-none-match'], '"1"')
  t.is(origin.requests[1].headers['cache-control'], undefined, 'no cache-control added to the request')
})

test("'force-cache' serves stale entries without asking", async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'max-age=0', etag: '"1"' })
  const { agent } = await cachingAgent(t, { mode: 'force-cache' })
  await get(agent, origin.url('/a'))
  const second = await get(agent, origin.url('/a'))
  t.is(second.xcache, 'HIT')
  t.is(second.body, 'body 1')
  t.is(origin.hits(), 1)
  const fresh = await get(agent, origin.url('/other'))
  t.is(fresh.xcache, 'MISS')
})

test("'only-if-cached': a hit (even stale) is served, a miss is a 504 without contacting the origin", async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'max-age=0', etag: '"1"' })
  const { cache, agent } = await cachingAgent(t, { mode: 'only-if-cached' })
  const miss = await fetch(origin.url('/a'), { dispatcher: agent })
  t.is(miss.status, 504)
  t.is(miss.headers.get('x-cache'), 'MISS')
  t.is(await miss.text(), '')
  t.is(origin.hits(), 0)

  const { agent: filler } = await cachingAgent(t, { cache })
  await get(filler, origin.url('/a'))
  t.is(origin.hits(), 1)
  const hit = await get(agent, origin.url('/a'))
  t.is(hit.status, 200)
  t.is(hit.xcache, 'HIT')
  t.is(hit.body, 'body 1')
  t.is(origin.hits(), 1)
})

test("'ignore-rules' stores every 2xx and serves it without revalidation", async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'no-store, no-cache', pragma: 'no-cache' })
  const { agent } = await cachingAgent(t, { mode: 'ignore-rules' })
  await get(agent, origin.url('/a'))
  const second = await get(agent, origin.url('/a'))
  t.is(second.xcache, 'HIT')
  t.is(second.body, 'body 1')
  t.is(origin.hits(), 1)
})

test("'ignore-rules' does not store errors, and maxTtl bounds it", async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(req.url === '/err' ? 500 : 200)
    res.end(`body ${n}`)
  })
  const { agent } = await cachingAgent(t, { mode: 'ignore-rules', maxTtl: 1500 })
  await get(agent, origin.url('/err'))
  t.is((await get(agent, origin.url('/err'))).xcache, 'MISS')
  await get(agent, origin.url('/ok'))
  t.is((await get(agent, origin.url('/ok'))).xcache, 'HIT')
  await new Promise((resolve) => setTimeout(resolve, 1600))
  const expired = await get(agent, origin.url('/ok'))
  t.is(expired.xcache, 'MISS')
  t.is(expired.body, 'body 2')
})

test('modeFor overrides the mode per request', async (t) => {
  const origin = await countingOrigin(t, { 'cache-control': 'max-age=60' })
  const { agent } = await cachingAgent(t, {
    modeFor: (opts) => {
      const headers = opts.headers ?? {}
      return headers['x-cache-mode'] ?? undefined
    },
  })
  await get(agent, origin.url('/a'))
  t.is((await get(agent, origin.url('/a'))).xcache, 'HIT')
  t.is((await get(agent, origin.url('/a'), { 'x-cache-mode': 'reload' })).xcache, 'MISS')
  t.is((await get(agent, origin.url('/b'), { 'x-cache-mode': 'only-if-cached' })).status, 504)
  t.is(origin.hits(), 2)
  await t.throwsAsync(get(agent, origin.url('/a'), { 'x-cache-mode': 'bogus' }), { instanceOf: TypeError })
})

test('conditional and range requests from the caller go through untouched and are not stored', async (t) => {
  const origin = await countingOrigin(t, (n, req) => req.headers['if-none-match']
    ? { status: 304, etag: '"1"' }
    : { 'cache-control': 'max-age=60', etag: '"1"' })
  const { cache, agent } = await cachingAgent(t)
  const conditional = await get(agent, origin.url('/c'), { 'if-none-match': '"1"' })
  t.is(conditional.status, 304)
  t.is(conditional.xcache, 'MISS')
  await get(agent, origin.url('/r'), { range: 'bytes=0-1' })
  t.deepEqual(cache.keys(), [])
})
