'use strict'
// cacheInterceptor: unsafe methods invalidate what is stored for their URL (RFC 9111 4.4).
const test = require('ava')
const { fetch, request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')

function origin (t, unsafe) {
  return startOrigin(t, (req, res, n) => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      res.writeHead(200, { 'cache-control': 'max-age=600', ...(req.url === '/varied' && { vary: 'accept-language' }) })
      return res.end(req.method === 'HEAD' ? undefined : `${req.url} #${n}`)
    }
    const { status, headers = {} } = unsafe(req)
    res.writeHead(status, headers)
    res.end('done')
  })
}

async function text (agent, url, opts = {}) {
  const res = await request(url, { dispatcher: agent, ...opts })
  return { body: await res.body.text(), xcache: res.headers['x-cache'] }
}

for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
  test(`a successful ${method} invalidates the GET and HEAD entries of its URL`, async (t) => {
    const server = await origin(t, () => ({ status: method === 'POST' ? 201 : 204 }))
    const { cache, agent } = await cachingAgent(t)
    await text(agent, server.url('/item'), { method: 'HEAD' }) // stored under the HEAD key
    await text(agent, server.url('/item'))
    t.is((await text(agent, server.url('/item'))).xcache, 'HIT')
    t.is(cache.keys().length, 2)

    const res = await request(server.url('/item'), { method, body: method === 'DELETE' ? undefined : 'x', dispatcher: agent })
    await res.body.text()
    t.is(res.headers['x-cache'], undefined, 'unsafe requests get no cache status')
    t.deepEqual(cache.keys(), [])
    const after = await text(agent, server.url('/item'))
    t.is(after.xcache, 'MISS')
    t.is(after.body, '/item #4') // HEAD, GET, the unsafe request, then this GET
  })
}

test('a failed POST (5xx) invalidates nothing', async (t) => {
  const server = await origin(t, () => ({ status: 500 }))
  const { agent } = await cachingAgent(t)
  await text(agent, server.url('/item'))
  await (await request(server.url('/item'), { method: 'POST', body: 'x', dispatcher: agent })).body.text()
  t.is((await text(agent, server.url('/item'))).xcache, 'HIT')
})

test('Location and Content-Location on the same origin are invalidated, other origins are not', async (t) => {
  const other = await origin(t, () => ({ status: 200 }))
  const server = await origin(t, () => ({
    status: 303,
    headers: { location: '/created', 'content-location': other.url('/foreign') },
  }))
  const { cache, agent } = await cachingAgent(t)
  for (const url of [server.url('/list'), server.url('/created'), other.url('/foreign')]) await text(agent, url)
  t.is(cache.keys().length, 3)

  await (await request(server.url('/list'), { method: 'POST', body: 'x', dispatcher: agent })).body.text()
  t.deepEqual(cache.keys(), [`GET ${other.url('/foreign')}`])
})

test('Content-Location on the same origin, and all variants of a URL, are invalidated', async (t) => {
  const server = await origin(t, () => ({ status: 200, headers: { 'content-location': '/varied' } }))
  const { cache, agent } = await cachingAgent(t)
  await text(agent, server.url('/varied'), { headers: { 'accept-language': 'en' } })
  await text(agent, server.url('/varied'), { headers: { 'accept-language': 'fr' } })
  t.is(cache.keys().length, 2)
  const res = await fetch(server.url('/form'), { method: 'PUT', body: 'x', dispatcher: agent })
  await res.text()
  t.deepEqual(cache.keys(), [])
})
