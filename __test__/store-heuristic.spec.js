'use strict'
// StreamingCacheStore's `heuristic` option: responses with Last-Modified and no explicit
// freshness are fresh for the engine's heuristic (10% of the time since Last-Modified, at
// least 10 s, at most a day by default) in place of undici's own (10%, unbounded). undici's
// interceptor over the store, against a real node:http origin that counts its requests.
const test = require('ava')
const { Agent, interceptors, request } = require('undici')
const { tempStore } = require('./helpers/temp-store')
const { startOrigin, sleep } = require('./helpers/interceptor-origin')

const httpDate = (offsetMs) => new Date(Date.now() + offsetMs).toUTCString()

/** Two GETs `pause` ms apart through undici's cache over a store with `options`; origin hits. */
async function twice (t, { options, headers, pause }) {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(200, { date: httpDate(0), ...headers })
    res.end(`body ${n}`)
  })
  const agent = new Agent().compose(interceptors.cache({ store: tempStore(t, options) }))
  t.teardown(() => agent.close())
  const bodies = []
  for (let i = 0; i < 2; i++) {
    if (i > 0) await sleep(pause)
    const res = await request(origin.url('/h'), { dispatcher: agent })
    bodies.push(await res.body.text())
  }
  return { hits: origin.hits(), bodies }
}

test('a resource modified 20 s ago stays fresh 10 s (undici alone: 2 s)', async (t) => {
  const got = await twice(t, { options: {}, headers: { 'last-modified': httpDate(-20_000) }, pause: 3000 })
  t.is(got.hits, 1)
  t.deepEqual(got.bodies, ['body 1', 'body 1'])
})

test('heuristic: { max } caps the heuristic lifetime', async (t) => {
  const headers = { 'last-modified': httpDate(-30 * 86_400_000) }
  t.is((await twice(t, { options: {}, headers, pause: 400 })).hits, 1, 'default: fresh for a day')
  t.is((await twice(t, { options: { heuristic: { min: 0, max: 200 } }, headers, pause: 400 })).hits, 2)
})

test('explicit freshness is left as undici computed it', async (t) => {
  const headers = { 'last-modified': httpDate(-20_000), 'cache-control': 'max-age=0' }
  t.is((await twice(t, { options: {}, headers, pause: 50 })).hits, 2)
})

test('the heuristic option is checked', (t) => {
  t.throws(() => tempStore(t, { heuristic: 'on' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => tempStore(t, { heuristic: { max: -1 } }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
})
