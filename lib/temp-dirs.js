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

async function makeTempDir (prefix = 'streaming-cache-') {
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), prefix))
  dirs.add(dir)
  if (!hooked) {
    hooked = true
    process.once('exit', removeAll)
  }
  return dir
}

function makeTempDirSync (prefix = 'streaming-cache-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  dirs.add(dir)
  if (!hooked) {
    hooked = true
    process.once('exit', removeAll)
  }
  return dir
}

module.exports = { makeTempDir, makeTempDirSync }
