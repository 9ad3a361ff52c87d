'use strict'
// Hit ratio with 1 000 entries of room on a Zipf(0.9) trace with a one-hit-wonder scan: the
// real StreamingCache (moka's TinyLFU admission and eviction) against lru-cache (pure LRU).
// A request is a get; a miss stores the key with a tiny body.
const path = require('node:path')
const { LRUCache } = require('lru-cache')
const { StreamingCache } = require('../..')
const { zipfWithScan } = require('../lib/trace')
const { tempDir, removeDir, ramDir } = require('../lib/io')

const CAPACITY = 1000
const PENDING_EVERY = 1000
const TRACE = { requests: 100_000, keys: 10_000, s: 0.9, scanShare: 0.2, burst: 100 }
const TINY = Buffer.from('tiny body')

/**
 * Replays `trace` against a real StreamingCache: a hit is a get whose body is then dropped, a
 * miss stores the key. Every PENDING_EVERY requests moka applies its pending policy work.
 */
async function ours (trace, dir) {
  const cache = new StreamingCache(dir, { maxEntries: CAPACITY })
  let hits = 0
  for (let i = 0; i < trace.length; i++) {
    const hit = cache.getSync(trace[i])
    if (hit !== null) {
      hits++
      hit.body.destroy()
    } else {
      await cache.put(trace[i], { status: 200, body: TINY })
    }
    if ((i + 1) % PENDING_EVERY === 0) await cache.runPendingTasks()
  }
  await cache.runPendingTasks()
  return (100 * hits) / trace.length
}

function lru (trace) {
  const cache = new LRUCache({ max: CAPACITY })
  let hits = 0
  for (const key of trace) {
    if (cache.get(key) !== undefined) hits++
    else cache.set(key, TINY)
  }
  return (100 * hits) / trace.length
}

module.exports = {
  id: 'ratio',
  title: `Hit ratio, Zipf(${TRACE.s}) + scan, ${TRACE.requests / 1000}k requests, ${TRACE.keys / 1000}k keys, capacity ${CAPACITY}`,
  warmup: false,
  unit: 'hit %',
  // Every repetition replays the whole trace; the quick run does it once.
  runs: ({ quick, runs }) => (quick ? 1 : Math.min(runs, 3)),
  describe: { ...TRACE, capacity: CAPACITY, runPendingTasksEvery: PENDING_EVERY },

  async setup () {
    // What is measured is the policy, not the disk: a RAM-backed directory when there is one
    // keeps the ~55k tiny puts quick (file creation on a busy ext4 can cost a millisecond).
    const dir = tempDir('ratio', ramDir())
    const trace = zipfWithScan(TRACE)
    let n = 0
    const group = `${TRACE.requests / 1000}k req`
    return {
      cases: [
        { group, system: 'http-streaming-cache (TinyLFU)', run: () => ours(trace, path.join(dir, `run-${n++}`)) },
        { group, system: 'lru-cache (LRU)', run: async () => lru(trace) },
      ],
      targets: (m) => [{
        label: 'hit ratio: http-streaming-cache - lru-cache (points)',
        value: m(group, 'http-streaming-cache (TinyLFU)'),
        base: m(group, 'lru-cache (LRU)'),
        difference: true,
        min: 5,
      }],
      teardown: () => removeDir(dir),
    }
  },
}
