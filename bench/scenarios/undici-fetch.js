'use strict'
// undici fetch of a cached response from a local node:http origin (its own process, on
// 127.0.0.1). Every system runs in a process of its own (lib/fetch-child.js), so none shares a
// heap or garbage with another: our cacheInterceptor (RAM tier on, and off), our
// StreamingCacheStore in undici's cache interceptor, undici's MemoryCacheStore, and no cache
// (every request goes to the origin). Each sample is a window of at least 1 s with 4 requests
// in flight; beside req/s it reports CPU per request and major GCs per 100 requests.
const path = require('node:path')
const { fork } = require('node:child_process')
const { once } = require('node:events')
const { connectChild } = require('../lib/ipc-child')
const { formatSize, KiB, MiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { load } = require('../lib/undici-ours')

const SIZES = [1 * KiB, 1 * MiB]
const CONCURRENCY = 4
const SYSTEMS = [
  { system: 'cacheInterceptor (ours)', needs: 'cacheInterceptor', cached: true },
  { system: 'cacheInterceptor, memory off', needs: 'cacheInterceptor', cached: true },
  { system: 'StreamingCacheStore', needs: 'StreamingCacheStore', cached: true },
  { system: 'MemoryCacheStore', cached: true },
  { system: 'no cache', cached: false },
]
const CPU = 'CPU per request (µs)'
const GC = 'major GCs per 100 requests (n)'

async function startOrigin () {
  const child = fork(path.join(__dirname, '../lib/origin.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [msg] = await once(child, 'message')
  return { url: `http://127.0.0.1:${msg.port}`, close: () => child.kill() }
}

/** A system's child: `ask(msg)` resolves with its answer. */
async function startChild (system, dir, origin) {
  const child = fork(path.join(__dirname, '../lib/fetch-child.js'), [system, dir, origin], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return connectChild(child, system)
}

module.exports = {
  id: 'fetch',
  title: 'undici fetch, cached response (each system in its own process)',
  unit: 'req/s',

  async setup ({ quick }) {
    const seconds = quick ? 1 : 1.5
    const dir = tempDir('fetch')
    const origin = await startOrigin()
    const exports = load().module ?? {}
    const children = []
    const notes = []
    const cases = []
    for (const [i, s] of SYSTEMS.entries()) {
      const na = s.needs && typeof exports[s.needs] !== 'function' ? `no ${s.needs} export` : null
      const child = na ? null : await startChild(s.system, path.join(dir, String(i)), origin.url)
      if (child) children.push(child)
      for (const size of SIZES) {
        const group = formatSize(size)
        const url = `${origin.url}/bytes/${size}`
        let caseNa = na
        if (!caseNa && s.cached && !(await child.ask({ prime: url })).primed) caseNa = 'response never served from cache'
        if (caseNa) notes.push(`${s.system}, ${group}: ${caseNa}`)
        cases.push({
          group,
          system: s.system,
          na: caseNa,
          run: async () => {
            const { result } = await child.ask({ measure: url, size, seconds, concurrency: CONCURRENCY })
            if (s.cached && result.misses > 0) notes.push(`${s.system}, ${group}: ${result.misses} requests reached the origin while measuring`)
            return { value: result.rate, extra: { [CPU]: result.cpuUsPerRequest, [GC]: result.majorGcsPer100 } }
          },
        })
      }
    }
    const ratioTo = (m, system, size, min) => ({
      label: `fetch ${formatSize(size)}: ${system} / MemoryCacheStore`,
      value: m(formatSize(size), system),
      base: m(formatSize(size), 'MemoryCacheStore'),
      min,
    })
    return {
      cases,
      notes,
      targets: (m) => [
        ratioTo(m, 'cacheInterceptor (ours)', MiB, 0.9),
        ratioTo(m, 'cacheInterceptor, memory off', MiB, 0.5),
        ratioTo(m, 'StreamingCacheStore', MiB, 0.9),
        ratioTo(m, 'cacheInterceptor (ours)', KiB, 0.95),
        ratioTo(m, 'cacheInterceptor, memory off', KiB, null),
        ratioTo(m, 'StreamingCacheStore', KiB, 0.95),
        // CPU per request is steadier than req/s on a loaded machine (lower is better here).
        ...['cacheInterceptor (ours)', 'cacheInterceptor, memory off', 'StreamingCacheStore'].flatMap((system) => SIZES.map((size) => ({
          label: `CPU per cached ${formatSize(size)} fetch: ${system} / MemoryCacheStore (lower is better)`,
          value: m(`${formatSize(size)}, CPU per request`, system),
          base: m(`${formatSize(size)}, CPU per request`, 'MemoryCacheStore'),
          min: null,
        }))),
        ...['cacheInterceptor (ours)', 'cacheInterceptor, memory off', 'StreamingCacheStore', 'MemoryCacheStore'].map((system) => ({
          label: `major GCs per 100 cached 1 MiB fetches: ${system}`,
          value: m(`${formatSize(MiB)}, major GCs per 100 requests`, system),
          atMost: system === 'cacheInterceptor (ours)' || system === 'StreamingCacheStore' ? 0.5 : null,
        })),
      ],
      teardown: async () => {
        for (const c of children) c.close()
        origin.close()
        removeDir(dir)
      },
    }
  },
}
