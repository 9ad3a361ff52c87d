'use strict'
// `http-streaming-cache/undici`: undici integration. StreamingCacheStore is a disk-backed store for
// undici's own cache interceptor: `interceptors.cache({ store: new StreamingCacheStore() })`.
const { StreamingCacheStore } = require('./lib/undici/store')

module.exports = { StreamingCacheStore }

// cacheInterceptor: an undici interceptor caching responses in a StreamingCache
// (`new Agent().compose(cacheInterceptor({ cache }))`), with CachePolicy deciding freshness.
module.exports.cacheInterceptor = require('./lib/undici/interceptor').cacheInterceptor
