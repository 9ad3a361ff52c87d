#!/usr/bin/env node
'use strict'
// http-streaming-cache CLI: look into and maintain a cache directory. stats/ls/show only read
// (they never open the cache, so they change nothing); rm/gc/verify open it to change it, and
// with --dry-run only read and say what they would do.
const { parseArgs } = require('node:util')

const USAGE = `usage: http-streaming-cache <command> <dir> [args] [--json] [--dry-run]

commands:
  stats <dir>          entries, bytes, bytes saved by dedup, oldest/newest entry,
                       skipped index lines, temp files and unreferenced content
  ls <dir> [prefix]    keys (with size, status and age), optionally only those
                       starting with prefix
  show <dir> <key>     an entry's fields, size, integrity and freshness
  rm <dir> <key>       delete an entry (its content goes when no other key uses it)
  gc <dir>             remove temp files of unfinished writes and content no entry
                       points at (files are listed, not re-hashed)
  verify <dir>         re-hash every entry's content, name each corrupt or missing
                       one and remove those entries, then collect garbage as gc does

options:
  --json               machine-readable output on stdout
  --dry-run            rm, gc, verify: report what would be removed, remove nothing
  -h, --help           this help
  -v, --version        the version

exit status: 0 fine, 1 a problem was found (corrupt content, no such key),
             2 bad usage or an error (e.g. the directory is not a cache)`

const COMMANDS = new Set(['stats', 'ls', 'show', 'rm', 'gc', 'verify'])

class UsageError extends Error {}

function bytes (n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`
}

function when (ms) {
  return ms == null ? '-' : new Date(ms).toISOString()
}

function files (stats) {
  return `${stats.files} file${stats.files === 1 ? '' : 's'}, ${bytes(stats.bytes)}`
}

/** Opens the cache for a command that changes it, sized so opening evicts nothing. */
function openCache (dir, entryCount) {
  const { StreamingCache } = require('..')
  return new StreamingCache(dir, { maxEntries: Math.max(10_000, entryCount + 1) })
}

/** `fn(cache)` with the cache open, closed afterwards whatever happens. */
async function withCache (dir, entryCount, fn) {
  const cache = openCache(dir, entryCount)
  try {
    const result = await fn(cache)
    await cache.runPendingTasks()
    return result
  } finally {
    await cache.close()
  }
}

function stats (dir) {
  const { inspectDir } = require('../lib/inspect')
  const seen = inspectDir(dir)
  const times = seen.entries.map((e) => e.storedAt)
  const report = {
    dir,
    entries: seen.entries.length,
    bytes: seen.logicalBytes,
    contentBytes: seen.content.bytes,
    contentFiles: seen.content.files,
    dedupSavedBytes: seen.dedupSavedBytes,
    oldest: times.length ? Math.min(...times) : null,
    newest: times.length ? Math.max(...times) : null,
    skippedIndexLines: seen.skippedIndexLines,
    tempFiles: seen.temp,
    unreferencedContent: seen.unreferenced,
    missingContent: seen.missingContent.length,
    unreadable: seen.unreadable,
  }
  const human = [
    `cache            ${dir}`,
    `entries          ${report.entries}`,
    `bytes            ${bytes(report.bytes)} in entries, ${bytes(report.contentBytes)} of content on disk (${report.contentFiles} files)`,
    `saved by dedup   ${bytes(report.dedupSavedBytes)}`,
    `oldest / newest  ${when(report.oldest)} / ${when(report.newest)}`,
    `skipped lines    ${report.skippedIndexLines} index lines could not be decoded`,
    `temp files       ${files(report.tempFiles)}`,
    `unreferenced     ${files(report.unreferencedContent)} (gc removes these)`,
    `missing content  ${report.missingContent} entries`,
  ]
  for (const { path, error } of report.unreadable) human.push(`UNREADABLE       ${path}: ${error} (not counted above)`)
  return { report, human, code: 0 }
}

function ls (dir, prefix = '') {
  const { inspectDir } = require('../lib/inspect')
  const entries = inspectDir(dir).entries
    .filter((e) => e.key.startsWith(prefix))
    .map(({ key, size, status, storedAt, integrity }) => ({ key, size, status, storedAt, integrity }))
  const human = entries.map((e) => `${String(e.status).padEnd(4)}${bytes(e.size).padStart(11)}  ${when(e.storedAt)}  ${JSON.stringify(e.key)}`)
  human.push(`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}`)
  return { report: entries, human, code: 0 }
}

function findEntry (dir, key) {
  if (key === undefined) throw new UsageError('missing <key>')
  const { inspectDir } = require('../lib/inspect')
  const seen = inspectDir(dir)
  return { seen, entry: seen.entries.find((e) => e.key === key) }
}

function notFound (key) {
  return { report: { key, found: false }, human: [`no entry for ${JSON.stringify(key)}`], code: 1 }
}

function freshness (entry) {
  if (entry.policy == null) return null
  const { CachePolicy } = require('..')
  const policy = CachePolicy.fromJSON(entry.policy)
  return { storable: policy.isStorable(), stale: policy.isStale(), timeToLiveMs: policy.timeToLive(), ageSeconds: policy.age() }
}

function contentPath (dir, integrity) {
  return require('../lib/inspect').contentPath(dir, integrity)
}

function show (dir, key) {
  const { seen, entry } = findEntry(dir, key)
  if (!entry) return notFound(key)
  const report = {
    key: entry.key,
    status: entry.status,
    url: entry.url,
    size: entry.size,
    integrity: entry.integrity,
    contentPath: contentPath(dir, entry.integrity),
    storedAt: entry.storedAt,
    contentPresent: !seen.missingContent.includes(entry.key),
    headers: entry.headers,
    metadata: entry.metadata,
    freshness: freshness(entry),
  }
  const f = report.freshness
  const human = [
    `key        ${JSON.stringify(report.key)}`,
    `status     ${report.status}`,
    `url        ${report.url ?? '-'}`,
    `size       ${bytes(report.size)} (${report.size} bytes)`,
    `integrity  ${report.integrity}${report.contentPresent ? '' : ' (content file MISSING)'}`,
    `content    ${report.contentPath}`,
    `stored at  ${when(report.storedAt)}`,
    `freshness  ${f == null ? 'no policy stored' : `${f.stale ? 'stale' : 'fresh'}, ttl ${Math.round(f.timeToLiveMs / 1000)} s, age ${f.ageSeconds} s`}`,
    'headers',
    ...Object.entries(report.headers).map(([name, value]) => `  ${name}: ${Array.isArray(value) ? value.join(', ') : value}`),
  ]
  if (report.metadata != null) human.push(`metadata   ${JSON.stringify(report.metadata)}`)
  return { report, human, code: 0 }
}

async function rm (dir, key, dryRun) {
  const { seen, entry } = findEntry(dir, key)
  if (!entry) return notFound(key)
  const sharing = seen.entries.filter((e) => e.integrity === entry.integrity && e.key !== key).length
  const report = { key, dryRun, removed: !dryRun, contentRemoved: !dryRun && sharing === 0, sharedWith: sharing }
  if (!dryRun) report.removed = await withCache(dir, seen.entries.length, (cache) => cache.delete(key))
  const content = sharing === 0 ? `its content (${bytes(entry.size)})` : `not its content (${sharing} other key(s) use it)`
  const human = [`${dryRun ? 'would remove' : 'removed'} ${JSON.stringify(key)} and ${content}`]
  return { report, human, code: 0 }
}

function difference (before, after) {
  return { files: Math.max(0, before.files - after.files), bytes: Math.max(0, before.bytes - after.bytes) }
}

async function gc (dir, dryRun) {
  const { inspectDir } = require('../lib/inspect')
  const seen = inspectDir(dir)
  if (dryRun) {
    // Read-only: opening the cache could sweep a crashed process's leftovers. The inspector
    // counts every unreferenced file; a real pass keeps those written in the last minute
    // while another process has the cache open.
    const report = { dryRun, temp: seen.temp, unreferenced: seen.unreferenced }
    return { report, human: [`would remove ${files(seen.temp)} of temp files and ${files(seen.unreferenced)} of unreferenced content`], code: 0 }
  }
  const removed = await withCache(dir, seen.entries.length, (cache) => cache.collectGarbage())
  const after = inspectDir(dir)
  const report = { dryRun, temp: removed.temp, unreferenced: removed.content, left: { temp: after.temp, unreferenced: after.unreferenced } }
  const human = [`removed ${files(report.temp)} of temp files and ${files(report.unreferenced)} of unreferenced content`]
  const left = report.left.temp.files + report.left.unreferenced.files
  if (left > 0) human.push(`kept ${left} file(s): written less than a minute ago while another process has the cache open, or since the pass began`)
  return { report, human, code: 0 }
}

async function verify (dir, dryRun) {
  const { checkDirContent } = require('../lib/inspect')
  const checked = checkDirContent(dir)
  const broken = checked.problems.filter((p) => p.problem !== 'unreadable')
  const unreadable = checked.problems.filter((p) => p.problem === 'unreadable')
  const report = {
    dryRun,
    entries: checked.entries,
    verified: checked.entries - checked.problems.length,
    corrupt: broken,
    unreadable,
    removed: [],
    garbage: null,
  }
  if (!dryRun) {
    const { inspectDir } = require('../lib/inspect')
    const before = inspectDir(dir)
    await withCache(dir, checked.entries, async (cache) => {
      // The cache's own verify removes corrupt entries and their content at once, also while
      // other processes use the directory, and collects garbage (temp files, unreferenced
      // content) as `cache.verify()` does.
      await cache.verify()
      for (const p of broken) {
        // Missing content, if verify left the entry: only the entry that was checked goes, a
        // key stored again since then keeps its new body.
        if (cache.peek(p.key)?.integrity === p.integrity) await cache.delete(p.key)
      }
    })
    const after = inspectDir(dir)
    const live = new Set(after.entries.map((e) => `${e.key}\n${e.integrity}`))
    report.removed = broken.filter((p) => !live.has(`${p.key}\n${p.integrity}`)).map((p) => p.key)
    report.garbage = { temp: difference(before.temp, after.temp), unreferenced: difference(before.unreferenced, after.unreferenced) }
  }
  const human = [`${report.verified} of ${report.entries} entries verified`]
  for (const p of broken) human.push(`${p.problem.toUpperCase()} ${JSON.stringify(p.key)}: ${p.detail}${report.removed.includes(p.key) ? ' (removed)' : dryRun ? ' (would be removed)' : ''}`)
  for (const p of unreadable) human.push(`UNREADABLE ${JSON.stringify(p.key)}: ${p.detail} (kept: a failed read is not corruption)`)
  if (report.garbage) human.push(`garbage: removed ${files(report.garbage.temp)} of temp files, ${files(report.garbage.unreferenced)} of unreferenced content`)
  return { report, human, code: broken.length > 0 ? 1 : 0 }
}

async function run (command, dir, arg, dryRun) {
  switch (command) {
    case 'stats': return stats(dir)
    case 'ls': return ls(dir, arg)
    case 'show': return show(dir, arg)
    case 'rm': return rm(dir, arg, dryRun)
    case 'gc': return gc(dir, dryRun)
    case 'verify': return verify(dir, dryRun)
  }
}

async function main (argv) {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean', default: false },
        'dry-run': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    })
  } catch (err) {
    console.error(`http-streaming-cache: ${err.message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    console.log(USAGE)
    return 0
  }
  if (values.version) {
    console.log(require('../package.json').version)
    return 0
  }
  const [command, dir, arg, ...extra] = positionals
  if (!COMMANDS.has(command) || dir === undefined || extra.length > 0) {
    console.error(`${command === undefined || COMMANDS.has(command) ? '' : `http-streaming-cache: unknown command ${JSON.stringify(command)}\n\n`}${USAGE}`)
    return 2
  }
  if (values['dry-run'] && !['rm', 'gc', 'verify'].includes(command)) {
    console.error(`http-streaming-cache: --dry-run is for rm, gc and verify (${command} never changes the cache)`)
    return 2
  }
  try {
    const { report, human, code } = await run(command, dir, arg, values['dry-run'])
    console.log(values.json ? JSON.stringify(report, null, 2) : human.join('\n'))
    return code
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`http-streaming-cache ${command}: ${err.message}\n\n${USAGE}`)
      return 2
    }
    console.error(`http-streaming-cache: ${err.message}${err.code ? ` (${err.code})` : ''}`)
    return 2
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code })
