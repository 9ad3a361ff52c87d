'use strict'
// One process of the reliability harness (harness.js). Opens the shared cache directory and
// runs random operations until killed: puts (whole and streamed), gets that check every byte,
// deletes, and maintenance (verify, refresh, clear, runPendingTasks). Reports over IPC:
//   { durable: { key, sha, started, resolved } }  a put of a key nobody deletes, resolved
//   { cleared: { started, resolved } }            a clear() that resolved
//   { ops, corrupt, failures }                    running totals (sent every 100 ops)
// Usage: node worker.js <dir> <seed> <maxEntries> <clearUntil: ms since epoch; no clear after>
const { Readable } = require('node:stream')
const { StreamingCache } = require('../..')
const { seededBytes, sha256, prng, readHit, describeError } = require('../fixtures/reliability-common')

const [dir, seed, maxEntries, clearUntil] = process.argv.slice(2)
const random = prng(`stress-${seed}`)
const pick = (n) => Math.floor(random() * n)
const cache = new StreamingCache(dir, { maxEntries: Number(maxEntries) })

const SHARED_KEYS = 40
const SIZES = [0, 1, 700, 10_000, 64 * 1024 + 1, 200_000]
const totals = { ops: 0, corrupt: 0, failures: 0, byOp: {} }
const failures = []
let durableCount = 0

function bodyFor (bodySeed, size) {
  return seededBytes(bodySeed, size)
}

function asBody (data) {
  if (random() < 0.5) return data
  const chunks = []
  for (let i = 0; i < data.length; i += 16 * 1024) chunks.push(data.subarray(i, i + 16 * 1024))
  return Readable.from(chunks)
}

async function put (key) {
  const size = SIZES[pick(SIZES.length)]
  const bodySeed = `${key}:${pick(5)}:${size}`
  const data = bodyFor(bodySeed, size)
  const started = Date.now()
  await cache.put(key, { status: 200, metadata: { bodySeed, size }, body: asBody(data) })
  return { sha: sha256(data), started, resolved: Date.now() }
}

/** A hit must read back exactly the body its metadata names; a miss is always fine. */
async function check (key) {
  const hit = random() < 0.5 ? cache.getSync(key) : await cache.get(key)
  if (hit === null) return
  const read = await readHit(hit)
  const { bodySeed, size } = hit.metadata
  if (read.error || read.sha !== sha256(bodyFor(bodySeed, size))) {
    totals.corrupt++
    failures.push({ key, error: read.error && describeError(read.error) })
  }
}

const ops = [
  [30, async () => { await put(`k${pick(SHARED_KEYS)}`) }],
  [10, async () => {
    // A process with a tiny bound evicts its own writes (count capacity): it writes none.
    if (Number(maxEntries) < 1000) return
    const key = `durable-${process.pid}-${durableCount++}`
    const done = await put(key)
    process.send({ durable: { key, ...done } })
  }],
  [35, () => check(random() < 0.8 ? `k${pick(SHARED_KEYS)}` : `durable-${process.pid}-${pick(durableCount + 1)}`)],
  [12, () => cache.delete(`k${pick(SHARED_KEYS)}`)],
  [4, () => cache.refresh()],
  [3, () => cache.runPendingTasks()],
  [2, () => cache.verify()],
  [1, async () => {
    const started = Date.now()
    if (started > Number(clearUntil)) return
    await cache.clear()
    process.send({ cleared: { started, resolved: Date.now() } })
  }],
]
const weight = ops.reduce((sum, [w]) => sum + w, 0)

async function step () {
  let roll = pick(weight)
  for (const [index, [w, op]] of ops.entries()) {
    if (roll < w) {
      totals.byOp[index] = (totals.byOp[index] ?? 0) + 1
      return op()
    }
    roll -= w
  }
}

async function main () {
  process.send({ ready: true })
  for (;;) {
    // A few operations at once, as a server would run them.
    await Promise.all([step(), step(), step()].map((p) => p.catch((err) => {
      totals.failures++
      failures.push(describeError(err))
    })))
    totals.ops += 3
    process.send({ totals, failures: failures.splice(0) })
  }
}

main()
