'use strict'
// Public entry point: the StreamingCache class over the native addon.
const { StreamingCache } = require('./lib/streaming-cache')
const { CachePolicy } = require('./lib/cache-policy')

module.exports = { StreamingCache, CachePolicy }
