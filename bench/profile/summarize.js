'use strict'
// Summarises a .cpuprofile: self and inclusive time by function.
//   node bench/profile/summarize.js file.cpuprofile [top=25]
const fs = require('fs')
const prof = JSON.parse(fs.readFileSync(process.argv[2]))
const top = Number(process.argv[3] || 25)
const byId = new Map(prof.nodes.map(n => [n.id, n]))
const self = new Map()
const dt = prof.timeDeltas
const counts = new Map()
for (let i = 0; i < prof.samples.length; i++) counts.set(prof.samples[i], (counts.get(prof.samples[i]) || 0) + (dt[i] || 0))
let total = 0
for (const [id, t] of counts) {
  const n = byId.get(id); const cf = n.callFrame
  const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`
  self.set(key, (self.get(key) || 0) + t); total += t
}
// inclusive
const parent = new Map()
for (const n of prof.nodes) for (const c of n.children || []) parent.set(c, n.id)
const incl = new Map()
for (const [id, t] of counts) {
  const seen = new Set()
  let cur = id
  while (cur !== undefined) {
    const cf = byId.get(cur).callFrame
    const key = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`
    if (!seen.has(key)) { incl.set(key, (incl.get(key) || 0) + t); seen.add(key) }
    cur = parent.get(cur)
  }
}
console.log('total sampled ms', (total / 1000).toFixed(0))
console.log('--- self')
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log((t / 1000).toFixed(0).padStart(7), 'ms', (100 * t / total).toFixed(1).padStart(5) + '%', k)
console.log('--- inclusive')
for (const [k, t] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log((t / 1000).toFixed(0).padStart(7), 'ms', (100 * t / total).toFixed(1).padStart(5) + '%', k)
