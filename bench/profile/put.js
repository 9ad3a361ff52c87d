'use strict'
// Profile target: put one streamed body, repeatedly (each removed before the next).
//   node --cpu-prof bench/profile/put.js [ours|fs|cacache] [MiB=100] [reps=10]
const fs = require('node:fs')
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const cacache = require('cacache')
const { StreamingCache } = require('../..')
const { patternStream, MiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')

const [which = 'ours', mib = '100', reps = '10'] = process.argv.slice(2)
const size = Number(mib) * MiB

async function main () {
  const dir = tempDir('prof-put')
  const cache = new StreamingCache(path.join(dir, 'ours'), { maxBodySize: 2 * size })
  const put = {
    ours: async () => { await cache.put('k', { status: 200, body: patternStream(size) }); return () => cache.delete('k') },
    fs: async () => {
      const file = path.join(dir, 'file')
      await pipeline(patternStream(size), fs.createWriteStream(file, { highWaterMark: 64 * 1024 }))
      return () => fs.promises.unlink(file)
    },
    cacache: async () => {
      const where = path.join(dir, 'cacache')
      await pipeline(patternStream(size), cacache.put.stream(where, 'k'))
      return () => fs.promises.rm(where, { recursive: true })
    },
  }[which]
  let busy = 0
  let cpuUs = 0
  let sysUs = 0
  for (let i = 0; i < Number(reps); i++) {
    const start = process.hrtime.bigint()
    const cpu0 = process.cpuUsage()
    const cleanup = await put()
    busy += Number(process.hrtime.bigint() - start) / 1e9
    const cpu = process.cpuUsage(cpu0)
    cpuUs += cpu.user + cpu.system
    sysUs += cpu.system
    await cleanup()
  }
  const chunks = reps * Math.ceil(size / 65536)
  console.log(`${which} put ${mib} MiB x ${reps}: ${(size * reps / busy / 1e6).toFixed(0)} MB/s, ` +
    `${(busy * 1e6 / chunks).toFixed(1)} us wall and ${(cpuUs / chunks).toFixed(1)} us CPU ` +
    `(${(sysUs / chunks).toFixed(1)} us system) per 64 KiB chunk`)
  removeDir(dir)
}
main()
