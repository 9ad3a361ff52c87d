'use strict'
// cacheInterceptor options: checked once, when the interceptor is created.
const { invalidArgType, outOfRange, withCode } = require('../errors')
const { defaultCacheKey } = require('../engine/keys')
const { HttpCacheEngine } = require('../engine/engine')
const { heuristicOption } = require('../heuristic-option')

const MODES = new Set(['default', 'no-store', 'reload', 'no-cache', 'force-cache', 'only-if-cached', 'ignore-rules'])
const CACHEABLE_METHODS = new Set(['GET', 'HEAD'])
const CACHE_METHODS = ['getSync', 'peek', 'keys', 'createWriteStream', 'updateMetadata', 'delete']

function invalidMode (name, value) {
  return withCode(TypeError, 'ERR_INVALID_ARG_VALUE',
    `The "${name}" option must be one of ${[...MODES].map((m) => `'${m}'`).join(', ')}. Received ${JSON.stringify(value)}`)
}

function checkMode (value, name) {
  if (!MODES.has(value)) throw invalidMode(name, value)
  return value
}

function optionalFunction (value, name) {
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(name, 'a function', value)
  return value
}

function optionalBoolean (value, name, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidArgType(name, 'of type boolean', value)
  return value
}

function optionalMs (value, name, fallback, { min = 0 } = {}) {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!(value >= min) || !Number.isFinite(value)) throw outOfRange(name, `a finite number >= ${min}`, value)
  return value
}

function checkMethods (value) {
  if (value === undefined) return new Set(CACHEABLE_METHODS)
  if (!Array.isArray(value)) throw invalidArgType('options.methods', 'an array', value)
  const methods = new Set()
  for (const method of value) {
    const upper = typeof method === 'string' ? method.toUpperCase() : method
    if (!CACHEABLE_METHODS.has(upper)) {
      throw withCode(TypeError, 'ERR_INVALID_ARG_VALUE',
        `options.methods may only hold 'GET' and 'HEAD'. Received ${JSON.stringify(method)}`)
    }
    methods.add(upper)
  }
  return methods
}

/** The interceptor's settings, with defaults applied. Throws TypeError/RangeError on bad input. */
function buildContext (options) {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options)
  const { cache } = options
  if (cache === null || typeof cache !== 'object' || CACHE_METHODS.some((m) => typeof cache[m] !== 'function')) {
    throw invalidArgType('options.cache', 'a StreamingCache', cache)
  }
  const cacheKey = optionalFunction(options.cacheKey, 'options.cacheKey') ?? defaultCacheKey
  const modeFor = optionalFunction(options.modeFor, 'options.modeFor')
  const mode = checkMode(options.mode ?? 'default', 'options.mode')
  return {
    cache,
    engine: new HttpCacheEngine(cache),
    mode,
    methods: checkMethods(options.methods),
    shared: optionalBoolean(options.shared, 'options.shared', false),
    heuristic: heuristicOption(options.heuristic),
    statusHeaders: optionalBoolean(options.statusHeaders, 'options.statusHeaders', true),
    maxTtl: optionalMs(options.maxTtl, 'options.maxTtl', undefined),
    cacheWriteTimeout: optionalMs(options.cacheWriteTimeout, 'options.cacheWriteTimeout', 2000, { min: 1 }),
    verifyBeforeServing: optionalMs(options.verifyBeforeServing, 'options.verifyBeforeServing', 64 * 1024),
    coalesceTimeout: optionalMs(options.coalesceTimeout, 'options.coalesceTimeout', 10_000),
    maxBodySize: typeof cache.maxBodySize === 'number' ? cache.maxBodySize : Infinity,
    cacheKey (opts) {
      const key = cacheKey(opts)
      if (typeof key !== 'string') throw invalidArgType('the value cacheKey() returned', 'of type string', key)
      return key
    },
    modeOf (opts) {
      if (modeFor === undefined) return mode
      const chosen = modeFor(opts)
      return chosen === undefined || chosen === null ? mode : checkMode(chosen, 'modeFor() result')
    },
  }
}

module.exports = { buildContext }
