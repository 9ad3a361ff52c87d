'use strict'
// Combining a stored part with a new 206 (RFC 9111 section 3.4): when both carry the same
// strong ETag and the same complete length, and their ranges overlap or touch, the new entry
// is written as their union: the stored bytes before the new range, the new body, then the
// stored bytes after it. A union holding every byte is stored as the complete 200 (under the
// resource's own key) and the part goes; otherwise it is the new part. Anything else (other
// validator, weak or none, a gap between them) leaves the new 206 to replace the part.
/**
 * What a stored part is, for combining: its key, integrity, strong ETag and the bytes it holds.
 * @typedef {{ key: string, integrity: string, etag: string, first: number, held: number, length: number }} StoredPart
 */

/** A strong entity tag, or undefined (weak, absent or repeated). */
function strongEtag (headers) {
  const value = headers?.etag
  if (typeof value !== 'string') return undefined
  const tag = value.trim()
  return tag.startsWith('"') ? tag : undefined
}

/**
 * How the new part `part` (a parsed Content-Range) with `headers` combines with `stored`, or
 * null when it does not: the union's bounds, whether it is the complete body, and the stored
 * bytes to copy before (`prefix`) and after (`suffix`) the new body.
 * @param {StoredPart | undefined} stored
 */
function planCombine (stored, part, headers) {
  if (stored === undefined || part === null || part === undefined) return null
  const etag = strongEtag(headers)
  if (etag === undefined || etag !== stored.etag || part.length !== stored.length) return null
  if (part.first > stored.held + 1 || stored.first > part.last + 1) return null
  const first = Math.min(part.first, stored.first)
  const last = Math.max(part.last, stored.held)
  if (first === part.first && last === part.last) return null // the new part holds it all
  return {
    first,
    last,
    complete: first === 0 && last === part.length - 1,
    prefix: stored.first < part.first ? [stored.first, part.first - 1] : null,
    suffix: stored.held > part.last ? [part.last + 1, stored.held] : null,
  }
}

/**
 * Copies the stored part's absolute bytes `range` into the write stream `ws`, minding its
 * backpressure. Rejects when the part is gone, replaced or unreadable.
 * @param {StoredPart} stored
 */
async function copyStored (cache, stored, range, ws) {
  const hit = cache.getSync(stored.key, { range: [range[0] - stored.first, range[1] - stored.first] })
  if (hit === null) throw new Error('the stored part is gone')
  if (hit.integrity !== stored.integrity || hit.range == null) {
    hit.body.destroy()
    throw new Error('the stored part was replaced')
  }
  let copied = 0
  for await (const chunk of hit.body) {
    copied += chunk.length
    if (!ws.write(chunk)) await drained(ws)
    if (ws.destroyed) {
      hit.body.destroy()
      throw new Error('storing was abandoned')
    }
  }
  if (copied !== range[1] - range[0] + 1) throw new Error('the stored part is shorter than it was')
}

/** Resolves when `ws` drains or is destroyed. */
function drained (ws) {
  return new Promise((resolve) => {
    const done = () => {
      ws.off('drain', done)
      ws.off('close', done)
      resolve()
    }
    ws.on('drain', done)
    ws.on('close', done)
  })
}

module.exports = { strongEtag, planCombine, copyStored }
