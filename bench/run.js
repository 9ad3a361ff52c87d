#!/usr/bin/env node
'use strict'
// Benchmark driver: `node bench/run.js [--quick] [--runs N] [--only id,id] [--dir path]`.
// Runs every scenario (bench/scenarios/*.js) with the systems interleaved inside each run
// (A, B, C, A, B, C, ...) so machine noise hits all of them alike, then prints a Markdown table
// of medians with min-max, checks the targets, and writes bench/results/latest.json and
// bench/results/throughput.svg.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const v8 = require('node:v8')
const vm = require('node:vm')
const { execFileSync } = require('node:child_process')
const { summarize, fmt, ratio } = require('./lib/stats')
const { renderChart } = require('./lib/chart')
const { setBaseDir } = require('./lib/io')
const { load: loadUndiciExports } = require('./lib/undici-ours')

const SCENARIOS = ['hit-throughput', 'put-throughput', 'small-hits', 'memory', 'undici-fetch', 'hit-ratio', 'byte-hit-ratio', 'open-size', 'range', 'index-churn']
const RESULTS = path.join(__dirname, 'results')

function parseArgs (argv) {
  const args = { quick: false, runs: null, only: null, dir: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--quick') args.quick = true
    else if (a === '--runs') args.runs = Number(argv[++i])
    else if (a.startsWith('--runs=')) args.runs = Number(a.slice(7))
    else if (a === '--only') args.only = argv[++i].split(',')
    else if (a.startsWith('--only=')) args.only = a.slice(7).split(',')
    else if (a === '--dir') args.dir = argv[++i]
    else if (a.startsWith('--dir=')) args.dir = a.slice(6)
    else if (a === '--help' || a === '-h') {
      console.log('usage: node bench/run.js [--quick] [--runs N] [--only hit,put,small,memory,fetch,ratio,range] [--dir path]')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  if (args.runs !== null && !(Number.isInteger(args.runs) && args.runs > 0)) throw new Error('--runs wants a positive integer')
  args.runs ??= args.quick ? 3 : 5
  return args
}

const log = (...parts) => process.stderr.write(parts.join(' ') + '\n')

// A full GC and a breath between cases, so one system's garbage is not collected on the next
// one's time (MemoryCacheStore at a million ops/s leaves plenty).
v8.setFlagsFromString('--expose-gc')
const gc = global.gc ?? vm.runInNewContext('gc')
async function settle () {
  gc()
  await new Promise((resolve) => setTimeout(resolve, 5))
}

async function runScenario (scenario, ctx) {
  const runs = scenario.runs ? scenario.runs(ctx) : ctx.runs
  const started = Date.now()
  log(`# ${scenario.title} (${runs} run${runs > 1 ? 's' : ''})`)
  const state = await scenario.setup(ctx)
  const cases = state.cases.map((c) => ({ ...c, samples: [], extra: {} }))
  // A run may resolve with { value, extra: { 'metric (unit)': n } }: the extras become rows
  // of their own (same group and system, the metric in the case column).
  const record = (c, sample) => {
    if (typeof sample === 'number' || sample == null) {
      c.samples.push(sample)
      return
    }
    c.samples.push(sample.value)
    for (const [name, n] of Object.entries(sample.extra ?? {})) (c.extra[name] ??= []).push(n)
  }
  try {
    // One untimed round first (JIT, page cache), unless the scenario opts out: 'full' means
    // only outside --quick, where the large-body runs are long enough not to need it.
    const warmup = scenario.warmup ?? 'always'
    if (warmup === 'always' || (warmup === 'full' && !ctx.quick)) {
      for (const c of cases) {
        if (c.na) continue
        await settle()
        await c.run()
      }
    }
    for (let r = 0; r < runs; r++) {
      for (const c of cases) {
        if (c.na) continue
        await settle()
        record(c, await c.run())
      }
      log(`  run ${r + 1}/${runs} done (${((Date.now() - started) / 1000).toFixed(1)} s)`)
    }
  } finally {
    await state.teardown?.()
  }
  const results = cases.map(({ group, system, na, samples }) => ({ group, system, na: na ?? null, samples, ...summarize(samples) }))
  for (const c of cases) {
    for (const [name, samples] of Object.entries(c.extra)) {
      const [, metric, unit] = /^(.*) \((.*)\)$/.exec(name) ?? [null, name, '']
      results.push({ group: `${c.group}, ${metric}`, system: c.system, unit, na: null, samples, ...summarize(samples) })
    }
  }
  const medianOf = (group, system) => results.find((c) => c.group === group && c.system === system)?.median ?? null
  const targets = (state.targets?.(medianOf) ?? []).map(judge)
  return {
    id: scenario.id,
    title: scenario.title,
    unit: scenario.unit,
    lowerIsBetter: Boolean(scenario.lowerIsBetter),
    describe: scenario.describe ?? null,
    runs,
    seconds: (Date.now() - started) / 1000,
    cases: results,
    targets,
    notes: [...new Set(state.notes ?? [])],
    details: state.details ?? null,
  }
}

/** Adds the measured figure and whether the target holds (null when there is nothing to judge). */
function judge (t) {
  let measured = null
  let required = null
  let met = null
  if ('atMost' in t) {
    // An absolute figure that may equal the limit; atMost null: reported, not judged.
    measured = t.value
    required = t.atMost == null ? '(report)' : `<= ${t.atMost} ${t.unit ?? ''}`.trim()
    met = measured == null || t.atMost == null ? null : measured <= t.atMost
  } else if (t.max != null) {
    measured = t.value
    required = `< ${t.max} ${t.unit ?? ''}`.trim()
    met = measured == null ? null : measured < t.max
  } else if (t.difference) {
    measured = t.value == null || t.base == null ? null : t.value - t.base
    required = `>= +${t.min}`
    met = measured == null ? null : measured >= t.min
  } else {
    measured = ratio(t.value, t.base)
    required = t.min == null ? '(report)' : `>= ${t.min}x`
    met = measured == null || t.min == null ? null : measured >= t.min
  }
  return { label: t.label, kind: t.max != null || 'atMost' in t ? 'absolute' : t.difference ? 'difference' : 'ratio', value: t.value ?? null, base: t.base ?? null, measured, required, met }
}

function formatMeasured (t) {
  if (t.measured == null) return 'n/a'
  if (t.kind === 'ratio') return `${t.measured >= 0.1 ? t.measured.toFixed(2) : t.measured.toPrecision(2)}x`
  if (t.kind === 'difference') return `${t.measured >= 0 ? '+' : ''}${t.measured.toFixed(1)}`
  return fmt(t.measured)
}

function markdown (report) {
  const lines = []
  lines.push(`Node ${report.machine.node}, ${report.machine.cpus} x ${report.machine.cpuModel}, ${report.machine.platform}; ` +
    `${report.quick ? 'quick' : 'full'} mode; medians of ${report.runs} runs (min-max); data dir ${report.dir}; ` +
    `load average (1/5/15 min) ${report.machine.loadBefore} before, ${report.machine.loadAfter} after`)
  lines.push('')
  lines.push('| Scenario | Case | System | Median | Min-max | Unit |')
  lines.push('|---|---|---|---:|---:|---|')
  for (const s of report.scenarios) {
    for (const c of s.cases) {
      const spread = c.median == null ? (c.na ? c.na : 'n/a') : `${fmt(c.min)}-${fmt(c.max)}`
      lines.push(`| ${s.id} | ${c.group} | ${c.system} | ${c.median == null ? 'n/a' : fmt(c.median)} | ${spread} | ${c.unit ?? s.unit} |`)
    }
  }
  lines.push('')
  lines.push('| Target | Measured | Required | Met |')
  lines.push('|---|---:|---:|:---:|')
  for (const s of report.scenarios) {
    for (const t of s.targets) {
      lines.push(`| ${t.label} | ${formatMeasured(t)} | ${t.required} | ${t.met == null ? (t.required === '(report)' ? '' : 'n/a') : t.met ? 'yes' : '**no**'} |`)
    }
  }
  const notes = report.scenarios.flatMap((s) => s.notes.map((n) => `${s.id}: ${n}`))
  if (notes.length) {
    lines.push('')
    for (const n of notes) lines.push(`- ${n}`)
  }
  return lines.join('\n') + '\n'
}

function chartOf (report) {
  const panels = []
  for (const id of ['hit', 'put']) {
    const s = report.scenarios.find((x) => x.id === id)
    if (!s) continue
    const groups = [...new Set(s.cases.map((c) => c.group))]
    const systems = [...new Set(s.cases.map((c) => c.system))]
    panels.push({
      title: s.title,
      xLabels: groups,
      series: systems.map((system) => ({
        name: system,
        points: groups.map((group) => {
          const c = s.cases.find((x) => x.group === group && x.system === system)
          return { median: c?.median ?? NaN, min: c?.min ?? NaN, max: c?.max ?? NaN }
        }),
      })),
    })
  }
  if (panels.length === 0) return null
  return renderChart({
    title: 'http-streaming-cache throughput by body size (higher is better)',
    unit: 'MB/s',
    panels,
    note: `${report.date.slice(0, 10)}, Node ${report.machine.node}, ${report.machine.cpus} x ${report.machine.cpuModel}; medians of ${report.runs} runs, bars min-max`,
  })
}

/** Which tree was measured: commit, files changed since, and when the addon was built. */
function treeState () {
  const root = path.join(__dirname, '..')
  const git = (...args) => {
    try {
      return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    } catch {
      return null
    }
  }
  const addon = fs.readdirSync(root).find((f) => f.endsWith('.node'))
  return {
    commit: git('rev-parse', 'HEAD'),
    changed: git('status', '--porcelain', '--', 'src', 'core/src', 'lib', 'index.js', 'undici.js')?.split('\n').filter(Boolean) ?? null,
    addon: addon ? { file: addon, built: fs.statSync(path.join(root, addon)).mtime.toISOString() } : null,
  }
}

function writeAtomic (file, text) {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

async function main () {
  const args = parseArgs(process.argv.slice(2))
  if (args.dir) setBaseDir(path.resolve(args.dir))
  const ctx = { quick: args.quick, runs: args.runs }
  const ids = args.only
  const modules = SCENARIOS.map((file) => require(`./scenarios/${file}`)).filter((s) => !ids || ids.includes(s.id))
  const undiciExports = loadUndiciExports()
  const started = Date.now()
  const report = {
    date: new Date().toISOString(),
    quick: args.quick,
    runs: args.runs,
    dir: args.dir ? path.resolve(args.dir) : os.tmpdir(),
    machine: {
      node: process.versions.node,
      platform: `${os.platform()} ${os.release()} ${os.arch()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model?.trim() ?? 'unknown',
      totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
      // The machine may be shared: what else was running shows here.
      loadBefore: os.loadavg().map((n) => n.toFixed(2)).join(' '),
      loadAfter: null,
    },
    tree: treeState(),
    undici: {
      streamingCacheUndici: undiciExports.module ? Object.keys(undiciExports.module) : null,
      reason: undiciExports.reason,
    },
    scenarios: [],
  }
  for (const scenario of modules) report.scenarios.push(await runScenario(scenario, ctx))
  report.seconds = (Date.now() - started) / 1000
  report.machine.loadAfter = os.loadavg().map((n) => n.toFixed(2)).join(' ')

  const table = markdown(report)
  process.stdout.write('\n' + table)
  log(`\ntotal ${report.seconds.toFixed(1)} s`)
  fs.mkdirSync(RESULTS, { recursive: true })
  writeAtomic(path.join(RESULTS, 'latest.json'), JSON.stringify(report, null, 2) + '\n')
  writeAtomic(path.join(RESULTS, 'latest.md'), table)
  const svg = chartOf(report)
  if (svg) writeAtomic(path.join(RESULTS, 'throughput.svg'), svg)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
