'use strict'
// Hit throughput: get a cached body and read it to the end, against fs.createReadStream of the
// very content file the cache holds (so both read the same bytes from the same page cache).
const fs = require('node:fs')
const { StreamingCache } = require('../..')
const { patternStream, formatSize, MiB } = require('../lib/data')
const { drain, contentPath, tempDir, removeDir } = require('../lib/io')
const { throughput } = require('../lib/measure')

const SIZES = [1 * MiB, 10 * MiB, 100 * MiB]
const HWM = 64 * 1024

module.exports = {
  id: 'hit',
  title: 'Hit, read to the end',
  warmup: 'full',
  unit: 'MB/s',

  async setup ({ quick }) {
    const minSeconds = quick ? 0.1 : 0.4
    const dir = tempDir('hit')
    const cache = new StreamingCache(dir, { maxBodySize: 2 * 100 * MiB })
    const cases = []
    for (const size of SIZES) {
      const key = `body-${size}`
      const { integrity } = await cache.put(key, { status: 200, body: patternStream(size) })
      const file = contentPath(dir, integrity)
      const check = (n) => { if (n !== size) throw new Error(`read ${n} of ${size} bytes`); return n }
      const group = formatSize(size)
      cases.push({
        group,
        system: 'http-streaming-cache',
        run: () => throughput(async () => check(await drain((await cache.get(key)).body)), { minSeconds }),
      })
      cases.push({
        group,
        system: 'fs.createReadStream',
        run: () => throughput(async () => check(await drain(fs.createReadStream(file, { highWaterMark: HWM }))), { minSeconds }),
      })
    }
    return {
      cases,
      targets: (m) => SIZES.map((size) => ({
        label: `hit ${formatSize(size)}: http-streaming-cache / fs.createReadStream`,
        value: m(formatSize(size), 'http-streaming-cache'),
        base: m(formatSize(size), 'fs.createReadStream'),
        min: 0.9,
      })),
      teardown: () => removeDir(dir),
    }
  },
}
