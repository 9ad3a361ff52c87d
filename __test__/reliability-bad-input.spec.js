'use strict'
// Bad input from JavaScript (issue 6), table-driven over every method: wrong types,
// undefined/null, oversized keys, odd unicode keys, header values with CR/LF, bodies of the
// wrong kind, object-mode streams, streams that fail half-way, and consumers that destroy
// bodies half-way (10 000 times, watching the process's open file descriptors).
// After each table the cache must still work.
const test = require('ava')
const fs = require('node:fs')
const { Readable } = require('node:stream')
const { StreamingCache } = require('..')
const { tempDir, seededBytes, sha256, readHit, spawnFixture, KiB, MiB } = require('./fixtures/reliability-common')

const MAX_KEY_BYTES = 64 * KiB
const HUGE_KEY = 'k'.repeat(MiB)

const TYPE = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' }
const VALUE = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' }
const CHAR = { instanceOf: TypeError, code: 'ERR_INVALID_CHAR' }
const RANGE = { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' }

/** How a call ended: { sync, threw, value | err }. */
async function settle (fn) {
  let value
  try {
    value = fn()
  } catch (err) {
    return { sync: true, threw: true, err }
  }
  if (value !== null && typeof value?.then === 'function') {
    try {
      return { sync: false, threw: false, value: await value }
    } catch (err) {
      return { sync: false, threw: true, err }
    }
  }
  return { sync: true, threw: false, value }
}

const fresh = (t) => new StreamingCache(tempDir(t))

/** The cache still stores and serves. */
async function stillWorks (t, cache, key = 'still-works') {
  const data = seededBytes(key, 100 * KiB)
  await cache.put(key, { status: 200, body: Readable.from([data.subarray(0, 1000), data.subarray(1000)]) })
  const read = await readHit(await cache.get(key))
  t.deepEqual([read.sha, read.error], [sha256(data), null], 'the cache still works')
}

const WRONG_STRINGS = [undefined, null, 42, 0n, true, {}, [], Symbol('s'), () => 'key', Buffer.from('key'), new String('key')]
const { inspect } = require('node:util')
const show = (v) => inspect(v, { depth: 2, breakLength: Infinity, maxStringLength: 40 })

// [method, how it reports errors, call with `bad` in the key position]
const KEYED = [
  ['put', 'async', (c, k) => c.put(k, { status: 200, body: 'x' })],
  ['createWriteStream', 'sync', (c, k) => c.createWriteStream(k, { status: 200 })],
  ['get', 'async', (c, k) => c.get(k)],
  ['getSync', 'sync', (c, k) => c.getSync(k)],
  ['peek', 'sync', (c, k) => c.peek(k)],
  ['has', 'sync', (c, k) => c.has(k)],
  ['delete', 'async', (c, k) => c.delete(k)],
  ['updateMetadata', 'async', (c, k) => c.updateMetadata(k, { status: 201 })],
]

test('every keyed method rejects (async) or throws (sync) a TypeError for a key that is not a string', async (t) => {
  const cache = fresh(t)
  await cache.put('key', { status: 200, body: 'kept' })
  for (const [method, mode, call] of KEYED) {
    for (const bad of WRONG_STRINGS) {
      const r = await settle(() => call(cache, bad))
      const label = `${method}(${show(bad)})`
      t.true(r.threw, `${label} fails`)
      t.is(r.sync, mode === 'sync', `${label} ${mode === 'sync' ? 'throws' : 'rejects'}`)
      t.true(r.err instanceof TypeError, `${label}: ${r.err}`)
      t.is(r.err?.code, 'ERR_INVALID_ARG_TYPE', label)
    }
  }
  for (const bad of [null, 42, {}, Symbol('p')]) {
    t.throws(() => cache.keys(bad), TYPE, `keys(${show(bad)})`)
  }
  t.deepEqual(cache.keys(undefined), ['key'], 'keys() with no prefix lists everything')
  t.is(await readHit(await cache.get('key')).then((r) => r.sha), sha256('kept'))
  await stillWorks(t, cache)
})

test('constructor and withTempDir: wrong types are TypeErrors, bad numbers RangeErrors', async (t) => {
  const dir = tempDir(t)
  const cases = [
    // [args, expected]
    ...[undefined, null, 42, {}, [], Symbol('d'), Buffer.from('/tmp')].map((d) => [[d], TYPE]),
    ...[null, 42, 'opts', [], true].map((o) => [[dir, o], TYPE]),
    ...['10', null, true, {}, 10n].map((n) => [[dir, { maxEntries: n }], TYPE]),
    ...['10', null, {}].map((n) => [[dir, { maxBodySize: n }], TYPE]),
    ...[-1, 1.5, NaN, Infinity, -Infinity, 2 ** 53].map((n) => [[dir, { maxEntries: n }], RANGE]),
    ...[-1, 0.5, NaN, Infinity].map((n) => [[dir, { maxBodySize: n }], RANGE]),
  ]
  for (const [args, expected] of cases) {
    const label = `new StreamingCache(${args.map(show).join(', ')})`
    t.throws(() => new StreamingCache(...args), expected, label)
  }
  const temp = [
    ...['10', null, {}, true].map((n) => [[n], TYPE]),
    ...[-1, 1.5, NaN, Infinity].map((n) => [[n], RANGE]),
    ...[null, 42, 'o'].map((o) => [[undefined, o], TYPE]),
    [[undefined, { maxBodySize: -5 }], RANGE],
  ]
  for (const [args, expected] of temp) {
    const r = await settle(() => StreamingCache.withTempDir(...args))
    const label = `withTempDir(${args.map(show).join(', ')})`
    t.false(r.sync, `${label} rejects rather than throws`)
    t.true(r.err instanceof expected.instanceOf, `${label}: ${r.err}`)
    t.is(r.err?.code, expected.code, label)
  }
  // A file where the directory should be: a plain Error, not a crash.
  const file = `${dir}/a-file`
  fs.writeFileSync(file, 'x')
  const err = t.throws(() => new StreamingCache(`${file}/cache`))
  t.truthy(err.code, err.message)
  await stillWorks(t, new StreamingCache(dir))
})

test('1 MiB keys: every method gives RangeError ERR_OUT_OF_RANGE; the limit is in UTF-8 bytes', async (t) => {
  const cache = fresh(t)
  await t.throwsAsync(cache.put(HUGE_KEY, { status: 200, body: 'x' }), RANGE)
  t.throws(() => cache.createWriteStream(HUGE_KEY, { status: 200 }), RANGE)
  // The same limit everywhere: a bad key fails loudly wherever it is used.
  await t.throwsAsync(cache.get(HUGE_KEY), RANGE)
  t.throws(() => cache.getSync(HUGE_KEY), RANGE)
  t.throws(() => cache.peek(HUGE_KEY), RANGE)
  t.throws(() => cache.has(HUGE_KEY), RANGE)
  await t.throwsAsync(cache.delete(HUGE_KEY), RANGE)
  await t.throwsAsync(cache.updateMetadata(HUGE_KEY, { status: 201 }), RANGE)
  t.deepEqual(cache.keys(HUGE_KEY), [])

  // The boundary: exactly 64 KiB of UTF-8 works; one byte more does not, even as 3-byte chars.
  const atLimit = 'u'.repeat(MAX_KEY_BYTES)
  await cache.put(atLimit, { status: 200, body: 'at the limit' })
  t.is((await readHit(await cache.get(atLimit))).sha, sha256('at the limit'))
  await t.throwsAsync(cache.put(atLimit + 'u', { status: 200, body: 'x' }), RANGE)
  const euros = '€'.repeat(Math.floor(MAX_KEY_BYTES / 3) + 1) // 21 846 chars, 65 538 bytes
  await t.throwsAsync(cache.put(euros, { status: 200, body: 'x' }), RANGE)
  t.deepEqual(cache.keys(), [atLimit])
  await stillWorks(t, cache)
})

test('keys with NUL, control characters and odd unicode round-trip as distinct keys', async (t) => {
  const cache = fresh(t)
  const keys = [
    '', '\0', 'a\0b', 'a\0c', '\r\n', '\t', '\x7f', ' leading space', 'é', 'e\u0301', '\uFEFFbom', '\uffff', '\u{10FFFF}',
    '😀', '👩‍👩‍👧', 'עברית', 'Ω≈ç√', 'line\u2028sep', '\\', '..', '../../etc/passwd', 'a/b', 'https://x.test/?q=%00',
  ]
  for (const [i, key] of keys.entries()) await cache.put(key, { status: 200, body: `body ${i}` })
  const byUtf8 = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))
  t.deepEqual(cache.keys(), [...keys].sort(byUtf8), 'every key is distinct (no normalization), listed in UTF-8 byte (code point) order')
  for (const [i, key] of keys.entries()) {
    const hit = await cache.get(key)
    t.is(hit?.key, key, JSON.stringify(key))
    t.is((await readHit(hit)).sha, sha256(`body ${i}`), JSON.stringify(key))
    t.is(cache.getSync(key)?.key, key)
    t.is(cache.peek(key)?.key, key)
    t.true(cache.has(key))
  }
  t.deepEqual(cache.keys('a\0'), ['a\0b', 'a\0c'], 'a prefix with NUL')

  // Visible to another process exactly as stored (the disk index keeps them intact).
  const { StreamingCache: Again } = require('..')
  await cache.runPendingTasks()
  const reopened = new Again(cache.dir)
  for (const [i, key] of keys.entries()) t.is((await readHit(await reopened.get(key))).sha, sha256(`body ${i}`), JSON.stringify(key))

  for (const key of keys) t.true(await cache.delete(key), JSON.stringify(key))
  t.deepEqual(cache.keys(), [])
  await stillWorks(t, cache)
})

test('keys with lone surrogates are rejected by every method (they have no UTF-8 form and would collide)', async (t) => {
  const cache = fresh(t)
  const VALUE = { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' }
  for (const key of ['\ud800', 'x\udfffy', 'pre\udbff', '\udc00\ud800']) {
    await t.throwsAsync(cache.put(key, { status: 200, body: 'x' }), VALUE)
    t.throws(() => cache.createWriteStream(key, { status: 200 }), VALUE)
    await t.throwsAsync(cache.get(key), VALUE)
    t.throws(() => cache.getSync(key), VALUE)
    t.throws(() => cache.has(key), VALUE)
    t.throws(() => cache.peek(key), VALUE)
    await t.throwsAsync(cache.delete(key), VALUE)
  }
  t.deepEqual(cache.keys(), [])
  await stillWorks(t, cache)
})

test('header values with CR, LF or NUL are TypeError ERR_INVALID_CHAR for put, createWriteStream and updateMetadata; nothing changes', async (t) => {
  const cache = fresh(t)
  await cache.put('key', { status: 200, headers: { etag: '"1"' }, body: 'original' })
  const badHeaders = [
    [{ 'x-a': 'one\r\ntwo' }, CHAR],
    [{ 'x-a': 'one\ntwo' }, CHAR],
    [{ 'x-a': 'one\rtwo' }, CHAR],
    [{ 'x-a': 'nul\0' }, CHAR],
    [{ 'set-cookie': ['fine=1', 'evil=2\r\nx-injected: yes'] }, CHAR],
    [{ 'bad name': 'v' }, VALUE],
    [{ 'x-\n': 'v' }, VALUE],
    [{ '': 'v' }, VALUE],
    [{ 'x-a': { nested: true } }, TYPE],
    [{ 'x-a': [{}, 'v'] }, TYPE],
    [[['x-a', 'v']], TYPE],
    ['x-a: v', TYPE],
  ]
  for (const [headers, expected] of badHeaders) {
    const label = JSON.stringify(headers)
    await t.throwsAsync(cache.put('key', { status: 200, headers, body: 'replaced' }), expected, `put ${label}`)
    await t.throwsAsync(cache.put('new-key', { status: 200, headers, body: Readable.from(['x']) }), expected, `streamed put ${label}`)
    t.throws(() => cache.createWriteStream('key', { status: 200, headers }), expected, `createWriteStream ${label}`)
    await t.throwsAsync(cache.updateMetadata('key', { headers }), expected, `updateMetadata ${label}`)
  }
  const hit = await cache.get('key')
  t.deepEqual(hit.headers, { etag: '"1"' }, 'the stored headers are untouched')
  t.is((await readHit(hit)).sha, sha256('original'))
  t.false(cache.has('new-key'))
  // Numbers are fine (content-length: 5), as are tabs and non-ASCII values.
  await cache.put('key', { status: 200, headers: { 'content-length': 5, 'x-t': 'a\tb', 'x-u': 'ünï' }, body: 'fives' })
  t.like((await cache.get('key')).headers, { 'content-length': '5', 'x-t': 'a\tb', 'x-u': 'ünï' })
  await stillWorks(t, cache)
})

test('entries and update fields of the wrong shape: TypeError / RangeError, nothing stored, old entry intact', async (t) => {
  const cache = fresh(t)
  await cache.put('key', { status: 200, body: 'original' })
  const badEntries = [
    [undefined, TYPE], [null, TYPE], ['entry', TYPE], [42, TYPE], [[], TYPE],
    [{ body: 'x' }, TYPE], [{ status: '200', body: 'x' }, TYPE], [{ status: null, body: 'x' }, TYPE],
    [{ status: 99, body: 'x' }, RANGE], [{ status: 600, body: 'x' }, RANGE], [{ status: 200.5, body: 'x' }, RANGE],
    [{ status: NaN, body: 'x' }, RANGE],
    [{ status: 200, url: 42, body: 'x' }, TYPE],
    [{ status: 200, metadata: 1n, body: 'x' }, VALUE],
    [{ status: 200, body: 'x', policy: { not: 'a policy' } }, { instanceOf: TypeError }],
  ]
  for (const [entry, expected] of badEntries) {
    const label = show(entry)
    await t.throwsAsync(cache.put('key', entry), expected, `put ${label}`)
    if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
      const { body, ...fields } = entry
      t.throws(() => cache.createWriteStream('key', fields), expected, `createWriteStream ${label}`)
    }
  }
  for (const [fields, expected] of [
    [undefined, TYPE], [null, TYPE], ['x', TYPE], [42, TYPE],
    [{ status: '201' }, TYPE], [{ status: 700 }, RANGE], [{ url: 42 }, TYPE], [{ metadata: 1n }, VALUE],
  ]) {
    await t.throwsAsync(cache.updateMetadata('key', fields), expected, `updateMetadata ${show(fields)}`)
  }
  const hit = await cache.get('key')
  t.is(hit.status, 200)
  t.is((await readHit(hit)).sha, sha256('original'))
  t.deepEqual(cache.keys(), ['key'])
  await stillWorks(t, cache)
})

test('bodies that are neither bytes, strings, streams nor iterables are TypeErrors; nothing stored', async (t) => {
  const cache = fresh(t)
  await cache.put('key', { status: 200, body: 'original' })
  const bad = [undefined, null, 42, 0, true, 1n, Symbol('b'), {}, { length: 3 }, () => 'x', Promise.resolve('x'), new Date(), /re/, new ArrayBuffer(4), new DataView(new ArrayBuffer(4))]
  for (const body of bad) {
    const r = await settle(() => cache.put('key', { status: 200, body }))
    const label = `body ${show(body)} (${Object.prototype.toString.call(body)})`
    t.false(r.sync, `${label}: rejects`)
    t.true(r.err instanceof TypeError, `${label}: ${r.err}`)
    t.is(r.err?.code, 'ERR_INVALID_ARG_TYPE', label)
  }
  // Iterables of things that are not chunks are rejected as they are met.
  for (const body of [[{ a: 1 }], [1, 2], new Map([['a', 'b']]), (async function * () { yield { a: 1 } })(), [Buffer.from('ok'), null]]) {
    await t.throwsAsync(cache.put('key', { status: 200, body }), { instanceOf: TypeError }, show(body))
    await t.throwsAsync(cache.put('fresh-key', { status: 200, body: [{ a: 1 }] }), { instanceOf: TypeError })
  }
  t.is((await readHit(await cache.get('key'))).sha, sha256('original'))
  t.deepEqual(cache.keys(), ['key'])
  await stillWorks(t, cache)
})

// A Readable in object mode must not reach Writable#write (which throws outside any promise):
// put checks every chunk itself and rejects.
test('an object-mode stream as body: put rejects with a TypeError, nothing stored, no uncaught exception', async (t) => {
  const dir = tempDir(t)
  const run = spawnFixture('reliability-objectmode.js', [dir], { timeout: 60_000 })
  t.deepEqual(await run.exited, { code: 0, signal: null }, run.stderr())
  const { results, uncaught } = run.messages.find((m) => m.results) ?? {}
  t.deepEqual(uncaught, [], 'no uncaught exception')
  for (const r of results) {
    const label = `${r.source} -> ${r.key}`
    t.is(r.outcome, 'rejected', label)
    t.is(r.error?.name, 'TypeError', label)
    if (r.key === 'existing') t.is(r.body, 'old body', `${label}: the old entry is intact`)
    else t.false(r.has, `${label}: nothing stored`)
  }
})

test('streams that fail after N bytes: put rejects with that very error, nothing stored, the old entry intact', async (t) => {
  const cache = fresh(t)
  const old = seededBytes('old', 200 * KiB)
  await cache.put('key', { status: 200, body: old })
  const failAfter = [0, 1, 64 * KiB - 1, 64 * KiB, 300 * KiB, 2 * MiB]
  const makers = {
    'Readable destroyed with an error': (n, err) => {
      let sent = 0
      return new Readable({
        read () {
          if (sent >= n) {
            this.destroy(err)
            return
          }
          const chunk = seededBytes(`c${sent}`, Math.min(16 * KiB, n - sent))
          sent += chunk.length
          this.push(chunk)
        },
      })
    },
    'Readable emitting error asynchronously': (n, err) => {
      const r = new Readable({ read () {} })
      if (n > 0) r.push(Buffer.alloc(n, 3))
      setTimeout(() => r.destroy(err), 5)
      return r
    },
    'async generator that throws': (n, err) => (async function * () {
      let sent = 0
      while (sent < n) {
        const size = Math.min(32 * KiB, n - sent)
        sent += size
        yield Buffer.alloc(size, 7)
      }
      throw err
    })(),
    'sync generator that throws': (n, err) => (function * () {
      if (n > 0) yield Buffer.alloc(n, 9)
      throw err
    })(),
  }
  let cases = 0
  for (const [kind, make] of Object.entries(makers)) {
    for (const n of failAfter) {
      for (const key of ['key', `new-${kind}-${n}`]) {
        const err = new Error(`${kind} failed after ${n} bytes`)
        err.code = 'E_SOURCE'
        const got = await t.throwsAsync(cache.put(key, { status: 200, body: make(n, err) }))
        t.is(got, err, `${kind}, ${n} bytes, ${key}: rejects with the source's own error`)
        cases++
      }
    }
  }
  t.log(`${cases} failing sources`)
  t.is((await readHit(await cache.get('key'))).sha, sha256(old), 'the old entry is intact')
  t.deepEqual(cache.keys(), ['key'], 'nothing stored under new keys')
  // Nothing half-written lingers in tmp/ (the temp files of failed puts are removed).
  await cache.runPendingTasks()
  t.deepEqual(fs.existsSync(`${cache.dir}/tmp`) ? fs.readdirSync(`${cache.dir}/tmp`) : [], [])
  await stillWorks(t, cache)
})

// Serial: it counts the whole process's open fds, so no other test of this file may run meanwhile.
test.serial('a 1 MiB body destroyed half-way 10 000 times does not leak file descriptors', async (t) => {
  t.timeout(120_000)
  const cache = fresh(t)
  const data = seededBytes('one-mib', MiB)
  await cache.put('big', { status: 200, body: data })
  const fds = () => fs.readdirSync('/proc/self/fd').length
  const before = fds()
  let max = before
  const ROUNDS = 10_000
  for (let i = 0; i < ROUNDS; i++) {
    const hit = i % 2 ? cache.getSync('big') : await cache.get('big')
    await new Promise((resolve, reject) => {
      let seen = 0
      hit.body.on('data', (chunk) => {
        seen += chunk.length
        if (seen >= MiB / 2) hit.body.destroy()
      })
      hit.body.once('close', resolve)
      hit.body.once('error', reject)
    })
    if (i % 50 === 0) max = Math.max(max, fds())
  }
  // Other ways to stop early: destroy before reading, destroy with an error, break out of for-await.
  for (let i = 0; i < 500; i++) cache.getSync('big').body.destroy()
  for (let i = 0; i < 500; i++) {
    const hit = cache.getSync('big')
    hit.body.once('error', () => {})
    hit.body.destroy(new Error('consumer gave up'))
  }
  for (let i = 0; i < 500; i++) {
    for await (const chunk of (await cache.get('big')).body) { if (chunk) break }
  }
  await new Promise((resolve) => setImmediate(resolve))
  max = Math.max(max, fds())
  const after = fds()
  t.log(`open fds: ${before} before, ${after} after, at most ${max} during ${ROUNDS} + 1500 early stops`)
  t.true(max - before <= 8, `fd count grew from ${before} to ${max}`)
  t.true(after - before <= 4, `fd count grew from ${before} to ${after}`)
  t.is((await readHit(await cache.get('big'))).sha, sha256(data))
  await stillWorks(t, cache)
})
