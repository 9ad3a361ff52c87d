'use strict'
// The parent's side of a benchmark child process that answers messages over IPC: it waits for
// the child's `{ ready }`, then `ask(msg)` sends one message and resolves with the reply (an
// `{ error }` reply rejects). One request at a time per child, as the scenarios use them.
const { once } = require('node:events')

/** `{ ask, close }` for `child` (a forked process) once it reports ready. */
async function connectChild (child, system) {
  const [ready] = await once(child, 'message')
  if (!ready.ready) throw new Error(`${system}: child did not start`)
  const ask = async (msg) => {
    child.send(msg)
    const [reply] = await once(child, 'message')
    if (reply.error) throw new Error(`${system}: ${reply.error}`)
    return reply
  }
  return { ask, close: () => child.kill() }
}

module.exports = { connectChild }
