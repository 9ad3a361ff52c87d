'use strict'
// Timing loops: repeat an operation until a minimum time has passed, so short operations are
// not measured off one sample of the clock.

const now = () => Number(process.hrtime.bigint()) / 1e9

/**
 * Runs `op` (async, resolves with bytes handled) repeatedly for at least `minSeconds`, timing
 * only `op` (not `after`, which cleans up between repetitions). Resolves with MB/s (1 MB = 1e6 B).
 * With `warm`, `op` first runs untimed for that many seconds.
 */
async function throughput (op, { minSeconds, after, warm = 0 }) {
  for (const end = now() + warm; now() < end;) {
    await op()
    if (after) await after()
  }
  let bytes = 0
  let busy = 0
  do {
    const start = now()
    bytes += await op()
    busy += now() - start
    if (after) await after()
  } while (busy < minSeconds)
  return bytes / busy / 1e6
}

/** Runs `op` back to back for `seconds`; resolves with operations per second. */
async function opsPerSecond (op, { seconds }) {
  let ops = 0
  const start = now()
  const end = start + seconds
  let t
  do {
    for (let i = 0; i < 16; i++) { await op(); ops++ }
    t = now()
  } while (t < end)
  return ops / (t - start)
}

/** `concurrency` loops of `op` for `seconds`; resolves with operations per second. */
async function concurrentOpsPerSecond (op, { seconds, concurrency }) {
  let ops = 0
  const start = now()
  const end = start + seconds
  const worker = async () => {
    while (now() < end) { await op(); ops++ }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return ops / (now() - start)
}

module.exports = { now, throughput, opsPerSecond, concurrentOpsPerSecond }
