'use strict'
// The shared second tier (RemoteTier) against a real redis-server, and three processes
// standing in for three hosts (separate cache directories, one Redis, one origin).
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { Readable } = require('node:stream')
const { RemoteTier } = require('../lib/remote')
const { redisFor } = require('./helpers/redis-server')
const { seededBytes, sha256 } = require('./helpers/util')

const MiB = 1024 * 1024

async function readAll (body) {
  const chunks = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('a body streams in and out, identical bodies are stored once, remove invalidates', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const tier = new RemoteTier({ url: server.url, chunkSize: 64 * 1024, lookupTimeout: 500 })
  const bytes = seededBytes('remote-round-trip', 5 * MiB + 123)
  const entry = await tier.put('GET /a', { body: Readable.from([bytes.subarray(0, MiB), bytes.subarray(MiB)]), meta: { status: 200 }, freshFor: 60_000 })
  t.is(entry.size, bytes.length)
  t.is(entry.integrity, 'sha256-' + crypto.createHash('sha256').update(bytes).digest('base64'))
  await tier.put('GET /b', { body: bytes, meta: { status: 203 } })

  const hit = await tier.get('GET /b')
  t.is(hit.entry.meta.status, 203)
  t.is(hit.entry.integrity, entry.integrity)
  t.is(sha256(await readAll(hit.body)), sha256(bytes))
  t.is(await tier.get('GET /never'), null)

  const stats = tier.stats()
  t.is(stats.hits, 1)
  t.is(stats.misses, 1)
  t.is(stats.uploads, 2)
  t.is(stats.uploadsDeduplicated, 1)
  // The second upload's temporary chunks are deleted in the background once it turned out a
  // duplicate: give that a moment.
  const expectedKeys = `:${Math.ceil(bytes.length / (64 * 1024)) + 1 + 2}`
  for (let i = 0; i < 100 && await server.command('DBSIZE') !== expectedKeys; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  t.is(await server.command('DBSIZE'), expectedKeys, 'chunks once, one manifest, two keys')

  t.true(await tier.remove('GET /a'))
  t.is(await tier.lookup('GET /a'), null)
  t.truthy(await tier.lookup('GET /b'))
})

test('bad options are TypeError or RangeError with a code', (t) => {
  t.throws(() => new RemoteTier(), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new RemoteTier({ url: 'http://x' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new RemoteTier({ url: 'redis://127.0.0.1:1', chunkSize: 1000 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new RemoteTier({ url: 'redis://127.0.0.1:1', lookupTimeout: '5' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
})

test('a dead server is a miss, and the tier recovers when it is back', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const tier = new RemoteTier({ url: server.url, lookupTimeout: 200, breakerThreshold: 2, breakerCooldown: 200 })
  await tier.put('k', { body: 'before' })
  await server.kill()
  for (let i = 0; i < 4; i++) t.is(await tier.get('k'), null)
  const down = tier.stats()
  t.true(down.breakerOpen)
  t.true(down.errors >= 2)
  const refused = await t.throwsAsync(tier.put('k2', { body: 'x' }))
  t.regex(refused.code, /^ERR_REMOTE_(UNAVAILABLE|CONNECTION|TIMEOUT)$/)

  await server.restart()
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await tier.put('k', { body: 'after' })
      break
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  t.is((await readAll((await tier.get('k')).body)).toString(), 'after')
  t.false(tier.stats().breakerOpen)
})

/** A node:http origin serving deterministic bodies, slowly, counting requests per path. */
async function startOrigin (t, size) {
  const requests = new Map()
  const origin = http.createServer((req, res) => {
    requests.set(req.url, (requests.get(req.url) ?? 0) + 1)
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      res.end(seededBytes(req.url, size))
    }, 300)
  })
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
  t.teardown(() => origin.close())
  return { url: `http://127.0.0.1:${origin.address().port}`, requests }
}

function startHost (t, redisUrl, originUrl) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-host-'))
  const child = fork(path.join(__dirname, 'helpers', 'remote-host.js'), [dir, redisUrl, originUrl], { stdio: 'inherit' })
  t.teardown(() => { child.kill(); fs.rmSync(dir, { recursive: true, force: true }) })
  let next = 0
  const pending = new Map()
  const ready = new Promise((resolve) => {
    child.on('message', (message) => {
      if (message.ready) return resolve()
      if (message.progress) return pending.get(message.id).onProgress?.()
      const settle = pending.get(message.id)
      pending.delete(message.id)
      if (message.error) settle.reject(new Error(message.error))
      else settle.resolve(message)
    })
  })
  const ask = (payload, onProgress) => new Promise((resolve, reject) => {
    const id = next++
    pending.set(id, { resolve, reject, onProgress })
    child.send({ id, ...payload, announce: onProgress !== undefined })
  })
  return {
    ready,
    fetch: (p, onProgress) => ask({ path: p }, onProgress),
    stats: () => ask({ stats: true }).then((m) => m.stats),
  }
}

test('three hosts with their own disks share one Redis: one origin request per object', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const size = 3 * MiB + 7
  const origin = await startOrigin(t, size)
  const hosts = [0, 1, 2].map(() => startHost(t, server.url, origin.url))
  await Promise.all(hosts.map((h) => h.ready))

  // Concurrently: one host takes the lock and fetches, the others wait and read from Redis.
  const together = await Promise.all(hosts.map((h) => h.fetch('/together')))
  const expected = sha256(seededBytes('/together', size))
  for (const answer of together) {
    t.is(answer.size, size)
    t.is(answer.sha256, expected)
  }
  t.is(origin.requests.get('/together'), 1, JSON.stringify(together.map(({ sha256, ...rest }) => rest)))
  t.deepEqual(together.map((a) => a.source).sort(), ['origin', 'remote', 'remote'])

  // One after another: the first fetches, the next two read from Redis, then each its disk.
  const sources = []
  for (const host of hosts) sources.push((await host.fetch('/sequential')).source)
  t.deepEqual(sources, ['origin', 'remote', 'remote'])
  for (const host of hosts) t.is((await host.fetch('/sequential')).source, 'disk')
  t.is(origin.requests.get('/sequential'), 1)

  const stats = await Promise.all(hosts.map((h) => h.stats()))
  t.is(stats.reduce((n, s) => n + s.uploads, 0), 2, 'each object uploaded once')
  t.is(stats.reduce((n, s) => n + s.hits, 0), 4, 'two waiters + two sequential readers')
})

test('Redis killed mid-stream: the host answers from the origin and keeps no partial entry', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const size = 32 * MiB
  const origin = await startOrigin(t, size)
  const [a, b, c] = [0, 1, 2].map(() => startHost(t, server.url, origin.url))
  await Promise.all([a.ready, b.ready, c.ready])
  const expected = sha256(seededBytes('/big', size))

  t.is((await a.fetch('/big')).source, 'origin')
  let killed = null
  const answer = await b.fetch('/big', () => { killed ??= server.kill() })
  await killed
  t.truthy(killed, 'the server died while the body streamed from it')
  t.is(answer.source, 'origin')
  t.regex(answer.remoteError, /^ERR_REMOTE_/)
  t.is(answer.sha256, expected)
  t.is(origin.requests.get('/big'), 2)

  // What b keeps on disk is the origin's whole body, never the part Redis had sent.
  const again = await b.fetch('/big')
  t.is(again.source, 'disk')
  t.is(again.sha256, expected)
  // A third host, Redis still down: a miss, then the origin, within the breaker's bounds.
  const third = await c.fetch('/big')
  t.is(third.source, 'origin')
  t.is(third.sha256, expected)
})

test('a 200 MiB body goes through the shared tier with bounded memory on both sides', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const size = 200 * MiB
  const run = (role) => new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'helpers', 'remote-large.js'), [role, server.url, String(size)], { stdio: 'inherit', execArgv: ['--expose-gc'] })
    child.once('message', resolve)
    child.once('exit', (code) => code !== 0 && reject(new Error(`${role} child exited with ${code}`)))
  })
  const put = await run('put')
  const get = await run('get')
  t.is(get.digest, put.digest)
  t.log(`peak RSS growth: put ${put.rssGrowthKiB} KiB, get ${get.rssGrowthKiB} KiB (body ${size / 1024} KiB)`)
  // A few 1 MiB chunks in flight, stream buffers and up to 8 MiB of garbage between
  // collections: a small fraction of the body.
  t.true(put.rssGrowthKiB < 48 * 1024, `put grew by ${put.rssGrowthKiB} KiB`)
  t.true(get.rssGrowthKiB < 48 * 1024, `get grew by ${get.rssGrowthKiB} KiB`)
})
