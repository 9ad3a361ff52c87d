'use strict'
// Public entry point: the StreamingCache class over the native addon.
const { StreamingCache } = require('./lib/streaming-cache')

module.exports = { StreamingCache }
