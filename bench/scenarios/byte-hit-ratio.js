'use strict'
// Hit ratio and byte-hit ratio under a byte budget (issue 13): a Zipf(0.9) trace with
// one-hit-wonder scans over bodies of heavy-tailed sizes (Pareto, 1 KiB to 50 MiB), with
// maxSize an eighth of the working set. The real StreamingCache (moka TinyLFU weighing each
// body by its size) against lru-cache bounded by bytes (maxSize + sizeCalculation). While ours
// replays the trace, a separate process samples the bytes of content and temp files on disk.
//
// Run by bench/run.js (`npm run bench -- --only byte-ratio`); this file is also the disk
// sampler's child process (`--sample <dir>`).
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { fork } = require('node:child_process')
const { LRUCache } = require('lru-cache')
const { StreamingCache } = require('../..')
const { zipfWithScan } = require('../lib/trace')
const { tempDir, removeDir, ramDir } = require('../lib/io')

const KiB = 1024
const MiB = 1024 * KiB
const TRACE = { requests: 40_000, keys: 4_000, s: 0.9, scanShare: 0.2, burst: 100 }
const QUICK_TRACE = { ...TRACE, requests: 10_000, keys: 1_000 }
const SIZES = { min: 1 * KiB, max: 50 * MiB, alpha: 1.1 }
/** maxSize as a share of the working set (distinct bytes the trace asks for). */
const BUDGET_SHARE = 1 / 8
const PENDING_EVERY = 1000
const OURS = 'http-streaming-cache (TinyLFU, by size)'
const LRU = 'lru-cache (LRU, maxSize)'

/** Body size of `key`: Pareto(alpha) from `min`, cut at `max`, drawn from the key's hash. */
function sizeOf (key) {
  const u = crypto.createHash('sha256').update(key).digest().readUInt32BE(0) / 2 ** 32
  return Math.min(SIZES.max, Math.round(SIZES.min / (1 - u) ** (1 / SIZES.alpha)))
}

let pattern = null
/** A body of `size` bytes unique to `key` (its hash first), so no two keys share content. */
function bodyOf (key, size) {
  pattern ??= crypto.randomBytes(1 * MiB)
  const body = Buffer.allocUnsafe(size)
  for (let at = 0; at < size; at += pattern.length) pattern.copy(body, at, 0, Math.min(pattern.length, size - at))
  crypto.createHash('sha256').update(key).digest().copy(body, 0, 0, Math.min(32, size))
  return body
}

/** A child process that sums the bytes under content-v2/ and tmp/ as often as it can. */
function startSampler (dir) {
  const child = fork(__filename, ['--sample', dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return {
    stop: () => new Promise((resolve) => {
      child.once('message', resolve)
      child.send('stop')
    }),
  }
}

function sampleForever (dir) {
  let peak = 0
  let samples = 0
  let stopping = false
  process.on('message', () => { stopping = true })
  const sum = (root) => {
    let total = 0
    let listing
    try { listing = fs.readdirSync(root, { withFileTypes: true }) } catch { return 0 }
    for (const item of listing) {
      const full = path.join(root, item.name)
      if (item.isDirectory()) total += sum(full)
      else try { total += fs.statSync(full).size } catch {}
    }
    return total
  }
  const tick = () => {
    peak = Math.max(peak, sum(path.join(dir, 'content-v2')) + sum(path.join(dir, 'tmp')))
    samples++
    if (stopping) process.send({ peak, samples }, () => process.exit(0))
    else setTimeout(tick, 1)
  }
  tick()
}

async function ours (trace, sizes, maxSize, dir, disk) {
  const cache = new StreamingCache(dir, { maxSize, maxEntries: 1_000_000, maxBodySize: SIZES.max })
  const sampler = startSampler(dir)
  let hits = 0
  let hitBytes = 0
  let largest = 0
  for (let i = 0; i < trace.length; i++) {
    const key = trace[i]
    const hit = cache.getSync(key)
    if (hit !== null) {
      hits++
      hitBytes += hit.size
      hit.body.destroy()
    } else if (sizes.get(key) <= maxSize) {
      const size = sizes.get(key)
      largest = Math.max(largest, size)
      await cache.put(key, { status: 200, body: bodyOf(key, size) })
    }
    if ((i + 1) % PENDING_EVERY === 0) await cache.runPendingTasks()
  }
  await cache.runPendingTasks()
  const { peak, samples } = await sampler.stop()
  disk.push({ peak, samples, bound: maxSize + largest, maxSize, largestPut: largest, stats: cache.stats() })
  await cache.close()
  removeDir(dir)
  return { hits, hitBytes }
}

function lru (trace, sizes, maxSize) {
  const cache = new LRUCache({ maxSize, sizeCalculation: (size) => size })
  let hits = 0
  let hitBytes = 0
  for (const key of trace) {
    const size = cache.get(key)
    if (size !== undefined) {
      hits++
      hitBytes += size
    } else if (sizes.get(key) <= maxSize) {
      cache.set(key, sizes.get(key))
    }
  }
  return { hits, hitBytes }
}

function plan (quick) {
  const shape = quick ? QUICK_TRACE : TRACE
  const trace = zipfWithScan(shape)
  const sizes = new Map()
  for (const key of trace) if (!sizes.has(key)) sizes.set(key, sizeOf(key))
  const requestedBytes = trace.reduce((n, key) => n + sizes.get(key), 0)
  let workingSet = 0
  for (const [key, size] of sizes) if (!key.includes('/scan/')) workingSet += size
  const maxSize = Math.round(workingSet * BUDGET_SHARE)
  return { shape, trace, sizes, requestedBytes, workingSet, maxSize }
}

module.exports = {
  id: 'byte-ratio',
  title: `Hit and byte-hit ratio under maxSize, Zipf(${TRACE.s}) + scans, sizes Pareto(${SIZES.alpha}) 1 KiB-50 MiB, maxSize = working set / ${1 / BUDGET_SHARE}`,
  warmup: false,
  unit: '%',
  runs: ({ quick, runs }) => (quick ? 1 : Math.min(runs, 2)),
  describe: { ...TRACE, sizes: SIZES, budgetShare: BUDGET_SHARE, runPendingTasksEvery: PENDING_EVERY },

  async setup ({ quick } = {}) {
    const p = plan(quick)
    const root = tempDir('byte-ratio', ramDir())
    const disk = []
    let n = 0
    // Each system replays the trace once per round; both rows of a round read its result.
    const memo = new Map()
    const once = (system, run) => async (metric) => {
      const round = `${system}:${n}`
      if (!memo.has(round)) memo.set(round, await run())
      const { hits, hitBytes } = memo.get(round)
      if (metric === 'bytes' && system === LRU) n++ // LRU runs last in a round
      return metric === 'hits' ? (100 * hits) / p.trace.length : (100 * hitBytes) / p.requestedBytes
    }
    const runOurs = once(OURS, () => ours(p.trace, p.sizes, p.maxSize, path.join(root, `run-${n}`), disk))
    const runLru = once(LRU, async () => lru(p.trace, p.sizes, p.maxSize))
    const hitGroup = `hit % (${p.trace.length / 1000}k req)`
    const byteGroup = `byte-hit % (${p.trace.length / 1000}k req)`
    return {
      cases: [
        { group: hitGroup, system: OURS, run: () => runOurs('hits') },
        { group: hitGroup, system: LRU, run: () => runLru('hits') },
        { group: byteGroup, system: OURS, run: () => runOurs('bytes') },
        { group: byteGroup, system: LRU, run: () => runLru('bytes') },
      ],
      details: disk,
      // A getter: the disk samples exist only once the runs are done.
      get notes () {
        return [
          `working set ${(p.workingSet / MiB).toFixed(1)} MiB over ${p.shape.keys} keys; maxSize ${(p.maxSize / MiB).toFixed(2)} MiB; ${(p.requestedBytes / MiB).toFixed(0)} MiB requested`,
          ...disk.map((d) => `disk (content + tmp, sampled by another process) peak ${(d.peak / MiB).toFixed(2)} MiB over ${d.samples} samples = ${(d.peak / d.maxSize).toFixed(2)} x maxSize; maxSize + largest put ${(d.bound / MiB).toFixed(2)} MiB; evictions ${JSON.stringify(d.stats.evictions)}`),
        ]
      },
      targets: (m) => [
        { label: 'hit ratio under maxSize: ours - lru-cache (points)', value: m(hitGroup, OURS), base: m(hitGroup, LRU), difference: true, min: 5 },
        { label: 'byte-hit ratio under maxSize: ours - lru-cache (points)', value: m(byteGroup, OURS), base: m(byteGroup, LRU), difference: true, min: 5 },
        ...disk.map((d) => ({ label: 'disk peak / (maxSize + largest put)', value: d.peak / d.bound, atMost: 1 })),
      ],
      teardown: () => removeDir(root),
    }
  },
}

if (require.main === module && process.argv[2] === '--sample') sampleForever(process.argv[3])
