#!/usr/bin/env node
'use strict'
// Runs cargo with `--target <host triple>`, e.g. `node scripts/cargo-host.js test --workspace --release`.
// `napi build` always passes `--target`, which puts its output under target/<triple>/; a plain
// `cargo test` would build into target/release/ and recompile every dependency a second time.
// Passing the same --target makes both share one build (issue 9, item 8).
const { execFileSync, spawnSync } = require('node:child_process')

function hostTriple () {
  const info = execFileSync(process.env.RUSTC ?? 'rustc', ['-vV'], { encoding: 'utf8' })
  const line = info.split('\n').find((l) => l.startsWith('host: '))
  if (!line) throw new Error(`cannot find the host triple in \`rustc -vV\`:\n${info}`)
  return line.slice('host: '.length).trim()
}

const [command, ...rest] = process.argv.slice(2)
if (!command) {
  console.error('usage: node scripts/cargo-host.js <cargo command> [args...]')
  process.exit(2)
}
const target = process.env.CARGO_BUILD_TARGET ?? hostTriple()
const result = spawnSync(process.env.CARGO ?? 'cargo', [command, '--target', target, ...rest], { stdio: 'inherit' })
if (result.error) throw result.error
process.exit(result.status ?? 1)
