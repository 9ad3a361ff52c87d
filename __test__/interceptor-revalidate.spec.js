'use strict'
// cacheInterceptor revalidation: stale entries are revalidated with conditional requests; a
// 304 refreshes headers and policy without rewriting the body; a 200 replaces the entry.
const test = require('ava')
const fs = require('node:fs')
const { fetch, request } = require('undici')
const { startOrigin, cachingAgent, contentFile, contentFiles, bytes, sleep } = require('./helpers/interceptor-origin')

test('ETag: a 304 refreshes the stored headers and policy, keeps the body file, and serves the body', async (t) => {
  const body = bytes(20_000, 11)
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"', 'x-version': 'first' })
      return res.end(body)
    }
    t.is(req.headers['if-none-match'], '"v1"')
    res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"v1"', 'x-version': 'refreshed' })
    res.end()
  })
  const { cache, agent } = await cachingAgent(t)
  const key = `GET ${origin.url('/etag')}`
  await (await fetch(origin.url('/etag'), { dispatcher: agent })).arrayBuffer()
  const before = cache.peek(key)
  t.true(before.policy.isStale())
  const file = contentFile(cache, before.integrity)
  const stat = fs.statSync(file)

  const res = await fetch(origin.url('/etag'), { dispatcher: agent })
  t.is(res.status, 200)
  t.is(res.headers.get('x-cache'), 'HIT')
  t.is(res.headers.get('x-cache-lookup'), 'HIT')
  t.is(res.headers.get('x-version'), 'refreshed')
  t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
  t.is(origin.hits(), 2)

  const after = cache.peek(key)
  t.is(after.integrity, before.integrity, 'same body')
  t.is(after.size, before.size)
  t.is(after.headers['x-version'], 'refreshed')
  t.is(after.headers['cache-control'], 'max-age=600')
  t.false(after.policy.isStale())
  t.true(after.metadata.receivedAt >= before.metadata.receivedAt)
  const statAfter = fs.statSync(file)
  t.is(statAfter.ino, stat.ino, 'the content file was not rewritten')
  t.is(statAfter.mtimeMs, stat.mtimeMs)
  t.deepEqual(contentFiles(cache), [file])

  // Fresh again: served without asking.
  const third = await fetch(origin.url('/etag'), { dispatcher: agent })
  t.is(third.headers.get('x-cache'), 'HIT')
  t.deepEqual(Buffer.from(await third.arrayBuffer()), body)
  t.is(origin.hits(), 2)
})

test('Last-Modified: the conditional request carries If-Modified-Since', async (t) => {
  const lastModified = new Date(Date.now() - 3600_000).toUTCString()
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'no-cache', 'last-modified': lastModified })
      return res.end('dated body')
    }
    t.is(req.headers['if-modified-since'], lastModified)
    res.writeHead(304, { 'last-modified': lastModified })
    res.end()
  })
  const { agent } = await cachingAgent(t)
  t.is(await (await fetch(origin.url('/lm'), { dispatcher: agent })).text(), 'dated body')
  for (let i = 0; i < 2; i++) {
    const res = await request(origin.url('/lm'), { dispatcher: agent })
    t.is(res.headers['x-cache'], 'HIT')
    t.is(await res.body.text(), 'dated body')
  }
  t.is(origin.hits(), 3, 'cache-control: no-cache means revalidate every time')
})

test('a 200 answer to the conditional request replaces the entry', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' })
      return res.end('version one')
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v2"' })
    res.end('version two, longer')
  })
  const { cache, agent } = await cachingAgent(t)
  const key = `GET ${origin.url('/replace')}`
  t.is(await (await fetch(origin.url('/replace'), { dispatcher: agent })).text(), 'version one')
  const old = cache.peek(key)

  const res = await fetch(origin.url('/replace'), { dispatcher: agent })
  t.is(res.headers.get('x-cache'), 'MISS')
  t.is(res.headers.get('x-cache-lookup'), 'HIT')
  t.is(await res.text(), 'version two, longer')
  const now = cache.peek(key)
  t.not(now.integrity, old.integrity)
  t.is(now.headers.etag, '"v2"')

  const hit = await fetch(origin.url('/replace'), { dispatcher: agent })
  t.is(hit.headers.get('x-cache'), 'HIT')
  t.is(await hit.text(), 'version two, longer')
  t.is(origin.hits(), 2)
  await sleep(50)
  t.is(contentFiles(cache).length, 1, 'the old body is gone')
})

test('a 304 whose validator does not match is not used: the full response is fetched again', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' })
      return res.end('one')
    }
    if (req.headers['if-none-match']) {
      res.writeHead(304, { etag: '"other"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v3"' })
    res.end('three')
  })
  const { agent } = await cachingAgent(t)
  t.is(await (await fetch(origin.url('/mismatch'), { dispatcher: agent })).text(), 'one')
  const res = await fetch(origin.url('/mismatch'), { dispatcher: agent })
  t.is(await res.text(), 'three')
  t.is(origin.hits(), 3)
  t.is(origin.requests[2].headers['if-none-match'], undefined)
})

test('a revalidation answered with no-store drops the entry', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' })
      return res.end('one')
    }
    res.writeHead(200, { 'cache-control': 'no-store' })
    res.end('private now')
  })
  const { cache, agent } = await cachingAgent(t)
  await (await fetch(origin.url('/gone'), { dispatcher: agent })).text()
  t.is(cache.keys().length, 1)
  t.is(await (await fetch(origin.url('/gone'), { dispatcher: agent })).text(), 'private now')
  t.deepEqual(cache.keys(), [])
})

test('a HEAD with only a stale stored GET revalidates it: a 304 freshens the GET entry (RFC 9111 4.3.5)', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    if (req.headers['if-none-match'] === '"g1"') {
      res.writeHead(304, { 'cache-control': 'max-age=600', etag: '"g1"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"g1"', 'x-stored': 'yes' })
    res.end('get body')
  })
  const { agent } = await cachingAgent(t)
  t.is(await (await request(origin.url('/h'), { dispatcher: agent })).body.text(), 'get body')
  const head = await request(origin.url('/h'), { method: 'HEAD', dispatcher: agent })
  await head.body.dump()
  t.is(head.statusCode, 200)
  t.is(head.headers['x-stored'], 'yes', 'answered from the stored GET')
  t.is(origin.requests[1].method, 'HEAD')
  t.is(origin.requests[1].headers['if-none-match'], '"g1"')
  const get = await request(origin.url('/h'), { dispatcher: agent })
  t.is(await get.body.text(), 'get body')
  t.is(get.headers['x-cache'], 'HIT', 'the GET entry is fresh now')
  t.is(origin.hits(), 2)
})
