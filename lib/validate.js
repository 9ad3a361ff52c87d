'use strict'
// Argument checks at the API boundary, so bad input fails fast with Node-style errors.
const { invalidArgType, outOfRange } = require('./errors')

function validateString (value, name) {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value)
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

module.exports = { validateString, validateObject, validateOptionalObject, validateCount }
