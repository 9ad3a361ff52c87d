#!/usr/bin/env node
'use strict'
// npm run pack:local: builds the addon for this machine and packs the two tarballs a user on
// this platform would install: the main package and its platform package (npm/<platform>/).
// The main package is packed as `napi prepublish` publishes it: with an optionalDependency on
// every platform package under npm/ at its own version. (The repository's package.json does
// not list them: npm ci would fail on packages the registry does not have yet.)
//
//   node scripts/pack-local.js [--out DIR] [--profile NAME | --no-build]
//
// --out       where the .tgz files go (default: ./packs)
// --profile   cargo profile to build with (default: release)
// --no-build  pack the .node an earlier build left in the package root
//
// Prints the two tarball paths as JSON on stdout (progress goes to stderr).
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { parseArgs } = require('node:util')

const ROOT = path.join(__dirname, '..')
// Not a bare `npm` from PATH: under `npm test`, node_modules/.bin comes first and a dev
// dependency (http-cache-tests) installs an old npm 6 there.
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

const PATH_WITHOUT_LOCAL_BINS = (process.env.PATH ?? '').split(path.delimiter)
  .filter((dir) => !dir.endsWith(path.join('node_modules', '.bin'))).join(path.delimiter)

function run (command, args, options = {}) {
  const env = { ...process.env, PATH: PATH_WITHOUT_LOCAL_BINS }
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', shell: process.platform === 'win32', ...options })
  if (result.error) throw result.error
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`)
  return result.stdout
}

/** The platform this Node runs on, as napi-rs names it (the npm/<name>/ directory). */
function hostPlatform () {
  // lib/native.js decides the same way at load time.
  const { platform, arch } = process
  if (platform === 'linux') {
    const musl = fs.existsSync('/usr/bin/ldd') && fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
    return `linux-${arch}-${musl ? 'musl' : 'gnu'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** A copy of the files `npm pack` would take from ROOT, with optionalDependencies added. */
function stageMainPackage (stage) {
  const [{ files }] = JSON.parse(run(NPM, ['pack', '--dry-run', '--json']))
  for (const { path: file } of files) {
    fs.mkdirSync(path.dirname(path.join(stage, file)), { recursive: true })
    fs.copyFileSync(path.join(ROOT, file), path.join(stage, file))
  }
  const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  manifest.optionalDependencies = { ...manifest.optionalDependencies }
  for (const platform of fs.readdirSync(path.join(ROOT, 'npm')).sort()) {
    const { name, version } = require(path.join(ROOT, 'npm', platform, 'package.json'))
    manifest.optionalDependencies[name] = version
  }
  fs.writeFileSync(path.join(stage, 'package.json'), JSON.stringify(manifest, null, 2) + '\n')
  return stage
}

/** `npm pack` of `dir` into `out`; returns the tarball's path. */
function pack (dir, out) {
  const [info] = JSON.parse(run(NPM, ['pack', '--json', '--pack-destination', out, dir]))
  return path.join(out, info.filename)
}

function main () {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: path.join(ROOT, 'packs') },
      profile: { type: 'string', default: 'release' },
      'no-build': { type: 'boolean', default: false },
    },
  })
  const pkg = require(path.join(ROOT, 'package.json'))
  const platform = hostPlatform()
  const platformDir = path.join(ROOT, 'npm', platform)
  if (!fs.existsSync(path.join(platformDir, 'package.json'))) {
    throw new Error(`no platform package for ${platform} under npm/ (prebuilt targets: see package.json napi.targets)`)
  }
  const binary = `${pkg.napi.binaryName}.${platform}.node`
  if (!values['no-build']) {
    console.error(`building ${binary} (profile ${values.profile})...`)
    run('npx', ['napi', 'build', '--platform', '--profile', values.profile], { stdio: ['ignore', 'inherit', 'inherit'] })
  }
  const built = path.join(ROOT, binary)
  if (!fs.existsSync(built)) throw new Error(`${built} does not exist: build it first (npm run build) or drop --no-build`)
  const platformPkg = require(path.join(platformDir, 'package.json'))
  if (platformPkg.version !== pkg.version) {
    throw new Error(`npm/${platform}/package.json has version ${platformPkg.version}, package.json ${pkg.version}: run \`npx napi version\``)
  }

  // What `napi artifacts` does in the release workflow: the binary goes into its package.
  fs.copyFileSync(built, path.join(platformDir, binary))
  const out = path.resolve(values.out)
  fs.mkdirSync(out, { recursive: true })
  const stage = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'pack-local-'))
  let tarballs
  try {
    tarballs = { main: pack(stageMainPackage(stage), out), platform: pack(platformDir, out) }
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
  console.error(`packed ${tarballs.main}\n       ${tarballs.platform}`)
  console.log(JSON.stringify(tarballs))
}

try {
  main()
} catch (err) {
  console.error(`pack-local: ${err.message}`)
  process.exitCode = 1
}
