'use strict'
// The shared second tier wired into StreamingCache (`remote` option) and so into both undici
// fronts: a real redis-server, a real node:http origin, real undici, child processes as hosts.
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { Agent, request } = require('./helpers/undici')
const { StreamingCache } = require('..')
const { cacheInterceptor } = require('../undici')
const { RemoteTier } = require('../lib/remote')
const { kRemoteLink } = require('../lib/remote-link')
const { redisFor, freePort } = require('./helpers/redis-server')
const { seededBytes, sha256 } = require('./helpers/util')

const KiB = 1024
const CHUNK = 64 * KiB

function tempDir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-remote-wired-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** The body the origin serves for `path`: `/big...` paths span several 64 KiB chunks. */
function bodyFor (path) {
  return seededBytes(path, path.startsWith('/big') ? 5 * CHUNK + 321 : 1000)
}

/** A real origin counting its requests per method and path; responses fresh for 5 minutes. */
async function startOrigin (t) {
  const counts = new Map()
  const server = http.createServer((req, res) => {
    const name = `${req.method} ${req.url}`
    counts.set(name, (counts.get(name) ?? 0) + 1)
    req.resume()
    req.on('end', () => {
      if (req.method !== 'GET') {
        res.end('done')
        return
      }
      // A little latency, so concurrent hosts really overlap.
      setTimeout(() => {
        res.setHeader('cache-control', 'max-age=300')
        res.end(bodyFor(req.url))
      }, 50)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    count: (path, method = 'GET') => counts.get(`${method} ${path}`) ?? 0,
  }
}

/** A host in a child process (helpers/remote-wired-host.js); `call(op, fields)` resolves with its answer. */
async function startHost (t, redisUrl, originUrl, remoteOptions = {}) {
  const child = fork(path.join(__dirname, 'helpers', 'remote-wired-host.js'),
    [tempDir(t), redisUrl, originUrl, JSON.stringify(remoteOptions)], { execArgv: process.execArgv })
  const waiting = new Map()
  let nextId = 0
  child.on('message', (m) => {
    const done = waiting.get(m.id)
    if (done === undefined) return
    waiting.delete(m.id)
    done(m)
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(() => {
    child.kill()
    return exited
  })
  await new Promise((resolve) => child.once('message', resolve)) // { ready }
  return {
    call (op, fields = {}) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, (m) => m.error ? reject(new Error(m.error)) : resolve(m))
        child.send({ id, op, ...fields })
        exited.then(() => reject(new Error('the host exited')))
      })
    },
    get alive () { return child.exitCode === null && child.signalCode === null },
  }
}

function expected (path) {
  return { status: 200, size: bodyFor(path).length, sha256: sha256(bodyFor(path)) }
}

function served (answer) {
  return { status: answer.status, size: answer.size, sha256: answer.sha256 }
}

/** A cache with the shared tier in this process, and an undici Agent caching through it. */
function wiredCache (t, redisUrl, remote = {}) {
  const cache = new StreamingCache(tempDir(t), { remote: { url: redisUrl, lookupTimeout: 1000, chunkSize: CHUNK, ...remote } })
  t.teardown(() => cache.close())
  return { cache, dispatcher: new Agent().compose(cacheInterceptor({ cache })), link: cache[kRemoteLink] }
}

async function fetchThrough (dispatcher, url, options = {}) {
  const res = await request(url, { dispatcher, ...options })
  const body = Buffer.from(await res.body.arrayBuffer())
  return { status: res.statusCode, body, cache: res.headers['x-cache'] }
}

function bodyIntegrity (bytes) {
  return crypto.createHash('sha256').update(bytes).digest('hex')
}

test('three hosts behind cacheInterceptor ask the origin once per object, one after another and at once', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const origin = await startOrigin(t)
  const hosts = await Promise.all([0, 1, 2].map(() => startHost(t, redis.url, origin.url)))

  for (const p of ['/one-by-one', '/big-one-by-one']) {
    const first = await hosts[0].call('get', { path: p })
    t.deepEqual(served(first), expected(p))
    t.is(first.cache, 'MISS')
    await hosts[0].call('settle', { key: `GET ${origin.url}${p}` })
    for (const host of hosts.slice(1)) {
      const answer = await host.call('get', { path: p })
      t.deepEqual(served(answer), expected(p))
      t.is(answer.cache, 'HIT', `${p} came from the shared tier`)
    }
    t.is(origin.count(p), 1, `${p}: one origin request for three hosts`)
  }

  for (const p of ['/at-once', '/big-at-once']) {
    const answers = await Promise.all(hosts.map((host) => host.call('get', { path: p })))
    for (const answer of answers) t.deepEqual(served(answer), expected(p))
    t.is(origin.count(p), 1, `${p}: the fetch lock let one host go to the origin`)
  }

  const stats = await Promise.all(hosts.map(async (host) => (await host.call('stats')).stats.remote))
  t.is(stats.reduce((sum, s) => sum + s.hits, 0), 4 + 4, 'every other request was an L2 hit')
  t.true(stats.every((s) => s.errors === 0 && s.dropped === 0))
  t.true(stats[0].uploads >= 2 && stats[0].bytes > 0)
})

test('an L2 hit lands in the local disk; with Redis killed, hosts still answer (local, then origin) and recover when it is back', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const origin = await startOrigin(t)
  // Timeouts a loaded machine meets (Redis is local); Redis killed refuses connections at once.
  const options = { lookupTimeout: 2000, opTimeout: 2000, connectTimeout: 1000, breakerCooldown: 300 }
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => startHost(t, redis.url, origin.url, options)))

  for (const p of ['/landed', '/big-landed']) {
    await a.call('get', { path: p })
    await a.call('settle', { key: `GET ${origin.url}${p}` })
    const hit = await b.call('get', { path: p })
    t.deepEqual(served(hit), expected(p))
    t.is(hit.cache, 'HIT')
    await b.call('settle')
    t.true((await b.call('local', { key: `GET ${origin.url}${p}` })).has, `${p} was stored in b's local disk`)
  }

  await redis.kill()
  for (const p of ['/landed', '/big-landed']) {
    const local = await b.call('get', { path: p })
    t.deepEqual(served(local), expected(p))
    t.is(local.cache, 'HIT', 'from the local disk, Redis being gone')
    t.is(origin.count(p), 1)
  }
  // c never saw /landed: with Redis gone it is a miss, answered by the origin.
  for (const p of ['/landed', '/new-while-down', '/big-new-while-down']) {
    const answer = await c.call('get', { path: p })
    t.deepEqual(served(answer), expected(p))
  }
  t.is(origin.count('/landed'), 2)
  t.true(a.alive && b.alive && c.alive, 'no host crashed')
  const down = (await c.call('stats')).stats.remote
  t.true(down.errors > 0, 'the outage is counted')
  t.is(down.hits, 0)

  await redis.launch()
  // Past the breaker's cooldown, a stored object is shared again.
  await new Promise((resolve) => setTimeout(resolve, 400))
  let shared = null
  for (let attempt = 0; attempt < 20 && shared?.cache !== 'HIT'; attempt++) {
    const p = `/after-restart-${attempt}`
    await a.call('get', { path: p })
    await a.call('settle', { key: `GET ${origin.url}${p}` })
    shared = await b.call('get', { path: p })
    t.deepEqual(served(shared), expected(p))
    if (shared.cache !== 'HIT') await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.is(shared.cache, 'HIT', 'the tier recovered once Redis was back')
})

test('corrupt or partly evicted bodies in Redis are misses, and nothing of them is stored locally', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const writer = wiredCache(t, redis.url)
  const small = seededBytes('corrupt-small', 1000)
  const big = seededBytes('corrupt-big', 5 * CHUNK + 7)
  await writer.cache.put('small', { status: 200, body: small })
  await writer.cache.put('big', { status: 200, body: big })
  await writer.cache.put('intact', { status: 200, body: seededBytes('intact', 3 * CHUNK) })
  t.true(await writer.link.tier.flush(10_000))

  // Same length, other bytes: only the checksum can tell.
  await redis.send('SETRANGE', `hsc:c:sha256:${bodyIntegrity(small)}:0`, 10, 'garbage!')
  // Redis evicts keys one at a time: one chunk of five gone.
  t.is(await redis.send('DEL', `hsc:c:sha256:${bodyIntegrity(big)}:2`), 1)

  const reader = wiredCache(t, redis.url)
  t.is(await reader.cache.get('small'), null)
  t.is(await reader.cache.get('big'), null)
  await reader.link.settled()
  t.false(reader.cache.has('small'))
  t.false(reader.cache.has('big'))
  const intact = await reader.cache.get('intact')
  t.is(sha256(Buffer.concat(await intact.body.toArray())), sha256(seededBytes('intact', 3 * CHUNK)))
  await reader.link.settled()
  t.true(reader.cache.has('intact'), 'an intact body is stored locally as it is read')

  const stats = reader.cache.stats().remote
  t.is(stats.hits, 1)
  t.is(stats.misses, 2)
  t.true(stats.errors >= 2, 'the bad bodies are counted as errors')
})

test('behind the interceptor, a corrupt shared copy is a miss: the origin answers and its body is what gets stored', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const origin = await startOrigin(t)
  const a = wiredCache(t, redis.url)
  const b = wiredCache(t, redis.url)
  const p = '/corrupt-behind-interceptor'
  await fetchThrough(a.dispatcher, origin.url + p)
  for (let i = 0; i < 200 && await a.link.tier.lookup(`GET ${origin.url}${p}`) === null; i++) {
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  const chunk = `hsc:c:sha256:${bodyIntegrity(bodyFor(p))}:0`
  t.is(await redis.send('EXISTS', chunk), 1, 'a uploaded it')
  await redis.send('SETRANGE', chunk, 0, 'XXXX')

  const answer = await fetchThrough(b.dispatcher, origin.url + p)
  t.is(answer.status, 200)
  t.is(sha256(answer.body), sha256(bodyFor(p)))
  t.is(answer.cache, 'MISS')
  t.is(origin.count(p), 2)
  await b.link.settled()
  const local = await b.cache.get(`GET ${origin.url}${p}`)
  t.is(sha256(Buffer.concat(await local.body.toArray())), sha256(bodyFor(p)), 'the origin\'s body, not the corrupt one')
})

test('garbage metadata and a stalled Redis are misses, answered without waiting for Redis', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const { cache, link } = wiredCache(t, redis.url, { lookupTimeout: 50, opTimeout: 200 })
  await redis.send('SET', 'hsc:k:garbage', '\x00\x01 not a record')
  t.is(await cache.get('garbage'), null)
  t.true(cache.stats().remote.errors >= 1)

  await cache.put('stalled', { status: 200, body: 'x' })
  t.true(await link.tier.flush(10_000))
  const other = wiredCache(t, redis.url, { lookupTimeout: 50, opTimeout: 200 })
  t.is(await other.cache.get('nothing here'), null) // connected, and a plain miss
  // Every client's commands wait from the OK on: a PING sent now is answered when it ends.
  t.is(await redis.send('CLIENT', 'PAUSE', '3000', 'ALL'), 'OK')
  let awake = false
  const resumed = redis.send('PING').then(() => { awake = true })
  t.is(await other.cache.get('stalled'), null, 'a lookup past lookupTimeout is a miss')
  t.false(awake, 'answered while Redis was still stalled')
  await resumed
  t.true(other.cache.stats().remote.errors >= 1)
})

test('a POST through one host removes the shared entry; hosts without a local copy then ask the origin', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const origin = await startOrigin(t)
  const hosts = await Promise.all([0, 1, 2].map(() => startHost(t, redis.url, origin.url)))
  const p = '/invalidated'
  const key = `GET ${origin.url}${p}`
  await hosts[0].call('get', { path: p })
  await hosts[0].call('settle', { key })
  const tier = new RemoteTier({ url: redis.url, lookupTimeout: 1000 })
  t.not(await tier.lookup(key), null)

  t.is((await hosts[1].call('post', { path: p })).status, 200)
  t.is(await tier.lookup(key), null, 'the POST removed the entry from Redis')
  // Other hosts' local copies are not reached: they follow their own HTTP freshness.
  t.true((await hosts[0].call('local', { key })).has)

  const after = await hosts[2].call('get', { path: p })
  t.deepEqual(served(after), expected(p))
  t.is(after.cache, 'MISS')
  t.is(origin.count(p), 2)
})

test('delete and clear remove the shared copies too', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const a = wiredCache(t, redis.url)
  const b = wiredCache(t, redis.url)
  await a.cache.put('gone', { status: 200, body: 'one' })
  await a.cache.put('cleared', { status: 200, body: 'two' })
  t.true(await a.link.tier.flush(10_000))
  t.true(await b.cache.delete('gone'), 'b held no local copy, the shared one was removed')
  t.is(await a.link.tier.lookup('gone'), null)
  await b.cache.clear()
  t.is(await a.link.tier.lookup('cleared'), null)
  t.is(await b.cache.get('cleared'), null)
})

test('stores never wait for the shared tier: with Redis down, uploads are dropped and counted', async (t) => {
  const port = await freePort() // nothing listens there
  const { cache } = wiredCache(t, `redis://127.0.0.1:${port}`, {
    queueCapacity: 1, uploadWorkers: 1, breakerThreshold: 1, breakerCooldown: 60_000, connectTimeout: 100, opTimeout: 100,
  })
  for (let i = 0; i < 30; i++) await cache.put(`k${i}`, { status: 200, body: `body ${i}` })
  t.is(cache.entryCount(), 30, 'every store committed locally')
  t.is(await cache.get('never-stored'), null)
  const stats = cache.stats().remote
  t.true(stats.dropped > 0, `dropped ${stats.dropped}`)
  t.is(stats.uploads, 0)
  t.is(stats.hits, 0)
})

test('the remote option is checked: TypeError or RangeError with a code', (t) => {
  const dir = tempDir(t)
  const bad = [
    [{ remote: 'redis://127.0.0.1:6379' }, TypeError],
    [{ remote: {} }, TypeError],
    [{ remote: { url: 'http://127.0.0.1' } }, TypeError],
    [{ remote: { url: 'redis://127.0.0.1:6379', chunkSize: 1024 } }, RangeError],
    [{ remote: { url: 'redis://127.0.0.1:6379', lookupTimeout: '5' } }, TypeError],
    [{ remote: { url: 'redis://127.0.0.1:6379', prefix: '' } }, RangeError],
    [{ remote: { url: 'redis://127.0.0.1:6379', lookuptimeout: 5 } }, TypeError],
  ]
  for (const [options, type] of bad) {
    const err = t.throws(() => new StreamingCache(dir, options), { instanceOf: type }, JSON.stringify(options))
    t.regex(err.code, /^ERR_/)
    t.regex(err.message, /options\.remote/)
  }
})

test('StreamingCacheStore takes the remote option: undici\'s own cache interceptor shares through Redis too', async (t) => {
  const redis = await redisFor(t)
  if (!redis) return
  const { interceptors } = require('./helpers/undici')
  const { StreamingCacheStore } = require('../undici')
  const origin = await startOrigin(t)
  const hosts = [0, 1].map(() => {
    const store = new StreamingCacheStore({ location: tempDir(t), remote: { url: redis.url, lookupTimeout: 1000, chunkSize: CHUNK } })
    t.teardown(() => store.cache.close())
    return { store, dispatcher: new Agent().compose(interceptors.cache({ store })) }
  })
  const hits = []
  // The channel is the process's: other tests' caches publish on it too.
  const onHit = (m) => { if (m.cache === hosts[1].store.cache) hits.push(m.key) }
  const dc = require('node:diagnostics_channel')
  dc.subscribe('http-streaming-cache:cache:remote:hit', onHit)
  t.teardown(() => dc.unsubscribe('http-streaming-cache:cache:remote:hit', onHit))
  for (const p of ['/store-front', '/big-store-front']) {
    const first = await fetchThrough(hosts[0].dispatcher, origin.url + p)
    t.is(sha256(first.body), sha256(bodyFor(p)))
    // undici commits to the store after the response ended: wait for that, then the upload.
    const tier = hosts[0].store.cache[kRemoteLink].tier
    for (let i = 0; i < 200 && await tier.lookup(`GET ${origin.url}${p}`) === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const second = await fetchThrough(hosts[1].dispatcher, origin.url + p)
    t.is(sha256(second.body), sha256(bodyFor(p)))
    t.is(origin.count(p), 1, `${p}: the second host read it from Redis`)
    await hosts[1].store.cache[kRemoteLink].settled()
    t.true(hosts[1].store.cache.has(`GET ${origin.url}${p}`), 'and stored it locally')
  }
  t.is(hosts[1].store.cache.stats().remote.hits, 2)
  t.deepEqual(hits, [`GET ${origin.url}/store-front`, `GET ${origin.url}/big-store-front`])
})
