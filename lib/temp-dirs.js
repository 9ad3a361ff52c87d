'use strict'
// Temporary cache directories (withTempDir, `new StreamingCacheStore()`): removed when the last
// cache of this process using one closes, and otherwise when the process exits, also by
// Ctrl-C / SIGTERM / SIGHUP and under jest. What cannot be cleaned up: kill -9, a crash of the
// runtime itself, and other processes still using the directory when it is removed.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const vm = require('node:vm')
const { isMainThread } = require('node:worker_threads')

// The process object that really emits 'exit' and signals. Under jest (and any other runner
// that evaluates modules in a vm context) the global `process` is a copy: listeners added to it
// are never called, which is how withTempDir used to leak under jest. Code run in this context
// sees the real one; everywhere else it is the same object as the global.
const realProcess = vm.runInThisContext('process')

/** Temp dir (resolved path) -> number of open caches in this process using it. */
const users = new Map()

// Signals that end a process by default. A listener changes that default, so ours only cleans
// up and re-raises when it is the only listener (the app has not taken the signal over); when
// the app handles the signal itself, it decides whether to exit, and 'exit' cleans up then.
const SIGNALS = process.platform === 'win32' ? ['SIGINT', 'SIGBREAK', 'SIGHUP'] : ['SIGINT', 'SIGTERM', 'SIGHUP']
let hooked = false

function removeAllSync () {
  for (const dir of users.keys()) {
    try {
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 })
    } catch {
      // Exiting: nothing useful to do about a directory that cannot be removed.
    }
  }
  users.clear()
}

function onSignal (signal) {
  if (realProcess.listenerCount(signal) > 1) return
  removeAllSync()
  unhook()
  realProcess.kill(realProcess.pid, signal)
}

function hook () {
  if (hooked) return
  hooked = true
  realProcess.on('exit', removeAllSync)
  // Signals are delivered to the main thread only.
  if (isMainThread) for (const signal of SIGNALS) realProcess.on(signal, onSignal)
}

/** No temp dir left: leave the process's signal handling as it was. */
function unhook () {
  if (!hooked) return
  hooked = false
  realProcess.removeListener('exit', removeAllSync)
  for (const signal of SIGNALS) realProcess.removeListener(signal, onSignal)
}

function track (dir) {
  users.set(path.resolve(dir), 0)
  hook()
  return dir
}

async function makeTempDir (prefix = 'http-streaming-cache-') {
  return track(await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix)))
}

function makeTempDirSync (prefix = 'http-streaming-cache-') {
  return track(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))
}

/** A cache opened `dir`; does nothing unless it is one of our temp dirs. */
function retainTempDir (dir) {
  const key = path.resolve(dir)
  const count = users.get(key)
  if (count !== undefined) users.set(key, count + 1)
}

/**
 * A cache using `dir` closed: when it was the last one and `dir` is one of our temp dirs, the
 * directory is removed. A failure (say, Windows refusing to delete a file a body stream still
 * has open) leaves it to the exit cleanup instead of failing close().
 */
async function releaseTempDir (dir) {
  const key = path.resolve(dir)
  const count = users.get(key)
  if (count === undefined) return
  if (count > 1) {
    users.set(key, count - 1)
    return
  }
  try {
    await fs.promises.rm(key, { recursive: true, force: true, maxRetries: 2 })
    users.delete(key)
    if (users.size === 0) unhook()
  } catch {
    users.set(key, 0)
  }
}

module.exports = { makeTempDir, makeTempDirSync, retainTempDir, releaseTempDir }
