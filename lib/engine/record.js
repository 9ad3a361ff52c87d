'use strict'
// What the engine keeps in an entry's `metadata`, whichever front stored it. The entry's own
// fields hold the response (`status`, `headers`, `url`) and its CachePolicy; `metadata` holds
// what selecting and judging a variant needs without building the policy.
const { STATUS_CODES } = require('node:http')
const { parseCacheControl, seconds, hasValidator } = require('./headers')

const RECORD_VERSION = 2

/**
 * @typedef {import('./keys').VaryMap} VaryMap
 *
 * @typedef {object} EntryMeta
 * @property {number} v              RECORD_VERSION
 * @property {string} method         the request method the response answered
 * @property {VaryMap} vary          what the stored request carried of the headers the response varies on
 * @property {number} receivedAt     ms since the epoch: when the response (or its last 304) arrived
 * @property {number} freshUntil     ms since the epoch: when it turns stale
 * @property {number|string} deleteAt ms since the epoch after which it is of no use (a string when not finite)
 * @property {string} [statusMessage]
 * @property {string} [range]        a stored part (206): the `Range` of the request it answered
 * @property {string} [undici]       StreamingCacheStore only: the CacheValue it was given, as JSON text
 * @property {string[]} [undef]      StreamingCacheStore only: CacheValue fields set to `undefined`
 *
 * @typedef {object} StoredFields    what `cache.peek()` / `cache.getSync()` return, with `metadata` checked
 * @property {string} key
 * @property {number} status
 * @property {Record<string, string|string[]>} headers
 * @property {string} [url]
 * @property {EntryMeta} metadata
 * @property {import('../cache-policy').CachePolicy | null} policy
 * @property {number} size
 * @property {number} storedAt
 * @property {string} integrity
 */

/** `metadata` if the engine wrote it, else null (a foreign or older entry: ignored). */
function entryMeta (metadata) {
  if (metadata === null || typeof metadata !== 'object' || metadata.v !== RECORD_VERSION ||
    typeof metadata.method !== 'string') return null
  return metadata
}

/** `fields` as StoredFields, or null when the engine did not write them. */
function storedFields (fields) {
  if (fields === null || fields === undefined || entryMeta(fields.metadata) === null) return null
  return fields
}

/** Whether the entry is past its `deleteAt` at `now`. */
function pastDeleteAt (meta, now) {
  return !(Number(meta.deleteAt) > now)
}

/**
 * The EntryMeta of a response stored by the interceptor.
 * @param {{ method: string, vary: VaryMap, receivedAt: number, freshUntil: number, deleteAt: number,
 *   statusMessage?: string, range?: string }} parts
 * @returns {EntryMeta}
 */
function interceptorMeta ({ method, vary, receivedAt, freshUntil, deleteAt, statusMessage, range }) {
  return {
    v: RECORD_VERSION,
    method,
    vary,
    receivedAt,
    freshUntil,
    deleteAt: Number.isFinite(deleteAt) ? deleteAt : String(deleteAt),
    ...(statusMessage !== undefined && { statusMessage }),
    ...(typeof range === 'string' && { range }),
  }
}

/**
 * When an entry the interceptor stored is of no more use to StreamingCacheStore readers
 * (undici's `deleteAt`): never while it can be revalidated, else at the end of its
 * stale-while-revalidate or stale-if-error window.
 */
function deleteAtFor (headers, freshUntil) {
  if (hasValidator(headers)) return Infinity
  const cc = parseCacheControl(headers['cache-control'])
  const window = Math.max(seconds(cc.get('stale-while-revalidate')) ?? 0, seconds(cc.get('stale-if-error')) ?? 0)
  return freshUntil + window
}

const TIMESTAMPS = ['cachedAt', 'staleAt', 'deleteAt']

/**
 * The EntryMeta of an undici CacheValue. The value itself is kept as JSON text written and
 * read by JavaScript: the core's JSON parser may round a fractional number (a heuristic
 * `staleAt`) by one ulp, a string goes through untouched. Fields set to `undefined` are
 * listed by name so they come back; non-finite timestamps are kept as strings.
 * @returns {EntryMeta}
 */
function storeMeta (method, vary, value) {
  const stored = {}
  const undef = []
  for (const name of Object.keys(value)) {
    const field = value[name]
    if (field === undefined) undef.push(name)
    else stored[name] = field
  }
  for (const field of TIMESTAMPS) {
    if (!Number.isFinite(value[field])) stored[field] = String(value[field])
  }
  return {
    v: RECORD_VERSION,
    method,
    vary,
    receivedAt: Number.isFinite(value.cachedAt) ? value.cachedAt : Date.now(),
    freshUntil: Number.isFinite(value.staleAt) ? value.staleAt : 0,
    deleteAt: String(value.deleteAt),
    statusMessage: value.statusMessage,
    undici: JSON.stringify(stored),
    undef,
  }
}

function timestamp (stored) {
  return typeof stored === 'string' ? Number(stored) : stored
}

/** undici's parsed Cache-Control (`cacheControlDirectives`) from a header value. */
function directivesOf (value) {
  const out = {}
  for (const [name, arg] of parseCacheControl(value)) {
    if (arg === true) out[name] = true
    else if (/^\d+$/.test(arg)) out[name] = Number(arg)
    else if (name === 'no-cache' || name === 'private') out[name] = arg.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)
    else out[name] = arg
  }
  return out
}

/**
 * The undici CacheValue (without body) for stored fields: exactly the one the store was
 * given, or, for an entry the interceptor stored, one built from its response.
 * @param {StoredFields} fields
 */
function cacheValueOf (fields) {
  let value = parsedValues.get(fields)
  if (value === undefined) {
    value = parseCacheValue(fields)
    parsedValues.set(fields, value)
  }
  // A copy per lookup: the caller sets `body` on it. What it shares with other lookups of the
  // same stored fields (headers, vary, directives) is only read, by undici and by range.js.
  return { ...value }
}

/**
 * The undici value of stored `fields`, parsed once per fields object: hits of one RAM-tier or
 * small-hit record share their fields object, so its JSON is parsed once, not per hit (it was
 * 7% of a 1 KiB hit's cost through undici's interceptor).
 */
const parsedValues = new WeakMap()

function parseCacheValue (fields) {
  const meta = fields.metadata
  if (typeof meta.undici === 'string') {
    const value = JSON.parse(meta.undici)
    for (const name of meta.undef ?? []) value[name] = undefined
    for (const field of TIMESTAMPS) value[field] = timestamp(value[field])
    // undici reads `cacheControlDirectives[...]` unguarded on stale responses.
    if (value.cacheControlDirectives == null) value.cacheControlDirectives = {}
    return value
  }
  const headers = fields.headers
  return {
    statusCode: fields.status,
    statusMessage: meta.statusMessage ?? STATUS_CODES[fields.status] ?? '',
    headers,
    vary: meta.vary ?? undefined,
    etag: typeof headers.etag === 'string' ? headers.etag : undefined,
    cacheControlDirectives: directivesOf(headers['cache-control']),
    cachedAt: meta.receivedAt,
    staleAt: meta.freshUntil,
    deleteAt: timestamp(meta.deleteAt),
  }
}

module.exports = { storedFields, pastDeleteAt, interceptorMeta, deleteAtFor, storeMeta, cacheValueOf }
