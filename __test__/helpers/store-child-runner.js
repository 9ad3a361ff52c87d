'use strict'
// Runs __test__/helpers/store-child.js in a child process: sends it `args`, resolves with the
// one message it sends back, rejects (with its stderr) if it fails.
const path = require('node:path')
const { fork } = require('node:child_process')

function storeChild (mode, args, execArgv = []) {
  return new Promise((resolve, reject) => {
    const proc = fork(path.join(__dirname, 'store-child.js'), [mode], {
      serialization: 'advanced',
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    })
    let stderr = ''
    let message
    proc.stderr.on('data', (d) => { stderr += d })
    proc.on('message', (m) => { message = m })
    proc.once('error', reject)
    proc.send(args)
    proc.once('exit', (code) => {
      if (code === 0 && message !== undefined) resolve(message)
      else reject(new Error(`store-child ${mode} exited with ${code}\n${stderr}`))
    })
  })
}

module.exports = { storeChild }
