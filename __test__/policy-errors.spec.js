'use strict'
// CachePolicy's errors cross the native boundary with their code set by the binding (not a
// `CODE: message` string): the JS error class is chosen by that code, and the message is the
// core's own, without a code prefix.
const test = require('ava')
const { NativePolicy } = require('../lib/native')
const { CachePolicy } = require('..')

const REQUEST = JSON.stringify({ method: 'GET', url: 'http://a.test/x', headers: {} })

test('the binding sets the code on the error itself', (t) => {
  const err = t.throws(() => NativePolicy.fromJson('{not json'))
  t.is(err.code, 'ERR_INVALID_ARG_TYPE')
  t.regex(err.message, /^policy is not valid JSON/)
  const range = t.throws(() => NativePolicy.fromResponse(REQUEST, 70000, '{}', true, Date.now()))
  t.is(range.code, 'ERR_OUT_OF_RANGE')
  t.is(range.message, 'status out of range')
  const policy = NativePolicy.fromResponse(REQUEST, 200, '{"cache-control":"max-age=60"}', true, Date.now())
  const bad = t.throws(() => policy.beforeRequest(JSON.stringify({ url: 'http://a b/' }), Date.now()))
  t.is(bad.code, 'ERR_INVALID_ARG_VALUE')
  t.notRegex(bad.message, /^ERR_/)
})

test('CachePolicy methods throw TypeError / RangeError / Error with the code, message unprefixed', (t) => {
  const url = 'http://a.test/x'
  const stored = t.throws(() => CachePolicy.fromJSON('{not json'), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' })
  t.notRegex(stored.message, /^ERR_/)
  t.throws(() => CachePolicy.fromJSON({ v: 99 }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
  t.throws(() => new CachePolicy({ url }, { status: 70000 }), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE', message: 'status out of range' })
  t.throws(() => new CachePolicy({ url, method: 'G E T' }, { status: 200 }), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE', message: /^invalid request method/ })
  const policy = new CachePolicy({ url }, { status: 200, headers: { 'cache-control': 'max-age=60' } })
  for (const call of [
    () => policy.beforeRequest({ url: 'http://a b/' }),
    () => policy.afterResponse({ url: 'http://a b/' }, { status: 304 }),
  ]) {
    const err = t.throws(call, { instanceOf: TypeError, code: 'ERR_INVALID_ARG_VALUE' })
    t.regex(err.message, /^invalid request url "http:\/\/a b\/"/)
  }
})
