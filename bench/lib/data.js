'use strict'
// Deterministic test data: a seeded PRNG, one pattern buffer filled from it, and a Readable
// that streams N bytes as slices of that pattern (no per-chunk generation cost, no big Buffer).
const { Readable } = require('node:stream')

const SEED = 0x5eed_cafe
const CHUNK = 64 * 1024
const PATTERN_SIZE = 1024 * 1024
const KiB = 1024
const MiB = 1024 * KiB
const GiB = 1024 * MiB

/** mulberry32: small, fast, good enough for traces and filler bytes. Returns floats in [0, 1). */
function prng (seed = SEED) {
  let a = seed >>> 0
  return function next () {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

let pattern = null
/** The 1 MiB pattern every body is cut from (same bytes for every system). */
function patternBuffer () {
  if (pattern === null) {
    const rand = prng(SEED)
    pattern = Buffer.allocUnsafeSlow(PATTERN_SIZE)
    for (let i = 0; i < PATTERN_SIZE; i += 4) pattern.writeUInt32LE((rand() * 4294967296) >>> 0, i)
  }
  return pattern
}

/** A Buffer of `size` bytes (small bodies only): the first `size` bytes of the pattern, repeated. */
function bodyBuffer (size) {
  const p = patternBuffer()
  if (size <= p.length) return Buffer.from(p.subarray(0, size))
  const out = Buffer.allocUnsafe(size)
  for (let off = 0; off < size; off += p.length) p.copy(out, off, 0, Math.min(p.length, size - off))
  return out
}

/**
 * A Readable of `size` bytes pushed as 64 KiB views of the shared pattern buffer. The views are
 * never written to, so handing the same memory to a consumer many times is safe. With `copy`,
 * every chunk is a fresh Buffer, as from a socket: for consumers that keep the chunks they get
 * (an in-memory store would otherwise hold a thousand views of one megabyte).
 */
function patternStream (size, { chunkSize = CHUNK, copy = false } = {}) {
  const p = patternBuffer()
  let sent = 0
  let offset = 0
  return new Readable({
    highWaterMark: chunkSize,
    read () {
      while (sent < size) {
        const n = Math.min(chunkSize, size - sent, p.length - offset)
        const view = p.subarray(offset, offset + n)
        const chunk = copy ? Buffer.from(view) : view
        sent += n
        offset = (offset + n) % p.length
        if (!this.push(chunk)) return
      }
      this.push(null)
    },
  })
}

function formatSize (bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`
  if (bytes >= MiB && bytes % MiB === 0) return `${bytes / MiB} MiB`
  if (bytes >= KiB && bytes % KiB === 0) return `${bytes / KiB} KiB`
  return `${bytes} B`
}

module.exports = { prng, patternBuffer, patternStream, bodyBuffer, formatSize, SEED, CHUNK, KiB, MiB, GiB }
