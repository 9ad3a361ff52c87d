'use strict'
// Shared helpers for the StreamingCache test suite.
const crypto = require('node:crypto')
const { CONTENT_DIR, INDEX_DIR, TMP_DIR, contentFileFor } = require('./layout')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..', '..')
const { StreamingCache } = require(ROOT)

const KiB = 1024
const MiB = 1024 * KiB
const CHUNK = 64 * KiB

function sha256 (data) {
  return crypto.createHash('sha256').update(data).digest('hex')
}

/** The Subresource Integrity string the cache reports for `data`. */
function sri (data) {
  return 'sha256-' + crypto.createHash('sha256').update(data).digest('base64')
}

/** Deterministic pseudo-random bytes: the same seed always gives the same body. */
function seededBytes (seed, size) {
  const out = Buffer.allocUnsafe(size)
  let offset = 0
  let counter = 0
  while (offset < size) {
    const block = crypto.createHash('sha256').update(`${seed}:${counter++}`).digest()
    offset += block.copy(out, offset)
  }
  return out
}

/** A small deterministic PRNG (mulberry32) for reproducible schedules. */
function prng (seed) {
  let a = seed >>> 0
  return function next () {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Consumes a Readable through 'data' events. Resolves with the whole body and the size of
 * every chunk; rejects with the stream's error. `ended` tells whether 'end' was ever emitted.
 */
function readAll (stream) {
  return new Promise((resolve, reject) => {
    const chunks = []
    stream.on('data', (chunk) => chunks.push(chunk))
    stream.once('error', (err) => {
      err.chunksBeforeError = chunks.length
      reject(err)
    })
    stream.once('end', () => resolve({
      body: Buffer.concat(chunks),
      sizes: chunks.map((c) => c.length),
    }))
    // A stream paused explicitly does not restart when a 'data' listener is added.
    stream.resume()
  })
}

/** Reads a hit's body and watches for an 'end' after an error (which must never happen). */
async function readBody (hit) {
  const { body } = await readAll(hit.body)
  return body
}

/** Every regular file below `dir` (recursively); [] if `dir` does not exist. */
function walkFiles (dir) {
  const out = []
  let entries
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true })
  } catch (err) {
    if (err.code === 'ENOENT') return out
    throw err
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) out.push(...walkFiles(full))
    else out.push(full)
  }
  return out
}

const contentFiles = (dir) => walkFiles(path.join(dir, CONTENT_DIR))
const tmpFiles = (dir) => walkFiles(path.join(dir, TMP_DIR))

/**
 * Keys with a live entry in the on-disk index (cacache `index-v5` buckets: one
 * `<hash>\t<json>` line per insert; the last line for a key wins, `integrity: null` is a
 * tombstone). Read straight from the files, independent of the addon.
 */
function indexKeys (dir) {
  const last = new Map()
  for (const file of walkFiles(path.join(dir, INDEX_DIR))) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const tab = line.indexOf('\t')
      if (tab < 0) continue
      let entry
      try {
        entry = JSON.parse(line.slice(tab + 1))
      } catch {
        continue // a torn line: the cache skips it too
      }
      last.set(entry.key, entry)
    }
  }
  return [...last.values()].filter((e) => e.integrity !== null).map((e) => e.key).sort()
}

async function tempCache (t, options) {
  const cache = await StreamingCache.withTempDir(undefined, options)
  if (t) t.teardown(() => fs.rmSync(cache.dir, { recursive: true, force: true }))
  return cache
}

async function tempDir (t) {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'sc-test-'))
  if (t) t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Runs `__test__/fixtures/<name>` in a child process with an IPC channel. Resolves with every
 * message it sent, its exit code and its stderr.
 */
function runFixture (name, args = [], { execArgv = [], timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, '..', 'fixtures', name), args, {
      execArgv,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    })
    const messages = []
    let stderr = ''
    let stdout = ''
    child.on('message', (m) => messages.push(m))
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`fixture ${name} timed out after ${timeout} ms\n${stderr}`))
    }, timeout)
    child.once('error', (err) => { clearTimeout(timer); reject(err) })
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ messages, code, signal, stderr, stdout })
    })
  })
}

/** Resolves after `ms` milliseconds. */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** Damages a content file in place: every bit of the byte at `offset` flipped. */
function flipByte (file, offset) {
  fs.chmodSync(file, 0o644)
  const fd = fs.openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    fs.readSync(fd, b, 0, 1, offset)
    b[0] ^= 0xff
    fs.writeSync(fd, b, 0, 1, offset)
  } finally {
    fs.closeSync(fd)
  }
}

module.exports = {
  flipByte,
  StreamingCache,
  ROOT,
  KiB,
  MiB,
  CHUNK,
  sha256,
  sri,
  seededBytes,
  prng,
  readAll,
  readBody,
  walkFiles,
  contentFiles,
  tmpFiles,
  indexKeys,
  contentFileFor,
  tempCache,
  tempDir,
  runFixture,
  sleep,
}
