'use strict'
// withTempDir directories are removed by close(), at exit, on Ctrl-C / SIGTERM and under jest.
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFile } = require('node:child_process')
const { once } = require('node:events')
const { StreamingCache } = require('..')

const ROOT = path.join(__dirname, '..')
const CHILD = path.join(__dirname, 'fixtures', 'temp-dir-child.js')

/** Starts the child fixture; resolves with it and the temp dir it printed. */
async function startChild (mode) {
  const child = spawn(process.execPath, [CHILD, mode], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdout.setEncoding('utf8')
  const lines = []
  let buffered = ''
  child.stdout.on('data', (text) => {
    buffered += text
    const parts = buffered.split('\n')
    buffered = parts.pop()
    lines.push(...parts)
    child.emit('lines')
  })
  while (lines.length === 0) await once(child, 'lines')
  return { child, dir: lines[0], lines }
}

test('close() removes the temp dir; several caches on it: the last close does', async (t) => {
  const cache = await StreamingCache.withTempDir()
  await cache.put('k', { status: 200, body: 'x' })
  const second = new StreamingCache(cache.dir)
  t.truthy(await second.get('k'))
  await cache.close()
  t.true(fs.existsSync(cache.dir), 'still used by the second cache')
  t.truthy(await second.get('k'))
  await second.close()
  t.false(fs.existsSync(cache.dir))
})

test('close() leaves a directory the caller gave alone', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'temp-dir-spec-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const cache = new StreamingCache(dir)
  await cache.put('k', { status: 200, body: 'x' })
  await cache.close()
  const again = new StreamingCache(dir)
  t.truthy(await again.get('k'))
  await again.close()
  t.true(fs.existsSync(dir))
})

test('a process that exits without closing removes its temp dir', async (t) => {
  const { child, dir } = await startChild('exit')
  const [code] = await once(child, 'exit')
  t.is(code, 0)
  t.false(fs.existsSync(dir))
})

for (const signal of process.platform === 'win32' ? [] : ['SIGINT', 'SIGTERM']) {
  test(`${signal} (Ctrl-C / kill) removes the temp dir and still ends the process by the signal`, async (t) => {
    const { child, dir } = await startChild('wait')
    t.true(fs.existsSync(dir))
    child.kill(signal)
    const [code, endedBy] = await once(child, 'exit')
    t.is(code, null)
    t.is(endedBy, signal)
    t.false(fs.existsSync(dir))
  })
}

test('an app handling SIGINT itself keeps running with its temp dir; exiting removes it', async (t) => {
  if (process.platform === 'win32') return t.pass('no POSIX signals on Windows')
  const { child, dir, lines } = await startChild('handled')
  child.kill('SIGINT')
  while (!lines.includes('handled')) await once(child, 'lines')
  t.true(fs.existsSync(dir), 'the app took Ctrl-C over and is still running')
  child.stdin.write('exit\n')
  const [code] = await once(child, 'exit')
  t.is(code, 0)
  t.false(fs.existsSync(dir))
})

test('under jest, a temp dir the test never closed is gone after jest exits', async (t) => {
  const report = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'temp-dir-spec-')), 'dir.txt')
  t.teardown(() => fs.rmSync(path.dirname(report), { recursive: true, force: true }))
  const jest = require.resolve('jest/bin/jest')
  const fixture = path.join(__dirname, 'fixtures', 'jest-temp-dir')
  const output = await new Promise((resolve, reject) => {
    execFile(process.execPath, [jest, '--rootDir', fixture, '--ci', '--testEnvironment', 'node'],
      { cwd: ROOT, env: { ...process.env, TEMP_DIR_REPORT: report } },
      (err, stdout, stderr) => err ? reject(Object.assign(err, { stderr })) : resolve(stderr))
  })
  t.regex(output, /1 passed/)
  const dir = fs.readFileSync(report, 'utf8')
  t.true(dir.length > 0)
  t.false(fs.existsSync(dir), `${dir} leaked`)
})
