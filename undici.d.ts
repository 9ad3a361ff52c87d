import type { Writable } from 'node:stream'
import type CacheInterceptor from 'undici/types/cache-interceptor'
import type { HeuristicOptions, RemoteOptions, StreamingCache } from './index'

export type CacheKey = CacheInterceptor.CacheKey
export type CacheValue = CacheInterceptor.CacheValue
export type CacheStore = CacheInterceptor.CacheStore
export type GetResult = CacheInterceptor.GetResult

export interface StreamingCacheStoreOptions {
  /** Cache directory, created if missing and reopened with its entries. Default: a fresh temporary directory, removed at exit. */
  location?: string
  /** Upper bound on the number of stored responses (every variant counts). Default 10 000. */
  maxEntries?: number
  /** Largest body stored, in bytes; a larger response is passed through uncached. Default 100 MiB. */
  maxEntrySize?: number
  /**
   * Milliseconds a `get` waits for a response to the same request that is being written right
   * now (request coalescing) before answering from what is stored. `0` turns waiting off.
   * Default 10 000.
   */
  coalesceTimeout?: number
  /**
   * A shared second tier on Redis/Valkey behind the store's disk (see `RemoteOptions` and the
   * README section "Sharing a cache across hosts"): a miss here is looked up there, and what
   * is stored is written through in the background. Off by default.
   */
  remote?: RemoteOptions
  /** The RAM tier for hot bodies, as StreamingCache's `memory` option (on by default; `0` or `false` turns it off). */
  memory?: false | 0 | { maxSize?: number, maxEntrySize?: number }
  /**
   * Heuristic freshness of responses with `Last-Modified` and no explicit freshness, in place of
   * undici's (10% of the time since `Last-Modified`, unbounded): see `HeuristicOptions`.
   * Default `{ fraction: 0.1, min: 10_000, max: 86_400_000 }`.
   */
  heuristic?: HeuristicOptions | false
}

/**
 * A disk-backed store for undici's cache interceptor:
 * `new Agent().compose(interceptors.cache({ store: new StreamingCacheStore({ location }) }))`.
 *
 * Bodies stream to and from disk in chunks; responses survive restarts when `location` is given.
 */
export declare class StreamingCacheStore implements CacheStore {
  constructor (options?: StreamingCacheStoreOptions)

  /** The cache directory. */
  readonly location: string
  readonly maxEntries: number
  readonly maxEntrySize: number
  /** The StreamingCache underneath, for maintenance (`verify()`, `refresh()`, `entryCount()`, ...). */
  readonly cache: StreamingCache

  /**
   * The newest stored response for `key` (same method, matching `vary`, `deleteAt` in the
   * future) with a fresh body stream, or `undefined`. Synchronous, except while a write for
   * the same URL is being committed: then a promise of the same.
   */
  get (key: CacheKey): GetResult | Promise<GetResult | undefined> | undefined

  /**
   * A Writable for the body of `value`; the response is stored when the stream finishes.
   * Nothing is stored if it is destroyed, errors, or receives more than `maxEntrySize` bytes
   * (it then destroys itself). `undefined` when the response cannot be stored (status outside
   * 100-599, URL longer than 64 KiB).
   */
  createWriteStream (key: CacheKey, value: CacheValue): Writable | undefined

  /** Removes every stored response for `key.origin` + `key.path` (all methods, all variants). */
  delete (key: Pick<CacheKey, 'origin' | 'path'> & Partial<CacheKey>): Promise<void>
}

/**
 * Cache modes, with the Fetch standard's meanings (`Request.cache`), plus `'ignore-rules'`:
 * - `'default'`: fresh entries are served, stale ones revalidated, responses stored as HTTP allows.
 * - `'no-store'`: the cache is neither read nor written.
 * - `'reload'`: the origin is always asked; its response is stored.
 * - `'no-cache'`: entries are always revalidated (conditional request) before being served.
 * - `'force-cache'`: any matching entry is served, even stale; otherwise the origin is asked.
 * - `'only-if-cached'`: any matching entry is served, even stale; otherwise a 504, the origin is not contacted.
 * - `'ignore-rules'`: every 2xx response (but 206) is stored whatever its headers say, and served
 *   without revalidation (until `maxTtl`, if set). `Vary` still selects the variant; `Vary: *` is never stored.
 */
export type CacheMode =
  | 'default'
  | 'no-store'
  | 'reload'
  | 'no-cache'
  | 'force-cache'
  | 'only-if-cached'
  | 'ignore-rules'

export interface CacheInterceptorOptions {
  /** Where responses are stored. Required. */
  cache: import('./index').StreamingCache
  /** Default `'default'`. */
  mode?: CacheMode
  /** A mode for one request (e.g. from a header); `undefined` or `null` keeps `mode`. */
  modeFor?: (opts: import('undici/types/dispatcher').default.DispatchOptions) => CacheMode | undefined | null
  /** Methods answered from and stored in the cache: `'GET'` and/or `'HEAD'`. Default both. */
  methods?: Array<'GET' | 'HEAD' | 'get' | 'head'>
  /**
   * Shared-cache (proxy) semantics: `private` responses and requests with `Authorization`
   * are not stored (unless the response allows it), `s-maxage` applies. Default `false`:
   * a private cache, like a browser's, since it serves one application.
   */
  shared?: boolean
  /** The base key of a request. Default: `` `${method} ${origin}${path}` `` (query included). */
  cacheKey?: (opts: import('undici/types/dispatcher').default.DispatchOptions & { method: string }) => string
  /**
   * Heuristic freshness of responses with `Last-Modified` and no explicit freshness (RFC 9111
   * 4.2.2): see `HeuristicOptions`. Default `{ fraction: 0.1, min: 10_000, max: 86_400_000 }`.
   */
  heuristic?: HeuristicOptions | false
  /** Add `x-cache: HIT|MISS` (served from the cache?) and `x-cache-lookup: HIT|MISS` (entry found?). Default `true`. */
  statusHeaders?: boolean
  /**
   * Milliseconds: the longest an entry is used without asking the origin, counted from when it
   * was stored or last revalidated, whatever its own freshness. Default: no cap.
   */
  maxTtl?: number
  /**
   * Milliseconds the cache may hold a response back (a stalled disk write, the final commit)
   * before storing it is abandoned; the caller then gets the rest at its own pace. Default 2000.
   */
  cacheWriteTimeout?: number
  /**
   * Cached bodies up to this many bytes are read (and their integrity checked) before the
   * response starts, so a corrupt one falls back to the origin unseen. Larger ones stream as
   * they are read; corruption then fails the response with `ERR_CACHE_INTEGRITY`. Default
   * 64 KiB (one chunk): larger bodies are not held in memory before they are served.
   */
  verifyBeforeServing?: number
  /**
   * Milliseconds a request that misses waits for the response to a concurrent request for the
   * same key, already on its way to the origin, to start (request coalescing); it then reads
   * that body as it arrives. Past this, it asks the origin itself. `0` turns coalescing off.
   * Default 10 000.
   */
  coalesceTimeout?: number
}

/**
 * The `diagnostics_channel` names cacheInterceptor publishes on, one per outcome. Every
 * message has `key` (the base cache key), `method` and `url`.
 */
export type CacheInterceptorChannel =
  | 'http-streaming-cache:interceptor:hit'
  | 'http-streaming-cache:interceptor:stale'
  | 'http-streaming-cache:interceptor:miss'
  | 'http-streaming-cache:interceptor:revalidated'
  | 'http-streaming-cache:interceptor:stored'
  | 'http-streaming-cache:interceptor:coalesced'
  | 'http-streaming-cache:interceptor:bypass'

/**
 * An undici interceptor answering requests from a StreamingCache:
 * `new Agent().compose(cacheInterceptor({ cache }))`. Freshness, storability and revalidation
 * are decided by `CachePolicy` (RFC 9111, http-cache-semantics).
 */
export declare function cacheInterceptor (options: CacheInterceptorOptions): import('undici/types/dispatcher').default.DispatcherComposeInterceptor
