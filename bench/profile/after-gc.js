'use strict'
// How long V8 stays slow after a full GC (the benchmark runner's settle() runs one before every
// case): the same small operation timed in slices of 500, before and after global.gc().
//   node --expose-gc bench/profile/after-gc.js [readable|ours] [ops=5000]
// `readable`: a plain Node Readable over a 1 KiB Buffer, drained (no cache at all);
// `ours`: getSync + drain of a 1 KiB body from the RAM tier.
const path = require('node:path')
const { Readable } = require('node:stream')
const { bodyBuffer, KiB } = require('../lib/data')
const { drain, tempDir, removeDir } = require('../lib/io')

const [which = 'readable', ops = '5000'] = process.argv.slice(2)
if (typeof global.gc !== 'function') throw new Error('run with node --expose-gc')

async function main () {
  const body = bodyBuffer(KiB)
  let op
  let done = () => {}
  if (which === 'ours') {
    const { StreamingCache } = require('../..')
    const dir = tempDir('after-gc')
    const cache = new StreamingCache(path.join(dir, 'ours'))
    await cache.put('k', { status: 200, body })
    op = () => drain(cache.getSync('k').body)
    done = async () => { await cache.close(); removeDir(dir) }
  } else {
    op = () => drain(new Readable({ read () { this.push(body); this.push(null) } }))
  }
  for (let i = 0; i < 5000; i++) await op()
  for (let round = 0; round < 6; round++) {
    const afterGc = round % 2 === 1
    if (afterGc) {
      global.gc()
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    const slices = []
    const cpu0 = process.cpuUsage()
    const start = process.hrtime.bigint()
    let sliceStart = start
    for (let i = 0; i < Number(ops); i++) {
      await op()
      if (i % 500 === 499) {
        const now = process.hrtime.bigint()
        slices.push((Number(now - sliceStart) / 500e3).toFixed(1))
        sliceStart = now
      }
    }
    const wall = Number(process.hrtime.bigint() - start) / 1e3 / Number(ops)
    const cpu = process.cpuUsage(cpu0)
    console.log(`${which} ${afterGc ? 'after gc()' : 'steady    '}: ${wall.toFixed(1)} us/op, ${((cpu.user + cpu.system) / Number(ops)).toFixed(1)} us CPU/op; per 500: ${slices.join(' ')}`)
  }
  await done()
}
main()
