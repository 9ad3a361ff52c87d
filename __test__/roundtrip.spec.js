'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const {
  StreamingCache, KiB, MiB, CHUNK, sha256, sri, readAll, readBody, contentFiles, tempCache,
} = require('./helpers/util')

const SIZES = [0, 1, 65535, 65536, 65537, 10 * MiB]

for (const size of SIZES) {
  test(`round trip of a ${size}-byte body: exact bytes, hash and 64 KiB chunks`, async (t) => {
    const cache = await tempCache(t)
    const data = crypto.randomBytes(size)
    const info = await cache.put(`size-${size}`, { status: 200, body: data })
    t.deepEqual(info, { size, integrity: sri(data) })

    const hit = await cache.get(`size-${size}`)
    t.truthy(hit)
    t.is(hit.size, size)
    t.is(hit.integrity, sri(data))
    const { body, sizes } = await readAll(hit.body)
    t.is(body.length, size)
    t.is(sha256(body), sha256(data))
    t.true(body.equals(data))
    t.true(sizes.every((n) => n > 0 && n <= CHUNK), `chunk sizes ${sizes.slice(0, 5)}...`)
    t.is(sizes.length, Math.ceil(size / CHUNK))
  })
}

test('getSync returns the same hit synchronously, and a miss is null', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(200 * KiB)
  await cache.put('k', { status: 201, body: data })
  const hit = cache.getSync('k')
  t.is(hit.status, 201)
  t.true((await readBody(hit)).equals(data))
  t.is(cache.getSync('missing'), null)
  t.is(await cache.get('missing'), null)
})

test('the same entry can be read by several concurrent readers', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(3 * MiB + 7)
  await cache.put('k', { status: 200, body: data })
  const hits = await Promise.all([1, 2, 3, 4].map(() => cache.get('k')))
  const bodies = await Promise.all(hits.map(readBody))
  for (const body of bodies) t.true(body.equals(data))
})

// ---- body sources --------------------------------------------------------------------------

async function putAndRead (t, cache, key, body, expected) {
  const info = await cache.put(key, { status: 200, body })
  t.is(info.size, expected.length)
  t.is(info.integrity, sri(expected))
  const hit = await cache.get(key)
  const got = await readBody(hit)
  t.true(got.equals(expected), `${key}: body differs`)
}

test('put from a Buffer', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(100 * KiB)
  await putAndRead(t, cache, 'buffer', data, data)
})

test('put from a Uint8Array view with a non-zero byteOffset stores only the view', async (t) => {
  const cache = await tempCache(t)
  const backing = crypto.randomBytes(300 * KiB)
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 1234, 150 * KiB + 3)
  t.not(view.byteOffset, 0)
  const expected = Buffer.from(backing.subarray(1234, 1234 + 150 * KiB + 3))
  await putAndRead(t, cache, 'u8', view, expected)
  // A plain Uint8Array (not a Buffer) at offset 0 too.
  const plain = new Uint8Array([1, 2, 3, 250, 251])
  await putAndRead(t, cache, 'u8-plain', plain, Buffer.from(plain))
})

test('put from a string is stored as UTF-8, including multibyte characters', async (t) => {
  const cache = await tempCache(t)
  const text = 'héllo wörld — 日本語 🎉 '.repeat(5000)
  await putAndRead(t, cache, 'string', text, Buffer.from(text, 'utf8'))
  const hit = await cache.get('string')
  t.is((await readBody(hit)).toString('utf8'), text)
  await putAndRead(t, cache, 'empty-string', '', Buffer.alloc(0))
})

test('put from a stream.Readable of Buffers', async (t) => {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(1 * MiB + 17)
  // Odd chunk sizes so chunk boundaries on the way in differ from 64 KiB.
  const pieces = []
  for (let i = 0; i < data.length; i += 10_007) pieces.push(data.subarray(i, i + 10_007))
  await putAndRead(t, cache, 'readable', Readable.from(pieces, { objectMode: false }), data)
})

test('put from a Readable that emits strings', async (t) => {
  const cache = await tempCache(t)
  const parts = ['plain ascii, ', 'ünïcödé, ', '漢字, ', '🎉🎉🎉'.repeat(1000)]
  const stream = new Readable({
    encoding: 'utf8',
    read () {
      this.push(parts.length ? parts.shift() : null)
    },
  })
  const expected = Buffer.from('plain ascii, ünïcödé, 漢字, ' + '🎉🎉🎉'.repeat(1000), 'utf8')
  await putAndRead(t, cache, 'readable-strings', stream, expected)
  // Readable.from(array of strings) gives an object-mode stream of strings.
  await putAndRead(t, cache, 'readable-from-strings', Readable.from(['ä', 'b', '€']), Buffer.from('äb€'))
})

test('put from an async generator of Buffers and strings', async (t) => {
  const cache = await tempCache(t)
  const a = crypto.randomBytes(70 * KiB)
  const b = crypto.randomBytes(5)
  async function * gen () {
    yield a
    await new Promise((resolve) => setImmediate(resolve))
    yield 'Grüße'
    yield new Uint8Array(b)
  }
  await putAndRead(t, cache, 'async-gen', gen(), Buffer.concat([a, Buffer.from('Grüße'), b]))
})

test('put from a sync iterable (array of chunks, and a generator)', async (t) => {
  const cache = await tempCache(t)
  const a = crypto.randomBytes(100 * KiB)
  const b = crypto.randomBytes(33)
  await putAndRead(t, cache, 'array', [a, 'ß', b], Buffer.concat([a, Buffer.from('ß'), b]))
  function * gen () {
    for (let i = 0; i < 10; i++) yield a.subarray(i * 10 * KiB, (i + 1) * 10 * KiB)
  }
  await putAndRead(t, cache, 'sync-gen', gen(), a)
  await putAndRead(t, cache, 'empty-iterable', [], Buffer.alloc(0))
})

// ---- stored fields -------------------------------------------------------------------------

test('hit fields round-trip: status, lower-cased headers, set-cookie array, url, metadata, size, integrity, storedAt', async (t) => {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(4321)
  const metadata = { nested: { list: [1, 'two', null, true], n: 1.5 }, unicode: 'ü🎉' }
  const before = Date.now()
  await cache.put('fields', {
    status: 203,
    headers: {
      'Content-Type': 'application/octet-stream',
      'SET-COOKIE': ['a=1; Path=/', 'b=2; HttpOnly'],
      'X-Number': 42,
      'X-Skipped': undefined,
      ETag: '"abc"',
    },
    url: 'https://example.com/path?q=1',
    metadata,
    body,
  })
  const after = Date.now()
  const hit = await cache.get('fields')
  t.is(hit.key, 'fields')
  t.is(hit.status, 203)
  t.deepEqual(hit.headers, {
    'content-type': 'application/octet-stream',
    'set-cookie': ['a=1; Path=/', 'b=2; HttpOnly'],
    'x-number': '42',
    etag: '"abc"',
  })
  t.true(Array.isArray(hit.headers['set-cookie']))
  t.is(hit.url, 'https://example.com/path?q=1')
  t.deepEqual(hit.metadata, metadata)
  t.is(hit.size, body.length)
  t.is(hit.integrity, sri(body))
  t.regex(hit.integrity, /^sha256-[A-Za-z0-9+/]+=*$/)
  t.is(typeof hit.storedAt, 'number')
  t.true(hit.storedAt >= before - 5 && hit.storedAt <= after + 5, `storedAt ${hit.storedAt} not in [${before}, ${after}]`)
  t.true((await readBody(hit)).equals(body))

  // peek gives the same fields without a body.
  const peeked = cache.peek('fields')
  t.is(peeked.body, undefined)
  for (const field of ['key', 'status', 'headers', 'url', 'metadata', 'size', 'integrity', 'storedAt']) {
    t.deepEqual(peeked[field], hit[field], field)
  }
  t.true(cache.has('fields'))
})

test('header names differing only in case are merged into one lower-case array', async (t) => {
  const cache = await tempCache(t)
  await cache.put('dup', { status: 200, headers: { 'Set-Cookie': 'a=1', 'set-cookie': ['b=2', 'c=3'] }, body: '' })
  const { headers } = await cache.get('dup')
  t.deepEqual(Object.keys(headers), ['set-cookie'])
  t.deepEqual([...headers['set-cookie']].sort(), ['a=1', 'b=2', 'c=3'])
})

test('unusual keys round-trip, also through a restart', async (t) => {
  const cache = await tempCache(t)
  const keys = ['', ' ', 'GET https://example.com/é?q=1\naccept: text/html', 'a\0b', '🎉', '../../etc/passwd', 'k'.repeat(64 * KiB)]
  for (const [i, key] of keys.entries()) await cache.put(key, { status: 200, body: `body ${i}` })
  for (const [i, key] of keys.entries()) t.is((await readBody(await cache.get(key))).toString(), `body ${i}`)
  const reopened = new StreamingCache(cache.dir)
  t.deepEqual(reopened.keys(), [...keys].sort())
  for (const [i, key] of keys.entries()) t.is((await readBody(await reopened.get(key))).toString(), `body ${i}`)
})

test('defaults: no headers, url or metadata give {}, null and null', async (t) => {
  const cache = await tempCache(t)
  await cache.put('bare', { status: 204, body: '' })
  const hit = await cache.get('bare')
  t.is(hit.status, 204)
  t.deepEqual(hit.headers, {})
  t.is(hit.url, null)
  t.is(hit.metadata, null)
  t.is(hit.size, 0)
  t.is(hit.integrity, sri(Buffer.alloc(0)))
  t.is((await readBody(hit)).length, 0)
})

test('keys, has, delete, entryCount and clear', async (t) => {
  const cache = await tempCache(t)
  t.deepEqual(cache.keys(), [])
  t.is(cache.entryCount(), 0)
  await cache.put('b/2', { status: 200, body: 'x' })
  await cache.put('a/1', { status: 200, body: 'y' })
  await cache.put('b/1', { status: 200, body: 'z' })
  t.deepEqual(cache.keys(), ['a/1', 'b/1', 'b/2'])
  t.deepEqual(cache.keys('b/'), ['b/1', 'b/2'])
  t.is(cache.entryCount(), 3)
  t.true(await cache.delete('b/2'))
  t.false(await cache.delete('b/2'))
  t.false(cache.has('b/2'))
  t.is(await cache.get('b/2'), null)
  t.is(cache.peek('b/2'), null)
  t.is(cache.entryCount(), 2)
  await cache.clear()
  t.is(cache.entryCount(), 0)
  t.deepEqual(cache.keys(), [])
  t.is(await cache.get('a/1'), null)
  t.is(contentFiles(cache.dir).length, 0)
  // Still usable after clear.
  await cache.put('again', { status: 200, body: 'ok' })
  t.is((await readBody(await cache.get('again'))).toString(), 'ok')
})

test('options are reflected on the instance', async (t) => {
  const cache = await tempCache(t, { maxEntries: 7, maxBodySize: 12345 })
  t.is(cache.maxEntries, 7)
  t.is(cache.maxBodySize, 12345)
  const defaults = new StreamingCache(cache.dir + '-defaults')
  t.teardown(() => require('node:fs').rmSync(defaults.dir, { recursive: true, force: true }))
  t.is(defaults.maxEntries, 10_000)
  t.is(defaults.maxBodySize, 100 * MiB)
})
