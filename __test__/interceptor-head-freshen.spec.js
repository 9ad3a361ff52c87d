'use strict'
// A HEAD answered by revalidating a stale stored GET (RFC 9111 4.3.5): its 200, with the same
// validators, freshens the GET entry before the HEAD is answered, so a GET made as soon as
// the HEAD resolves is a hit with the new fields.
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent, sleep } = require('./helpers/interceptor-origin')

test('a GET right after a freshening HEAD sees the freshened entry, every time', async (t) => {
  let version = 0
  const origin = await startOrigin(t, (req, res) => {
    const headers = { etag: '"same"', 'x-version': String(version) }
    // The GET is stored stale-soon; each HEAD freshens it for a long time.
    headers['cache-control'] = req.method === 'HEAD' ? 'max-age=600' : 'max-age=1'
    res.writeHead(200, headers)
    res.end(req.method === 'HEAD' ? undefined : 'body')
  })
  const { agent } = await cachingAgent(t)
  for (let i = 0; i < 5; i++) {
    const url = origin.url(`/r${i}`)
    version = 0
    await (await request(url, { dispatcher: agent })).body.text()
    await sleep(1100)
    version = i + 1
    const head = await request(url, { dispatcher: agent, method: 'HEAD' })
    await head.body.text()
    t.is(head.headers['x-version'], String(i + 1))
    const get = await request(url, { dispatcher: agent })
    t.is(await get.body.text(), 'body')
    t.is(get.headers['x-version'], String(i + 1), 'the GET entry was freshened by the HEAD')
    t.is(origin.hits(`/r${i}`), 2, 'the GET after the HEAD is a hit')
  }
})
