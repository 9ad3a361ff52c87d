'use strict'
// Which undici the undici tests ran against: the .ci/run pass with TEST_UNDICI=8 must really
// load undici 8 everywhere (tests, the library, child processes), or it proves nothing.
const test = require('ava')
const { execFileSync } = require('node:child_process')
const undici = require('./helpers/undici')

const expected = process.env.TEST_UNDICI === '8' ? /^8\./ : /^7\./

test('the selected undici is the one require("undici") gives tests, the library and children', (t) => {
  t.regex(undici.undiciVersion, expected)
  t.regex(require('undici/package.json').version, expected)
  t.is(require('undici'), undici)
  const child = execFileSync(process.execPath, ['-p', "require('undici/package.json').version"], { cwd: __dirname, encoding: 'utf8' })
  t.regex(child.trim(), process.env.NODE_OPTIONS?.includes('helpers/undici.js') ? expected : /^7\./)
})

test('undici 8 runs on Node >= 22.19 only', (t) => {
  if (!/^8\./.test(undici.undiciVersion)) return t.pass('undici 7')
  const [major, minor] = process.versions.node.split('.').map(Number)
  t.true(major > 22 || (major === 22 && minor >= 19), process.versions.node)
})
