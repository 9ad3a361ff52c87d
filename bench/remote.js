#!/usr/bin/env node
'use strict'
// Shared-tier benchmark (issue 14): `node bench/remote.js [--quick]`. Needs redis-server
// (`bash scripts/redis-ci.sh`) and a build (`npm run build` for numbers that mean anything).
//
// 1. Hit latency and throughput for 1 KiB and 1 MiB bodies: a local disk hit
//    (StreamingCache), an L2 hit (RemoteTier: chunked, content-addressed, verified while it
//    streams) and whole-body storage in Redis read by a JS client (iovalkey GET of one value,
//    as undici-cache-redis stores bodies). Each system runs in its own process.
// 2. Origin requests across 3 "hosts" (separate cache dirs) on a Zipf trace, with the shared
//    tier and without it (Redis unreachable), through __test__/helpers/remote-host.js.
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
// Parent.

function runChild (args) {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--child', JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
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
  const origin = http.createServer((req, res) => { requests++; res.end(crypto.randomBytes(size)) })
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const originUrl = `http://127.0.0.1:${origin.address().port}`
  const hosts = [0, 1, 2].map(() => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-bench-host-'))
    const proc = fork(path.join(ROOT, '__test__', 'helpers', 'remote-host.js'), [dir, redisUrl, originUrl])
    const waiting = new Map()
    let id = 0
    const ready = new Promise((resolve) => proc.on('message', (m) => {
      if (m.ready) return resolve()
      waiting.get(m.id)?.(m)
    }))
    const fetch = (p) => new Promise((resolve) => { const i = id++; waiting.set(i, resolve); proc.send({ id: i, path: p }) })
    return { proc, dir, ready, fetch }
  })
  await Promise.all(hosts.map((h) => h.ready))
  // Requests round-robin over the hosts, three at a time (one per host).
  for (let i = 0; i < trace.length; i += 3) {
    await Promise.all(hosts.map((h, j) => i + j < trace.length && h.fetch(`/obj/${trace[i + j]}`)))
  }
  for (const h of hosts) { h.proc.kill(); fs.rmSync(h.dir, { recursive: true, force: true }) }
  origin.close()
  return requests
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

    const trace = zipfTrace(100, QUICK ? 150 : 600)
    const withL2 = await originRequests(server.url, trace, 64 * KiB)
    const withoutL2 = await originRequests('redis://127.0.0.1:1', trace, 64 * KiB)
    console.log(`\nOrigin requests, 3 hosts, Zipf(1) trace of ${trace.length} requests over 100 objects (${new Set(trace).size} distinct):`)
    console.log(`| without the shared tier | with it | saved |\n|---:|---:|---:|\n| ${withoutL2} | ${withL2} | ${(100 * (1 - withL2 / withoutL2)).toFixed(0)}% |`)
  } finally {
    await server.stop()
  }
}

if (process.argv[2] === '--child') {
  child(JSON.parse(process.argv[3])).then((r) => { process.send(r); process.disconnect() }, (err) => { console.error(err); process.exit(1) })
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
