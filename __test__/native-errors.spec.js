'use strict'
// Issue 9 item 10: errors of the addon cross the boundary coded natively. Every public method
// fails the same way whether the failure is thrown by a sync native call, rejected by a libuv
// job or raised on a body stream: an `Error` (a `TypeError`/`RangeError` for bad input) whose
// `code` is set (errno names such as ENOTDIR or EMFILE, ERR_* codes of the cache) and whose
// message is the plain message, never a "CODE: message" string. Real files, a real fd table
// exhausted in a child process, a real Redis (or a port nobody listens on), the real CLI.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Readable } = require('node:stream')
const { StreamingCache, CachePolicy, RemoteTier } = require('..')
const { KiB, MiB, seededBytes, readBody, tempDir } = require('./helpers/util')
const { bucketFileFor, contentFileFor, CONTENT_DIR, INDEX_DIR, OWNERS_DIR, TMP_DIR } = require('./helpers/layout')
const { redisFor, freePort } = require('./helpers/redis-server')
const { cli } = require('./helpers/cli')
const native = require('../lib/native')

const EMFILE_CHILD = path.join(__dirname, 'fixtures', 'native-errors-emfile.js')

/** `err` is exactly `type` (not a subclass), carries `code`, and its message has no code prefix. */
function assertCoded (t, err, code, type = Error) {
  t.truthy(err, `expected a ${code} error`)
  if (!err) return
  t.is(Object.getPrototypeOf(err), type.prototype, `${err.constructor?.name} instead of ${type.name}: ${err.message}`)
  t.is(err.code, code, err.message)
  t.is(typeof err.message, 'string')
  t.true(err.message.length > 0)
  t.notRegex(err.message, /^[A-Z][A-Z0-9_]+: /, 'the plain message, not "CODE: message"')
  t.false(err.message.startsWith(code), err.message)
}

/** What `call` threw or rejected with (null if it did neither). */
async function failure (call) {
  try {
    await call()
    return null
  } catch (err) {
    return err
  }
}

/** A cache in a fresh directory, closed after the test. */
async function openCache (t, options) {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir, options)
  t.teardown(() => cache.close())
  return { dir, cache }
}

/** Replaces the directory `dir` with a regular file (what a careless `mv` or a bad mount leaves). */
function replaceDirWithFile (dir) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.writeFileSync(dir, 'not a directory')
}

/** Flips the last byte of `file`: same size, wrong hash. */
function flipLastByte (file) {
  fs.chmodSync(file, 0o644)
  const fd = fs.openSync(file, 'r+')
  const size = fs.fstatSync(fd).size
  const b = Buffer.alloc(1)
  fs.readSync(fd, b, 0, 1, size - 1)
  b[0] ^= 0xff
  fs.writeSync(fd, b, 0, 1, size - 1)
  fs.closeSync(fd)
}

/** The error a body stream emits (fails if it ends instead). */
function streamError (stream) {
  return new Promise((resolve) => {
    stream.once('error', resolve)
    stream.once('end', () => resolve(null))
    stream.resume()
  })
}

test('the addon itself: sync calls throw and jobs reject with the class and code set natively, no JS conversion in between', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'file')
  fs.writeFileSync(file, 'x')
  const entry = JSON.stringify({ status: 200, headers: {} })

  // Sync: thrown by the binding while the JS caller is on the stack.
  assertCoded(t, t.throws(() => new native.NativeCache(path.join(file, 'cache'), {})), 'ENOTDIR')
  const cache = new native.NativeCache(path.join(dir, 'cache'), { maxBodySize: 1024, memoryMaxSize: 0 })
  t.teardown(() => cache.close())
  assertCoded(t, t.throws(() => cache.beginPut('k', JSON.stringify({ status: 1000 }))), 'ERR_OUT_OF_RANGE', RangeError)
  assertCoded(t, t.throws(() => cache.beginPut('k', JSON.stringify({ status: 200, headers: { a: '\n' } }))), 'ERR_INVALID_CHAR', TypeError)
  assertCoded(t, t.throws(() => native.NativePolicy.fromJson('{')), 'ERR_INVALID_ARG_TYPE', TypeError)
  assertCoded(t, t.throws(() => native.contentPath(dir, 'not-an-integrity')), 'ERR_INVALID_ARG_VALUE', TypeError)
  assertCoded(t, t.throws(() => native.inspectCacheDir(file)), 'ENOTDIR')
  assertCoded(t, t.throws(() => new native.NativeRemoteTier({ url: 'redis://:99999999' })), 'ERR_INVALID_ARG_VALUE', TypeError)

  // Jobs: the promise rejects with the coded error the binding built on the JS thread.
  assertCoded(t, await failure(() => cache.putBuffer('k', entry, Buffer.alloc(4096))), 'ERR_BODY_TOO_LARGE')
  const writer = cache.beginPut('k', entry)
  assertCoded(t, await failure(() => writer.write([Buffer.alloc(4096)])), 'ERR_BODY_TOO_LARGE')
  assertCoded(t, await failure(() => writer.commit()), 'ERR_STREAM_DESTROYED')

  const { integrity } = await cache.putBuffer('small', entry, seededBytes('small', 1000))
  flipLastByte(native.contentPath(path.join(dir, 'cache'), integrity))
  assertCoded(t, t.throws(() => cache.get('small').readWholeSync()), 'ERR_CACHE_INTEGRITY')
  const big = new native.NativeCache(path.join(dir, 'big'), { memoryMaxSize: 0 })
  t.teardown(() => big.close())
  for (const [key, read] of [['whole', (b) => b.readWhole()], ['batch', (b) => b.readBatch([Buffer.alloc(b.size)])], ['read', (b) => b.read(Buffer.alloc(b.size))]]) {
    // One key each: a body found corrupt is dropped from the cache.
    const stored = await big.putBuffer(key, entry, seededBytes(key, 200 * KiB))
    flipLastByte(native.contentPath(path.join(dir, 'big'), stored.integrity))
    assertCoded(t, await failure(() => read(big.get(key))), 'ERR_CACHE_INTEGRITY')
  }

  const port = await freePort()
  const tier = new native.NativeRemoteTier({ url: `redis://127.0.0.1:${port}`, connectTimeout: 500, opTimeout: 500, breakerThreshold: 1000 })
  assertCoded(t, await failure(() => tier.purge()), 'ERR_REMOTE_CONNECTION')
  const remoteWriter = tier.writer()
  await remoteWriter.write([Buffer.from('x')])
  assertCoded(t, await failure(() => remoteWriter.commit('k', '{}', 1000)), 'ERR_REMOTE_CONNECTION')
})

test('constructor: a path through a regular file throws ENOTDIR from the native open, with a JS stack', async (t) => {
  const dir = await tempDir(t)
  const file = path.join(dir, 'file')
  fs.writeFileSync(file, 'x')
  const err = t.throws(() => new StreamingCache(path.join(file, 'cache')))
  assertCoded(t, err, 'ENOTDIR')
  t.true(err.message.includes(path.join(file, 'cache')), err.message)
  t.regex(err.stack, /native-errors\.spec\.js/, 'thrown synchronously where the JS called it')
  t.false(fs.existsSync(path.join(file, 'cache')))
})

test('put: I/O failures reject with their errno name (content directory, temp directory)', async (t) => {
  const { dir, cache } = await openCache(t)
  replaceDirWithFile(path.join(dir, CONTENT_DIR))
  assertCoded(t, await failure(() => cache.put('buffer', { status: 200, body: seededBytes('a', 10 * KiB) })), 'ENOTDIR')
  assertCoded(t, await failure(() => cache.put('stream', { status: 200, body: Readable.from([seededBytes('b', 10 * KiB)]) })), 'ENOTDIR')

  const other = await openCache(t)
  replaceDirWithFile(path.join(other.dir, TMP_DIR))
  assertCoded(t, await failure(() => other.cache.put('buffer', { status: 200, body: 'x' })), 'EEXIST')
  t.is(other.cache.has('buffer'), false)
})

test('put and createWriteStream: a body over maxBodySize fails with ERR_BODY_TOO_LARGE from the write and the commit jobs', async (t) => {
  const { cache } = await openCache(t, { maxBodySize: 64 * KiB })
  const body = seededBytes('big', 200 * KiB)
  // A whole Buffer: written and committed by one job.
  assertCoded(t, await failure(() => cache.put('whole', { status: 200, body })), 'ERR_BODY_TOO_LARGE')
  // A stream: the write job that crosses the limit fails.
  const chunks = [body.subarray(0, 50 * KiB), body.subarray(50 * KiB, 100 * KiB), body.subarray(100 * KiB)]
  assertCoded(t, await failure(() => cache.put('streamed', { status: 200, body: Readable.from(chunks) })), 'ERR_BODY_TOO_LARGE')
  // A write stream: 'error' and `committed` carry the same coded error.
  const stream = cache.createWriteStream('writable', { status: 200 })
  const streamErr = new Promise((resolve) => stream.once('error', resolve))
  for (const chunk of chunks) stream.write(chunk)
  stream.end()
  const err = await streamErr
  assertCoded(t, err, 'ERR_BODY_TOO_LARGE')
  t.is(await failure(() => stream.committed), err)
  t.deepEqual(cache.keys(), [])
})

test('put and updateMetadata: fields the core rejects are a TypeError or RangeError with Node\'s codes', async (t) => {
  const { cache } = await openCache(t)
  assertCoded(t, await failure(() => cache.put('k', { status: 1000, body: 'x' })), 'ERR_OUT_OF_RANGE', RangeError)
  assertCoded(t, await failure(() => cache.put('k', { status: 200, headers: { a: 'x\ny' }, body: 'x' })), 'ERR_INVALID_CHAR', TypeError)
  assertCoded(t, await failure(() => cache.put('k', { status: 200, headers: { 'a b': 'x' }, body: Readable.from(['x']) })), 'ERR_INVALID_ARG_VALUE', TypeError)
  t.throws(() => cache.createWriteStream('k', { status: 99 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })

  await cache.put('k', { status: 200, body: 'x' })
  assertCoded(t, await failure(() => cache.updateMetadata('k', { status: 1000 })), 'ERR_OUT_OF_RANGE', RangeError)
  assertCoded(t, await failure(() => cache.updateMetadata('k', { headers: { a: 'x\r' } })), 'ERR_INVALID_CHAR', TypeError)
  t.is(cache.peek('k').status, 200, 'nothing was changed')
})

for (const [label, size, options] of [
  ['a one-chunk body (read whole on the JS thread)', 10 * KiB, {}],
  ['a body the RAM tier may keep (read whole by a job)', 512 * KiB, {}],
  ['a large body (read in batches by jobs)', 3 * MiB, { memory: { maxSize: 0 } }],
]) {
  test(`get: ${label} whose content was altered fails its stream with ERR_CACHE_INTEGRITY`, async (t) => {
    const { dir, cache } = await openCache(t, options)
    const info = await cache.put('k', { status: 200, body: seededBytes(label, size) })
    flipLastByte(contentFileFor(dir, info.integrity))
    const hit = await cache.get('k')
    t.truthy(hit)
    assertCoded(t, await streamError(hit.body), 'ERR_CACHE_INTEGRITY')
  })
}

test('get with a range: an altered block fails the range stream with ERR_CACHE_INTEGRITY', async (t) => {
  const { dir, cache } = await openCache(t, { memory: { maxSize: 0 } })
  const info = await cache.put('k', { status: 200, body: seededBytes('range', 2 * MiB) })
  flipLastByte(contentFileFor(dir, info.integrity))
  const hit = cache.getSync('k', { range: [2 * MiB - 100, 2 * MiB - 1] })
  assertCoded(t, await streamError(hit.body), 'ERR_CACHE_INTEGRITY')
})

test('delete and refresh: index failures reject with their errno name', async (t) => {
  const { dir, cache } = await openCache(t)
  await cache.put('k', { status: 200, body: 'x' })
  const bucket = bucketFileFor(dir, 'k')
  fs.rmSync(bucket)
  fs.mkdirSync(bucket)
  assertCoded(t, await failure(() => cache.delete('k')), 'EISDIR')

  const other = await openCache(t)
  await other.cache.put('k', { status: 200, body: 'x' })
  replaceDirWithFile(path.join(other.dir, INDEX_DIR))
  assertCoded(t, await failure(() => other.cache.refresh()), 'ENOTDIR')
})

test('a full fd table (ulimit -n in a child): every method that opens files fails with EMFILE', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  for (let i = 0; i < 5; i++) await cache.put(`k${i}`, { status: 200, body: seededBytes(`k${i}`, 4 * KiB) })
  await cache.close()
  const node = [process.execPath, EMFILE_CHILD, dir, 'k1'].map((a) => `'${a}'`).join(' ')
  const res = spawnSync('sh', ['-c', `ulimit -n 128 && exec ${node}`], { encoding: 'utf8', timeout: 60_000 })
  t.is(res.status, 0, res.stderr)
  const seen = JSON.parse(res.stdout.trim().split('\n').pop())
  t.true(seen.exhausted > 0, 'the fd table was exhausted')
  for (const method of ['constructor', 'put', 'createWriteStream', 'delete', 'refresh', 'verify', 'collectGarbage', 'clear', 'inspect']) {
    const err = seen[method]
    t.is(err.name, 'Error', `${method}: ${JSON.stringify(err)}`)
    t.is(err.code, 'EMFILE', `${method}: ${JSON.stringify(err)}`)
    t.notRegex(err.message, /^[A-Z][A-Z0-9_]+: /, method)
  }
  // Nothing was lost to the failures: every entry still reads back.
  const reopened = new StreamingCache(dir)
  t.teardown(() => reopened.close())
  for (let i = 0; i < 5; i++) t.deepEqual(await readBody(await reopened.get(`k${i}`)), seededBytes(`k${i}`, 4 * KiB))
})

test('a closed cache: every method throws or rejects with ERR_CACHE_CLOSED; close itself resolves again', async (t) => {
  const { cache } = await openCache(t)
  await cache.put('k', { status: 200, body: 'x' })
  await cache.close()
  const sync = {
    getSync: () => cache.getSync('k'),
    peek: () => cache.peek('k'),
    has: () => cache.has('k'),
    keys: () => cache.keys(),
    entryCount: () => cache.entryCount(),
    stats: () => cache.stats(),
    memoryUsage: () => cache.memoryUsage(),
    createWriteStream: () => cache.createWriteStream('k', { status: 200 }),
  }
  for (const [name, call] of Object.entries(sync)) {
    const err = t.throws(call, undefined, name)
    assertCoded(t, err, 'ERR_CACHE_CLOSED')
  }
  const async = {
    get: () => cache.get('k'),
    put: () => cache.put('k', { status: 200, body: 'x' }),
    putStream: () => cache.put('k', { status: 200, body: Readable.from(['x']) }),
    delete: () => cache.delete('k'),
    clear: () => cache.clear(),
    updateMetadata: () => cache.updateMetadata('k', { status: 203 }),
    verify: () => cache.verify(),
    refresh: () => cache.refresh(),
    runPendingTasks: () => cache.runPendingTasks(),
    collectGarbage: () => cache.collectGarbage(),
  }
  for (const [name, call] of Object.entries(async)) {
    const promise = call()
    t.true(promise instanceof Promise, `${name} reports through its promise`)
    assertCoded(t, await failure(() => promise), 'ERR_CACHE_CLOSED')
  }
  await t.notThrowsAsync(() => cache.close())
})

test('CachePolicy: bad input is a TypeError or RangeError coded by the native policy', (t) => {
  const request = { url: 'http://example.test/', headers: {} }
  assertCoded(t, t.throws(() => new CachePolicy({ ...request, headers: { a: 'x\ny' } }, { status: 200, headers: {} })), 'ERR_INVALID_CHAR', TypeError)
  assertCoded(t, t.throws(() => new CachePolicy(request, { status: 70_000, headers: {} })), 'ERR_OUT_OF_RANGE', RangeError)
  assertCoded(t, t.throws(() => CachePolicy.fromJSON('{')), 'ERR_INVALID_ARG_TYPE', TypeError)
  assertCoded(t, t.throws(() => CachePolicy.fromJSON({ v: 99 })), 'ERR_INVALID_ARG_VALUE', TypeError)
  const policy = new CachePolicy(request, { status: 200, headers: { 'cache-control': 'max-age=60' } })
  assertCoded(t, t.throws(() => policy.beforeRequest({ ...request, headers: { a: '\0' } })), 'ERR_INVALID_CHAR', TypeError)
})

test('RemoteTier: a server nobody answers on rejects writes with ERR_REMOTE_CONNECTION; a URL the client refuses is a TypeError', async (t) => {
  assertCoded(t, t.throws(() => new RemoteTier({ url: 'redis://:99999999' })), 'ERR_INVALID_ARG_VALUE', TypeError)
  const port = await freePort()
  // A breaker that never opens: every call goes to the (absent) server and fails there.
  const tier = new RemoteTier({ url: `redis://127.0.0.1:${port}`, connectTimeout: 500, opTimeout: 500, breakerThreshold: 1000 })
  assertCoded(t, await failure(() => tier.put('k', { body: 'x' })), 'ERR_REMOTE_CONNECTION')
  assertCoded(t, await failure(() => tier.put('k', { body: Readable.from(['x', 'y']) })), 'ERR_REMOTE_CONNECTION')
  assertCoded(t, await failure(() => tier.remove('k')), 'ERR_REMOTE_CONNECTION')
  assertCoded(t, await failure(() => tier.purge()), 'ERR_REMOTE_CONNECTION')
  // Lookups of a tier that is down are misses by design, never errors.
  t.is(await tier.get('k'), null)
})

test('RemoteTier: a body over maxBodySize rejects with ERR_BODY_TOO_LARGE from the write job', async (t) => {
  const server = await redisFor(t)
  if (!server) return
  const tier = new RemoteTier({ url: server.url, maxBodySize: 100 * KiB, chunkSize: 64 * KiB })
  const body = seededBytes('remote-big', 300 * KiB)
  assertCoded(t, await failure(() => tier.put('whole', { body })), 'ERR_BODY_TOO_LARGE')
  assertCoded(t, await failure(() => tier.put('streamed', { body: Readable.from([body.subarray(0, 100 * KiB), body.subarray(100 * KiB)]) })), 'ERR_BODY_TOO_LARGE')
  t.is(await tier.lookup('whole'), null)
  t.is(await tier.lookup('streamed'), null)
})

test('CLI: a native failure is reported as its message and code, exit status 2', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'x' })
  await cache.close()
  replaceDirWithFile(path.join(dir, OWNERS_DIR))
  const { code, stderr } = await cli('gc', dir)
  t.is(code, 2, stderr)
  t.regex(stderr, /\(EEXIST\)/)
  t.notRegex(stderr, /EEXIST: /, 'the message carries no code prefix')
})

test('a panic inside the guards becomes ERR_CACHE_INTERNAL, on the JS thread and on a libuv thread, and prints nothing (issue 10 item 1)', (t) => {
  // A child process: an uncaught panic would abort it (SIGABRT), and the default panic hook
  // would print to its stderr.
  const script = `
    const native = require(${JSON.stringify(path.join(__dirname, '..', 'lib', 'native.js'))})
    const seen = (err) => ({ name: err.constructor.name, code: err.code, message: err.message })
    let sync = null
    try { native.__panicInsideGuardSync() } catch (err) { sync = seen(err) }
    native.__panicInsideGuardAsync().then(
      () => console.log(JSON.stringify({ sync, job: 'resolved' })),
      (err) => console.log(JSON.stringify({ sync, job: seen(err) })))
  `
  const res = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 })
  t.is(res.signal, null, res.stderr)
  t.is(res.status, 0, res.stderr)
  t.is(res.stderr, '')
  const { sync, job } = JSON.parse(res.stdout.trim())
  for (const err of [sync, job]) {
    t.is(err.name, 'Error')
    t.is(err.code, 'ERR_CACHE_INTERNAL')
    t.regex(err.message, /deliberate panic/)
    t.notRegex(err.message, /^ERR_/)
  }
})
