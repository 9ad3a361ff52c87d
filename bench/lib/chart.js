'use strict'
// A hand-written SVG line chart: throughput by body size, one line per system, one panel per
// scenario, min-max whiskers around each median. No dependencies.

const COLORS = ['#d6336c', '#1c7ed6', '#37b24d', '#f59f00', '#7048e8', '#495057']
const PANEL_W = 420
const PANEL_H = 300
const MARGIN = { top: 56, right: 20, bottom: 48, left: 64 }
const LEGEND_H = 28

function esc (text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** Round tick step (1, 2 or 5 times a power of ten) giving about `count` ticks up to `max`. */
function niceStep (max, count = 5) {
  const raw = max / count
  const pow = 10 ** Math.floor(Math.log10(raw))
  const unit = raw / pow
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * pow
}

function panel (p, x0, colorOf, unit) {
  const plotW = PANEL_W - MARGIN.left - MARGIN.right
  const plotH = PANEL_H - MARGIN.top - MARGIN.bottom
  const left = x0 + MARGIN.left
  const top = MARGIN.top + LEGEND_H
  const values = p.series.flatMap((s) => s.points.flatMap((pt) => [pt.max ?? pt.median])).filter(Number.isFinite)
  const max = Math.max(1, ...values)
  const step = niceStep(max)
  const yMax = Math.ceil(max / step) * step
  const n = p.xLabels.length
  const pad = 24 // keeps the end points off the axes
  const xAt = (i) => left + (n === 1 ? plotW / 2 : pad + (i * (plotW - 2 * pad)) / (n - 1))
  const yAt = (v) => top + plotH - (v / yMax) * plotH
  const out = []
  out.push(`<text x="${left + plotW / 2}" y="${top - 14}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`)
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const y = yAt(v).toFixed(1)
    out.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#e9ecef"/>`)
    out.push(`<text x="${left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle" fill="#495057">${Math.round(v).toLocaleString('en-US')}</text>`)
  }
  out.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#868e96"/>`)
  out.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#868e96"/>`)
  p.xLabels.forEach((label, i) => {
    out.push(`<text x="${xAt(i).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" fill="#495057">${esc(label)}</text>`)
  })
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 38}" text-anchor="middle" fill="#495057">body size</text>`)
  out.push(`<text transform="translate(${x0 + 16},${top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#495057">${esc(unit)}</text>`)
  for (const s of p.series) {
    const color = colorOf(s.name)
    const pts = s.points.map((pt, i) => ({ ...pt, i })).filter((pt) => Number.isFinite(pt.median))
    if (pts.length === 0) continue
    const path = pts.map((pt, k) => `${k ? 'L' : 'M'}${xAt(pt.i).toFixed(1)},${yAt(pt.median).toFixed(1)}`).join(' ')
    out.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5"/>`)
    for (const pt of pts) {
      const x = xAt(pt.i).toFixed(1)
      if (Number.isFinite(pt.min) && Number.isFinite(pt.max)) {
        out.push(`<line x1="${x}" x2="${x}" y1="${yAt(pt.min).toFixed(1)}" y2="${yAt(pt.max).toFixed(1)}" stroke="${color}" stroke-width="1.5" opacity="0.6"/>`)
      }
      out.push(`<circle cx="${x}" cy="${yAt(pt.median).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${s.name}, ${p.xLabels[pt.i]}: ${Math.round(pt.median)} ${unit}`)}</title></circle>`)
    }
  }
  return out.join('\n')
}

/**
 * @param {{ title: string, unit: string, note?: string,
 *           panels: { title: string, xLabels: string[],
 *                     series: { name: string, points: { median: number, min?: number, max?: number }[] }[] }[] }} chart
 * @returns {string} SVG document
 */
function renderChart (chart) {
  const names = [...new Set(chart.panels.flatMap((p) => p.series.map((s) => s.name)))]
  const colorOf = (name) => COLORS[names.indexOf(name) % COLORS.length]
  const width = PANEL_W * chart.panels.length
  const height = PANEL_H + LEGEND_H + (chart.note ? 20 : 0)
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(chart.title)}</text>`,
  ]
  let lx = 16
  for (const name of names) {
    out.push(`<rect x="${lx}" y="36" width="14" height="4" fill="${colorOf(name)}"/>`)
    out.push(`<text x="${lx + 20}" y="42" fill="#212529">${esc(name)}</text>`)
    lx += 30 + name.length * 7
  }
  chart.panels.forEach((p, i) => out.push(panel(p, i * PANEL_W, colorOf, chart.unit)))
  if (chart.note) {
    out.push(`<text x="${width / 2}" y="${height - 8}" text-anchor="middle" fill="#868e96" font-size="11">${esc(chart.note)}</text>`)
  }
  out.push('</svg>')
  return out.join('\n') + '\n'
}

module.exports = { renderChart }
