'use strict'
// One engine under both fronts: what cacheInterceptor stores, undici's interceptors.cache over
// StreamingCacheStore finds (same StreamingCache), and the other way round.
const test = require('ava')
const { Agent, interceptors, request } = require('undici')
const { tempStore } = require('./helpers/temp-store')
const { cacheInterceptor } = require('../undici')
const { startOrigin } = require('./helpers/interceptor-origin')

function fronts (t) {
  const store = tempStore(t)
  const viaStore = new Agent().compose(interceptors.cache({ store }))
  const viaInterceptor = new Agent().compose(cacheInterceptor({ cache: store.cache, shared: true }))
  t.teardown(() => Promise.all([viaStore.close(), viaInterceptor.close()]))
  return { store, viaStore, viaInterceptor }
}

async function get (dispatcher, url, headers = {}) {
  const res = await request(url, { dispatcher, headers })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

function negotiating (req, res) {
  const lang = req.headers['accept-language'] ?? 'none'
  res.writeHead(200, {
    'cache-control': 'max-age=300',
    vary: 'Accept-Language',
    etag: `"${lang}"`,
    'content-type': 'text/plain',
  })
  res.end(`${req.url} in ${lang}`)
}

test('an entry cacheInterceptor stored is served by interceptors.cache over StreamingCacheStore', async (t) => {
  const origin = await startOrigin(t, negotiating)
  const { viaStore, viaInterceptor } = fronts(t)
  const first = await get(viaInterceptor, origin.url('/a'), { 'accept-language': 'de' })
  t.is(first.body, '/a in de')
  t.is(first.headers['x-cache'], 'MISS')

  const hit = await get(viaStore, origin.url('/a'), { 'accept-language': 'de' })
  t.is(hit.body, '/a in de')
  t.is(hit.headers.etag, '"de"')
  t.is(origin.hits('/a'), 1, 'served from what the interceptor stored')

  // Another variant is not selected by the stored one.
  const other = await get(viaStore, origin.url('/a'), { 'accept-language': 'fr' })
  t.is(other.body, '/a in fr')
  t.is(origin.hits('/a'), 2)
})

test('an entry interceptors.cache stored through StreamingCacheStore is served by cacheInterceptor', async (t) => {
  const origin = await startOrigin(t, negotiating)
  const { store, viaStore, viaInterceptor } = fronts(t)
  t.is((await get(viaStore, origin.url('/b'), { 'accept-language': 'it' })).body, '/b in it')
  // The store commits in the background: wait until the entry is there.
  for (let i = 0; i < 100 && store.cache.keys(`GET ${origin.url('/b')}`).length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const hit = await get(viaInterceptor, origin.url('/b'), { 'accept-language': 'it' })
  t.is(hit.body, '/b in it')
  t.is(hit.headers['x-cache'], 'HIT')
  t.is(origin.hits('/b'), 1, 'served from what the store stored')
})

test('both fronts write one key per variant, in the same scheme', async (t) => {
  const origin = await startOrigin(t, negotiating)
  const { store, viaStore, viaInterceptor } = fronts(t)
  await get(viaInterceptor, origin.url('/c'), { 'accept-language': 'en' })
  await get(viaStore, origin.url('/d'), { 'accept-language': 'en' })
  for (let i = 0; i < 100 && store.cache.keys(`GET ${origin.url('/d')}`).length === 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  t.deepEqual(store.cache.keys().sort(), [
    `GET ${origin.url('/c')}\naccept-language=en`,
    `GET ${origin.url('/d')}\naccept-language=en`,
  ])
})
