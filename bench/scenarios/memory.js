'use strict'
// Peak RSS of one huge put and one huge get, each in a fresh child process (lib/rss-child.js),
// measured above the child's idle RSS. 1 GiB, or 256 MiB with --quick. The get is measured
// twice: read as a stream to the end (every system), and written into a Writable that is done
// with each chunk at its callback (ours: body.writeTo, which reuses its read Buffers; fs: its
// fair peer, pipeline(fs.createReadStream at 64 KiB, the same Writable)).
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const { formatSize, MiB, GiB } = require('../lib/data')
const { tempDir, removeDir } = require('../lib/io')

const run = promisify(execFile)
const CHILD = path.join(__dirname, '../lib/rss-child.js')
const SYSTEMS = ['http-streaming-cache', 'fs', 'cacache', 'MemoryCacheStore']
/** The operations in the order run, each with its row label and the systems that have it. */
const OPS = [
  { op: 'put', label: 'put', systems: SYSTEMS },
  { op: 'get', label: 'get', systems: SYSTEMS },
  { op: 'write', label: 'get into a Writable', systems: ['http-streaming-cache', 'fs'] },
]
const LIMIT_MIB = 32
// Issue 12: a get streams through 64 KiB reads and must stay well under fs's ~34 MiB.
const GET_LIMIT_MIB = 16

async function child (system, op, size, dir) {
  const { stdout } = await run(process.execPath, ['--expose-gc', CHILD, system, op, String(size), dir], {
    maxBuffer: 1024 * 1024,
  })
  return JSON.parse(stdout.trim().split('\n').pop())
}

module.exports = {
  id: 'memory',
  title: 'Peak RSS above idle, one put / one get in a child process',
  warmup: false,
  unit: 'MiB',
  lowerIsBetter: true,
  runs: ({ quick, runs }) => (quick ? 1 : Math.min(runs, 3)),

  async setup ({ quick }) {
    const size = quick ? 256 * MiB : 1 * GiB
    const root = tempDir('memory')
    let round = 0
    const dirOf = (system) => path.join(root, `run-${round}`, system)
    const cases = []
    const details = []
    const g = (label) => `${label} ${formatSize(size)}`
    const last = OPS[OPS.length - 1]
    for (const { op, label, systems } of OPS) {
      for (const system of systems) {
        cases.push({
          group: g(label),
          system,
          run: async () => {
            const result = await child(system, op, size, dirOf(system))
            details.push(result)
            // The round's bodies go once every read of them is done.
            if (op === last.op && system === last.systems[last.systems.length - 1]) {
              removeDir(path.join(root, `run-${round}`))
              round++
            }
            return result.aboveIdle / MiB
          },
        })
      }
    }
    return {
      cases,
      details,
      notes: [
        'MemoryCacheStore keeps bodies in memory: its get child stores the body first and its peak counts it.',
        '"get into a Writable": a Writable that calls back at once; ours body.writeTo (a ring of reused 64 KiB Buffers), fs pipeline(fs.createReadStream at 64 KiB, the same Writable).',
      ],
      targets: (m) => [
        { label: `peak RSS, ${g('put')}: http-streaming-cache`, value: m(g('put'), 'http-streaming-cache'), max: LIMIT_MIB, unit: 'MiB' },
        { label: `peak RSS, ${g('get')}: http-streaming-cache`, value: m(g('get'), 'http-streaming-cache'), max: GET_LIMIT_MIB, unit: 'MiB' },
        { label: `peak RSS, ${g('get into a Writable')}: http-streaming-cache (writeTo)`, value: m(g('get into a Writable'), 'http-streaming-cache'), max: GET_LIMIT_MIB, unit: 'MiB' },
        { label: `peak RSS, ${g('put')}: http-streaming-cache / fs`, value: m(g('put'), 'http-streaming-cache'), base: m(g('put'), 'fs'), min: null },
        { label: `peak RSS, ${g('get')}: http-streaming-cache / fs`, value: m(g('get'), 'http-streaming-cache'), base: m(g('get'), 'fs'), min: null },
        { label: `peak RSS, ${g('get into a Writable')}: http-streaming-cache writeTo / fs pipeline`, value: m(g('get into a Writable'), 'http-streaming-cache'), base: m(g('get into a Writable'), 'fs'), min: null },
      ],
      teardown: () => removeDir(root),
    }
  },
}
