'use strict'
// Issue 10: maintenance never deletes committed data, the on-disk index stays healthy, shared
// directories and the disk are handled safely. Real files, real child processes, maintenance
// run concurrently with puts (never one after the other).
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { spawnSync, execFileSync } = require('node:child_process')
const { StreamingCache } = require('..')
const { ROOT, tempDir, seededBytes, sha256, readHit, startPeer, contentFiles, KiB } = require('./fixtures/reliability-common')
const { indexKeys } = require('./helpers/util')
const { bucketFileFor, contentFileFor, indexLine, TMP_DIR, INDEX_DIR } = require('./helpers/layout')

const CHILD = path.join(__dirname, 'fixtures', 'reliability-maintenance-child.js')
const CLI = path.join(ROOT, 'bin', 'http-streaming-cache.js')

/** Runs the child fixture in `mode` (optionally under a shell `ulimit -n`); its JSON report. */
function runChild (mode, dir, { ulimit, nodeArgs = [], timeout = 60_000 } = {}) {
  const node = [process.execPath, ...nodeArgs, CHILD, mode, dir].map((a) => `'${a}'`).join(' ')
  const script = ulimit ? `ulimit -n ${ulimit} && exec ${node}` : `exec ${node}`
  const res = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout })
  const line = res.stdout.trim().split('\n').pop()
  return { status: res.status, signal: res.signal, stderr: res.stderr, report: line ? JSON.parse(line) : null }
}

async function fill (cache, prefix, count, size) {
  const stored = new Map()
  for (let i = 0; i < count; i++) {
    const key = `${prefix}${i}`
    const body = seededBytes(key, size)
    await cache.put(key, { status: 200, body })
    stored.set(key, sha256(body))
  }
  return stored
}

async function assertServed (t, cache, stored) {
  let missing = 0
  for (const [key, sha] of stored) {
    const hit = await cache.get(key)
    if (hit === null || (await readHit(hit)).sha !== sha) missing++
  }
  t.is(missing, 0, `${missing} of ${stored.size} committed entries lost`)
}

/** Puts `count` keys, 4 at a time, while `maintenance` runs in a loop; what was committed. */
async function putsDuring (cache, maintenance, prefix, count, size) {
  let running = true
  let passes = 0
  const loop = (async () => {
    while (running) {
      await maintenance()
      passes++
    }
  })()
  const stored = new Map()
  for (let i = 0; i < count; i += 4) {
    await Promise.all([0, 1, 2, 3].map(async (j) => {
      const key = `${prefix}${i + j}`
      const body = seededBytes(key, size)
      await cache.put(key, { status: 200, body })
      stored.set(key, sha256(body))
    }))
  }
  running = false
  await loop
  return { stored, passes }
}

test('verify() concurrent with puts: every put that resolved is still served (item 3)', async (t) => {
  const cache = new StreamingCache(tempDir(t))
  const before = await fill(cache, 'old', 100, 20 * KiB)
  const { stored, passes } = await putsDuring(cache, () => cache.verify(), 'new', 200, 8 * KiB)
  t.log(`${passes} verify passes during ${stored.size} puts`)
  t.true(passes >= 2)
  await assertServed(t, cache, new Map([...before, ...stored]))
  const report = await cache.verify()
  t.is(report.corrupt, 0)
  t.is(report.entries, 300)
})

test('refresh() concurrent with puts: every put that resolved is still served (item 4)', async (t) => {
  const cache = new StreamingCache(tempDir(t))
  await fill(cache, 'old', 100, 1 * KiB)
  const { stored, passes } = await putsDuring(cache, () => cache.refresh(), 'new', 300, 1 * KiB)
  t.log(`${passes} refresh passes during ${stored.size} puts`)
  t.true(passes >= 2)
  await assertServed(t, cache, stored)
})

test('"could not read" is not corrupt: EMFILE aborts verify with its code, a put keeps EMFILE, nothing is deleted (items 5, 16)', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const stored = await fill(cache, 'k', 200, 4 * KiB)
  await cache.close()
  const { report, stderr } = runChild('emfile', dir, { ulimit: 256 })
  t.truthy(report, stderr)
  t.true(report.exhausted > 0, 'the fd table was exhausted')
  t.is(report.keys, 200)
  t.is(report.verify.error?.code, 'EMFILE', JSON.stringify(report.verify))
  t.is(report.put.error?.code, 'EMFILE', JSON.stringify(report.put))
  t.is(report.served.length, 200, 'every entry still served afterwards')
  for (const { key, sha } of report.served) t.is(sha, stored.get(key))
  t.is(indexKeys(dir).length, 200)
  t.is(contentFiles(dir).length, 200)
})

test('a peer with a smaller maxEntries and the CLI verify delete nothing (item 6)', async (t) => {
  const dir = tempDir(t)
  const owner = new StreamingCache(dir, { maxEntries: 10_000 })
  const stored = await fill(owner, 'k', 600, 512)
  const peer = await startPeer(dir, { maxEntries: 50 })
  t.teardown(() => peer.stop())
  await peer.call('runPendingTasks')
  t.true(await peer.call('entryCount') <= 50)
  await peer.call('verify')
  await peer.call('runPendingTasks')
  t.is(indexKeys(dir).length, 600, 'the peer deleted none of the owner\'s entries')
  await peer.stop()
  await owner.close()

  const out = execFileSync(process.execPath, [CLI, 'verify', dir, '--json'], { encoding: 'utf8' })
  const report = JSON.parse(out)
  t.deepEqual(report.corrupt, [], 'the CLI names no corrupt key')
  t.is(report.entries, 600)
  t.is(indexKeys(dir).length, 600, 'the CLI evicted nothing')
  const reopened = new StreamingCache(dir)
  await assertServed(t, reopened, stored)
})

test('clear() while another process writes: never rejected, its puts never fail, no dangling entry (item 7)', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const peer = await startPeer(dir)
  t.teardown(() => peer.stop())
  await peer.call('startLoop', 'peer', 64 * KiB)
  await peer.next((m) => m.loopCommitted >= 2)
  const errors = []
  for (let i = 0; i < 15; i++) {
    await cache.put(`mine${i}`, { status: 200, body: seededBytes(`mine${i}`, 4 * KiB) })
    await cache.clear().catch((err) => errors.push(err.code ?? err.message))
  }
  const committed = await peer.call('stopLoop')
  t.deepEqual(errors, [])
  t.true(committed.length >= 2, `${committed.length} peer puts`)
  t.deepEqual(await peer.call('problems'), [])
  // Whatever entries survived point at content that exists.
  for (const key of indexKeys(dir)) {
    const hit = await cache.get(key)
    t.truthy(hit, `${key} is in the index but not served`)
    if (hit) t.is((await readHit(hit)).error, null)
  }
  // The peer's last put came after the last clear: it is served.
  const last = committed[committed.length - 1]
  const hit = await cache.get(last.key)
  t.truthy(hit)
  t.is((await readHit(hit)).sha, last.sha)
})

test('updateMetadata applies only to the body it was computed for (item 8)', async (t) => {
  const cache = new StreamingCache(tempDir(t))
  let wrong = 0
  for (let i = 0; i < 300; i++) {
    const key = `k${i % 7}`
    await cache.put(key, { status: 200, headers: { body: 'old' }, body: seededBytes(`old${i}`, 100) })
    const next = seededBytes(`new${i}`, 100)
    await Promise.all([
      cache.put(key, { status: 200, headers: { body: 'new' }, body: next }),
      // Merged with whatever entry it peeks at: its headers belong to that entry's body.
      cache.updateMetadata(key, { metadata: { patched: i } }),
    ])
    const hit = await cache.get(key)
    const read = await readHit(hit)
    if (read.sha === sha256(next) && hit.headers.body !== 'new') wrong++
  }
  t.is(wrong, 0, `${wrong} new bodies got the old body's headers`)
})

test('a torn, invalid-UTF-8 index line is skipped, not fatal to the key (item 9)', async (t) => {
  const dir = tempDir(t)
  let cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'first' })
  await cache.close()
  // A full disk during an append of non-ASCII metadata: a line cut inside a UTF-8 sequence.
  const torn = Buffer.from(indexLine({ key: 'k', integrity: null, time: 1, size: 0, metadata: { é: 'ü' } }))
  fs.appendFileSync(bucketFileFor(dir, 'k'), torn.subarray(0, torn.indexOf(0xc3) + 1))
  cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'second' })
  await cache.put('gone', { status: 200, body: 'x' })
  await cache.close()
  fs.appendFileSync(bucketFileFor(dir, 'gone'), Buffer.from([0x0a, 0xff, 0xfe, 0x09]))
  cache = new StreamingCache(dir)
  await cache.delete('gone')
  await cache.close()

  const reopened = new StreamingCache(dir)
  const hit = await reopened.get('k')
  t.is((await readHit(hit)).sha, sha256(Buffer.from('second')))
  t.is(await reopened.get('gone'), null, 'a delete after a torn line stays deleted')
  t.true(reopened.skippedIndexLines >= 2)
})

test('metadata that could not be read back is refused at put; a forged integrity line never stops the cache opening (item 11)', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const nested = (depth) => {
    let value = 'leaf'
    for (let i = 0; i < depth; i++) value = [value]
    return value
  }
  await t.throwsAsync(cache.put('deep', { status: 200, metadata: nested(126), body: 'x' }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  await cache.put('fine', { status: 200, metadata: nested(90), body: 'x' })
  await cache.close()
  fs.mkdirSync(path.dirname(bucketFileFor(dir, 'forged')), { recursive: true })
  for (const integrity of ['sha256-%%%%', 'sha256-', '']) {
    fs.appendFileSync(bucketFileFor(dir, 'forged'), indexLine({ key: 'forged', integrity, time: 1, size: 1, metadata: { v: 1, meta: { status: 200 } } }))
  }
  const reopened = new StreamingCache(dir)
  t.is(reopened.skippedIndexLines, 3)
  t.is(await reopened.get('forged'), null)
  const hit = await reopened.get('fine')
  t.deepEqual(hit.metadata, nested(90))
  t.is(await reopened.get('deep'), null)
})

test('cleanup never follows a symlink out of the cache directory (item 13)', async (t) => {
  const dir = tempDir(t)
  const outside = tempDir(t)
  const precious = path.join(outside, 'precious')
  fs.writeFileSync(precious, 'keep me')
  const old = new Date(Date.now() - 3600_000)
  fs.utimesSync(precious, old, old)
  let cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'x' })
  await cache.close()
  fs.rmSync(path.join(dir, TMP_DIR), { recursive: true, force: true })
  fs.symlinkSync(outside, path.join(dir, TMP_DIR))
  cache = new StreamingCache(dir)
  await cache.verify()
  await cache.clear()
  await cache.close()
  t.true(fs.existsSync(precious), 'a file outside the cache was deleted through a symlink')
})

test('private by default: directories 0700, index and content files 0600 (item 14)', async (t) => {
  const dir = path.join(tempDir(t), 'fresh')
  const cache = new StreamingCache(dir)
  const { integrity } = await cache.put('GET https://example.com/?token=secret', { status: 200, body: 'x' })
  const mode = (p) => fs.statSync(p).mode & 0o777
  const bucket = bucketFileFor(dir, 'GET https://example.com/?token=secret')
  t.is(mode(dir), 0o700)
  t.is(mode(path.join(dir, INDEX_DIR)), 0o700)
  t.is(mode(path.dirname(bucket)), 0o700)
  t.is(mode(bucket), 0o600)
  t.is(mode(contentFileFor(dir, integrity)), 0o600)
  t.is(mode(path.dirname(contentFileFor(dir, integrity))), 0o700)
})

test('a FIFO or a directory where content should be is a miss with the entry dropped, never blocking (item 15)', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const fifo = await cache.put('fifo', { status: 200, body: 'fifo body' })
  const directory = await cache.put('directory', { status: 200, body: 'directory body' })
  await cache.put('other', { status: 200, body: 'other' })
  await cache.close()
  fs.rmSync(contentFileFor(dir, fifo.integrity))
  execFileSync('mkfifo', [contentFileFor(dir, fifo.integrity)])
  fs.rmSync(contentFileFor(dir, directory.integrity))
  fs.mkdirSync(contentFileFor(dir, directory.integrity))
  const { report, signal, stderr } = runChild('nonregular', dir, { timeout: 20_000 })
  t.is(signal, null, `the child was killed (blocked?) ${stderr}`)
  t.true(report.fifo.miss, JSON.stringify(report))
  t.false(report.fifo.has)
  t.true(report.directory.miss, JSON.stringify(report))
  t.false(report.directory.has)
  t.is(report.other, sha256(Buffer.from('other')))
  t.false(indexKeys(dir).includes('fifo'))
})

test('a body Buffer detached while its put reads it never stores freed memory (item 2)', async (t) => {
  const { report, signal, stderr } = runChild('detach', tempDir(t), { nodeArgs: ['--expose-gc'] })
  t.is(signal, null, stderr)
  t.truthy(report, stderr)
  t.is(report.detachedLength, 0, 'the Buffer was detached')
  if (report.stored) t.true(report.intact, JSON.stringify(report))
  else t.truthy(report.error?.code, JSON.stringify(report))
})
