'use strict'
// Several processes on one cache directory (issue 6): random put/get/delete from 4 children
// with concurrent eviction, and visibility of one process's writes to another.
// STRESS_SECONDS (default 5) sets how long the children run.
const test = require('ava')
const { spawnFixture, startPeer, stressBodySet, tempDir, seededBytes, sha256, tmpFiles } = require('./fixtures/reliability-common')

const STRESS_SECONDS = Number(process.env.STRESS_SECONDS ?? 5)
const WORKERS = 4
const MAX_ENTRIES = 20
const KEYS = 40

test(`${WORKERS} processes doing random put/get/delete on shared keys for ${STRESS_SECONDS}s: no corrupt read, crash or unhandled rejection`, async (t) => {
  t.timeout((STRESS_SECONDS + 60) * 1000)
  const dir = tempDir(t)
  const runs = Array.from({ length: WORKERS }, (_, i) =>
    spawnFixture('reliability-stress-worker.js', [dir, String(i), String(STRESS_SECONDS), String(MAX_ENTRIES), String(KEYS)],
      { timeout: (STRESS_SECONDS + 50) * 1000 }))
  const exits = await Promise.all(runs.map((r) => r.exited))

  const reports = []
  exits.forEach((exit, i) => {
    t.deepEqual(exit, { code: 0, signal: null }, `worker ${i} exited cleanly\n${runs[i].stderr()}`)
    const report = runs[i].messages.find((m) => m.report)?.report
    t.truthy(report, `worker ${i} sent its report`)
    if (report) reports.push(report)
  })

  // The union of what every process wrote under each key: every whole read must be one of them.
  const writtenAnywhere = {}
  for (const r of reports) {
    for (const [key, indexes] of Object.entries(r.written)) {
      for (const i of indexes) (writtenAnywhere[key] ??= new Set()).add(i)
    }
  }
  const foreignReads = []
  for (const r of reports) {
    for (const [key, indexes] of Object.entries(r.read)) {
      for (const i of indexes) {
        if (!writtenAnywhere[key]?.has(i)) foreignReads.push({ worker: r.workerId, key, body: i })
      }
    }
  }

  const total = {}
  for (const r of reports) for (const [op, n] of Object.entries(r.counts)) total[op] = (total[op] ?? 0) + n
  const ops = total.put + total.get + total.getSync + total.delete + total.refresh + total.has + total.peek
  const corrupt = reports.flatMap((r) => r.corrupt)
  const errors = reports.flatMap((r) => r.errors)
  const problems = reports.flatMap((r) => r.problems)
  t.log(`processes: ${WORKERS}, seconds: ${STRESS_SECONDS}, ops: ${ops} ${JSON.stringify(total)}`)
  t.log(`corrupt reads: ${corrupt.length}, reads of bodies never written under their key: ${foreignReads.length}, failed ops: ${errors.length}, unhandled: ${problems.length}`)

  t.deepEqual(corrupt, [], 'every hit read back one whole body')
  t.deepEqual(foreignReads, [], 'every hit is a body some process wrote under that key')
  t.deepEqual(errors, [], 'no operation failed')
  t.deepEqual(problems, [], 'no unhandled rejection or uncaught exception in any child')
  // The run did what it claims: plenty of traffic, both hits and misses, streamed puts, deletes.
  t.true(total.put > 20 * WORKERS, `puts: ${total.put}`)
  t.true(total.hit > 20 * WORKERS, `hits: ${total.hit}`)
  t.true(total.miss > 0, `misses: ${total.miss}`)
  t.true(total.putStreamed > 0 && total.delete > 0)

  // Afterwards, alone with the directory: every indexed entry either reads back whole (a body
  // written under its key) or is a miss — its content removed by another process's delete or
  // eviction of a key sharing it (per-process reference counts; see the report). Then verify
  // finds no corrupt content: a miss dropped the entry, whatever is left is intact.
  const { StreamingCache } = require('..')
  const cache = new StreamingCache(dir, { maxEntries: 10_000 })
  t.deepEqual(tmpFiles(dir), [], 'no temp file left behind')
  const bodies = stressBodySet()
  let intact = 0
  let dangling = 0
  for (const key of cache.keys()) {
    const hit = await cache.get(key)
    if (hit === null) {
      dangling++
      continue
    }
    const data = Buffer.concat(await hit.body.toArray())
    const index = bodies.findIndex((b) => b.sha === sha256(data))
    t.true(writtenAnywhere[key]?.has(index), `${key} holds a body written under it`)
    intact++
  }
  const report = await cache.verify()
  t.log(`left on disk: ${intact} intact entries, ${dangling} whose content another process removed; verify: ${JSON.stringify(report)}`)
  t.like(report, { entries: intact, verified: intact, corrupt: 0 })
})

test('an entry put by process A is visible to process B on its next get, without refresh', async (t) => {
  const dir = tempDir(t)
  const a = await startPeer(dir)
  const b = await startPeer(dir)
  t.teardown(() => { a.child.kill('SIGKILL'); b.child.kill('SIGKILL') })

  // B looks before A writes: a miss (which must not be remembered as a miss).
  t.is(await b.call('get', 'looked-before'), null)

  const big = { seed: 'visible-big', size: 200 * 1024 }
  const putBig = await a.call('put', 'never-seen', big)
  const putSmall = await a.call('put', 'looked-before', { text: 'small body from A' })

  // B never saw 'never-seen' at all: found through the disk index.
  t.false(await b.call('has', 'never-seen'), 'B does not know the key before looking it up')
  const got = await b.call('get', 'never-seen')
  t.truthy(got, 'B finds the entry A committed')
  t.is(got.sha, sha256(seededBytes(big.seed, big.size)))
  t.is(got.integrity, putBig.integrity)
  t.is(got.length, big.size)
  t.is(got.error, null)
  t.true(await b.call('has', 'never-seen'), 'and knows it from then on')

  const again = await b.call('get', 'looked-before')
  t.truthy(again, 'a key B missed earlier is found once A stored it')
  t.is(again.sha, putSmall.sha)

  // A replaces and deletes: B sees both after refresh().
  const replaced = await a.call('put', 'never-seen', { text: 'replacement from A', streamed: true })
  t.true(await a.call('delete', 'looked-before'))
  await b.call('refresh')
  t.is((await b.call('get', 'never-seen')).sha, replaced.sha, 'refresh picks up the replacement')
  t.is(await b.call('get', 'looked-before'), null, 'refresh picks up the delete')
  t.false((await b.call('keys')).includes('looked-before'))

  // And the other way round, B -> A.
  const fromB = await b.call('put', 'from-b', { seed: 'from-b', size: 70 * 1024, streamed: true })
  t.is((await a.call('get', 'from-b')).sha, fromB.sha)

  t.deepEqual(await a.call('problems'), [])
  t.deepEqual(await b.call('problems'), [])
  t.deepEqual(await a.stop(), { code: 0, signal: null })
  t.deepEqual(await b.stop(), { code: 0, signal: null })
})

test('content removed by another process turns a hit into a miss, never an error; a body already open keeps reading', async (t) => {
  const dir = tempDir(t)
  const a = await startPeer(dir)
  const b = await startPeer(dir)
  t.teardown(() => { a.child.kill('SIGKILL'); b.child.kill('SIGKILL') })
  const shared = { seed: 'shared-across-processes', size: 300 * 1024 }
  const want = sha256(seededBytes(shared.seed, shared.size))

  // Same body under a key in each process: one content file.
  await a.call('put', 'in-a', shared)
  await b.call('put', 'in-b', shared)
  await b.call('put', 'in-b-2', shared)
  t.true(await b.call('hold', 'in-b'), 'B opens the body before the content goes')

  // A knows only its own reference, so deleting its key removes the shared file.
  t.true(await a.call('delete', 'in-a'))

  const held = await b.call('readHeld', 'in-b')
  t.deepEqual(held, { sha: want, length: shared.size, error: null }, 'the open fd still reads the old inode in full')
  // A lookup after the removal is a clean miss (and drops the useless entry), not an error.
  const after = await b.call('get', 'in-b-2')
  t.true(after === null || (after.sha === want && after.error === null), JSON.stringify(after))
  if (after === null) t.is(await b.call('get', 'in-b-2'), null, 'the dropped entry stays a miss')
  // B keeps working: a new put of the same body is stored and read back.
  await b.call('put', 'in-b', shared)
  t.is((await b.call('get', 'in-b')).sha, want)
  t.is((await a.call('get', 'in-b')).sha, want, 'and A sees it')
  t.is((await b.call('verify')).corrupt, 0)
  t.deepEqual(await a.call('problems'), [])
  t.deepEqual(await b.call('problems'), [])
})
