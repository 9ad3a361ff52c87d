import type { Readable, Writable } from 'node:stream'

/** A header value: multi-valued headers (such as `set-cookie`) stay arrays. */
export type HeaderValue = string | string[]
/** Response headers. Names are stored lower-case. */
export type Headers = Record<string, HeaderValue>

/** Anything `put` can stream to disk. Strings are encoded as UTF-8. */
export type BodySource =
  | Buffer
  | Uint8Array
  | string
  | Readable
  | AsyncIterable<Uint8Array | string>
  | Iterable<Uint8Array | string>

export interface StreamingCacheOptions {
  /** Upper bound on the number of entries (TinyLFU admission and eviction). Default 10 000. */
  maxEntries?: number
  /** Largest body `put` accepts, in bytes; checked while streaming. Default 100 MiB. */
  maxBodySize?: number
  /**
   * Bytes of content the directory may hold, every process using it together (each body
   * once, however many keys share it). Default 1 GiB. Whichever of `maxEntries` and `maxSize`
   * is reached first evicts; a body larger than `maxSize` is refused (`ERR_BODY_TOO_LARGE`).
   */
  maxSize?: number
  /**
   * The RAM tier for hot bodies: 64 MiB in all and bodies up to and including 1 MiB by
   * default; `0` or `false` (or `maxSize: 0`) turns it off.
   */
  memory?: false | 0 | { maxSize?: number, maxEntrySize?: number }
  /**
   * A shared second tier on Redis or Valkey behind the local disk: lookups go RAM -> local
   * disk -> Redis -> origin, local stores are written through in the background. See
   * `RemoteOptions` and the README section "Sharing a cache across hosts". Off by default.
   */
  remote?: RemoteOptions
}

/**
 * The shared second tier (`StreamingCacheOptions.remote`, `RemoteTier`). Durations are
 * milliseconds, sizes bytes. Unknown names are rejected (`ERR_INVALID_ARG_VALUE`).
 */
export interface RemoteOptions {
  /** `redis://[user:password@]host:port[/db]` of a Redis or Valkey server (required). */
  url: string
  /** Prepended to every key (`<prefix>:k:<key>`...), so several caches can share one server. Default `'hsc'`. */
  prefix?: string
  /** Bodies larger than this are neither uploaded nor read. Default 64 MiB. */
  maxBodySize?: number
  /** Bytes per chunk key, 64 KiB to 1 MiB. Default 512 KiB. */
  chunkSize?: number
  /** How long a lookup (on a local miss) may take before it counts as a miss. Default 5. */
  lookupTimeout?: number
  /** How long any other single operation (one chunk, one commit step, a lock) may take. Default 1000. */
  opTimeout?: number
  /** How long connecting may take. Default 250. */
  connectTimeout?: number
  /** Consecutive outages (timeouts, refused connections) that open the circuit breaker. Default 5. */
  breakerThreshold?: number
  /** How long an open breaker stops all traffic before one probe is let through. Default 2000. */
  breakerCooldown?: number
  /** Uploads waiting for a worker; more are dropped and counted (`stats().remote.dropped`). Default 64. */
  queueCapacity?: number
  /** Uploads running at once, 1 to 16. Default 2. */
  uploadWorkers?: number
  /** Added to an entry's HTTP freshness for its expiry in Redis, so a stale entry can still be revalidated. Default 600 000 (10 min). */
  revalidationGrace?: number
  /** Lifetime of a cross-host fetch lock whose holder never released it (crashed). Default 10 000. */
  lockTtl?: number
}

/** `cache.stats().remote`: the shared tier's counters since the cache was opened. */
export interface RemoteStats {
  /** Local misses answered from the shared tier. */
  hits: number
  /** Local misses the shared tier could not answer (absent, incomplete, corrupt, failed, too slow). */
  misses: number
  /** Failed calls: timeouts, refused connections, garbage, bodies failing verification. */
  errors: number
  /** Entries uploaded (write-through), bodies already there included. */
  uploads: number
  /** Of `uploads`, those whose body was already in Redis (only the metadata went up). */
  uploadsDeduplicated: number
  /** Write-throughs turned away: queue full or breaker open. */
  dropped: number
  uploadsFailed: number
  /** Bytes read from and written to the shared tier. */
  bytes: number
  bytesRead: number
  bytesWritten: number
  /** Bodies found partly evicted. */
  evicted: number
  /** Entries from the shared tier committed to the local disk, and those whose local write failed. */
  fills: number
  fillsFailed: number
  breakerOpen: boolean
  breakerOpened: number
  locksAcquired: number
  locksBusy: number
  /** Uploads queued or running now. */
  queued: number
}

/** Why entries left the cache, other than `delete`, `clear` or a replacing `put`. */
export interface CacheEvictions {
  /** Pushed out (or refused entry) by `maxEntries` or `maxSize`: TinyLFU's choice. */
  size: number
  /** Pushed out because other processes filled the shared byte budget: oldest stored first. */
  sharedBudget: number
  /** Their content failed its integrity check. */
  corrupt: number
  /** Their content was gone from disk. */
  missing: number
}

/** `cache.stats()`: counters since the cache was opened, and sizes now. */
export interface CacheStats {
  /** Lookups that found the key, from disk or from the RAM tier. */
  hits: number
  /** Of `hits`, those served from the RAM tier (no disk read). */
  memoryHits: number
  misses: number
  /** Puts that committed. */
  stores: number
  /** Of `stores`, those whose body was already on disk (nothing new written). */
  deduplicatedStores: number
  /** Body bytes of committed puts. */
  bytesWritten: number
  /** Body bytes read from disk (RAM hits read none). */
  bytesRead: number
  evictions: CacheEvictions
  /** Reads that found content not matching its hash. */
  integrityFailures: number
  /** Live entries in this process's index. */
  entries: number
  /** Bytes of content in the directory (every process's, each body once). */
  bytes: number
  maxSize: number
  maxEntries: number
  /** Bytes the live entries would take without deduplication, minus what they take. */
  dedupSavedBytes: number
  /** The shared tier's counters, when the cache has one (`remote` option). */
  remote?: RemoteStats
}

/**
 * Header fields as Node and undici hand them over: a plain object such as Node's
 * `IncomingHttpHeaders`/`OutgoingHttpHeaders` or undici `request()`'s `headers` (absent values
 * `undefined`), a raw `[name, value, name, value, ...]` array (Buffers are read as latin-1, as
 * on the wire), or any iterable of `[name, value]` pairs such as the Fetch API's `Headers`.
 */
export type HeadersInput =
  | { [name: string]: string | string[] | number | Buffer | Buffer[] | undefined | null }
  | ReadonlyArray<string | Buffer | string[] | Buffer[]>
  | Iterable<readonly [string, string | string[]]>

/** The request a response answered: used to build and store the HTTP caching policy. */
export interface CacheRequest {
  method?: string
  url?: string
  headers?: HeadersInput
}

export interface EntryFields {
  /** HTTP status, 100-599. */
  status: number
  headers?: Record<string, string | string[] | number | undefined>
  /** The URL the response came from. */
  url?: string | null
  /** Any JSON value, stored and returned as-is. */
  metadata?: unknown
}

export interface PutEntry extends PolicySource {
  body: BodySource
}

/** How an entry gets its caching policy: built from `request`, or given as `policy`. */
export interface PolicySource extends EntryFields {
  /** The request this response answered: the caching policy is built from it and stored. */
  request?: CacheRequest
  /** Shared-cache semantics for the policy built from `request` (default true). */
  shared?: boolean
  /** A policy to store as-is (instead of building one from `request`). */
  policy?: CachePolicy
}

export interface MetadataUpdate extends Partial<EntryFields> {
  request?: CacheRequest
  shared?: boolean
  policy?: CachePolicy
}

export interface CachePolicyOptions {
  /** Shared (proxy) cache semantics: `private` is not storable, `s-maxage` applies, `set-cookie` is never stored. Default true. */
  shared?: boolean
  /** When the response was received, in ms since the epoch. Default `Date.now()`. */
  responseTime?: number
  /** When its request was sent, in ms since the epoch (its delay counts in the response's age). Default `responseTime`. */
  requestTime?: number
  /** Heuristic freshness for responses with `Last-Modified` and no explicit freshness (see `HeuristicOptions`). */
  heuristic?: HeuristicOptions | false
}

/**
 * Heuristic freshness (RFC 9111 4.2.2): a response without `max-age`/`s-maxage`/`Expires` but
 * with a `Last-Modified` is fresh for `fraction` of the time since it was last modified, at
 * least `min` and at most `max` milliseconds. `false`: no heuristic freshness (such responses
 * are revalidated before each use). Defaults: 0.1, 10 000 (10 s), 86 400 000 (a day).
 */
export interface HeuristicOptions {
  fraction?: number
  min?: number
  max?: number
}

/** The request a policy is built from or asked about: a URL, plus a method (default GET) and headers. */
export type CachePolicyRequest = CacheRequest & { url: string }

/** A response as `undici.request()` (`statusCode`) or the Fetch API and this package (`status`) give it. */
export type CachePolicyResponse = ({ status: number } | { statusCode: number }) & { headers?: HeadersInput }

export type BeforeRequestResult =
  /** Serve the stored body with these response headers (the stored `date`, a current `age`). */
  | { fresh: true; matches: true; headers: Headers }
  /** Ask the origin with these request headers; `matches` is false if the stored response does not answer this request. */
  | { fresh: false; matches: boolean; headers: Headers }

export interface AfterResponseResult {
  /** `false` when the origin confirmed the stored body (a 304 that selects it): keep the body. */
  modified: boolean
  policy: CachePolicy
  /** Response headers to serve and store from now on. */
  headers: Headers
}

/** A request's own `Cache-Control` (RFC 9111 5.2.1). Seconds, or `null` when absent. */
export interface RequestDirectives {
  noStore: boolean
  /** `no-cache`, or `Pragma: no-cache` when there is no `Cache-Control`. */
  noCache: boolean
  onlyIfCached: boolean
  maxAge: number | null
  minFresh: number | null
  /** `true`: any staleness is acceptable (`max-stale` without a value). */
  maxStale: number | true | null
  staleIfError: number | null
}

/** A response's `Cache-Control` as the policy understood it. Seconds (clamped to 2^31), or `null` when absent or invalid. */
export interface ResponseDirectives {
  maxAge: number | null
  sMaxage: number | null
  noStore: boolean
  /** Unqualified `no-cache` (or `Pragma: no-cache` without `Cache-Control`): validate before every use. */
  noCache: boolean
  /** Fields a qualified `no-cache="..."` names: left out of responses served without validation. */
  noCacheFields: string[]
  /** Unqualified `private`. */
  private: boolean
  /** Fields a qualified `private="..."` names: a shared cache does not store them. */
  privateFields: string[]
  public: boolean
  mustRevalidate: boolean
  proxyRevalidate: boolean
  mustUnderstand: boolean
  immutable: boolean
  noTransform: boolean
  staleWhileRevalidate: number | null
  staleIfError: number | null
}

/**
 * RFC 9111 freshness and revalidation, decided in Rust. Every delta-seconds value is clamped
 * to 2^31 before any arithmetic; a native failure is an `Error` with `code: 'ERR_CACHE_INTERNAL'`.
 */
export declare class CachePolicy {
  constructor (request: CachePolicyRequest, response: CachePolicyResponse, options?: CachePolicyOptions)
  /** A policy from `toJSON()` output (also the format earlier versions stored). */
  static fromJSON (json: unknown): CachePolicy
  /** Parses a request's `Cache-Control` (and `Pragma`). */
  static requestDirectives (headers: HeadersInput | undefined): RequestDirectives
  toJSON (): unknown
  /** Whether the response may be stored at all. */
  isStorable (): boolean
  isStale (now?: number): boolean
  /** Milliseconds of freshness left (0 when stale). */
  timeToLive (now?: number): number
  /** Current age in seconds (RFC 9111 4.2.3: `Age` and `Date` combined, plus time stored). */
  age (now?: number): number
  /** Freshness lifetime in milliseconds (0 when the response must be validated before each use). */
  freshnessLifetime (): number
  /** Milliseconds since the response became stale (0 while fresh). */
  staleness (now?: number): number
  /** Whether the lifetime comes from `s-maxage`, `max-age` or `Expires` (not a heuristic). */
  hasExplicitFreshness (): boolean
  /** False when `must-revalidate`, `no-cache` or (shared) `proxy-revalidate`/`s-maxage` forbid serving it stale. */
  mayServeStale (): boolean
  /** Stale, but within `stale-while-revalidate`: serve it and revalidate in the background. */
  canStaleWhileRevalidate (now?: number): boolean
  /** May be served stale because the origin failed (`stale-if-error` of the response or of `request`). */
  canStaleIfError (request?: CachePolicyRequest, now?: number): boolean
  /** The response's status. */
  readonly status: number
  /** The URL of the request the response answered. */
  readonly url: string
  /** Its method, upper-case. */
  readonly method: string
  /** When the response was received (ms since the epoch). */
  readonly responseTime: number
  /** The response's fields as stored: no hop-by-hop fields; shared: no `set-cookie` and no `private="..."` fields. */
  responseHeaders (): Headers
  /** The fields a hit is served with: the stored `date`, a current `age`, no `no-cache="..."` fields. */
  servedHeaders (now?: number): Headers
  responseDirectives (): ResponseDirectives
  /** Whether `request` selects this stored response (URL, method, host, `Vary`). */
  matches (request: CachePolicyRequest): boolean
  /** Whether `request`'s own `If-None-Match` / `If-Modified-Since` match the stored response (answer it with a 304). */
  notModifiedFor (request: CachePolicyRequest): boolean
  /** `request`'s headers for a conditional request: hop-by-hop removed, `if-none-match`/`if-modified-since` added. */
  revalidationHeaders (request: CachePolicyRequest): Headers
  beforeRequest (request: CachePolicyRequest, now?: number): BeforeRequestResult
  afterResponse (request: CachePolicyRequest, response: CachePolicyResponse, now?: number): AfterResponseResult
}

export interface PutInfo {
  /** Body size in bytes. */
  size: number
  /** Subresource Integrity string of the body, e.g. `sha256-...`. */
  integrity: string
}

export interface WriteToOptions {
  /** End the writable once the body is written, and wait for its 'finish' (as `pipe()` does). Default `true`. */
  end?: boolean
}

/** The body of a hit: a Readable, which can also write itself into a Writable in constant memory. */
export interface CacheBody extends Readable {
  /**
   * Writes the body to `writable` (a file, a socket, an `http.ServerResponse`) through a few
   * reused 64 KiB Buffers, and resolves with the bytes written once `writable` called back for
   * all of them (with `end`, after its 'finish'). A Buffer is read into again once `writable`
   * called back for it, so `writable` must be done with a chunk at its callback (a Transform
   * is given fresh Buffers). Only on a body not yet read through the stream, else
   * `ERR_INVALID_STATE`. Rejects with `ERR_CACHE_INTEGRITY` on a corrupt body, before the final
   * chunk is written, or with the writable's error (`ERR_STREAM_PREMATURE_CLOSE` if it closed
   * early); `writable` is then neither ended nor destroyed.
   */
  writeTo (writable: Writable | NodeJS.WritableStream, options?: WriteToOptions): Promise<number>
}

export interface CacheHit {
  key: string
  status: number
  headers: Headers
  url: string | null
  metadata: unknown
  size: number
  integrity: string
  /** Milliseconds since the epoch when the entry was stored. */
  storedAt: number
  /** The stored caching policy, when the entry was stored with a request or policy. */
  policy: CachePolicy | null
  /**
   * The body, pulled from disk in chunks of at most 64 KiB as it is consumed.
   * Errors with `code: 'ERR_CACHE_INTEGRITY'` if the content on disk does not match its hash.
   * With `GetOptions.range`, only the bytes of `range`, of which only the 64 KiB blocks they
   * touch are read and verified.
   */
  body: CacheBody
  /**
   * Only for a `get` with `GetOptions.range`: the bytes `body` streams (`end` inclusive,
   * clamped to the last byte), or `null` when the range starts past the end of the body
   * (the body is then empty; `size` is the whole body's size, as a 416 needs).
   */
  range?: { start: number, end: number } | null
}

export interface GetOptions {
  /**
   * `[start, end]`, inclusive as in HTTP: the body streams only those bytes. Integers with
   * `0 <= start <= end` (else `RangeError`); an `end` past the last byte means up to it.
   */
  range?: [number, number]
}

/** A Writable that streams a body into the cache; the entry is committed when the stream finishes. */
export interface CacheWriteStream extends Writable {
  /** Resolves after the entry is committed ('finish'); rejects if the write fails or is destroyed. */
  readonly committed: Promise<PutInfo>
}

export interface VerifyReport {
  /** Index entries checked (from every process using the directory). */
  entries: number
  /** Entries whose content read back intact. */
  verified: number
  /** Entries whose content was missing, truncated or corrupt; they were removed. */
  corrupt: number
  /** Temp files and unreferenced content files removed. */
  orphansRemoved: number
  bytesReclaimed: number
}

/**
 * Message on `diagnostics_channel` `http-streaming-cache:cache:evict`: an entry left the cache
 * other than by delete, clear or replacement. `cause` is a key of `CacheStats['evictions']`.
 */
export interface CacheEvictMessage {
  cache: StreamingCache
  key: string
  /** Bytes of its body (0 when it could not be known). */
  size: number
  cause: 'size' | 'sharedBudget' | 'corrupt' | 'missing'
}

export interface GarbageReport {
  /** True when nothing was removed and the counts say what would have been. */
  dryRun: boolean
  /** Content files no entry of any process points at (their block-checksum sidecars go with them, uncounted). */
  content: { files: number, bytes: number }
  /** Temp files of writes that never finished. */
  temp: { files: number, bytes: number }
}

/** A body read from the shared tier: verified chunk by chunk and as a whole at its end. */
export interface RemoteEntry {
  key: string
  integrity: string
  size: number
  storedAt: number
  meta: unknown
}

/**
 * The shared second tier on its own (the `remote` option wires one into a StreamingCache).
 * Every call is a miss (null, false) rather than an error when the server is down or slow.
 */
export declare class RemoteTier {
  constructor (options: RemoteOptions)
  /** The entry and its body (verified as it streams), or null. */
  get (key: string): Promise<{ entry: RemoteEntry, body: Readable } | null>
  /** The entry without its body, or null. */
  lookup (key: string): Promise<RemoteEntry | null>
  /** Stores `body` and points `key` at it for `freshFor` ms plus the revalidation grace. Rejects if Redis failed. */
  put (key: string, entry: { body: BodySource, meta?: unknown, freshFor?: number }): Promise<RemoteEntry>
  /** Removes the metadata of `key`; resolves with whether it was there. */
  remove (key: string): Promise<boolean>
  /** Removes the metadata of every key under the prefix; resolves with the count. */
  purge (): Promise<number>
  /** Tries to become the host that fetches `key` from the origin. */
  tryLock (key: string): Promise<{ state: 'acquired' | 'busy' | 'unavailable', release (): Promise<boolean> }>
  /** Waits up to `maxWait` ms for the lock holder to store `key`. */
  waitFor (key: string, maxWait: number): Promise<{ outcome: 'stored' | 'released' | 'timedOut' | 'unavailable', entry: RemoteEntry | null }>
  /** Waits for background uploads (at most `timeout` ms, default 30 000); resolves with whether all finished. */
  flush (timeout?: number): Promise<boolean>
  stats (): Omit<RemoteStats, 'dropped' | 'bytes' | 'fills' | 'fillsFailed'>
}

export declare class StreamingCache {
  /** Opens (or creates) a cache in `dir`, rebuilding the index from what a previous process stored there. */
  constructor (dir: string, options?: StreamingCacheOptions)
  /** A cache in a fresh temporary directory, removed when the process exits. */
  static withTempDir (maxEntries?: number, options?: StreamingCacheOptions): Promise<StreamingCache>

  readonly dir: string
  readonly maxEntries: number
  readonly maxBodySize: number
  /** The byte budget of the directory (see `StreamingCacheOptions.maxSize`). */
  readonly maxSize: number
  /** Index lines that could not be decoded when the cache was opened (torn writes, foreign lines): skipped, not fatal. */
  readonly skippedIndexLines: number

  /** Streams `entry.body` to disk and commits it under `key`, replacing any entry there. */
  put (key: string, entry: PutEntry): Promise<PutInfo>
  /** A Writable for the body of `key`; see `CacheWriteStream`. */
  createWriteStream (key: string, entry: PolicySource): CacheWriteStream
  /**
   * The entry for `key`, with its body as a stream, or `null`. With a `remote` tier, a local
   * miss is looked up there; a hit streams to the caller and into the local disk at once.
   * With `range`, the body streams only those bytes (local tiers only).
   */
  get (key: string, options?: GetOptions): Promise<CacheHit | null>
  /** `get` without a promise: the lookup and file open are synchronous, the body still streams. */
  getSync (key: string, options?: GetOptions): CacheHit | null
  /** The stored fields of `key` without its body (memory only, no disk access), or `null`. */
  peek (key: string): Omit<CacheHit, 'body'> | null
  /** Live keys starting with `prefix` (every key when omitted), in lexicographic order. */
  keys (prefix?: string): string[]
  /** Whether `key` is cached (no disk access). */
  has (key: string): boolean
  /** Replaces stored fields (headers, policy, ...) without rewriting the body; `false` if `key` is not cached. */
  updateMetadata (key: string, fields: MetadataUpdate): Promise<boolean>
  /**
   * Removes `key`; resolves `true` if it was present (here, or in the `remote` tier, whose
   * metadata for `key` goes too). Content shared with other keys is kept.
   */
  delete (key: string): Promise<boolean>
  /** Number of live entries. */
  entryCount (): number
  /** Counters since open and sizes now; see `CacheStats`. */
  stats (): CacheStats
  /** Removes every entry and all content (and, with a `remote` tier, the metadata of every key under its prefix). */
  clear (): Promise<void>
  /** Checks every entry's content hash; removes corrupt entries, unfinished temp files and unreferenced content. */
  verify (): Promise<VerifyReport>
  /**
   * `verify()`'s garbage step without hashing: removes temp files of unfinished writes and
   * unreferenced content, never a body a live writer or another process may still commit.
   * `dryRun` only counts.
   */
  collectGarbage (options?: { dryRun?: boolean }): Promise<GarbageReport>
  /** Re-reads the disk index: entries other processes stored or deleted since this one looked. */
  refresh (): Promise<void>
  /** The RAM tier's limits and the bytes and bodies it holds now. */
  memoryUsage (): { maxSize: number, maxEntrySize: number, bytes: number, entries: number }
  /** Finishes pending cleanup and releases the directory; later calls reject/throw `ERR_CACHE_CLOSED`. */
  close (): Promise<void>
  /** Runs pending eviction work and waits for the disk cleanup it queued. */
  runPendingTasks (): Promise<void>
}
