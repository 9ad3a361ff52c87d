'use strict'
// diagnostics_channel events published by StreamingCache, named the way undici names its own
// (`undici:request:create`, ...): `http-streaming-cache:cache:<event>`. Publishing costs a
// property check when nobody subscribes. The interceptor publishes its own events (cache key
// and outcome of each request) elsewhere; these are the store's.
const dc = require('node:diagnostics_channel')

const PREFIX = 'http-streaming-cache:cache:'

const channels = {
  /** A lookup found the key: { cache, key, size }. */
  hit: dc.channel(`${PREFIX}hit`),
  /** A lookup did not: { cache, key }. */
  miss: dc.channel(`${PREFIX}miss`),
  /** A put committed: { cache, key, size, integrity }. */
  store: dc.channel(`${PREFIX}store`),
  /** A put failed and stored nothing: { cache, key, error } (e.g. `ERR_BODY_TOO_LARGE`). */
  storeError: dc.channel(`${PREFIX}store:error`),
  /** A delete finished: { cache, key, deleted }. */
  delete: dc.channel(`${PREFIX}delete`),
  /** A body read found content not matching its hash: { cache, key, error }. */
  integrityFailure: dc.channel(`${PREFIX}integrity-failure`),
  /** A local miss the shared tier (`remote` option) answered: { cache, key, size }. */
  remoteHit: dc.channel(`${PREFIX}remote:hit`),
  /** A local miss the shared tier did not answer (absent, bad, failed): { cache, key }. */
  remoteMiss: dc.channel(`${PREFIX}remote:miss`),
  /**
   * An entry left the cache other than by delete, clear or replacement: { cache, key, size,
   * cause }, cause as in `stats().evictions` ('size', 'sharedBudget', 'corrupt', 'missing').
   * Published after the put, lookup, delete or body read that caused it.
   */
  evict: dc.channel(`${PREFIX}evict`),
}

const names = Object.fromEntries(Object.entries(channels).map(([event, channel]) => [event, channel.name]))

// Each cache's native handle, for draining its eviction records.
const natives = new WeakMap()

/** Lets the publishers below drain `cache`'s eviction records from `native`. */
function watchEvictions (cache, native) {
  natives.set(cache, native)
}

/**
 * Publishes the evictions the core recorded since the last drain. Only while someone
 * listens: the core keeps a bounded log (the latest 1024), so not draining costs nothing.
 */
function publishEvictions (cache) {
  if (!channels.evict.hasSubscribers) return
  const native = natives.get(cache)
  if (native === undefined) return
  for (const { key, size, cause } of native.takeEvictions()) channels.evict.publish({ cache, key, size, cause })
}

function publishStore (cache, key, info) {
  if (channels.store.hasSubscribers) {
    channels.store.publish({ cache, key, size: info.size, integrity: info.integrity })
  }
  publishEvictions(cache)
}

function publishStoreError (cache, key, error) {
  if (channels.storeError.hasSubscribers) channels.storeError.publish({ cache, key, error })
}

/** Publishes the lookup's outcome; for a hit, also an integrity failure if its body hits one. */
function publishLookup (cache, key, hit) {
  if (hit === null) {
    if (channels.miss.hasSubscribers) channels.miss.publish({ cache, key })
    publishEvictions(cache)
    return
  }
  if (channels.hit.hasSubscribers) channels.hit.publish({ cache, key, size: hit.size })
  if (channels.integrityFailure.hasSubscribers || channels.evict.hasSubscribers) {
    // 'close' rather than 'error': listening for 'error' would swallow the caller's.
    hit.body.once('close', () => {
      const error = hit.body.errored
      if (error?.code !== 'ERR_CACHE_INTEGRITY') return
      if (channels.integrityFailure.hasSubscribers) channels.integrityFailure.publish({ cache, key, error })
      publishEvictions(cache)
    })
  }
}

function publishDelete (cache, key, deleted) {
  if (channels.delete.hasSubscribers) channels.delete.publish({ cache, key, deleted })
  publishEvictions(cache)
}

function publishRemoteLookup (cache, key, hit) {
  if (hit === null) {
    if (channels.remoteMiss.hasSubscribers) channels.remoteMiss.publish({ cache, key })
  } else if (channels.remoteHit.hasSubscribers) {
    channels.remoteHit.publish({ cache, key, size: hit.size })
  }
}

module.exports = { channels, names, watchEvictions, publishEvictions, publishLookup, publishStore, publishStoreError, publishDelete, publishRemoteLookup }
