import type { Writable } from 'node:stream'
import type CacheInterceptor from 'undici/types/cache-interceptor'
import type { StreamingCache } from './index'

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
