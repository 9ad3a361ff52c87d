'use strict'
// The on-disk layout, as tests and benchmarks see it: cacache's, named once here (the core
// names it in core/src/layout.rs, whose test pins it to cacache's own paths).
const crypto = require('node:crypto')
const path = require('node:path')

const CONTENT_DIR = 'content-v2'
const INDEX_DIR = 'index-v5'
const TMP_DIR = 'tmp'
const OWNERS_DIR = 'owners'

/** The content file holding the body with integrity `integrity` ('sha256-<base64>'). */
function contentFileFor (dir, integrity) {
  const [algo, b64] = integrity.split('-')
  const hex = Buffer.from(b64, 'base64').toString('hex')
  return path.join(dir, CONTENT_DIR, algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))
}

/** The index bucket file holding `key`'s lines. */
function bucketFileFor (dir, key) {
  const hex = crypto.createHash('sha1').update(key).digest('hex')
  return path.join(dir, INDEX_DIR, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))
}

/** One index line in cacache's format: `\n<sha256 hex of json>\t<json>`. */
function indexLine (entry) {
  const json = JSON.stringify(entry)
  return `\n${crypto.createHash('sha256').update(json).digest('hex')}\t${json}`
}

module.exports = { CONTENT_DIR, INDEX_DIR, TMP_DIR, OWNERS_DIR, contentFileFor, bucketFileFor, indexLine }
