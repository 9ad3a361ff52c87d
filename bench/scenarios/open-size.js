'use strict'
// Open time and resident memory per live entry at 1k / 10k / 100k entries (issue 13): each
// directory is filled once by a child process, then opened in a fresh child process that
// reports the time `new StreamingCache(dir)` took and the RSS it added (after GC), divided by
// the entries. Directories live in RAM (/dev/shm) where there is one: the page cache would
// hold them anyway after the fill, and the fill is 20x faster. Entries are small bodies with six typical response headers and a URL; the
// 10k "with policy" row also stores the HTTP caching policy (as the undici integrations do).
//
// Run by bench/run.js (`npm run bench -- --only open-size`); this file is also the child
// process that fills (`--fill <dir> <count> plain|policy`) or opens (`--open <dir> <system>
// <count>`) a directory.
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { tempDir, removeDir, ramDir } = require('../lib/io')

const run = promisify(execFile)
const SIZES = [1_000, 10_000, 100_000]
const QUICK_SIZES = [1_000, 10_000]
const OURS = 'http-streaming-cache'
const OPEN_TARGET_S = 0.5
const RSS_TARGET_B = 600

function child (args) {
  return run(process.execPath, ['--expose-gc', __filename, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 20 * 60_000 })
    .then(({ stdout }) => JSON.parse(stdout.trim().split('\n').pop()))
}

/** Child: stores `count` entries in `dir`, 64 puts in flight at a time. */
async function fill (dir, count, withPolicy) {
  const { StreamingCache } = require('../..')
  const cache = new StreamingCache(dir, { maxEntries: count * 2, maxSize: 1024 ** 4 })
  const started = Date.now()
  let next = 0
  const worker = async () => {
    while (next < count) {
      const i = next++
      const url = `https://shop.example.com/catalog/items/${i}?ref=bench`
      const headers = {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'public, max-age=3600',
        etag: `"${(i * 2654435761 >>> 0).toString(16)}"`,
        date: 'Tue, 01 Dec 2026 08:00:00 GMT',
        'last-modified': 'Mon, 30 Nov 2026 08:00:00 GMT',
        vary: 'accept-encoding',
      }
      const entry = { status: 200, headers, url, body: `{"id":${i},"name":"item ${i}","price":${i % 997}}` }
      if (withPolicy) entry.request = { method: 'GET', url, headers: { accept: 'application/json', 'accept-encoding': 'gzip' } }
      await cache.put(`GET ${url}`, entry)
    }
  }
  await Promise.all(Array.from({ length: 64 }, worker))
  await cache.close()
  return { count, seconds: (Date.now() - started) / 1000 }
}

async function settle () {
  for (let i = 0; i < 4; i++) {
    global.gc()
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** Child: opens `dir` with `system` and reports the time and the RSS it added per entry. */
async function open (dir, system, count) {
  const { StreamingCache } = require('../..')
  await settle()
  const before = process.memoryUsage.rss()
  const started = process.hrtime.bigint()
  const held = new StreamingCache(dir, { maxEntries: count * 2, maxSize: 1024 ** 4 })
  const entries = held.entryCount()
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  await settle()
  const rssPerEntry = (process.memoryUsage.rss() - before) / entries
  if (entries !== count) throw new Error(`${system} found ${entries} of ${count} entries`)
  await held.close()
  return { system, count, seconds, rssPerEntry }
}

module.exports = {
  id: 'open-size',
  title: 'Open time and RSS per live entry (fresh child process per open)',
  warmup: false,
  unit: 'see group',
  lowerIsBetter: true,
  runs: ({ quick, runs }) => (quick ? 1 : Math.min(runs, 3)),

  async setup ({ quick } = {}) {
    const root = tempDir('open-size', ramDir())
    const dirs = []
    for (const count of quick ? QUICK_SIZES : SIZES) dirs.push({ count, policy: false, dir: path.join(root, `n${count}`) })
    dirs.push({ count: 10_000, policy: true, dir: path.join(root, 'n10000-policy') })
    const fills = []
    for (const d of dirs) fills.push({ ...d, ...(await child(['--fill', d.dir, String(d.count), d.policy ? 'policy' : 'plain'])) })
    const label = (d) => `${d.count / 1000}k${d.policy ? ' with policy' : ''}`
    const cases = []
    for (const d of dirs) {
      for (const system of [OURS]) {
        let last = null
        const measure = async () => (last = await child(['--open', d.dir, system, String(d.count)]))
        // One open per round gives both rows: time first, then the RSS of that same open.
        cases.push({ group: `open s, ${label(d)}`, system, run: async () => (await measure()).seconds })
        cases.push({ group: `RSS B/entry, ${label(d)}`, system, run: async () => last.rssPerEntry })
      }
    }
    const largest = dirs.filter((d) => !d.policy).at(-1)
    return {
      cases,
      details: fills,
      notes: fills.map((f) => `filled ${label(f)} in ${f.seconds.toFixed(1)} s`),
      targets: (m) => [
        { label: `open of ${label(largest)} entries: ${OURS} (s)`, value: m(`open s, ${label(largest)}`, OURS), max: OPEN_TARGET_S, unit: 's' },
        { label: `RSS per live entry at ${label(largest)}: ${OURS} (B)`, value: m(`RSS B/entry, ${label(largest)}`, OURS), max: RSS_TARGET_B, unit: 'B' },
      ],
      teardown: () => removeDir(root),
    }
  },
}

if (require.main === module) {
  const [mode, dir, a, b] = process.argv.slice(2)
  const reply = (p) => p.then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (err) => { process.stderr.write(`${err.stack}\n`); process.exit(1) })
  if (mode === '--fill') reply(fill(dir, Number(a), b === 'policy'))
  else if (mode === '--open') reply(open(dir, a, Number(b)))
}
