'use strict'
const test = require('ava')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { Writable } = require('node:stream')
const { pipeline } = require('node:stream/promises')
const { KiB, MiB, sha256, readBody, tempCache, sleep } = require('./helpers/util')

const SIZE = 20 * MiB

async function bigEntry (t) {
  const cache = await tempCache(t)
  const data = crypto.randomBytes(SIZE)
  await cache.put('big', { status: 200, body: data })
  return { cache, data }
}

test.serial('a consumer that pauses after the first chunk stops the reads from disk', async (t) => {
  const { cache, data } = await bigEntry(t)
  const hit = await cache.get('big')
  const received = []
  await new Promise((resolve) => {
    hit.body.once('data', (chunk) => {
      received.push(chunk)
      hit.body.pause()
      resolve()
    })
  })
  // Watch the buffer for a while: it fills up to the read-ahead and stays there.
  let maxBuffered = 0
  for (let waited = 0; waited < 400; waited += 20) {
    await sleep(20)
    maxBuffered = Math.max(maxBuffered, hit.body.readableLength)
  }
  t.true(hit.body.readableLength <= 256 * KiB, `${hit.body.readableLength} bytes buffered after 400 ms paused`)
  t.true(maxBuffered <= 256 * KiB, `up to ${maxBuffered} bytes buffered while paused`)
  t.true(hit.body.isPaused())
  // Resuming delivers the rest, intact.
  const rest = await readBody(hit)
  const all = Buffer.concat([...received, rest])
  t.is(all.length, SIZE)
  t.is(sha256(all), sha256(data))
})

test('a body nobody reads is not read at all', async (t) => {
  const { cache } = await bigEntry(t)
  const hit = await cache.get('big')
  await sleep(100)
  t.is(hit.body.readableLength, 0)
  hit.body.destroy()
})

test('piped into a slow writable, the read-ahead stays bounded', async (t) => {
  const { cache, data } = await bigEntry(t)
  const hit = await cache.get('big')
  let maxBuffered = 0
  const hash = crypto.createHash('sha256')
  let bytes = 0
  let writes = 0
  const slow = new Writable({
    highWaterMark: 64 * KiB,
    write (chunk, _enc, callback) {
      hash.update(chunk)
      bytes += chunk.length
      maxBuffered = Math.max(maxBuffered, hit.body.readableLength)
      // Slow down the first writes only, to keep the test fast.
      if (++writes < 20) setTimeout(callback, 10)
      else setImmediate(callback)
    },
  })
  await pipeline(hit.body, slow)
  t.is(bytes, SIZE)
  t.is(hash.digest('hex'), sha256(data))
  t.true(maxBuffered <= 256 * KiB, `read-ahead reached ${maxBuffered} bytes`)
})

function openFds () {
  return fs.readdirSync('/proc/self/fd').length
}

test.serial('bodies destroyed early, or read to the end, release their file handles', async (t) => {
  if (!fs.existsSync('/proc/self/fd')) return t.pass('no /proc on this platform')
  const { cache, data } = await bigEntry(t)
  await sleep(20)
  const before = openFds()
  const hits = await Promise.all(Array.from({ length: 40 }, () => cache.get('big')))
  t.true(openFds() >= before + 40, 'each open body holds a handle')
  // Half are abandoned after one chunk, half are never read.
  await Promise.all(hits.slice(0, 20).map((hit) => new Promise((resolve) => {
    hit.body.once('data', () => { hit.body.destroy(); resolve() })
  })))
  for (const hit of hits.slice(20)) hit.body.destroy()
  await sleep(50)
  t.true(openFds() <= before + 2, `${openFds() - before} handles leaked after destroy`)

  const full = await Promise.all(Array.from({ length: 5 }, () => cache.get('big')))
  for (const hit of full) t.is(sha256(await readBody(hit)), sha256(data))
  await sleep(50)
  t.true(openFds() <= before + 2, `${openFds() - before} handles leaked after reading to the end`)
  // The entry survives its readers being destroyed.
  t.is(sha256(await readBody(await cache.get('big'))), sha256(data))
})
