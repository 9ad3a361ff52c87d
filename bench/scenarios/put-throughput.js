'use strict'
// Put from a stream: the same pattern stream piped into the cache, into a plain file and into
// npm's cacache. Each repetition's output is removed (untimed) so every put writes fresh files.
const fs = require('node:fs')
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const cacache = require('cacache')
const { StreamingCache } = require('../..')
const { patternStream, formatSize, MiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { throughput } = require('../lib/measure')

const SIZES = [1 * MiB, 10 * MiB, 100 * MiB]
const HWM = 64 * 1024

module.exports = {
  id: 'put',
  title: 'Put from a stream',
  warmup: 'full',
  unit: 'MB/s',

  async setup ({ quick }) {
    const minSeconds = quick ? 0.1 : 0.4
    const dir = tempDir('put')
    const ourDir = path.join(dir, 'ours')
    const fsDir = path.join(dir, 'fs')
    const cacacheDir = path.join(dir, 'cacache')
    fs.mkdirSync(fsDir, { recursive: true })
    const cache = new StreamingCache(ourDir, { maxBodySize: 2 * 100 * MiB })
    const cases = []
    for (const size of SIZES) {
      const group = formatSize(size)
      const key = `body-${size}`
      const file = path.join(fsDir, key)
      let integrity = null
      cases.push({
        group,
        system: 'http-streaming-cache',
        run: () => throughput(async () => {
          const info = await cache.put(key, { status: 200, body: patternStream(size) })
          if (info.size !== size) throw new Error(`stored ${info.size} of ${size} bytes`)
          return size
        }, { minSeconds, after: () => cache.delete(key) }),
      })
      cases.push({
        group,
        system: 'fs.createWriteStream',
        run: () => throughput(async () => {
          await pipeline(patternStream(size), fs.createWriteStream(file, { highWaterMark: HWM }))
          return size
        }, { minSeconds, after: () => fs.promises.unlink(file) }),
      })
      cases.push({
        group,
        system: 'cacache.put.stream',
        run: () => throughput(async () => {
          await pipeline(patternStream(size), cacache.put.stream(cacacheDir, key).on('integrity', (i) => { integrity = i }))
          return size
        }, {
          minSeconds,
          after: async () => {
            await cacache.rm.entry(cacacheDir, key, { removeFully: true })
            await cacache.rm.content(cacacheDir, integrity)
          },
        }),
      })
    }
    return {
      cases,
      targets: (m) => SIZES.flatMap((size) => {
        const g = formatSize(size)
        return [
          { label: `put ${g}: http-streaming-cache / fs.createWriteStream`, value: m(g, 'http-streaming-cache'), base: m(g, 'fs.createWriteStream'), min: 0.8 },
          { label: `put ${g}: http-streaming-cache / cacache.put.stream`, value: m(g, 'http-streaming-cache'), base: m(g, 'cacache.put.stream'), min: 1.5 },
        ]
      }),
      teardown: () => removeDir(dir),
    }
  },
}
