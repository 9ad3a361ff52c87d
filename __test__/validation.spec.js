'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const { StreamingCache, KiB, readBody, contentFiles, tmpFiles, tempCache, tempDir } = require('./helpers/util')

const BAD_KEYS = [42, undefined, null, { key: 'k' }, ['k'], Symbol('k'), 1n, true]

function invalidArgType (ErrorClass = TypeError, code = 'ERR_INVALID_ARG_TYPE') {
  return { instanceOf: ErrorClass, code }
}
const TYPE = invalidArgType()
const RANGE = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }

/** A cache holding one known entry; `check` confirms nothing was lost or left behind. */
async function withEntry (t) {
  const cache = await tempCache(t)
  const body = crypto.randomBytes(100 * KiB)
  await cache.put('known', { status: 200, headers: { a: 'b' }, body })
  async function check () {
    t.is(cache.entryCount(), 1)
    t.deepEqual(cache.keys(), ['known'])
    const hit = await cache.get('known')
    t.is(hit.headers.a, 'b')
    t.true((await readBody(hit)).equals(body))
    t.is(contentFiles(cache.dir).length, 1)
    t.deepEqual(tmpFiles(cache.dir), [])
    // And it still accepts new work.
    await cache.put('after', { status: 200, body: 'fine' })
    t.is((await readBody(await cache.get('after'))).toString(), 'fine')
    t.true(await cache.delete('after'))
  }
  return { cache, check }
}

test('non-string keys are rejected by every method with ERR_INVALID_ARG_TYPE', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const key of BAD_KEYS) {
    const label = typeof key === 'symbol' ? 'symbol' : typeof key === 'bigint' ? 'bigint' : JSON.stringify(key)
    await t.throwsAsync(cache.put(key, { status: 200, body: 'x' }), TYPE, `put ${label}`)
    await t.throwsAsync(cache.get(key), TYPE, `get ${label}`)
    await t.throwsAsync(cache.delete(key), TYPE, `delete ${label}`)
    t.throws(() => cache.getSync(key), TYPE, `getSync ${label}`)
    t.throws(() => cache.peek(key), TYPE, `peek ${label}`)
    t.throws(() => cache.has(key), TYPE, `has ${label}`)
    t.throws(() => cache.createWriteStream(key, { status: 200 }), TYPE, `createWriteStream ${label}`)
    if (key !== undefined) t.throws(() => cache.keys(key), TYPE, `keys ${label}`)
  }
  await check()
})

test('async methods reject rather than throw synchronously', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const call of [() => cache.put(1, {}), () => cache.get(1), () => cache.delete(1), () => cache.put('k', null)]) {
    let promise
    t.notThrows(() => { promise = call() })
    t.true(promise instanceof Promise)
    await t.throwsAsync(promise, TYPE)
  }
  await check()
})

test('an entry that is not an object is a TypeError', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const entry of [undefined, null, 'entry', 200, [], true]) {
    await t.throwsAsync(cache.put('known', entry), TYPE, `put ${JSON.stringify(entry)}`)
    t.throws(() => cache.createWriteStream('known', entry), TYPE, `createWriteStream ${JSON.stringify(entry)}`)
  }
  await check()
})

test('a body of the wrong type is a TypeError', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const body of [42, { some: 'object' }, null, undefined, true, () => 'x', 12n]) {
    const err = await t.throwsAsync(cache.put('known', { status: 200, body }), TYPE)
    t.regex(err.message, /entry\.body/)
  }
  await check()
})

test('an iterable that yields things other than chunks rejects with a TypeError and stores nothing', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const body of [[1, 2, 3], new Map([['a', 'b']]), [Buffer.from('ok'), {}]]) {
    const err = await t.throwsAsync(cache.put('known', { status: 200, body }), TYPE)
    t.true(err instanceof TypeError)
  }
  await t.throwsAsync(cache.put('fresh', { status: 200, body: [42] }), TYPE)
  t.is(await cache.get('fresh'), null)
  await check()
})

test('status out of 100-599 or fractional is a RangeError; a non-number status is a TypeError', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const status of [99, 600, 200.5, 0, -200, 1e6, NaN, Infinity]) {
    await t.throwsAsync(cache.put('known', { status, body: 'x' }), RANGE, `put status ${status}`)
    await t.throwsAsync(cache.put('known', { status, body: Readable.from(['x']) }), RANGE, `streamed put status ${status}`)
    t.throws(() => cache.createWriteStream('known', { status }), RANGE, `createWriteStream status ${status}`)
  }
  for (const status of ['200', undefined, null, {}, [200], true]) {
    await t.throwsAsync(cache.put('known', { status, body: 'x' }), TYPE, `put status ${JSON.stringify(status)}`)
    t.throws(() => cache.createWriteStream('known', { status }), TYPE, `createWriteStream status ${JSON.stringify(status)}`)
  }
  // The boundaries themselves are fine.
  for (const status of [100, 599]) {
    await cache.put(`s${status}`, { status, body: '' })
    t.is((await cache.get(`s${status}`)).status, status)
    await cache.delete(`s${status}`)
  }
  await check()
})

test('a streamed body is not consumed when the entry fails validation', async (t) => {
  const { cache, check } = await withEntry(t)
  let reads = 0
  const source = new Readable({ read () { reads++; this.push(null) } })
  await t.throwsAsync(cache.put('known', { status: 600, body: source }), RANGE)
  t.is(reads, 0)
  await check()
})

test('header values with CR/LF/NUL are ERR_INVALID_CHAR; bad names and value types are TypeErrors', async (t) => {
  const { cache, check } = await withEntry(t)
  const CHAR = invalidArgType(TypeError, 'ERR_INVALID_CHAR')
  for (const value of ['a\r\nx-injected: 1', 'a\nb', 'a\rb', 'a\0b', ['ok', 'bad\r\n']]) {
    await t.throwsAsync(cache.put('known', { status: 200, headers: { 'x-h': value }, body: 'x' }), CHAR, JSON.stringify(value))
    t.throws(() => cache.createWriteStream('known', { status: 200, headers: { 'x-h': value } }), CHAR)
  }
  for (const name of ['bad name', 'x:y', '', 'ü', 'a\r\nb']) {
    await t.throwsAsync(cache.put('known', { status: 200, headers: { [name]: 'v' }, body: 'x' }),
      invalidArgType(TypeError, 'ERR_INVALID_ARG_VALUE'), `header name ${JSON.stringify(name)}`)
  }
  for (const value of [{ nested: 1 }, true, [['a']]]) {
    await t.throwsAsync(cache.put('known', { status: 200, headers: { 'x-h': value }, body: 'x' }), TYPE, JSON.stringify(value))
  }
  for (const headers of ['x: y', 42, ['x']]) {
    await t.throwsAsync(cache.put('known', { status: 200, headers, body: 'x' }), TYPE, `headers ${JSON.stringify(headers)}`)
  }
  await check()
})

test('a url that is not a string, or metadata that is not JSON, is a TypeError', async (t) => {
  const { cache, check } = await withEntry(t)
  for (const url of [42, {}, ['u'], true]) {
    await t.throwsAsync(cache.put('known', { status: 200, url, body: 'x' }), TYPE, `url ${JSON.stringify(url)}`)
  }
  const circular = {}
  circular.self = circular
  for (const metadata of [circular, { big: 1n }]) {
    await t.throwsAsync(cache.put('known', { status: 200, metadata, body: 'x' }),
      invalidArgType(TypeError, 'ERR_INVALID_ARG_VALUE'))
  }
  await check()
})

test('a key over 64 KiB is a RangeError for every method', async (t) => {
  const { cache, check } = await withEntry(t)
  const long = 'k'.repeat(64 * KiB + 1)
  await t.throwsAsync(cache.put(long, { status: 200, body: 'x' }), RANGE)
  await t.throwsAsync(cache.put(long, { status: 200, body: Readable.from(['x']) }), RANGE)
  t.throws(() => cache.createWriteStream(long, { status: 200 }), RANGE)
  // Multibyte: the limit is in bytes.
  const longBytes = 'é'.repeat(32 * KiB + 1)
  await t.throwsAsync(cache.put(longBytes, { status: 200, body: 'x' }), RANGE)
  // Every method applies the same limit, so a bad key fails loudly wherever it is used.
  await t.throwsAsync(cache.get(long), RANGE)
  t.throws(() => cache.getSync(long), RANGE)
  t.throws(() => cache.has(long), RANGE)
  t.throws(() => cache.peek(long), RANGE)
  await t.throwsAsync(cache.delete(long), RANGE)
  // Exactly 64 KiB is accepted.
  const max = 'm'.repeat(64 * KiB)
  await cache.put(max, { status: 200, body: 'max' })
  t.is((await readBody(await cache.get(max))).toString(), 'max')
  t.true(await cache.delete(max))
  await check()
})

test('constructor and withTempDir validate their arguments', async (t) => {
  const dir = await tempDir(t)
  for (const bad of [undefined, null, 42, {}, ['dir'], Buffer.from(dir)]) {
    t.throws(() => new StreamingCache(bad), TYPE, `dir ${String(bad)}`)
  }
  for (const options of ['opts', 42, null, []]) {
    t.throws(() => new StreamingCache(dir, options), TYPE, `options ${JSON.stringify(options)}`)
  }
  for (const maxEntries of [-1, 0, 1.5, NaN, Infinity, 2 ** 60]) {
    t.throws(() => new StreamingCache(dir, { maxEntries }), RANGE, `maxEntries ${maxEntries}`)
  }
  for (const maxBodySize of [-1, 1.5, NaN, -Infinity]) {
    t.throws(() => new StreamingCache(dir, { maxBodySize }), RANGE, `maxBodySize ${maxBodySize}`)
  }
  for (const value of ['10', null, {}, true, 10n]) {
    t.throws(() => new StreamingCache(dir, { maxEntries: value }), TYPE, `maxEntries ${typeof value}`)
    t.throws(() => new StreamingCache(dir, { maxBodySize: value }), TYPE, `maxBodySize ${typeof value}`)
  }
  await t.throwsAsync(StreamingCache.withTempDir(-1), RANGE)
  await t.throwsAsync(StreamingCache.withTempDir('10'), TYPE)
  await t.throwsAsync(StreamingCache.withTempDir(10, { maxBodySize: 1.5 }), RANGE)
  // After all that, the directory still works as a cache.
  const cache = new StreamingCache(dir, { maxEntries: 5, maxBodySize: 1000 })
  await cache.put('k', { status: 200, body: 'v' })
  t.is((await readBody(await cache.get('k'))).toString(), 'v')
})

test('a cache directory that cannot be created fails with an Error', async (t) => {
  const dir = await tempDir(t)
  const file = require('node:path').join(dir, 'a-file')
  require('node:fs').writeFileSync(file, 'not a directory')
  const err = t.throws(() => new StreamingCache(require('node:path').join(file, 'cache')))
  t.true(err instanceof Error)
  t.is(typeof err.code, 'string')
  t.notRegex(err.message, /^[A-Z_]+: /, 'the native CODE: prefix is stripped')
})
