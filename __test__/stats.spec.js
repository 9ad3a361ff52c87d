'use strict'
// cache.stats() and the diagnostics_channel events StreamingCache publishes, against real
// files; and the README's Prometheus example, run as documented with prom-client.
const fs = require('node:fs')
const path = require('node:path')
const Module = require('node:module')
const diagnostics = require('node:diagnostics_channel')
const test = require('ava')
const client = require('prom-client')
const { StreamingCache, KiB, tempCache, tempDir, seededBytes, readAll, readBody, contentFileFor } = require('./helpers/util')

const CHANNELS = ['hit', 'miss', 'store', 'store:error', 'delete', 'integrity-failure']
  .map((event) => `http-streaming-cache:cache:${event}`)

/** Collects every message published for `cache` on our channels until the test ends. */
function record (t, cache) {
  const seen = []
  for (const name of CHANNELS) {
    const listener = (message) => { if (message.cache === cache) seen.push({ name: name.slice(27), ...message }) }
    diagnostics.subscribe(name, listener)
    t.teardown(() => diagnostics.unsubscribe(name, listener))
  }
  return seen
}

test('stats() counts lookups, stores, bytes and dedup', async (t) => {
  const cache = await tempCache(t, { maxSize: 1024 * KiB, maxEntries: 100 })
  const body = seededBytes('a', 100 * KiB)
  await cache.put('a', { status: 200, body })
  await cache.put('a-copy', { status: 200, body })
  await cache.put('b', { status: 200, body: seededBytes('b', 10 * KiB) })
  t.deepEqual(await readBody(cache.getSync('a')), body)
  t.deepEqual(await readBody(cache.getSync('a-copy')), body)
  t.is(cache.getSync('nope'), null)

  const stats = cache.stats()
  t.like(stats, {
    hits: 2,
    memoryHits: 0,
    misses: 1,
    stores: 3,
    deduplicatedStores: 1,
    bytesWritten: 210 * KiB,
    bytesRead: 200 * KiB,
    integrityFailures: 0,
    entries: 3,
    bytes: 110 * KiB,
    maxSize: 1024 * KiB,
    maxEntries: 100,
    dedupSavedBytes: 100 * KiB,
    evictions: { size: 0, sharedBudget: 0, corrupt: 0, missing: 0 },
  })
  t.is(cache.maxSize, 1024 * KiB)
  await cache.close()
  t.throws(() => cache.stats(), { code: 'ERR_CACHE_CLOSED' })
})

test('hits from the RAM tier count as hits and as memoryHits, without disk bytes read', async (t) => {
  const cache = await tempCache(t)
  const small = seededBytes('s', KiB)
  const large = seededBytes('l', 200 * KiB)
  await cache.put('small', { status: 200, body: small })
  await cache.put('large', { status: 200, body: large })
  // The first read of each is from disk (and admits the body); the next two from RAM.
  for (let i = 0; i < 3; i++) {
    t.deepEqual(await readBody(cache.getSync('small')), small)
    t.deepEqual(await readBody(cache.getSync('large')), large)
  }
  t.like(cache.stats(), { hits: 6, memoryHits: 4, misses: 0, bytesRead: KiB + 200 * KiB })
  t.is(cache.memoryUsage().entries, 2)

  const off = await tempCache(t, { memory: 0 })
  await off.put('small', { status: 200, body: small })
  for (let i = 0; i < 3; i++) t.deepEqual(await readBody(off.getSync('small')), small)
  t.like(off.stats(), { hits: 3, memoryHits: 0, bytesRead: 3 * KiB })
})

test('evictions by size are counted and bytes follow the disk', async (t) => {
  const cache = await tempCache(t, { maxSize: 64 * KiB })
  for (let i = 0; i < 10; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(i, 20 * KiB) })
  await cache.runPendingTasks()
  const stats = cache.stats()
  t.true(stats.evictions.size >= 7, JSON.stringify(stats))
  t.is(stats.entries, 10 - stats.evictions.size)
  t.true(stats.bytes <= 64 * KiB)
  t.is(stats.bytes, stats.entries * 20 * KiB)
})

test('events: hit, miss, store, store:error and delete carry the cache and key', async (t) => {
  const cache = await tempCache(t, { maxBodySize: 50 * KiB })
  const seen = record(t, cache)
  const info = await cache.put('k', { status: 200, body: 'hello' })
  cache.getSync('k').body.destroy()
  cache.getSync('missing')
  await t.throwsAsync(cache.put('big', { status: 200, body: Buffer.alloc(51 * KiB) }), { code: 'ERR_BODY_TOO_LARGE' })
  const stream = cache.createWriteStream('streamed', { status: 200 })
  stream.end('streamed body')
  await stream.committed
  await cache.delete('k')
  await cache.delete('k')

  const summary = seen.map(({ name, key, size, deleted, error, integrity }) =>
    ({ name, key, ...(size !== undefined && { size }), ...(deleted !== undefined && { deleted }), ...(error && { code: error.code }), ...(integrity && { integrity }) }))
  t.deepEqual(summary, [
    { name: 'store', key: 'k', size: 5, integrity: info.integrity },
    { name: 'hit', key: 'k', size: 5 },
    { name: 'miss', key: 'missing' },
    { name: 'store:error', key: 'big', code: 'ERR_BODY_TOO_LARGE' },
    { name: 'store', key: 'streamed', size: 13, integrity: summary[4]?.integrity },
    { name: 'delete', key: 'k', deleted: true },
    { name: 'delete', key: 'k', deleted: false },
  ])
  // Another cache's events are not this one's.
  const other = await tempCache(t)
  other.getSync('k')
  t.is(seen.length, 7)
})

test('a corrupt body is counted and published as an integrity failure', async (t) => {
  const cache = await tempCache(t)
  const seen = record(t, cache)
  const body = seededBytes('c', 200 * KiB)
  const { integrity } = await cache.put('c', { status: 200, body })
  const file = contentFileFor(cache.dir, integrity)
  const bytes = fs.readFileSync(file)
  bytes[150 * KiB] ^= 0xff
  fs.writeFileSync(file, bytes)

  const hit = cache.getSync('c')
  const err = await t.throwsAsync(readAll(hit.body))
  t.is(err.code, 'ERR_CACHE_INTEGRITY')
  await new Promise((resolve) => setImmediate(resolve))
  t.like(cache.stats(), { integrityFailures: 1, evictions: { corrupt: 1 } })
  t.deepEqual(seen.filter((m) => m.name === 'integrity-failure').map((m) => [m.key, m.error.code]), [['c', 'ERR_CACHE_INTEGRITY']])
  t.is(cache.getSync('c'), null)
})

/** The README's Prometheus block, loaded as a module from this directory. */
function readmeExample () {
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const block = /<!-- prometheus-example:start -->\n```js\n([\s\S]*?)```\n<!-- prometheus-example:end -->/.exec(readme)
  if (!block) throw new Error('README has no Prometheus example block')
  const filename = path.join(__dirname, 'readme-prometheus-example.js')
  const mod = new Module(filename, module)
  mod.filename = filename
  mod.paths = Module._nodeModulePaths(__dirname)
  mod._compile(block[1], filename)
  return mod.exports
}

test('the README Prometheus example exports lookups, bytes and evictions', async (t) => {
  const { exportCacheMetrics } = readmeExample()
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxSize: 100 * KiB })
  t.teardown(() => cache.close())
  const registry = new client.Registry()
  exportCacheMetrics(cache, registry)

  for (let i = 0; i < 8; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(i, 20 * KiB) })
  await cache.runPendingTasks()
  let hits = 0
  for (let i = 0; i < 8; i++) {
    const hit = cache.getSync(`k${i}`)
    if (hit) { hits++; hit.body.destroy() }
  }
  const stats = cache.stats()
  const text = await registry.metrics()
  const value = (line) => Number(new RegExp(`^${line.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1])
  t.is(value('http_cache_lookups_total{outcome="hit"}'), hits)
  t.is(value('http_cache_lookups_total{outcome="miss"}'), 8 - hits)
  t.is(value('http_cache_stored_bytes_total'), 8 * 20 * KiB)
  t.is(value('http_cache_bytes'), stats.bytes)
  t.is(value('http_cache_max_bytes'), 100 * KiB)
  t.is(value('http_cache_entries'), stats.entries)
  t.is(value('http_cache_evictions{cause="size"}'), stats.evictions.size)
  t.true(stats.evictions.size > 0)
  t.true(stats.bytes <= 100 * KiB)
})
