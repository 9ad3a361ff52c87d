'use strict'
// stale-while-revalidate (RFC 5861) and the interceptor's diagnostics_channel events.
const test = require('ava')
const diagnosticsChannel = require('node:diagnostics_channel')
const { request } = require('undici')
const { startOrigin, cachingAgent, sleep } = require('./helpers/interceptor-origin')
const { CHANNEL_NAMES } = require('../lib/undici/diagnostics')

async function get (agent, url) {
  const res = await request(url, { dispatcher: agent })
  return { text: await res.body.text(), headers: res.headers }
}

/** Waits until `check()` is true (polling), at most `ms`. */
async function until (check, ms = 5000) {
  const deadline = Date.now() + ms
  while (!check() && Date.now() < deadline) await sleep(10)
  return check()
}

test('within stale-while-revalidate the stale entry is served at once and revalidated once in the background (304)', async (t) => {
  let release
  const gate = new Promise((resolve) => { release = resolve })
  const origin = await startOrigin(t, async (req, res, n) => {
    if (n > 1) await gate // the background revalidation is held until the test lets it go
    if (n > 1 && req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { 'cache-control': 'max-age=60, stale-while-revalidate=60', etag: '"v1"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=2, stale-while-revalidate=60', etag: '"v1"' })
    res.end('version 1')
  })
  const { agent, cache } = await cachingAgent(t)
  t.is((await get(agent, origin.url('/s'))).text, 'version 1')
  await sleep(2100) // stale now, inside the window

  const started = Date.now()
  const answers = await Promise.all([1, 2, 3].map(() => get(agent, origin.url('/s'))))
  t.true(Date.now() - started < 1000, 'answered without waiting for the origin')
  for (const a of answers) {
    t.is(a.text, 'version 1')
    t.is(a.headers['x-cache'], 'HIT')
  }
  t.true(await until(() => origin.hits('/s') === 2), 'the background revalidation reached the origin')
  await sleep(100)
  t.is(origin.hits('/s'), 2, 'one background revalidation for three stale hits')
  release()
  const key = `GET ${origin.url('/s')}`
  t.true(await until(() => cache.peek(key)?.policy.timeToLive() > 30_000), 'the 304 updated the entry')
  const fresh = await get(agent, origin.url('/s'))
  t.is(fresh.text, 'version 1')
  t.is(origin.hits('/s'), 2, 'fresh again: no more requests')
})

test('a background revalidation answered 200 replaces the entry', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=30, stale-while-revalidate=60', date: new Date(Date.now() - (n === 1 ? 31_000 : 0)).toUTCString() })
    res.end(`version ${n}`)
  })
  const { agent } = await cachingAgent(t)
  // Already 31 s old when stored: stale at once, inside the window.
  t.is((await get(agent, origin.url('/r'))).text, 'version 1')
  t.is((await get(agent, origin.url('/r'))).text, 'version 1', 'stale, served at once')
  t.true(await until(() => origin.hits('/r') === 2))
  let text
  for (let i = 0; i < 100; i++) {
    text = (await get(agent, origin.url('/r'))).text
    if (text === 'version 2') break
    await sleep(20)
  }
  t.is(text, 'version 2')
  t.is(origin.hits('/r'), 2)
})

test('past the stale-while-revalidate window the request waits for the origin', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=1, stale-while-revalidate=1' })
    res.end(`version ${n}`)
  })
  const { agent } = await cachingAgent(t)
  await get(agent, origin.url('/w'))
  await sleep(2100)
  const res = await get(agent, origin.url('/w'))
  t.is(res.text, 'version 2')
  t.is(res.headers['x-cache'], 'MISS')
})

test('diagnostics_channel: miss, stored, hit, stale and revalidated events carry the key and the outcome', async (t) => {
  const events = []
  const subscriptions = CHANNEL_NAMES.map((name) => {
    const listener = (message) => events.push({ name: name.split(':').pop(), ...message })
    diagnosticsChannel.subscribe(name, listener)
    return () => diagnosticsChannel.unsubscribe(name, listener)
  })
  t.teardown(() => subscriptions.forEach((unsubscribe) => unsubscribe()))
  const origin = await startOrigin(t, (req, res) => {
    if (req.headers['if-none-match'] === '"d"') {
      res.writeHead(304, { 'cache-control': 'max-age=2', etag: '"d"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=2', etag: '"d"' })
    res.end('diag')
  })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/d')
  const key = `GET ${url}`
  await get(agent, url)
  await get(agent, url)
  await sleep(2100)
  await get(agent, url)
  await request(url, { dispatcher: agent, headers: { 'if-none-match': '"other"' } }).then((res) => res.body.dump())
  const mine = events.filter((e) => e.url === url)
  t.deepEqual(mine.map((e) => e.name), ['miss', 'stored', 'hit', 'revalidated', 'bypass'])
  for (const e of mine) {
    t.is(e.key, key)
    t.is(e.method, 'GET')
  }
  t.is(mine[1].entryKey, key)
  t.is(mine[1].size, 4)
})
