'use strict'
// A full disk (issue 6): the cache directory on a 4 MiB tmpfs. Puts fail with ENOSPC and
// store nothing, entries already there stay readable, the cache recovers once space is freed,
// and through undici the response is still delivered in full when it cannot be cached.
// Needs root (mount); without it the tests are registered as skipped, with the reason.
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const http = require('node:http')
const { once } = require('node:events')
const { Readable } = require('node:stream')
const { execFileSync, spawnSync } = require('node:child_process')
const { StreamingCache } = require('..')
const { seededBytes, sha256, readHit, tmpFiles, KiB, MiB } = require('./fixtures/reliability-common')

const SIZE = '4m'

function mount (dir) {
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE}`, 'tmpfs', dir], { stdio: 'pipe' })
}

function unmount (dir) {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' })
  } catch {
    // This process still has files open there (the owner lock of a cache it cannot close).
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
  }
}

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN): tried once at load. */
function mountCapability () {
  const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-reliability-mount-probe-'))
  try {
    const run = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { encoding: 'utf8' })
    if (run.error || run.status !== 0) return `cannot mount a tmpfs here: ${(run.error?.message ?? run.stderr).trim()}`
    spawnSync('umount', [probe])
    return null
  } finally {
    fs.rmSync(probe, { recursive: true, force: true })
  }
}

const noMount = mountCapability()
const diskTest = noMount === null ? test : test.skip
const why = noMount === null ? '' : ` [skipped: ${noMount}]`

/** A tmpfs of SIZE mounted on a fresh directory, unmounted (always) when the test ends. */
function fullableDir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-reliability-full-'))
  mount(dir)
  t.teardown(() => {
    unmount(dir)
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

/** Fills the file system holding `dir` with a filler file until ENOSPC; returns its path. */
function fillUp (dir) {
  const file = path.join(dir, 'filler')
  const fd = fs.openSync(file, 'w')
  const block = Buffer.alloc(64 * KiB, 1)
  try {
    for (;;) {
      try {
        fs.writeSync(fd, block)
      } catch (err) {
        if (err.code !== 'ENOSPC') throw err
        // Fill the last partial block too.
        for (let n = 4096; n >= 1; n >>= 1) {
          try { while (fs.writeSync(fd, block, 0, n) > 0); } catch {}
        }
        return file
      }
    }
  } finally {
    fs.closeSync(fd)
  }
}

async function expectIntact (t, cache, key, data) {
  const hit = await cache.get(key)
  t.truthy(hit, `${key} is still there`)
  if (!hit) return
  const read = await readHit(hit)
  t.is(read.error, null, key)
  t.is(read.sha, sha256(data), `${key} reads back intact`)
}

diskTest(`disk full: put rejects with ENOSPC and stores nothing, existing entries stay intact, deleting frees space${why}`, async (t) => {
  const dir = fullableDir(t)
  const cache = new StreamingCache(dir, { maxEntries: 1000 })
  const before = {}
  for (let i = 0; i < 3; i++) {
    before[`pre-${i}`] = seededBytes(`pre-${i}`, 256 * KiB)
    await cache.put(`pre-${i}`, { status: 200, body: before[`pre-${i}`] })
  }
  before['pre-small'] = Buffer.from('small')
  await cache.put('pre-small', { status: 200, body: before['pre-small'] })

  // Distinct 512 KiB bodies until the disk is full.
  const filled = {}
  let failure = null
  for (let i = 0; i < 40 && failure === null; i++) {
    const data = seededBytes(`fill-${i}`, 512 * KiB)
    try {
      await cache.put(`fill-${i}`, { status: 200, body: data })
      filled[`fill-${i}`] = data
    } catch (err) {
      failure = { key: `fill-${i}`, err }
    }
  }
  t.truthy(failure, 'the disk filled up')
  t.log(`ENOSPC after ${Object.keys(filled).length} puts of 512 KiB on a ${SIZE} tmpfs`)
  t.true(failure.err instanceof Error)
  t.is(failure.err.code, 'ENOSPC', failure.err.message)
  t.false(cache.has(failure.key), 'nothing stored for the failed put')
  t.is(await cache.get(failure.key), null)

  // The streamed paths fail the same way.
  const streamed = seededBytes('streamed', 512 * KiB)
  const err2 = await t.throwsAsync(cache.put('streamed', { status: 200, body: Readable.from([streamed.subarray(0, 100_000), streamed.subarray(100_000)]) }))
  t.is(err2.code, 'ENOSPC')
  const ws = cache.createWriteStream('write-stream', { status: 200 })
  ws.end(seededBytes('write-stream', 512 * KiB))
  const [err3] = await once(ws, 'error')
  t.is(err3.code, 'ENOSPC')
  await t.throwsAsync(ws.committed, { code: 'ENOSPC' })
  for (const key of ['streamed', 'write-stream']) t.false(cache.has(key), `${key} not stored`)
  t.deepEqual(tmpFiles(dir), [], 'failed writes leave no temp file')

  // Everything stored before the disk filled up is intact.
  for (const [key, data] of Object.entries({ ...before, ...filled })) await expectIntact(t, cache, key, data)
  t.like(await cache.verify(), { corrupt: 0, verified: Object.keys(before).length + Object.keys(filled).length })

  // Deleting frees space (on a full disk), and puts work again.
  const victims = Object.keys(filled).slice(0, 2)
  for (const key of victims) t.true(await cache.delete(key))
  const after = seededBytes('after', 300 * KiB)
  await cache.put('after', { status: 200, body: after })
  await expectIntact(t, cache, 'after', after)
  await expectIntact(t, cache, 'pre-0', before['pre-0'])
})

// The undici integrations are written alongside these tests: exercised only when present.
let integration = null
try {
  integration = require('http-streaming-cache/undici')
} catch (err) {
  if (err.code !== 'MODULE_NOT_FOUND') throw err
}

/** A local origin serving `body` as a cacheable response; counts requests. */
async function origin (t, body) {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=300', 'content-length': body.length })
    // In pieces, so the cache sees a stream.
    let offset = 0
    const next = () => {
      if (offset >= body.length) return res.end()
      const piece = body.subarray(offset, offset + 100 * KiB)
      offset += piece.length
      if (res.write(piece)) setImmediate(next)
      else res.once('drain', next)
    }
    next()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => server.close())
  return { url: `http://127.0.0.1:${server.address().port}/big`, requests: () => requests }
}

async function fetchAll (undici, url, dispatcher) {
  const res = await undici.request(url, { dispatcher })
  const data = Buffer.concat(await res.body.toArray())
  return { status: res.statusCode, sha: sha256(data), length: data.length }
}

const undiciTest = (name, fn) => {
  const missing = integration === null ? 'http-streaming-cache/undici is not available' : null
  if (noMount !== null || missing !== null) test.skip(`${name} [skipped: ${noMount ?? missing}]`, fn)
  else test(name, fn)
}

for (const flavour of ['cacheInterceptor', 'StreamingCacheStore']) {
  undiciTest(`disk full through undici (${flavour}): the origin's response is still delivered in full, and cached once there is room`, async (t) => {
    if (typeof integration[flavour] !== 'function') {
      t.log(`http-streaming-cache/undici has no ${flavour}: nothing to test`)
      t.pass()
      return
    }
    const undici = require('undici')
    const dir = fullableDir(t)
    const body = seededBytes(`undici-${flavour}`, 1 * MiB + 123)
    const server = await origin(t, body)
    let interceptor
    if (flavour === 'cacheInterceptor') {
      interceptor = integration.cacheInterceptor({ cache: new StreamingCache(dir) })
    } else {
      interceptor = undici.interceptors.cache({ store: new integration.StreamingCacheStore({ location: dir }) })
    }
    const agent = new undici.Agent()
    t.teardown(() => agent.close())
    const dispatcher = agent.compose(interceptor)

    const filler = fillUp(dir)
    const want = { status: 200, sha: sha256(body), length: body.length }
    t.deepEqual(await fetchAll(undici, server.url, dispatcher), want, 'delivered in full although the cache write failed')
    t.deepEqual(await fetchAll(undici, server.url, dispatcher), want, 'and again: nothing partial was cached')
    t.is(server.requests(), 2, 'both went to the origin')
    t.deepEqual(tmpFiles(dir), [], 'no temp file left behind')

    // Room again: the response is stored, then served from the cache.
    fs.rmSync(filler)
    t.deepEqual(await fetchAll(undici, server.url, dispatcher), want)
    t.is(server.requests(), 3)
    t.deepEqual(await fetchAll(undici, server.url, dispatcher), want, 'served from the cache')
    t.is(server.requests(), 3, 'without asking the origin')
  })
}
