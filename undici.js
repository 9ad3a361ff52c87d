'use strict'
// `streaming-cache/undici`: undici integration. StreamingCacheStore is a disk-backed store for
// undici's own cache interceptor: `interceptors.cache({ store: new StreamingCacheStore() })`.
const { StreamingCacheStore } = require('./lib/undici/store')

module.exports = { StreamingCacheStore }
