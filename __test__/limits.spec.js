'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const { KiB, MiB, sri, readBody, contentFiles, tmpFiles, tempCache, sleep } = require('./helpers/util')

const LIMIT = 256 * KiB

async function cacheWithOldEntry (t) {
  const cache = await tempCache(t, { maxBodySize: LIMIT })
  const old = crypto.randomBytes(10 * KiB)
  await cache.put('key', { status: 200, headers: { 'x-old': '1' }, body: old })
  return { cache, old }
}

async function assertOldEntryIntact (t, cache, old) {
  const hit = await cache.get('key')
  t.truthy(hit, 'the previous entry must survive a failed put')
  t.is(hit.headers['x-old'], '1')
  t.is(hit.integrity, sri(old))
  t.true((await readBody(hit)).equals(old))
  t.is(cache.entryCount(), 1)
  t.is(contentFiles(cache.dir).length, 1, 'only the old content is on disk')
  t.deepEqual(tmpFiles(cache.dir), [], 'no temp files left behind')
}

function isTooLarge (t, err) {
  t.true(err instanceof Error)
  t.is(err.code, 'ERR_BODY_TOO_LARGE')
}

test('a body exactly maxBodySize bytes is accepted, one more byte is not', async (t) => {
  const cache = await tempCache(t, { maxBodySize: LIMIT })
  const exact = crypto.randomBytes(LIMIT)
  t.deepEqual(await cache.put('exact', { status: 200, body: exact }), { size: LIMIT, integrity: sri(exact) })
  t.true((await readBody(await cache.get('exact'))).equals(exact))
  // Streamed too.
  const streamed = await cache.put('exact-streamed', { status: 200, body: Readable.from([exact.subarray(0, 1000), exact.subarray(1000)]) })
  t.is(streamed.size, LIMIT)
  const err = await t.throwsAsync(cache.put('over', { status: 200, body: crypto.randomBytes(LIMIT + 1) }))
  isTooLarge(t, err)
  t.is(await cache.get('over'), null)
  t.deepEqual(tmpFiles(cache.dir), [])
})

test('an in-memory Buffer over maxBodySize is rejected and the old entry is intact', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: crypto.randomBytes(LIMIT * 2) }))
  isTooLarge(t, err)
  await assertOldEntryIntact(t, cache, old)
})

test('a streamed Readable over maxBodySize is rejected early and not fully consumed', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  const TOTAL = 20 * MiB
  const piece = crypto.randomBytes(16 * KiB)
  let produced = 0
  const source = new Readable({
    highWaterMark: 16 * KiB,
    read () {
      if (produced >= TOTAL) return this.push(null)
      produced += piece.length
      this.push(piece)
    },
  })
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: source }))
  isTooLarge(t, err)
  t.true(produced < TOTAL, 'the source must not be consumed to the end')
  t.true(produced <= LIMIT + 1 * MiB, `read ${produced} bytes for a ${LIMIT}-byte limit`)
  await sleep(20)
  t.true(source.destroyed, 'the source is destroyed')
  await assertOldEntryIntact(t, cache, old)
})

test('an infinite async generator over maxBodySize is stopped (no hang)', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  let produced = 0
  let finalized = false
  async function * forever () {
    const piece = crypto.randomBytes(8 * KiB)
    try {
      for (;;) {
        produced += piece.length
        yield piece
      }
    } finally {
      finalized = true
    }
  }
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: forever() }))
  isTooLarge(t, err)
  t.true(produced <= LIMIT + 1 * MiB, `pulled ${produced} bytes for a ${LIMIT}-byte limit`)
  await sleep(20)
  t.true(finalized, 'the generator is closed (its finally block ran)')
  await assertOldEntryIntact(t, cache, old)
})

test('an infinite sync generator over maxBodySize is stopped (no hang)', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  let produced = 0
  function * forever () {
    const piece = crypto.randomBytes(8 * KiB)
    for (;;) {
      produced += piece.length
      yield piece
    }
  }
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: forever() }))
  isTooLarge(t, err)
  t.true(produced <= LIMIT + 1 * MiB, `pulled ${produced} bytes for a ${LIMIT}-byte limit`)
  await assertOldEntryIntact(t, cache, old)
})

test('a new key whose streamed body is too large stores nothing', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  const err = await t.throwsAsync(cache.put('fresh', {
    status: 200,
    body: Readable.from([crypto.randomBytes(200 * KiB), crypto.randomBytes(200 * KiB)]),
  }))
  isTooLarge(t, err)
  t.is(await cache.get('fresh'), null)
  t.false(cache.has('fresh'))
  await assertOldEntryIntact(t, cache, old)
})

test('a Readable that errors mid-way: put rejects with that same error, nothing stored', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  const boom = new Error('upstream connection reset')
  boom.code = 'ECONNRESET'
  let sent = 0
  const makeSource = () => new Readable({
    read () {
      if (sent >= 100 * KiB) {
        this.destroy(boom)
        return
      }
      sent += 10 * KiB
      this.push(crypto.randomBytes(10 * KiB))
    },
  })
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: makeSource() }))
  t.is(err, boom)
  t.is(err.message, 'upstream connection reset')
  await assertOldEntryIntact(t, cache, old)

  sent = 0
  const err2 = await t.throwsAsync(cache.put('other', { status: 200, body: makeSource() }))
  t.is(err2, boom)
  t.is(await cache.get('other'), null)
  t.false(cache.has('other'))
  await assertOldEntryIntact(t, cache, old)
})

test('an async generator that throws mid-way: put rejects with that error, nothing stored', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  const boom = new TypeError('generator failed')
  async function * failing () {
    yield crypto.randomBytes(64 * KiB)
    yield crypto.randomBytes(64 * KiB)
    throw boom
  }
  const err = await t.throwsAsync(cache.put('key', { status: 200, body: failing() }))
  t.is(err, boom)
  const err2 = await t.throwsAsync(cache.put('new', { status: 200, body: failing() }))
  t.is(err2, boom)
  t.is(await cache.get('new'), null)
  await assertOldEntryIntact(t, cache, old)
})

test('the cache keeps working after failed puts', async (t) => {
  const { cache, old } = await cacheWithOldEntry(t)
  for (let i = 0; i < 5; i++) {
    await t.throwsAsync(cache.put('key', { status: 200, body: Readable.from([crypto.randomBytes(LIMIT + 1)]) }))
  }
  await assertOldEntryIntact(t, cache, old)
  const next = crypto.randomBytes(LIMIT)
  await cache.put('key', { status: 200, body: Readable.from([next]) })
  t.true((await readBody(await cache.get('key'))).equals(next))
  t.is(contentFiles(cache.dir).length, 1, 'the replaced content is removed')
})
