'use strict'
// Helpers for the cacheInterceptor tests: a real node:http origin on 127.0.0.1 that counts
// the requests it gets, and an undici Agent composed with the interceptor over a temp cache.
const http = require('node:http')
const fs = require('node:fs')
const path = require('node:path')
const { Agent } = require('undici')
const { StreamingCache } = require('../..')
const { cacheInterceptor } = require('../../undici')
const { CONTENT_DIR, contentFileFor } = require('./layout')
const { flipByte } = require('./util')

/**
 * Starts an origin. `route(req, res, n)` answers each request; `n` counts requests to that
 * path (from 1). `origin.requests` records { method, path, headers } of every request.
 */
async function startOrigin (t, route) {
  const counts = new Map()
  const requests = []
  const server = http.createServer((req, res) => {
    const n = (counts.get(req.url) ?? 0) + 1
    counts.set(req.url, n)
    requests.push({ method: req.method, path: req.url, headers: req.headers })
    req.resume()
    req.on('end', () => route(req, res, n))
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${server.address().port}`
  const origin = {
    base,
    server,
    requests,
    url: (p = '/') => base + p,
    /** Requests received, for one path or in all. */
    hits: (p) => p === undefined ? requests.length : (counts.get(p) ?? 0),
    close: () => new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
  t.teardown(() => origin.close())
  return origin
}

async function tempCache (t, options) {
  const cache = await StreamingCache.withTempDir(undefined, options)
  t.teardown(() => fs.rmSync(cache.dir, { recursive: true, force: true }))
  return cache
}

/** An Agent composed with cacheInterceptor over `cache` (a fresh temp cache by default). */
async function cachingAgent (t, options = {}, cacheOptions) {
  const cache = options.cache ?? await tempCache(t, cacheOptions)
  // cacheWriteTimeout (default 2 s) abandons a store whose disk is slower than that: on a loaded
  // 2-core CI machine a commit can be, which turns "the next request is a HIT" into a timing
  // test. Only the tests of that timeout set it.
  const agent = new Agent({ keepAliveTimeout: 1000 })
    .compose(cacheInterceptor({ cacheWriteTimeout: 60_000, ...options, cache }))
  t.teardown(() => agent.destroy())
  return { cache, agent }
}

/** Every regular file below `dir`. */
function walk (dir) {
  let entries
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch {
    return []
  }
  return entries.flatMap((e) => e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)])
}

/** The content files of a cache (bodies, named by their hash). */
const contentFiles = (cache) => walk(path.join(cache.dir, CONTENT_DIR))

/** The content file of `integrity` ('sha256-<base64>'), by the core's layout. */
const contentFile = (cache, integrity) => contentFileFor(cache.dir, integrity)

/** Deterministic bytes of any size. */
function bytes (size, seed = 1) {
  const out = Buffer.allocUnsafe(size)
  let x = seed >>> 0
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A cache whose write streams are altered by `patch(ws)`: everything else goes to `cache`.
 * Lets tests simulate a failing or stalled disk.
 */
function withWriteStreams (cache, patch) {
  return new Proxy(cache, {
    get (target, prop) {
      if (prop === 'createWriteStream') {
        return (key, entry) => {
          const ws = target.createWriteStream(key, entry)
          patch(ws)
          return ws
        }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

module.exports = {
  startOrigin, tempCache, cachingAgent, contentFiles, contentFile, flipByte, bytes, sleep, withWriteStreams, walk,
}
