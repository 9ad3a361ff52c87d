'use strict'
// Request coalescing: concurrent misses for one key make one origin request; the others wait
// for its response to start (bounded by coalesceTimeout), then read its body as it arrives.
const test = require('ava')
const crypto = require('node:crypto')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { request } = require('undici')
const { startOrigin, cachingAgent, bytes, sleep } = require('./helpers/interceptor-origin')

const MiB = 1024 * 1024
const execFileAsync = promisify(execFile)

/** Streams `body` in 256 KiB writes, pausing `gapMs` between them. */
function slowly (res, body, gapMs) {
  let at = 0
  const next = () => {
    if (at >= body.length) return res.end()
    const chunk = body.subarray(at, at + 256 * 1024)
    at += chunk.length
    res.write(chunk)
    setTimeout(next, gapMs)
  }
  next()
}

async function digestOf (dispatcher, url, headers = {}) {
  const res = await request(url, { dispatcher, headers })
  const hash = crypto.createHash('sha256')
  let size = 0
  for await (const chunk of res.body) {
    hash.update(chunk)
    size += chunk.length
  }
  return { status: res.statusCode, digest: hash.digest('hex'), size, xcache: res.headers['x-cache'] }
}

test('50 concurrent requests for one 10 MiB URL: 1 origin request, 50 identical bodies, bounded memory', async (t) => {
  const body = bytes(10 * MiB, 77)
  const expected = crypto.createHash('sha256').update(body).digest('hex')
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length })
    slowly(res, body, 5)
  })
  // The requests run in a child process (the origin is this one), so its RSS is the cache's.
  const { stdout } = await execFileAsync(process.execPath,
    ['--expose-gc', path.join(__dirname, 'fixtures', 'coalesce-rss.js'), origin.url('/big'), origin.url('/warm-up'), '50'],
    { maxBuffer: 16 * MiB })
  const { growthMiB, bodies } = JSON.parse(stdout)
  t.log(`RSS growth while serving 50 x 10 MiB: ${growthMiB.toFixed(1)} MiB`)
  t.is(origin.hits('/big'), 1, 'one origin request')
  t.is(bodies.length, 50)
  for (const r of bodies) {
    t.is(r.size, body.length)
    t.is(r.digest, expected)
  }
  t.is(bodies.filter((r) => r.xcache === 'MISS').length, 1, 'the one that went to the origin')
  // Nothing is buffered per waiter (that would be 500 MiB): waiters that keep up share the
  // spool's last MiB in memory, the others read its file. Measured 2-24 MiB, median 11 (debug
  // build); reading every waiter's share from the file, as before, cost 32-44 MiB, median 42.
  // The bound is generous: RSS is noisy.
  t.true(growthMiB < 64, `RSS growth ${growthMiB.toFixed(1)} MiB: no body held in memory per request`)
})

test('a response that turns out uncacheable releases the waiters to the origin', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'no-store' })
      res.end(`answer ${n}`)
    }, n === 1 ? 200 : 0)
  })
  const { agent } = await cachingAgent(t)
  const texts = await Promise.all(Array.from({ length: 5 }, async () => {
    const res = await request(origin.url('/private'), { dispatcher: agent })
    return res.body.text()
  }))
  t.is(origin.hits('/private'), 5, 'each went to the origin')
  t.deepEqual(new Set(texts).size, 5)
})

test('waiters give up after coalesceTimeout (the response has not started) and ask the origin themselves', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      setTimeout(() => {
        res.writeHead(200, { 'cache-control': 'max-age=600' })
        res.end('slow first')
      }, 1500)
    } else {
      res.writeHead(200, { 'cache-control': 'max-age=600' })
      res.end(`quick ${n}`)
    }
  })
  const { agent } = await cachingAgent(t, { coalesceTimeout: 100 })
  const first = request(origin.url('/slow'), { dispatcher: agent }).then((res) => res.body.text())
  await sleep(30)
  const started = Date.now()
  const second = await (await request(origin.url('/slow'), { dispatcher: agent })).body.text()
  t.true(Date.now() - started < 1000, 'did not wait for the slow first response')
  t.regex(second, /^quick \d$/)
  t.is(await first, 'slow first')
  t.is(origin.hits('/slow'), 2)
})

test('a waiter whose Vary variant differs goes to the origin after the first response lands', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' })
      res.end(`in ${req.headers['accept-language']}`)
    }, 100)
  })
  const { agent } = await cachingAgent(t)
  const [de, fr, de2] = await Promise.all(['de', 'fr', 'de'].map(async (lang) => {
    const res = await request(origin.url('/v'), { dispatcher: agent, headers: { 'accept-language': lang } })
    return res.body.text()
  }))
  t.deepEqual([de, fr, de2], ['in de', 'in fr', 'in de'])
  t.is(origin.hits('/v'), 2, 'de once, fr once')
})

test('a waiting caller can abort', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600' })
    setTimeout(() => res.end('late'), 500)
  })
  const { agent } = await cachingAgent(t)
  const first = request(origin.url('/a'), { dispatcher: agent }).then((res) => res.body.text())
  await sleep(30)
  const controller = new AbortController()
  const second = request(origin.url('/a'), { dispatcher: agent, signal: controller.signal })
  setTimeout(() => controller.abort(), 50)
  const err = await t.throwsAsync(second, { any: true })
  t.is(err.name, 'AbortError')
  t.is(await first, 'late')
  t.is(origin.hits('/a'), 1)
})

test('waiters get the body as it arrives, before the origin has sent all of it', async (t) => {
  let finish
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '10' })
    res.write('first')
    finish = () => res.end('-last')
  })
  const { agent } = await cachingAgent(t)
  const leader = await request(origin.url('/stream'), { dispatcher: agent })
  const waiter = await request(origin.url('/stream'), { dispatcher: agent })
  t.is(waiter.headers['x-cache'], 'HIT')
  const chunks = waiter.body[Symbol.asyncIterator]()
  const firstOfWaiter = await chunks.next()
  t.is(firstOfWaiter.value.toString(), 'first', 'read while the origin is still sending')
  finish()
  t.is(await leader.body.text(), 'first-last')
  let rest = ''
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) rest += next.value
  t.is('first' + rest, 'first-last')
  t.is(origin.hits('/stream'), 1)
})

test('a waiter reading the body as it arrives fails when the origin fails mid-body; nothing is stored', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': '100' })
    res.write('partial')
    setTimeout(() => res.destroy(), 100)
  })
  const { agent, cache } = await cachingAgent(t)
  const leader = request(origin.url('/broken'), { dispatcher: agent }).then((res) => res.body.text())
  await sleep(30)
  const waiter = request(origin.url('/broken'), { dispatcher: agent }).then((res) => res.body.text())
  await t.throwsAsync(leader)
  await t.throwsAsync(waiter)
  t.deepEqual(cache.keys(), [])
})

test('a waiter that falls far behind reads the rest of the body from the spool file, intact', async (t) => {
  const body = bytes(8 * MiB, 5)
  const expected = crypto.createHash('sha256').update(body).digest('hex')
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-length': body.length })
    slowly(res, body, 2)
  })
  const { agent } = await cachingAgent(t, {}, { maxBodySize: 64 * MiB })
  const leader = digestOf(agent, origin.url('/lagging'))
  await sleep(20)
  // The waiter takes its first chunk, then stops reading until the origin sent everything:
  // the spool's memory window (1 MiB) has long moved on.
  const waiter = await request(origin.url('/lagging'), { dispatcher: agent })
  t.is(waiter.headers['x-cache'], 'HIT')
  const chunks = waiter.body[Symbol.asyncIterator]()
  const hash = crypto.createHash('sha256')
  const first = await chunks.next()
  hash.update(first.value)
  let size = first.value.length
  t.is((await leader).digest, expected)
  for (let next = await chunks.next(); !next.done; next = await chunks.next()) {
    hash.update(next.value)
    size += next.value.length
  }
  t.is(size, body.length)
  t.is(hash.digest('hex'), expected)
  t.is(origin.hits('/lagging'), 1)
})
