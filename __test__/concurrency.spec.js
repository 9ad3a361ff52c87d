'use strict'
const test = require('ava')
const { Readable } = require('node:stream')
const { KiB, sha256, sri, seededBytes, prng, readAll, contentFiles, contentFileFor, tmpFiles, tempCache } = require('./helpers/util')

// A fixed set of bodies, 1-300 KiB, identified by their hash.
const BODIES = [1, 7, 64, 65, 100, 150, 222, 300].map((kib, i) => seededBytes(`conc-${i}`, kib * KiB - (i % 3)))
const BY_HASH = new Map(BODIES.map((b) => [sha256(b), b]))

function asSource (body, rand) {
  const r = rand()
  if (r < 0.4) return body
  if (r < 0.7) {
    const pieces = []
    for (let i = 0; i < body.length; i += 20 * KiB) pieces.push(body.subarray(i, i + 20 * KiB))
    return Readable.from(pieces)
  }
  return (async function * () {
    yield body.subarray(0, 1000)
    await new Promise((resolve) => setImmediate(resolve))
    yield body.subarray(1000)
  })()
}

async function runMix (t, { seed, ops, keys, parallel }) {
  const cache = await tempCache(t)
  const rand = prng(seed)
  // Every body whose put under a key has *started*: a read may see any of them.
  const everWritten = new Map(keys.map((k) => [k, new Set()]))
  const stats = { puts: 0, hits: 0, misses: 0, deletes: 0 }
  const failures = []
  // Start with every key present, so even the first reads can hit.
  for (const [i, key] of keys.entries()) {
    const body = BODIES[i % BODIES.length]
    everWritten.get(key).add(sha256(body))
    await cache.put(key, { status: 200, body })
  }

  async function op (i) {
    const key = keys[Math.floor(rand() * keys.length)]
    const r = rand()
    if (r < 0.4) {
      const body = BODIES[Math.floor(rand() * BODIES.length)]
      everWritten.get(key).add(sha256(body))
      const info = await cache.put(key, { status: 200, metadata: { op: i }, body: asSource(body, rand) })
      if (info.integrity !== sri(body) || info.size !== body.length) failures.push(`put ${i}: bad info`)
      stats.puts++
    } else if (r < 0.85) {
      const hit = rand() < 0.5 ? await cache.get(key) : cache.getSync(key)
      if (hit === null) {
        stats.misses++
        return
      }
      const { body, sizes } = await readAll(hit.body)
      const hash = sha256(body)
      if (!everWritten.get(key).has(hash)) failures.push(`get ${i} ${key}: body ${hash} was never written there`)
      if (body.length !== hit.size) failures.push(`get ${i}: size ${body.length} != ${hit.size}`)
      if (sri(body) !== hit.integrity) failures.push(`get ${i}: integrity mismatch`)
      if (sizes.some((n) => n > 64 * KiB)) failures.push(`get ${i}: chunk over 64 KiB`)
      stats.hits++
    } else {
      await cache.delete(key)
      stats.deletes++
    }
  }

  let next = 0
  async function worker () {
    while (next < ops) await op(next++)
  }
  await Promise.all(Array.from({ length: parallel }, worker))

  t.deepEqual(failures, [])
  t.is(stats.puts + stats.hits + stats.misses + stats.deletes, ops)
  t.true(stats.hits > 0 && stats.puts > 0 && stats.deletes > 0, JSON.stringify(stats))

  // Quiescent state is consistent: each live key reads a body written there, and the content
  // on disk is exactly the set of bodies live keys point at.
  await cache.runPendingTasks()
  const live = cache.keys()
  t.is(live.length, cache.entryCount())
  const wanted = new Set()
  for (const key of live) {
    const hit = await cache.get(key)
    const { body } = await readAll(hit.body)
    t.true(everWritten.get(key).has(sha256(body)), key)
    t.true(BY_HASH.has(sha256(body)))
    wanted.add(contentFileFor(cache.dir, hit.integrity))
  }
  t.deepEqual(contentFiles(cache.dir).sort(), [...wanted].sort())
  t.deepEqual(tmpFiles(cache.dir), [])
  return stats
}

test('500 concurrent put/get/delete over 5 keys: reads only ever see whole written bodies', async (t) => {
  await runMix(t, { seed: 1, ops: 500, keys: ['a', 'b', 'c', 'd', 'e'], parallel: 32 })
})

test('heavy contention on one key', async (t) => {
  await runMix(t, { seed: 2, ops: 300, keys: ['only'], parallel: 24 })
})

test('all ops started at once', async (t) => {
  await runMix(t, { seed: 3, ops: 300, keys: ['x', 'y', 'z'], parallel: 300 })
})

test('concurrent puts of the same body under many keys dedup to one file', async (t) => {
  const cache = await tempCache(t)
  const body = BODIES[7]
  const keys = Array.from({ length: 50 }, (_, i) => `dup-${i}`)
  const infos = await Promise.all(keys.map((key, i) => cache.put(key, {
    status: 200,
    body: i % 2 ? body : Readable.from([body.subarray(0, 5000), body.subarray(5000)]),
  })))
  t.true(infos.every((info) => info.integrity === sri(body)))
  t.is(contentFiles(cache.dir).length, 1)
  t.is(cache.entryCount(), 50)
  // Delete them all concurrently while reading some: the last delete removes the file.
  const reads = keys.slice(0, 10).map(async (key) => {
    const hit = await cache.get(key)
    if (hit) t.true((await readAll(hit.body)).body.equals(body))
  })
  const deletes = keys.map((key) => cache.delete(key))
  t.deepEqual(await Promise.all(deletes), keys.map(() => true))
  await Promise.all(reads)
  t.deepEqual(contentFiles(cache.dir), [])
  t.is(cache.entryCount(), 0)
})
