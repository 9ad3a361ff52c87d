'use strict'
// Content negotiation on Accept-Language, understood (RFC 9111 4.1 lets a cache normalize
// selecting header fields "using knowledge of the semantics of the header fields"). A stored
// response that varies on Accept-Language alone and is in language L (Content-Language: L)
// answers a request whose single most preferred language is L, whatever else that request
// lists: an origin that has L gives L to whoever prefers it most, and it had L. For example
// `de` stored for `en, de` (the origin had no `en`) answers `fr;q=0.5, de;q=1.0`. Nothing is
// inferred from a tie at the top, a wildcard, or a response in several languages.
const { varyNames } = require('../engine/keys')
const { storedVariants } = require('./variant-tags')

/** A quality value (RFC 9110 12.4.2), or NaN. */
function qvalue (params) {
  for (const param of params) {
    const match = /^q\s*=\s*(0(\.\d{0,3})?|1(\.0{0,3})?)$/i.exec(param)
    if (match) return Number(match[1])
    if (/^q\s*=/i.test(param)) return NaN
  }
  return 1
}

/**
 * The language range `acceptLanguage` prefers most (lower-case), or null when there is none
 * or it is not a single one (a tie at the top, a wildcard, a malformed weight).
 */
function preferredLanguage (acceptLanguage) {
  if (acceptLanguage === undefined || acceptLanguage === null) return null
  let best = null
  let bestQ = 0
  let tie = false
  for (const member of [].concat(acceptLanguage).join(',').split(',')) {
    const [range, ...params] = member.split(';').map((part) => part.trim())
    if (range === '') continue
    const q = qvalue(params)
    if (Number.isNaN(q)) return null
    if (q > bestQ) {
      best = range.toLowerCase()
      bestQ = q
      tie = false
    } else if (q === bestQ && q > 0) {
      tie = true
    }
  }
  return best === null || best === '*' || tie ? null : best
}

/**
 * The stored response (of the variants `r` does not select by value) that answers `r` by
 * its language, fresh ones first, then the newest; null if none does.
 * @returns {import('./lookup').InterceptorFound | null}
 */
function languageVariant (ctx, r, now) {
  const wanted = preferredLanguage(r.headers['accept-language'])
  if (wanted === null) return null
  let chosen = null
  for (const found of storedVariants(ctx, r, now)) {
    const names = varyNames(found.fields.headers.vary)
    const language = found.fields.headers['content-language']
    if (names === null || names.length !== 1 || names[0] !== 'accept-language') continue
    if (typeof language !== 'string' || language.includes(',') || language.trim().toLowerCase() !== wanted) continue
    if (chosen === null || better(found, chosen)) chosen = found
  }
  return chosen
}

function better (a, b) {
  if (a.verdict.result.fresh !== b.verdict.result.fresh) return a.verdict.result.fresh
  return a.fields.storedAt > b.fields.storedAt
}

module.exports = { languageVariant, preferredLanguage }
