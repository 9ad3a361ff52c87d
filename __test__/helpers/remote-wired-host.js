'use strict'
// One "host" for the wired shared-tier tests (__test__/remote-wired.spec.js), run as a child
// process: its own cache directory, a StreamingCache with the `remote` option on the shared
// Redis, and real undici with cacheInterceptor in front of the real origin. Driven over IPC:
//   { id, op: 'get', path }    -> { id, status, size, sha256, cache }  (cache: x-cache header)
//   { id, op: 'post', path }   -> { id, status }
//   { id, op: 'settle', key? } -> { id }  `key` committed locally, fills committed, uploads finished
//   { id, op: 'local', key }   -> { id, has }
//   { id, op: 'stats' }        -> { id, stats }
// Errors come back as { id, error }.
const crypto = require('node:crypto')
const { Agent, request } = require('../helpers/undici')
const { StreamingCache } = require('../..')
const { cacheInterceptor } = require('../../undici')
const { kRemoteLink } = require('../../lib/remote-link')

const [dir, url, origin, extra] = process.argv.slice(2)
const cache = new StreamingCache(dir, {
  remote: { url, lookupTimeout: 1000, opTimeout: 5000, lockTtl: 30_000, chunkSize: 64 * 1024, ...JSON.parse(extra ?? '{}') },
})
const dispatcher = new Agent().compose(cacheInterceptor({ cache, coalesceTimeout: 10_000 }))

async function get (path) {
  const res = await request(origin + path, { dispatcher })
  const hash = crypto.createHash('sha256')
  let size = 0
  for await (const chunk of res.body) {
    hash.update(chunk)
    size += chunk.length
  }
  return { status: res.statusCode, size, sha256: hash.digest('hex'), cache: res.headers['x-cache'] ?? null }
}

const ops = {
  get: (m) => get(m.path),
  post: async (m) => {
    const res = await request(origin + m.path, { method: 'POST', body: 'x', dispatcher })
    await res.body.dump()
    return { status: res.statusCode }
  },
  settle: async (m) => {
    // The interceptor commits once the response ended, a moment after the caller read it.
    for (let i = 0; m.key !== undefined && i < 200 && !cache.has(m.key); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    const link = cache[kRemoteLink]
    await link.settled()
    await link.tier.flush(20_000)
    return {}
  },
  local: async (m) => ({ has: cache.has(m.key) }),
  stats: async () => ({ stats: cache.stats() }),
}

process.on('message', (m) => {
  ops[m.op](m).then(
    (out) => process.send({ id: m.id, ...out }),
    (err) => process.send({ id: m.id, error: `${err.code ?? ''} ${err.message}` }))
})
process.send({ ready: true })
