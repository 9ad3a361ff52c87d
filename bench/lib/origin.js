'use strict'
// The origin for the fetch scenario, run in its own process (so serving misses does not share
// the client's event loop): cacheable responses of fixed sizes at /bytes/<n>. Reports its port
// over IPC and answers { type: 'count' } with how many requests it has served.
const http = require('node:http')
const { bodyBuffer } = require('./data')

const bodies = new Map()
let served = 0

const server = http.createServer((req, res) => {
  if (req.url === '/count') {
    // For clients in other processes: how many requests were served (this one not counted).
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ served }))
    return
  }
  served++
  const match = /^\/bytes\/(\d+)$/.exec(req.url)
  if (!match) {
    res.writeHead(404).end()
    return
  }
  const size = Number(match[1])
  let body = bodies.get(size)
  if (!body) bodies.set(size, (body = bodyBuffer(size)))
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(size),
    'cache-control': 'public, max-age=86400',
    etag: `"bytes-${size}"`,
    date: new Date().toUTCString(),
  })
  res.end(body)
})
server.keepAliveTimeout = 60_000

server.listen(0, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }))
process.on('message', (msg) => {
  if (msg?.type === 'count') process.send({ type: 'count', served })
  if (msg?.type === 'close') server.close(() => process.exit(0))
})
process.on('disconnect', () => process.exit(0))
