'use strict'
// CachePolicy through its JS API: RFC 9111 rules (issue 11), crash safety (issue 10 item 1),
// and the header shapes Node and undici hand over. Crash checks run in child processes, so an
// abort is seen as a signal rather than taking the test runner down.
const test = require('ava')
const http = require('node:http')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { request } = require('undici')
const { CachePolicy, StreamingCache } = require('..')

const ROOT = path.join(__dirname, '..')
const URL = 'http://a.test/x'
const T0 = Date.UTC(2026, 0, 1)
const HUGE_AGE = '18446744073709551615'

const req = (headers = {}, extra = {}) => ({ method: 'GET', url: URL, headers, ...extra })
const policy = (headers, { status = 200, shared = true, request = req(), responseTime = T0 } = {}) =>
  new CachePolicy(request, { status, headers }, { shared, responseTime })
const httpDate = (ms) => new Date(ms).toUTCString()
const fresh = (p, r = req(), now = T0) => p.beforeRequest(r, now).fresh

/** Runs `code` in a fresh Node process with the package loaded as `pkg`. */
function child (code, env = {}) {
  const result = spawnSync(process.execPath, ['-e', `const pkg = require(${JSON.stringify(ROOT)});\n${code}`], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  })
  return { status: result.status, signal: result.signal, stdout: result.stdout.trim(), stderr: result.stderr }
}

function tempDir (t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-policy-spec-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

// ---- issue 10 item 1: nothing an origin sends aborts Node ------------------------------------

test('the issue 10 reproduction: a 2^64-1 Age neither aborts nor overflows', (t) => {
  const run = child(`
    const p = new pkg.CachePolicy({ url: 'http://a/x' }, { status: 200, headers: { 'cache-control': 'max-age=60', age: '${HUGE_AGE}' } })
    const now = Date.now() + 2000
    console.log(JSON.stringify([p.isStale(now), p.age(now), p.timeToLive(now), p.staleness(now) > 0, p.beforeRequest({ url: 'http://a/x' }, now).fresh]))
  `)
  t.is(run.signal, null, run.stderr)
  t.is(run.status, 0, run.stderr)
  t.is(run.stderr, '')
  // Age clamped to 2^31 s (RFC 9111 1.2.2), plus the 2 s it has been stored.
  t.deepEqual(JSON.parse(run.stdout), [true, 2147483650, 0, true, false])
})

test('put({ request }) with hostile delta-seconds, then hit.policy after a restart: no abort', async (t) => {
  const dir = tempDir(t)
  const write = child(`
    (async () => {
      const cache = new pkg.StreamingCache(${JSON.stringify(dir)})
      await cache.put('k', {
        status: 200,
        headers: { 'cache-control': 'max-age=99999999999999999999, stale-if-error=${HUGE_AGE}, stale-while-revalidate=${HUGE_AGE}', age: '${HUGE_AGE}' },
        request: { url: 'http://a/x' },
        body: 'x',
      })
      const hit = await cache.get('k')
      hit.body.resume()
      console.log(hit.policy.isStale(Date.now() + 2000))
      await cache.close()
    })().catch((err) => { console.error(err); process.exit(1) })
  `)
  t.is(write.signal, null, write.stderr)
  t.is(write.status, 0, write.stderr)
  t.is(write.stdout, 'true')
  const read = child(`
    (async () => {
      const cache = new pkg.StreamingCache(${JSON.stringify(dir)})
      const hit = await cache.get('k')
      hit.body.resume()
      const p = hit.policy
      const now = Date.now() + 2000
      const r = { url: 'http://a/x', headers: { 'cache-control': 'max-stale=${HUGE_AGE}, min-fresh=${HUGE_AGE}, max-age=${HUGE_AGE}' } }
      console.log(JSON.stringify([p.isStale(now), p.age(now), p.timeToLive(now), p.canStaleIfError(r, now),
        p.canStaleWhileRevalidate(now), p.beforeRequest(r, now).fresh, p.afterResponse(r, { status: 304, headers: { age: '${HUGE_AGE}' } }, now).modified]))
      await cache.close()
    })().catch((err) => { console.error(err); process.exit(1) })
  `)
  t.is(read.signal, null, read.stderr)
  t.is(read.status, 0, read.stderr)
  t.is(read.stderr, '')
  t.deepEqual(JSON.parse(read.stdout), [true, 2147483650, 0, true, true, false, false])
})

test('through cacheInterceptor: a 2^64-1 Age with stale-if-error, then an origin error, never aborts Node', (t) => {
  const run = child(`
    const http = require('node:http')
    const { Agent, request } = require('undici')
    const { cacheInterceptor } = require(${JSON.stringify(path.join(ROOT, 'undici.js'))})
    ;(async () => {
      let n = 0
      const server = http.createServer((req, res) => {
        n++
        if (n > 1) { res.statusCode = 500; res.end('down'); return }
        res.setHeader('cache-control', 'max-age=1, stale-if-error=${HUGE_AGE}, stale-while-revalidate=${HUGE_AGE}')
        res.setHeader('age', '${HUGE_AGE}')
        res.setHeader('etag', '"v1"')
        res.end('body')
      })
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
      const cache = await pkg.StreamingCache.withTempDir()
      const agent = new Agent().compose(cacheInterceptor({ cache }))
      const url = 'http://127.0.0.1:' + server.address().port + '/x'
      const statuses = []
      for (let i = 0; i < 3; i++) {
        const res = await request(url, { dispatcher: agent, headers: { 'cache-control': 'max-stale=${HUGE_AGE}, min-fresh=${HUGE_AGE}' } })
        statuses.push(res.statusCode)
        await res.body.text()
      }
      await agent.close()
      server.close()
      await cache.close()
      console.log(JSON.stringify(statuses))
    })().catch((err) => { console.error(err); process.exit(1) })
  `, { NODE_PATH: path.join(ROOT, 'node_modules') })
  t.is(run.signal, null, run.stderr)
  t.is(run.status, 0, run.stderr)
  t.is(run.stderr, '')
  t.is(JSON.parse(run.stdout).length, 3)
})

test('stored policies damaged on disk or written by older versions are read safely', async (t) => {
  const cache = new StreamingCache(tempDir(t))
  t.teardown(() => cache.close())
  // The format earlier versions stored (http-cache-semantics' serde form).
  const legacy = {
    req: { host: 'a.test', authorization: 'Bearer secret' },
    res: { 'cache-control': 'max-age=60', age: HUGE_AGE, date: httpDate(T0) },
    uri: URL,
    status: 200,
    method: 'GET',
    opts: { shared: true, cache_heuristic: 0.1, immutable_min_time_to_live: { secs: 86400, nanos: 0 }, ignore_cargo_cult: false },
    res_cc: { 'max-age': '60' },
    req_cc: {},
    response_time: { secs_since_epoch: T0 / 1000, nanos_since_epoch: 0 },
  }
  await cache.put('legacy', { status: 200, policy: legacy, body: 'x' })
  const hit = await cache.get('legacy')
  hit.body.resume()
  t.true(hit.policy.isStale(T0 + 1000))
  t.is(hit.policy.age(T0 + 1000), 2147483649)
  t.is(hit.policy.url, URL)
  t.false(JSON.stringify(hit.policy.toJSON()).includes('secret'), 'credentials are not kept')

  t.false(hit.policy.isStorable(), 'a shared cache does not store an answer to an Authorization request')
  const okLegacy = CachePolicy.fromJSON({ ...legacy, req: { host: 'a.test' }, res: { 'cache-control': 'max-age=60' } })
  t.true(okLegacy.isStorable())
  t.is(okLegacy.timeToLive(T0 + 10_000), 50_000)

  // A current-format policy with values no origin could produce.
  const damaged = { ...policy({ 'cache-control': 'max-age=60' }).toJSON(), responseTime: -9e18, requestTime: 9e18, heuristicFraction: 1e300 }
  damaged.responseHeaders = { ...damaged.responseHeaders, age: '9'.repeat(500), 'last-modified': 'Thu, 01 Jan 1970 00:00:00 GMT', 'bad name': 'x', inject: 'a\r\nb: c' }
  const p = CachePolicy.fromJSON(damaged)
  for (const now of [0, T0, 8.64e15, Number.MAX_VALUE, -1, NaN]) {
    p.isStale(now)
    p.age(now)
    p.timeToLive(now)
    p.servedHeaders(now)
    p.beforeRequest(req(), now)
  }
  t.false('bad name' in p.responseHeaders())
  t.false('inject' in p.responseHeaders(), 'a value with CR/LF read from disk is dropped, never served')
  for (const bad of [{ v: 2 }, { v: 99 }, 'nope', { v: 2, method: 'GET', url: 'http://[', status: 200 }]) {
    t.throws(() => CachePolicy.fromJSON(bad), { instanceOf: TypeError })
  }
})

// ---- issue 11: Age ----------------------------------------------------------------------------

test('Age: the first member of a list, and combined with Date (apparent age)', (t) => {
  t.true(policy({ 'cache-control': 'max-age=3600', age: '7200, 0' }).isStale(T0))
  t.false(policy({ 'cache-control': 'max-age=3600', age: '0,7200' }).isStale(T0))
  // `0, 0`: two Age lines joined (RFC 9110 5.3), as untrusted as two lines (age-parse-dup-0).
  t.true(policy({ 'cache-control': 'max-age=3600', age: '0, 0' }).isStale(T0), 'joined Age lines are not trusted')
  t.true(policy({ 'cache-control': 'max-age=3600', age: ['0', '7200'] }).isStale(T0), 'Age on two lines is not trusted')
  t.true(policy({ 'cache-control': 'max-age=3600', age: 'abc' }).isStale(T0))
  // A response dated two hours before it arrived is two hours old, without any Age.
  const dated = policy({ 'cache-control': 'max-age=3600', date: httpDate(T0 - 7_200_000) })
  t.true(dated.isStale(T0))
  t.is(dated.age(T0), 7200)
  // requestTime: the time the request spent in flight counts too.
  const slow = new CachePolicy(req(), { status: 200, headers: { 'cache-control': 'max-age=60', age: '10' } }, { responseTime: T0, requestTime: T0 - 3000 })
  t.is(slow.age(T0), 13)
})

// ---- issue 11: Expires --------------------------------------------------------------------------

test('Expires: IMF-fixdate, RFC 850 and asctime; an invalid date is already expired', (t) => {
  const hour = T0 + 3_600_000 // Thu, 01 Jan 2026 01:00:00 GMT
  for (const form of ['Thu, 01 Jan 2026 01:00:00 GMT', 'Thursday, 01-Jan-26 01:00:00 GMT', 'Thu Jan  1 01:00:00 2026']) {
    const p = policy({ expires: form, date: httpDate(T0) })
    t.is(p.freshnessLifetime(), 3_600_000, form)
    t.false(p.isStale(hour - 1000), form)
    t.true(p.isStale(hour), form)
  }
  for (const bad of ['0', 'Thu,  01 Jan 2026 01:00:00 GMT', 'Thu, 01 Jan 2026 01:00:00 UTC']) {
    const p = policy({ expires: bad })
    t.true(p.isStorable(), bad)
    t.true(p.isStale(T0), bad)
  }
})

// ---- issue 11: Cache-Control parsing --------------------------------------------------------------

test('Cache-Control: case-insensitive names; `max-age = 5` is invalid', (t) => {
  t.false(policy({ 'cache-control': 'MaX-AgE=60' }).isStale(T0))
  t.false(fresh(policy({ 'cache-control': 'max-age=60, No-CaChE' })))
  t.false(policy({ 'cache-control': 'max-age=60, No-StOrE' }).isStorable())
  const spaced = policy({ 'cache-control': 'max-age = 5' })
  t.true(spaced.isStale(T0))
  t.is(spaced.responseDirectives().maxAge, null)
  t.false(policy({ 'cache-control': 'max-age="60"' }).isStale(T0))
})

test('no-cache="field" and private="field" omit those fields instead of refusing to cache', (t) => {
  const noCache = policy({ 'cache-control': 'no-cache="x-a", max-age=60', 'x-a': '1', 'x-b': '2' })
  const served = noCache.beforeRequest(req(), T0)
  t.true(served.fresh)
  t.is(served.headers['x-b'], '2')
  t.false('x-a' in served.headers)
  t.deepEqual(noCache.responseDirectives().noCacheFields, ['x-a'])

  const res = { 'cache-control': 'private="x-user", max-age=60', 'x-user': 'alice', 'x-b': '2' }
  const shared = policy(res)
  t.true(shared.isStorable())
  t.false('x-user' in shared.responseHeaders())
  t.false(JSON.stringify(shared.toJSON()).includes('alice'))
  t.is(policy(res, { shared: false }).responseHeaders()['x-user'], 'alice')
  t.false(policy({ 'cache-control': 'private, max-age=60' }).isStorable())
  t.true(policy({ 'cache-control': 'private, max-age=60' }, { shared: false }).isStorable())
})

test('response Pragma: no-cache is ignored when Cache-Control is present', (t) => {
  t.true(fresh(policy({ 'cache-control': 'max-age=60', pragma: 'no-cache' })))
  t.false(fresh(policy({ expires: httpDate(T0 + 60_000), pragma: 'no-cache' })))
})

// ---- issue 11: statuses ------------------------------------------------------------------------

test('any final status with explicit freshness is storable; heuristics only for RFC 9110 15.1 statuses', (t) => {
  for (const status of [200, 299, 400, 404, 500, 503, 599]) {
    for (const headers of [{ 'cache-control': 'max-age=60' }, { 'cache-control': 's-maxage=60' }, { expires: httpDate(T0 + 60_000) }]) {
      const p = policy(headers, { status })
      t.true(p.isStorable(), `${status} ${JSON.stringify(headers)}`)
      t.false(p.isStale(T0), `${status} ${JSON.stringify(headers)}`)
    }
  }
  const lastModified = { date: httpDate(T0), 'last-modified': httpDate(T0 - 100_000_000) }
  for (const status of [200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501]) {
    const p = policy(lastModified, { status })
    t.is(p.freshnessLifetime(), 10_000_000, `${status}: 10% of the time since Last-Modified`)
    t.false(p.hasExplicitFreshness())
  }
  for (const status of [201, 302, 307, 403, 500, 502, 503, 599]) {
    t.false(policy(lastModified, { status }).isStorable(), String(status))
  }
  t.false(policy({ 'cache-control': 'max-age=60, must-understand' }, { status: 599 }).isStorable())
  t.false(policy({ 'cache-control': 'max-age=60' }, { status: 206 }).isStorable())
})

test('heuristic freshness: 10% of the time since Last-Modified, at least 10 s, at most a day; the heuristic option', (t) => {
  const modifiedAgo = (ms, options = {}) =>
    new CachePolicy(req(), { status: 200, headers: { date: httpDate(T0), 'last-modified': httpDate(T0 - ms) } }, { responseTime: T0, ...options })
      .freshnessLifetime()
  t.is(modifiedAgo(5_000), 10_000)
  t.is(modifiedAgo(1_000_000), 100_000)
  t.is(modifiedAgo(100 * 86_400_000), 86_400_000)
  t.is(modifiedAgo(5_000, { heuristic: { min: 0 } }), 500)
  t.is(modifiedAgo(1_000_000, { heuristic: { fraction: 0.5, max: 60_000 } }), 60_000)
  t.is(modifiedAgo(1_000_000, { heuristic: false }), 0)
  t.is(new CachePolicy(req(), { status: 200, headers: { 'cache-control': 'max-age=3600.5' } }, { responseTime: T0 }).freshnessLifetime(), 3_600_000)
  t.throws(() => modifiedAgo(1, { heuristic: { fraction: -1 } }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => modifiedAgo(1, { heuristic: 'none' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
})

// ---- issue 11: request directives ---------------------------------------------------------------

test('request directives are exposed and honoured', (t) => {
  t.deepEqual(CachePolicy.requestDirectives({ 'Cache-Control': 'No-Store, max-age=5, min-fresh=7, max-stale, only-if-cached' }), {
    noStore: true, noCache: false, onlyIfCached: true, maxAge: 5, minFresh: 7, maxStale: true, staleIfError: null,
  })
  t.is(CachePolicy.requestDirectives({ 'cache-control': 'max-stale=30' }).maxStale, 30)
  t.is(CachePolicy.requestDirectives({}).maxStale, null)
  t.true(CachePolicy.requestDirectives({ pragma: 'no-cache' }).noCache)
  t.true(CachePolicy.requestDirectives(new Headers({ 'cache-control': 'no-cache' })).noCache)

  const p = policy({ 'cache-control': 'max-age=100' })
  const at = T0 + 10_000
  t.false(new CachePolicy(req({ 'cache-control': 'no-store' }), { status: 200, headers: { 'cache-control': 'max-age=100' } }).isStorable())
  t.true(fresh(p, req(), at))
  t.false(fresh(p, req({ 'cache-control': 'no-cache' }), at))
  t.false(fresh(p, req({ 'cache-control': 'max-age=5' }), at))
  t.false(fresh(p, req({ 'cache-control': 'min-fresh=95' }), at))
  const later = T0 + 130_000
  t.false(fresh(p, req(), later))
  t.true(fresh(p, req({ 'cache-control': 'max-stale=60' }), later))
  t.false(fresh(p, req({ 'cache-control': 'max-stale=10' }), later))
  t.false(fresh(policy({ 'cache-control': 'max-age=100, must-revalidate' }), req({ 'cache-control': 'max-stale' }), later))
})

test('stale-while-revalidate and stale-if-error windows; must-revalidate forbids both', (t) => {
  const p = policy({ 'cache-control': 'max-age=1, stale-while-revalidate=10, stale-if-error=60' })
  t.false(p.canStaleWhileRevalidate(T0))
  t.true(p.canStaleWhileRevalidate(T0 + 5000))
  t.false(p.canStaleWhileRevalidate(T0 + 12_000))
  t.true(p.canStaleIfError(req(), T0 + 30_000))
  t.true(p.canStaleIfError(undefined, T0 + 30_000))
  t.false(p.canStaleIfError(req(), T0 + 62_000))
  t.true(policy({ 'cache-control': 'max-age=1' }).canStaleIfError(req({ 'cache-control': 'stale-if-error=10' }), T0 + 5000))
  const strict = policy({ 'cache-control': 'max-age=1, must-revalidate, stale-while-revalidate=10, stale-if-error=60' })
  t.false(strict.mayServeStale())
  t.false(strict.canStaleWhileRevalidate(T0 + 5000))
  t.false(strict.canStaleIfError(req(), T0 + 5000))
  t.false(policy({ 'cache-control': 'max-age=1, s-maxage=1, stale-if-error=60' }).canStaleIfError(req(), T0 + 5000))
})

// ---- issue 11: revalidation ---------------------------------------------------------------------

test('a 304 without validators updates the selected stored response', (t) => {
  const p = policy({ 'cache-control': 'max-age=1', etag: '"v1"', 'x-a': 'old', 'content-length': '5' })
  const asked = p.beforeRequest(req(), T0 + 5000)
  t.false(asked.fresh)
  t.is(asked.headers['if-none-match'], '"v1"')
  const after = p.afterResponse(req(), { status: 304, headers: { 'cache-control': 'max-age=60', 'x-a': 'new', 'content-length': '0' } }, T0 + 5000)
  t.false(after.modified)
  t.true(after.policy instanceof CachePolicy)
  t.false(after.policy.isStale(T0 + 30_000))
  t.is(after.headers['x-a'], 'new')
  t.is(after.headers['content-length'], '5', 'fields describing the stored body are kept')
  t.is(after.policy.status, 200)
  // A 304 about the client's own copy (its If-None-Match names "v2") does not update this one.
  t.true(p.afterResponse(req({ 'if-none-match': '"v2"' }), { status: 304, headers: { etag: '"v2"' } }, T0 + 5000).modified)
  // Any other 304 validates it and keeps its ETag (http-cache-tests 304-etag-update-response-ETag).
  const other = p.afterResponse(req(), { status: 304, headers: { etag: '"v2"' } }, T0 + 5000)
  t.false(other.modified)
  t.is(other.headers.etag, '"v1"')
  t.deepEqual(p.revalidationHeaders(req({ accept: '*/*' })), { accept: '*/*', 'if-none-match': '"v1"' })
  // The client's own conditional request, answered from the stored response.
  t.true(p.notModifiedFor(req({ 'if-none-match': 'W/"v1"' })))
  t.false(p.notModifiedFor(req({ 'if-none-match': '"v0"' })))
})

test('hits serve the stored Date with a current Age, and multi-valued fields whole', (t) => {
  const date = httpDate(T0 - 5000)
  const p = policy({ 'cache-control': 'max-age=3600', date, age: '30', link: ['</a>; rel=preload', '</b>; rel=preload'] })
  const hit = p.beforeRequest(req(), T0 + 10_000)
  t.true(hit.fresh)
  t.is(hit.headers.date, date)
  t.is(hit.headers.age, '40')
  t.deepEqual(hit.headers.link, ['</a>; rel=preload', '</b>; rel=preload'])
  t.deepEqual(p.servedHeaders(T0 + 10_000), hit.headers)
})

test('shared caches never store Set-Cookie; private caches replay it', (t) => {
  const res = { 'cache-control': 'max-age=60', 'set-cookie': ['a=1', 'b=2'] }
  const shared = policy(res)
  t.true(shared.isStorable())
  t.false('set-cookie' in shared.servedHeaders(T0))
  t.false(JSON.stringify(shared.toJSON()).includes('a=1'))
  t.deepEqual(policy(res, { shared: false }).servedHeaders(T0)['set-cookie'], ['a=1', 'b=2'])
})

// ---- issue 11 / issue 9: real headers from a real origin ------------------------------------------

test('obs-text header values from a real origin survive storage exactly (undici and node:http)', async (t) => {
  // A raw origin, so the wire carries single latin-1 bytes (0xE9, 0xFF, 0x80), not UTF-8.
  const latin1 = Buffer.from('attachment; filename="r\xe9sum\xe9.pdf"', 'latin1')
  const server = net.createServer((socket) => {
    socket.once('data', () => {
      socket.end(Buffer.concat([
        Buffer.from('HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-disposition: '),
        latin1,
        Buffer.from('\r\nx-high: '),
        Buffer.from([0xff, 0x80]),
        Buffer.from('\r\ncontent-length: 1\r\nconnection: close\r\n\r\nx'),
      ]))
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(() => resolve())))
  const base = `http://127.0.0.1:${server.address().port}`
  const expected = 'attachment; filename="r\u00e9sum\u00e9.pdf"'

  const viaUndici = await request(base + '/doc')
  await viaUndici.body.text()
  const a = new CachePolicy({ url: base + '/doc' }, { status: viaUndici.statusCode, headers: viaUndici.headers })
  const viaNode = await new Promise((resolve, reject) => {
    http.get(base + '/doc', (res) => { res.resume(); res.on('end', () => resolve(res)) }).on('error', reject)
  })
  const b = new CachePolicy({ url: base + '/doc' }, { status: viaNode.statusCode ?? 0, headers: viaNode.headers })

  for (const p of [a, b]) {
    t.is(p.responseHeaders()['content-disposition'], expected)
    const restored = CachePolicy.fromJSON(JSON.parse(JSON.stringify(p.toJSON())))
    const served = restored.beforeRequest({ url: base + '/doc' }).headers
    t.is(served['content-disposition'], expected)
    t.is(served['x-high'], '\u00ff\u0080')
    t.deepEqual(Buffer.from(served['content-disposition'], 'latin1'), latin1, 'the same bytes go back on the wire')
  }

  // Through the cache's own disk format and a reopen.
  const dir = tempDir(t)
  const cache = new StreamingCache(dir)
  await cache.put('doc', { status: 200, headers: {}, request: { url: base + '/doc' }, policy: a, body: 'x' })
  await cache.close()
  const reopened = new StreamingCache(dir)
  t.teardown(() => reopened.close())
  const hit = await reopened.get('doc')
  hit.body.resume()
  t.is(hit.policy.servedHeaders()['content-disposition'], expected)
})

test('headers as undici hands them over raw ([name, value, ...] with Buffers) and as Headers', (t) => {
  const raw = [Buffer.from('Cache-Control'), Buffer.from('max-age=60'), Buffer.from('X-Name'), Buffer.from([0x72, 0xe9]), Buffer.from('x-name'), Buffer.from('b')]
  const p = new CachePolicy(req(), { status: 200, headers: raw }, { responseTime: T0 })
  t.false(p.isStale(T0))
  t.deepEqual(p.responseHeaders()['x-name'], ['r\u00e9', 'b'])
  const fetchHeaders = new CachePolicy(req(), { status: 200, headers: new Headers({ 'cache-control': 'max-age=60', vary: 'accept' }) }, { responseTime: T0 })
  t.is(fetchHeaders.freshnessLifetime(), 60_000)
  t.true(fetchHeaders.matches(req()))
  t.false(fetchHeaders.matches(req({ accept: 'text/html' })))
})

// ---- bad input --------------------------------------------------------------------------------

test('bad arguments are TypeError / RangeError with a code, never a crash', (t) => {
  t.throws(() => new CachePolicy(null, { status: 200 }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new CachePolicy({ url: 1 }, { status: 200 }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new CachePolicy(req(), { status: '200' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new CachePolicy(req(), { status: 200, headers: 'x' }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => new CachePolicy(req(), { status: 200, headers: { a: {} } }), { instanceOf: TypeError })
  t.throws(() => new CachePolicy(req(), { status: 200, headers: { a: 'x\r\ny' } }), { instanceOf: TypeError, code: 'ERR_INVALID_CHAR' })
  t.throws(() => new CachePolicy(req(), { status: 70000 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' })
  t.throws(() => new CachePolicy({ url: 'http://[' }, { status: 200 }), { code: 'ERR_INVALID_ARG_VALUE' })
  const p = policy({ 'cache-control': 'max-age=60' })
  t.throws(() => p.isStale('now'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => p.beforeRequest({}), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.throws(() => p.afterResponse(req(), {}), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
})
