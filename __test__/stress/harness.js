#!/usr/bin/env node
'use strict'
// The reliability harness (`npm run stress`): N processes share one cache directory doing
// random puts, gets, deletes and maintenance (verify, refresh, clear), while the harness
// SIGKILLs one at a random moment every few hundred milliseconds and starts a replacement.
// At the end every durable put (a key nobody deletes, written after the last clear) must
// still be served intact, and no get may ever have read a wrong or broken body.
//
//   STRESS_SECONDS   how long to run (default 20)
//   STRESS_PROCS     processes at a time (default 4)
//
// Prints its figures and exits 1 if an entry was lost or a read was corrupt. Usable as a
// module too: `run({ seconds, procs })` resolves with the figures.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { StreamingCache } = require('../..')
const { readHit } = require('../fixtures/reliability-common')

const WORKER = path.join(__dirname, 'worker.js')

async function run ({ seconds = 20, procs = 4, log = console.log } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sc-stress-'))
  const figures = { seconds, processes: 0, kills: 0, operations: 0, durablePuts: 0, clears: 0, corruptReads: 0, failedOps: 0, entriesChecked: 0, entriesLost: 0 }
  const durable = []
  const clears = []
  const failures = []
  const live = new Set()
  let seed = 0
  let stopping = false

  function spawn () {
    // Most processes bound their memory generously; one in three runs with a tiny bound, so
    // count eviction runs beside peers that store far more (and must not delete theirs).
    const maxEntries = seed % 3 === 2 ? 20 : 10_000
    const child = fork(WORKER, [dir, String(seed++), String(maxEntries), String(clearUntil)], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })
    figures.processes++
    const state = { child, totals: { ops: 0, corrupt: 0, failures: 0 } }
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    child.on('message', (m) => {
      if (m.durable) durable.push(m.durable)
      if (m.cleared) clears.push(m.cleared)
      if (m.totals) {
        state.totals = m.totals
        failures.push(...m.failures)
      }
    })
    child.once('exit', (code, signal) => {
      live.delete(state)
      figures.operations += state.totals.ops
      figures.corruptReads += state.totals.corrupt
      figures.failedOps += state.totals.failures
      if (signal !== 'SIGKILL') failures.push({ exit: code ?? signal, stderr: stderr.slice(-2000) })
      if (!stopping) spawn()
    })
    live.add(state)
  }

  // Clears stop after the first 60% of the run, so the durable puts of the rest are checked.
  const clearUntil = Date.now() + seconds * 600
  for (let i = 0; i < procs; i++) spawn()
  const deadline = Date.now() + seconds * 1000
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 400 + Math.random() * 1200))
    const victims = [...live]
    const victim = victims[Math.floor(Math.random() * victims.length)]
    if (victim && victim.child.exitCode === null) {
      figures.kills++
      victim.child.kill('SIGKILL')
    }
  }
  stopping = true
  await Promise.all([...live].map((s) => new Promise((resolve) => {
    s.child.once('exit', resolve)
    s.child.kill('SIGKILL')
  })))

  // Every durable put that began after the last clear resolved must be served intact.
  const lastClear = Math.max(0, ...clears.map((c) => c.resolved))
  figures.clears = clears.length
  figures.durablePuts = durable.length
  const cache = new StreamingCache(dir)
  const lost = []
  for (const { key, sha, started } of durable) {
    if (started <= lastClear) continue
    figures.entriesChecked++
    const hit = await cache.get(key)
    const read = hit && await readHit(hit)
    if (!read || read.sha !== sha) lost.push({ key, found: read ? read.sha : null })
  }
  figures.entriesLost = lost.length
  const report = await cache.verify()
  figures.verifyCorrupt = report.corrupt
  await cache.close()
  fs.rmSync(dir, { recursive: true, force: true })

  log(`stress: ${figures.seconds}s, ${figures.processes} processes (${procs} at a time), ${figures.kills} SIGKILLs, ` +
    `${figures.operations} operations (${figures.clears} clears), ${figures.failedOps} failed operations`)
  log(`stress: ${figures.entriesChecked} durable entries checked, entries lost: ${figures.entriesLost}, ` +
    `corrupt reads: ${figures.corruptReads}, corrupt after the run (verify): ${figures.verifyCorrupt}`)
  if (lost.length) log('lost:', JSON.stringify(lost.slice(0, 10)))
  if (failures.length) log('failures (first 10):', JSON.stringify(failures.slice(0, 10)))
  return { ...figures, failures, lost }
}

module.exports = { run }

if (require.main === module) {
  const seconds = Number(process.env.STRESS_SECONDS ?? 20)
  const procs = Number(process.env.STRESS_PROCS ?? 4)
  run({ seconds, procs }).then((f) => {
    process.exitCode = f.entriesLost === 0 && f.corruptReads === 0 && f.verifyCorrupt === 0 ? 0 : 1
  }, (err) => {
    console.error(err)
    process.exitCode = 1
  })
}
