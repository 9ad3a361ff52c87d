'use strict'
// StreamingCacheStore end to end: undici's own cache interceptor over it, against a real
// node:http origin on 127.0.0.1 that counts the requests reaching it.
const test = require('ava')
const { storeChild } = require('./helpers/store-child-runner')
const crypto = require('node:crypto')
const http = require('node:http')
const { once } = require('node:events')
const { Agent, interceptors, request, cacheStores } = require('undici')
const { tempStore } = require('./helpers/temp-store')
const { tempDir, seededBytes, KiB, MiB } = require('./helpers/util')

/** An origin server: `handler(req, res, hit)` answers; `hits` counts requests per path. */
async function origin (t, handler) {
  const hits = new Map()
  const seen = []
  const server = http.createServer((req, res) => {
    const pathname = req.url
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1)
    const record = { method: req.method, url: req.url, headers: req.headers, status: null }
    seen.push(record)
    res.on('finish', () => { record.status = res.statusCode })
    handler(req, res, hits.get(pathname))
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  const base = `http://127.0.0.1:${server.address().port}`
  return {
    base,
    seen,
    hits: (p) => hits.get(p) ?? 0,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
  }
}

function cachingAgent (t, store, options = {}) {
  const agent = new Agent().compose(interceptors.cache({ store, ...options }))
  t.teardown(() => agent.close())
  return agent
}

async function fetchVia (agent, url, { method = 'GET', headers } = {}) {
  const res = await request(url, { dispatcher: agent, method, headers })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, headers: res.headers, body }
}

test('the store plugs into interceptors.cache: MISS, then HIT without reaching the origin', async (t) => {
  const body = seededBytes('hello', 300 * KiB + 5)
  const server = await origin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-type': 'application/octet-stream', 'x-multi': ['1', '2'] })
    res.end(body)
  })
  const store = tempStore(t)
  const agent = cachingAgent(t, store)

  const miss = await fetchVia(agent, `${server.base}/hello`)
  t.is(miss.status, 200)
  t.true(miss.body.equals(body))
  t.is(miss.headers.age, undefined)
  t.is(server.hits('/hello'), 1)

  const hit = await fetchVia(agent, `${server.base}/hello`)
  t.is(hit.status, 200)
  t.true(hit.body.equals(body), 'the same bytes, from disk')
  t.is(server.hits('/hello'), 1, 'exactly one origin hit')
  t.is(typeof hit.headers.age, 'string', 'served from the cache (age set)')
  t.is(hit.headers['content-type'], 'application/octet-stream')
  t.deepEqual(hit.headers['x-multi'], ['1', '2'])

  // Another URL is its own entry.
  await fetchVia(agent, `${server.base}/hello?other`)
  t.is(server.hits('/hello?other'), 1)
  t.is(server.total(), 2)
})

test('a stale entry is revalidated: the origin answers 304, the body comes from the cache', async (t) => {
  const body = seededBytes('reval', 200 * KiB)
  const server = await origin(t, (req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"' })
      res.end()
      return
    }
    // max-age=0 with a validator: stored, but stale at once, so every use revalidates.
    res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' })
    res.end(body)
  })
  const store = tempStore(t)
  const agent = cachingAgent(t, store)

  const first = await fetchVia(agent, `${server.base}/reval`)
  t.true(first.body.equals(body))
  t.is(server.hits('/reval'), 1)

  for (let i = 2; i <= 3; i++) {
    const again = await fetchVia(agent, `${server.base}/reval`)
    t.is(again.status, 200)
    t.true(again.body.equals(body), 'the body is the cached one')
    t.is(server.hits('/reval'), i, 'each revalidation reaches the origin')
    t.is(server.seen.at(-1).headers['if-none-match'], '"v1"')
  }
})

test('an entry written into the store directly is revalidated once stale', async (t) => {
  const server = await origin(t, (req, res) => {
    t.is(req.headers['if-none-match'], '"seeded"')
    res.writeHead(304, { etag: '"seeded"' })
    res.end()
  })
  const store = tempStore(t)
  const now = Date.now()
  const stream = store.createWriteStream(
    { origin: server.base, method: 'GET', path: '/seeded', headers: {} },
    {
      statusCode: 200,
      statusMessage: 'OK',
      headers: { 'content-type': 'text/plain', etag: '"seeded"', 'cache-control': 'max-age=10' },
      etag: '"seeded"',
      cacheControlDirectives: { 'max-age': 10 },
      cachedAt: now - 60_000,
      staleAt: now - 50_000,
      deleteAt: now + 60_000,
    })
  stream.end('seeded body')
  const agent = cachingAgent(t, store)
  const res = await fetchVia(agent, `${server.base}/seeded`)
  t.is(res.status, 200)
  t.is(res.body.toString(), 'seeded body')
  t.is(server.hits('/seeded'), 1)
})

test('stale-while-revalidate: the stale body is served while a new one replaces it', async (t) => {
  let version = 0
  const server = await origin(t, (req, res) => {
    version++
    res.writeHead(200, { 'cache-control': 'max-age=0, stale-while-revalidate=60', etag: `"${version}"` })
    res.end(seededBytes(`swr ${version}`, 200 * KiB))
  })
  const store = tempStore(t)
  const agent = cachingAgent(t, store)
  const url = `${server.base}/swr`
  const key = { origin: server.base, method: 'GET', path: '/swr', headers: {} }
  t.true((await fetchVia(agent, url)).body.equals(seededBytes('swr 1', 200 * KiB)))
  for (let i = 2; i <= 3; i++) {
    const res = await fetchVia(agent, url)
    t.true(res.body.equals(seededBytes(`swr ${i - 1}`, 200 * KiB)), 'served the stale body at once')
    t.is(res.headers.warning, '110 - "response is stale"')
    // The background revalidation stores the next version.
    let stored
    for (let n = 0; n < 300; n++) {
      stored = await store.get(key)
      stored?.body.destroy()
      if (stored?.etag === `"${i}"`) break
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.is(stored?.etag, `"${i}"`)
  }
  t.is(server.hits('/swr'), 3)
  t.is(store.cache.entryCount(), 1)
})

test('Vary: one entry per variant, each served to the matching requests', async (t) => {
  const server = await origin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-language' })
    res.end(`hello in ${req.headers['accept-language'] ?? 'nothing'}`)
  })
  const store = tempStore(t)
  const agent = cachingAgent(t, store)
  const url = `${server.base}/greeting`
  const plan = ['en', 'fr', 'en', undefined, 'fr', undefined, 'de']
  const bodies = []
  for (const lang of plan) {
    const res = await fetchVia(agent, url, { headers: lang ? { 'accept-language': lang } : {} })
    bodies.push(res.body.toString())
  }
  t.deepEqual(bodies, plan.map((lang) => `hello in ${lang ?? 'nothing'}`))
  t.is(server.hits('/greeting'), 4, 'en, fr, none and de reach the origin once each')
  // The last commit may still be running: a get waits for it.
  t.truthy(await store.get({ origin: server.base, method: 'GET', path: '/greeting', headers: { 'accept-language': 'de' } }))
  t.is(store.cache.entryCount(), 4)
})

test('an unsafe method invalidates the URL (undici calls delete)', async (t) => {
  let version = 1
  const server = await origin(t, (req, res) => {
    if (req.method === 'POST') version++
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(`version ${version}`)
  })
  const store = tempStore(t)
  const agent = cachingAgent(t, store)
  const url = `${server.base}/doc`
  t.is((await fetchVia(agent, url)).body.toString(), 'version 1')
  t.is((await fetchVia(agent, url)).body.toString(), 'version 1')
  await fetchVia(agent, url, { method: 'POST' })
  t.is((await fetchVia(agent, url)).body.toString(), 'version 2')
  t.is(server.hits('/doc'), 3)
})

test('a response over maxEntrySize passes through whole and is not stored', async (t) => {
  const body = seededBytes('too-big', 256 * KiB)
  const server = await origin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.end(body)
  })
  const store = tempStore(t, { maxEntrySize: 100 * KiB })
  const agent = cachingAgent(t, store)
  for (let i = 1; i <= 2; i++) {
    const res = await fetchVia(agent, `${server.base}/big`)
    t.true(res.body.equals(body))
    t.is(server.hits('/big'), i)
  }
  t.is(store.cache.entryCount(), 0)
})

test('same origin traffic as with undici\'s MemoryCacheStore', async (t) => {
  async function run (store) {
    const state = { version: 1 }
    const server = await origin(t, (req, res) => {
      const url = req.url
      if (req.method === 'POST') {
        state.version++
        res.end('posted')
      } else if (url.startsWith('/fresh')) {
        res.writeHead(200, { 'cache-control': 'max-age=60', 'x-version': String(state.version) })
        res.end(`fresh ${state.version}`)
      } else if (url === '/vary') {
        res.writeHead(200, { 'cache-control': 'max-age=60', vary: 'accept-encoding, x-mode' })
        res.end(`vary ${req.headers['accept-encoding']} ${req.headers['x-mode']}`)
      } else if (url.startsWith('/reval')) {
        if (req.headers['if-none-match'] === '"r"') {
          // /reval-cc: the 304 carries new cache directives.
          res.writeHead(304, url === '/reval-cc' ? { etag: '"r"', 'cache-control': 'max-age=60' } : { etag: '"r"' })
          res.end()
        } else {
          res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"r"' })
          res.end(`reval ${url}`)
        }
      } else if (url === '/no-store') {
        res.writeHead(200, { 'cache-control': 'no-store' })
        res.end('no-store')
      } else if (url === '/private') {
        res.writeHead(200, { 'cache-control': 'private, max-age=60' })
        res.end('private')
      } else {
        res.writeHead(404, { 'cache-control': 'max-age=60' })
        res.end('missing')
      }
    })
    const agent = cachingAgent(t, store)
    const steps = [
      ['GET', '/fresh'], ['GET', '/fresh'], ['GET', '/fresh?q'],
      ['GET', '/vary', { 'accept-encoding': 'gzip' }], ['GET', '/vary', { 'accept-encoding': 'br' }],
      ['GET', '/vary', { 'accept-encoding': 'gzip' }], ['GET', '/vary', { 'accept-encoding': 'gzip', 'x-mode': 'a' }],
      ['GET', '/vary', { 'accept-encoding': 'gzip', 'x-mode': 'a' }], ['GET', '/vary', {}],
      ['GET', '/reval'], ['GET', '/reval'], ['GET', '/reval'],
      ['GET', '/reval-cc'], ['GET', '/reval-cc'], ['GET', '/reval-cc'], ['GET', '/reval-cc'],
      ['GET', '/no-store'], ['GET', '/no-store'],
      ['GET', '/private'], ['GET', '/private'],
      ['GET', '/missing'], ['GET', '/missing'],
      ['POST', '/fresh'], ['GET', '/fresh'], ['GET', '/fresh'], ['GET', '/fresh?q'],
      ['GET', '/fresh', { 'cache-control': 'no-cache' }], ['GET', '/fresh', { 'cache-control': 'max-age=0' }],
    ]
    const trace = []
    for (const [method, p, headers] of steps) {
      const before = server.total()
      const res = await fetchVia(agent, server.base + p, { method, headers })
      const via = server.total() > before ? `origin ${server.seen.at(-1).status}` : 'cache'
      trace.push(`${method} ${p} ${JSON.stringify(headers ?? {})} -> ${res.status} ${res.body.toString()} via ${via}`)
    }
    return trace
  }
  const memory = await run(new cacheStores.MemoryCacheStore())
  const disk = await run(tempStore(t))
  t.deepEqual(disk, memory)
  t.true(memory.filter((line) => line.endsWith('via cache')).length >= 5, 'the scenario does hit the cache')
  t.true(memory.filter((line) => line.endsWith('via origin 304')).length >= 2, 'and revalidates')
})

// ---- other processes --------------------------------------------------------------------------

const child = storeChild

test('a restarted process serves what the previous one cached (same location)', async (t) => {
  const body = seededBytes('restart', 100 * KiB).toString('base64')
  const server = await origin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    res.end(body)
  })
  const location = await tempDir(t)
  const url = `${server.base}/persisted`
  const first = await child('fetch', { location, url, times: 1 })
  t.deepEqual(first.responses.map((r) => [r.status, r.body === body, r.age]), [[200, true, null]])
  t.is(server.hits('/persisted'), 1)

  const second = await child('fetch', { location, url, times: 2 })
  t.deepEqual(second.responses.map((r) => [r.status, r.body === body, typeof r.age]), [[200, true, 'string'], [200, true, 'string']])
  t.is(server.hits('/persisted'), 1, 'the new process never reached the origin')
})

test('a 50 MiB response streams through with bounded memory, the second time from disk', async (t) => {
  const SIZE = 50 * MiB
  const block = Buffer.alloc(64 * KiB)
  crypto.randomFillSync(block)
  function * chunks () {
    for (let sent = 0, n = 0; sent < SIZE; n++) {
      const piece = Buffer.from(block.subarray(0, Math.min(block.length, SIZE - sent)))
      piece.writeUInt32BE(n, 0)
      sent += piece.length
      yield piece
    }
  }
  const hash = crypto.createHash('sha256')
  for (const piece of chunks()) hash.update(piece)
  const sha256 = hash.digest('hex')

  const server = await origin(t, async (req, res) => {
    // /warm: the same body, uncacheable, so undici's own first-large-response growth happens
    // before the child takes its baseline.
    res.writeHead(200, { 'cache-control': req.url === '/warm' ? 'no-store' : 'max-age=600', 'content-length': String(SIZE) })
    for (const piece of chunks()) {
      if (!res.write(piece)) await once(res, 'drain')
    }
    res.end()
  })
  const out = await child('memory', { url: `${server.base}/big`, sha256 }, ['--expose-gc'])
  t.deepEqual(out.results.map((r) => [r.status, r.bytes, r.ok]), [[200, SIZE, true], [200, SIZE, true]])
  t.is(out.results[0].age, null)
  t.is(typeof out.results[1].age, 'string', 'the second response came from the cache')
  t.is(server.hits('/big'), 1)
  t.log(`RSS growth while fetching 2 x 50 MiB: ${(out.growth / MiB).toFixed(1)} MiB`)
  t.true(out.growth < 64 * MiB, `RSS grew by ${(out.growth / MiB).toFixed(1)} MiB`)
})

test('coalescing: requests arriving while a response is being written wait for it instead of asking the origin', async (t) => {
  const body = seededBytes('coalesce', 2 * MiB)
  const server = await origin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=60', 'content-length': body.length })
    let at = 0
    const next = () => {
      if (at >= body.length) return res.end()
      res.write(body.subarray(at, at + 128 * KiB))
      at += 128 * KiB
      setTimeout(next, 20)
    }
    next()
  })
  const agent = cachingAgent(t, tempStore(t))
  const url = `${server.base}/slow`
  const first = fetchVia(agent, url)
  // Once the origin is streaming (undici has opened the store's write stream), ten more.
  while (server.hits('/slow') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const others = await Promise.all(Array.from({ length: 10 }, () => fetchVia(agent, url)))
  t.true((await first).body.equals(body))
  for (const other of others) t.true(other.body.equals(body), 'the whole body')
  t.is(server.hits('/slow'), 1, 'one origin request')
})

test('coalesceTimeout: 0 turns waiting off', async (t) => {
  const server = await origin(t, (req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=60' })
    res.write('part ')
    setTimeout(() => res.end(`${n}`), 300)
  })
  const agent = cachingAgent(t, tempStore(t, { coalesceTimeout: 0 }))
  const url = `${server.base}/off`
  const first = fetchVia(agent, url)
  while (server.hits('/off') === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const second = await fetchVia(agent, url)
  t.is(second.body.toString(), 'part 2')
  t.is((await first).body.toString(), 'part 1')
})
