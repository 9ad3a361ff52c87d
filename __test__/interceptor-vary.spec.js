'use strict'
// cacheInterceptor and Vary: variants side by side under `base + '\n' + discriminator`.
const test = require('ava')
const { fetch, request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')

function echoVariant (req, res) {
  res.writeHead(200, {
    'cache-control': 'max-age=600',
    vary: 'Accept-Encoding, Accept-Language',
  })
  res.end(`enc=${req.headers['accept-encoding'] ?? '-'} lang=${req.headers['accept-language'] ?? '-'}`)
}

test('variants by Accept-Encoding and Accept-Language are stored side by side', async (t) => {
  const origin = await startOrigin(t, echoVariant)
  const { cache, agent } = await cachingAgent(t)
  const variants = [
    { 'accept-encoding': 'gzip', 'accept-language': 'en' },
    { 'accept-encoding': 'br', 'accept-language': 'en' },
    { 'accept-encoding': 'gzip', 'accept-language': 'fr' },
    { 'accept-encoding': 'identity' },
  ]
  const expected = (h) => `enc=${h['accept-encoding']} lang=${h['accept-language'] ?? '-'}`
  for (const headers of variants) {
    const res = await request(origin.url('/v'), { headers, dispatcher: agent })
    t.is(res.headers['x-cache'], 'MISS')
    t.is(await res.body.text(), expected(headers))
  }
  t.is(origin.hits(), 4)
  const base = `GET ${origin.url('/v')}`
  const keys = cache.keys(base + '\n')
  t.is(keys.length, 4)
  t.is(cache.peek(base), null, 'nothing under the base key itself')
  t.true(keys.includes(`${base}\naccept-encoding=gzip&accept-language=en`))
  t.true(keys.includes(`${base}\naccept-encoding=identity&accept-language`))

  for (const headers of [...variants].reverse()) {
    const res = await request(origin.url('/v'), { headers, dispatcher: agent })
    t.is(res.headers['x-cache'], 'HIT')
    t.is(await res.body.text(), expected(headers))
  }
  t.is(origin.hits(), 4)
})

test('with fetch (which sends its own accept-encoding), variants by Accept-Language', async (t) => {
  const origin = await startOrigin(t, echoVariant)
  const { agent } = await cachingAgent(t)
  for (const lang of ['de', 'it', 'de', 'it']) {
    const res = await fetch(origin.url('/f'), { headers: { 'accept-language': lang }, dispatcher: agent })
    t.regex(await res.text(), new RegExp(`lang=${lang}$`))
  }
  t.is(origin.hits(), 2)
})

test('a response that starts to vary replaces the plain entry', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (n === 1) {
      res.writeHead(200, { 'cache-control': 'max-age=0', etag: '"plain"' })
      return res.end('plain')
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'accept-language' })
    res.end('varied ' + req.headers['accept-language'])
  })
  const { cache, agent } = await cachingAgent(t)
  const base = `GET ${origin.url('/x')}`
  await (await request(origin.url('/x'), { dispatcher: agent })).body.text()
  t.deepEqual(cache.keys(base), [base])
  const res = await request(origin.url('/x'), { headers: { 'accept-language': 'nl' }, dispatcher: agent })
  t.is(await res.body.text(), 'varied nl')
  t.deepEqual(cache.keys(base), [`${base}\naccept-language=nl`])
})

test('Vary: * is never served from the cache', async (t) => {
  const origin = await startOrigin(t, (req, res) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: '*' })
    res.end('star')
  })
  const { cache, agent } = await cachingAgent(t)
  for (let i = 0; i < 3; i++) {
    const res = await fetch(origin.url('/star'), { dispatcher: agent })
    t.is(res.headers.get('x-cache'), 'MISS')
    t.is(await res.text(), 'star')
  }
  t.is(origin.hits(), 3)
  t.deepEqual(cache.keys(), [])
})
