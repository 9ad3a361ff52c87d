'use strict'
const test = require('ava')
const { MiB, runFixture, tempDir, contentFiles } = require('./helpers/util')

test('a 512 MiB body streams in and out with bounded memory (< 64 MiB RSS growth per phase)', async (t) => {
  t.timeout(120_000)
  const dir = await tempDir(t)
  const run = await runFixture('memory.js', [dir, '512'], { execArgv: ['--expose-gc'] })
  t.is(run.code, 0, run.stderr)
  const [report] = run.messages
  t.truthy(report, run.stderr)
  const { put, get, size } = report
  t.log(`put: +${(put.growth / MiB).toFixed(1)} MiB in ${put.ms} ms (${put.samples} samples); ` +
    `get: +${(get.growth / MiB).toFixed(1)} MiB in ${get.ms} ms (${get.samples} samples)`)

  t.is(size, 512 * MiB)
  t.is(put.result.size, size)
  t.is(get.result.size, size)
  t.is(get.result.bytes, size)
  t.is(get.result.chunks, size / (64 * 1024))
  t.is(get.result.maxChunk, 64 * 1024)
  t.is(get.result.integrity, put.result.integrity, 'the body read back hashes to what was stored')
  t.true(put.samples > 20 && get.samples > 20, 'RSS was sampled throughout')

  t.true(put.growth < 64 * MiB, `put grew RSS by ${(put.growth / MiB).toFixed(1)} MiB`)
  t.true(get.growth < 64 * MiB, `get grew RSS by ${(get.growth / MiB).toFixed(1)} MiB`)
  t.is(contentFiles(dir).length, 1)
})
