// Type test (`npm run typecheck`, part of `npm test`): real usages of the public API,
// CommonJS `require` style, compiled with `tsc --strict --noEmit`. Lines marked
// `@ts-expect-error` must stay errors.
import fs = require('node:fs')
import http = require('node:http')
import undici = require('undici')
import cacheModule = require('http-streaming-cache')
import undiciModule = require('http-streaming-cache/undici')

const { CachePolicy, StreamingCache } = cacheModule
const { cacheInterceptor, StreamingCacheStore } = undiciModule

type RequestDirectives = cacheModule.RequestDirectives
type ResponseDirectives = cacheModule.ResponseDirectives

async function withNode (url: string): Promise<void> {
  const clientRequest = http.get(url)
  const res = await new Promise<http.IncomingMessage>((resolve) => clientRequest.on('response', resolve))
  const status = res.statusCode ?? 0
  // Node's IncomingHttpHeaders (values may be undefined, set-cookie is string[]).
  const policy = new CachePolicy({ url, headers: { accept: 'text/html' } }, { status, headers: res.headers })
  // A proxy's view: the OutgoingHttpHeaders it sent (numbers allowed).
  const fromReq = new CachePolicy({ method: 'GET', url, headers: clientRequest.getHeaders() }, { status, headers: res.headers }, { shared: false })
  const stale: boolean = policy.isStale()
  const ttl: number = policy.timeToLive(Date.now())
  const age: number = fromReq.age()
  void [stale, ttl, age]
}

async function withUndici (url: string): Promise<void> {
  const { statusCode, headers, body } = await undici.request(url)
  await body.text()
  // undici's IncomingHttpHeaders.
  const policy = new CachePolicy({ url }, { status: statusCode, headers }, { responseTime: Date.now(), requestTime: Date.now() - 5 })
  // The Fetch API's Headers and raw header arrays work too.
  const fetched = await fetch(url)
  const fromFetch = new CachePolicy({ url, headers: new Headers({ accept: '*/*' }) }, { status: fetched.status, headers: fetched.headers })
  const raw = new CachePolicy({ url }, { statusCode: 200, headers: ['cache-control', 'max-age=60'] })

  const before = policy.beforeRequest({ url, headers })
  if (before.fresh) {
    const date: string | string[] | undefined = before.headers.date
    void date
  } else {
    const matches: boolean = before.matches
    void matches
  }
  const after = policy.afterResponse({ url }, { status: 304, headers })
  const next: InstanceType<typeof CachePolicy> = after.policy
  const modified: boolean = after.modified
  void [next, modified, fromFetch, raw]

  const asked: RequestDirectives = CachePolicy.requestDirectives(headers)
  const maxStale: number | true | null = asked.maxStale
  const onlyIfCached: boolean = asked.onlyIfCached
  const directives: ResponseDirectives = policy.responseDirectives()
  const swr: number | null = directives.staleWhileRevalidate
  const fields: string[] = directives.noCacheFields
  void [maxStale, onlyIfCached, swr, fields]

  const numbers: number[] = [policy.freshnessLifetime(), policy.staleness(), policy.status, policy.responseTime]
  const flags: boolean[] = [
    policy.hasExplicitFreshness(),
    policy.mayServeStale(),
    policy.canStaleWhileRevalidate(),
    policy.canStaleIfError({ url }),
    policy.canStaleIfError(),
    policy.matches({ url, headers }),
    policy.notModifiedFor({ url, headers: { 'if-none-match': '"v1"' } }),
    policy.isStorable(),
  ]
  const texts: string[] = [policy.url, policy.method]
  const served: cacheModule.Headers = policy.servedHeaders()
  const stored: cacheModule.Headers = policy.responseHeaders()
  const revalidate: cacheModule.Headers = policy.revalidationHeaders({ url, method: 'GET' })
  const json: unknown = policy.toJSON()
  const restored = CachePolicy.fromJSON(json)
  void [numbers, flags, texts, served, stored, revalidate, restored]

  // @ts-expect-error a request needs a url
  void new CachePolicy({ method: 'GET' }, { status: 200 })
  // @ts-expect-error a status is a number
  void new CachePolicy({ url }, { status: '200' })
}

async function withCache (): Promise<void> {
  const cache = await StreamingCache.withTempDir(100)
  const dir = new StreamingCache(cache.dir, { maxEntries: 10, maxBodySize: 1024 })
  await dir.close()
  const res = await undici.request('http://127.0.0.1:1/')
  const info = await cache.put('key', {
    status: res.statusCode,
    headers: { 'content-type': 'text/plain', 'content-length': 5 },
    request: { url: 'http://127.0.0.1:1/', headers: res.headers },
    body: res.body,
  })
  const size: number = info.size
  const hit = await cache.get('key')
  if (hit !== null) {
    const fresh: boolean | undefined = hit.policy?.isStale()
    hit.body.resume()
    void fresh
  }
  // writeTo: a cached body into a file or a response, in constant memory.
  const toFile = await cache.get('key')
  if (toFile !== null) {
    const written: number = await toFile.body.writeTo(fs.createWriteStream('/tmp/out'))
    void written
  }
  http.createServer(async (_req, res) => {
    const served = await cache.get('key')
    if (served === null) {
      res.writeHead(404).end()
      return
    }
    const options: cacheModule.WriteToOptions = { end: false }
    await served.body.writeTo(res, options)
    res.end()
    // @ts-expect-error end is a boolean
    await served.body.writeTo(res, { end: 'yes' })
    // @ts-expect-error a Writable is required
    await served.body.writeTo('/tmp/out')
  })
  const peeked = cache.peek('key')
  const keys: string[] = cache.keys('k')
  const ws = cache.createWriteStream('key2', { status: 200, policy: hit?.policy ?? undefined })
  ws.end('hello')
  await ws.committed
  await cache.updateMetadata('key', { headers: { etag: '"v2"' }, request: { url: 'http://127.0.0.1:1/' } })
  const report = await cache.verify()
  void [size, peeked, keys, report.corrupt, cache.entryCount(), cache.has('key')]
  await cache.delete('key')
  await cache.close()

  const agent = new undici.Agent().compose(cacheInterceptor({ cache, mode: 'default', shared: true, methods: ['GET'] }))
  const store = new StreamingCacheStore({ location: cache.dir, maxEntries: 100 })
  // Heuristic freshness bounds (or none) on both fronts and on CachePolicy.
  const bounded = new undici.Agent().compose(cacheInterceptor({ cache, heuristic: { fraction: 0.1, min: 10_000, max: 86_400_000 } }))
  const noHeuristic = new undici.Agent().compose(undici.interceptors.cache({ store: new StreamingCacheStore({ heuristic: false }) }))
  const floorless = new CachePolicy({ url: 'http://a.test/' }, { status: 200, headers: {} }, { heuristic: { min: 0 } })
  const viaStore = new undici.Agent().compose(undici.interceptors.cache({ store }))
  void [agent, viaStore, store.cache.entryCount(), bounded, noHeuristic, floorless]
}

void [withNode, withUndici, withCache]
