'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { Readable } = require('node:stream')
const { KiB, sri, readBody, contentFiles, contentFileFor, tempCache } = require('./helpers/util')

test('two keys with one body share exactly one content file', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(300 * KiB)
  const a = await cache.put('a', { status: 200, body })
  // The second copy arrives streamed: dedup is by content, not by how it was given.
  const b = await cache.put('b', { status: 200, body: Readable.from([body.subarray(0, 1), body.subarray(1)]) })
  t.is(a.integrity, b.integrity)
  const files = contentFiles(cache.dir)
  t.is(files.length, 1)
  t.is(files[0], contentFileFor(cache.dir, sri(body)))
  t.true(fs.readFileSync(files[0]).equals(body))
  t.true((await readBody(await cache.get('a'))).equals(body))
  t.true((await readBody(await cache.get('b'))).equals(body))
})

test('deleting one of two keys keeps the shared content; deleting both removes it', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(200 * KiB)
  await cache.put('a', { status: 200, body })
  await cache.put('b', { status: 200, body })
  t.true(await cache.delete('a'))
  t.is(await cache.get('a'), null)
  t.is(contentFiles(cache.dir).length, 1)
  t.true((await readBody(await cache.get('b'))).equals(body))
  t.true(await cache.delete('b'))
  t.is(await cache.get('b'), null)
  t.deepEqual(contentFiles(cache.dir), [])
  t.is(cache.entryCount(), 0)
})

test('a reader opened before the last key is deleted still reads the whole body', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(1024 * KiB)
  await cache.put('a', { status: 200, body })
  const hit = await cache.get('a')
  t.true(await cache.delete('a'))
  t.deepEqual(contentFiles(cache.dir), [])
  t.true((await readBody(hit)).equals(body))
})

test('replacing a key with the same body keeps one readable file', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(100 * KiB)
  await cache.put('a', { status: 200, headers: { v: '1' }, body })
  await cache.put('a', { status: 200, headers: { v: '2' }, body })
  const files = contentFiles(cache.dir)
  t.is(files.length, 1)
  const hit = await cache.get('a')
  t.is(hit.headers.v, '2')
  t.true((await readBody(hit)).equals(body))
  t.is(cache.entryCount(), 1)
  // And the reference count did not drift: one delete removes the content.
  t.true(await cache.delete('a'))
  t.deepEqual(contentFiles(cache.dir), [])
})

test('replacing a key with a different body removes the old content file', async (t) => {
  const cache = await tempCache(t)
  const first = crypto.randomBytes(100 * KiB)
  const second = crypto.randomBytes(50 * KiB)
  await cache.put('a', { status: 200, body: first })
  const oldFile = contentFileFor(cache.dir, sri(first))
  t.true(fs.existsSync(oldFile))
  await cache.put('a', { status: 200, body: second })
  t.false(fs.existsSync(oldFile))
  t.deepEqual(contentFiles(cache.dir), [contentFileFor(cache.dir, sri(second))])
  t.true((await readBody(await cache.get('a'))).equals(second))
})

test('replacing one of two sharing keys keeps the shared content for the other', async (t) => {
  const cache = await tempCache(t)
  const shared = crypto.randomBytes(80 * KiB)
  const other = crypto.randomBytes(80 * KiB)
  await cache.put('a', { status: 200, body: shared })
  await cache.put('b', { status: 200, body: shared })
  await cache.put('a', { status: 200, body: other })
  t.is(contentFiles(cache.dir).length, 2)
  t.true((await readBody(await cache.get('b'))).equals(shared))
  t.true((await readBody(await cache.get('a'))).equals(other))
  // Moving 'a' back onto the shared body: two keys, one file again.
  await cache.put('a', { status: 200, body: shared })
  t.deepEqual(contentFiles(cache.dir), [contentFileFor(cache.dir, sri(shared))])
})

test('many keys over a few bodies: one file per distinct body, gone when the last key goes', async (t) => {
  const cache = await tempCache(t)
  const bodies = [0, 1, 2].map(() => crypto.randomBytes(40 * KiB))
  const keys = []
  for (let i = 0; i < 30; i++) {
    keys.push(`k${i}`)
    await cache.put(`k${i}`, { status: 200, body: bodies[i % 3] })
  }
  t.is(contentFiles(cache.dir).length, 3)
  for (let i = 0; i < 30; i++) {
    t.true((await readBody(await cache.get(`k${i}`))).equals(bodies[i % 3]))
  }
  // Delete every key of body 0.
  for (let i = 0; i < 30; i += 3) await cache.delete(`k${i}`)
  t.is(contentFiles(cache.dir).length, 2)
  t.false(fs.existsSync(contentFileFor(cache.dir, sri(bodies[0]))))
  await Promise.all(keys.map((k) => cache.delete(k)))
  t.deepEqual(contentFiles(cache.dir), [])
})
