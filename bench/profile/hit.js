'use strict'
// Profile target: read one cached body to the end, repeatedly.
//   node --cpu-prof bench/profile/hit.js [ours|fs] [MiB=100] [reps=20]
const fs = require('node:fs')
const { StreamingCache } = require('../..')
const { patternStream, MiB } = require('../lib/data')
const { drain, contentPath, tempDir, removeDir } = require('../lib/io')

const [which = 'ours', mib = '100', reps = '20'] = process.argv.slice(2)
const size = Number(mib) * MiB

async function main () {
  const dir = tempDir('prof-hit')
  const cache = new StreamingCache(dir, { maxBodySize: 2 * size })
  const { integrity } = await cache.put('k', { status: 200, body: patternStream(size) })
  const file = contentPath(dir, integrity)
  const read = which === 'fs'
    ? () => drain(fs.createReadStream(file, { highWaterMark: 64 * 1024 }))
    : async () => drain((await cache.get('k')).body)
  const start = process.hrtime.bigint()
  const cpu0 = process.cpuUsage()
  for (let i = 0; i < Number(reps); i++) await read()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  const chunks = reps * Math.ceil(size / 65536)
  console.log(`${which} hit ${mib} MiB x ${reps}: ${(size * reps / seconds / 1e6).toFixed(0)} MB/s, ` +
    `${(seconds * 1e6 / chunks).toFixed(1)} us wall and ${((cpu.user + cpu.system) / chunks).toFixed(1)} us CPU ` +
    `(${(cpu.system / chunks).toFixed(1)} us system) per 64 KiB chunk`)
  removeDir(dir)
}
main()
