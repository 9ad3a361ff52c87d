'use strict'
// RFC 9111 conformance inside `npm test`: run.js runs the public HTTP caching test suite
// against both fronts in both modes (and undici + MemoryCacheStore for comparison) and
// compares our results with the committed baseline. Any test that passed in the baseline
// and fails now (again, when re-run on its own) fails this spec; the score table is logged.
const test = require('ava')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { EXCEPTIONS, reasonFor } = require('./exceptions')

const RUNNER = path.join(__dirname, 'run.js')

function runConformance () {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [RUNNER, '--json'], { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && err.code !== 1) return reject(new Error(`run.js failed (${err.code}): ${stderr}`))
      try {
        resolve(JSON.parse(stdout))
      } catch (parseError) {
        reject(new Error(`run.js printed no report: ${parseError.message}\n${stderr}`))
      }
    })
  })
}

test('the HTTP caching test suite: no regression against the baseline, score table', async (t) => {
  t.timeout(10 * 60_000)
  const report = await runConformance()
  t.log('\n' + report.table)
  for (const r of report.flaky) t.log(`flaky (failed in the full run, passed alone): ${r.run}: ${r.id}`)
  for (const r of report.unexcused) t.log(`required test failing: ${r.run}: ${r.id}`)
  if (report.improvements.length > 0) t.log(`${report.improvements.length} tests now pass that the baseline has failing (node __test__/conformance/run.js --update)`)
  t.deepEqual(report.regressions, [], 'tests that passed in the baseline still pass')
  for (const run of report.runs) t.true(run.score.total >= 290, `${run.name}: the whole suite ran (${run.score.total} tests)`)
  // What we say fails whatever the cache does fail for undici + MemoryCacheStore too.
  for (const run of report.runs.filter((run) => !run.ours)) {
    for (const id of Object.keys(EXCEPTIONS)) {
      if (!reasonFor(EXCEPTIONS, id, run.type)?.includes('whatever the cache')) continue
      t.not(run.results[id], true, `exception ${id} fails for ${run.name} too`)
    }
  }
  for (const r of report.undocumented) t.log(`failing without a reason in exceptions.js: ${r.run}: ${r.id}`)
  t.deepEqual(report.undocumented.map((r) => `${r.run}: ${r.id}`), [], 'every test cacheInterceptor fails has its reason')
})
