'use strict'
// cacheInterceptor hits as raw handlers see them: the caller's pause/resume/abort drive the
// reads from disk, chunks stay within 64 KiB, and a lookup leaves no body open behind it.
const fs = require('node:fs')
const test = require('ava')
const { fetch } = require('undici')
const { undiciVersion } = require('./helpers/undici')
const { startOrigin, cachingAgent, bytes, sleep } = require('./helpers/interceptor-origin')

async function storedBody (t, size, seed, options) {
  const body = bytes(size, seed)
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', etag: '"v1"' })
    res.end(body)
  })
  const { cache, agent } = await cachingAgent(t, options)
  await (await fetch(origin.url('/b'), { dispatcher: agent })).arrayBuffer()
  return { body, origin, cache, agent }
}

/**
 * A new-style handler that pauses after every chunk and resumes `delay` ms later; records
 * whether any chunk arrived while it was paused.
 */
function pausingRequest (agent, origin, { delay = 1, pauseAtStart = false } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = []
    const state = { paused: false, dataWhilePaused: 0, headers: null }
    const pause = (controller) => {
      state.paused = true
      controller.pause()
      setTimeout(() => {
        state.paused = false
        controller.resume()
      }, delay)
    }
    agent.dispatch({ origin: origin.base, path: '/b', method: 'GET', headers: {} }, {
      onRequestStart () {},
      onResponseStart (controller, status, headers) {
        state.headers = headers
        if (pauseAtStart) pause(controller)
      },
      onResponseData (controller, chunk) {
        if (state.paused) state.dataWhilePaused++
        chunks.push(Buffer.from(chunk))
        pause(controller)
      },
      onResponseEnd () {
        if (state.paused) state.dataWhilePaused++
        resolve({ ...state, chunks })
      },
      onResponseError (controller, err) { reject(err) },
    })
  })
}

for (const [what, options] of [['streamed', {}], ['verified first (verifyBeforeServing: 2 MiB)', { verifyBeforeServing: 2 * 1024 * 1024 }]]) {
  test(`a large hit, ${what}, honours pause/resume: no chunk while paused, chunks of at most 64 KiB, all in order`, async (t) => {
    const { body, origin, agent } = await storedBody(t, 1024 * 1024 + 123, 41, options)
    const res = await pausingRequest(agent, origin)
    t.is(res.headers['x-cache'], 'HIT')
    t.is(res.dataWhilePaused, 0)
    t.true(res.chunks.length >= 17)
    t.true(res.chunks.every((c) => c.length <= 64 * 1024))
    t.deepEqual(Buffer.concat(res.chunks), body)
    t.is(origin.hits(), 1)
  })
}

test('a small (pre-verified) hit paused at the start sends nothing until resumed', async (t) => {
  const { body, origin, agent } = await storedBody(t, 5000, 42)
  const res = await pausingRequest(agent, origin, { pauseAtStart: true, delay: 20 })
  t.is(res.headers['x-cache'], 'HIT')
  t.is(res.dataWhilePaused, 0)
  t.deepEqual(Buffer.concat(res.chunks), body)
})

for (const size of [5000, 600 * 1024]) {
  test(`aborting a hit of ${size} bytes mid-body errors the response once and keeps the entry`, async (t) => {
    const { body, origin, cache, agent } = await storedBody(t, size, 43)
    const reason = new Error('stop')
    const outcome = await new Promise((resolve) => {
      let errors = 0
      agent.dispatch({ origin: origin.base, path: '/b', method: 'GET', headers: {} }, {
        onRequestStart () {},
        onResponseStart () {},
        onResponseData (controller) { controller.abort(reason) },
        onResponseEnd () { resolve('ended') },
        onResponseError (controller, err) {
          errors++
          setTimeout(() => resolve({ err, errors }), 20)
        },
      })
    })
    t.is(outcome.err, reason)
    t.is(outcome.errors, 1)
    t.truthy(cache.peek(`GET ${origin.url('/b')}`))
    const again = await fetch(origin.url('/b'), { dispatcher: agent })
    t.deepEqual(Buffer.from(await again.arrayBuffer()), body)
    t.is(origin.hits(), 1)
  })
}

// undici 7's compose() wraps the old-style handler; the interceptor sees its pause/resume.
// undici 8 dropped the old-style callbacks and the wrapper: undici 7 only.
;(undiciVersion.startsWith('7.') ? test : test.skip)('an old-style handler (wrapped by undici) returning false from onData is resumed through onHeaders\' resume', async (t) => {
  const { body, origin, agent } = await storedBody(t, 300 * 1024, 44)
  const got = await new Promise((resolve, reject) => {
    const chunks = []
    let resume
    agent.dispatch({ origin: origin.base, path: '/b', method: 'GET', headers: {} }, {
      onConnect () {},
      onHeaders (status, raw, r) { resume = r; return true },
      onData (chunk) {
        chunks.push(Buffer.from(chunk))
        setTimeout(() => resume(), 1)
        return false
      },
      onComplete () { resolve(Buffer.concat(chunks)) },
      onError: reject,
    })
  })
  t.deepEqual(got, body)
})

// Linux only: counts this process's open file descriptors.
const openFds = () => fs.readdirSync('/proc/self/fd').length
const procFs = fs.existsSync('/proc/self/fd')

;(procFs ? test : test.skip)('lookups that do not serve the body (revalidation, HEAD) leave no file open', async (t) => {
  const body = bytes(2000, 45)
  // Revalidations are answered 304 and 200 in turn: the body opened by the lookup is used
  // for neither.
  const origin = await startOrigin(t, (req, res, n) => {
    if (req.headers['if-none-match'] === '"v1"' && n % 2 === 0) {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"v1"' })
    res.end(body)
  })
  const { agent } = await cachingAgent(t)
  await (await fetch(origin.url('/r'), { dispatcher: agent })).arrayBuffer()
  await (await fetch(origin.url('/r'), { dispatcher: agent })).arrayBuffer()
  await sleep(20)
  const before = openFds()
  for (let i = 0; i < 40; i++) {
    const res = await fetch(origin.url('/r'), { dispatcher: agent })
    t.deepEqual(Buffer.from(await res.arrayBuffer()), body)
    const head = await fetch(origin.url('/r'), { method: 'HEAD', dispatcher: agent })
    await head.arrayBuffer()
  }
  await sleep(20)
  t.true(openFds() - before < 10, `open files grew from ${before} to ${openFds()}`)
})

test('verifyBeforeServing defaults to 64 KiB: a corrupt body just above it fails the response', async (t) => {
  const { flipByte, contentFile } = require('./helpers/interceptor-origin')
  const { origin, cache, agent } = await storedBody(t, 64 * 1024 + 1, 46)
  flipByte(contentFile(cache, cache.peek(`GET ${origin.url('/b')}`).integrity), 10)
  const res = await fetch(origin.url('/b'), { dispatcher: agent })
  t.is(res.headers.get('x-cache'), 'HIT')
  const err = await t.throwsAsync(res.arrayBuffer())
  t.is((err.cause ?? err).code, 'ERR_CACHE_INTEGRITY')
})
