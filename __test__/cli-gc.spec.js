'use strict'
// `gc` (the CLI) and `cache.collectGarbage()` while another process keeps storing: nothing a
// put committed is ever lost, a dry run removes nothing, old garbage goes.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const crypto = require('node:crypto')
const { fork } = require('node:child_process')
const { StreamingCache, tempDir, contentFiles, tmpFiles, contentFileFor, readBody, sha256, sleep } = require('./helpers/util')
const { cli } = require('./helpers/cli')

/** Garbage as a crash leaves it, dated two minutes back (older than the one-minute grace). */
function plantOldGarbage (dir) {
  const orphan = contentFileFor(dir, 'sha256-' + crypto.createHash('sha256').update('orphan').digest('base64'))
  fs.mkdirSync(path.dirname(orphan), { recursive: true })
  fs.writeFileSync(orphan, 'orphan')
  const temp = path.join(dir, 'tmp', 'crashed-write')
  fs.mkdirSync(path.dirname(temp), { recursive: true })
  fs.writeFileSync(temp, 'half a body')
  const past = new Date(Date.now() - 120_000)
  for (const file of [orphan, temp]) fs.utimesSync(file, past, past)
  return { orphan, temp }
}

/** Forks the putter; `resolved` fills with { put, sha } as its puts resolve. */
function startPutter (dir) {
  const child = fork(path.join(__dirname, 'fixtures', 'gc-putter.js'), [dir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const resolved = []
  let closed
  const done = new Promise((resolve, reject) => {
    child.on('message', (m) => {
      if (m.put) resolved.push(m)
      if (m.closed) closed = m
    })
    child.once('error', reject)
    child.once('exit', (code) => code === 0 ? resolve(closed) : reject(new Error(`putter exited with ${code}`)))
  })
  return { child, resolved, done }
}

async function until (predicate, what) {
  for (let i = 0; i < 600; i++) {
    if (predicate()) return
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${what}`)
}

test('gc in one process while another keeps putting: every resolved put is served after; --dry-run removes nothing', async (t) => {
  const dir = await tempDir(t)
  const seed = new StreamingCache(dir)
  await seed.put('kept', { status: 200, headers: {}, body: 'kept body' })
  await seed.close()
  const { orphan, temp } = plantOldGarbage(dir)

  const putter = startPutter(dir)
  t.teardown(() => putter.child.kill('SIGKILL'))
  await until(() => putter.resolved.length >= 5, 'the first puts')

  const contentBefore = contentFiles(dir)
  const dry = await cli('gc', dir, '--dry-run', '--json')
  t.is(dry.code, 0, dry.stderr)
  t.true(dry.json.dryRun)
  t.true(dry.json.unreferenced.files >= 1)
  t.true(dry.json.temp.files >= 1)
  t.true(fs.existsSync(orphan))
  t.true(fs.existsSync(temp))
  const contentAfterDry = new Set(contentFiles(dir))
  t.deepEqual(contentBefore.filter((f) => !contentAfterDry.has(f)), [], 'a dry run removed content')

  // Several passes while puts go on, so some catch writes between rename and index line.
  const passes = []
  for (let i = 0; i < 3; i++) {
    const gc = await cli('gc', dir, '--json')
    t.is(gc.code, 0, gc.stderr)
    t.false(gc.json.dryRun)
    passes.push(gc.json)
  }
  t.true(passes[0].unreferenced.files >= 1 && passes[0].unreferenced.bytes >= 6)
  t.true(passes[0].temp.files >= 1 && passes[0].temp.bytes >= 11)
  t.false(fs.existsSync(orphan))
  t.false(fs.existsSync(temp))

  const countAtLastPass = putter.resolved.length
  await until(() => putter.resolved.length >= countAtLastPass + 3, 'puts after the last pass')
  putter.child.send('stop')
  const closed = await putter.done
  t.deepEqual(closed.errors, [])
  t.true(putter.resolved.length >= 8)

  const cache = new StreamingCache(dir, { maxEntries: 100_000 })
  t.teardown(() => cache.close())
  for (const { put, sha } of [{ put: 'kept', sha: sha256(Buffer.from('kept body')) }, ...putter.resolved]) {
    const hit = cache.getSync(put)
    t.truthy(hit, `${put} was lost`)
    if (hit) t.is(sha256(await readBody(hit)), sha, `${put} came back different`)
  }
  t.deepEqual(tmpFiles(dir), [])
})

test('collectGarbage(): a dry run counts and keeps, a pass removes; bad options are a TypeError', async (t) => {
  const dir = await tempDir(t)
  const cache = new StreamingCache(dir)
  t.teardown(() => cache.close())
  await cache.put('live', { status: 200, headers: {}, body: 'live body' })
  const { orphan, temp } = plantOldGarbage(dir)

  const dry = await cache.collectGarbage({ dryRun: true })
  t.deepEqual(dry, { dryRun: true, content: { files: 1, bytes: 6 }, temp: { files: 1, bytes: 11 } })
  t.true(fs.existsSync(orphan))
  t.true(fs.existsSync(temp))

  const real = await cache.collectGarbage()
  t.deepEqual(real, { dryRun: false, content: { files: 1, bytes: 6 }, temp: { files: 1, bytes: 11 } })
  t.false(fs.existsSync(orphan))
  t.false(fs.existsSync(temp))
  t.is((await readBody(cache.getSync('live'))).toString(), 'live body')
  t.deepEqual(await cache.collectGarbage(), { dryRun: false, content: { files: 0, bytes: 0 }, temp: { files: 0, bytes: 0 } })

  await t.throwsAsync(() => cache.collectGarbage({ dryRun: 'yes' }), { instanceOf: TypeError })
  await t.throwsAsync(() => cache.collectGarbage(null), { instanceOf: TypeError })
})
