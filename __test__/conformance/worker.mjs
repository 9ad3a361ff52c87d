// One conformance run: the public HTTP caching test suite (npm `http-cache-tests`, the one
// undici runs in its CI) against one cache, through undici's fetch, as undici runs it: the
// suite's own origin server in this process, the cache as the global dispatcher, the suite
// in browser-cache mode (requests carry no cache-busting headers). Writes the per-test
// results (`true` or [kind, message]) as JSON to RESULT_FILE.
//
// Environment: CACHE (ours-interceptor | ours-store | undici-memory), TYPE (shared |
// private), PORT, RESULT_FILE, ONLY (optional: a JSON list of the test ids to run).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Agent, fetch, interceptors, setGlobalDispatcher, cacheStores } = require('undici')
const { StreamingCache } = require('../..')
const { StreamingCacheStore, cacheInterceptor } = require('../../undici')

const { CACHE, TYPE, PORT, RESULT_FILE } = process.env
const METHODS = ['GET', 'HEAD']

process.env.npm_config_protocol = 'http'
process.env.npm_config_port = PORT
process.env.npm_config_pidfile = path.join(os.tmpdir(), `http-streaming-cache-conformance-${process.pid}.pid`)

const dirs = []
function tempDir () {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'http-streaming-cache-conformance-'))
  dirs.push(dir)
  return dir
}

function dispatcher () {
  const agent = new Agent()
  switch (CACHE) {
    case 'ours-interceptor':
      return agent.compose(cacheInterceptor({
        cache: new StreamingCache(tempDir()),
        shared: TYPE === 'shared',
        methods: METHODS,
        statusHeaders: false,
      }))
    case 'ours-store':
      return agent.compose(interceptors.cache({
        store: new StreamingCacheStore({ location: tempDir() }),
        type: TYPE,
        methods: METHODS,
      }))
    case 'undici-memory':
      return agent.compose(interceptors.cache({
        store: new cacheStores.MemoryCacheStore(),
        type: TYPE,
        methods: METHODS,
      }))
    default:
      throw new Error(`unknown CACHE ${CACHE}`)
  }
}

const suite = (file) => import(require.resolve(`http-cache-tests/${file}`))
await suite('server/server.mjs')
const { runTests, getResults } = await suite('client/runner.mjs')
const { default: allTests } = await suite('tests/index.mjs')
// ONLY: a JSON list of test ids to run (a re-run of some), else all of them.
const only = process.env.ONLY ? new Set(JSON.parse(process.env.ONLY)) : null
const tests = only === null
  ? allTests
  : allTests.map((s) => ({ ...s, tests: s.tests.filter((test) => only.has(test.id)) })).filter((s) => s.tests.length > 0)

setGlobalDispatcher(dispatcher())
await waitForServer()
try {
  await runTests(tests, fetch, true, `http://localhost:${PORT}`)
  fs.writeFileSync(RESULT_FILE, JSON.stringify(getResults()))
} finally {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(process.env.npm_config_pidfile, { force: true })
}
process.exit(0)

async function waitForServer () {
  for (let i = 0; i < 200; i++) {
    try {
      await fetch(`http://localhost:${PORT}/`, { dispatcher: new Agent() }).then((res) => res.body?.cancel())
      return
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
  throw new Error('the suite\'s server did not start')
}
