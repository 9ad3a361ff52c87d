'use strict'
// node examples/undici-interceptor.js
//
// undici + cacheInterceptor against a local origin on 127.0.0.1: the first request is a MISS
// (streamed to us while written to disk), the second a HIT (no origin request), a stale entry
// is revalidated with a conditional request (304: the stored body is reused), a POST
// invalidates what was stored for its URL, and concurrent misses for one URL are coalesced
// into one origin request. Every outcome is also published on diagnostics_channel.
const http = require('node:http')
const diagnosticsChannel = require('node:diagnostics_channel')
const { Agent, fetch, request } = require('undici')
const { StreamingCache } = require('..') // require('http-streaming-cache') in your code
const { cacheInterceptor } = require('../undici') // require('http-streaming-cache/undici')

async function main () {
  let originHits = 0
  const origin = http.createServer((req, res) => {
    originHits++
    if (req.method === 'POST') {
      res.writeHead(204)
      return res.end()
    }
    if (req.url === '/news' && req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' })
      return res.end()
    }
    res.writeHead(200, {
      'content-type': 'text/plain',
      // /data is fresh for a minute; /news must be revalidated every time (but has an ETag).
      'cache-control': req.url === '/news' ? 'max-age=0' : 'max-age=60',
      etag: '"v1"',
    })
    res.end(`hello from the origin (${req.url}, request #${originHits})\n`)
  })
  await new Promise((resolve) => origin.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${origin.address().port}`

  // A persistent cache would be `new StreamingCache('./http-cache', { maxEntries: 10_000 })`;
  // this example uses a temporary directory, removed on exit.
  const cache = await StreamingCache.withTempDir(10_000)
  const agent = new Agent().compose(cacheInterceptor({ cache }))

  // Counts of each outcome, as a metrics exporter would keep them.
  const outcomes = {}
  for (const outcome of ['hit', 'stale', 'miss', 'revalidated', 'stored', 'coalesced', 'bypass']) {
    diagnosticsChannel.subscribe(`http-streaming-cache:interceptor:${outcome}`, () => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1
    })
  }

  async function show (label, url, init) {
    const res = await fetch(url, { dispatcher: agent, ...init })
    const text = (await res.text()).trim()
    console.log(`${label.padEnd(28)} ${res.status} x-cache=${res.headers.get('x-cache') ?? '-'}` +
      ` x-cache-lookup=${res.headers.get('x-cache-lookup') ?? '-'} age=${res.headers.get('age') ?? '-'}` +
      ` origin hits=${originHits}${text ? `  "${text}"` : ''}`)
  }

  try {
    console.log(`cache in ${cache.dir}\n`)
    await show('GET /data', `${base}/data`) // MISS: from the origin, stored
    await show('GET /data again', `${base}/data`) // HIT: from disk, origin not contacted
    await show('HEAD /data', `${base}/data`, { method: 'HEAD' }) // HIT: answered by the stored GET
    await show('GET /news', `${base}/news`) // MISS
    await show('GET /news again (stale)', `${base}/news`) // HIT after a 304 revalidation
    await show('POST /data', `${base}/data`, { method: 'POST', body: 'x' }) // invalidates /data
    await show('GET /data after the POST', `${base}/data`) // MISS again

    // undici's request() goes through the same cache.
    const { statusCode, headers, body } = await request(`${base}/data`, { dispatcher: agent })
    console.log(`${'request() /data'.padEnd(28)} ${statusCode} x-cache=${headers['x-cache']} "${(await body.text()).trim()}"`)

    // Ten concurrent requests for a URL nobody has fetched yet: one goes to the origin.
    const before = originHits
    await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/burst`, { dispatcher: agent }).then((res) => res.text())))
    console.log(`${'10 x GET /burst at once'.padEnd(28)} origin hits for them: ${originHits - before}`)

    console.log(`\nstored keys: ${JSON.stringify(cache.keys())}`)
    console.log(`events: ${JSON.stringify(outcomes)}`)
  } finally {
    await agent.close()
    origin.close()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
