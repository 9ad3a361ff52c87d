'use strict'
// Small hits: get + read a 1 KiB or 16 KiB body, one operation after another. cacache.get
// (what npm uses) and undici's MemoryCacheStore are the peers; our StreamingCacheStore is
// measured through the undici store interface when it exists.
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const cacache = require('cacache')
const { MemoryCacheStore } = require('undici').cacheStores
const { StreamingCache } = require('../..')
const { bodyBuffer, formatSize, KiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')
const { opsPerSecond } = require('../lib/measure')
const { bodyLength } = require('../lib/body')
const { makeStore } = require('../lib/undici-ours')

const SIZES = [1 * KiB, 16 * KiB]

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

module.exports = {
  id: 'small',
  title: 'Small hits, get + read',
  unit: 'ops/s',

  async setup ({ quick }) {
    const seconds = quick ? 0.15 : 0.75
    const dir = tempDir('small')
    const cache = new StreamingCache(path.join(dir, 'ours'))
    const cacacheDir = path.join(dir, 'cacache')
    const memory = new MemoryCacheStore()
    const { store: ourStore, reason } = makeStore(path.join(dir, 'store'))
    const cases = []
    for (const size of SIZES) {
      const group = formatSize(size)
      const body = bodyBuffer(size)
      const key = `small-${size}`
      await cache.put(key, { status: 200, body })
      await cacache.put(cacacheDir, key, body)
      const entry = storeEntry(size)
      await storePut(memory, entry.key, entry.value, body)
      if (ourStore) await storePut(ourStore, entry.key, entry.value, body)
      const check = (n) => { if (n !== size) throw new Error(`read ${n} of ${size} bytes`) }

      cases.push({
        group,
        system: 'http-streaming-cache',
        run: () => opsPerSecond(async () => check(await bodyLength((await cache.get(key)).body)), { seconds }),
      })
      cases.push({
        group,
        system: 'cacache.get',
        run: () => opsPerSecond(async () => check((await cacache.get(cacacheDir, key)).data.length), { seconds }),
      })
      cases.push({
        group,
        system: 'MemoryCacheStore',
        run: () => opsPerSecond(async () => check(await bodyLength((await memory.get(entry.key)).body)), { seconds }),
      })
      cases.push({
        group,
        system: 'StreamingCacheStore',
        na: ourStore ? null : reason,
        run: () => opsPerSecond(async () => check(await bodyLength((await ourStore.get(entry.key)).body)), { seconds }),
      })
    }
    return {
      cases,
      targets: (m) => SIZES.flatMap((size) => {
        const g = formatSize(size)
        return [
          { label: `hit ${g} get+read: http-streaming-cache / cacache.get`, value: m(g, 'http-streaming-cache'), base: m(g, 'cacache.get'), min: 3 },
          { label: `hit ${g} get+read: http-streaming-cache / MemoryCacheStore`, value: m(g, 'http-streaming-cache'), base: m(g, 'MemoryCacheStore'), min: null },
          { label: `hit ${g} get+read: StreamingCacheStore / MemoryCacheStore`, value: m(g, 'StreamingCacheStore'), base: m(g, 'MemoryCacheStore'), min: null },
        ]
      }),
      teardown: () => removeDir(dir),
    }
  },
}
