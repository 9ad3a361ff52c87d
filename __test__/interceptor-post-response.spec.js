'use strict'
// A POST response with Content-Location equal to its own URL and explicit freshness is the
// representation of that URL (RFC 9110 9.3.3): stored as its GET response. Any other POST
// response only invalidates (RFC 9111 4.4).
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')

async function send (agent, url, method = 'GET') {
  const res = await request(url, { dispatcher: agent, method, body: method === 'POST' ? 'payload' : undefined })
  return { status: res.statusCode, text: await res.body.text(), xcache: res.headers['x-cache'] }
}

test('a POST response naming its own URL in Content-Location, with max-age, answers the next GET', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    const self = origin.url('/thing')
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-location': self, 'content-type': 'text/plain' })
    res.end(`${req.method} ${n}`)
  })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/thing')
  t.is((await send(agent, url)).text, 'GET 1')
  t.is((await send(agent, url)).text, 'GET 1', 'the GET response is stored')
  t.is((await send(agent, url, 'POST')).text, 'POST 2')
  const after = await send(agent, url)
  t.is(after.text, 'POST 2', 'the POST response replaced it')
  t.is(after.xcache, 'HIT')
  t.is(origin.hits('/thing'), 2)
})

test('a relative Content-Location resolving to the URL counts; another URL, no freshness or an error status do not', async (t) => {
  const answers = {
    '/relative': { 'cache-control': 'max-age=600', 'content-location': '/relative' },
    '/elsewhere': { 'cache-control': 'max-age=600', 'content-location': '/other' },
    '/no-freshness': { 'content-location': '/no-freshness', 'last-modified': new Date(Date.now() - 86_400_000).toUTCString() },
    '/error': { 'cache-control': 'max-age=600', 'content-location': '/error' },
  }
  const origin = await startOrigin(t, (req, res, n) => {
    const path = req.url
    res.writeHead(path === '/error' && req.method === 'POST' ? 500 : 200, answers[path])
    res.end(`${req.method} ${n}`)
  })
  const { agent } = await cachingAgent(t)
  for (const path of Object.keys(answers)) {
    const url = origin.url(path)
    await send(agent, url, 'POST')
    const get = await send(agent, url)
    if (path === '/relative') t.is(get.text, 'POST 1', path)
    else t.is(get.text, 'GET 2', `${path}: the GET went to the origin`)
  }
})

test('the invalidation of the POST\'s URL cannot remove the entry the POST response became', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    res.writeHead(200, { 'cache-control': 'max-age=600', 'content-location': '/race' })
    res.end(`${req.method} ${n}`)
  })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/race')
  for (let i = 0; i < 10; i++) {
    await send(agent, url)
    const posted = await send(agent, url, 'POST')
    t.is((await send(agent, url)).text, posted.text)
  }
})
