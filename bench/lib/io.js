'use strict'
// Small stream and filesystem helpers shared by the scenarios.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

/** Reads `readable` to the end, counting bytes; resolves with the count. */
function drain (readable) {
  return new Promise((resolve, reject) => {
    let bytes = 0
    readable.on('data', (chunk) => { bytes += chunk.length })
    readable.once('end', () => resolve(bytes))
    readable.once('error', reject)
  })
}

/** Where cacache keeps the content for an SRI string: <dir>/content-v2/<algo>/<2>/<2>/<rest>. */
function contentPath (dir, integrity) {
  const [algo, b64] = String(integrity).split(/\s+/)[0].split(/-(.*)/s)
  const hex = Buffer.from(b64, 'base64').toString('hex')
  const file = path.join(dir, 'content-v2', algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4))
  if (!fs.existsSync(file)) throw new Error(`content file for ${integrity} not found under ${dir}/content-v2`)
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

module.exports = { drain, contentPath, tempDir, removeDir, setBaseDir, ramDir }
