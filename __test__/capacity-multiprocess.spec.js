'use strict'
// Several processes writing to one directory at once share one byte budget (maxSize): the
// content and temp files on disk, sampled while they write, never exceed maxSize plus the
// bodies being written at that moment (one per process), and the shared usage record ends
// equal to what is on disk.
const fs = require('node:fs')
const path = require('node:path')
const test = require('ava')
const { StreamingCache, KiB, MiB, runFixture, tempDir, walkFiles } = require('./helpers/util')

const WORKERS = 4
const PUTS = 120
const MAX_SIZE = 2 * MiB
/** Largest body a worker writes (see fixtures/capacity-writer.js). */
const MAX_BODY = 96 * KiB + 1000

function bytesUnder (dir) {
  let total = 0
  for (const file of walkFiles(dir)) {
    try {
      total += fs.statSync(file).size
    } catch (err) {
      if (err.code !== 'ENOENT') throw err // removed between listing and stat
    }
  }
  return total
}

const diskUsage = (dir) => bytesUnder(path.join(dir, 'content-v2')) + bytesUnder(path.join(dir, 'tmp'))
const recorded = (dir) => Number(fs.readFileSync(path.join(dir, 'usage-v1'), 'utf8').trim())

test(`${WORKERS} processes writing at once stay within maxSize plus the bodies in flight`, async (t) => {
  t.timeout(180_000)
  const dir = await tempDir(t)
  const startAt = Date.now() + 1500
  const runs = Array.from({ length: WORKERS }, (_, i) =>
    runFixture('capacity-writer.js', [dir, String(i), String(MAX_SIZE), String(PUTS), String(startAt)]))

  const samples = []
  let done = false
  const sampling = (async () => {
    while (!done) {
      samples.push(diskUsage(dir))
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  })()
  const exits = await Promise.all(runs)
  done = true
  await sampling

  const reports = exits.map((exit, i) => {
    t.is(exit.code, 0, `worker ${i} exited cleanly\n${exit.stderr}`)
    return exit.messages.find((m) => m.report)?.report
  })
  for (const report of reports) {
    t.truthy(report)
    t.deepEqual(report.errors, [], `worker ${report.workerId}: every put resolved`)
    t.deepEqual(report.corrupt, [], `worker ${report.workerId}: every read was whole`)
  }
  const written = reports.reduce((n, r) => n + r.stats.bytesWritten, 0)
  t.true(written > 4 * MAX_SIZE, `the workers wrote ${written} bytes: far more than the budget`)

  const peak = Math.max(...samples)
  const bound = MAX_SIZE + WORKERS * MAX_BODY
  t.log(`${samples.length} samples, peak ${(peak / MiB).toFixed(2)} MiB, bound ${(bound / MiB).toFixed(2)} MiB, written ${(written / MiB).toFixed(1)} MiB`)
  t.true(peak <= bound, `disk usage peaked at ${peak} bytes; maxSize + in-flight is ${bound}`)

  // Everyone is gone: what is on disk fits the budget and the record says exactly that.
  const content = bytesUnder(path.join(dir, 'content-v2'))
  t.true(content <= MAX_SIZE, `${content} bytes of content left, maxSize ${MAX_SIZE}`)
  t.is(recorded(dir), content)

  // A new process sees the same budget, and everything it finds reads back whole.
  const cache = new StreamingCache(dir, { maxSize: MAX_SIZE })
  t.teardown(() => cache.close())
  t.is(cache.stats().bytes, content)
})
