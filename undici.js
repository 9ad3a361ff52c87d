'use strict'
// `http-streaming-cache/undici`: undici integration, two fronts over one HTTP cache engine
// (lib/engine/), sharing one key scheme: what one stores, the other finds.
//
// StreamingCacheStore is a disk-backed store for undici's own cache interceptor:
// `interceptors.cache({ store: new StreamingCacheStore() })`.
// cacheInterceptor is an undici interceptor caching responses in a StreamingCache
// (`new Agent().compose(cacheInterceptor({ cache }))`), with CachePolicy deciding freshness.
const { StreamingCacheStore } = require('./lib/undici/store')
const { cacheInterceptor } = require('./lib/undici/interceptor')

module.exports = { StreamingCacheStore, cacheInterceptor }
