'use strict'
// Recognises what `put` was given as a body.
const { invalidArgType } = require('./errors')

/** The body as one Buffer when it is already in memory, else null (it must be streamed). */
function inMemoryBody (body) {
  if (Buffer.isBuffer(body)) return body
  if (typeof body === 'string') return Buffer.from(body, 'utf8')
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  return null
}

function isStreamable (body) {
  return body !== null && typeof body === 'object' &&
    (typeof body.pipe === 'function' ||
      typeof body[Symbol.asyncIterator] === 'function' ||
      typeof body[Symbol.iterator] === 'function')
}

function checkBody (body) {
  if (inMemoryBody(body) === null && !isStreamable(body)) {
    throw invalidArgType('entry.body',
      'a Buffer, Uint8Array, string, stream.Readable or (async) iterable of chunks', body)
  }
}

module.exports = { inMemoryBody, checkBody }
