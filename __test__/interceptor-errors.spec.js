'use strict'
// cacheInterceptor failures: stale-if-error, and a broken cache never failing a request the
// origin can answer.
const test = require('ava')
const fs = require('node:fs')
const { fetch, request } = require('undici')
const { startOrigin, cachingAgent, contentFile, flipByte, bytes, sleep } = require('./helpers/interceptor-origin')

test('stale-if-error: a stale entry is served when the origin answers 5xx', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600', etag: '"1"' })
      return res.end('good body')
    }
    res.writeHead(503, { 'content-type': 'text/plain' })
    res.end('origin is down')
  })
  const { agent } = await cachingAgent(t)
  await (await fetch(origin.url('/s'), { dispatcher: agent })).text()
  const res = await fetch(origin.url('/s'), { dispatcher: agent })
  t.is(res.status, 200)
  t.is(res.headers.get('x-cache'), 'HIT')
  t.regex(res.headers.get('age'), /^\d+$/)
  t.is(await res.text(), 'good body')
  t.is(origin.hits(), 2)
})

test('stale-if-error: a stale entry is served when the origin cannot be reached', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-if-error=600', etag: '"1"' })
    res.end('kept body')
  })
  const { agent } = await cachingAgent(t)
  await (await fetch(origin.url('/down'), { dispatcher: agent })).text()
  await origin.close()
  const res = await request(origin.url('/down'), { dispatcher: agent })
  t.is(res.statusCode, 200)
  t.is(res.headers['x-cache'], 'HIT')
  t.is(await res.body.text(), 'kept body')
})

test('without stale-if-error (or with must-revalidate) the origin error goes through', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      const cc = req.url === '/must' ? 'max-age=0, must-revalidate, stale-if-error=600' : 'max-age=0'
      res.writeHead(200, { 'cache-control': cc, etag: '"1"' })
      return res.end('body')
    }
    res.writeHead(500)
    res.end('broken')
  })
  const { agent } = await cachingAgent(t)
  for (const path of ['/plain', '/must']) {
    await (await fetch(origin.url(path), { dispatcher: agent })).text()
    const res = await fetch(origin.url(path), { dispatcher: agent })
    t.is(res.status, 500)
    t.is(await res.text(), 'broken')
    t.is(res.headers.get('x-cache'), 'MISS')
  }
})

test('stale-if-error from the request applies too', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"1"' })
      return res.end('body')
    }
    res.writeHead(502)
    res.end()
  })
  const { agent } = await cachingAgent(t)
  await (await fetch(origin.url('/r'), { dispatcher: agent })).text()
  const res = await fetch(origin.url('/r'), { dispatcher: agent, headers: { 'cache-control': 'stale-if-error=60' } })
  t.is(res.status, 200)
  t.is(await res.text(), 'body')
})

/** Stores `body` at `path`, then breaks its content file with `damage(file)`. */
async function storedThenDamaged (t, body, damage, options) {
  let served = 0
  const origin = await startOrigin(t, (req, res) => {
    served++
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(body)
  })
  const { cache, agent } = await cachingAgent(t, options)
  t.deepEqual(Buffer.from(await (await fetch(origin.url('/b'), { dispatcher: agent })).arrayBuffer()), body)
  const key = `GET ${origin.url('/b')}`
  const file = contentFile(cache, cache.peek(key).integrity)
  damage(file)
  return { origin, cache, agent, key, served: () => served }
}

const damages = [
  ['a flipped byte', (file) => flipByte(file, 100), true],
  ['a truncated file', (file) => { fs.chmodSync(file, 0o644); fs.truncateSync(file, 10) }, true],
  ['a missing file', (file) => fs.rmSync(file), true],
  // The same body cannot be stored again while a directory sits where its file goes.
  ['an unreadable file (a directory in its place)', (file) => { fs.rmSync(file); fs.mkdirSync(file) }, false],
]

for (const [what, damage, restorable] of damages) {
  test(`${what} in a cached body: the request falls back to the origin and the entry is replaced`, async (t) => {
    const body = bytes(40_000, 21)
    const { origin, cache, agent, key } = await storedThenDamaged(t, body, damage)
    const res = await fetch(origin.url('/b'), { dispatcher: agent })
    t.is(res.status, 200)
    t.is(res.headers.get('x-cache'), 'MISS')
    t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
    t.is(origin.hits(), 2)
    const hit = await fetch(origin.url('/b'), { dispatcher: agent })
    t.deepEqual(Buffer.from(await hit.arrayBuffer()), body)
    if (restorable) {
      t.truthy(cache.peek(key), 'stored again from the origin')
      t.is(hit.headers.get('x-cache'), 'HIT')
      t.is(origin.hits(), 2)
    } else {
      t.is(origin.hits(), 3)
    }
  })
}

test('a corrupt body too large to check first fails the response, never delivers a wrong body, and is dropped', async (t) => {
  const body = bytes(300 * 1024, 22)
  const { origin, cache, agent, key } = await storedThenDamaged(t, body, (file) => flipByte(file, 200 * 1024),
    { verifyBeforeServing: 64 * 1024 })
  const res = await request(origin.url('/b'), { dispatcher: agent })
  t.is(res.headers['x-cache'], 'HIT')
  const err = await t.throwsAsync(res.body.arrayBuffer())
  t.is(err.code, 'ERR_CACHE_INTEGRITY')
  await sleep(20)
  t.is(cache.peek(key), null, 'the corrupt entry is gone')
  const next = await fetch(origin.url('/b'), { dispatcher: agent })
  t.is(next.headers.get('x-cache'), 'MISS')
  t.deepEqual(Buffer.from(await next.arrayBuffer()), body)
})

test('a corrupt body after a 304 falls back to a full request', async (t) => {
  const body = bytes(5000, 23)
  const origin = await startOrigin(t, (req, res) => {
    if (req.headers['if-none-match']) {
      res.writeHead(304, { etag: '"1"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"1"' })
    res.end(body)
  })
  const { cache, agent } = await cachingAgent(t)
  await (await fetch(origin.url('/c'), { dispatcher: agent })).arrayBuffer()
  flipByte(contentFile(cache, cache.peek(`GET ${origin.url('/c')}`).integrity), 0)
  const res = await fetch(origin.url('/c'), { dispatcher: agent })
  t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
  t.is(origin.hits(), 3)
  t.is(origin.requests[2].headers['if-none-match'], undefined)
})

test('a cache that throws on lookup never fails the request', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end('fine')
  })
  const { cache: real } = await cachingAgent(t)
  const broken = new Proxy(real, {
    get (target, prop) {
      if (['peek', 'keys', 'getSync', 'createWriteStream'].includes(prop)) {
        return () => { throw Object.assign(new Error('disk on fire'), { code: 'EIO' }) }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
  const { agent } = await cachingAgent(t, { cache: broken })
  for (let i = 0; i < 2; i++) {
    const res = await fetch(origin.url('/x'), { dispatcher: agent })
    t.is(await res.text(), 'fine')
  }
  t.is(origin.hits(), 2)
})
