'use strict'
// The errors the JS shim throws itself (argument checks, states it tracks), coded the way Node
// codes its own. Errors of the addon arrive ready: the binding sets their class and `code`
// natively (src/js_error.rs), so nothing here converts them.

function withCode (ErrorClass, code, message) {
  const err = new ErrorClass(message)
  err.code = code
  return err
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

module.exports = { invalidArgType, outOfRange, withCode }
