'use strict'
// Small hits: get + read a 1 KiB or 16 KiB body, one operation after another.
// - hot key: the same key every time. Peers: the floor "open + readSync + close" of the same
//   content file from Node, undici's MemoryCacheStore, cacache.get (what npm uses), and our
//   StreamingCacheStore through the undici store interface.
// - random key: 1 KiB bodies, a random one of many keys (100k, 20k with --quick) each time,
//   against the same floor on that key's content file.
// Ours runs with the RAM tier on (default) and off.
const fs = require('node:fs')
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const cacache = require('cacache')
const { MemoryCacheStore } = require('undici').cacheStores
const { StreamingCache } = require('../..')
const { bodyBuffer, formatSize, prng, KiB } = require('../lib/data')
const { tempDir, removeDir, contentPath } = require('../lib/io')
const { opsPerSecond } = require('../lib/measure')
const { bodyLength } = require('../lib/body')
const { makeStore } = require('../lib/undici-ours')

const SIZES = [1 * KiB, 16 * KiB]
const FLOOR = 'floor: open + readSync + close'
const CPU = 'CPU per op (µs)'

/**
 * `opsPerSecond`, plus the process's CPU time per operation (all threads: GC, thread pool):
 * steadier than ops/s when other work shares the machine.
 */
async function withCpu (measure) {
  const cpu0 = process.cpuUsage()
  const start = process.hrtime.bigint()
  const rate = await measure()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const cpu = process.cpuUsage(cpu0)
  return { value: rate, extra: { [CPU]: (cpu.user + cpu.system) / (rate * seconds) } }
}

/**
 * Operations of the untimed stretch at the least. The slow stretch after a full GC lasts a
 * number of allocating operations (~3 000, bench/profile/after-gc.js), not a time: a stretch
 * of `warm` seconds alone left a system at 20-50 µs per op inside it for its whole window
 * while one at 5 µs got out of it, so the ratio measured the GC's aftermath, not the hit.
 */
const WARM_OPS = 5000

/**
 * `op`'s rate and CPU per op in a window of `seconds`, after an untimed stretch of `warm`
 * seconds and at least WARM_OPS operations of the same op. The runner collects garbage before every case (a full GC): for the
 * next few thousand operations that allocate (any Readable, ours or Node's own), V8 runs 3-4x
 * slower, its helper threads busy meanwhile (CPU about twice the wall time):
 * bench/profile/after-gc.js measures 16-20 µs per op instead of 4-7 for a plain Node Readable
 * of 1 KiB. In a 0.15 s window that is most of the window.
 * Every system gets the same stretch; the floor, which allocates next to nothing, is unchanged.
 */
async function steadyRate (op, { seconds, warm }) {
  for (let i = 0; i < WARM_OPS; i++) await op()
  await opsPerSecond(op, { seconds: warm })
  return withCpu(() => opsPerSecond(op, { seconds }))
}

/** The undici store key and value for a small cached response. */
function storeEntry (size) {
  const key = { origin: 'http://bench.local', method: 'GET', path: `/small/${size}`, headers: {} }
  const now = Date.now()
  const value = {
    statusCode: 200,
    statusMessage: 'OK',
    headers: { 'content-type': 'application/octet-stream', 'cache-control': 'public, max-age=86400' },
    cacheControlDirectives: { public: true, 'max-age': 86400 },
    cachedAt: now,
    staleAt: now + 86400e3,
    deleteAt: now + 2 * 86400e3,
  }
  return { key, value }
}

async function storePut (store, key, value, body) {
  const sink = store.createWriteStream(key, value)
  await pipeline([body], sink)
  // Disk-backed stores may commit after 'finish'; give them a moment.
  for (let i = 0; i < 100 && (await store.get(key)) == null; i++) await new Promise((resolve) => setTimeout(resolve, 10))
}

function floorRead (file, buffer) {
  const fd = fs.openSync(file, 'r')
  try {
    return fs.readSync(fd, buffer, 0, buffer.length, 0)
  } finally {
    fs.closeSync(fd)
  }
}

/** `count` distinct 1 KiB bodies under random-N keys, stored `inFlight` at a time. */
async function fillRandom (cache, count, size) {
  const keys = Array.from({ length: count }, (_, i) => `random-${i}`)
  const files = new Array(count)
  const base = bodyBuffer(size)
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const body = Buffer.from(base)
      body.writeUInt32LE(i, 0) // distinct content, so each key has its own file
      const { integrity } = await cache.put(keys[i], { status: 200, body })
      files[i] = integrity
    }
  }
  await Promise.all(Array.from({ length: 16 }, worker))
  return { keys, files: files.map((integrity) => contentPath(cache.dir, integrity)) }
}

module.exports = {
  id: 'small',
  title: 'Small hits, get + read',
  unit: 'ops/s',

  async setup ({ quick }) {
    const seconds = quick ? 0.15 : 0.75
    const warm = quick ? 0.1 : 0.25
    const randomCount = quick ? 20_000 : 100_000
    const dir = tempDir('small')
    const oursDir = path.join(dir, 'ours')
    const cache = new StreamingCache(oursDir, { maxEntries: randomCount + 100 })
    const cacacheDir = path.join(dir, 'cacache')
    const memory = new MemoryCacheStore()
    const { store: ourStore, reason } = makeStore(path.join(dir, 'store'))
    const hotKeyFiles = {}
    for (const size of SIZES) {
      const body = bodyBuffer(size)
      const { integrity } = await cache.put(`small-${size}`, { status: 200, body })
      hotKeyFiles[size] = contentPath(oursDir, integrity)
      await cacache.put(cacacheDir, `small-${size}`, body)
      const entry = storeEntry(size)
      await storePut(memory, entry.key, entry.value, body)
      if (ourStore) await storePut(ourStore, entry.key, entry.value, body)
    }
    const random = await fillRandom(cache, randomCount, KiB)
    const off = new StreamingCache(oursDir, { maxEntries: randomCount + 100, memory: 0 })

    // JIT warm-up, as in a long-running server: our hit path takes a few thousand operations
    // to reach full speed (measured: ~60 µs/op for the first ~3 000 hits, then 4-6 µs), more
    // than the scenario's one-window warm-up round gives it in --quick mode.
    for (let i = 0; i < 5000; i++) {
      for (const c of [cache, off]) {
        await bodyLength(c.getSync(`small-${SIZES[i % SIZES.length]}`).body)
        await bodyLength(c.getSync(random.keys[i % randomCount]).body)
      }
    }

    const cases = []
    for (const size of SIZES) {
      const group = formatSize(size)
      const key = `small-${size}`
      const entry = storeEntry(size)
      const buffer = Buffer.allocUnsafeSlow(size)
      const check = (n) => { if (n !== size) throw new Error(`read ${n} of ${size} bytes`) }
      cases.push(
        { group, system: 'http-streaming-cache', run: () => steadyRate(async () => check(await bodyLength(cache.getSync(key).body)), { seconds, warm }) },
        { group, system: 'http-streaming-cache, memory off', run: () => steadyRate(async () => check(await bodyLength(off.getSync(key).body)), { seconds, warm }) },
        { group, system: FLOOR, run: () => steadyRate(async () => check(floorRead(hotKeyFiles[size], buffer)), { seconds, warm }) },
        { group, system: 'MemoryCacheStore', run: () => steadyRate(async () => check(await bodyLength((await memory.get(entry.key)).body)), { seconds, warm }) },
        { group, system: 'StreamingCacheStore', na: ourStore ? null : reason, run: () => steadyRate(async () => check(await bodyLength((await ourStore.get(entry.key)).body)), { seconds, warm }) },
        { group, system: 'cacache.get', run: () => steadyRate(async () => check((await cacache.get(cacacheDir, key)).data.length), { seconds, warm }) },
      )
    }
    const rgroup = `1 KiB, random of ${randomCount / 1000}k`
    const pick = () => {
      const next = prng(7)
      return () => Math.floor(next() * randomCount)
    }
    const rbuffer = Buffer.allocUnsafeSlow(KiB)
    const rcheck = (n) => { if (n !== KiB) throw new Error(`read ${n} of ${KiB} bytes`) }
    cases.push(
      { group: rgroup, system: 'http-streaming-cache', run: () => { const at = pick(); return steadyRate(async () => rcheck(await bodyLength(cache.getSync(random.keys[at()]).body)), { seconds, warm }) } },
      { group: rgroup, system: 'http-streaming-cache, memory off', run: () => { const at = pick(); return steadyRate(async () => rcheck(await bodyLength(off.getSync(random.keys[at()]).body)), { seconds, warm }) } },
      { group: rgroup, system: FLOOR, run: () => { const at = pick(); return steadyRate(async () => rcheck(floorRead(random.files[at()], rbuffer)), { seconds, warm }) } },
    )
    return {
      cases,
      targets: (m) => [
        ...[...SIZES.map(formatSize), rgroup].flatMap((g) => [
          { label: `small ${g}: http-streaming-cache / ${FLOOR}`, value: m(g, 'http-streaming-cache'), base: m(g, FLOOR), min: g === '16 KiB' ? null : 1 },
          { label: `small ${g}: memory off / ${FLOOR}`, value: m(g, 'http-streaming-cache, memory off'), base: m(g, FLOOR), min: g === '16 KiB' ? null : 0.5 },
          // The same comparison in CPU per op (floor's over ours: higher is better, like ops/s).
          { label: `small ${g}, by CPU per op: ${FLOOR} / http-streaming-cache`, value: m(`${g}, CPU per op`, FLOOR), base: m(`${g}, CPU per op`, 'http-streaming-cache'), min: null },
          { label: `small ${g}, by CPU per op: ${FLOOR} / memory off`, value: m(`${g}, CPU per op`, FLOOR), base: m(`${g}, CPU per op`, 'http-streaming-cache, memory off'), min: null },
        ]),
        ...SIZES.map(formatSize).flatMap((g) => [
          { label: `small ${g}: http-streaming-cache / cacache.get`, value: m(g, 'http-streaming-cache'), base: m(g, 'cacache.get'), min: 3 },
          { label: `small ${g}: http-streaming-cache / MemoryCacheStore`, value: m(g, 'http-streaming-cache'), base: m(g, 'MemoryCacheStore'), min: null },
          { label: `small ${g}: StreamingCacheStore / MemoryCacheStore`, value: m(g, 'StreamingCacheStore'), base: m(g, 'MemoryCacheStore'), min: null },
        ]),
      ],
      teardown: async () => {
        await off.close()
        await cache.close()
        removeDir(dir)
      },
    }
  },
}
