'use strict'
// diagnostics_channel events of cacheInterceptor, published the way undici publishes its own
// (`undici:request:create`...): one named channel per outcome, a message object per event,
// nothing built when nobody subscribes. Every message carries the request's `key` (the base
// cache key), `method` and `url`; some add fields (see the README's undici section).
const diagnosticsChannel = require('node:diagnostics_channel')

const PREFIX = 'http-streaming-cache:interceptor:'
const OUTCOMES = [
  'hit', // served fresh from the cache
  'stale', // served stale: stale-while-revalidate, stale-if-error, force-cache/only-if-cached modes
  'miss', // nothing usable stored: the origin answers (or only-if-cached answers 504)
  'revalidated', // a conditional request came back 304: the stored entry was updated and served
  'stored', // a response was committed to the cache ({ entryKey, size })
  'coalesced', // waited for another request's miss instead of asking the origin ({ waitedMs, streamed })
  'bypass', // the cache was not consulted ({ reason })
]

const channels = Object.fromEntries(OUTCOMES.map((name) => [name, diagnosticsChannel.channel(PREFIX + name)]))

/** Publishes `outcome` for the request `r` with `extra` fields, if anyone listens. */
function publish (outcome, r, extra) {
  const channel = channels[outcome]
  if (!channel.hasSubscribers) return
  channel.publish({ key: r.baseKey, method: r.method, url: r.url, ...extra })
}

module.exports = { publish, CHANNEL_NAMES: OUTCOMES.map((name) => PREFIX + name) }
