'use strict'
// Public entry point: the StreamingCache class over the native addon, its HTTP caching
// policy, and the shared second tier on its own.
const { StreamingCache } = require('./lib/streaming-cache')
const { CachePolicy } = require('./lib/cache-policy')
const { RemoteTier } = require('./lib/remote')

module.exports = { StreamingCache, CachePolicy, RemoteTier }
