'use strict'
// A delete takes effect for readers the moment it is called, and never removes an entry
// stored after it was called, whatever order the disk work finishes in.
const test = require('ava')
const { StreamingCache } = require('..')
const { tempDir } = require('./helpers/util')

async function text (hit) {
  let out = ''
  for await (const chunk of hit.body) out += chunk
  return out
}

test('lookups miss as soon as delete is called, before its promise settles', async (t) => {
  const cache = await StreamingCache.withTempDir()
  await cache.put('k', { status: 200, body: 'old' })
  const deleted = cache.delete('k')
  t.is(cache.getSync('k'), null)
  t.is(cache.peek('k'), null)
  t.false(cache.has('k'))
  t.true(await deleted)
  t.is(await cache.get('k'), null)
})

test('a put issued after a delete survives it', async (t) => {
  // A directory of the test's own: closing a withTempDir cache would remove it.
  const cache = new StreamingCache(await tempDir(t))
  for (let i = 0; i < 50; i++) {
    await cache.put('k', { status: 200, body: `old ${i}` })
    const deleted = cache.delete('k')
    const put = cache.put('k', { status: 200, body: `new ${i}` })
    await Promise.all([deleted, put])
    const hit = await cache.get('k')
    t.truthy(hit, `round ${i}: the newer entry is there`)
    t.is(await text(hit), `new ${i}`)
  }
  // And it survives a restart: the tombstone did not land after it on disk.
  await cache.close()
  const reopened = new StreamingCache(cache.dir)
  t.is(await text(await reopened.get('k')), 'new 49')
})
