'use strict'
// The JS fast path of beforeRequest (lib/fresh-judge.js) against the native policy, over
// generated responses, requests and times: wherever the fast path answers, its answer is the
// native one, byte for byte; and it does answer every common-case request the native policy
// finds fresh, so the comparison is not vacuous.
const test = require('ava')
const { CachePolicy } = require('../lib/cache-policy')
const { FreshJudge } = require('../lib/fresh-judge')

/** A small seeded PRNG (mulberry32): the same cases on every run. */
function random (seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const URL_A = 'http://example.test/a?q=1'
const URL_B = 'http://example.test/b'
const T0 = Date.UTC(2026, 0, 15, 12, 0, 0, 123)

function generator (rand) {
  const pick = (list) => list[Math.floor(rand() * list.length)]
  const maybe = (p = 0.5) => rand() < p
  const httpDate = (ms) => new Date(ms).toUTCString()

  function responseHeaders (receivedAt) {
    const h = {}
    const cc = []
    if (maybe(0.7)) cc.push(pick(['max-age=0', 'max-age=1', 'max-age=60', 'max-age=3600', 'max-age=abc', 'max-age=99999999999']))
    if (maybe(0.2)) cc.push(pick(['s-maxage=30', 's-maxage=0', 's-maxage=7200']))
    if (maybe(0.15)) cc.push(pick(['no-cache', 'no-cache="x-foo"', 'no-cache="age"', 'no-store', 'private', 'private="x-foo"', 'public', 'must-revalidate', 'proxy-revalidate', 'immutable', 'stale-while-revalidate=30', 'must-understand']))
    if (cc.length > 0) h['cache-control'] = cc.join(pick([', ', ',']))
    if (maybe(0.7)) h.date = httpDate(receivedAt - pick([0, 0, 1000, 5000, 120_000, -30_000]))
    if (maybe(0.25)) h.expires = pick([httpDate(receivedAt + 60_000), httpDate(receivedAt - 1000), '0', 'garbage'])
    if (maybe(0.25)) h['last-modified'] = httpDate(receivedAt - pick([1000, 3_600_000, 86_400_000 * 30]))
    if (maybe(0.25)) h.age = pick(['0', '5', '100', '0, 7', '3,9', 'abc', '4000'])
    if (maybe(0.3)) h.vary = pick(['Accept-Encoding', 'accept-encoding, X-Foo', '*', 'Host', 'X-Foo,,  Accept-Language', ['Accept-Encoding', 'X-Foo']])
    if (maybe(0.1)) h.pragma = 'no-cache'
    if (maybe(0.4)) h.etag = '"v1"'
    if (maybe(0.3)) h['x-foo'] = pick(['bar', ['one', 'two']])
    if (maybe(0.1)) h['set-cookie'] = 'a=b'
    if (maybe(0.1)) h.connection = 'x-hop'
    if (maybe(0.1)) h['x-hop'] = 'gone'
    h['content-type'] = 'text/plain'
    return h
  }

  function storedRequest () {
    const h = { host: 'example.test' }
    if (maybe()) h['accept-encoding'] = pick(['gzip', 'br, gzip'])
    if (maybe(0.3)) h['x-foo'] = pick(['1', '2'])
    if (maybe(0.2)) h['accept-language'] = 'en'
    if (maybe(0.05)) h['cache-control'] = 'no-store'
    if (maybe(0.05)) h.authorization = 'Basic x'
    return { method: pick(['GET', 'GET', 'GET', 'HEAD']), url: URL_A, headers: h }
  }

  /** A later request: usually the common case, sometimes every kind of exception. */
  function laterRequest (stored) {
    const h = {}
    if (maybe(0.85)) h.host = pick(['example.test', 'example.test', 'EXAMPLE.test', 'other.test'])
    if (maybe(0.6)) h['accept-encoding'] = pick(['gzip', 'br, gzip', 'identity'])
    if (maybe(0.3)) h['x-foo'] = pick(['1', '2'])
    if (maybe(0.2)) h['accept-language'] = 'en'
    if (maybe(0.5)) h['user-agent'] = 'test'
    if (maybe(0.1)) h['cache-control'] = pick(['no-cache', 'max-age=0', 'max-age=5', 'min-fresh=10', 'max-stale', 'max-stale=100', 'foo'])
    if (maybe(0.05)) h.pragma = 'no-cache'
    if (maybe(0.05)) h['if-none-match'] = '"v1"'
    if (maybe(0.03)) h['Accept-Encoding'] = 'gzip'
    if (maybe(0.03)) h['x-num'] = 5
    if (maybe(0.03)) h['x-list'] = ['a', 'b']
    if (maybe(0.02)) h['x-bad'] = 'a\nb'
    if (maybe(0.02)) h['x-null'] = null
    if (maybe(0.02)) h['bad name'] = 'x'
    if (maybe(0.02)) h['x-buf'] = Buffer.from('buf')
    const method = maybe(0.9) ? stored.method : pick(['GET', 'HEAD', 'get', undefined])
    const url = maybe(0.92) ? stored.url : URL_B
    return maybe(0.02) ? { method, url } : { method, url, headers: h }
  }

  function time (receivedAt) {
    return pick([
      receivedAt,
      receivedAt + Math.floor(rand() * 1000),
      receivedAt + Math.floor(rand() * 120_000),
      receivedAt + Math.floor(rand() * 4_000_000),
      receivedAt + rand() * 70_000, // fractional milliseconds
      receivedAt - Math.floor(rand() * 10_000),
      receivedAt + 59_999, receivedAt + 60_000, receivedAt + 60_001,
      1e16,
    ])
  }

  return { responseHeaders, storedRequest, laterRequest, time, pick, maybe }
}

function nativeAnswer (policy, request, now) {
  try {
    return JSON.stringify(policy.beforeRequest(request, now))
  } catch (err) {
    return `throws ${err.code}`
  }
}

function isCommonCase (request) {
  const h = request.headers ?? {}
  return Object.keys(h).every((name) => name === name.toLowerCase() && /^[a-z-]+$/.test(name) &&
    typeof h[name] === 'string' && !/[\r\n]/.test(h[name]) && name !== 'cache-control' && name !== 'pragma')
}

test('the fast path answers exactly as the native policy, whenever it answers', (t) => {
  const rand = random(0x5eed)
  const g = generator(rand)
  let policies = 0
  let fast = 0
  let nativeFreshCommon = 0
  for (let i = 0; i < 400; i++) {
    const receivedAt = T0 + Math.floor(rand() * 1e9)
    const stored = g.storedRequest()
    const policy = new CachePolicy(stored, { status: g.pick([200, 200, 200, 203, 204, 301, 404, 206, 302, 500]), headers: g.responseHeaders(receivedAt) }, {
      shared: g.maybe(0.7),
      responseTime: receivedAt,
      requestTime: receivedAt - g.pick([0, 0, 250, 3000]),
    })
    // A stored policy, as the RAM tier builds it, and the one it was built from.
    const judged = g.maybe() ? CachePolicy.fromJSON(policy.toJSON()) : policy
    const judge = FreshJudge.of(judged)
    policies++
    for (let j = 0; j < 40; j++) {
      const request = g.laterRequest(stored)
      const now = g.time(receivedAt)
      const native = nativeAnswer(judged, request, now)
      const answer = judge?.judge(request, now)
      if (answer !== undefined) {
        fast++
        if (JSON.stringify(answer) !== native) {
          t.fail(`differs from native for ${JSON.stringify({ policy: judged.toJSON(), request, now })}:\n  fast   ${JSON.stringify(answer)}\n  native ${native}`)
          return
        }
      } else if (native.startsWith('{"fresh":true') && isCommonCase(request) && request.method === stored.method && request.url === stored.url) {
        t.fail(`the fast path left a common fresh case to the native policy: ${JSON.stringify({ policy: judged.toJSON(), request, now })}`)
        return
      }
      if (native.startsWith('{"fresh":true') && isCommonCase(request)) nativeFreshCommon++
    }
  }
  t.is(policies, 400)
  // Not vacuous: a good share of the cases went the fast way.
  t.true(fast > 1000, `fast answers: ${fast}`)
  t.true(nativeFreshCommon >= fast)
})

test('a fast answer is a new object each time, and time and selection are honoured', (t) => {
  const now = Date.UTC(2026, 0, 15, 12, 0, 0) // whole seconds, as Date carries them
  const policy = new CachePolicy(
    { method: 'GET', url: URL_A, headers: { host: 'example.test', 'accept-encoding': 'gzip' } },
    { status: 200, headers: { 'cache-control': 'max-age=60', date: new Date(now - 2000).toUTCString(), vary: 'accept-encoding' } },
    { responseTime: now })
  const judge = FreshJudge.of(policy)
  const request = { method: 'GET', url: URL_A, headers: { host: 'example.test', 'accept-encoding': 'gzip' } }
  const first = judge.judge(request, now + 1000)
  t.deepEqual(first, policy.beforeRequest(request, now + 1000))
  t.is(first.headers.age, '3')
  first.headers.age = 'changed'
  t.is(judge.judge(request, now + 1000).headers.age, '3')
  // Another Accept-Encoding: not selected, left to the native policy (which says so).
  const other = { ...request, headers: { ...request.headers, 'accept-encoding': 'br' } }
  t.is(judge.judge(other, now), undefined)
  t.false(policy.beforeRequest(other, now).matches)
  // Stale (2 s old when received, 60 s lifetime): left to the native policy.
  t.is(judge.judge(request, now + 57_999).headers.age, '59')
  t.is(judge.judge(request, now + 58_000), undefined)
  t.false(policy.beforeRequest(request, now + 58_000).fresh)
})

test('no judge for a response that is never fresh once received', (t) => {
  const now = T0
  const make = (headers) => new CachePolicy({ method: 'GET', url: URL_A, headers: {} }, { status: 200, headers }, { responseTime: now })
  t.is(FreshJudge.of(make({ 'cache-control': 'no-cache, max-age=60' })), null)
  t.is(FreshJudge.of(make({ 'cache-control': 'max-age=60', vary: '*' })), null)
  t.is(FreshJudge.of(make({ 'cache-control': 'max-age=60', age: '60' })), null)
  t.not(FreshJudge.of(make({ 'cache-control': 'max-age=60', age: '59' })), null)
})
