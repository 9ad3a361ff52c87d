'use strict'
// Profile target: the native whole read of a cached body, memory tier off.
//   node bench/profile/whole.js [KiB=1024] [ops=500]
const { StreamingCache } = require('../..')
const { bodyBuffer, KiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { kReadAll } = require('../../lib/body-readable')

const [kib = '1024', ops = '500'] = process.argv.slice(2)

async function main () {
  const dir = tempDir('prof-whole')
  const cache = new StreamingCache(dir, { memory: 0 })
  await cache.put('k', { status: 200, body: bodyBuffer(Number(kib) * KiB) })
  let sync = 0n
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < Number(ops); i++) {
    const hit = cache.getSync('k')
    const t = process.hrtime.bigint()
    const p = hit.body[kReadAll]()
    sync += process.hrtime.bigint() - t
    await p
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  console.log(`whole read ${kib} KiB: ${(seconds * 1e6 / ops).toFixed(0)} us/op, ${((cpu.user + cpu.system) / ops).toFixed(0)} us CPU/op, ${(Number(sync) / 1e3 / ops).toFixed(0)} us in the synchronous call`)
  await cache.close()
  removeDir(dir)
}
main()
