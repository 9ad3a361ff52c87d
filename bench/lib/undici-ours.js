'use strict'
const { StreamingCache } = require('../..')
// `http-streaming-cache/undici` is being written alongside this benchmark: find out at runtime what
// it exports and how its constructors want to be called. Anything missing reads "n/a".

let loaded
function load () {
  if (loaded !== undefined) return loaded
  try {
    loaded = { module: require('http-streaming-cache/undici'), reason: null }
  } catch (err) {
    const missing = err.code === 'MODULE_NOT_FOUND' && /http-streaming-cache\/undici|undici\.js/.test(err.message)
    loaded = { module: null, reason: missing ? 'http-streaming-cache/undici not present' : `failed to load: ${err.message}` }
  }
  return loaded
}

function isStore (store) {
  return store != null && typeof store.get === 'function' && typeof store.createWriteStream === 'function'
}

const cacheIn = (dir) => new StreamingCache(dir)

/**
 * A StreamingCacheStore keeping its entries in `dir` (`{ location }`, as undici.d.ts has it;
 * other constructor shapes are tried in case it changes). `{ store: null, reason }` if none.
 */
function makeStore (dir, options = {}) {
  const { module, reason } = load()
  const Store = module?.StreamingCacheStore
  if (typeof Store !== 'function') return { store: null, reason: reason ?? 'no StreamingCacheStore export' }
  const attempts = [
    () => new Store({ location: dir, ...options }),
    () => new Store({ cache: cacheIn(dir) }),
    () => new Store(cacheIn(dir)),
    () => new Store(dir),
  ]
  let lastError = null
  for (const attempt of attempts) {
    try {
      const store = attempt()
      if (isStore(store)) return { store, reason: null }
    } catch (err) { lastError = err }
  }
  return { store: null, reason: `StreamingCacheStore could not be constructed: ${lastError?.message}` }
}

/** Our undici interceptor over a StreamingCache in `dir`, or `{ interceptor: null, reason }`. */
function makeInterceptor (dir) {
  const { module, reason } = load()
  const make = module?.cacheInterceptor
  if (typeof make !== 'function') return { interceptor: null, reason: reason ?? 'no cacheInterceptor export' }
  const attempts = [
    () => make({ cache: cacheIn(dir) }),
    () => make(cacheIn(dir)),
    () => make({ store: makeStore(dir).store }),
    () => make({ location: dir }),
  ]
  let lastError = null
  for (const attempt of attempts) {
    try {
      const interceptor = attempt()
      if (typeof interceptor === 'function') return { interceptor, reason: null }
    } catch (err) { lastError = err }
  }
  return { interceptor: null, reason: `cacheInterceptor could not be constructed: ${lastError?.message}` }
}

module.exports = { load, makeStore, makeInterceptor }
