'use strict'
// npm run demo: a temp-dir cache and a local origin. Streams a large body into the cache and
// back out, then fetches through undici with the cache interceptor (MISS, then HIT), printing
// sizes, chunk counts and peak memory along the way.
const http = require('node:http')
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const { StreamingCache } = require('..')

const MiB = 1024 * 1024
const BODY_SIZE = Number(process.env.DEMO_MIB ?? 256) * MiB
const PATTERN = crypto.randomBytes(64 * 1024)

function mib (bytes) { return `${(bytes / MiB).toFixed(1)} MiB` }

/** Samples RSS while `fn` runs; returns [result, peak RSS growth over the start]. */
async function withPeakRss (fn) {
  const start = process.memoryUsage().rss
  let peak = start
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss) }, 5)
  try {
    const result = await fn()
    peak = Math.max(peak, process.memoryUsage().rss)
    return [result, peak - start]
  } finally {
    clearInterval(timer)
  }
}

/** `size` bytes from a reused 64 KiB pattern: the source itself holds no more than that. */
function patternStream (size) {
  let sent = 0
  return new Readable({
    read () {
      const n = Math.min(PATTERN.length, size - sent)
      sent += n
      this.push(n === PATTERN.length ? PATTERN : PATTERN.subarray(0, n))
      if (sent === size) this.push(null)
    },
  })
}

async function streamingRoundTrip (cache) {
  console.log(`\n1. put + get of a ${mib(BODY_SIZE)} body, streamed both ways`)
  const t0 = process.hrtime.bigint()
  const [info, putGrowth] = await withPeakRss(() =>
    cache.put('demo:big', { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: patternStream(BODY_SIZE) }))
  const putMs = Number(process.hrtime.bigint() - t0) / 1e6
  console.log(`   put: ${mib(info.size)} in ${putMs.toFixed(0)} ms (${(info.size / MiB / (putMs / 1000)).toFixed(0)} MiB/s), integrity ${info.integrity.slice(0, 22)}...`)
  console.log(`        peak RSS growth ${mib(putGrowth)}`)

  const t1 = process.hrtime.bigint()
  const [stats, getGrowth] = await withPeakRss(async () => {
    const hit = await cache.get('demo:big')
    let chunks = 0; let bytes = 0; let largest = 0
    for await (const chunk of hit.body) {
      chunks++; bytes += chunk.length; largest = Math.max(largest, chunk.length)
    }
    return { chunks, bytes, largest }
  })
  const getMs = Number(process.hrtime.bigint() - t1) / 1e6
  console.log(`   get: ${mib(stats.bytes)} in ${stats.chunks} chunks (largest ${stats.largest} bytes) in ${getMs.toFixed(0)} ms (${(stats.bytes / MiB / (getMs / 1000)).toFixed(0)} MiB/s), hash verified`)
  console.log(`        peak RSS growth ${mib(getGrowth)}`)
}

async function throughUndici (cache) {
  let cacheInterceptor
  try {
    ({ cacheInterceptor } = require('../undici'))
  } catch {
    console.log('\n2. undici interceptor: not available in this build')
    return
  }
  const { Agent, fetch } = require('undici')
  let originHits = 0
  const origin = http.createServer((req, res) => {
    originHits++
    res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'max-age=60' })
    res.end(`hello from the origin, request #${originHits}\n`)
  })
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${origin.address().port}/greeting`
  const agent = new Agent().compose(cacheInterceptor({ cache }))
  try {
    console.log(`\n2. fetch ${url} through undici + cacheInterceptor`)
    for (let i = 1; i <= 2; i++) {
      const res = await fetch(url, { dispatcher: agent })
      const text = (await res.text()).trim()
      console.log(`   request ${i}: x-cache ${res.headers.get('x-cache')}, age ${res.headers.get('age') ?? '-'}: "${text}" (origin hits so far: ${originHits})`)
    }
  } finally {
    await agent.close()
    origin.close()
  }
}

async function main () {
  const cache = await StreamingCache.withTempDir(1000, { maxBodySize: 2 * BODY_SIZE })
  console.log(`http-streaming-cache demo: cache in ${cache.dir}`)
  await streamingRoundTrip(cache)
  await throughUndici(cache)
  console.log(`\nentries: ${cache.entryCount()}; the temp directory is removed on exit`)
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
