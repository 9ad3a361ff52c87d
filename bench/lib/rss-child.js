'use strict'
// Child process for the memory scenario: `node --expose-gc rss-child.js <system> <put|get|write> <bytes> <dir>`.
// Loads everything, settles, takes the idle RSS, resets the kernel's peak-RSS mark, runs one
// put or get of a streamed body, and prints { idle, peak, aboveIdle, seconds } as JSON.
// `get` reads the body as a stream to the end; `write` gets it into a counting Writable that
// calls back at once (ours: `body.writeTo`; fs: `pipeline(fs.createReadStream, writable)`).
// The body is generated as views of one 1 MiB pattern: no run ever holds the whole body in a
// Buffer (except MemoryCacheStore, which keeps bodies in memory by design).
const fs = require('node:fs')
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const { patternStream, patternBuffer } = require('./data')
const { drain, countingWritable } = require('./io')
const { bodyLength } = require('./body')

const [system, op, sizeArg, dir] = process.argv.slice(2)
const size = Number(sizeArg)
const KEY = 'big-body'
const HWM = 64 * 1024

const procStatus = fs.existsSync('/proc/self/status')

function rss () {
  if (!procStatus) return process.memoryUsage.rss()
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))
  return Number(m[1]) * 1024
}

/** Starts peak tracking from now; the returned function gives the peak RSS since then. */
function trackPeak () {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5') // resets VmHWM to the current RSS
    return () => Number(/VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024
  } catch {
    // No /proc (macOS, Windows): sample instead.
    let peak = rss()
    const timer = setInterval(() => { peak = Math.max(peak, rss()) }, 2)
    return () => { clearInterval(timer); return Math.max(peak, rss()) }
  }
}

async function settle () {
  for (let i = 0; i < 3; i++) {
    global.gc?.()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

function memoryStore () {
  const { MemoryCacheStore } = require('undici').cacheStores
  const store = new MemoryCacheStore({ maxSize: 4 * size, maxEntrySize: 2 * size + 1, maxCount: 10 })
  const key = { origin: 'http://bench.local', method: 'GET', path: '/big', headers: {} }
  const now = Date.now()
  const value = {
    statusCode: 200, statusMessage: 'OK', headers: {}, cachedAt: now, staleAt: now + 3600e3, deleteAt: now + 7200e3,
  }
  return {
    put: () => pipeline(patternStream(size, { copy: true }), store.createWriteStream(key, value)),
    get: async () => bodyLength(store.get(key).body),
  }
}

/** { prepare, run } for each system and operation; prepare is outside the measurement. */
function plan () {
  switch (system) {
    case 'http-streaming-cache': {
      const { StreamingCache } = require('../..')
      const cache = new StreamingCache(dir, { maxBodySize: 2 * size })
      if (op === 'put') return { run: () => cache.put(KEY, { status: 200, body: patternStream(size) }) }
      if (op === 'write') return { run: async () => (await cache.get(KEY)).body.writeTo(countingWritable()) }
      return { run: async () => drain((await cache.get(KEY)).body) }
    }
    case 'fs': {
      const file = path.join(dir, KEY)
      if (op === 'put') return { run: () => pipeline(patternStream(size), fs.createWriteStream(file, { highWaterMark: HWM })) }
      if (op === 'write') {
        return {
          run: async () => {
            const writable = countingWritable()
            await pipeline(fs.createReadStream(file, { highWaterMark: HWM }), writable)
            return writable.bytes
          },
        }
      }
      return { run: () => drain(fs.createReadStream(file, { highWaterMark: HWM })) }
    }
    case 'cacache': {
      const cacache = require('cacache')
      return op === 'put'
        ? { run: () => pipeline(patternStream(size), cacache.put.stream(dir, KEY)) }
        : { run: () => drain(cacache.get.stream(dir, KEY)) }
    }
    case 'MemoryCacheStore': {
      // A memory store cannot be filled by another process: the get child stores the body
      // first, and its peak counts the body it holds (measured from idle before the put).
      const store = memoryStore()
      return op === 'put' ? { run: store.put } : { prepare: store.put, run: store.get }
    }
    default:
      throw new Error(`unknown system ${system}`)
  }
}

async function main () {
  fs.mkdirSync(dir, { recursive: true })
  patternBuffer()
  const { prepare, run } = plan()
  await settle()
  const idle = rss()
  const peakOf = trackPeak()
  if (prepare) await prepare()
  const start = process.hrtime.bigint()
  const result = await run()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const peak = peakOf()
  if (op !== 'put' && result !== size) throw new Error(`read ${result} of ${size} bytes`)
  process.stdout.write(JSON.stringify({ system, op, size, idle, peak, aboveIdle: peak - idle, seconds }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`${err.stack}\n`)
  process.exit(1)
})
