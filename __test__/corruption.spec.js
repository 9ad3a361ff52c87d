'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { KiB, MiB, CHUNK, sri, readBody, contentFiles, contentFileFor, tempCache, flipByte } = require('./helpers/util')

/** Reads `hit.body` expecting an integrity error; fails if the stream ever ends cleanly. */
async function expectIntegrityError (t, hit) {
  let ended = false
  hit.body.on('end', () => { ended = true })
  let received = 0
  hit.body.on('data', (chunk) => { received += chunk.length })
  const err = await new Promise((resolve) => {
    hit.body.once('error', resolve)
    hit.body.once('end', () => resolve(null))
  })
  t.truthy(err, 'the body must error, not end')
  t.is(err?.code, 'ERR_CACHE_INTEGRITY')
  t.true(err instanceof Error)
  // Give a stray 'end' a chance to show up.
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.false(ended, "a corrupt body must never emit 'end'")
  t.true(received < hit.size, `only ${received} of ${hit.size} bytes may be delivered`)
  return err
}

function mutate (file, fn) {
  fs.chmodSync(file, 0o644)
  fn(file)
}

async function setup (t, size) {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(size)
  await cache.put('key', { status: 200, body })
  const file = contentFileFor(cache.dir, sri(body))
  t.deepEqual(contentFiles(cache.dir), [file])
  return { cache, body, file }
}

const cases = [
  ['a flipped byte in a small body', 1000, (file) => flipByte(file, 500)],
  ['a flipped first byte', 10 * KiB, (file) => flipByte(file, 0)],
  ['a flipped last byte of a multi-chunk body', 3 * CHUNK + 5, (file) => flipByte(file, 3 * CHUNK + 4)],
  ['a flipped byte in the middle of a 5 MiB body', 5 * MiB, (file) => flipByte(file, Math.floor(2.5 * MiB) + 3)],
  ['a body truncated by one byte', 1000, (file) => mutate(file, () => fs.truncateSync(file, 999))],
  ['a multi-chunk body truncated in the middle', 1 * MiB, (file) => mutate(file, () => fs.truncateSync(file, 300 * KiB))],
  ['a body truncated to zero bytes', 200 * KiB, (file) => mutate(file, () => fs.truncateSync(file, 0))],
]

for (const [name, size, corrupt] of cases) {
  test(`${name}: the body errors with ERR_CACHE_INTEGRITY and the entry is dropped`, async (t) => {
    const { cache, file } = await setup(t, size)
    corrupt(file)
    const hit = await cache.get('key')
    t.truthy(hit, 'the entry is still indexed until its content is read')
    await expectIntegrityError(t, hit)
    t.is(await cache.get('key'), null)
    t.false(cache.has('key'))
    t.is(cache.entryCount(), 0)
    t.false(fs.existsSync(file), 'the corrupt content file is removed')
  })
}

test('a corrupt body consumed with for await rejects the loop', async (t) => {
  const { cache, file } = await setup(t, 4 * CHUNK)
  flipByte(file, CHUNK + 1)
  const hit = await cache.get('key')
  let bytes = 0
  const err = await t.throwsAsync(async () => {
    for await (const chunk of hit.body) bytes += chunk.length
  })
  t.is(err.code, 'ERR_CACHE_INTEGRITY')
  t.true(bytes < 4 * CHUNK)
  t.is(await cache.get('key'), null)
})

test('a corruption found through one key makes the other keys sharing the content miss', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(200 * KiB)
  const other = crypto.randomBytes(10 * KiB)
  await cache.put('a', { status: 200, body })
  await cache.put('b', { status: 200, body })
  await cache.put('c', { status: 200, body: other })
  flipByte(contentFileFor(cache.dir, sri(body)), 100)
  await expectIntegrityError(t, await cache.get('a'))
  t.is(await cache.get('a'), null)
  t.is(await cache.get('b'), null, 'the shared corrupt content is gone, so b misses')
  t.false(cache.has('b'))
  // Unrelated entries are untouched, and the key can be stored again.
  t.true((await readBody(await cache.get('c'))).equals(other))
  await cache.put('a', { status: 200, body })
  t.true((await readBody(await cache.get('a'))).equals(body))
})

test('bytes appended after the stored size are never served: the body reads back exactly', async (t) => {
  const { cache, body, file } = await setup(t, 100 * KiB)
  mutate(file, () => fs.appendFileSync(file, 'trailing garbage'))
  const hit = await cache.get('key')
  t.true((await readBody(hit)).equals(body))
})

test('content removed from disk by hand turns into a miss', async (t) => {
  const { cache, file } = await setup(t, 1000)
  fs.rmSync(file)
  t.is(await cache.get('key'), null)
  t.false(cache.has('key'))
  t.is(cache.entryCount(), 0)
})

test('an intact body still reads after another entry was found corrupt', async (t) => {
  const cache = await tempCache(t)
  const good = crypto.randomBytes(300 * KiB)
  const bad = crypto.randomBytes(300 * KiB)
  await cache.put('good', { status: 200, body: good })
  await cache.put('bad', { status: 200, body: bad })
  flipByte(contentFileFor(cache.dir, sri(bad)), 1)
  const [goodHit, badHit] = await Promise.all([cache.get('good'), cache.get('bad')])
  const [goodBody] = await Promise.all([readBody(goodHit), expectIntegrityError(t, badHit)])
  t.true(goodBody.equals(good))
  t.is(cache.keys().join(), 'good')
})
