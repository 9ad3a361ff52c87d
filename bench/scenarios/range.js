'use strict'
// Range requests: random 1 MiB byte ranges of one stored large body (1 GiB; 64 MiB with
// --quick), the same ranges in the same order for every system, 4 in flight:
//   - cacheInterceptor: served from the store (206), verified block by block;
//   - StreamingCacheStore in undici's interceptors.cache, same directory;
//   - pass-through: a plain undici Agent asking a local node:http origin that serves ranges
//     itself (fs.createReadStream of its own copy of the body);
//   - fs.createReadStream({ start, end }) of the very content file the cache holds (no HTTP,
//     no verification: the floor).
// Each system runs in a process of its own (this file, forked with a role), the origin too.
// Reports req/s, the peak RSS of the system's process during the window, and its CPU per
// request (for pass-through, the origin's CPU is not included: it is another process).
//
// Standalone: `node bench/scenarios/range.js [--quick]` prints the figures as JSON.
const fs = require('node:fs')
const path = require('node:path')
const { fork } = require('node:child_process')
const { once } = require('node:events')
const { connectChild } = require('../lib/ipc-child')
const { pipeline } = require('node:stream/promises')
const { patternStream, formatSize, MiB, GiB } = require('../lib/data')
const { tempDir, removeDir, contentPath } = require('../lib/io')

const RANGE = 1 * MiB
const CONCURRENCY = 4
const SYSTEMS = ['cacheInterceptor', 'StreamingCacheStore', 'pass-through to the origin', 'fs.createReadStream({ start, end })']
const RSS = 'peak RSS (MiB)'
const CPU = 'CPU per request (µs)'
const LIMITS = { maxBodySize: 2 * GiB, maxSize: 4 * GiB }

/** `count` ranges [start, end] of RANGE bytes within `size`, from a fixed seed (xorshift32). */
function randomRanges (size, count, seed = 0x9e3779b9) {
  let s = seed >>> 0
  const next = () => {
    s ^= s << 13; s >>>= 0
    s ^= s >>> 17
    s ^= s << 5; s >>>= 0
    return s / 2 ** 32
  }
  const out = []
  for (let i = 0; i < count; i++) {
    const start = Math.floor(next() * (size - RANGE))
    out.push([start, start + RANGE - 1])
  }
  return out
}

// ---- parent: the scenario ----------------------------------------------------------------

function forkRole (...args) {
  return fork(__filename, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
}

async function startChild (system, cacheDir, originUrl) {
  const child = forkRole('child', system, cacheDir, originUrl)
  return connectChild(child, system)
}

async function setup ({ quick }) {
  const size = quick ? 64 * MiB : 1 * GiB
  const count = quick ? 200 : 1000
  const dir = tempDir('range')
  const originFile = path.join(dir, 'origin.bin')
  await pipeline(patternStream(size), fs.createWriteStream(originFile))
  const origin = forkRole('origin', originFile)
  const [{ port }] = await once(origin, 'message')
  const url = `http://127.0.0.1:${port}/file`
  const cacheDir = path.join(dir, 'cache')
  // Stored once, by cacheInterceptor in a process of its own (so no system's RSS carries the
  // 1 GiB download); StreamingCacheStore finds the same entry (one key scheme).
  const primer = forkRole('prime', cacheDir, url)
  const [primed] = await once(primer, 'message')
  if (primed.error) throw new Error(`priming: ${primed.error}`)
  const contentFile = primed.file
  const children = []
  const notes = [`${count} random ${formatSize(RANGE)} ranges of a ${formatSize(size)} body per run, ${CONCURRENCY} in flight; ` +
    'the cache systems must serve every range without an origin request']
  for (const system of SYSTEMS) children.push({ system, child: await startChild(system, cacheDir, url) })
  const ranges = randomRanges(size, count)
  const cases = children.map(({ system, child }) => ({
    group: `${formatSize(RANGE)} ranges of ${formatSize(size)}`,
    system,
    run: async () => {
      const { result } = await child.ask({ measure: { url, file: contentFile, ranges, concurrency: CONCURRENCY } })
      if (system !== 'pass-through to the origin' && result.originRequests !== 0) {
        throw new Error(`${system}: ${result.originRequests} ranges went to the origin`)
      }
      return { value: result.rate, extra: { [RSS]: result.peakRssMiB, [CPU]: result.cpuUsPerRequest } }
    },
  }))
  return {
    cases,
    notes,
    targets: (m) => {
      const g = `${formatSize(RANGE)} ranges of ${formatSize(size)}`
      return [
        { label: `range ${g}: cacheInterceptor / pass-through to the origin`, value: m(g, 'cacheInterceptor'), base: m(g, 'pass-through to the origin'), min: null },
        { label: `range ${g}: cacheInterceptor / fs.createReadStream`, value: m(g, 'cacheInterceptor'), base: m(g, 'fs.createReadStream({ start, end })'), min: null },
      ]
    },
    teardown: async () => {
      for (const { child } of children) child.close()
      primer.kill()
      origin.kill()
      removeDir(dir)
    },
  }
}

module.exports = {
  id: 'range',
  title: 'Random 1 MiB ranges of a large stored body (each system in its own process)',
  unit: 'req/s',
  warmup: 'always',
  runs: ({ quick }) => (quick ? 3 : 5),
  setup,
}

// ---- the origin: serves its copy of the body, with ranges --------------------------------

function runOrigin (file) {
  const http = require('node:http')
  const size = fs.statSync(file).size
  let served = 0
  const server = http.createServer((req, res) => {
    if (req.url === '/count') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served }))
      return
    }
    served++
    const headers = {
      'content-type': 'application/octet-stream',
      'cache-control': 'public, max-age=86400',
      etag: '"range-bench"',
      'accept-ranges': 'bytes',
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (m === null) {
      res.writeHead(200, { ...headers, 'content-length': String(size) })
      fs.createReadStream(file).pipe(res)
      return
    }
    const [start, end] = [Number(m[1]), Math.min(Number(m[2]), size - 1)]
    res.writeHead(206, { ...headers, 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${size}` })
    fs.createReadStream(file, { start, end }).pipe(res)
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
}

// ---- the primer: stores the body through cacheInterceptor, then exits ---------------------

async function runPrimer (cacheDir, url) {
  try {
    const { Agent, request } = require('undici')
    const { StreamingCache } = require('../..')
    const { cacheInterceptor } = require('../../undici')
    const cache = new StreamingCache(cacheDir, LIMITS)
    const agent = new Agent().compose(cacheInterceptor({ cache }))
    const res = await request(url, { dispatcher: agent })
    for await (const chunk of res.body) void chunk
    for (let i = 0; i < 3000 && cache.keys().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    const key = cache.keys()[0]
    if (key === undefined) throw new Error('the body was not stored')
    const file = contentPath(cacheDir, cache.peek(key).integrity)
    await agent.close()
    await cache.close()
    process.send({ file }, () => process.exit(0))
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) }, () => process.exit(1))
  }
}

// ---- a system's process ------------------------------------------------------------------

function runChild (system, cacheDir, originUrl) {
  const { Agent, request, interceptors } = require('undici')
  const { StreamingCache } = require('../..')
  const { cacheInterceptor, StreamingCacheStore } = require('../../undici')
  const agent = new Agent({ connections: CONCURRENCY })
  let dispatcher = agent
  if (system === 'cacheInterceptor') {
    dispatcher = agent.compose(cacheInterceptor({ cache: new StreamingCache(cacheDir, LIMITS) }))
  } else if (system === 'StreamingCacheStore') {
    const store = new StreamingCacheStore({ location: cacheDir, maxEntrySize: 2 * GiB })
    dispatcher = agent.compose(interceptors.cache({ store }))
  }

  const readAll = async (body) => {
    let n = 0
    for await (const chunk of body) n += chunk.length
    return n
  }

  const originCount = async () => {
    const res = await request(new URL('/count', originUrl), { dispatcher: agent })
    return JSON.parse(await res.body.text()).served
  }

  async function one (url, file, [start, end]) {
    const want = end - start + 1
    let n
    if (system === 'fs.createReadStream({ start, end })') {
      n = await readAll(fs.createReadStream(file, { start, end }))
    } else {
      const res = await request(url, { dispatcher, headers: { range: `bytes=${start}-${end}` } })
      if (res.statusCode !== 206) throw new Error(`status ${res.statusCode}`)
      n = await readAll(res.body)
    }
    if (n !== want) throw new Error(`read ${n} of ${want} bytes`)
  }

  async function measure ({ url, file, ranges, concurrency }) {
    const before = await originCount()
    let peak = process.memoryUsage.rss()
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 5)
    let next = 0
    const cpu0 = process.cpuUsage()
    const started = process.hrtime.bigint()
    const worker = async () => {
      while (next < ranges.length) await one(url, file, ranges[next++])
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
    const seconds = Number(process.hrtime.bigint() - started) / 1e9
    const cpu = process.cpuUsage(cpu0)
    clearInterval(sampler)
    peak = Math.max(peak, process.memoryUsage.rss())
    return {
      rate: ranges.length / seconds,
      peakRssMiB: peak / MiB,
      // This process only (the origin's work for pass-through is in its own process).
      cpuUsPerRequest: (cpu.user + cpu.system) / ranges.length,
      originRequests: (await originCount()) - before,
    }
  }

  process.on('message', async (msg) => {
    try {
      if (msg.measure) process.send({ result: await measure(msg.measure) })
    } catch (err) {
      process.send({ error: String(err?.stack ?? err) })
    }
  })
  process.send({ ready: true })
}

if (require.main === module) {
  const [role, ...args] = process.argv.slice(2)
  if (role === 'origin') {
    runOrigin(...args)
  } else if (role === 'prime') {
    runPrimer(...args)
  } else if (role === 'child') {
    runChild(...args)
  } else {
    // Standalone: one scenario run per system, printed as JSON.
    (async () => {
      const quick = process.argv.includes('--quick')
      const state = await setup({ quick })
      try {
        for (const c of state.cases) console.log(JSON.stringify({ system: c.system, ...(await c.run()) }))
      } finally {
        await state.teardown()
      }
    })().catch((err) => {
      console.error(err)
      process.exit(1)
    })
  }
}
