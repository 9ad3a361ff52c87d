'use strict'
// Small disk hits (issue 12 item 3, lib/small-hits.js): a body of up to 64 KiB is read whole
// and verified in the lookup itself (and offered to the RAM tier when it is on), and the fields
// are kept per stored entry instead of crossing as JSON per hit. Each test runs with the tier
// off and on. The guarantees are those of any hit: verified
// bytes only, a key replaced, updated or deleted (here or by another process) is never served
// with its old body or fields, a damaged body fails with ERR_CACHE_INTEGRITY and is dropped.
const test = require('ava')
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')
const {
  StreamingCache, ROOT, KiB, CHUNK, seededBytes, readAll, tempDir, contentFileFor, sri,
} = require('./helpers/util')

const MODES = [['memory off', { memory: 0 }], ['memory on', {}]]

/** Runs `code` in a separate Node process with the cache at `dir` opened as `cache`. */
function inAnotherProcess (dir, code) {
  const script = `
    const { StreamingCache } = require(${JSON.stringify(ROOT)})
    const cache = new StreamingCache(process.argv[1])
    ;(async () => { ${code}; await cache.close() })().catch((e) => { console.error(e); process.exit(1) })`
  execFileSync(process.execPath, ['-e', script, dir], { stdio: ['ignore', 'inherit', 'inherit'] })
}

async function hitBody (cache, key) {
  const hit = cache.getSync(key)
  if (hit === null) return null
  const { body, sizes } = await readAll(hit.body)
  return { hit, body, sizes }
}

for (const [mode, options] of MODES) {
  test(`${mode}: small and larger bodies read back exactly, with the fields peek gives, hit after hit`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    const sizes = [0, 1, KiB, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 7]
    for (const size of sizes) {
      await cache.put(`k${size}`, { status: 201, headers: { 'x-size': String(size) }, metadata: { size }, body: seededBytes(size, size) })
    }
    for (let round = 0; round < 3; round++) {
      for (const size of sizes) {
        const got = await hitBody(cache, `k${size}`)
        t.true(got.body.equals(seededBytes(size, size)), `body of ${size} bytes, round ${round}`)
        t.true(got.sizes.every((n) => n <= CHUNK), 'chunks of at most 64 KiB')
        const { body, policy, ...fields } = got.hit
        const { policy: peeked, ...expected } = cache.peek(`k${size}`)
        t.deepEqual(fields, expected)
        t.is(fields.status, 201)
        t.deepEqual(fields.metadata, { size })
      }
    }
    t.is(cache.getSync('absent'), null)
    t.like(cache.stats(), { hits: 3 * sizes.length, misses: 1 })
    await cache.close()
  })

  test(`${mode}: a key replaced or updated here is served with its new body and fields at once`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    await cache.put('k', { status: 200, headers: { v: '1' }, body: Buffer.from('one') })
    t.is((await hitBody(cache, 'k')).body.toString(), 'one')
    await cache.put('k', { status: 200, headers: { v: '2' }, body: Buffer.from('two') })
    let got = await hitBody(cache, 'k')
    t.is(got.body.toString(), 'two')
    t.is(got.hit.headers.v, '2')
    t.true(await cache.updateMetadata('k', { headers: { v: '3' } }))
    got = await hitBody(cache, 'k')
    t.is(got.body.toString(), 'two', 'same body')
    t.is(got.hit.headers.v, '3', 'new fields: the kept ones belonged to the entry before the update')
    await cache.delete('k')
    t.is(cache.getSync('k'), null)
    await cache.close()
  })

  // A key seen before is read straight into a Buffer of its last known size (small-hits.js):
  // a replacement larger or smaller than that, by this process or another, is still served
  // whole and exactly, hit after hit.
  test(`${mode}: replacements larger and smaller than the body last read are served exactly`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    const sizes = [KiB, 3 * KiB, 10, CHUNK, 0, CHUNK + 1, 500]
    for (const [i, size] of sizes.entries()) {
      const body = seededBytes(100 + i, size)
      if (i === 3) inAnotherProcess(dir, `await cache.put('k', { status: 200, body: Buffer.from('${body.toString('base64')}', 'base64') })`)
      else await cache.put('k', { status: 200, headers: { v: String(i) }, body })
      for (let round = 0; round < 3; round++) {
        const got = await hitBody(cache, 'k')
        t.true(got.body.equals(body), `body ${i} (${size} B), round ${round}`)
        t.is(got.hit.size, size)
        t.true(got.sizes.every((n) => n <= CHUNK))
      }
    }
    await cache.close()
  })

  test(`${mode}: a key another process replaced is served with the replacement at the next lookup`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    const first = seededBytes(1, KiB)
    const second = seededBytes(2, KiB)
    await cache.put('k', { status: 200, headers: { v: '1' }, body: first })
    for (let i = 0; i < 3; i++) t.true((await hitBody(cache, 'k')).body.equals(first))

    inAnotherProcess(dir, `await cache.put('k', { status: 200, headers: { v: '2' }, body: Buffer.from(${JSON.stringify(second.toString('base64'))}, 'base64') })`)
    // The old body's file is gone (removed by the replacing process): the next lookup finds out
    // and asks the disk index, which names the replacement.
    t.false(fs.existsSync(contentFileFor(dir, sri(first))))
    const got = await hitBody(cache, 'k')
    t.true(got.body.equals(second))
    t.is(got.hit.headers.v, '2')
    t.is(got.hit.integrity, sri(second))

    inAnotherProcess(dir, "await cache.delete('k')")
    t.is(cache.getSync('k'), null, 'deleted by another process: a miss, not the old body')
    await cache.close()
  })

  test(`${mode}: a damaged small body fails with ERR_CACHE_INTEGRITY when read, and the entry is dropped`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    const body = seededBytes(3, KiB)
    await cache.put('k', { status: 200, headers: { v: '1' }, body })
    // With the tier on, a hit before the damage would put the (verified) body in RAM, which
    // later hits then serve: the damage is found by the first read instead.
    if (mode === 'memory off') t.true((await hitBody(cache, 'k')).body.equals(body), 'kept fields before the damage')
    const file = contentFileFor(dir, sri(body))
    fs.chmodSync(file, 0o644)
    const damaged = Buffer.from(body)
    damaged[100] ^= 1
    fs.writeFileSync(file, damaged)

    const hit = cache.getSync('k')
    t.not(hit, null, 'a hit whose body fails, as for a streamed body')
    t.is(hit.size, KiB)
    t.is(hit.headers.v, '1')
    const received = []
    hit.body.on('data', (chunk) => received.push(chunk))
    const err = await new Promise((resolve) => {
      hit.body.once('error', resolve)
      hit.body.once('end', () => resolve(null))
    })
    t.is(err?.code, 'ERR_CACHE_INTEGRITY')
    t.deepEqual(received, [], 'no unverified byte is delivered')
    t.false(cache.has('k'))
    t.is(cache.getSync('k'), null)
    t.is(cache.stats().integrityFailures, 1)
    t.is(cache.memoryUsage().entries, 0, 'nothing damaged was admitted to RAM')
    await cache.close()
  })

  test(`${mode}: a body truncated on disk fails the same way`, async (t) => {
    const dir = await tempDir(t)
    const cache = new StreamingCache(dir, options)
    const body = seededBytes(4, 10 * KiB)
    await cache.put('k', { status: 200, body })
    const file = contentFileFor(dir, sri(body))
    fs.chmodSync(file, 0o644)
    fs.truncateSync(file, 5 * KiB)
    const hit = cache.getSync('k')
    const err = await readAll(hit.body).then(() => null, (e) => e)
    t.is(err?.code, 'ERR_CACHE_INTEGRITY')
    t.is(cache.getSync('k'), null)
    t.is(cache.memoryUsage().entries, 0)
    await cache.close()
  })
}
