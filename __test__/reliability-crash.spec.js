'use strict'
// Crash safety (issue 6): processes killed with SIGKILL in the middle of a huge put and in
// the middle of eviction cleanup leave a directory the next process opens cleanly.
const test = require('ava')
const fs = require('node:fs')
const { StreamingCache } = require('..')
const {
  spawnFixture, startPeer, tempDir, tmpFiles, contentFiles, ownerFiles, sleep, readHit, MiB,
} = require('./fixtures/reliability-common')
const { evictBody } = require('./fixtures/reliability-crash-bodies')

/** Waits until the single temp file under `dir/tmp` holds at least `bytes`. */
async function tmpFileReaches (dir, bytes, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const sizes = tmpFiles(dir).map((f) => { try { return fs.statSync(f).size } catch { return 0 } })
    if (sizes.some((s) => s >= bytes)) return sizes
    if (Date.now() > deadline) throw new Error(`no temp file reached ${bytes} bytes: ${sizes}`)
    await sleep(20)
  }
}

/** Starts reliability-crash-put.js and kills it (SIGKILL) once `reportAt` MiB are on disk. */
async function killMidPut (t, dir, totalMiB, reportAtMiB) {
  const run = spawnFixture('reliability-crash-put.js', [dir, String(totalMiB), String(reportAtMiB)])
  t.teardown(() => run.child.kill('SIGKILL'))
  const { committed } = await run.next((m) => m.committed)
  await run.next((m) => m.streamed)
  // The streamed bytes really reached the temp file (the sink buffers at most ~1 MiB).
  const sizes = await tmpFileReaches(dir, (reportAtMiB - 2) * MiB)
  run.child.kill('SIGKILL')
  const exit = await run.exited
  t.deepEqual(exit, { code: null, signal: 'SIGKILL' }, run.stderr())
  t.false(run.messages.some((m) => m.finished), 'the put was still running when the process died')
  return { committed, tmpSizes: sizes }
}

async function checkCommitted (t, cache, committed) {
  for (const [key, sha] of Object.entries(committed)) {
    const hit = await cache.get(key)
    t.truthy(hit, `${key} survived the crash`)
    if (!hit) continue
    const read = await readHit(hit)
    t.is(read.error, null, key)
    t.is(read.sha, sha, `${key} reads back intact`)
  }
}

test('SIGKILL in the middle of a 200 MiB put: no entry, tmp/ swept by the next process, committed entries intact', async (t) => {
  const dir = tempDir(t)
  const { committed, tmpSizes } = await killMidPut(t, dir, 200, 50)
  t.log(`killed with ${(Math.max(...tmpSizes) / MiB).toFixed(1)} MiB of the 200 MiB body in tmp/`)
  t.is(tmpFiles(dir).length, 1, 'the dead process left its temp file')
  t.is(ownerFiles(dir).length, 1, 'and its owner lock file')

  const cache = new StreamingCache(dir)
  t.deepEqual(tmpFiles(dir), [], 'opening alone swept tmp/')
  t.is(ownerFiles(dir).length, 1, 'the dead owner lock is gone; only ours is left')
  t.is(await cache.get('huge'), null, 'no entry for the interrupted put')
  t.false(cache.has('huge'))
  t.false(cache.keys().includes('huge'))
  await checkCommitted(t, cache, committed)
  // One content file per distinct committed body (c-dup-a and c-dup-b share one): nothing else.
  t.is(contentFiles(dir).length, new Set(Object.values(committed)).size)
  const report = await cache.verify()
  t.like(report, { entries: 6, verified: 6, corrupt: 0, orphansRemoved: 0 })
})

test('a temp file of a dead process is kept while another process has the directory open, swept once it is alone', async (t) => {
  const dir = tempDir(t)
  const peer = await startPeer(dir)
  t.teardown(() => peer.child.kill('SIGKILL'))
  const { committed } = await killMidPut(t, dir, 40, 8)
  t.is(tmpFiles(dir).length, 1)

  // The peer is alive: a process opening now cannot tell the dead write from the peer's.
  const second = await startPeer(dir)
  t.teardown(() => second.child.kill('SIGKILL'))
  t.is(tmpFiles(dir).length, 1, 'not swept while another owner is alive')
  t.is(await second.call('get', 'huge'), null)
  t.deepEqual(await second.call('verify'), { entries: 6, verified: 6, corrupt: 0, orphansRemoved: 0, bytesReclaimed: 0 },
    'verify with other owners alive leaves recent files alone')
  t.deepEqual(await second.stop(), { code: 0, signal: null })
  t.deepEqual(await peer.stop(), { code: 0, signal: null })

  const cache = new StreamingCache(dir)
  t.deepEqual(tmpFiles(dir), [], 'swept at open once the other owners are gone')
  await checkCommitted(t, cache, committed)
})

test('SIGKILL during eviction cleanup (3 crashes): every entry get returns reads back intact, verify finds no corruption', async (t) => {
  const dir = tempDir(t)
  const ROUNDS = 3
  const written = {} // key -> sha of the body it was put with
  let puts = 0
  for (let round = 0; round < ROUNDS; round++) {
    const run = spawnFixture('reliability-crash-evict.js', [dir, String(round)])
    t.teardown(() => run.child.kill('SIGKILL'))
    const threshold = 50 + 25 * round
    const progress = await run.next((m) => m.puts >= threshold)
    await sleep(5 + round * 13) // a different point in the put/evict/cleanup cycle each round
    run.child.kill('SIGKILL')
    t.deepEqual(await run.exited, { code: null, signal: 'SIGKILL' }, run.stderr())
    const last = Math.max(...run.messages.filter((m) => m.puts !== undefined).map((m) => m.puts))
    t.true(last >= progress.puts)
    // Keys past the last report may have been committed too: include a generous margin.
    for (let n = 0; n <= last + 200; n++) written[`e${round}-${n}`] = evictBody(n).sha
    puts += last
  }
  t.log(`crashes injected: ${ROUNDS}, puts before the crashes: >= ${puts}`)

  const cache = new StreamingCache(dir, { maxEntries: 5 })
  t.deepEqual(tmpFiles(dir), [], 'tmp/ swept at open')
  const report = await cache.verify()
  t.is(report.corrupt, 0, `verify after the crashes: ${JSON.stringify(report)}`)
  t.is(report.entries, report.verified)

  let hits = 0
  const failures = []
  for (const [key, sha] of Object.entries(written)) {
    const hit = await cache.get(key)
    if (hit === null) continue
    hits++
    const read = await readHit(hit)
    if (read.error || read.sha !== sha) failures.push({ key, error: read.error?.code, sha: read.sha })
  }
  t.deepEqual(failures, [], 'no integrity error, no wrong body')
  t.true(hits > 0, 'some entries survived to be read')
  // Once eviction has settled, content on disk is exactly what the remaining entries use.
  await cache.runPendingTasks()
  const final = await cache.verify()
  t.is(final.corrupt, 0)
  const live = new Set(cache.keys().map((key) => cache.peek(key).integrity))
  t.true(live.size > 0)
  t.true(contentFiles(dir).length >= live.size, 'live entries keep their content')
  t.true(contentFiles(dir).length <= final.verified, 'no content without an entry')
})
