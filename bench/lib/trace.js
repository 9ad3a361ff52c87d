'use strict'
// The request trace for the hit-ratio scenario: Zipf(s) popularity over a fixed key set, with
// bursts of one-hit wonders (keys requested once, never again) mixed in, as a crawler or a
// scan would produce. Fully determined by the seed.
const { prng, SEED } = require('./data')

/** Sampler of ranks 0..n-1 with P(rank k) proportional to 1 / (k + 1)^s. */
function zipf (n, s, rand) {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) cdf[k] = (sum += 1 / (k + 1) ** s)
  for (let k = 0; k < n; k++) cdf[k] /= sum
  return function sample () {
    const u = rand()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * `requests` keys: `scanShare` of them one-hit wonders in bursts of `burst`, the rest drawn
 * from Zipf(`s`) over `keys` keys (key names are shuffled ranks, so popularity is not sorted).
 */
function zipfWithScan ({ requests = 100_000, keys = 10_000, s = 0.9, scanShare = 0.2, burst = 100, seed = SEED } = {}) {
  const rand = prng(seed)
  const sample = zipf(keys, s, rand)
  const names = Array.from({ length: keys }, (_, i) => `https://example.test/item/${i}`)
  for (let i = keys - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[names[i], names[j]] = [names[j], names[i]]
  }
  const bursts = Math.round((requests * scanShare) / burst)
  const zipfCount = requests - bursts * burst
  // Burst start positions among the Zipf requests, sorted.
  const starts = Array.from({ length: bursts }, () => Math.floor(rand() * zipfCount)).sort((a, b) => a - b)
  const trace = []
  let scanned = 0
  let b = 0
  for (let i = 0; i < zipfCount; i++) {
    while (b < bursts && starts[b] === i) {
      for (let k = 0; k < burst; k++) trace.push(`https://example.test/scan/${scanned++}`)
      b++
    }
    trace.push(names[sample()])
  }
  return trace
}

module.exports = { zipf, zipfWithScan }
