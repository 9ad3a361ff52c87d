'use strict'
// `http-streaming-cache:cache:evict` on diagnostics_channel: every eviction the core counts,
// key by key, with its size and cause, from a real cache with a small byte budget. Serial:
// a subscriber anywhere in the process makes every cache drain its records.
const test = require('ava')
const fs = require('node:fs')
const dc = require('node:diagnostics_channel')
const { StreamingCache, tempDir, seededBytes, contentFileFor, readBody, KiB } = require('./helpers/util')

const CHANNEL = 'http-streaming-cache:cache:evict'

/** Subscribes for the test's duration; returns the messages about `cache`. */
function listen (t, cache) {
  const seen = []
  const onMessage = (message) => { if (message.cache === cache) seen.push(message) }
  dc.subscribe(CHANNEL, onMessage)
  t.teardown(() => dc.unsubscribe(CHANNEL, onMessage))
  return seen
}

test.serial('a small maxSize cache publishes each size eviction with its key and size; the counts match stats()', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxSize: 100 * KiB, memory: 0 })
  t.teardown(() => cache.close())
  const seen = listen(t, cache)

  const sizes = new Map()
  for (let i = 0; i < 12; i++) {
    const key = `k${i}`
    const body = seededBytes(key, 20 * KiB + i)
    sizes.set(key, body.length)
    await cache.put(key, { status: 200, headers: {}, body })
  }
  await cache.runPendingTasks()
  const stats = cache.stats()
  t.true(stats.evictions.size >= 7, `only ${stats.evictions.size} evictions`)
  t.is(seen.length, stats.evictions.size)
  for (const { key, size, cause } of seen) {
    t.is(cause, 'size')
    t.is(size, sizes.get(key), key)
    t.is(cache.getSync(key), null, `${key} was published as evicted but is served`)
  }
  t.is(new Set(seen.map((m) => m.key)).size, seen.length, 'a key was published twice')
  const served = [...sizes.keys()].filter((key) => cache.getSync(key) !== null)
  t.is(served.length + seen.length, sizes.size, 'every key is either served or was published as evicted')
})

test.serial('content removed by hand is a missing eviction, altered content a corrupt one', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { memory: 0 })
  t.teardown(() => cache.close())
  const gone = await cache.put('gone', { status: 200, headers: {}, body: 'soon missing' })
  const bad = await cache.put('bad', { status: 200, headers: {}, body: 'soon corrupt' })
  const seen = listen(t, cache)

  fs.rmSync(contentFileFor(dir, gone.integrity))
  t.is(cache.getSync('gone'), null)
  t.deepEqual(seen.map(({ key, size, cause }) => ({ key, size, cause })), [{ key: 'gone', size: 12, cause: 'missing' }])

  fs.writeFileSync(contentFileFor(dir, bad.integrity), 'soon CORRUPT')
  const hit = cache.getSync('bad')
  await t.throwsAsync(() => readBody(hit), { code: 'ERR_CACHE_INTEGRITY' })
  await new Promise((resolve) => setImmediate(resolve))
  t.deepEqual(seen.map(({ key, cause }) => [key, cause]), [['gone', 'missing'], ['bad', 'corrupt']])
  t.is(seen[1].size, 12)
  t.deepEqual(cache.stats().evictions, { size: 0, sharedBudget: 0, corrupt: 1, missing: 1 })
})

test.serial('evictions while nobody listens are kept and published once someone does', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxEntries: 1, memory: 0 })
  t.teardown(() => cache.close())
  for (let i = 0; i < 5; i++) await cache.put(`quiet${i}`, { status: 200, headers: {}, body: 'x' })
  const seen = listen(t, cache)
  await cache.put('loud', { status: 200, headers: {}, body: 'y' })
  // The evictions from before the subscription come first, then the new one.
  t.true(seen.length >= 1)
  t.is(seen.length, cache.stats().evictions.size)
  t.true(seen.every((m) => m.cause === 'size'))
})
