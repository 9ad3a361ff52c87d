'use strict'
// Loads the native addon. Kept by hand (not the loader `napi build --js` generates) so that a
// clean clone packs and a missing binary is reported with what to do about it.
//
// Where the addon comes from, in order:
//   1. NAPI_RS_NATIVE_LIBRARY_PATH, if set (same variable as napi-rs's generated loaders).
//   2. `http-streaming-cache.<platform>.node` next to package.json: what `npm run build` /
//      `npm run build:debug` (`napi build --platform`) write in a source checkout.
//   3. The prebuilt platform package `http-streaming-cache-<platform>`, an optionalDependency
//      npm installs only on the matching os/cpu/libc.
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..')
const { name: PACKAGE, version: VERSION } = require('../package.json')

/** The napi-rs platform names of the prebuilt packages under npm/ (package.json `napi.targets`). */
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']

function isMusl () {
  if (process.platform !== 'linux') return false
  try {
    return fs.readFileSync('/usr/bin/ldd', 'utf8').includes('musl')
  } catch {
    // No ldd: ask Node which libc it runs on.
    const header = process.report?.getReport?.().header
    return header != null && !header.glibcVersionRuntime
  }
}

/** napi-rs's name for this platform: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`... */
function platformName () {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

function codedError (message, cause) {
  const err = new Error(message, cause === undefined ? undefined : { cause })
  err.code = 'ERR_NATIVE_ADDON_NOT_FOUND'
  return err
}

/** Loading failed for another reason than absence (wrong libc, corrupt file...): say so. */
function isNotFound (err, request) {
  return err?.code === 'MODULE_NOT_FOUND' && String(err.message).includes(request)
}

function loadOverride (file) {
  try {
    return require(path.resolve(file))
  } catch (err) {
    throw codedError(`NAPI_RS_NATIVE_LIBRARY_PATH=${file} could not be loaded: ${err.message}`, err)
  }
}

function loadLocalBuild (platform) {
  const file = path.join(ROOT, `${PACKAGE}.${platform}.node`)
  if (!fs.existsSync(file)) return null
  return require(file)
}

function loadPlatformPackage (platform) {
  const request = `${PACKAGE}-${platform}`
  let manifest
  try {
    manifest = require(`${request}/package.json`)
  } catch (err) {
    if (isNotFound(err, request)) return null
    throw err
  }
  if (manifest.version !== VERSION) {
    throw codedError(`${request}@${manifest.version} is installed but ${PACKAGE}@${VERSION} needs the same version. ` +
      `Install them together: npm install ${PACKAGE}@${VERSION} ${request}@${VERSION}`)
  }
  return require(request)
}

function missingAddonError (platform) {
  const sourceCheckout = fs.existsSync(path.join(ROOT, 'Cargo.toml'))
  if (sourceCheckout) {
    return codedError(`The native addon of ${PACKAGE} has not been built for ${platform} ` +
      `(no ${PACKAGE}.${platform}.node in ${ROOT}). Build it with Rust installed: ` +
      '`npm run build` (release) or `npm run build:debug`.')
  }
  if (!PREBUILT.includes(platform)) {
    return codedError(`${PACKAGE} has no prebuilt binary for ${platform} (prebuilt: ${PREBUILT.join(', ')}). ` +
      'Build it from a source checkout with Rust installed: `npm run build`, then point ' +
      'NAPI_RS_NATIVE_LIBRARY_PATH at the .node file it writes.')
  }
  return codedError(`The prebuilt binary package ${PACKAGE}-${platform} is not installed. ` +
    'npm installs it as an optional dependency; it is skipped by `--omit=optional` / `--no-optional`, ' +
    `and by a lockfile written on another platform. Install it: npm install ${PACKAGE}-${platform}@${VERSION}`)
}

function loadNative () {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return loadOverride(process.env.NAPI_RS_NATIVE_LIBRARY_PATH)
  const platform = platformName()
  const native = loadLocalBuild(platform) ?? loadPlatformPackage(platform)
  if (native === null) throw missingAddonError(platform)
  return native
}

module.exports = loadNative()
