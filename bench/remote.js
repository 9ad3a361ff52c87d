#!/usr/bin/env node
'use strict'
// Shared-tier benchmark (issue 14): `node bench/remote.js [--quick]`. Needs redis-server
// (`bash scripts/redis-ci.sh`) and a build (`npm run build` for numbers that mean anything).
//
// 1. Hit latency and throughput for 1 KiB and 1 MiB bodies: a local disk hit
//    (StreamingCache), an L2 hit (RemoteTier: chunked, content-addressed, verified while it
//    streams) and whole-body storage in Redis read by a JS client (iovalkey GET of one value,
//    as undici-cache-redis stores bodies). Each system runs in its own process.
// 2. Through cacheInterceptor (the wired `remote` option), requests/s of a local miss
//    answered by Redis (an L2 hit, teed into the local disk) vs one answered by the origin
//    (a node:http server on 127.0.0.1, no added latency: the cheapest origin there is) vs a
//    local disk hit. Each run is a fresh process and cache directory; median (min-max) of runs.
// 3. Origin requests across 3 "hosts" (separate cache dirs) on a Zipf trace, with the shared
//    tier and without it (Redis unreachable), through cacheInterceptor in child processes
//    (__test__/helpers/remote-wired-host.js).
const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
const KiB = 1024
const MiB = 1024 * KiB
const QUICK = process.argv.includes('--quick')

// ---------------------------------------------------------------------------------------
// Child: one system, one size.

async function child ({ system, size, url, hits, concurrency }) {
  const body = crypto.randomBytes(size)
  const keys = Array.from({ length: 16 }, (_, i) => `GET https://bench.example/${size}/${i}`)
  let read
  let close = async () => {}
  if (system === 'disk') {
    const { StreamingCache } = require(ROOT)
    const cache = await StreamingCache.withTempDir(1000)
    for (const key of keys) await cache.put(key, { status: 200, body })
    read = async (key) => {
      const hit = await cache.get(key)
      let n = 0
      for await (const chunk of hit.body) n += chunk.length
      return n
    }
    close = async () => { await cache.close(); fs.rmSync(cache.dir, { recursive: true, force: true }) }
  } else if (system === 'l2') {
    const { RemoteTier } = require(path.join(ROOT, 'lib', 'remote'))
    const tier = new RemoteTier({ url, prefix: `bench${process.pid}`, lookupTimeout: 1000 })
    for (const key of keys) await tier.put(key, { body, meta: { status: 200 }, freshFor: 600_000 })
    read = async (key) => {
      const hit = await tier.get(key)
      let n = 0
      for await (const chunk of hit.body) n += chunk.length
      return n
    }
  } else if (system === 'whole') {
    const Redis = require('iovalkey')
    const client = new Redis(url, { lazyConnect: false })
    for (const key of keys) {
      await client.set(`meta:${key}`, JSON.stringify({ status: 200, size }))
      await client.set(`body:${key}`, body)
    }
    // Metadata, then the whole body as one value (two round trips, as a store with
    // separate metadata and body keys does).
    read = async (key) => {
      JSON.parse(await client.get(`meta:${key}`))
      return (await client.getBuffer(`body:${key}`)).length
    }
    close = async () => { client.disconnect() }
  }
  for (let i = 0; i < 20; i++) await read(keys[i % keys.length]) // warm up
  const latencies = []
  for (let i = 0; i < hits; i++) {
    const start = process.hrtime.bigint()
    const n = await read(keys[i % keys.length])
    latencies.push(Number(process.hrtime.bigint() - start) / 1000)
    if (n !== size) throw new Error(`${system} read ${n} of ${size} bytes`)
  }
  latencies.sort((a, b) => a - b)
  let next = 0
  const start = process.hrtime.bigint()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < hits) await read(keys[next++ % keys.length])
  }))
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  await close()
  return {
    p50: latencies[Math.floor(latencies.length / 2)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    hitsPerSecond: hits / seconds,
    mbPerSecond: (hits * size) / seconds / MiB,
  }
}

// ---------------------------------------------------------------------------------------
// Child: requests through cacheInterceptor, one way of answering them.

async function wiredChild ({ mode, url, prefix, originUrl, paths, concurrency }) {
  const { StreamingCache } = require(ROOT)
  const { cacheInterceptor } = require(path.join(ROOT, 'undici'))
  const { Agent, request } = require('undici')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-bench-wired-'))
  const cache = new StreamingCache(dir, {
    ...(mode === 'l2' || mode === 'populate' ? { remote: { url, prefix, lookupTimeout: 1000, opTimeout: 10_000 } } : {}),
  })
  const dispatcher = new Agent({ connections: 64 }).compose(cacheInterceptor({ cache }))
  const fetchAll = async () => {
    let next = 0
    let bytes = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < paths.length) {
        const res = await request(originUrl + paths[next++], { dispatcher })
        for await (const chunk of res.body) bytes += chunk.length
      }
    }))
    return bytes
  }
  if (mode === 'local') await fetchAll() // warm: every path stored locally
  const start = process.hrtime.bigint()
  await fetchAll()
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  const { kRemoteLink } = require(path.join(ROOT, 'lib', 'remote-link'))
  const link = cache[kRemoteLink]
  if (link) {
    await link.settled()
    await link.tier.flush(60_000)
  }
  const remote = cache.stats().remote
  if (mode === 'l2' && remote.hits !== paths.length) throw new Error(`only ${remote.hits} of ${paths.length} were L2 hits`)
  await cache.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { requestsPerSecond: paths.length / seconds }
}

// ---------------------------------------------------------------------------------------
// Parent.

function runChild (args, role = '--child') {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, [role, JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    proc.once('message', resolve)
    proc.once('exit', (code) => code !== 0 && reject(new Error(`child exited with ${code}`)))
  })
}

/** Zipf(s=1) ranks over `n` objects, deterministic (mulberry32). */
function zipfTrace (n, length, seed = 42) {
  let a = seed
  const random = () => {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const weights = Array.from({ length: n }, (_, i) => 1 / (i + 1))
  const total = weights.reduce((x, y) => x + y, 0)
  return Array.from({ length }, () => {
    let r = random() * total
    for (let i = 0; i < n; i++) if ((r -= weights[i]) <= 0) return i
    return n - 1
  })
}

async function originRequests (redisUrl, trace, size) {
  let requests = 0
  const bodies = new Map()
  const origin = http.createServer((req, res) => {
    requests++
    if (!bodies.has(req.url)) bodies.set(req.url, crypto.randomBytes(size))
    res.setHeader('cache-control', 'max-age=600')
    res.end(bodies.get(req.url))
  })
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const originUrl = `http://127.0.0.1:${origin.address().port}`
  const extra = JSON.stringify({ prefix: `zipf${process.pid}${redisUrl.length}`, connectTimeout: 100, lookupTimeout: 1000 })
  const hosts = [0, 1, 2].map(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-bench-host-'))
    const proc = fork(path.join(ROOT, '__test__', 'helpers', 'remote-wired-host.js'), [dir, redisUrl, originUrl, extra])
    const waiting = new Map()
    let id = 0
    const ready = new Promise((resolve) => proc.on('message', (m) => {
      if (m.ready) return resolve()
      waiting.get(m.id)?.(m)
    }))
    const call = (op, fields) => new Promise((resolve) => { const i = id++; waiting.set(i, resolve); proc.send({ id: i, op, ...fields }) })
    return { proc, dir, ready, call }
  })
  await Promise.all(hosts.map((h) => h.ready))
  // Requests round-robin over the hosts, three at a time (one per host).
  for (let i = 0; i < trace.length; i += 3) {
    await Promise.all(hosts.map((h, j) => i + j < trace.length && h.call('get', { path: `/obj/${trace[i + j]}` })))
  }
  for (const h of hosts) { h.proc.kill(); fs.rmSync(h.dir, { recursive: true, force: true }) }
  origin.close()
  return requests
}

/** Median (min-max) of `runs` values, formatted. */
function medianRange (values, digits = 0) {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted[Math.floor(sorted.length / 2)]
  return { median, text: `${median.toFixed(digits)} (${sorted[0].toFixed(digits)}-${sorted[sorted.length - 1].toFixed(digits)})` }
}

/** Requests/s through cacheInterceptor: L2 hit vs origin fetch vs local disk hit. */
async function wiredRows (redisUrl) {
  const runs = QUICK ? 3 : 5
  const rows = []
  for (const size of [1 * KiB, 1 * MiB]) {
    const n = size === KiB ? (QUICK ? 500 : 2000) : (QUICK ? 50 : 200)
    const paths = Array.from({ length: n }, (_, i) => `/wired/${size}/${i}`)
    const body = crypto.randomBytes(size)
    const origin = http.createServer((req, res) => {
      res.setHeader('cache-control', 'max-age=600')
      res.end(body)
    })
    await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
    const originUrl = `http://127.0.0.1:${origin.address().port}`
    const prefix = `wired${process.pid}x${size}`
    const base = { url: redisUrl, prefix, originUrl, paths, concurrency: 8 }
    await runChild({ ...base, mode: 'populate' }, '--wired') // every path into Redis
    const results = {}
    for (const mode of ['l2', 'origin', 'local']) {
      const values = []
      for (let i = 0; i < runs; i++) values.push((await runChild({ ...base, mode }, '--wired')).requestsPerSecond)
      results[mode] = medianRange(values)
    }
    origin.close()
    rows.push({ size: size === KiB ? '1 KiB' : '1 MiB', results })
  }
  return { rows, runs }
}

async function main () {
  const { startRedis } = require(path.join(ROOT, '__test__', 'helpers', 'redis-server'))
  const { server, reason } = await startRedis()
  if (server === null) {
    console.log(`skipped: ${reason}`)
    return
  }
  try {
    const rows = []
    for (const size of [1 * KiB, 1 * MiB]) {
      const hits = size === KiB ? (QUICK ? 2000 : 10000) : (QUICK ? 100 : 500)
      for (const system of ['disk', 'l2', 'whole']) {
        const r = await runChild({ system, size, url: server.url, hits, concurrency: 16 })
        rows.push({ size: size === KiB ? '1 KiB' : '1 MiB', system, ...r })
      }
    }
    console.log('\n| body | system | p50 µs | p99 µs | hits/s (16 concurrent) | MiB/s |')
    console.log('|---|---|---:|---:|---:|---:|')
    const label = { disk: 'local disk hit', l2: 'L2 hit (RemoteTier, chunked, verified)', whole: 'whole-body GET (iovalkey)' }
    for (const r of rows) {
      const disk = rows.find((x) => x.size === r.size && x.system === 'disk')
      console.log(`| ${r.size} | ${label[r.system]} | ${r.p50.toFixed(0)} | ${r.p99.toFixed(0)} | ${r.hitsPerSecond.toFixed(0)} (${(r.hitsPerSecond / disk.hitsPerSecond).toFixed(2)}x disk) | ${r.mbPerSecond.toFixed(1)} |`)
    }

    const wired = await wiredRows(server.url)
    console.log(`\nThrough cacheInterceptor, 8 concurrent requests, each run a fresh process and cache dir; requests/s, median (min-max) of ${wired.runs} runs:`)
    console.log('| body | L2 hit (Redis -> caller + local disk) | origin fetch (127.0.0.1, no latency) | local disk hit | L2 / origin |')
    console.log('|---|---:|---:|---:|---:|')
    for (const { size, results } of wired.rows) {
      console.log(`| ${size} | ${results.l2.text} | ${results.origin.text} | ${results.local.text} | ${(results.l2.median / results.origin.median).toFixed(2)}x |`)
    }

    const trace = zipfTrace(100, QUICK ? 150 : 600)
    const withL2 = await originRequests(server.url, trace, 64 * KiB)
    const withoutL2 = await originRequests('redis://127.0.0.1:1', trace, 64 * KiB)
    console.log(`\nOrigin requests, 3 hosts, Zipf(1) trace of ${trace.length} requests over 100 objects (${new Set(trace).size} distinct):`)
    console.log(`| without the shared tier | with it | saved |\n|---:|---:|---:|\n| ${withoutL2} | ${withL2} | ${(100 * (1 - withL2 / withoutL2)).toFixed(0)}% |`)
  } finally {
    await server.stop()
  }
}

if (process.argv[2] === '--wired') {
  wiredChild(JSON.parse(process.argv[3])).then((r) => { process.send(r); process.disconnect() }, (err) => { console.error(err); process.exit(1) })
} else if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).then((r) => { process.send(r); process.disconnect() }, (err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
