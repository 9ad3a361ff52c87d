'use strict'
const test = require('ava')
const { StreamingCache, sri, seededBytes, readBody, contentFiles, contentFileFor, tmpFiles, indexKeys, tempDir } = require('./helpers/util')

async function checkConsistent (t, cache, bodies) {
  const live = cache.keys()
  t.true(live.length <= 10, `${live.length} live keys`)
  t.is(live.length, cache.entryCount())
  // One content file per distinct body of a live key, and exactly those files.
  const expected = [...new Set(live.map((k) => contentFileFor(cache.dir, sri(bodies.get(k)))))].sort()
  t.deepEqual(contentFiles(cache.dir).sort(), expected)
  for (const key of live) {
    const hit = await cache.get(key)
    t.truthy(hit, `live key ${key} reads`)
    t.true((await readBody(hit)).equals(bodies.get(key)), key)
  }
  return live
}

test('maxEntries 10: 200 puts leave at most 10 entries and only their content on disk', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxEntries: 10 })
  const bodies = new Map()
  for (let i = 0; i < 200; i++) {
    const key = `https://example.com/item/${i}`
    const body = seededBytes(`evict-${i}`, 1000 + i * 37)
    bodies.set(key, body)
    await cache.put(key, { status: 200, body })
  }
  await cache.runPendingTasks()
  t.true(cache.entryCount() <= 10, `entryCount ${cache.entryCount()}`)
  t.true(cache.entryCount() > 0)
  const live = await checkConsistent(t, cache, bodies)

  // Evicted keys miss.
  let misses = 0
  for (const key of bodies.keys()) {
    if (live.includes(key)) continue
    t.false(cache.has(key))
    if ((await cache.get(key)) === null) misses++
  }
  t.is(misses, 200 - live.length)
  t.deepEqual(tmpFiles(dir), [])
  // The on-disk index, read straight from its files, lists only the live keys.
  t.deepEqual(indexKeys(dir), [...live].sort())

  // The index entries of evicted keys are gone from disk too: a restarted cache sees only the live ones.
  const restarted = new StreamingCache(dir, { maxEntries: 10 })
  t.true(restarted.entryCount() <= 10, `restarted entryCount ${restarted.entryCount()}`)
  t.deepEqual(restarted.keys(), live)
  for (const key of live) t.true((await readBody(await restarted.get(key))).equals(bodies.get(key)))
})

test('eviction with shared bodies keeps content referenced by live keys', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxEntries: 10 })
  const pool = [0, 1, 2, 3, 4].map((i) => seededBytes(`pool-${i}`, 5000 + i))
  const bodies = new Map()
  for (let i = 0; i < 200; i++) {
    const key = `k${String(i).padStart(3, '0')}`
    bodies.set(key, pool[i % pool.length])
    await cache.put(key, { status: 200, body: pool[i % pool.length] })
    // Read some keys often so TinyLFU has a frequency signal to work with.
    if (i % 7 === 0) (await cache.get('k000'))?.body.destroy()
  }
  await cache.runPendingTasks()
  t.true(cache.entryCount() <= 10)
  await checkConsistent(t, cache, bodies)
})

test('a cache reopened with a smaller maxEntries bounds its memory and deletes nothing it did not store', async (t) => {
  // Issue 10 item 6: count capacity bounds a process's memory and its own writes; entries
  // another (or an earlier) process stored are not its to delete.
  const dir = await tempDir(t)
  const big = new StreamingCache(dir, { maxEntries: 1000 })
  const bodies = new Map()
  for (let i = 0; i < 50; i++) {
    const key = `r${i}`
    bodies.set(key, seededBytes(key, 2000))
    await big.put(key, { status: 200, body: bodies.get(key) })
  }
  t.is(big.entryCount(), 50)
  t.is(contentFiles(dir).length, 50)
  await big.close()

  const small = new StreamingCache(dir, { maxEntries: 10 })
  await small.runPendingTasks()
  t.true(small.entryCount() <= 10, `entryCount ${small.entryCount()}`)
  t.is(indexKeys(dir).length, 50)
  t.is(contentFiles(dir).length, 50)
  for (const [key, body] of bodies) {
    const hit = await small.get(key)
    t.truthy(hit, key)
    t.true((await readBody(hit)).equals(body), key)
  }
  await small.runPendingTasks()
  t.is(indexKeys(dir).length, 50)
})

test('maxEntries 0 is a RangeError: a cache that holds nothing would only churn the disk', (t) => {
  t.throws(() => new StreamingCache(t.context.dir ?? '.', { maxEntries: 0 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
})
