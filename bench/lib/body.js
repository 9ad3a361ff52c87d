'use strict'
// Reads whatever a cache handed back as a body (Buffer, string, array of chunks, stream,
// async iterable) and counts its bytes.
const { drain } = require('./io')

async function bodyLength (body) {
  if (body == null) return 0
  if (typeof body === 'string') return Buffer.byteLength(body)
  if (body instanceof Uint8Array) return body.length
  if (Array.isArray(body)) {
    let n = 0
    for (const chunk of body) n += chunk.length
    return n
  }
  if (typeof body.on === 'function' && typeof body.read === 'function') return drain(body)
  let n = 0
  if (typeof body[Symbol.asyncIterator] === 'function') {
    for await (const chunk of body) n += chunk.length
    return n
  }
  for (const chunk of body) n += chunk.length
  return n
}

module.exports = { bodyLength }
