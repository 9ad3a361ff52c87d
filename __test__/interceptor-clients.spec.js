'use strict'
// cacheInterceptor with undici's APIs and dispatchers, raw handlers, aborts and options.
const test = require('ava')
const { Writable } = require('node:stream')
const { Agent, Pool, Client, fetch, request, stream, pipeline } = require('undici')
const { undiciVersion } = require('./helpers/undici')
const { cacheInterceptor } = require('../undici')
const { startOrigin, cachingAgent, tempCache, bytes, sleep } = require('./helpers/interceptor-origin')

function cacheableOrigin (t, body = 'payload') {
  return startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-type': 'text/plain' })
    res.end(body)
  })
}

async function collectStream (url, dispatcher) {
  const chunks = []
  let headers
  await stream(url, { dispatcher }, (data) => {
    headers = data.headers
    return new Writable({
      write (chunk, encoding, callback) {
        chunks.push(chunk)
        callback()
      },
    })
  })
  return { headers, body: Buffer.concat(chunks).toString() }
}

test('undici fetch, request, stream and pipeline all share the cache', async (t) => {
  const origin = await cacheableOrigin(t)
  const { agent } = await cachingAgent(t)
  const url = origin.url('/all')

  const viaFetch = await fetch(url, { dispatcher: agent })
  t.is(await viaFetch.text(), 'payload')
  t.is(viaFetch.headers.get('x-cache'), 'MISS')

  const viaRequest = await request(url, { dispatcher: agent })
  t.is(await viaRequest.body.text(), 'payload')
  t.is(viaRequest.headers['x-cache'], 'HIT')

  const viaStream = await collectStream(url, agent)
  t.is(viaStream.body, 'payload')
  t.is(viaStream.headers['x-cache'], 'HIT')

  const chunks = []
  await new Promise((resolve, reject) => {
    const duplex = pipeline(url, { dispatcher: agent }, ({ headers, body }) => {
      t.is(headers['x-cache'], 'HIT')
      return body
    })
    duplex.on('data', (c) => chunks.push(c)).on('end', resolve).on('error', reject)
    duplex.end()
  })
  t.is(Buffer.concat(chunks).toString(), 'payload')
  t.is(origin.hits(), 1)
})

test('a Pool and a Client composed with the interceptor', async (t) => {
  const origin = await cacheableOrigin(t)
  const cache = await tempCache(t)
  const pool = new Pool(origin.base).compose(cacheInterceptor({ cache }))
  const client = new Client(origin.base).compose(cacheInterceptor({ cache }))
  t.teardown(() => Promise.all([pool.destroy(), client.destroy()]))

  const first = await request(origin.url('/p'), { dispatcher: pool })
  t.is(await first.body.text(), 'payload')
  t.is(first.headers['x-cache'], 'MISS')
  const viaPool = await fetch(origin.url('/p'), { dispatcher: pool })
  t.is(viaPool.headers.get('x-cache'), 'HIT')
  t.is(await viaPool.text(), 'payload')
  // pool.request needs the origin in the options for the interceptor to see it.
  const direct = await pool.request({ origin: origin.base, path: '/p', method: 'GET' })
  t.is(direct.headers['x-cache'], 'HIT')
  await direct.body.dump()
  const viaClient = await client.request({ origin: origin.base, path: '/p', method: 'GET' })
  t.is(viaClient.headers['x-cache'], 'HIT')
  t.is(await viaClient.body.text(), 'payload')
  // Without an origin in the options: undici 7 does not tell interceptors the Pool's origin,
  // so the request goes through uncached; undici 8 fills it in, so it is a hit.
  const unknown = await pool.request({ path: '/p', method: 'GET' })
  const undici8 = require('undici/package.json').version.startsWith('8.')
  t.is(unknown.headers['x-cache'], undici8 ? 'HIT' : undefined)
  await unknown.body.dump()
  t.is(origin.hits(), undici8 ? 1 : 2)
})

// An old-style handler reaches the interceptor wrapped by undici's compose() (the interceptor
// only ever sees new-style handlers): this checks the pair works end to end.
// undici 8 dropped the old-style callbacks (and the wrapper): that case is undici 7 only.
for (const style of ['new-style (onResponseStart...)', 'old-style (onHeaders..., wrapped by undici)']) {
  const undici7Only = style.startsWith('old') && !undiciVersion.startsWith('7.')
  ;(undici7Only ? test.skip : test)(`a raw ${style} handler on the composed dispatcher, for a miss and a hit`, async (t) => {
    const origin = await cacheableOrigin(t, 'raw body')
    const { agent } = await cachingAgent(t)
    const run = () => new Promise((resolve, reject) => {
      const chunks = []
      let status
      let headers
      const handler = style.startsWith('new')
        ? {
            onRequestStart () {},
            onResponseStart (controller, statusCode, h) { status = statusCode; headers = h },
            onResponseData (controller, chunk) { chunks.push(chunk) },
            onResponseEnd () { resolve({ status, headers, body: Buffer.concat(chunks).toString() }) },
            onResponseError (controller, err) { reject(err) },
          }
        : {
            onConnect () {},
            onHeaders (statusCode, raw) {
              status = statusCode
              headers = {}
              for (let i = 0; i < raw.length; i += 2) headers[raw[i].toString().toLowerCase()] = raw[i + 1].toString()
              return true
            },
            onData (chunk) { chunks.push(chunk); return true },
            onComplete () { resolve({ status, headers, body: Buffer.concat(chunks).toString() }) },
            onError (err) { reject(err) },
          }
      agent.dispatch({ origin: origin.base, path: '/raw', method: 'GET', headers: {} }, handler)
    })
    const miss = await run()
    t.is(miss.body, 'raw body')
    t.is(miss.headers['x-cache'], 'MISS')
    const hit = await run()
    t.is(hit.status, 200)
    t.is(hit.body, 'raw body')
    t.is(hit.headers['x-cache'], 'HIT')
    t.is(origin.hits(), 1)
  })
}

test('aborting a miss mid-body stores nothing; aborting a hit mid-body leaves the entry', async (t) => {
  const body = bytes(4 * 1024 * 1024, 31)
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.write(body.subarray(0, 65536))
    const timer = setTimeout(() => res.end(body.subarray(65536)), 400)
    res.on('close', () => clearTimeout(timer))
  })
  const { cache, agent } = await cachingAgent(t)
  const controller = new AbortController()
  const res = await fetch(origin.url('/abort'), { dispatcher: agent, signal: controller.signal })
  const reader = res.body.getReader()
  await reader.read()
  controller.abort()
  await t.throwsAsync(reader.read(), { any: true })
  await sleep(500)
  t.deepEqual(cache.keys(), [])

  // Now store it, then abort a hit half way.
  await (await fetch(origin.url('/abort'), { dispatcher: agent })).arrayBuffer()
  t.is(cache.keys().length, 1)
  const hitAbort = new AbortController()
  const hit = await fetch(origin.url('/abort'), { dispatcher: agent, signal: hitAbort.signal })
  t.is(hit.headers.get('x-cache'), 'HIT')
  const hitReader = hit.body.getReader()
  await hitReader.read()
  hitAbort.abort()
  await t.throwsAsync(hitReader.read(), { any: true })
  const again = await fetch(origin.url('/abort'), { dispatcher: agent })
  t.is(again.headers.get('x-cache'), 'HIT')
  t.deepEqual(Buffer.from(await again.arrayBuffer()), body)
  t.is(origin.hits(), 2)
})

test('statusHeaders: false adds no x-cache headers', async (t) => {
  const origin = await cacheableOrigin(t)
  const { agent } = await cachingAgent(t, { statusHeaders: false })
  for (let i = 0; i < 2; i++) {
    const res = await fetch(origin.url('/quiet'), { dispatcher: agent })
    t.is(res.headers.get('x-cache'), null)
    t.is(res.headers.get('x-cache-lookup'), null)
    await res.text()
  }
  t.is(origin.hits(), 1)
})

test('a custom cacheKey (here: ignoring the query string)', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(req.url)
  })
  const { cache, agent } = await cachingAgent(t, {
    cacheKey: (opts) => `${opts.method} ${opts.origin}${opts.path.split('?')[0]}`,
  })
  t.is(await (await fetch(origin.url('/k?utm=1'), { dispatcher: agent })).text(), '/k?utm=1')
  t.is(await (await fetch(origin.url('/k?utm=2'), { dispatcher: agent })).text(), '/k?utm=1')
  t.deepEqual(cache.keys(), [`GET ${origin.base}/k`])
})

test('methods: [\'GET\'] leaves HEAD alone', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(req.method === 'HEAD' ? undefined : 'x')
  })
  const { agent } = await cachingAgent(t, { methods: ['GET'] })
  await (await fetch(origin.url('/m'), { dispatcher: agent })).text()
  const head = await fetch(origin.url('/m'), { method: 'HEAD', dispatcher: agent })
  t.is(head.headers.get('x-cache'), null)
  t.is(origin.hits(), 2)
})

test('options are checked when the interceptor is created', async (t) => {
  const cache = await tempCache(t)
  t.throws(() => cacheInterceptor(), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({}), { instanceOf: TypeError, message: /options\.cache/ })
  t.throws(() => cacheInterceptor({ cache: {} }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, mode: 'sometimes' }), { instanceOf: TypeError, message: /mode/ })
  t.throws(() => cacheInterceptor({ cache, methods: ['POST'] }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, methods: 'GET' }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, shared: 'yes' }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, maxTtl: -1 }), { instanceOf: RangeError })
  t.throws(() => cacheInterceptor({ cache, cacheKey: 'x' }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, modeFor: 1 }), { instanceOf: TypeError })
  t.throws(() => cacheInterceptor({ cache, heuristic: 0.1 }), { instanceOf: TypeError, message: /options\.heuristic/ })
  t.throws(() => cacheInterceptor({ cache, heuristic: { fraction: '0.1' } }), { instanceOf: TypeError, message: /options\.heuristic\.fraction/ })
  t.throws(() => cacheInterceptor({ cache, heuristic: { min: -1 } }), { instanceOf: RangeError, message: /options\.heuristic\.min/ })
  t.throws(() => cacheInterceptor({ cache, heuristic: { max: Infinity } }), { instanceOf: RangeError })
  t.throws(() => cacheInterceptor({ cache, heuristic: { min: 10, max: 5 } }), { instanceOf: RangeError, message: /options\.heuristic\.min/ })
  t.notThrows(() => cacheInterceptor({ cache, heuristic: false }))
  t.notThrows(() => cacheInterceptor({ cache, heuristic: { min: 86_400_000 * 2 } }), 'max follows a min above the default max')
  t.is(typeof cacheInterceptor({ cache }), 'function')
  t.notThrows(() => new Agent().compose(cacheInterceptor({ cache, mode: 'force-cache', methods: ['get'] })))
})
