'use strict'
// Child process for the large-body test: streams `size` deterministic bytes into the shared
// tier (role "put") or reads them back and checks them (role "get"), never holding the body
// whole, and reports its peak RSS growth. argv: role url size. Run with --expose-gc: a
// collection every few MiB keeps V8's garbage slack out of the peak, so what is measured is
// what the tier holds.
const crypto = require('node:crypto')
const { Readable } = require('node:stream')
const { RemoteTier } = require('../../lib/remote')

const [role, url, sizeArg] = process.argv.slice(2)
const size = Number(sizeArg)
const PIECE = 64 * 1024
const GC_EVERY = 8 * 1024 * 1024

/** Deterministic pieces (AES-CTR keystream: fast), generated as they are asked for. */
function * pieces () {
  const cipher = crypto.createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16, 0))
  const zeros = Buffer.alloc(PIECE)
  for (let offset = 0; offset < size; offset += PIECE) {
    if (offset % GC_EVERY === 0) global.gc()
    yield cipher.update(zeros.subarray(0, Math.min(PIECE, size - offset)))
  }
}

async function main () {
  const tier = new RemoteTier({ url, maxBodySize: 1024 * 1024 * 1024, chunkSize: 1024 * 1024, lookupTimeout: 2000, opTimeout: 10_000 })
  global.gc()
  const baseline = process.resourceUsage().maxRSS
  const expected = crypto.createHash('sha256')
  for (const piece of pieces()) expected.update(piece)
  let digest
  if (role === 'put') {
    const entry = await tier.put('large', { body: Readable.from(pieces()), freshFor: 600_000 })
    if (entry.size !== size) throw new Error(`stored ${entry.size} bytes`)
    digest = expected.digest('hex')
  } else {
    const hit = await tier.get('large')
    const got = crypto.createHash('sha256')
    let n = 0
    for await (const chunk of hit.body) {
      if (n % GC_EVERY < chunk.length) global.gc()
      got.update(chunk)
      n += chunk.length
    }
    if (n !== size) throw new Error(`read ${n} bytes`)
    digest = got.digest('hex')
    if (digest !== expected.digest('hex')) throw new Error('the body read back differs')
  }
  process.send({ digest, rssGrowthKiB: process.resourceUsage().maxRSS - baseline })
}

main().catch((err) => { console.error(err); process.exit(1) })
