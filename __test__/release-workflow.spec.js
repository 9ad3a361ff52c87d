'use strict'
// The release workflow cannot run here (it needs GitHub's runners), so this checks what can
// drift without anyone noticing until a tag is pushed: that it builds and tests exactly the
// targets in package.json `napi.targets`, that each target has its npm/<platform> package, and
// that the publish job's own step (`napi artifacts`) moves each uploaded binary into the right
// platform package, run here on a copy of npm/ with the artifact layout the build job uploads.
const test = require('ava')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFile } = require('node:child_process')
const { promisify } = require('node:util')
const yaml = require('js-yaml')

const ROOT = path.join(__dirname, '..')
const pkg = require('../package.json')
const workflow = yaml.load(fs.readFileSync(path.join(ROOT, '.github', 'workflows', 'release.yml'), 'utf8'))
const run = promisify(execFile)

/** napi-rs platform name of a Rust target triple, as `napi build --platform` names the file. */
function platformOf (triple) {
  const [arch, , system, abi] = triple.split('-')
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  const osName = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[system]
  return abi ? `${osName}-${cpu}-${abi}` : `${osName}-${cpu}`
}

const targets = pkg.napi.targets
const binaryName = pkg.napi.binaryName

test('the build and test matrices cover exactly napi.targets, tested on Node 20, 22 and 24', (t) => {
  const built = workflow.jobs.build.strategy.matrix.settings.map((s) => s.target)
  const tested = workflow.jobs.test.strategy.matrix.settings.map((s) => s.target)
  t.deepEqual([...built].sort(), [...targets].sort())
  t.deepEqual([...tested].sort(), [...targets].sort())
  for (const settings of workflow.jobs.build.strategy.matrix.settings) {
    t.true(settings.build.includes(`--target ${settings.target}`), `${settings.target} builds for itself`)
  }
  t.deepEqual(workflow.jobs.test.strategy.matrix.node.map(String), ['20', '22', '24'])
  t.true(Number(workflow.jobs.test.strategy.matrix.node[0]) <= Number(pkg.engines.node.replace(/\D/g, '')))
})

test('publish runs only on a version tag, after lint and every test, with the version checked against the tag', (t) => {
  const publish = workflow.jobs.publish
  t.true(publish.if.includes("startsWith(github.ref, 'refs/tags/v')"))
  t.deepEqual([...publish.needs].sort(), ['lint', 'test'])
  t.deepEqual(workflow.jobs.test.needs, 'build')
  const script = publish.steps.map((step) => step.run ?? '').join('\n')
  t.true(script.includes('npm run artifacts'))
  t.true(script.includes('GITHUB_REF_NAME'))
  t.true(script.includes('npm publish'))
  // prepublishOnly is what publishes the platform packages first and adds optionalDependencies.
  t.true(pkg.scripts.prepublishOnly.startsWith('napi prepublish'))
  t.is(pkg.scripts.artifacts, 'napi artifacts')
})

test('every target has its platform package under npm/, named after the main package', (t) => {
  for (const triple of targets) {
    const platform = platformOf(triple)
    const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'npm', platform, 'package.json'), 'utf8'))
    t.is(manifest.name, `${pkg.name}-${platform}`)
    t.is(manifest.version, pkg.version)
    t.is(manifest.main, `${binaryName}.${platform}.node`)
    t.deepEqual(manifest.files, [manifest.main])
    t.deepEqual(manifest.os, [platform.split('-')[0]])
    t.deepEqual(manifest.cpu, [platform.split('-')[1]])
  }
  t.is(fs.readdirSync(path.join(ROOT, 'npm')).length, targets.length, 'no platform package without a target')
})

test('the publish job\'s `napi artifacts` puts each uploaded binary into its platform package', async (t) => {
  const upload = workflow.jobs.build.steps.find((step) => step.uses?.startsWith('actions/upload-artifact'))
  // eslint-disable-next-line no-template-curly-in-string -- a GitHub Actions expression, not JS
  t.is(upload.with.path, '${{ env.APP_NAME }}.*.node')
  t.is(workflow.env.APP_NAME, binaryName)

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'release-workflow-'))
  t.teardown(() => fs.rmSync(work, { recursive: true, force: true }))
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(work, 'package.json'))
  fs.cpSync(path.join(ROOT, 'npm'), path.join(work, 'npm'), { recursive: true, filter: (src) => !src.endsWith('.node') })
  // download-artifact without a name puts each artifact in a folder named after it.
  for (const triple of targets) {
    // eslint-disable-next-line no-template-curly-in-string -- a GitHub Actions expression, not JS
    const dir = path.join(work, 'artifacts', upload.with.name.replace('${{ matrix.settings.target }}', triple))
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, `${binaryName}.${platformOf(triple)}.node`), `binary for ${triple}`)
  }
  await run(process.execPath, [path.join(ROOT, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js'), 'artifacts', '--output-dir', 'artifacts', '--npm-dir', 'npm'], { cwd: work })
  for (const triple of targets) {
    const platform = platformOf(triple)
    const binary = path.join(work, 'npm', platform, `${binaryName}.${platform}.node`)
    t.is(fs.readFileSync(binary, 'utf8'), `binary for ${triple}`)
  }
})
