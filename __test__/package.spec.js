'use strict'
// The published shape: `npm run pack:local` packs the main package and this platform's binary
// package; a fresh app installs the two tarballs offline and uses the cache with no Rust
// toolchain on PATH. Uses the addon the test build left in the package root (npm test builds it).
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')

const ROOT = path.join(__dirname, '..')
const pkg = require('../package.json')
const run = promisify(execFile)

/** PATH with node and npm but without cargo or rustc. */
function pathWithoutRust () {
  const dirs = [path.dirname(process.execPath), '/usr/local/bin', '/usr/bin', '/bin']
    .filter((dir) => !['cargo', 'rustc'].some((tool) => fs.existsSync(path.join(dir, tool))))
  return [...new Set(dirs)].join(path.delimiter)
}

function tarList (file) {
  return run('tar', ['tzf', file]).then(({ stdout }) => stdout.split('\n').filter(Boolean))
}

let packed
test.before(async () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'package-spec-'))
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'scripts', 'pack-local.js'), '--no-build', '--out', path.join(work, 'packs')],
    { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
  packed = { work, ...JSON.parse(stdout) }
})

test.after.always(() => {
  if (packed) fs.rmSync(packed.work, { recursive: true, force: true })
})

test('the main tarball ships the JS, types, CLI, LICENSE and examples, and no binary or build output', async (t) => {
  const files = await tarList(packed.main)
  for (const file of ['index.js', 'index.d.ts', 'undici.js', 'undici.d.ts', 'lib/native.js', 'lib/inspect.js',
    'bin/http-streaming-cache.js', 'LICENSE', 'README.md', 'package.json', 'examples/demo.js', 'examples/undici-interceptor.js']) {
    t.true(files.includes(`package/${file}`), `${file} missing from ${path.basename(packed.main)}`)
  }
  t.deepEqual(files.filter((f) => /\.node$|binding\.js$|Cargo\.toml$|^package\/(src|core|target|__test__)\//.test(f)), [])
  // Every example the README points at is in the package.
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  for (const [, example] of readme.matchAll(/(examples\/[\w.-]+\.m?js)/g)) {
    t.true(files.includes(`package/${example}`), `README points at ${example}, not in the package`)
  }
  const platformFiles = await tarList(packed.platform)
  t.true(platformFiles.some((f) => /^package\/http-streaming-cache\.[\w-]+\.node$/.test(f)), platformFiles.join(', '))
})

test('the packed main package depends on every platform package at its own version', async (t) => {
  const { stdout } = await run('tar', ['xzf', packed.main, '-O', 'package/package.json'])
  const manifest = JSON.parse(stdout)
  const platforms = fs.readdirSync(path.join(ROOT, 'npm'))
  t.is(platforms.length, pkg.napi.targets.length)
  t.is(Object.keys(manifest.optionalDependencies).length, platforms.length)
  for (const platform of platforms) {
    const platformManifest = require(path.join(ROOT, 'npm', platform, 'package.json'))
    t.is(platformManifest.name, `${pkg.name}-${platform}`)
    t.is(platformManifest.version, pkg.version)
    t.is(manifest.optionalDependencies[platformManifest.name], pkg.version)
    t.deepEqual(platformManifest.files, [`${pkg.napi.binaryName}.${platform}.node`])
  }
})

test('a fresh app installs both tarballs offline, runs the README Quick start and the CLI, with no Rust on PATH', async (t) => {
  const app = path.join(packed.work, 'app')
  fs.mkdirSync(app)
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  const env = { ...process.env, PATH: pathWithoutRust(), npm_config_cache: path.join(packed.work, 'npm-cache') }
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  await t.throwsAsync(run('cargo', ['--version'], { env }), undefined, 'cargo is still on PATH')
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', packed.main, packed.platform], { cwd: app, env })

  const script = `
    const { StreamingCache } = require('http-streaming-cache')
    ;(async () => {
      const cache = await StreamingCache.withTempDir()
      await cache.put('k', { status: 200, headers: { 'content-type': 'text/plain' }, body: 'hello from the tarball' })
      const hit = await cache.get('k')
      let text = ''
      for await (const chunk of hit.body) text += chunk
      await cache.close()
      console.log(JSON.stringify({ text, status: hit.status, addon: require.resolve('http-streaming-cache/package.json') }))
    })()`
  const { stdout } = await run(process.execPath, ['-e', script], { cwd: app, env })
  const result = JSON.parse(stdout)
  t.is(result.text, 'hello from the tarball')
  t.is(result.status, 200)
  t.true(result.addon.startsWith(path.join(app, 'node_modules')))
  t.false(fs.existsSync(path.join(app, 'node_modules', 'http-streaming-cache', 'Cargo.toml')))

  // The README's Quick start, pasted into a CommonJS file as it says, runs as is.
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const quickStart = /## Quick start[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)[1]
  fs.writeFileSync(path.join(app, 'quick-start.js'), quickStart)
  const started = await run(process.execPath, ['quick-start.js'], { cwd: app, env })
  t.regex(started.stdout, /size: 21,\s+integrity: 'sha256-/)
  t.regex(started.stdout, /hello from the cache\n$/)
  t.true(fs.existsSync(path.join(app, 'http-cache', 'index-v5')))
  // ...and as ESM, with the named import the README mentions.
  fs.writeFileSync(path.join(app, 'esm.mjs'), "import { StreamingCache } from 'http-streaming-cache'\n" +
    "const cache = new StreamingCache('./http-cache')\nconst hit = await cache.get('https://example.com/hello.txt')\n" +
    'let text = ""\nfor await (const chunk of hit.body) text += chunk\nconsole.log(text.trim())\nawait cache.close()\n')
  t.is((await run(process.execPath, ['esm.mjs'], { cwd: app, env })).stdout.trim(), 'hello from the cache')

  const version = await run(path.join(app, 'node_modules', '.bin', 'http-streaming-cache'), ['--version'], { cwd: app, env })
  t.is(version.stdout.trim(), pkg.version)

  // Without the platform package: an error that says which package to install, not "npm bug".
  const platformDir = fs.readdirSync(path.join(app, 'node_modules')).find((name) => name.startsWith(`${pkg.name}-`))
  fs.rmSync(path.join(app, 'node_modules', platformDir), { recursive: true })
  const missing = await run(process.execPath, ['-e', "try { require('http-streaming-cache') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"], { cwd: app, env })
  const err = JSON.parse(missing.stdout)
  t.is(err.code, 'ERR_NATIVE_ADDON_NOT_FOUND')
  t.regex(err.message, new RegExp(`npm install ${platformDir}@${pkg.version}`))
  t.notRegex(err.message, /bug/i)
})

test('in a source checkout without a build, the error says to build, not to reinstall', async (t) => {
  const checkout = path.join(packed.work, 'checkout')
  fs.mkdirSync(checkout)
  await run('tar', ['xzf', packed.main, '-C', checkout, '--strip-components=1'])
  fs.writeFileSync(path.join(checkout, 'Cargo.toml'), '[package]\nname = "x"\n')
  const { stdout } = await run(process.execPath, ['-e', "try { require('.') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })) }"], { cwd: checkout })
  const err = JSON.parse(stdout)
  t.is(err.code, 'ERR_NATIVE_ADDON_NOT_FOUND')
  t.regex(err.message, /npm run build/)
})
