'use strict'
// Profile target: one cached hit through a cache interceptor, without fetch: `dispatch` with a
// minimal handler, one after another, to see the interceptor's own cost per hit.
//   node [--cpu-prof] bench/profile/dispatch.js [interceptor|interceptor-off|store|memory] [KiB=1] [hits=50000]
const http = require('node:http')
const { Agent, interceptors, cacheStores } = require('undici')
const { bodyBuffer, KiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { makeStore, load } = require('../lib/undici-ours')
const { StreamingCache } = require('../..')

const [which = 'interceptor', kib = '1', hits = '50000'] = process.argv.slice(2)
const body = bodyBuffer(Number(kib) * KiB)

function interceptorFor (dir) {
  switch (which) {
    case 'interceptor': return load().module.cacheInterceptor({ cache: new StreamingCache(dir) })
    case 'interceptor-off': return load().module.cacheInterceptor({ cache: new StreamingCache(dir, { memory: 0 }) })
    case 'store': return interceptors.cache({ store: makeStore(dir).store })
    case 'memory': return interceptors.cache({ store: new cacheStores.MemoryCacheStore() })
    default: throw new Error(`unknown ${which}`)
  }
}

async function main () {
  const dir = tempDir('prof-dispatch')
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'cache-control': 'public, max-age=86400', 'content-length': body.length })
    res.end(body)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const dispatcher = new Agent().compose(interceptorFor(dir))
  const get = () => new Promise((resolve, reject) => {
    let n = 0
    dispatcher.dispatch({ origin, path: '/x', method: 'GET', headers: { accept: '*/*', 'user-agent': 'bench' } }, {
      onRequestStart () {},
      onResponseStart () {},
      onResponseData (controller, chunk) { n += chunk.length },
      onResponseEnd () { n === body.length ? resolve() : reject(new Error(`read ${n}`)) },
      onResponseError (controller, err) { reject(err) },
    })
  })
  for (let i = 0; i < 200; i++) { await get(); await new Promise((resolve) => setTimeout(resolve, 1)) }
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < Number(hits); i++) await get()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  console.log(`${which} dispatch ${kib} KiB: ${(hits / seconds).toFixed(0)} hits/s, ${(seconds * 1e6 / hits).toFixed(1)} us/hit, ${((cpu.user + cpu.system) / hits).toFixed(1)} us CPU/hit`)
  await dispatcher.close()
  server.close()
  removeDir(dir)
}
main()
