'use strict'
// The RAM tier (issue 12): on by default, what it admits, that a hit from RAM is the same
// stream of <= 64 KiB chunks without copies, and that it never serves a body that was
// replaced, updated, deleted, evicted or found corrupt, by this process or by another one.
const test = require('ava')
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')
const {
  StreamingCache, ROOT, KiB, MiB, CHUNK, sha256, seededBytes, readAll, tempDir, contentFileFor,
} = require('./helpers/util')

/** Reads a hit's body; also returns the ArrayBuffers its chunks live in. */
async function read (hit) {
  const stores = new Set()
  hit.body.on('data', (chunk) => stores.add(chunk.buffer))
  const { body, sizes } = await readAll(hit.body)
  return { body, sizes, stores }
}

/**
 * Two hits in a row after a first read (which may come from disk: a small body read from disk
 * is copied out of a scratch Buffer, and admitted to the tier by that read); whether the second
 * was served from the same memory as the first.
 */
async function twoHits (cache, key) {
  await read(cache.getSync(key))
  const first = await read(cache.getSync(key))
  const second = await read(cache.getSync(key))
  const shared = [...second.stores].every((s) => first.stores.has(s))
  return { first, second, shared }
}

/** Runs `code` in a separate Node process with the cache at `dir` opened as `cache`. */
function inAnotherProcess (dir, code) {
  const script = `
    const { StreamingCache } = require(${JSON.stringify(ROOT)})
    const cache = new StreamingCache(process.argv[1])
    ;(async () => { ${code}; await cache.close() })().catch((e) => { console.error(e); process.exit(1) })`
  execFileSync(process.execPath, ['-e', script, dir], { stdio: ['ignore', 'inherit', 'inherit'] })
}

test('on by default: 64 MiB in all, bodies up to and including 1 MiB', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  t.like(cache.memoryUsage(), { maxSize: 64 * MiB, maxEntrySize: MiB, bytes: 0, entries: 0 })
  const fits = seededBytes(1, MiB)
  const over = seededBytes(2, MiB + 1)
  await cache.put('fits', { status: 200, body: fits })
  await cache.put('over', { status: 200, body: over })

  const a = await twoHits(cache, 'fits')
  t.true(a.second.body.equals(fits))
  t.true(a.second.sizes.every((n) => n <= CHUNK), 'chunks of at most 64 KiB from RAM too')
  t.is(a.second.sizes.length, MiB / CHUNK)
  t.true(a.shared, 'the second hit is views of the body the first one read: served from RAM')

  const b = await twoHits(cache, 'over')
  t.true(b.second.body.equals(over))
  t.false(b.shared, 'a body over maxEntrySize is read from disk every time')
  const usage = cache.memoryUsage()
  t.is(usage.entries, 1)
  t.true(usage.bytes >= MiB && usage.bytes < MiB + KiB)
  await cache.close()
})

test('memory: 0, false or { maxSize: 0 } turns the tier off', async (t) => {
  for (const memory of [0, false, { maxSize: 0 }]) {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, { memory })
    t.like(cache.memoryUsage(), { maxSize: 0, entries: 0 })
    const data = seededBytes(3, 100 * KiB)
    await cache.put('k', { status: 200, body: data })
    const { second, shared } = await twoHits(cache, 'k')
    t.true(second.body.equals(data))
    t.false(shared, `memory: ${JSON.stringify(memory)} reads from disk every time`)
    t.is(cache.memoryUsage().entries, 0)
    await cache.close()
  }
})

test('bad memory options throw TypeError or RangeError', async (t) => {
  const dir = await tempDir(t)
  for (const memory of ['64M', null, [], 1, true]) {
    t.throws(() => new StreamingCache(dir, { memory }), { instanceOf: TypeError }, JSON.stringify(memory))
  }
  t.throws(() => new StreamingCache(dir, { memory: { maxSize: '1' } }), { instanceOf: TypeError })
  for (const memory of [{ maxSize: -1 }, { maxSize: 1.5 }, { maxEntrySize: -2 }, { maxSize: 10, maxEntrySize: 11 }, { maxSize: 2 ** 53 }]) {
    t.throws(() => new StreamingCache(dir, { memory }), { instanceOf: RangeError }, JSON.stringify(memory))
  }
  const small = new StreamingCache(dir, { memory: { maxSize: 1000 } })
  t.like(small.memoryUsage(), { maxSize: 1000, maxEntrySize: 1000 }, 'maxEntrySize defaults to at most maxSize')
  await small.close()
})

test('replace, updateMetadata, delete and clear in this process are seen by the next hit', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, headers: { a: '1' }, body: 'old' })
  t.true((await twoHits(cache, 'k')).shared)

  await cache.put('k', { status: 200, headers: { a: '2' }, body: 'new' })
  let hit = cache.getSync('k')
  t.is(hit.headers.a, '2')
  t.is((await read(hit)).body.toString(), 'new')

  t.true((await twoHits(cache, 'k')).shared)
  t.true(await cache.updateMetadata('k', { headers: { a: '3' } }))
  hit = cache.getSync('k')
  t.is(hit.headers.a, '3', 'updated fields, not the ones cached with the RAM copy')
  t.is((await read(hit)).body.toString(), 'new')

  t.true((await twoHits(cache, 'k')).shared)
  t.true(await cache.delete('k'))
  t.is(cache.getSync('k'), null)

  await cache.put('k', { status: 200, body: 'again' })
  t.true((await twoHits(cache, 'k')).shared)
  await cache.clear()
  t.is(cache.getSync('k'), null)
  t.is(cache.memoryUsage().entries, 0)
  await cache.close()
})

test('an entry evicted from the index is not served from RAM', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { maxEntries: 1 })
  await cache.put('a', { status: 200, body: 'body a' })
  t.true((await twoHits(cache, 'a')).shared)
  await cache.put('b', { status: 200, body: 'body b' })
  await cache.runPendingTasks()
  t.is(cache.entryCount(), 1)
  const survivor = cache.has('a') ? 'a' : 'b'
  const evicted = survivor === 'a' ? 'b' : 'a'
  t.is(cache.getSync(evicted), null)
  t.is((await read(cache.getSync(survivor))).body.toString(), `body ${survivor}`)
  await cache.close()
})

test('content found corrupt through another key is not served from RAM', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  const data = seededBytes(4, 200 * KiB)
  const { integrity } = await cache.put('a', { status: 200, body: data })
  await cache.put('b', { status: 200, body: data })
  t.true((await twoHits(cache, 'a')).shared)
  const file = contentFileFor(dir, integrity)
  const damaged = Buffer.from(data)
  damaged[1000] ^= 0xff
  fs.chmodSync(file, 0o644)
  fs.writeFileSync(file, damaged)
  await t.throwsAsync(read(cache.getSync('b')), { code: 'ERR_CACHE_INTEGRITY' })
  t.is(cache.memoryUsage().entries, 0, 'the RAM copy went with the corrupt content')
  const after = cache.getSync('a')
  t.is(after, null, 'the content is gone, so key a misses as its disk lookup does')
  await cache.close()
})

test('another process replacing or deleting the key: this one stops serving its RAM copy at once', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'first' })
  const warm = await twoHits(cache, 'k')
  t.true(warm.shared)

  inAnotherProcess(dir, "await cache.put('k', { status: 200, body: 'second' })")
  const afterReplace = await read(cache.getSync('k'))
  t.false([...afterReplace.stores].some((s) => warm.first.stores.has(s)), 'not served from the RAM copy')
  t.is(afterReplace.body.toString(), 'second', 'the replacement is found on disk at once')
  t.is(cache.memoryUsage().entries, 0, 'the stale RAM copy is dropped; the replacement is not admitted on first sight')
  await cache.refresh()
  t.is((await read(cache.getSync('k'))).body.toString(), 'second')
  const rewarm = await twoHits(cache, 'k')
  t.true(rewarm.shared, 'the new body is admitted in its turn')

  inAnotherProcess(dir, "await cache.delete('k')")
  // Whatever the disk path answers (its index may still name the old entry until refresh),
  // it is not the RAM copy.
  const afterDelete = cache.getSync('k')
  const stores = afterDelete === null ? new Set() : (await read(afterDelete)).stores
  t.false([...stores].some((s) => rewarm.first.stores.has(s)), 'not served from the RAM copy')
  t.is(cache.memoryUsage().entries, 0, 'the stale RAM copy is dropped')
  await cache.refresh()
  t.is(cache.getSync('k'), null)
  await cache.close()
})

test('the tier keeps to its byte budget and keeps the bodies asked for most', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, { memory: { maxSize: MiB, maxEntrySize: 256 * KiB } })
  const size = 200 * KiB
  for (let i = 0; i < 20; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(i, size) })
  // k0..k2 are asked for often, the rest once.
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 3; i++) await read(cache.getSync(`k${i}`))
  }
  for (let i = 3; i < 20; i++) await read(cache.getSync(`k${i}`))
  const usage = cache.memoryUsage()
  t.true(usage.bytes <= MiB, `${usage.bytes} bytes held`)
  for (let i = 0; i < 3; i++) {
    const { second, shared } = await twoHits(cache, `k${i}`)
    t.true(shared, `frequent key k${i} stays in RAM`)
    t.is(sha256(second.body), sha256(seededBytes(i, size)))
  }
  await cache.close()
})
