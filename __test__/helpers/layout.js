'use strict'
// The on-disk layout, as tests see it: cacache's directory names, and the core's content-path
// formula (core/src/layout.rs, whose test pins it to cacache's own paths).
const crypto = require('node:crypto')
const path = require('node:path')
const { contentPath } = require('../../lib/inspect')

const CONTENT_DIR = 'content-v2'
const INDEX_DIR = 'index-v5'
const TMP_DIR = 'tmp'
const OWNERS_DIR = 'owners'

/**
 * The content file holding the body with integrity `integrity` ('sha256-<base64>'): the core's
 * own formula through the binding (core/src/layout.rs pins it to cacache's), never restated.
 */
const contentFileFor = (dir, integrity) => contentPath(dir, integrity)

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
