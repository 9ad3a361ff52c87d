'use strict'
// maxSize through the JS API against real files: option checks, bodies over the budget
// refused like bodies over maxBodySize, the content on disk within the bound after every put,
// shared bodies counted once, and the budget surviving a restart.
const fs = require('node:fs')
const path = require('node:path')
const { Readable } = require('node:stream')
const test = require('ava')
const { StreamingCache, KiB, tempCache, tempDir, seededBytes, readBody, contentFiles } = require('./helpers/util')

const contentBytes = (dir) => contentFiles(dir).reduce((n, file) => n + fs.statSync(file).size, 0)

test('maxSize is checked like the other bounds and reported', async (t) => {
  const dir = await tempDir(t)
  t.throws(() => new StreamingCache(dir, { maxSize: 0 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new StreamingCache(dir, { maxSize: 1.5 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new StreamingCache(dir, { maxSize: -1 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new StreamingCache(dir, { maxSize: '1' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  const defaults = new StreamingCache(dir)
  t.is(defaults.maxSize, 1024 ** 3)
  await defaults.close()
  const set = new StreamingCache(dir, { maxSize: 12345 })
  t.is(set.maxSize, 12345)
  t.is(set.stats().maxSize, 12345)
  await set.close()
})

test('a streamed body over maxSize is refused with ERR_BODY_TOO_LARGE and the old entry stays', async (t) => {
  const cache = await tempCache(t, { maxSize: 256 * KiB, maxBodySize: 10 * 1024 * KiB })
  const old = seededBytes('old', 10 * KiB)
  await cache.put('k', { status: 200, body: old })
  let pulled = 0
  const endless = new Readable({
    read () {
      pulled += 64 * KiB
      this.push(Buffer.alloc(64 * KiB, 1))
    },
  })
  const err = await t.throwsAsync(cache.put('k', { status: 200, body: endless }))
  t.is(err.code, 'ERR_BODY_TOO_LARGE')
  t.true(pulled < 1024 * KiB, `stopped early (pulled ${pulled} bytes)`)
  t.deepEqual(await readBody(cache.getSync('k')), old)
  // Exactly maxSize fits.
  await cache.put('exact', { status: 200, body: Buffer.alloc(256 * KiB, 2) })
  await cache.runPendingTasks()
  t.true(contentBytes(cache.dir) <= 256 * KiB)
  t.is(fs.readdirSync(path.join(cache.dir, 'tmp')).length, 0)
})

test('content on disk stays within maxSize after every put, and stats().bytes is what is there', async (t) => {
  const cache = await tempCache(t, { maxSize: 300 * KiB })
  for (let i = 0; i < 40; i++) {
    const size = [1, 7, 40, 90][i % 4] * KiB + i
    await cache.put(`k${i}`, { status: 200, body: seededBytes(i, size) })
    const onDisk = contentBytes(cache.dir)
    t.true(onDisk <= 300 * KiB, `after put ${i}: ${onDisk} bytes on disk`)
    t.is(cache.stats().bytes, onDisk)
  }
  // What is left reads back whole.
  for (const key of cache.keys()) {
    const i = Number(key.slice(1))
    t.deepEqual(await readBody(cache.getSync(key)), seededBytes(i, [1, 7, 40, 90][i % 4] * KiB + i))
  }
})

test('a body shared by many keys counts once against maxSize', async (t) => {
  const cache = await tempCache(t, { maxSize: 100 * KiB })
  const shared = seededBytes('shared', 60 * KiB)
  for (let i = 0; i < 10; i++) await cache.put(`variant-${i}`, { status: 200, body: shared })
  await cache.runPendingTasks()
  t.is(cache.entryCount(), 10)
  t.like(cache.stats(), { bytes: 60 * KiB, dedupSavedBytes: 9 * 60 * KiB, evictions: { size: 0 } })
  t.is(contentFiles(cache.dir).length, 1)
})

test('the budget is the directory\'s: a restart finds the same bytes and keeps the bound', async (t) => {
  const dir = await tempDir(t)
  let cache = new StreamingCache(dir, { maxSize: 200 * KiB })
  for (let i = 0; i < 5; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(i, 30 * KiB) })
  const before = cache.stats().bytes
  await cache.close()
  cache = new StreamingCache(dir, { maxSize: 200 * KiB })
  t.teardown(() => cache.close())
  t.is(cache.stats().bytes, before)
  for (let i = 5; i < 15; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(i, 30 * KiB) })
  await cache.runPendingTasks()
  t.true(contentBytes(dir) <= 200 * KiB)
  t.is(cache.stats().bytes, contentBytes(dir))
})
