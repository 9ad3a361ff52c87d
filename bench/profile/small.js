'use strict'
// Profile target: get + read a small cached body, one after another.
//   node --cpu-prof bench/profile/small.js [ours|ours-off|cacache] [KiB=16] [ops=20000]
// (ours-off: the RAM tier off, `memory: 0`, so every hit is a disk hit)
const path = require('node:path')
const cacache = require('cacache')
const { StreamingCache } = require('../..')
const { bodyBuffer, KiB } = require('../lib/data')
const { drain, tempDir, removeDir } = require('../lib/io')

const [which = 'ours', kib = '16', ops = '20000'] = process.argv.slice(2)
const size = Number(kib) * KiB

async function main () {
  const dir = tempDir('prof-small')
  const cache = new StreamingCache(path.join(dir, 'ours'), which === 'ours-off' ? { memory: 0 } : undefined)
  await cache.put('k', { status: 200, body: bodyBuffer(size) })
  await cacache.put(path.join(dir, 'cacache'), 'k', bodyBuffer(size))
  const op = which === 'cacache'
    ? async () => (await cacache.get(path.join(dir, 'cacache'), 'k')).data.length
    : async () => drain((await cache.get('k')).body)
  for (let i = 0; i < 1000; i++) await op()
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < Number(ops); i++) await op()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  console.log(`${which} get+read ${kib} KiB: ${(ops / seconds).toFixed(0)} ops/s, ${(seconds * 1e6 / ops).toFixed(1)} us/op, ${((cpu.user + cpu.system) / ops).toFixed(1)} us CPU/op`)
  removeDir(dir)
}
main()
