'use strict'
// close(): releases the directory for other users, and the closed cache refuses further use.
const test = require('ava')
const fs = require('node:fs')
const path = require('node:path')
const { StreamingCache } = require('..')

function contentFiles (dir) {
  const out = []
  const walk = (d) => {
    if (!fs.existsSync(d)) return
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) walk(p)
      else out.push(p)
    }
  }
  walk(path.join(dir, 'content-v2'))
  return out
}

test('content released while another user has the directory open waits for it; after close it goes', async (t) => {
  const first = await StreamingCache.withTempDir(100)
  await first.put('a', { status: 200, body: 'shared body' })
  const second = new StreamingCache(first.dir)
  await second.put('b', { status: 200, body: 'only b' })
  // A body stored once has no other key anywhere: deleting its key removes it at once, even
  // with `first` alive (the shared byte budget must drop while processes write)...
  t.true(await second.delete('b'))
  await second.runPendingTasks()
  t.is(contentFiles(first.dir).length, 1)
  // ...but a body stored again (deduplicated) may be another process's: `second` deleting its
  // own key for it leaves it to a garbage pass, and `first` keeps reading it.
  await second.put('a-too', { status: 200, body: 'shared body' })
  t.true(await second.delete('a-too'))
  await second.runPendingTasks()
  t.is(contentFiles(first.dir).length, 1)
  t.truthy(await first.get('a'))
  t.truthy(await second.get('a'))
  // Once `first` is closed, `second` is alone: a garbage pass removes only what nobody uses.
  await first.close()
  await second.put('c', { status: 200, body: 'c' })
  t.true(await second.delete('c'))
  await second.runPendingTasks()
  t.is(contentFiles(first.dir).length, 1)
  const hit = await second.get('a')
  let text = ''
  for await (const chunk of hit.body) text += chunk
  t.is(text, 'shared body')
})

test('a closed cache throws ERR_CACHE_CLOSED and close is idempotent', async (t) => {
  // A directory of the caller's: closing a withTempDir cache would remove it (temp-dir.spec.js).
  const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'close-spec-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'x' })
  await cache.close()
  await cache.close()
  const closed = { code: 'ERR_CACHE_CLOSED' }
  await t.throwsAsync(cache.get('k'), closed)
  await t.throwsAsync(cache.put('k', { status: 200, body: 'y' }), closed)
  t.throws(() => cache.has('k'), closed)
  // The data is still there for the next user.
  const again = new StreamingCache(cache.dir)
  t.truthy(await again.get('k'))
})
