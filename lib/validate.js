'use strict'
// Argument checks at the API boundary, so bad input fails fast with Node-style errors.
const { invalidArgType, outOfRange, withCode } = require('./errors')

function validateString (value, name) {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value)
}

/** Matches the core's limit: keys are URLs plus a little; a larger one is a bug upstream. */
const MAX_KEY_BYTES = 64 * 1024

function validateKey (value, name = 'key') {
  validateString(value, name)
  // A lone surrogate has no UTF-8 form: two different keys would silently name one entry.
  if (!value.isWellFormed()) {
    throw withCode(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be a well-formed Unicode string (it contains a lone surrogate)`)
  }
  // Only long strings can be over the limit: 3 UTF-8 bytes per UTF-16 unit at most.
  if (value.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(value) > MAX_KEY_BYTES) {
    throw outOfRange(`${name}.length`, `at most ${MAX_KEY_BYTES} bytes (UTF-8)`, Buffer.byteLength(value))
  }
}

function validateObject (value, name) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value)
  }
}

function validateOptionalObject (value, name) {
  if (value !== undefined) validateObject(value, name)
}

function validateCount (value, name, { min = 0 } = {}) {
  if (value === undefined) return undefined
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value)
  if (!Number.isSafeInteger(value) || value < min) {
    throw outOfRange(name, `an integer >= ${min}`, value)
  }
  return value
}

module.exports = { MAX_KEY_BYTES, validateKey, validateString, validateObject, validateOptionalObject, validateCount }
