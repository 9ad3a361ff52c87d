'use strict'
// undici fetch of a cached response from a local node:http origin (its own process, on
// 127.0.0.1): our cacheInterceptor, our StreamingCacheStore in undici's cache interceptor,
// undici's MemoryCacheStore, and no cache at all (every request goes to the origin).
const path = require('node:path')
const { fork } = require('node:child_process')
const { once } = require('node:events')
const { Agent, fetch, interceptors } = require('undici')
const { MemoryCacheStore } = require('undici').cacheStores
const { formatSize, KiB, MiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { concurrentOpsPerSecond } = require('../lib/measure')
const { makeStore, makeInterceptor } = require('../lib/undici-ours')

const SIZES = [1 * KiB, 1 * MiB]
const CONCURRENCY = 4

async function startOrigin () {
  const child = fork(path.join(__dirname, '../lib/origin.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [msg] = await once(child, 'message')
  const served = async () => {
    child.send({ type: 'count' })
    const [reply] = await once(child, 'message')
    return reply.served
  }
  return { url: `http://127.0.0.1:${msg.port}`, served, close: () => child.kill() }
}

async function fetchLength (url, dispatcher) {
  const res = await fetch(url, { dispatcher })
  if (res.status !== 200) throw new Error(`status ${res.status} for ${url}`)
  let n = 0
  for await (const chunk of res.body) n += chunk.length
  return n
}

/** Fetches until the origin stops seeing requests (the response is cached), or gives up. */
async function prime (url, dispatcher, origin) {
  for (let i = 0; i < 50; i++) {
    const before = await origin.served()
    await fetchLength(url, dispatcher)
    if ((await origin.served()) === before) return true
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return false
}

module.exports = {
  id: 'fetch',
  title: 'undici fetch, cached response',
  unit: 'req/s',

  async setup ({ quick }) {
    const seconds = quick ? 0.15 : 0.75
    const dir = tempDir('fetch')
    const origin = await startOrigin()
    const agents = []
    const agent = () => { const a = new Agent({ connections: CONCURRENCY }); agents.push(a); return a }

    const systems = []
    const ours = makeInterceptor(path.join(dir, 'interceptor'))
    systems.push({ system: 'cacheInterceptor (ours)', dispatcher: ours.interceptor && agent().compose(ours.interceptor), na: ours.reason, cached: true })
    const store = makeStore(path.join(dir, 'store'))
    systems.push({ system: 'StreamingCacheStore', dispatcher: store.store && agent().compose(interceptors.cache({ store: store.store })), na: store.reason, cached: true })
    systems.push({ system: 'MemoryCacheStore', dispatcher: agent().compose(interceptors.cache({ store: new MemoryCacheStore() })), cached: true })
    systems.push({ system: 'no cache', dispatcher: agent(), cached: false })

    const notes = []
    const cases = []
    for (const size of SIZES) {
      const group = formatSize(size)
      const url = `${origin.url}/bytes/${size}`
      for (const s of systems) {
        let na = s.na
        if (!na && s.cached && !(await prime(url, s.dispatcher, origin))) na = 'response never served from cache'
        if (na) notes.push(`${s.system}, ${group}: ${na}`)
        cases.push({
          group,
          system: s.system,
          na,
          run: async () => {
            const before = await origin.served()
            const rate = await concurrentOpsPerSecond(async () => {
              const n = await fetchLength(url, s.dispatcher)
              if (n !== size) throw new Error(`read ${n} of ${size} bytes`)
            }, { seconds, concurrency: CONCURRENCY })
            const misses = (await origin.served()) - before
            if (s.cached && misses > 0) notes.push(`${s.system}, ${group}: ${misses} requests reached the origin while measuring`)
            return rate
          },
        })
      }
    }
    return {
      cases,
      notes,
      targets: (m) => [
        ...SIZES.map((size) => ({
          label: `fetch ${formatSize(size)}: cacheInterceptor (ours) / MemoryCacheStore`,
          value: m(formatSize(size), 'cacheInterceptor (ours)'),
          base: m(formatSize(size), 'MemoryCacheStore'),
          min: size === MiB ? 1 : null,
        })),
        ...SIZES.map((size) => ({
          label: `fetch ${formatSize(size)}: StreamingCacheStore / MemoryCacheStore`,
          value: m(formatSize(size), 'StreamingCacheStore'),
          base: m(formatSize(size), 'MemoryCacheStore'),
          min: size === MiB ? 1 : null,
        })),
      ],
      teardown: async () => {
        await Promise.all(agents.map((a) => a.close()))
        origin.close()
        removeDir(dir)
      },
    }
  },
}
