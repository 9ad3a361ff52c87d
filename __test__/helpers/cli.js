'use strict'
// Runs the CLI as a real child process.
const path = require('node:path')
const { execFile } = require('node:child_process')

const BIN = path.join(__dirname, '..', '..', 'bin', 'http-streaming-cache.js')

/** Runs the CLI; resolves `{ code, stdout, stderr, json }` (json: stdout parsed, if it parses). */
function cli (...args) {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) => {
      let json
      try { json = JSON.parse(stdout) } catch {}
      resolve({ code: err ? err.code : 0, stdout, stderr, json })
    })
  })
}

module.exports = { BIN, cli }
