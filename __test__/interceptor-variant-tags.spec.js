'use strict'
// A request whose Vary values match no stored variant is sent with the stored variants'
// entity tags in If-None-Match (RFC 9111 4.1); a 304 naming one of them (4.3.4) is answered
// from that stored response, freshened; any other answer is stored as a new variant.
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')

/** An origin with two representations, chosen by `x-lang` (en for anything but fr). */
function negotiating (t, { etagOn304 = true } = {}) {
  return startOrigin(t, (req, res) => {
    const lang = req.headers['x-lang'] === 'fr' ? 'fr' : 'en'
    const etag = `"${lang}-1"`
    const headers = { 'cache-control': 'max-age=600', vary: 'x-lang', etag, 'content-language': lang }
    const inm = req.headers['if-none-match']
    if (inm !== undefined && inm.split(',').map((s) => s.trim()).includes(etag)) {
      res.writeHead(304, etagOn304 ? headers : { 'cache-control': 'max-age=600' })
      return res.end()
    }
    res.writeHead(200, headers)
    res.end(`hello in ${lang}`)
  })
}

async function get (agent, url, lang) {
  const res = await request(url, { dispatcher: agent, headers: { 'x-lang': lang } })
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers }
}

test('a 304 to the stored variants\' tags serves the variant it names, without a body from the origin', async (t) => {
  const origin = await negotiating(t)
  const { agent } = await cachingAgent(t)
  const url = origin.url('/doc')
  t.is((await get(agent, url, 'en')).text, 'hello in en')
  // `de` is another Vary value, but the origin answers it with the stored English one.
  const de = await get(agent, url, 'de')
  t.is(de.status, 200)
  t.is(de.text, 'hello in en')
  t.is(de.headers['content-language'], 'en')
  const conditional = origin.requests[1]
  t.is(conditional.headers['if-none-match'], '"en-1"', 'the stored variant\'s tag was sent')
  t.is(origin.hits('/doc'), 2)
  // The English entry is still served as it was.
  t.is((await get(agent, url, 'en')).text, 'hello in en')
  t.is(origin.hits('/doc'), 2)
})

test('a 200 to the tags is a new variant, stored; then both tags are sent', async (t) => {
  const origin = await negotiating(t)
  const { agent } = await cachingAgent(t)
  const url = origin.url('/doc')
  await get(agent, url, 'en')
  const fr = await get(agent, url, 'fr')
  t.is(fr.text, 'hello in fr')
  t.is(origin.requests[1].headers['if-none-match'], '"en-1"')
  t.is((await get(agent, url, 'fr')).text, 'hello in fr', 'the French variant was stored')
  t.is(origin.hits('/doc'), 2)
  const de = await get(agent, url, 'de')
  t.is(de.text, 'hello in en')
  t.deepEqual(origin.requests[2].headers['if-none-match'].split(', ').sort(), ['"en-1"', '"fr-1"'])
})

test('a 304 without an ETag selects the variant only when one tag was sent', async (t) => {
  const origin = await negotiating(t, { etagOn304: false })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/doc')
  await get(agent, url, 'en')
  t.is((await get(agent, url, 'de')).text, 'hello in en')
  t.is(origin.hits('/doc'), 2)
})

test('a 304 naming no stored variant is asked again, unconditionally', async (t) => {
  const origin = await startOrigin(t, (req, res, n) => {
    if (req.headers['if-none-match'] !== undefined) {
      res.writeHead(304, { etag: '"unknown"' })
      return res.end()
    }
    res.writeHead(200, { 'cache-control': 'max-age=600', vary: 'x-lang', etag: `"v${n}"` })
    res.end(`answer ${n}`)
  })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/doc')
  t.is((await get(agent, url, 'en')).text, 'answer 1')
  t.is((await get(agent, url, 'de')).text, 'answer 3')
  t.is(origin.requests[2].headers['if-none-match'], undefined)
})
