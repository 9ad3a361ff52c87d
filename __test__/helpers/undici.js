'use strict'
// Which undici the tests run against: undici 7 (the devDependency) by default, undici 8 with
// TEST_UNDICI=8 (installed beside it as `undici8`: `npm install --no-save undici8@npm:undici@8`;
// undici 8 needs Node >= 22.19). .ci/run runs the undici tests both ways.
//
// Tests can `require('./helpers/undici')`. Preloaded (`ava --node-arguments=--require=...`, as
// `npm run test:undici8` does), it also points every `require('undici')` (tests, fixtures
// and the library itself) at the chosen one, so specs written against 'undici' need no change.
const Module = require('node:module')

const PACKAGE = process.env.TEST_UNDICI === '8' ? 'undici8' : 'undici'

if (PACKAGE !== 'undici') {
  const resolve = Module._resolveFilename
  Module._resolveFilename = function (request, ...rest) {
    if (request === 'undici' || request.startsWith('undici/')) request = PACKAGE + request.slice('undici'.length)
    return resolve.call(this, request, ...rest)
  }
}

const undici = require(PACKAGE)
const { version } = require(`${PACKAGE}/package.json`)
if (PACKAGE === 'undici8' && !version.startsWith('8.')) throw new Error(`TEST_UNDICI=8 but undici8 is ${version}`)

module.exports = undici
module.exports.undiciVersion = version
