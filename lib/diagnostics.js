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
}

const names = Object.fromEntries(Object.entries(channels).map(([event, channel]) => [event, channel.name]))

function publishStore (cache, key, info) {
  if (channels.store.hasSubscribers) {
    channels.store.publish({ cache, key, size: info.size, integrity: info.integrity })
  }
}

function publishStoreError (cache, key, error) {
  if (channels.storeError.hasSubscribers) channels.storeError.publish({ cache, key, error })
}

/** Publishes the lookup's outcome; for a hit, also an integrity failure if its body hits one. */
function publishLookup (cache, key, hit) {
  if (hit === null) {
    if (channels.miss.hasSubscribers) channels.miss.publish({ cache, key })
    return
  }
  if (channels.hit.hasSubscribers) channels.hit.publish({ cache, key, size: hit.size })
  if (channels.integrityFailure.hasSubscribers) {
    // 'close' rather than 'error': listening for 'error' would swallow the caller's.
    hit.body.once('close', () => {
      const error = hit.body.errored
      if (error?.code === 'ERR_CACHE_INTEGRITY') channels.integrityFailure.publish({ cache, key, error })
    })
  }
}

function publishDelete (cache, key, deleted) {
  if (channels.delete.hasSubscribers) channels.delete.publish({ cache, key, deleted })
}

function publishRemoteLookup (cache, key, hit) {
  if (hit === null) {
    if (channels.remoteMiss.hasSubscribers) channels.remoteMiss.publish({ cache, key })
  } else if (channels.remoteHit.hasSubscribers) {
    channels.remoteHit.publish({ cache, key, size: hit.size })
  }
}

module.exports = { channels, names, publishLookup, publishStore, publishStoreError, publishDelete, publishRemoteLookup }
