'use strict'
// Profile target: undici fetch of a cached response (origin in-process, hit only once).
//   node --cpu-prof bench/profile/fetch.js [interceptor|interceptor-off|store|store-off|memory] [KiB=1024] [reqs=2000] [inFlight=1]
const http = require('node:http')
const { Agent, fetch, interceptors, cacheStores } = require('undici')
const { bodyBuffer, KiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { makeStore, makeInterceptor } = require('../lib/undici-ours')
const { StreamingCache } = require('../..')

const [which = 'interceptor', kib = '1024', reqs = '2000', inFlight = '1'] = process.argv.slice(2)
const body = bodyBuffer(Number(kib) * KiB)

async function main () {
  const dir = tempDir('prof-fetch')
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=86400', 'content-length': body.length })
    res.end(body)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${server.address().port}/x`
  const interceptor = {
    interceptor: () => makeInterceptor(dir).interceptor,
    'interceptor-off': () => require('../lib/undici-ours').load().module.cacheInterceptor({ cache: new StreamingCache(dir, { memory: 0 }) }),
    'store-off': () => interceptors.cache({ store: makeStore(dir, { memory: 0 }).store }),
    store: () => interceptors.cache({ store: makeStore(dir).store }),
    memory: () => interceptors.cache({ store: new cacheStores.MemoryCacheStore() }),
  }[which]()
  if (!interceptor) throw new Error(`${which}: not available`)
  const dispatcher = new Agent().compose(interceptor)
  const get = async () => {
    const res = await fetch(url, { dispatcher })
    let n = 0
    for await (const chunk of res.body) n += chunk.length
    if (n !== body.length) throw new Error(`read ${n}`)
  }
  for (let i = 0; i < 50; i++) { await get(); await new Promise((resolve) => setTimeout(resolve, 2)) }
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  let left = Number(reqs)
  const worker = async () => {
    while (left-- > 0) await get()
  }
  await Promise.all(Array.from({ length: Number(inFlight) }, worker))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  console.log(`${which} fetch ${kib} KiB: ${(reqs / seconds).toFixed(0)} req/s, ${(seconds * 1e6 / reqs).toFixed(0)} us/req, ${((cpu.user + cpu.system) / reqs).toFixed(1)} us CPU/req`)
  await dispatcher.close()
  server.close()
  removeDir(dir)
}
main()
