'use strict'
// cacheInterceptor hits from the RAM tier judged in JS (lib/fresh-judge.js): the common fresh
// hit asks the native policy nothing and is served as a disk hit is; everything else (request
// directives, another Vary variant, a stale entry) still goes the policy's way. (A URL with
// variants is looked up through `peek`, not the RAM record, so its hits ask the policy.) Also: the
// controller's raw headers, built only when a handler reads them.
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent, sleep } = require('./helpers/interceptor-origin')
const { CachePolicy } = require('../lib/cache-policy')

/** Counts calls of the native policy's beforeRequest (each still runs). */
function countBeforeRequest (t) {
  const original = CachePolicy.prototype.beforeRequest
  const counter = { calls: 0 }
  CachePolicy.prototype.beforeRequest = function (...args) {
    counter.calls++
    return original.apply(this, args)
  }
  t.teardown(() => { CachePolicy.prototype.beforeRequest = original })
  return counter
}

async function get (agent, url, headers = {}) {
  const res = await request(url, { dispatcher: agent, headers })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

/** Hits `url` until its body is in the RAM tier (admitted by frequency, once committed). */
async function warm (t, cache, agent, url, headers) {
  for (let i = 0; i < 100 && cache.memoryUsage().entries === 0; i++) {
    await get(agent, url, headers)
    await sleep(10)
  }
  t.is(cache.memoryUsage().entries, 1, 'the body is in the RAM tier')
}

// One test at a time: they count calls on CachePolicy's prototype.
test.serial('a fresh RAM hit asks the native policy nothing and is served as a disk hit is', async (t) => {
  // One Date for both responses, so the two caches store the same fields.
  const date = new Date(Date.now() - 3000).toUTCString()
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, {
      'cache-control': 'max-age=600',
      date,
      etag: '"e1"',
      link: ['</a>; rel=preload', '</b>; rel=preload'],
      'x-kind': 'kept',
    })
    res.end('hot body')
  })
  const hot = await cachingAgent(t)
  const cold = await cachingAgent(t, {}, { memory: 0 })
  await get(hot.agent, origin.url('/h'))
  await get(cold.agent, origin.url('/h'))
  await warm(t, hot.cache, hot.agent, origin.url('/h'))

  const counter = countBeforeRequest(t)
  const fromRam = await get(hot.agent, origin.url('/h'))
  t.is(counter.calls, 0, 'judged in JS')
  const fromDisk = await get(cold.agent, origin.url('/h'))
  t.is(counter.calls, 1, 'the disk hit asks the policy')
  t.is(fromRam.text, 'hot body')
  t.is(fromRam.headers['x-cache'], 'HIT')
  t.true(Number(fromRam.headers.age) >= 3)
  // Same fields, same values (the age may differ by the second between the two).
  t.deepEqual({ ...fromRam.headers, age: null, 'keep-alive': null }, { ...fromDisk.headers, age: null, 'keep-alive': null })
  t.deepEqual(fromRam.headers.link, ['</a>; rel=preload', '</b>; rel=preload'])
  t.is(origin.hits('/h'), 2)
})

test.serial('request directives on a hot entry still go the policy\'s way', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    if (req.headers['if-none-match'] === '"e1"') {
      res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"e1"' })
      res.end()
      return
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"e1"' })
    res.end('body')
  })
  const { cache, agent } = await cachingAgent(t)
  await get(agent, origin.url('/d'))
  await warm(t, cache, agent, origin.url('/d'))
  const counter = countBeforeRequest(t)
  const hits = origin.hits('/d')
  const revalidated = await get(agent, origin.url('/d'), { 'cache-control': 'no-cache' })
  t.true(counter.calls >= 1, 'asked the native policy')
  t.is(revalidated.text, 'body')
  t.is(origin.hits('/d'), hits + 1, 'revalidated with the origin')
  t.is(origin.requests.at(-1).headers['if-none-match'], '"e1"')
  const old = await get(agent, origin.url('/d'), { 'cache-control': 'max-age=0' })
  t.is(old.text, 'body')
  t.is(origin.hits('/d'), hits + 2, 'max-age=0 is not answered from the cache either')
})

test.serial('a hot entry with Vary answers its own variant only', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' })
    res.end(`in ${req.headers['accept-language']}`)
  })
  const { cache, agent } = await cachingAgent(t)
  await get(agent, origin.url('/v'), { 'accept-language': 'en' })
  await warm(t, cache, agent, origin.url('/v'), { 'accept-language': 'en' })
  const hits = origin.hits('/v')
  const en = await get(agent, origin.url('/v'), { 'accept-language': 'en' })
  t.is(en.text, 'in en')
  t.is(en.headers['x-cache'], 'HIT')
  t.is(origin.hits('/v'), hits)
  const fr = await get(agent, origin.url('/v'), { 'accept-language': 'fr' })
  t.is(fr.text, 'in fr')
  t.is(origin.hits('/v'), hits + 1, 'another variant goes to the origin')
})

test.serial('a hot entry that turned stale is revalidated, not served', async (t) => {
  let version = 0
  const origin = await startOrigin(t, (req, res) => {
    version++
    res.writeHead(200, { 'cache-control': 'max-age=3' })
    res.end(`version ${version}`)
  })
  const { cache, agent } = await cachingAgent(t)
  await get(agent, origin.url('/s'))
  await warm(t, cache, agent, origin.url('/s'))
  const hits = origin.hits('/s')
  // Fresh for 3 s from the last response (slack for warming up on a slow machine).
  await sleep(3100)
  const after = await get(agent, origin.url('/s'))
  t.is(origin.hits('/s'), hits + 1, 'went to the origin once stale')
  t.is(after.text, `version ${version}`)
})

test.serial('controller.rawHeaders is the raw form of the headers a handler is given', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'x-multi': ['a', 'b'] })
    res.end('raw')
  })
  const { cache, agent } = await cachingAgent(t)
  await get(agent, origin.url('/r'))
  await warm(t, cache, agent, origin.url('/r'))
  const seen = await new Promise((resolve, reject) => {
    agent.dispatch({ origin: origin.base, path: '/r', method: 'GET', headers: {} }, {
      onRequestStart () {},
      onResponseStart (controller, status, headers) { this.seen = { status, headers, raw: controller.rawHeaders } },
      onResponseData () {},
      onResponseEnd (controller) { resolve({ ...this.seen, trailers: controller.rawTrailers }) },
      onResponseError (controller, err) { reject(err) },
    })
  })
  t.is(seen.status, 200)
  t.is(seen.headers['x-cache'], 'HIT')
  const pairs = []
  for (let i = 0; i < seen.raw.length; i += 2) {
    t.true(Buffer.isBuffer(seen.raw[i]))
    const value = seen.raw[i + 1]
    pairs.push([seen.raw[i].toString('latin1'), Array.isArray(value) ? value.map((v) => v.toString('latin1')) : value.toString('latin1')])
  }
  const flat = {}
  for (const [name, value] of pairs) flat[name] = flat[name] === undefined ? value : [].concat(flat[name], value)
  t.deepEqual(flat, Object.fromEntries(Object.entries(seen.headers).map(([k, v]) => [k, v])))
  t.deepEqual(seen.trailers, [])
})
