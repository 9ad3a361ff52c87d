'use strict'
// A real redis-server (or valkey-server) for one test: started on a free 127.0.0.1 port in
// a temp dir, stopped at the end. `startRedis` resolves with null (and a reason) only where no
// redis-server binary is installed; install one with `bash scripts/redis-ci.sh`.
const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

function findBinary () {
  for (const bin of ['redis-server', 'valkey-server']) {
    const probe = spawnSync(bin, ['--version'], { stdio: 'ignore' })
    if (probe.status === 0) return bin
  }
  return null
}

function freePort () {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** Sends one inline command and resolves with the first reply line, or null. */
function command (port, line, timeout = 500) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    const done = (value) => { socket.destroy(); resolve(value) }
    socket.setTimeout(timeout, () => done(null))
    socket.on('error', () => done(null))
    socket.on('connect', () => socket.write(line + '\r\n'))
    socket.on('data', (chunk) => {
      data += chunk
      if (data.includes('\r\n')) done(data.slice(0, data.indexOf('\r\n')))
    })
  })
}

/** Parses one RESP reply at `at` in `buf`: [value, next offset], or null if incomplete. */
function parseReply (buf, at = 0) {
  const eol = buf.indexOf('\r\n', at)
  if (eol === -1) return null
  const type = String.fromCharCode(buf[at])
  const line = buf.toString('utf8', at + 1, eol)
  const next = eol + 2
  if (type === '+') return [line, next]
  if (type === '-') return [new Error(line), next]
  if (type === ':') return [Number(line), next]
  if (type === '$') {
    const n = Number(line)
    if (n < 0) return [null, next]
    if (buf.length < next + n + 2) return null
    return [buf.subarray(next, next + n), next + n + 2]
  }
  if (type === '*') {
    const n = Number(line)
    if (n < 0) return [null, next]
    const items = []
    let offset = next
    for (let i = 0; i < n; i++) {
      const item = parseReply(buf, offset)
      if (item === null) return null
      items.push(item[0])
      offset = item[1]
    }
    return [items, offset]
  }
  throw new Error(`unexpected RESP reply type ${type}`)
}

/** Sends one command (arguments as bulk strings, so keys may hold spaces); resolves with its reply. */
function send (port, args, timeout = 5000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = Buffer.alloc(0)
    socket.setTimeout(timeout, () => { socket.destroy(); reject(new Error(`redis ${args[0]} timed out`)) })
    socket.on('error', reject)
    socket.on('connect', () => {
      const parts = [`*${args.length}\r\n`]
      for (const arg of args) {
        const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg))
        parts.push(`$${bytes.length}\r\n`, bytes, '\r\n')
      }
      socket.write(Buffer.concat(parts.map((p) => Buffer.isBuffer(p) ? p : Buffer.from(p))))
    })
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk])
      const reply = parseReply(data)
      if (reply === null) return
      socket.destroy()
      if (reply[0] instanceof Error) reject(reply[0])
      else resolve(reply[0])
    })
  })
}

class RedisServer {
  #bin
  #args
  #child = null

  constructor (bin, port, dir, args) {
    this.#bin = bin
    this.port = port
    this.dir = dir
    this.#args = args
    this.url = `redis://127.0.0.1:${port}`
  }

  /** Starts the server and waits for its PONG; rejects with its own output if it does not come. */
  async launch () {
    const child = spawn(this.#bin, [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no', '--dir', this.dir, ...this.#args,
    ], { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    let output = ''
    const keep = (chunk) => { output = (output + chunk).slice(-2000) }
    child.stdout.on('data', keep)
    child.stderr.on('data', keep)
    // Generous: on a loaded machine (the whole suite, other builds) a start can take seconds.
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`redis-server exited (${child.exitCode ?? child.signalCode}) on port ${this.port}: ${output}`)
      }
      if (await command(this.port, 'PING') === '+PONG') {
        child.stdout.removeListener('data', keep).resume()
        child.stderr.removeListener('data', keep).resume()
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`redis-server did not answer on port ${this.port} within 30 s: ${output}`)
  }

  /** SIGKILL: no shutdown, no save. */
  async kill () {
    const child = this.#child
    this.#child = null
    if (child === null || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }

  async restart () {
    await this.kill()
    await this.launch()
  }

  command (line) {
    return command(this.port, line)
  }

  /** One command as separate arguments (binary-safe); resolves with the parsed reply. */
  send (...args) {
    return send(this.port, args)
  }

  async stop () {
    await this.kill()
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

/**
 * Resolves with `{ server }`, or `{ server: null, reason }` where no redis-server binary is
 * installed (the only reason to skip: CI installs one). A binary that fails to start rejects.
 */
async function startRedis (args = []) {
  const bin = findBinary()
  if (bin === null) return { server: null, reason: 'no redis-server on PATH (run `bash scripts/redis-ci.sh`)' }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hsc-redis-'))
  // A free port can be taken by someone else before the server binds it: one more try.
  for (let attempt = 0; ; attempt++) {
    const server = new RedisServer(bin, await freePort(), dir, args)
    try {
      await server.launch()
      return { server }
    } catch (err) {
      await server.kill()
      if (attempt > 0 || !/exited/.test(err.message)) {
        fs.rmSync(dir, { recursive: true, force: true })
        throw err
      }
    }
  }
}

/** Starts a server for an ava test (stopped after it), or marks it skipped (with the reason) where none can start. */
async function redisFor (t, args) {
  const { server, reason } = await startRedis(args)
  if (server === null) {
    t.log(`SKIP: ${reason}`)
    t.pass()
    return null
  }
  t.teardown(() => server.stop())
  return server
}

module.exports = { startRedis, redisFor, freePort }
