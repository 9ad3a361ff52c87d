'use strict'
// One system of the fetch scenario in its own process, so no system pays for another's heap
// or garbage: `node fetch-child.js <system> <dir> <origin>`. Over IPC it is asked to
// { prime: url } (fetch until the origin stops seeing the request) and to
// { measure: url, size, seconds, concurrency }, answering with req/s, CPU per request and
// major GCs per 100 requests for that window.
const { PerformanceObserver, constants } = require('node:perf_hooks')
const { Agent, fetch, interceptors } = require('undici')
const { MemoryCacheStore } = require('undici').cacheStores
const { StreamingCache } = require('../..')
const { load } = require('./undici-ours')
const { now } = require('./measure')

const [system, dir, originUrl] = process.argv.slice(2)
const CONCURRENCY = 4

function dispatcherFor (name) {
  const agent = new Agent({ connections: CONCURRENCY })
  const undiciOurs = load().module
  switch (name) {
    case 'cacheInterceptor (ours)':
      return agent.compose(undiciOurs.cacheInterceptor({ cache: new StreamingCache(dir) }))
    case 'cacheInterceptor, memory off':
      return agent.compose(undiciOurs.cacheInterceptor({ cache: new StreamingCache(dir, { memory: 0 }) }))
    case 'StreamingCacheStore':
      return agent.compose(interceptors.cache({ store: new undiciOurs.StreamingCacheStore({ location: dir }) }))
    case 'MemoryCacheStore':
      return agent.compose(interceptors.cache({ store: new MemoryCacheStore() }))
    case 'no cache':
      return agent
    default:
      throw new Error(`unknown system ${name}`)
  }
}

const dispatcher = dispatcherFor(system)

async function fetchLength (url) {
  const res = await fetch(url, { dispatcher })
  if (res.status !== 200) throw new Error(`status ${res.status} for ${url}`)
  let n = 0
  for await (const chunk of res.body) n += chunk.length
  return n
}

async function served () {
  const res = await fetch(`${originUrl}/count`)
  return (await res.json()).served
}

async function prime (url) {
  for (let i = 0; i < 50; i++) {
    const before = await served()
    await fetchLength(url)
    if ((await served()) === before) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

let majorGcs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry.detail?.kind ?? entry.kind) === constants.NODE_PERFORMANCE_GC_MAJOR) majorGcs++
  }
}).observe({ entryTypes: ['gc'] })

async function measure ({ url, size, seconds, concurrency }) {
  const before = await served()
  // Settle what priming or the last window left, so it is not billed to this one.
  await new Promise((resolve) => setTimeout(resolve, 50))
  const gcs0 = majorGcs
  const cpu0 = process.cpuUsage()
  let requests = 0
  const start = now()
  const end = start + seconds
  const worker = async () => {
    while (now() < end) {
      const n = await fetchLength(url)
      if (n !== size) throw new Error(`read ${n} of ${size} bytes`)
      requests++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  const elapsed = now() - start
  const cpu = process.cpuUsage(cpu0)
  // GC entries are delivered asynchronously: let the observer catch up before counting.
  await new Promise((resolve) => setTimeout(resolve, 20))
  return {
    rate: requests / elapsed,
    cpuUsPerRequest: (cpu.user + cpu.system) / requests,
    majorGcsPer100: (majorGcs - gcs0) * 100 / requests,
    misses: (await served()) - before,
  }
}

process.on('message', async (msg) => {
  try {
    if (msg.prime) process.send({ primed: await prime(msg.prime) })
    else if (msg.measure) process.send({ result: await measure({ ...msg, url: msg.measure }) })
    else if (msg.exit) {
      await dispatcher.close()
      process.exit(0)
    }
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) })
  }
})
process.send({ ready: true })
