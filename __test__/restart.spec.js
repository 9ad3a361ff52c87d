'use strict'
const test = require('ava')
const path = require('node:path')
const { fork } = require('node:child_process')
const { StreamingCache, runFixture, contentFiles, indexKeys, tempDir, readBody } = require('./helpers/util')

function expectClean (t, run, name) {
  t.is(run.code, 0, `${name} exited with ${run.code} ${run.signal ?? ''}\n${run.stderr}`)
  t.is(run.messages.length, 1, `${name} reports once`)
  return run.messages[0]
}

test('entries written by one process are read back intact by another', async (t) => {
  const dir = await tempDir(t)
  const COUNT = 40
  const DISTINCT = 12
  const writer = expectClean(t, await runFixture('restart-writer.js', [dir, String(COUNT), String(DISTINCT)]), 'writer')
  t.is(writer.entryCount, COUNT)
  t.is(Object.keys(writer.written).length, COUNT)
  // Deduplicated on disk: one content file per distinct body.
  t.is(contentFiles(dir).length, DISTINCT)

  const reader = expectClean(t, await runFixture('restart-reader.js', [dir]), 'reader')
  t.is(reader.entryCount, COUNT)
  t.deepEqual(Object.keys(reader.found).sort(), Object.keys(writer.written).sort())
  for (const [key, want] of Object.entries(writer.written)) {
    const got = reader.found[key]
    t.truthy(got, `${key} is readable after the restart`)
    t.is(got.sha256, want.sha256, `${key} body hash`)
    t.is(got.size, want.size)
    t.is(got.bytesRead, want.size)
    t.is(got.integrity, want.integrity)
    t.is(got.computedIntegrity, want.integrity)
    t.is(got.status, want.status)
    t.is(got.url, want.url)
    t.deepEqual(got.metadata, want.metadata)
    t.deepEqual(got.headers, { 'content-type': 'application/x-test', 'set-cookie': want.headers['Set-Cookie'] })
  }
})

test('deletes and replacements made by one process are seen by the next', async (t) => {
  const dir = await tempDir(t)
  const writer = expectClean(t, await runFixture('restart-writer.js', [dir, '12', '4']), 'writer')
  const keys = Object.keys(writer.written)
  const plan = {
    delete: [keys[0], keys[4], keys[8]], // every key of body 0
    replace: { [keys[1]]: 'replacement one', [keys[2]]: 'replacement two' },
  }
  const mutator = expectClean(t, await runFixture('restart-mutator.js', [dir, JSON.stringify(plan)]), 'mutator')
  t.deepEqual(mutator.deleted, [true, true, true])
  t.is(mutator.entryCount, 9)

  const reader = expectClean(t, await runFixture('restart-reader.js', [dir]), 'reader')
  t.is(reader.entryCount, 9)
  t.deepEqual(indexKeys(dir), Object.keys(reader.found).sort(), 'the disk index holds exactly the live keys')
  for (const key of plan.delete) t.false(key in reader.found, `${key} stays deleted`)
  for (const [key, text] of Object.entries(plan.replace)) {
    const got = reader.found[key]
    t.is(got.status, 299)
    t.is(got.headers['x-replaced'], 'yes')
    t.is(got.size, Buffer.byteLength(text))
    t.is(got.sha256, require('node:crypto').createHash('sha256').update(text).digest('hex'))
  }
  for (const key of keys) {
    if (plan.delete.includes(key) || key in plan.replace) continue
    t.is(reader.found[key].sha256, writer.written[key].sha256, key)
  }
  // Body 0 lost all its keys, body 1 and 2 lost one each but keep others; plus two new bodies.
  t.is(contentFiles(dir).length, 3 + 2)
})

test('a process killed in the middle of a put leaves the committed entries intact', async (t) => {
  const dir = await tempDir(t)
  const child = fork(path.join(__dirname, 'fixtures', 'killed-writer.js'), [dir], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += d })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const first = await Promise.race([
    new Promise((resolve) => child.once('message', resolve)),
    exited.then((r) => ({ exited: r })),
  ])
  t.truthy(first.writing, `the writer was mid-put before being killed: ${JSON.stringify(first)} ${stderr}`)
  child.kill('SIGKILL')
  t.is((await exited).signal, 'SIGKILL')

  const cache = new StreamingCache(dir)
  t.is(cache.entryCount(), 2)
  t.deepEqual(cache.keys(), ['survivor', 'victim'])
  t.is((await readBody(await cache.get('survivor'))).toString(), 'committed before the crash')
  t.is((await readBody(await cache.get('victim'))).toString(), 'old victim body')
  // The partial body never became content.
  t.is(contentFiles(dir).length, 2)
})
