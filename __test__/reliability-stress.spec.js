'use strict'
// A short run of the reliability harness (`npm run stress` runs it longer): processes sharing
// one directory are SIGKILLed at random moments during puts, deletes, evictions, clears and
// verifies; no committed entry may be lost and no read may return a wrong body.
const test = require('ava')
const { run } = require('./stress/harness')

test('stress: SIGKILL at random moments, several processes, maintenance mixed in: nothing lost, nothing corrupt', async (t) => {
  t.timeout(120_000)
  const figures = await run({ seconds: Number(process.env.STRESS_SECONDS ?? 8), procs: 3, log: (...a) => t.log(...a) })
  t.true(figures.kills > 0, 'processes were killed')
  t.true(figures.operations > 0)
  t.true(figures.entriesChecked > 0, 'some durable puts were checked')
  t.is(figures.entriesLost, 0, JSON.stringify(figures.lost))
  t.is(figures.corruptReads, 0, JSON.stringify(figures.failures.slice(0, 5)))
  t.is(figures.verifyCorrupt, 0)
})
