'use strict'
// Native errors arrive as `CODE: message`; turn them into the error classes Node itself uses.

const NATIVE_REASON = /^([A-Z][A-Z0-9_]+): ([\s\S]*)$/

const TYPE_ERROR_CODES = new Set([
  'ERR_INVALID_ARG_TYPE',
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_CHAR',
])

function withCode (ErrorClass, code, message) {
  const err = new ErrorClass(message)
  err.code = code
  return err
}

function errorForCode (code, message) {
  if (TYPE_ERROR_CODES.has(code)) return withCode(TypeError, code, message)
  if (code === 'ERR_OUT_OF_RANGE') return withCode(RangeError, code, message)
  return withCode(Error, code, message)
}

/** Rebuilds an error thrown by the addon; anything else passes through untouched. */
function fromNative (err) {
  if (!(err instanceof Error)) return err
  // The code set natively (the binding's policy methods): only the class is chosen here.
  if (Object.getPrototypeOf(err) === Error.prototype && typeof err.code === 'string' && err.code.startsWith('ERR_')) {
    return TYPE_ERROR_CODES.has(err.code) || err.code === 'ERR_OUT_OF_RANGE' ? errorForCode(err.code, err.message) : err
  }
  if (err.code !== 'GenericFailure') return err
  const match = NATIVE_REASON.exec(err.message)
  if (!match) return err
  return errorForCode(match[1], match[2])
}

/** Calls a native function, rethrowing its errors as proper JS errors. */
function callNative (fn) {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

function describe (value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`
  return `type ${typeof value}`
}

function invalidArgType (name, expected, actual) {
  return withCode(TypeError, 'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`)
}

function outOfRange (name, range, actual) {
  return withCode(RangeError, 'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${actual}`)
}

module.exports = { fromNative, callNative, invalidArgType, outOfRange, withCode }
