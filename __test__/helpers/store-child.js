'use strict'
// Child process for the StreamingCacheStore tests (forked with `serialization: 'advanced'`, so
// `undefined` fields survive the trip). Usage: node store-child.js <mode>, then send it the args.
//   write   { location, entries: [{ key, value, body }] }  stores each entry, reports nothing
//   read    { location, keys: [key] }                      reports { results: [fields+body|null] }
//   fetch   { location, url, times, headers }              fetches through the undici cache
//   memory  { url, sha256 }                                 the 50 MiB RSS scenario
const crypto = require('node:crypto')
const path = require('node:path')
const { once } = require('node:events')
const { Agent, interceptors, request } = require('undici')
const { StreamingCacheStore } = require(path.join(__dirname, '..', '..', 'undici'))

const mode = process.argv[2]

async function readBody (stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

async function write ({ location, entries }) {
  const store = new StreamingCacheStore({ location })
  for (const { key, value, body } of entries) {
    const stream = store.createWriteStream(key, value)
    stream.end(Buffer.from(body, 'base64'))
    await once(stream, 'close')
    if (!stream.writableFinished) throw new Error('write did not finish')
  }
  return {}
}

async function read ({ location, keys }) {
  const store = new StreamingCacheStore({ location })
  const results = []
  for (const key of keys) {
    const result = await store.get(key)
    if (result === undefined) {
      results.push(null)
      continue
    }
    const { body, ...fields } = result
    results.push({ fields, body: (await readBody(body)).toString('base64') })
  }
  return { results }
}

async function fetchThrough ({ location, url, times, headers }) {
  const store = new StreamingCacheStore({ location })
  const agent = new Agent().compose(interceptors.cache({ store }))
  const responses = []
  for (let i = 0; i < times; i++) {
    const res = await request(url, { dispatcher: agent, headers })
    const body = await res.body.text()
    responses.push({ status: res.statusCode, body, age: res.headers.age ?? null })
  }
  await agent.close()
  return { responses }
}

/**
 * Fetches `url` (a 50 MiB body served by the parent) twice through the cache, consuming the body
 * as it streams, and samples the RSS all along. The parent serves the body, so only the client
 * side (undici, the interceptor, the store, the disk writes and reads) counts here.
 */
async function memory ({ url, sha256 }) {
  // With --expose-gc, collect every 4 MiB: the RSS then shows what is kept, not garbage the
  // collector has not got to yet (which varies run to run).
  let sinceGc = 0
  const consume = (chunk) => {
    sinceGc += chunk.length
    if (sinceGc >= 4 * 1024 * 1024 && global.gc) {
      sinceGc = 0
      global.gc()
    }
  }

  const store = new StreamingCacheStore({ maxEntrySize: 256 * 1024 * 1024 })
  const agent = new Agent().compose(interceptors.cache({ store }))

  // Warm up before the baseline: module loading, the connection, and undici's own one-time
  // growth on its first large response (the parent serves `/warm` the same body, uncacheable).
  const warm = await request(new URL('/warm', url), { dispatcher: agent })
  for await (const chunk of warm.body) consume(chunk)

  global.gc?.()
  let peak = 0
  const sample = () => { peak = Math.max(peak, process.memoryUsage.rss()) }
  const baseline = process.memoryUsage.rss()
  const timer = setInterval(sample, 5)
  const results = []
  for (let i = 0; i < 2; i++) {
    const res = await request(url, { dispatcher: agent })
    const hash = crypto.createHash('sha256')
    let bytes = 0
    for await (const chunk of res.body) {
      hash.update(chunk)
      bytes += chunk.length
      consume(chunk)
      sample()
    }
    results.push({ status: res.statusCode, bytes, ok: hash.digest('hex') === sha256, age: res.headers.age ?? null })
  }
  clearInterval(timer)
  sample()
  await agent.close()
  return { results, baseline, peak, growth: peak - baseline }
}

const modes = { write, read, fetch: fetchThrough, memory }

process.once('message', (args) => {
  modes[mode](args).then((out) => {
    process.send(out, () => process.disconnect())
  }, (err) => {
    console.error(err)
    process.exitCode = 1
    process.disconnect()
  })
})
