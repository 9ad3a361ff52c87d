'use strict'
// Small stream and filesystem helpers shared by the scenarios.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Writable } = require('node:stream')

/** Reads `readable` to the end, counting bytes; resolves with the count. */
function drain (readable) {
  return new Promise((resolve, reject) => {
    let bytes = 0
    readable.on('data', (chunk) => { bytes += chunk.length })
    readable.once('end', () => resolve(bytes))
    readable.once('error', reject)
  })
}

/**
 * A Writable that counts the bytes it is given (`.bytes`) and is done with each chunk at its
 * callback, which it calls at once: the sink for writeTo and its fs peer, pipeline.
 */
function countingWritable () {
  const writable = new Writable({
    write (chunk, encoding, callback) {
      writable.bytes += chunk.length
      callback()
    },
  })
  writable.bytes = 0
  return writable
}

/**
 * The content file of a body by its SRI string, by the core's own layout (loaded on first
 * use, so processes measuring other systems never load the addon). Throws if it is absent.
 */
function contentPath (dir, integrity) {
  const file = require('../../lib/inspect').contentPath(dir, String(integrity))
  if (!fs.existsSync(file)) throw new Error(`content file for ${integrity} not found under ${dir}`)
  return file
}

/** A fresh directory under `base` (the --dir option, else the OS temp directory). */
function tempDir (label, base = defaultBase) {
  fs.mkdirSync(base, { recursive: true })
  return fs.mkdtempSync(path.join(base, `sc-bench-${label}-`))
}

let defaultBase = os.tmpdir()
function setBaseDir (dir) { defaultBase = dir }

/** A RAM-backed directory (Linux /dev/shm) for runs whose I/O speed is not what is measured. */
function ramDir () {
  try {
    fs.accessSync('/dev/shm', fs.constants.W_OK)
    return '/dev/shm'
  } catch {
    return defaultBase
  }
}

function removeDir (dir) {
  fs.rmSync(dir, { recursive: true, force: true })
}

module.exports = { drain, countingWritable, contentPath, tempDir, removeDir, setBaseDir, ramDir }
