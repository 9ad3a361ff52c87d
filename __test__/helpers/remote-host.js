'use strict'
// One "host" for the shared-tier tests, run as a child process: its own disk cache
// directory, the shared Redis, and the lookup order the engine will follow (local disk ->
// Redis -> origin, with the cross-host lock around origin fetches). Driven over IPC:
// { id, path, announce? } -> { id, source, size, sha256, remoteError? } or { id, error };
// with `announce`, { id, progress: true } once the first chunk from Redis arrived.
const crypto = require('node:crypto')
const http = require('node:http')
const { pipeline } = require('node:stream/promises')
const { StreamingCache } = require('../..')
const { RemoteTier } = require('../../lib/remote')

const [dir, url, origin] = process.argv.slice(2)
const cache = new StreamingCache(dir)
const tier = new RemoteTier({ url, lookupTimeout: 2000, opTimeout: 10_000, lockTtl: 60_000, chunkSize: 64 * 1024, maxBodySize: 256 * 1024 * 1024 })

/** Streams `body` into the local cache under `key`, hashing it; resolves once committed. */
async function storeLocally (key, status, body, onFirstChunk) {
  const hash = crypto.createHash('sha256')
  let size = 0
  const local = cache.createWriteStream(key, { status })
  await pipeline(body, async function * (source) {
    for await (const chunk of source) {
      if (size === 0) onFirstChunk?.()
      hash.update(chunk)
      size += chunk.length
      yield chunk
    }
  }, local)
  await local.committed
  return { size, sha256: hash.digest('hex') }
}

async function readLocal (hit) {
  const hash = crypto.createHash('sha256')
  let size = 0
  for await (const chunk of hit.body) {
    hash.update(chunk)
    size += chunk.length
  }
  return { size, sha256: hash.digest('hex') }
}

function fetchOrigin (path) {
  return new Promise((resolve, reject) => {
    http.get(origin + path, resolve).on('error', reject)
  })
}

/**
 * A local miss that hits Redis: streamed into the local cache (the tee), verified on the way.
 * If Redis fails mid-stream, the local write is discarded (nothing partial is committed)
 * and the origin answers instead.
 */
async function fromRemote (key, path, remote, onFirstChunk) {
  try {
    return { source: 'remote', ...await storeLocally(key, remote.entry.meta.status, remote.body, onFirstChunk) }
  } catch (err) {
    return { ...await fromOrigin(key, path), remoteError: err.code ?? err.message }
  }
}

async function fromOrigin (key, path) {
  const response = await fetchOrigin(path)
  const stored = await storeLocally(key, response.statusCode, response)
  // Write-through from the local copy, before the lock is released so waiters find it.
  const hit = await cache.get(key)
  try {
    await tier.put(key, { body: hit.body, meta: { status: response.statusCode }, freshFor: 60_000 })
  } catch (err) {
    // A failed upload never fails the request; the tier counts it.
    hit.body.destroy()
    return { source: 'origin', ...stored, uploadError: `${err.code}: ${err.message}` }
  }
  return { source: 'origin', ...stored }
}

async function fetchThrough (path, onFirstChunk) {
  const key = `GET ${origin}${path}`
  const local = await cache.get(key)
  if (local) return { source: 'disk', ...await readLocal(local) }
  const remote = await tier.get(key)
  if (remote) return fromRemote(key, path, remote, onFirstChunk)
  const lock = await tier.tryLock(key)
  if (lock.state === 'acquired') {
    try {
      return { ...await fromOrigin(key, path), lock: lock.state }
    } finally {
      await lock.release()
    }
  }
  let waited = null
  if (lock.state === 'busy') {
    waited = await tier.waitFor(key, 60_000)
    if (waited.outcome === 'stored') {
      const stored = await tier.get(key)
      if (stored) return { ...await fromRemote(key, path, stored, onFirstChunk), lock: lock.state }
    }
  }
  return { ...await fromOrigin(key, path), lock: lock.state, waited: waited?.outcome }
}

process.on('message', async ({ id, path, stats, announce }) => {
  if (stats) {
    process.send({ id, stats: tier.stats() })
    return
  }
  try {
    const onFirstChunk = announce ? () => process.send({ id, progress: true }) : undefined
    process.send({ id, ...await fetchThrough(path, onFirstChunk) })
  } catch (err) {
    process.send({ id, error: `${err.code ?? ''} ${err.stack}` })
  }
})
process.send({ ready: true })
