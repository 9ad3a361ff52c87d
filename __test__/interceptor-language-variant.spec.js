'use strict'
// A stored response varying on Accept-Language alone, in language L, answers a request whose
// single most preferred language is L (RFC 9111 4.1: selecting fields normalized with
// knowledge of their semantics).
const test = require('ava')
const { request } = require('undici')
const { startOrigin, cachingAgent } = require('./helpers/interceptor-origin')
const { preferredLanguage } = require('../lib/undici/language-variant')

test('the single most preferred language of an Accept-Language', (t) => {
  t.is(preferredLanguage('fr;q=0.5, de;q=1.0'), 'de')
  t.is(preferredLanguage('DE-at, en;q=0.9'), 'de-at')
  t.is(preferredLanguage(['fr;q=0.2', 'it;q=0.7']), 'it')
  t.is(preferredLanguage('en, de'), null, 'a tie at the top')
  t.is(preferredLanguage('*'), null)
  t.is(preferredLanguage('de;q=2'), null, 'a malformed weight')
  t.is(preferredLanguage('de;q=0'), null, 'not acceptable at all')
  t.is(preferredLanguage(undefined), null)
  t.is(preferredLanguage(''), null)
})

/** Has German and French; English only when `english`. Varies on `vary`. */
function languages (t, { english = false, vary = 'accept-language' } = {}) {
  return startOrigin(t, (req, res, n) => {
    const asked = String(req.headers['accept-language'] ?? '')
    const lang = english && asked.startsWith('en') ? 'en' : asked.includes('fr') && !asked.includes('de') ? 'fr' : 'de'
    res.writeHead(200, { 'cache-control': 'max-age=600', vary, 'content-language': lang })
    res.end(`${lang} ${n}`)
  })
}

async function get (agent, url, acceptLanguage) {
  const res = await request(url, { dispatcher: agent, headers: { 'accept-language': acceptLanguage } })
  return res.body.text()
}

test('a request preferring German is answered by the stored German response it did not ask for by value', async (t) => {
  const origin = await languages(t)
  const { agent } = await cachingAgent(t)
  const url = origin.url('/page')
  t.is(await get(agent, url, 'en, de'), 'de 1', 'no English: German')
  t.is(await get(agent, url, 'fr;q=0.5, de;q=1.0'), 'de 1', 'German preferred: the stored one')
  t.is(await get(agent, url, 'de'), 'de 1')
  t.is(origin.hits('/page'), 1)
  // No single preference, or another language preferred: the origin decides.
  t.is(await get(agent, url, 'de, fr'), 'de 2')
  t.is(await get(agent, url, 'fr'), 'fr 3')
  t.is(origin.hits('/page'), 3)
})

test('nothing is inferred when the response varies on more than Accept-Language', async (t) => {
  const origin = await languages(t, { vary: 'accept-language, x-device' })
  const { agent } = await cachingAgent(t)
  const url = origin.url('/page')
  t.is(await get(agent, url, 'en, de'), 'de 1')
  t.is(await get(agent, url, 'de;q=1.0, fr;q=0.5'), 'de 2')
  t.is(origin.hits('/page'), 2)
})
