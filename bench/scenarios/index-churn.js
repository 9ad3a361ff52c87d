'use strict'
// Index churn (issue 10, item 10): a key rewritten 10 000 times must cost a lookup within 2x of
// a key written once, and its index bytes must stay bounded (the core compacts a bucket that is
// mostly superseded lines). Two directories, each holding the key `hot` plus a warm-up key:
// `churned` rewrote `hot` 10 000 times (three bodies in turn, so content is deduplicated and
// only the index grows), `fresh` wrote it once. Each sample is a fresh child process that opens
// the directory, reads the warm-up key (JIT, code paths), then times the first `getSync('hot')`
// (it opens the body's file): the entry's fields are read back from its bucket on that call,
// which is what a rewritten key used to make slow (31.8 ms against 0.018 ms). The open time of
// the same child is reported too, since a small index is read from its buckets at open.
//
// Run by bench/run.js (`npm run bench -- --only index-churn`); this file is also the child
// process that fills (`--fill <dir> <rewrites>`) or looks up (`--lookup <dir>`).
const fs = require('node:fs')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { tempDir, removeDir, ramDir } = require('../lib/io')

const run = promisify(execFile)
const REWRITES = 10_000
const QUICK_REWRITES = 2_000
const LOOKUP_RATIO_TARGET = 2

function child (args) {
  return run(process.execPath, [__filename, ...args], { maxBuffer: 1024 * 1024, timeout: 10 * 60_000 })
    .then(({ stdout }) => JSON.parse(stdout.trim().split('\n').pop()))
}

const HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'public, max-age=3600',
  date: 'Tue, 01 Dec 2026 08:00:00 GMT',
  'last-modified': 'Mon, 30 Nov 2026 08:00:00 GMT',
  vary: 'accept-encoding',
}

/** Child: writes the warm-up key once and `hot` `rewrites` times, one put after another. */
async function fill (dir, rewrites) {
  const { StreamingCache } = require('../..')
  const cache = new StreamingCache(dir)
  const url = 'https://shop.example.com/catalog/items/1?ref=bench'
  const started = Date.now()
  await cache.put('warm', { status: 200, headers: HEADERS, url, body: 'warm-up body' })
  for (let i = 0; i < rewrites; i++) {
    const headers = { ...HEADERS, etag: `"${i}"` }
    await cache.put('hot', { status: 200, headers, url, body: `{"id":1,"version":${i % 3}}`.padEnd(1024, ' ') })
  }
  await cache.close()
  return { rewrites, seconds: (Date.now() - started) / 1000, indexBytes: treeBytes(path.join(dir, 'index-v5')) }
}

/** Bytes of every file under `dir`. */
function treeBytes (dir) {
  let bytes = 0
  for (const item of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (item.isFile()) bytes += fs.statSync(path.join(item.parentPath ?? item.path, item.name)).size
  }
  return bytes
}

/** Child: open, warm up, then time the first lookup (and body read) of `hot`. */
async function lookup (dir) {
  const { StreamingCache } = require('../..')
  const opened = process.hrtime.bigint()
  const cache = new StreamingCache(dir, { memory: 0 })
  const openMs = Number(process.hrtime.bigint() - opened) / 1e6
  const warm = cache.getSync('warm')
  if (!warm) throw new Error('warm-up key missing')
  warm.body.destroy()
  const started = process.hrtime.bigint()
  const hit = cache.getSync('hot')
  const lookupMs = Number(process.hrtime.bigint() - started) / 1e6
  if (!hit) throw new Error(`hot missing in ${dir}`)
  hit.body.destroy()
  await cache.close()
  return { openMs, lookupMs }
}

module.exports = {
  id: 'index-churn',
  title: `Lookup of a key rewritten ${REWRITES} times vs a fresh key (fresh child process per lookup)`,
  warmup: false,
  unit: 'ms',
  lowerIsBetter: true,
  runs: ({ quick, runs }) => (quick ? 5 : Math.max(runs, 15)),

  async setup ({ quick } = {}) {
    const rewrites = quick ? QUICK_REWRITES : REWRITES
    const root = tempDir('index-churn', ramDir())
    const dirs = [
      { label: `rewritten ${rewrites}x`, dir: path.join(root, 'churned'), rewrites },
      { label: 'written once', dir: path.join(root, 'fresh'), rewrites: 1 },
    ]
    for (const d of dirs) Object.assign(d, await child(['--fill', d.dir, String(d.rewrites)]))
    const cases = []
    for (const d of dirs) {
      let last = null
      cases.push({ group: 'first getSync of the key (ms)', system: d.label, run: async () => (last = await child(['--lookup', d.dir])).lookupMs })
      cases.push({ group: 'open (ms)', system: d.label, run: async () => last.openMs })
    }
    const [churned, fresh] = dirs
    return {
      cases,
      details: dirs,
      notes: dirs.map((d) => `${d.label}: filled in ${d.seconds.toFixed(1)} s; index-v5 holds ${d.indexBytes} B`),
      targets: (m) => [
        {
          label: `lookup of a key rewritten ${rewrites}x / a fresh key (ratio)`,
          value: m('first getSync of the key (ms)', churned.label) / m('first getSync of the key (ms)', fresh.label),
          max: LOOKUP_RATIO_TARGET,
          unit: 'x',
        },
        { label: 'index bytes of the rewritten key (B, bound 16 KiB)', value: churned.indexBytes, max: 16 * 1024, unit: 'B' },
      ],
      teardown: () => removeDir(root),
    }
  },
}

if (require.main === module) {
  const [mode, dir, a] = process.argv.slice(2)
  const reply = (p) => p.then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (err) => { process.stderr.write(`${err.stack}\n`); process.exit(1) })
  if (mode === '--fill') reply(fill(dir, Number(a)))
  else if (mode === '--lookup') reply(lookup(dir))
}
