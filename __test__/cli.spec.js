'use strict'
// The CLI, run as a real child process against real cache directories.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { StreamingCache } = require('..')
const { tempDir, walkFiles, contentFiles, tmpFiles, contentFileFor, indexKeys, readBody } = require('./helpers/util')
const { cli } = require('./helpers/cli')

/** Every file under `dir` with its size and mtime: equal snapshots mean nothing changed. */
function snapshot (dir) {
  return walkFiles(dir).sort().map((file) => {
    const s = fs.statSync(file)
    return [path.relative(dir, file), s.size, s.mtimeMs]
  }).concat(fs.readdirSync(dir).sort())
}

const REQUEST = (url) => ({ method: 'GET', url, headers: {} })

/** A closed cache: two keys sharing one body, one with its own; one fresh policy. */
async function makeCache (t) {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  await cache.put('https://a.test/1', {
    status: 200,
    url: 'https://a.test/1',
    headers: { 'cache-control': 'max-age=3600', etag: '"v1"' },
    body: 'shared body',
    request: REQUEST('https://a.test/1'),
    metadata: { note: 'first' },
  })
  await cache.put('https://a.test/2', { status: 200, headers: {}, body: 'shared body' })
  await cache.put('https://b.test/3', { status: 404, headers: {}, body: 'a body of its own' })
  await cache.close()
  return dir
}

test('--help and --version exit 0; no command is a usage error', async (t) => {
  const help = await cli('--help')
  t.is(help.code, 0)
  t.regex(help.stdout, /usage: http-streaming-cache/)
  t.regex(help.stdout, /verify <dir>/)
  const version = await cli('--version')
  t.is(version.code, 0)
  t.is(version.stdout.trim(), require('../package.json').version)
  const none = await cli()
  t.is(none.code, 2)
  t.regex(none.stderr, /usage/)
  const unknown = await cli('frobnicate', '.')
  t.is(unknown.code, 2)
  t.regex(unknown.stderr, /unknown command "frobnicate"/)
})

test('a missing directory or one that is not a cache is a clear error and creates nothing', async (t) => {
  const parent = await tempDir(t)
  const missing = path.join(parent, 'nope')
  const plain = path.join(parent, 'plain')
  fs.mkdirSync(plain)
  fs.writeFileSync(path.join(plain, 'notes.txt'), 'not a cache')
  for (const command of [['stats'], ['ls'], ['show', 'k'], ['rm', 'k'], ['gc'], ['verify']]) {
    const [name, ...rest] = command
    const gone = await cli(name, missing, ...rest)
    t.is(gone.code, 2, name)
    t.regex(gone.stderr, /does not exist \(ENOENT\)/, name)
    t.false(fs.existsSync(missing), `${name} created the missing directory`)
    const other = await cli(name, plain, ...rest)
    t.is(other.code, 2, name)
    t.regex(other.stderr, /not an http-streaming-cache directory .*\(ERR_NOT_A_CACHE\)/, name)
    t.deepEqual(fs.readdirSync(plain), ['notes.txt'], `${name} wrote into a directory that is not a cache`)
  }
})

test('stats, ls and show report the cache and change nothing, even with garbage and foreign index lines', async (t) => {
  const dir = await makeCache(t)
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'tmp', 'unfinished'), 'partial write')
  // A well-formed cacache index line (its checksum matches) that is not one of ours, as
  // another tool could write: skipped and counted, not fatal.
  const line = JSON.stringify({ key: 'foreign', integrity: 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', time: 1, size: 0, metadata: null })
  const bucket = walkFiles(path.join(dir, 'index-v5'))[0]
  fs.appendFileSync(bucket, `\n${require('node:crypto').createHash('sha256').update(line).digest('hex')}\t${line}`)
  const before = snapshot(dir)

  const stats = await cli('stats', dir, '--json')
  t.is(stats.code, 0, stats.stderr)
  t.like(stats.json, {
    entries: 3,
    bytes: 11 + 11 + 17,
    contentBytes: 11 + 17,
    contentFiles: 2,
    dedupSavedBytes: 11,
    skippedIndexLines: 1,
    tempFiles: { files: 1, bytes: 13 },
    unreferencedContent: { files: 0, bytes: 0 },
    missingContent: 0,
  })
  t.deepEqual(stats.json.unreadable, [])
  t.true(stats.json.oldest <= stats.json.newest)
  t.true(Date.now() - stats.json.newest < 60_000)
  const human = await cli('stats', dir)
  t.regex(human.stdout, /entries\s+3/)
  t.regex(human.stdout, /saved by dedup\s+11 B/)

  const ls = await cli('ls', dir, 'https://a.test/', '--json')
  t.deepEqual(ls.json.map((e) => e.key), ['https://a.test/1', 'https://a.test/2'])
  t.is(ls.json[0].size, 11)
  const lsAll = await cli('ls', dir)
  t.regex(lsAll.stdout, /"https:\/\/b.test\/3"/)
  t.regex(lsAll.stdout, /3 entries/)

  const show = await cli('show', dir, 'https://a.test/1', '--json')
  t.is(show.code, 0)
  t.like(show.json, { key: 'https://a.test/1', status: 200, url: 'https://a.test/1', size: 11, contentPresent: true, metadata: { note: 'first' } })
  t.regex(show.json.integrity, /^sha256-/)
  // The path the core reports holds exactly the bytes the integrity names.
  const onDisk = fs.readFileSync(show.json.contentPath)
  t.is(onDisk.toString(), 'shared body')
  t.is(`sha256-${require('node:crypto').createHash('sha256').update(onDisk).digest('base64')}`, show.json.integrity)
  t.true(show.json.contentPath.startsWith(path.join(dir, 'content-v2') + path.sep))
  t.deepEqual(show.json.headers, { 'cache-control': 'max-age=3600', etag: '"v1"' })
  t.like(show.json.freshness, { stale: false, storable: true })
  t.true(show.json.freshness.timeToLiveMs > 3_500_000)
  const showHuman = await cli('show', dir, 'https://a.test/1')
  t.regex(showHuman.stdout, /freshness\s+fresh/)
  const unknown = await cli('show', dir, 'https://nope/')
  t.is(unknown.code, 1)
  t.regex(unknown.stdout, /no entry/)

  t.deepEqual(snapshot(dir), before)
})

test('stats and ls do not disturb a cache another process has open', async (t) => {
  const dir = await makeCache(t)
  const cache = new StreamingCache(dir)
  t.teardown(() => cache.close())
  const owners = fs.readdirSync(path.join(dir, 'owners')).sort()
  const before = snapshot(dir)
  t.is((await cli('stats', dir, '--json')).json.entries, 3)
  t.is((await cli('ls', dir, '--json')).json.length, 3)
  t.deepEqual(fs.readdirSync(path.join(dir, 'owners')).sort(), owners)
  t.deepEqual(snapshot(dir), before)
  t.truthy(await cache.get('https://a.test/2'))
})

test('rm --dry-run removes nothing; rm deletes the key and keeps content another key shares', async (t) => {
  const dir = await makeCache(t)
  const before = snapshot(dir)
  const dry = await cli('rm', dir, 'https://a.test/2', '--dry-run', '--json')
  t.is(dry.code, 0)
  t.like(dry.json, { key: 'https://a.test/2', dryRun: true, removed: false, sharedWith: 1 })
  t.deepEqual(snapshot(dir), before)

  const rm = await cli('rm', dir, 'https://a.test/2')
  t.is(rm.code, 0, rm.stderr)
  t.regex(rm.stdout, /removed "https:\/\/a.test\/2" and not its content/)
  t.deepEqual(indexKeys(dir), ['https://a.test/1', 'https://b.test/3'])
  t.is(contentFiles(dir).length, 2)

  const own = await cli('rm', dir, 'https://b.test/3', '--json')
  t.like(own.json, { removed: true, contentRemoved: true })
  t.is(contentFiles(dir).length, 1)
  const cache = new StreamingCache(dir)
  t.teardown(() => cache.close())
  t.is((await readBody(await cache.get('https://a.test/1'))).toString(), 'shared body')
  t.is(await cache.get('https://b.test/3'), null)

  const missing = await cli('rm', dir, 'https://nope/')
  t.is(missing.code, 1)
})

test('gc --dry-run lists temp files and unreferenced content; gc removes them and nothing live', async (t) => {
  const dir = await makeCache(t)
  fs.mkdirSync(path.join(dir, 'tmp'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'tmp', 'unfinished'), 'partial write')
  const orphan = contentFileFor(dir, 'sha256-' + require('node:crypto').createHash('sha256').update('orphan').digest('base64'))
  fs.mkdirSync(path.dirname(orphan), { recursive: true })
  fs.writeFileSync(orphan, 'orphan')
  const before = snapshot(dir)

  const dry = await cli('gc', dir, '--dry-run', '--json')
  t.is(dry.code, 0)
  t.deepEqual(dry.json, { dryRun: true, temp: { files: 1, bytes: 13 }, unreferenced: { files: 1, bytes: 6 } })
  t.deepEqual(snapshot(dir), before)

  const gc = await cli('gc', dir, '--json')
  t.is(gc.code, 0, gc.stderr)
  t.like(gc.json, { temp: { files: 1, bytes: 13 }, unreferenced: { files: 1, bytes: 6 } })
  t.false(fs.existsSync(orphan))
  t.deepEqual(tmpFiles(dir), [])
  t.deepEqual(indexKeys(dir), ['https://a.test/1', 'https://a.test/2', 'https://b.test/3'])
  t.is(contentFiles(dir).length, 2)
})

test('verify names each corrupt or missing key; --dry-run keeps them, verify removes them', async (t) => {
  const dir = await makeCache(t)
  const { json: entries } = await cli('ls', dir, '--json')
  const shared = entries.find((e) => e.key === 'https://a.test/1').integrity
  const own = entries.find((e) => e.key === 'https://b.test/3').integrity
  // Same length, one byte different: only the hash can tell.
  fs.writeFileSync(contentFileFor(dir, shared), 'shared bodY')
  fs.rmSync(contentFileFor(dir, own))
  const before = snapshot(dir)

  const dry = await cli('verify', dir, '--dry-run', '--json')
  t.is(dry.code, 1)
  t.deepEqual(dry.json.corrupt.map((p) => [p.key, p.problem]), [
    ['https://a.test/1', 'corrupt'],
    ['https://a.test/2', 'corrupt'],
    ['https://b.test/3', 'missing'],
  ])
  t.like(dry.json, { entries: 3, verified: 0, removed: [] })
  t.deepEqual(snapshot(dir), before)
  const human = await cli('verify', dir, '--dry-run')
  t.regex(human.stdout, /CORRUPT "https:\/\/a.test\/1": content does not match its hash \(would be removed\)/)

  const fix = await cli('verify', dir, '--json')
  t.is(fix.code, 1)
  t.deepEqual(fix.json.removed, ['https://a.test/1', 'https://a.test/2', 'https://b.test/3'])
  t.deepEqual(indexKeys(dir), [])
  t.deepEqual(contentFiles(dir), [])
  const again = await cli('verify', dir)
  t.is(again.code, 0)
  t.regex(again.stdout, /0 of 0 entries verified/)
})

test('verify of a healthy cache exits 0 and keeps every entry', async (t) => {
  const dir = await makeCache(t)
  const verify = await cli('verify', dir, '--json')
  t.is(verify.code, 0, verify.stderr)
  t.like(verify.json, { entries: 3, verified: 3, corrupt: [], removed: [] })
  t.deepEqual(indexKeys(dir), ['https://a.test/1', 'https://a.test/2', 'https://b.test/3'])
})

test('contentPath (the core\'s layout) rejects what is not an SRI string', (t) => {
  const { contentPath } = require('../lib/inspect')
  t.throws(() => contentPath('/tmp/x', 42), { instanceOf: TypeError })
  t.throws(() => contentPath('/tmp/x', 'not-an-integrity'), { code: 'ERR_INVALID_ARG_VALUE' })
})
