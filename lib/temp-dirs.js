'use strict'
// Temporary cache directories, removed when the process exits.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const dirs = new Set()
let hooked = false

function removeAll () {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  dirs.clear()
}

function track (dir) {
  dirs.add(dir)
  if (!hooked) {
    hooked = true
    process.once('exit', removeAll)
  }
  return dir
}

async function makeTempDir (prefix = 'http-streaming-cache-') {
  return track(await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix)))
}

function makeTempDirSync (prefix = 'http-streaming-cache-') {
  return track(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))
}

module.exports = { makeTempDir, makeTempDirSync }
