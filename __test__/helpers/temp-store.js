'use strict'
const fs = require('node:fs')
const { StreamingCacheStore } = require('../../undici')

/**
 * A StreamingCacheStore in its own temp directory, removed after the test. Its cache is closed
 * first: closing waits for background work (an expired entry being removed after a get saw
 * it), so nothing writes to the directory while it is removed.
 */
function tempStore (t, options = {}) {
  const store = new StreamingCacheStore(options)
  t.teardown(async () => {
    await store.cache.close()
    fs.rmSync(store.location, { recursive: true, force: true })
  })
  return store
}

module.exports = { tempStore }
