#!/usr/bin/env node
'use strict'
// http-streaming-cache CLI: maintenance commands for a cache directory.
const { StreamingCache } = require('..')

const USAGE = `usage: http-streaming-cache verify <dir>

  verify   check every entry's content hash, remove corrupt entries, unfinished
           temp files and unreferenced content; prints a JSON report`

async function main ([command, dir]) {
  if (command !== 'verify' || !dir) {
    console.error(USAGE)
    return 2
  }
  const cache = new StreamingCache(dir)
  const report = await cache.verify()
  console.log(JSON.stringify(report, null, 2))
  return report.corrupt > 0 ? 1 : 0
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err) => {
  console.error(`http-streaming-cache: ${err.message}`)
  process.exitCode = 2
})
