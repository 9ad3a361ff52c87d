'use strict'
// Hit throughput: get a cached body and read it to the end, against fs.createReadStream of the
// very content file the cache holds (so both read the same bytes from the same page cache),
// at the same read size ours uses: bodies up to 1 MiB are read whole (one read sized to the
// body) and then come from the RAM tier; larger ones 256 KiB per native call (four 64 KiB
// chunks per trip to the thread pool). fs at 64 KiB is kept as a labelled row. The raw floors
// read the same file into one reused buffer, from Node (readSync) and from Rust (pread).
// "into a Writable" rows: ours through body.writeTo (reused read Buffers) and fs through
// pipeline(fs.createReadStream at our read size, the same Writable), a counting Writable that
// calls back at once.
const fs = require('node:fs')
const { pipeline } = require('node:stream/promises')
const { StreamingCache } = require('../..')
const native = require('../../binding.js')
const { patternStream, formatSize, MiB } = require('../lib/data')
const { drain, countingWritable, contentPath, tempDir, removeDir } = require('../lib/io')
const { throughput } = require('../lib/measure')

const SIZES = [1 * MiB, 10 * MiB, 100 * MiB]
const CHUNK = 64 * 1024
const WHOLE_READ_MAX = 1 * MiB
const readSizeOf = (size) => (size <= WHOLE_READ_MAX ? size : 4 * CHUNK)

/** open + readSync into one reused buffer to the end + close. */
function readSyncFloor (file, buffer) {
  const fd = fs.openSync(file, 'r')
  let total = 0
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, total)) > 0;) total += n
  } finally {
    fs.closeSync(fd)
  }
  return total
}

/** MB/s of Rust pread into a reused buffer, repeated for at least `minSeconds`. */
function preadFloor (file, size, readSize, minSeconds) {
  const once = native.benchPreadFloor(file, readSize, 1)
  const times = Math.max(1, Math.ceil(minSeconds / Math.max(once, 1e-6)))
  const seconds = native.benchPreadFloor(file, readSize, times)
  return size * times / seconds / 1e6
}

module.exports = {
  id: 'hit',
  title: 'Hit, read to the end',
  warmup: 'full',
  unit: 'MB/s',

  async setup ({ quick }) {
    const minSeconds = quick ? 0.1 : 0.4
    // Every case first runs untimed: the runner's full GC before each case leaves V8 and the
    // allocator slow for the next few hundred MB of fresh Buffers (measured: a 100 MiB stream
    // at 0.5-0.7 GB/s right after it, 2 GB/s a second later, ours and fs alike), which was
    // most of a 0.1 s window.
    const warm = quick ? 0.3 : 0.5
    const dir = tempDir('hit')
    const cache = new StreamingCache(dir, { maxBodySize: 2 * 100 * MiB })
    const cases = []
    const files = []
    for (const size of SIZES) {
      const { integrity } = await cache.put(`body-${size}`, { status: 200, body: patternStream(size) })
      files.push(contentPath(dir, integrity))
    }
    // The same entries without the RAM tier (a second instance on the directory).
    const off = new StreamingCache(dir, { maxBodySize: 2 * 100 * MiB, memory: 0 })
    for (const [i, size] of SIZES.entries()) {
      const key = `body-${size}`
      const file = files[i]
      const readSize = readSizeOf(size)
      const check = (n) => { if (n !== size) throw new Error(`read ${n} of ${size} bytes`); return n }
      const group = formatSize(size)
      const buffer = Buffer.allocUnsafeSlow(CHUNK)
      cases.push(
        { group, system: 'http-streaming-cache', run: () => throughput(async () => check(await drain(cache.getSync(key).body)), { minSeconds, warm }) },
        { group, system: 'http-streaming-cache, memory off', run: () => throughput(async () => check(await drain(off.getSync(key).body)), { minSeconds, warm }) },
        { group, system: 'fs.createReadStream (64 KiB)', run: () => throughput(async () => check(await drain(fs.createReadStream(file, { highWaterMark: CHUNK }))), { minSeconds, warm }) },
      )
      if (readSize !== CHUNK) {
        cases.push({
          group,
          system: `fs.createReadStream (${formatSize(readSize)})`,
          run: () => throughput(async () => check(await drain(fs.createReadStream(file, { highWaterMark: readSize }))), { minSeconds, warm }),
        })
      }
      cases.push(
        { group, system: 'into a Writable: http-streaming-cache writeTo', run: () => throughput(async () => check(await cache.getSync(key).body.writeTo(countingWritable())), { minSeconds, warm }) },
        { group, system: 'into a Writable: http-streaming-cache writeTo, memory off', run: () => throughput(async () => check(await off.getSync(key).body.writeTo(countingWritable())), { minSeconds, warm }) },
        {
          group,
          system: `into a Writable: fs pipeline (${formatSize(readSize)})`,
          run: () => throughput(async () => {
            const writable = countingWritable()
            await pipeline(fs.createReadStream(file, { highWaterMark: readSize }), writable)
            return check(writable.bytes)
          }, { minSeconds, warm }),
        },
        { group, system: 'floor: Node readSync, reused 64 KiB buffer', run: () => throughput(async () => check(readSyncFloor(file, buffer)), { minSeconds, warm }) },
        { group, system: 'floor: Rust pread, reused 64 KiB buffer', run: async () => preadFloor(file, size, CHUNK, minSeconds) },
      )
    }
    const fsAtOurReadSize = (size) => `fs.createReadStream (${formatSize(readSizeOf(size))})`
    return {
      cases,
      targets: (m) => SIZES.flatMap((size) => {
        const g = formatSize(size)
        return [
          { label: `hit ${g}: http-streaming-cache / ${fsAtOurReadSize(size)} (equal read size)`, value: m(g, 'http-streaming-cache'), base: m(g, fsAtOurReadSize(size)), min: 1 },
          { label: `hit ${g}: memory off / ${fsAtOurReadSize(size)} (equal read size)`, value: m(g, 'http-streaming-cache, memory off'), base: m(g, fsAtOurReadSize(size)), min: size > WHOLE_READ_MAX ? 1 : null },
          { label: `hit ${g}: memory off / floor: Node readSync`, value: m(g, 'http-streaming-cache, memory off'), base: m(g, 'floor: Node readSync, reused 64 KiB buffer'), min: null },
          { label: `hit ${g} into a Writable: writeTo / fs pipeline (equal read size)`, value: m(g, 'into a Writable: http-streaming-cache writeTo'), base: m(g, `into a Writable: fs pipeline (${formatSize(readSizeOf(size))})`), min: null },
          { label: `hit ${g} into a Writable: writeTo, memory off / fs pipeline (equal read size)`, value: m(g, 'into a Writable: http-streaming-cache writeTo, memory off'), base: m(g, `into a Writable: fs pipeline (${formatSize(readSizeOf(size))})`), min: null },
        ]
      }),
      teardown: async () => {
        await off.close()
        await cache.close()
        removeDir(dir)
      },
    }
  },
}
