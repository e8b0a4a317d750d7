/**
 * Hand-written SVG charts for the HTML report: no chart library, no script, so the report is one
 * self-contained file that opens anywhere (and in a CI artifact viewer).
 */

export interface LineSeries {
  name: string;
  points: Array<[number, number]>;
  color: string;
  dashed?: boolean;
}

export interface Band {
  label: string;
  from: number;
  to: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79'];

export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Round tick values covering [0, max]: 1, 2 or 5 times a power of ten apart. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < max) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 10) / 10));

export function lineChart(opts: { title: string; series: LineSeries[]; bands?: Band[]; xLabel: string; yLabel: string; width?: number; height?: number }): string {
  const width = opts.width ?? 960;
  const height = opts.height ?? 300;
  const m = { left: 56, right: 170, top: 30, bottom: 40 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xs = opts.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = opts.series.flatMap((s) => s.points.map((p) => p[1]));
  const xMax = Math.max(1, ...xs, ...(opts.bands ?? []).map((b) => b.to));
  const yTicks = niceTicks(Math.max(0, ...ys));
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (v: number) => m.left + (v / xMax) * plotW;
  const y = (v: number) => m.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`);
  parts.push(`<text x="${m.left}" y="18" font-size="13" font-weight="600">${escapeXml(opts.title)}</text>`);
  (opts.bands ?? []).forEach((b, i) => {
    parts.push(`<rect x="${x(b.from).toFixed(1)}" y="${m.top}" width="${Math.max(1, x(b.to) - x(b.from)).toFixed(1)}" height="${plotH}" fill="${i % 2 ? '#f3f3f3' : '#e8eef6'}"/>`);
    parts.push(`<text x="${(x(b.from) + 3).toFixed(1)}" y="${m.top + 11}" fill="#555" font-size="10">${escapeXml(b.label)}</text>`);
  });
  for (const t of yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of niceTicks(xMax, 10)) {
    if (t > xMax) continue;
    parts.push(`<text x="${x(t).toFixed(1)}" y="${m.top + plotH + 16}" text-anchor="middle">${fmt(t)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#333"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeXml(opts.xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  opts.series.forEach((s, i) => {
    if (s.points.length > 0) {
      const d = s.points.map((p, j) => `${j ? 'L' : 'M'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join('');
      parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    }
    const ly = m.top + 6 + i * 16;
    parts.push(`<line x1="${width - m.right + 10}" x2="${width - m.right + 28}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    parts.push(`<text x="${width - m.right + 32}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface BarGroup {
  label: string;
  values: Array<{ name: string; value: number }>;
}

/** Grouped bars on a log scale (latencies span 5 ms to seconds), each bar labelled with its value. */
export function logBarChart(opts: { title: string; groups: BarGroup[]; yLabel: string; width?: number; height?: number }): string {
  const width = opts.width ?? 960;
  const height = opts.height ?? 320;
  const m = { left: 56, right: 20, top: 30, bottom: 70 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const all = opts.groups.flatMap((g) => g.values.map((v) => v.value)).filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.floor(Math.log10(Math.max(0.1, Math.min(1, ...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(10, ...all)));
  const y = (v: number) => m.top + plotH - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH;
  const names = [...new Set(opts.groups.flatMap((g) => g.values.map((v) => v.name)))];
  const groupW = plotW / Math.max(1, opts.groups.length);
  const barW = Math.min(28, (groupW - 12) / Math.max(1, names.length));
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="11">`);
  parts.push(`<text x="${m.left}" y="18" font-size="13" font-weight="600">${escapeXml(opts.title)}</text>`);
  for (let p = Math.log10(lo); p <= Math.log10(hi); p++) {
    const v = 10 ** p;
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
  }
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(opts.yLabel)}</text>`);
  opts.groups.forEach((g, gi) => {
    const gx = m.left + gi * groupW + 6;
    g.values.forEach((v) => {
      const ni = names.indexOf(v.name);
      if (!(v.value > 0 && Number.isFinite(v.value))) return;
      const bx = gx + ni * barW;
      const by = y(v.value);
      parts.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(m.top + plotH - by).toFixed(1)}" fill="${color(ni)}"><title>${escapeXml(`${g.label} ${v.name}: ${Math.round(v.value)} ms`)}</title></rect>`);
      parts.push(`<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${(by - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(v.value)}</text>`);
    });
    const lines = g.label.split('\n');
    lines.forEach((line, li) => parts.push(`<text x="${(gx + (names.length * barW) / 2).toFixed(1)}" y="${m.top + plotH + 14 + li * 12}" text-anchor="middle">${escapeXml(line)}</text>`));
  });
  names.forEach((n, i) => {
    parts.push(`<rect x="${m.left + i * 110}" y="${height - 16}" width="10" height="10" fill="${color(i)}"/>`);
    parts.push(`<text x="${m.left + i * 110 + 14}" y="${height - 7}">${escapeXml(n)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
