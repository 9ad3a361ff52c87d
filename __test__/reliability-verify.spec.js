'use strict'
// verify() and `http-streaming-cache verify <dir>` (issue 6): corrupt entries, stray temp files and
// unreferenced content are found and removed, with exact counts; recent files of a process
// still writing are left alone.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { spawn } = require('node:child_process')
const { StreamingCache } = require('..')
const {
  ROOT, startPeer, tempDir, tmpFiles, contentFiles, contentFileFor, seededBytes, sha256, readHit, sleep, KiB,
} = require('./fixtures/reliability-common')
const { flipByte } = require('./helpers/util')

const CLI = path.join(ROOT, 'bin', 'http-streaming-cache.js')

function runCli (args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    child.once('error', reject)
    child.once('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** A content file at the address of `data`, with no index entry pointing at it. */
function writeOrphanContent (dir, data) {
  const integrity = 'sha256-' + crypto.createHash('sha256').update(data).digest('base64')
  const file = contentFileFor(dir, integrity)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, data)
  return file
}

function writeStrayTemp (dir, name, size) {
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true })
  const file = path.join(dir, 'tmp', name)
  fs.writeFileSync(file, Buffer.alloc(size, 0x42))
  return file
}

const ageFile = (file, seconds) => {
  const then = new Date(Date.now() - seconds * 1000)
  fs.utimesSync(file, then, then)
}

const BODIES = {
  corrupted: seededBytes('verify-corrupted', 100 * KiB),
  small: Buffer.from('a small intact body'),
  shared: seededBytes('verify-shared', 70 * KiB),
}

test('verify: one corrupt entry, a stray temp file and unreferenced content — exact report, the corrupt entry becomes a miss', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const infoCorrupted = await cache.put('corrupted', { status: 200, body: BODIES.corrupted })
  await cache.put('small', { status: 200, body: BODIES.small })
  await cache.put('shared-1', { status: 200, body: BODIES.shared })
  await cache.put('shared-2', { status: 200, body: BODIES.shared })
  t.is(contentFiles(dir).length, 3)

  flipByte(contentFileFor(dir, infoCorrupted.integrity), 70 * KiB)
  const stray = writeStrayTemp(dir, 'stray-write-123', 1234)
  const orphan = writeOrphanContent(dir, seededBytes('nobody-points-here', 2048))

  const report = await cache.verify()
  t.deepEqual(report, { entries: 4, verified: 3, corrupt: 1, orphansRemoved: 2, bytesReclaimed: 1234 + 2048 })
  t.false(fs.existsSync(stray))
  t.false(fs.existsSync(orphan))
  t.false(fs.existsSync(contentFileFor(dir, infoCorrupted.integrity)), 'the corrupt content is removed too')
  t.is(contentFiles(dir).length, 2)

  t.is(await cache.get('corrupted'), null, 'the corrupt entry is now a miss')
  t.false(cache.has('corrupted'))
  t.false(cache.keys().includes('corrupted'))
  for (const [key, data] of [['small', BODIES.small], ['shared-1', BODIES.shared], ['shared-2', BODIES.shared]]) {
    const read = await readHit(await cache.get(key))
    t.deepEqual([read.sha, read.error], [sha256(data), null], key)
  }
  // Idempotent: nothing left to find.
  t.deepEqual(await cache.verify(), { entries: 3, verified: 3, corrupt: 0, orphansRemoved: 0, bytesReclaimed: 0 })

  // Another process sees the removal too (the entry was tombstoned on disk).
  const peer = await startPeer(dir)
  t.teardown(() => peer.child.kill('SIGKILL'))
  t.is(await peer.call('get', 'corrupted'), null)
  t.is((await peer.call('get', 'small')).sha, sha256(BODIES.small))
  t.deepEqual(await peer.stop(), { code: 0, signal: null })

  // And the cache still works.
  await cache.put('corrupted', { status: 200, body: BODIES.corrupted })
  t.is((await readHit(await cache.get('corrupted'))).sha, sha256(BODIES.corrupted))
})

test('verify counts missing and truncated content as corrupt, including every key sharing it', async (t) => {
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  const truncated = await cache.put('truncated', { status: 200, body: seededBytes('truncate-me', 200 * KiB) })
  const missing = await cache.put('missing-1', { status: 200, body: BODIES.shared })
  await cache.put('missing-2', { status: 200, body: BODIES.shared })
  await cache.put('fine', { status: 200, body: BODIES.small })
  fs.truncateSync(contentFileFor(dir, truncated.integrity), 100 * KiB)
  fs.rmSync(contentFileFor(dir, missing.integrity))

  t.deepEqual(await cache.verify(), { entries: 4, verified: 1, corrupt: 3, orphansRemoved: 0, bytesReclaimed: 0 })
  t.deepEqual(cache.keys(), ['fine'])
  for (const key of ['truncated', 'missing-1', 'missing-2']) t.is(await cache.get(key), null, key)
  t.is((await readHit(await cache.get('fine'))).sha, sha256(BODIES.small))
})

test('CLI `http-streaming-cache verify <dir> --json` prints the report; old garbage goes, recent files stay while another process is alive', async (t) => {
  const dir = tempDir(t)
  // The entries are written by a process that keeps the directory open during the CLI run.
  const peer = await startPeer(dir)
  t.teardown(() => peer.child.kill('SIGKILL'))
  const corrupted = await peer.call('put', 'corrupted', { seed: 'cli-corrupted', size: 90 * KiB })
  await peer.call('put', 'intact', { text: 'intact body' })
  await peer.call('put', 'intact-streamed', { seed: 'cli-streamed', size: 130 * KiB, streamed: true })
  flipByte(contentFileFor(dir, corrupted.integrity), 0)

  const oldStray = writeStrayTemp(dir, 'old-stray', 4321)
  const oldOrphan = writeOrphanContent(dir, seededBytes('old-orphan', 999))
  ageFile(oldStray, 120)
  ageFile(oldOrphan, 120)
  const recentStray = writeStrayTemp(dir, 'recent-stray', 555) // could be a write in progress
  const recentOrphan = writeOrphanContent(dir, seededBytes('recent-orphan', 321)) // could be about to be indexed

  const run = await runCli(['verify', dir, '--json'])
  t.is(run.code, 1, `exit code 1 when corruption was found\n${run.stderr}`)
  const report = JSON.parse(run.stdout)
  t.like(report, { entries: 3, verified: 2, removed: ['corrupted'] })
  t.deepEqual(report.corrupt.map((p) => [p.key, p.problem]), [['corrupted', 'corrupt']])
  t.deepEqual(report.garbage, { temp: { files: 1, bytes: 4321 }, unreferenced: { files: 1, bytes: 999 } })
  t.false(fs.existsSync(oldStray))
  t.false(fs.existsSync(oldOrphan))
  t.true(fs.existsSync(recentStray), 'a recent temp file is left alone while another owner is alive')
  t.true(fs.existsSync(recentOrphan), 'recent content is left alone while another owner is alive')

  // The peer had the corrupt entry in memory: its content is gone, so it is a miss there too.
  t.is(await peer.call('get', 'corrupted'), null)
  t.is((await peer.call('get', 'intact')).sha, sha256('intact body'))

  const again = await runCli(['verify', dir, '--json'])
  t.is(again.code, 0, again.stderr)
  t.like(JSON.parse(again.stdout), { entries: 2, verified: 2, corrupt: [], removed: [] })
  t.deepEqual(JSON.parse(again.stdout).garbage, { temp: { files: 0, bytes: 0 }, unreferenced: { files: 0, bytes: 0 } })

  // Alone (the peer gone), the CLI's own open sweeps what is left: the recent files go.
  t.deepEqual(await peer.stop(), { code: 0, signal: null })
  const alone = await runCli(['verify', dir, '--json'])
  t.is(alone.code, 0, alone.stderr)
  t.like(JSON.parse(alone.stdout), { entries: 2, verified: 2, corrupt: [] })
  t.false(fs.existsSync(recentStray))
  t.false(fs.existsSync(recentOrphan))
  t.deepEqual(tmpFiles(dir), [])

  const usage = await runCli(['frobnicate'])
  t.is(usage.code, 2)
  t.regex(usage.stderr, /usage: http-streaming-cache <command> <dir>/)
})

test('verify while another process is writing: nothing it committed or is writing is removed', async (t) => {
  const dir = tempDir(t)
  const writer = await startPeer(dir)
  t.teardown(() => writer.child.kill('SIGKILL'))
  const cache = new StreamingCache(dir)
  await writer.call('startLoop', 'live-', 192 * KiB)
  await writer.next((m) => m.loopCommitted >= 3)

  const reports = []
  for (let i = 0; i < 12; i++) {
    reports.push(await cache.verify())
    await sleep(25)
  }
  const committed = await writer.call('stopLoop')
  t.log(`verify ran ${reports.length} times while the writer committed ${committed.length} entries`)
  t.true(committed.length >= 5, `writer committed ${committed.length}`)
  for (const r of reports) t.like(r, { corrupt: 0, orphansRemoved: 0, bytesReclaimed: 0 })
  t.true(reports.at(-1).entries >= 3)

  // Every committed entry is intact, in the writer and in a third process.
  const reader = await startPeer(dir)
  t.teardown(() => reader.child.kill('SIGKILL'))
  for (const { key, sha } of committed) {
    t.is((await writer.call('get', key))?.sha, sha, `${key} in the writer`)
    t.is((await reader.call('get', key))?.sha, sha, `${key} in another process`)
  }
  t.deepEqual(await writer.call('problems'), [])
  t.like(await cache.verify(), { entries: committed.length, verified: committed.length, corrupt: 0 })
})
